//! What PostgreSQL and SQLite share: with `RETURNING` and `ON CONFLICT .. DO UPDATE`, an
//! operation that changes a row and returns it is one statement. Each statement's condition
//! sits in its `WHERE` clause, so the row lock (PostgreSQL) or the single writer (SQLite)
//! serialises racers and a racer that waited sees the winner's row.

use mfa_core::CodeDigest;
use mfa_store::{Challenge, Result as SResult, TrustedDevice};

use crate::challenge::{self, INSERT_COLUMNS};
use crate::db::{Arg, On, Sql};
use crate::device::{self, COLUMNS as DEVICE_COLUMNS};
use crate::dialect::Dialect;
use crate::engine::Engine;
use crate::store::{SqlStore, fetch_optional_on};

/// The statements PostgreSQL and SQLite share beyond the common ones.
#[derive(Debug)]
pub struct ReturningSql {
    spend: Sql,
    touch: Sql,
}

impl AsRef<Self> for ReturningSql {
    fn as_ref(&self) -> &Self {
        self
    }
}

impl ReturningSql {
    pub(crate) fn new(d: &Dialect) -> Self {
        Self {
            spend: d.sql(&format!(
                "UPDATE {{p}}challenges SET attempts_left = attempts_left - 1 \
                 WHERE id = ? AND NOT consumed AND expires_at > ? AND attempts_left > 0 \
                 RETURNING {}",
                challenge::COLUMNS
            )),
            touch: d.sql(&format!(
                "UPDATE {{p}}trusted_devices SET last_seen = ? \
                 WHERE user_id = ? AND token_digest = ? AND expires_at > ? \
                 RETURNING {DEVICE_COLUMNS}"
            )),
        }
    }
}

/// The insert of a challenge from `source` (its values in [`INSERT_COLUMNS`] order) that
/// replaces the user's challenge of the same purpose, id included.
pub(crate) fn challenge_upsert(source: &str) -> String {
    let sets: Vec<String> = INSERT_COLUMNS
        .split(", ")
        .filter(|c| *c != "user_id" && *c != "purpose")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {{p}}challenges ({INSERT_COLUMNS}) {source} \
         ON CONFLICT (user_id, purpose) DO UPDATE SET {}",
        sets.join(", ")
    )
}

/// Spends one try of `id` on `on` (the pool, or a transaction it is a step of); the
/// challenge after the try, or `None` if nothing was spent.
pub(crate) async fn spend<E: Engine<Sql: AsRef<ReturningSql>>>(
    store: &SqlStore<E>,
    on: On<'_, E>,
    id: &str,
    now: i64,
) -> SResult<Option<Challenge>> {
    let args = [Arg::Text(id), Arg::Int(now)];
    let sql = &store.sql().engine.as_ref().spend;
    fetch_optional_on(on, sql, &args, challenge::challenge::<E>).await
}

pub(crate) async fn touch_device<E: Engine<Sql: AsRef<ReturningSql>>>(
    store: &SqlStore<E>,
    user: &str,
    token: &CodeDigest,
    now: i64,
) -> SResult<Option<TrustedDevice>> {
    let args = [
        Arg::Int(now),
        Arg::Text(user),
        Arg::Bytes(token.as_bytes()),
        Arg::Int(now),
    ];
    store
        .fetch_optional(
            &store.sql().engine.as_ref().touch,
            &args,
            device::device::<E>,
        )
        .await
}
