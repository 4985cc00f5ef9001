//! [`ChallengeStore`] on every engine: one row per challenge, a unique key on `(user_id,
//! purpose)`, the try spent by one conditional `UPDATE` before anything is compared.
//!
//! Creating a challenge and spending a try return or check the row they wrote, which each
//! engine does its own way ([`Engine::create_challenge`], [`Engine::spend`]); the rest is here.

use std::str::FromStr;
use std::time::SystemTime;

use async_trait::async_trait;
use mfa_core::{ChallengeKind, CodeDigest};
use mfa_store::{AttemptOutcome, AttemptPlan, Challenge, ChallengeStore, Result as SResult};

use crate::convert::{corrupt, count, millis, opt_digest, time};
use crate::db::{Arg, Cols, On, Sql};
use crate::dialect::Dialect;
use crate::engine::Engine;
use crate::routines;
use crate::store::{DEFAULT_PURGE_BATCH, SqlStore, execute_on, fetch_optional_on};

/// The select list of a challenge, in [`challenge`]'s order.
pub(crate) const COLUMNS: &str = "@id, @user_id, @purpose, kind, code_digest, link_digest, \
     binding_digest, created_at, expires_at, attempts_left, consumed, plan";

/// How many columns [`COLUMNS`] has.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) const WIDTH: usize = 12;

/// The columns of an insert, in [`Stored::args`]' order (MySQL's routine lists them itself).
#[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
pub(crate) const INSERT_COLUMNS: &str = "id, user_id, purpose, kind, code_digest, link_digest, \
     binding_digest, created_at, expires_at, attempts_left, consumed, plan, plan_takes";

/// How many columns [`INSERT_COLUMNS`] has.
pub(crate) const INSERT_WIDTH: usize = 13;

/// The select list of what names a refusal, in [`refusal`]'s order.
pub(crate) const REFUSAL_COLUMNS: &str = "expires_at, consumed, attempts_left";

/// How many times a spend that found the challenge changed under it (a resend, a re-create
/// between the `UPDATE` and the read that names the refusal) is tried again.
pub(crate) const SPEND_TRIES: usize = 16;

/// The statements of challenges every engine runs.
#[derive(Debug)]
pub(crate) struct ChallengeSql {
    get: Sql,
    pub(crate) refusal: Sql,
    pub(crate) consume: Sql,
    consume_own: Sql,
    replace_code: Sql,
    delete: Sql,
    revoke_user: Sql,
    pub(crate) purge: Sql,
}

impl ChallengeSql {
    pub(crate) fn new(d: &Dialect) -> Self {
        Self {
            get: d.sql(&format!(
                "SELECT {COLUMNS} FROM {{p}}challenges WHERE id = ? AND expires_at > ?"
            )),
            refusal: d.sql(&format!(
                "SELECT {REFUSAL_COLUMNS} FROM {{p}}challenges WHERE id = ?"
            )),
            consume: d.sql(
                "UPDATE {p}challenges SET consumed = TRUE \
                 WHERE id = ? AND NOT consumed AND expires_at > ?",
            ),
            consume_own: d.sql(
                "UPDATE {p}challenges SET consumed = TRUE \
                 WHERE id = ? AND user_id = ? AND NOT consumed AND expires_at > ?",
            ),
            replace_code: d.sql(
                "UPDATE {p}challenges SET kind = ?, code_digest = ?, expires_at = ? \
                 WHERE id = ? AND NOT consumed AND expires_at > ?",
            ),
            delete: d.sql("DELETE FROM {p}challenges WHERE id = ?"),
            revoke_user: d.sql("DELETE FROM {p}challenges WHERE user_id = ?"),
            purge: d.purge("challenges", "id"),
        }
    }
}

/// A challenge from a row of [`COLUMNS`].
pub(crate) fn challenge<E: Engine>(row: &E::Row) -> SResult<Challenge> {
    read(&mut Cols::<E>::new(row))
}

