//! What PostgreSQL and SQLite share: with `RETURNING` and `ON CONFLICT .. DO UPDATE .. WHERE`,
//! an operation that changes a row and returns it is one statement. Each statement's condition
//! sits in its `WHERE` clause, so the row lock (PostgreSQL) or the single writer (SQLite)
//! serialises racers and a racer that waited sees the winner's row.

use mfa_core::CodeDigest;
use mfa_store::{Challenge, CounterState, Result as SResult, TrustedDevice};

use crate::challenge::{self, INSERT_COLUMNS};
use crate::convert::corrupt;
use crate::counter::{self, COLUMNS as COUNTER_COLUMNS};
use crate::db::{Arg, Sql};
use crate::device::{self, COLUMNS as DEVICE_COLUMNS};
use crate::dialect::Dialect;
use crate::engine::Engine;
use crate::store::SqlStore;

/// The statements PostgreSQL and SQLite share beyond the common ones.
#[derive(Debug)]
pub struct ReturningSql {
    spend: Sql,
    touch: Sql,
    lock: Sql,
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
            // An empty window at now; the consecutive failures of a live record kept; a lock
            // only ever extended (an expired record counts as absent).
            lock: d.sql(&format!(
                "INSERT INTO {{p}}counters AS c (counter_key, window_start, window_end, count, \
                 consecutive, locked_until) VALUES (?, ?, ?, 0, 0, ?) \
                 ON CONFLICT (counter_key) DO UPDATE SET \
                 window_start = excluded.window_start, window_end = excluded.window_end, \
                 count = 0, \
                 consecutive = CASE WHEN excluded.window_start >= c.expires_at \
                   THEN 0 ELSE c.consecutive END, \
                 locked_until = CASE WHEN excluded.window_start >= c.expires_at \
                   THEN excluded.locked_until \
                   ELSE {{greatest}}(COALESCE(c.locked_until, excluded.locked_until), \
                                   excluded.locked_until) END \
                 RETURNING {COUNTER_COLUMNS}"
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

/// The bounded take of one key as a template: an insert of a fresh record from `source`
/// (`counter_key, window_start = now, window_end, 1, 1`), or, on an existing record, the update
/// `CounterStore::take_counter` describes, made only where its `WHERE` allows it (a refusal
/// changes nothing and returns no row). The limit is the placeholder after `source`'s.
pub(crate) fn take_upsert(source: &str, returning: &str) -> String {
    // `excluded.window_start` is now. Expired (now >= the retention end): a new record. Else
    // locked: refused. Else the window ended: a new window, consecutive + 1. Else room left:
    // count + 1. Else refused. Every SET reads the row as it was before the update.
    format!(
        "INSERT INTO {{p}}counters AS c \
         (counter_key, window_start, window_end, count, consecutive) {source} \
         ON CONFLICT (counter_key) DO UPDATE SET \
         window_start = CASE WHEN excluded.window_start >= c.window_end \
           THEN excluded.window_start ELSE c.window_start END, \
         window_end = CASE WHEN excluded.window_start >= c.window_end \
           THEN excluded.window_end ELSE c.window_end END, \
         count = CASE WHEN excluded.window_start >= c.window_end THEN 1 ELSE c.count + 1 END, \
         consecutive = CASE WHEN excluded.window_start >= c.expires_at \
           THEN 1 ELSE c.consecutive + 1 END, \
         locked_until = CASE WHEN excluded.window_start >= c.expires_at \
           THEN NULL ELSE c.locked_until END \
         WHERE excluded.window_start >= c.expires_at \
           OR ((c.locked_until IS NULL OR c.locked_until <= excluded.window_start) \
               AND (excluded.window_start >= c.window_end OR c.count < ?)) \
         {returning}"
    )
}

pub(crate) async fn spend<E: Engine<Sql: AsRef<ReturningSql>>>(
    store: &SqlStore<E>,
    id: &str,
    now: i64,
) -> SResult<Option<Challenge>> {
    let args = [Arg::Text(id), Arg::Int(now)];
    store
        .fetch_optional(
            &store.sql().engine.as_ref().spend,
            &args,
            challenge::challenge::<E>,
        )
        .await
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

pub(crate) async fn lock_counter<E: Engine<Sql: AsRef<ReturningSql>>>(
    store: &SqlStore<E>,
    key: &str,
    until: i64,
    now: i64,
) -> SResult<CounterState> {
    let args = [
        Arg::Text(key),
        Arg::Int(now),
        Arg::Int(now),
        Arg::Int(until),
    ];
    let row = store
        .fetch_optional(
            &store.sql().engine.as_ref().lock,
            &args,
            counter::keyed::<E>,
        )
        .await?;
    row.map(|(_, state)| state)
        .ok_or_else(|| corrupt("counter_key"))
}
