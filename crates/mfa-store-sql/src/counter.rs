//! [`CounterStore`] on every engine: one row per counter key, its retention end a stored
//! generated column (`expires_at`) that the purge and the "expired: start fresh" branches share.
//!
//! The bounded take and the lock change a row and return it, which each engine does its own
//! way ([`Engine::take`], [`Engine::lock_counter`]); reads, the refund, the reset and the purge
//! are here.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use mfa_store::{
    CounterKey, CounterState, CounterStore, CounterTake, Result as SResult, Take, window_end,
};

use crate::convert::{corrupt, count, millis, time};
use crate::db::{Arg, Cols, On, Sql};
use crate::dialect::Dialect;
use crate::engine::Engine;
use crate::store::{DEFAULT_PURGE_BATCH, SqlStore, execute_on};

/// The select list of a counter: its key, then its state ([`state`]'s columns).
pub(crate) const COLUMNS: &str =
    "@counter_key, window_start, window_end, count, consecutive, locked_until";

/// One take as the engines run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTake {
    /// [`CounterKey::storage_key`].
    pub(crate) key: String,
    /// The end of a window that starts now, in ms.
    pub(crate) end: i64,
    /// The most events a window may hold.
    pub(crate) limit: u32,
}

impl KeyTake {
    pub(crate) fn new(key: &CounterKey, window: Duration, limit: u32, now: SystemTime) -> Self {
        Self {
            key: key.storage_key(),
            end: millis(window_end(now, window)),
            limit,
        }
    }
}

/// The statements of counters every engine runs.
#[derive(Debug)]
pub(crate) struct CounterSql {
    get: Sql,
    /// `SELECT .. WHERE counter_key IN (`, closed per call.
    batch_prefix: String,
    pub(crate) refund: Sql,
    pub(crate) reset: Sql,
    pub(crate) purge: Sql,
    dialect: Dialect,
}

impl CounterSql {
    pub(crate) fn new(d: &Dialect) -> Self {
        Self {
            get: d.sql(&format!(
                "SELECT {COLUMNS} FROM {{p}}counters WHERE counter_key = ?"
            )),
            batch_prefix: d.text(&format!(
                "SELECT {COLUMNS} FROM {{p}}counters WHERE counter_key IN ("
            )),
            // The window still runs (so the record is live) and holds an event to give back.
            refund: d.sql(
                "UPDATE {p}counters SET count = count - 1 \
                 WHERE counter_key = ? AND count > 0 AND window_end > ?",
            ),
            reset: d.sql("DELETE FROM {p}counters WHERE counter_key = ?"),
            purge: d.purge("counters", "counter_key"),
            dialect: d.clone(),
        }
    }

    /// The read of `n` keys in one statement.
    fn batch(&self, n: usize) -> Sql {
        format!("{}{})", self.batch_prefix, self.dialect.placeholders(1, n)).into()
    }
}

/// A counter's state from the next five columns: window start and end, count, consecutive
/// failures, lock end.
pub(crate) fn state<E: Engine>(c: &mut Cols<'_, E>) -> SResult<CounterState> {
    Ok(CounterState {
        window_start: time(c.int("window_start")?, "window_start")?,
        window_end: time(c.int("window_end")?, "window_end")?,
        count: count(c.int("count")?, "count")?,
        consecutive_failures: count(c.int("consecutive")?, "consecutive")?,
        locked_until: c
            .opt_int("locked_until")?
            .map(|t| time(t, "locked_until"))
            .transpose()?,
    })
}

/// A counter's key and state from a row of [`COLUMNS`].
pub(crate) fn keyed<E: Engine>(row: &E::Row) -> SResult<(String, CounterState)> {
    let mut c = Cols::<E>::new(row);
    let key = c.text("counter_key")?;
    Ok((key, state(&mut c)?))
}

/// One take's result from the next columns `(i, taken, <state>)`: its position in the batch
/// and what it did (the PostgreSQL and MySQL routines answer in this shape).
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) fn take_from<E: Engine>(c: &mut Cols<'_, E>) -> SResult<(usize, CounterTake)> {
    let i = usize::try_from(c.int("i")?).map_err(|_| corrupt("i"))?;
    let taken = c.boolean("taken")?;
    let state = state(c)?;
    Ok((i, taken_or_refused(taken, state)))
}

/// What a take answered from the next columns `(taken, <state>)`.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) fn taken_from<E: Engine>(c: &mut Cols<'_, E>) -> SResult<CounterTake> {
    let taken = c.boolean("taken")?;
    Ok(taken_or_refused(taken, state(c)?))
}