/// A challenge from the next columns, in [`COLUMNS`] order. A plan that does not decode is
/// `Corrupt`, never dropped: the budgets it names bound guessing.
pub(crate) fn read<E: Engine>(c: &mut Cols<'_, E>) -> SResult<Challenge> {
    Ok(Challenge {
        id: c.text("id")?,
        user: c.text("user_id")?,
        purpose: c.text("purpose")?,
        kind: ChallengeKind::from_str(&c.text("kind")?).map_err(|_| corrupt("kind"))?,
        code_digest: opt_digest(c.opt_bytes("code_digest")?.as_deref(), "code_digest")?,
        link_digest: opt_digest(c.opt_bytes("link_digest")?.as_deref(), "link_digest")?,
        binding_digest: opt_digest(c.opt_bytes("binding_digest")?.as_deref(), "binding_digest")?,
        created_at: time(c.int("created_at")?, "created_at")?,
        expires_at: time(c.int("expires_at")?, "expires_at")?,
        attempts_left: count(c.int("attempts_left")?, "attempts_left")?,
        consumed: c.boolean("consumed")?,
        plan: c
            .opt_text("plan")?
            .map(|text| AttemptPlan::decode(&text))
            .transpose()?,
    })
}

/// A challenge as it is written: its plan encoded twice, for reading back (`plan`) and for
/// the routines that take its budgets (`plan_takes`, see [`routines::plan`]).
pub(crate) struct Stored<'a> {
    challenge: &'a Challenge,
    plan: Option<String>,
    plan_takes: Option<String>,
}

impl<'a> Stored<'a> {
    pub(crate) fn new(challenge: &'a Challenge) -> Self {
        Self {
            challenge,
            plan: challenge.plan.as_ref().map(AttemptPlan::encode),
            plan_takes: challenge.plan.as_ref().map(routines::plan),
        }
    }

    /// The values of an insert, in [`INSERT_COLUMNS`] order.
    pub(crate) fn args(&self) -> [Arg<'_>; INSERT_WIDTH] {
        fn digest(d: Option<&CodeDigest>) -> Arg<'_> {
            Arg::OptBytes(d.map(|d| &d.as_bytes()[..]))
        }
        let c = self.challenge;
        [
            Arg::Text(&c.id),
            Arg::Text(&c.user),
            Arg::Text(&c.purpose),
            Arg::Text(c.kind.as_str()),
            digest(c.code_digest.as_ref()),
            digest(c.link_digest.as_ref()),
            digest(c.binding_digest.as_ref()),
            Arg::Int(millis(c.created_at)),
            Arg::Int(millis(c.expires_at)),
            Arg::Int(i64::from(c.attempts_left)),
            Arg::Bool(c.consumed),
            Arg::OptText(self.plan.as_deref()),
            Arg::OptText(self.plan_takes.as_deref()),
        ]
    }
}

/// Why nothing was spent, from a row of [`REFUSAL_COLUMNS`] as it is now; `None` if the row
/// would now allow a try (it changed after the spend looked at it), so the spend is tried
/// again.
pub(crate) fn refusal<E: Engine>(row: &E::Row, now: i64) -> SResult<Option<AttemptOutcome>> {
    refusal_from(&mut Cols::<E>::new(row), now)
}

/// [`refusal`] from the next columns.
pub(crate) fn refusal_from<E: Engine>(
    c: &mut Cols<'_, E>,
    now: i64,
) -> SResult<Option<AttemptOutcome>> {
    let (expires, consumed, left) = (
        c.int("expires_at")?,
        c.boolean("consumed")?,
        c.int("attempts_left")?,
    );
    Ok(if now >= expires {
        Some(AttemptOutcome::Expired)
    } else if consumed {
        Some(AttemptOutcome::Consumed)
    } else if left <= 0 {
        Some(AttemptOutcome::Exhausted)
    } else {
        None
    })
}

