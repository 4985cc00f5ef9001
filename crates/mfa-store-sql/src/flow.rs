//! [`FlowStore`] on every engine: the coarse operations of a login, one round trip each on
//! PostgreSQL and MySQL, one transaction each on SQLite.
//!
//! `login_view` is one read, written here once for every engine. The others change rows and
//! say what they did, which each engine does its own way ([`Engine::open_ticket`],
//! [`Engine::attempt`], [`Engine::settle`]): a statement around the engine's functions
//! (PostgreSQL), a routine call (MySQL), a `BEGIN IMMEDIATE` transaction of the fine-grained
//! statements (SQLite). What PostgreSQL and MySQL answer to an attempt is decoded here once.

use std::time::SystemTime;

use async_trait::async_trait;
use mfa_store::{
    AttemptOutcome, AttemptView, AuditEvent, Challenge, CounterKey, CounterTake, FlowStore,
    LoginView, Result as SResult, Settlement, Take,
};

use crate::challenge::{SPEND_TRIES, refusal_from};
use crate::convert::{corrupt, count, millis, store_err};
use crate::counter::{self, KeyTake};
use crate::db::{Arg, Cols, On, Sql};
use crate::dialect::Dialect;
use crate::engine::Engine;
use crate::store::SqlStore;
use crate::{settings, totp};

/// The statements of the coarse operations every engine runs.
#[derive(Debug)]
pub(crate) struct FlowSql {
    /// The read of `login_view` up to the counter keys' `IN (`; the keys' placeholders and
    /// [`VIEW_END`] close it per call.
    view_prefix: String,
    /// The read of `login_view` for no counter key.
    view_no_keys: Sql,
    dialect: Dialect,
}

/// What closes [`FlowSql::view_prefix`] after the keys.
const VIEW_END: &str = ")) c ON TRUE";

impl FlowSql {
    pub(crate) fn new(d: &Dialect) -> Self {
        // One row per counter found (at least one row): the settings (NULL if none) and the
        // count of recovery codes on every row, a counter's key and state beside them. The
        // count is an aggregate, so it is always exactly one row to join onto. Parameters:
        // the user twice, then the keys.
        let view = |keys: &str| {
            d.text(&format!(
                "SELECT s.*, r.codes, c.* \
                 FROM (SELECT COUNT(*) AS codes FROM {{p}}recovery_codes WHERE user_id = ?) r \
                 LEFT JOIN (SELECT {} FROM {{p}}settings WHERE user_id = ?) s ON TRUE \
                 LEFT JOIN (SELECT {} FROM {{p}}counters WHERE {keys}",
                settings::COLUMNS,
                counter::COLUMNS,
            ))
        };
        Self {
            view_prefix: view("counter_key IN ("),
            view_no_keys: format!("{}{VIEW_END}", view("(1 = 0")).into(),
            dialect: d.clone(),
        }
    }

    /// The read of `login_view` for `n` counter keys.
    fn view(&self, n: usize) -> Sql {
        if n == 0 {
            return self.view_no_keys.clone();
        }
        // The prefix is rendered already: its placeholders are the first two.
        let keys = self.dialect.placeholders(3, n);
        format!("{}{keys}{VIEW_END}", self.view_prefix).into()
    }
}

/// Where each part of an attempt's answer starts in its rows. Every row begins with its part's
/// tag: `c` (the challenge after the try, then `recognised`), `t` (one take), `f` (one TOTP
/// factor), `r` (what names the refusal when no try was spent). MySQL answers each part as a
/// result set of its own; PostgreSQL, whose statement answers one row type, puts the parts
/// side by side.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts {
    pub(crate) challenge: usize,
    pub(crate) take: usize,
    pub(crate) factor: usize,
    pub(crate) refusal: usize,
}

