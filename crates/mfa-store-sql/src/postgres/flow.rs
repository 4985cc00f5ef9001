//! The coarse operations of a login on PostgreSQL, one statement each: `open_ticket` and
//! `attempt` are chains of data-modifying CTEs around the schema's `take_one` and `take_list`
//! functions, `settle` one call of its `settle_lists` function, its lists bound as arrays
//! (`migrations/postgres/0003_flow.sql`, `0005_flow.sql`).
//!
//! A statement is atomic: an error anywhere (a deadlock victim, a duplicate ticket id) rolls
//! all of it back, the takes included, and a deadlock victim is run again. Each CTE that
//! writes only where the budget counted reads `(SELECT o_taken FROM t)`, which runs the take
//! (materialised, once) before it.

use std::sync::Arc;

use mfa_store::{
    AttemptView, AuditEvent, Challenge, CounterKey, CounterTake, Result as SResult, Settlement,
};
use sqlx::{AssertSqlSafe, Postgres};

use super::{create_challenge_parts, run};
use crate::challenge::{self, REFUSAL_COLUMNS, Stored};
use crate::convert::{corrupt, is_retryable, millis};
use crate::counter::{KeyTake, taken_from};
use crate::db::{Arg, Cols, Sql};
use crate::dialect::Dialect;
use crate::flow::{Parts, attempt_view};
use crate::store::Retry;
use crate::store::SqlStore;
use crate::{audit, routines, totp};

/// The statements of the coarse operations.
#[derive(Debug)]
pub(super) struct FlowSql {
    open_ticket: Sql,
    attempt: Sql,
    settle: Sql,
}

/// The columns of a take's answer: `i`, `taken` and the counter's state.
const TAKE_WIDTH: usize = 7;

/// Where the parts of [`FlowSql::attempt`]'s answer sit in its rows: the tag, then the
/// challenge and `recognised`, a take, a factor, a refusal, side by side (a row fills only
/// its own part).
const PARTS: Parts = Parts {
    challenge: 1,
    take: 1 + challenge::WIDTH + 1,
    factor: 1 + challenge::WIDTH + 1 + TAKE_WIDTH,
    refusal: 1 + challenge::WIDTH + 1 + TAKE_WIDTH + totp::WIDTH,
};

impl FlowSql {
    pub(super) fn new(d: &Dialect) -> Self {
        let taken = "(SELECT o_taken FROM t)";
        let (gone, insert) = create_challenge_parts(Some(taken));
        // Parameters: the take (now, key, end, limit), the ticket as `create_challenge`'s
        // (id, user, then its values), the audit record's values.
        //
        // The statement commits asynchronously (`synchronous_commit` off for its transaction
        // alone): opening a ticket grants nothing, so a crash that loses the last moments of
        // opened tickets only makes their users start again. It saves one of a login's three
        // WAL flushes. Every write that bounds an attacker (a try spent, a failure counted, a
        // step advanced, a challenge consumed) stays synchronous, and its flush makes the
        // ticket's earlier WAL records durable with it. `docs/store-sql.md` says why.
        let open_ticket = format!(
            "WITH sc AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true)), \
             t AS MATERIALIZED (SELECT * FROM {{p}}take_one(?, ?, ?, ?)), {gone}, \
             ins AS ({insert}), \
             aud AS (INSERT INTO {{p}}audit_events ({}) SELECT ?, ?, ?, ?, ?, ?, ? \
                 WHERE {taken}) \
             SELECT t.* FROM t CROSS JOIN sc",
            audit::INSERT_COLUMNS
        );
        // `s` spends the try (the statement of `spend_attempt`) and says which list of the
        // plan the attempt takes; `t` takes it; `f` reads the factors if asked for and every
        // take counted; `r` names the refusal when nothing was spent. The final select gives
        // each part its own rows. Parameters: id, now, tag (hex), now, factors, id.
        let attempt = format!(
            "WITH s AS (UPDATE {{p}}challenges SET attempts_left = attempts_left - 1 \
                 WHERE id = ? AND NOT consumed AND expires_at > ? AND attempts_left > 0 \
                 RETURNING {columns}, \
                 COALESCE(CAST(plan_takes AS JSONB) ->> 'tag' = ?, FALSE) AS recognised, \
                 CAST(plan_takes AS JSONB) AS takes), \
             t AS MATERIALIZED (SELECT x.* FROM s CROSS JOIN LATERAL {{p}}take_list(?, \
                 s.takes -> CASE WHEN s.recognised THEN 'r' ELSE 'u' END) x), \
             f AS (SELECT {factor} FROM {{p}}totp_factors \
                 WHERE ? AND user_id = (SELECT user_id FROM s) \
                 AND NOT EXISTS (SELECT 1 FROM t WHERE NOT o_taken)), \
             r AS (SELECT {REFUSAL_COLUMNS} FROM {{p}}challenges \
                 WHERE id = ? AND NOT EXISTS (SELECT 1 FROM s)), \
             c AS (SELECT {columns}, recognised FROM s) \
             SELECT part.tag, c.*, t.*, f.*, r.* \
             FROM (VALUES (1, 'c'), (2, 't'), (3, 'f'), (4, 'r')) AS part (n, tag) \
             LEFT JOIN c ON part.tag = 'c' LEFT JOIN t ON part.tag = 't' \
             LEFT JOIN f ON part.tag = 'f' LEFT JOIN r ON part.tag = 'r' \
             WHERE c.id IS NOT NULL OR t.o_i IS NOT NULL OR f.id IS NOT NULL \
                 OR r.expires_at IS NOT NULL \
             ORDER BY part.n, t.o_i, f.created_at, f.id",
            columns = challenge::COLUMNS,
            factor = totp::COLUMNS,
        );
        Self {
            open_ticket: d.sql(&open_ticket),
            attempt: d.sql(&attempt),
            settle: d.sql(
                "SELECT {p}settle_lists(?, ?, ?, ?, CAST(? AS TEXT[]), CAST(? AS TEXT[]), \
                 CAST(? AS TEXT[]), CAST(? AS BIGINT[]), CAST(? AS TEXT[]), \
                 CAST(? AS BIGINT[]), CAST(? AS BIGINT[]), CAST(? AS TEXT[]), \
                 CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[]))",
            ),
        }
    }
}