impl<E: Engine> SqlStore<E> {
    /// `consume_challenge` on `on` (the pool, or a transaction it is a step of).
    pub(crate) async fn consume_on(&self, on: On<'_, E>, id: &str, now: i64) -> SResult<bool> {
        let args = [Arg::Text(id), Arg::Int(now)];
        Ok(execute_on(on, &self.sql().challenge.consume, &args).await? == 1)
    }

    /// `consume_on`, only if the challenge is `user`'s (a settlement stays inside its user).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    pub(crate) async fn consume_own_on(
        &self,
        on: On<'_, E>,
        user: &str,
        id: &str,
        now: i64,
    ) -> SResult<bool> {
        let args = [Arg::Text(id), Arg::Text(user), Arg::Int(now)];
        Ok(execute_on(on, &self.sql().challenge.consume_own, &args).await? == 1)
    }

    /// Why no try of `id` was spent, read on `on`: `None` for an unknown id, `Some(None)` if
    /// the row would now allow a try.
    pub(crate) async fn refusal_on(
        &self,
        on: On<'_, E>,
        id: &str,
        now: i64,
    ) -> SResult<Option<Option<AttemptOutcome>>> {
        let sql = &self.sql().challenge.refusal;
        fetch_optional_on(on, sql, &[Arg::Text(id)], |row| refusal::<E>(row, now)).await
    }
}

#[async_trait]
impl<E: Engine> ChallengeStore for SqlStore<E> {
    async fn create_challenge(&self, challenge: Challenge) -> SResult<()> {
        E::create_challenge(self, &challenge).await
    }

    async fn challenge(&self, id: &str, now: SystemTime) -> SResult<Option<Challenge>> {
        let args = [Arg::Text(id), Arg::Int(millis(now))];
        self.fetch_optional(&self.sql().challenge.get, &args, challenge::<E>)
            .await
    }

    async fn spend_attempt(&self, id: &str, now: SystemTime) -> SResult<AttemptOutcome> {
        let now = millis(now);
        for _ in 0..SPEND_TRIES {
            if let Some(challenge) = E::spend(self, id, now).await? {
                return Ok(AttemptOutcome::Spent {
                    attempts_left_after: challenge.attempts_left,
                    challenge: Box::new(challenge),
                });
            }
            // Nothing was spent; this read only names the refusal.
            match self.refusal_on(On::Pool(self.pool()), id, now).await? {
                None => return Ok(AttemptOutcome::NotFound),
                Some(Some(outcome)) => return Ok(outcome),
                Some(None) => {}
            }
        }
        // Still changing under us after every try: refuse (fail closed), spending nothing.
        Ok(AttemptOutcome::Exhausted)
    }

    async fn consume_challenge(&self, id: &str, now: SystemTime) -> SResult<bool> {
        self.consume_on(On::Pool(self.pool()), id, millis(now))
            .await
    }

    async fn replace_challenge_code(
        &self,
        id: &str,
        kind: ChallengeKind,
        code_digest: CodeDigest,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> SResult<bool> {
        let args = [
            Arg::Text(kind.as_str()),
            Arg::Bytes(code_digest.as_bytes()),
            Arg::Int(millis(expires_at)),
            Arg::Text(id),
            Arg::Int(millis(now)),
        ];
        Ok(self
            .execute(&self.sql().challenge.replace_code, &args)
            .await?
            == 1)
    }

    async fn revoke_user_challenges(&self, user: &str) -> SResult<u64> {
        self.execute(&self.sql().challenge.revoke_user, &[Arg::Text(user)])
            .await
    }

    async fn delete_challenge(&self, id: &str) -> SResult<bool> {
        Ok(self
            .execute(&self.sql().challenge.delete, &[Arg::Text(id)])
            .await?
            > 0)
    }

    async fn purge_expired_challenges(&self, now: SystemTime) -> SResult<u64> {
        self.purge(&self.sql().challenge.purge, now, DEFAULT_PURGE_BATCH)
            .await
    }
}