/// [`CounterTake`] from a flag.
pub(crate) fn taken_or_refused(taken: bool, state: CounterState) -> CounterTake {
    if taken {
        CounterTake::Taken(state)
    } else {
        CounterTake::Refused(state)
    }
}

/// Orders the results of a batch by position and checks they are the takes made, in order,
/// ending at the first refusal: anything else is an engine answering out of shape.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) fn in_order(mut rows: Vec<(usize, CounterTake)>) -> SResult<Vec<CounterTake>> {
    rows.sort_by_key(|(i, _)| *i);
    let mut out = Vec::with_capacity(rows.len());
    for (expected, (i, take)) in rows.into_iter().enumerate() {
        let refused_before = out.last().is_some_and(|t: &CounterTake| !t.is_taken());
        if i != expected || refused_before {
            return Err(corrupt("i"));
        }
        out.push(take);
    }
    Ok(out)
}

impl<E: Engine> SqlStore<E> {
    /// `refund_counter` of storage key `key` on `on` (the pool, or a transaction it is a step
    /// of).
    pub(crate) async fn refund_on(&self, on: On<'_, E>, key: &str, now: i64) -> SResult<()> {
        let args = [Arg::Text(key), Arg::Int(now)];
        execute_on(on, &self.sql().counter.refund, &args).await?;
        Ok(())
    }

    /// `reset_counter` of storage key `key` on `on`.
    pub(crate) async fn reset_on(&self, on: On<'_, E>, key: &str) -> SResult<()> {
        execute_on(on, &self.sql().counter.reset, &[Arg::Text(key)]).await?;
        Ok(())
    }
}

#[async_trait]
impl<E: Engine> CounterStore for SqlStore<E> {
    async fn take_counter(
        &self,
        key: &CounterKey,
        window: Duration,
        limit: u32,
        now: SystemTime,
    ) -> SResult<CounterTake> {
        let take = [KeyTake::new(key, window, limit, now)];
        E::take(self, &take, millis(now))
            .await?
            .pop()
            .ok_or_else(|| corrupt("taken"))
    }

    /// One round trip for the whole batch: one statement (PostgreSQL), one routine call
    /// (MySQL) or one transaction (SQLite).
    async fn take_counters(&self, takes: &[Take], now: SystemTime) -> SResult<Vec<CounterTake>> {
        if takes.is_empty() {
            return Ok(Vec::new());
        }
        let takes: Vec<KeyTake> = takes
            .iter()
            .map(|t| KeyTake::new(&t.key, t.window, t.limit, now))
            .collect();
        E::take(self, &takes, millis(now)).await
    }

    async fn refund_counter(&self, key: &CounterKey, now: SystemTime) -> SResult<()> {
        self.refund_on(On::Pool(self.pool()), &key.storage_key(), millis(now))
            .await
    }

    async fn lock_counter(
        &self,
        key: &CounterKey,
        until: SystemTime,
        now: SystemTime,
    ) -> SResult<CounterState> {
        E::lock_counter(self, &key.storage_key(), millis(until), millis(now)).await
    }

    async fn reset_counter(&self, key: &CounterKey) -> SResult<()> {
        self.reset_on(On::Pool(self.pool()), &key.storage_key())
            .await
    }

    async fn counter(&self, key: &CounterKey, now: SystemTime) -> SResult<Option<CounterState>> {
        let args = [Arg::Text(&key.storage_key())];
        let row = self
            .fetch_optional(&self.sql().counter.get, &args, keyed::<E>)
            .await?;
        Ok(row.map(|(_, s)| s).filter(|s| !s.is_expired(now)))
    }

    /// One round trip: `SELECT .. WHERE counter_key IN (..)`.
    async fn counters(
        &self,
        keys: &[CounterKey],
        now: SystemTime,
    ) -> SResult<Vec<Option<CounterState>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<String> = keys.iter().map(CounterKey::storage_key).collect();
        let args: Vec<Arg<'_>> = wanted.iter().map(|k| Arg::Text(k)).collect();
        let sql = self.sql().counter.batch(wanted.len());
        let rows = self.fetch_all(&sql, &args, keyed::<E>).await?;
        Ok(wanted
            .iter()
            .map(|key| {
                rows.iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, s)| *s)
                    .filter(|s| !s.is_expired(now))
            })
            .collect())
    }

    async fn purge_expired_counters(&self, now: SystemTime) -> SResult<u64> {
        self.purge(&self.sql().counter.purge, now, DEFAULT_PURGE_BATCH)
            .await
    }
}