pub(super) async fn open_ticket(
    store: &SqlStore<Postgres>,
    ticket: &Challenge,
    budget: &KeyTake,
    event: &AuditEvent,
    now: i64,
) -> SResult<CounterTake> {
    let stored = Stored::new(ticket);
    let ip = audit::stored_ip(event);
    let mut args = vec![
        Arg::Int(now),
        Arg::Text(&budget.key),
        Arg::Int(budget.end),
        Arg::Int(i64::from(budget.limit)),
        Arg::Text(&ticket.id),
        Arg::Text(&ticket.user),
    ];
    args.extend(stored.args());
    args.extend(audit::insert_args(event, ip.as_deref()));
    let rows = run(store, &store.sql().engine.flow.open_ticket, &args).await?;
    let row = rows.first().ok_or_else(|| corrupt("taken"))?;
    taken_from::<Postgres>(&mut Cols::new(row))
}

pub(super) async fn attempt(
    store: &SqlStore<Postgres>,
    id: &str,
    tag: Option<&str>,
    factors: bool,
    now: i64,
) -> SResult<Option<AttemptView>> {
    let tag = tag.map(routines::hex);
    let args = [
        Arg::Text(id),
        Arg::Int(now),
        Arg::OptText(tag.as_deref()),
        Arg::Int(now),
        Arg::Bool(factors),
        Arg::Text(id),
    ];
    let rows = run(store, &store.sql().engine.flow.attempt, &args).await?;
    attempt_view::<Postgres>(&rows, PARTS, now)
}

/// The SQLSTATE `settle_lists` raises for a refused settlement (`0005_flow.sql`).
const REFUSED: &str = "MF001";

/// Whether `e` is `settle_lists` refusing the settlement (nothing was written).
fn is_refused(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == REFUSED)
}

pub(super) async fn settle(
    store: &SqlStore<Postgres>,
    settlement: &Settlement,
    step: Option<i64>,
    now: i64,
) -> SResult<bool> {
    let s = settlement;
    let keys = |keys: &[CounterKey]| keys.iter().map(CounterKey::storage_key).collect::<Vec<_>>();
    // n refunds of one key are one refund of n units (the function takes distinct keys).
    let mut refunds: Vec<(String, i64)> = Vec::new();
    for key in keys(&s.refunds) {
        match refunds.iter_mut().find(|(k, _)| *k == key) {
            Some((_, units)) => *units = units.saturating_add(1),
            None => refunds.push((key, 1)),
        }
    }
    let (refund_keys, refund_units): (Vec<String>, Vec<i64>) = refunds.into_iter().unzip();
    let lock_keys: Vec<String> = s.locks.iter().map(|(k, _)| k.storage_key()).collect();
    let lock_until: Vec<i64> = s.locks.iter().map(|(_, until)| millis(*until)).collect();
    let ips: Vec<Option<String>> = s.audit.iter().map(audit::stored_ip).collect();
    let at: Vec<i64> = s.audit.iter().map(|e| millis(e.at)).collect();
    let kind: Vec<&str> = s.audit.iter().map(|e| e.kind.as_str()).collect();
    let outcome: Vec<&str> = s.audit.iter().map(|e| e.outcome.as_str()).collect();
    let agent: Vec<Option<&str>> = s
        .audit
        .iter()
        .map(|e| e.client.user_agent.as_deref())
        .collect();
    let actor: Vec<Option<&str>> = s.audit.iter().map(|e| e.actor.as_deref()).collect();
    let (resets, factor) = (keys(&s.resets), s.advance.as_ref().map(|(f, _)| f));
    let mut retry = Retry::default();
    loop {
        let query = sqlx::query(AssertSqlSafe(Arc::clone(&store.sql().engine.flow.settle)))
            .bind(now)
            .bind(&s.user)
            .bind(factor)
            .bind(step)
            .bind(&s.consume)
            .bind(&resets)
            .bind(&refund_keys)
            .bind(&refund_units)
            .bind(&lock_keys)
            .bind(&lock_until)
            .bind(&at)
            .bind(&kind)
            .bind(&outcome)
            .bind(&ips)
            .bind(&agent)
            .bind(&actor);
        match query.execute(store.pool()).await {
            Ok(_) => return Ok(true),
            Err(e) if is_refused(&e) => return Ok(false),
            Err(e) => retry.again(e.into(), is_retryable).await?,
        }
    }
}