/// Decodes the rows of an attempt (see [`Parts`]); `None` if no try was spent and the
/// challenge, as read, would allow one (it changed after the spend looked: try again).
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) fn attempt_view<E: Engine>(
    rows: &[E::Row],
    parts: Parts,
    now: i64,
) -> SResult<Option<AttemptView>> {
    let mut spent = None;
    let mut recognised = false;
    let mut takes = Vec::new();
    let mut factors = Vec::new();
    let mut refused = None;
    for row in rows {
        match Cols::<E>::new(row).text("part")?.as_str() {
            "c" => {
                let mut c = Cols::<E>::at(row, parts.challenge);
                spent = Some(crate::challenge::read(&mut c)?);
                recognised = c.boolean("recognised")?;
            }
            "t" => takes.push(counter::take_from(&mut Cols::<E>::at(row, parts.take))?),
            "f" => factors.push(totp::read(&mut Cols::<E>::at(row, parts.factor))?),
            "r" => refused = Some(refusal_from(&mut Cols::<E>::at(row, parts.refusal), now)?),
            _ => return Err(corrupt("part")),
        }
    }
    let outcome = match (spent, refused) {
        (Some(challenge), None) => AttemptOutcome::Spent {
            attempts_left_after: challenge.attempts_left,
            challenge: Box::new(challenge),
        },
        (None, Some(Some(refusal))) => refusal,
        (None, Some(None)) => return Ok(None),
        (None, None) => AttemptOutcome::NotFound,
        (Some(_), Some(_)) => return Err(corrupt("part")),
    };
    Ok(Some(AttemptView {
        outcome,
        recognised,
        takes: counter::in_order(takes)?,
        factors,
    }))
}

#[async_trait]
impl<E: Engine> FlowStore for SqlStore<E> {
    /// One statement on every engine: the settings and the count of recovery codes joined onto
    /// the counters asked for.
    async fn login_view(
        &self,
        user: &str,
        keys: &[CounterKey],
        now: SystemTime,
    ) -> SResult<LoginView> {
        let wanted: Vec<String> = keys.iter().map(CounterKey::storage_key).collect();
        let mut args = vec![Arg::Text(user), Arg::Text(user)];
        args.extend(wanted.iter().map(|k| Arg::Text(k)));
        let sql = self.sql().flow.view(wanted.len());
        let rows = E::fetch_all(On::Pool(self.pool()), &sql, &args)
            .await
            .map_err(store_err)?;
        let first = rows.first().ok_or_else(|| corrupt("codes"))?;
        let settings = settings::read(&mut Cols::<E>::new(first))?;
        let codes = count(Cols::<E>::at(first, settings::WIDTH).int("codes")?, "codes")?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut c = Cols::<E>::at(row, settings::WIDTH + 1);
            if let Some(key) = c.opt_text("counter_key")? {
                found.push((key, counter::state(&mut c)?));
            }
        }
        Ok(LoginView {
            settings,
            recovery_codes_left: usize::try_from(codes).map_err(|_| corrupt("codes"))?,
            counters: wanted
                .iter()
                .map(|key| {
                    found
                        .iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, s)| *s)
                        .filter(|s| !s.is_expired(now))
                })
                .collect(),
        })
    }

    async fn open_ticket(
        &self,
        ticket: Challenge,
        budget: &Take,
        audit: AuditEvent,
        now: SystemTime,
    ) -> SResult<CounterTake> {
        let take = KeyTake::new(&budget.key, budget.window, budget.limit, now);
        E::open_ticket(self, &ticket, &take, &audit, millis(now)).await
    }

    async fn attempt(
        &self,
        id: &str,
        tag: Option<&str>,
        factors: bool,
        now: SystemTime,
    ) -> SResult<AttemptView> {
        let now = millis(now);
        for _ in 0..SPEND_TRIES {
            if let Some(view) = E::attempt(self, id, tag, factors, now).await? {
                return Ok(view);
            }
        }
        // Still changing under us after every try: refuse (fail closed), spending nothing.
        Ok(AttemptView {
            outcome: AttemptOutcome::Exhausted,
            recognised: false,
            takes: Vec::new(),
            factors: Vec::new(),
        })
    }

    async fn settle(&self, settlement: Settlement, now: SystemTime) -> SResult<bool> {
        // The contract's rules on what a settlement may name, checked before any statement; a
        // consumed challenge must also be the user's, which the routines check row by row.
        if !settlement.is_own() {
            return Ok(false);
        }
        let step = match &settlement.advance {
            Some((_, step)) => match totp::step_i64(*step) {
                Some(step) => Some(step),
                // Beyond the column, as `advance_totp_step` refuses it: the condition fails.
                None => return Ok(false),
            },
            None => None,
        };
        E::settle(self, &settlement, step, millis(now)).await
    }
}
