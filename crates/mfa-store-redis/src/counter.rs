//! [`CounterStore`] on Redis: one hash per counter, under the account's hash tag (account and
//! account+client counters) or the client's own tag (client counters); `PEXPIREAT` at the
//! record's retained-until instant.
//!
//! The batch methods send one script per hash tag, all at once on the multiplexed connection,
//! so a batch costs one round trip of latency however many tags it spans.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures_util::future::join_all;
use mfa_store::{CounterKey, CounterState, CounterStore, Result, StoreError, window_end};

use crate::RedisStore;
use crate::codec::{from_ms, parse_u64, to_ms};
use crate::scripts::{COUNTER_HIT, COUNTER_LOCK, COUNTER_READ};
use crate::store::Retry;

/// Decodes `{window_start, window_end, count, consecutive, locked_until or ''}`.
fn decode(entry: &[Vec<u8>]) -> Result<CounterState> {
    let corrupt = || StoreError::corrupt("counter state");
    let [ws, we, count, consec, lock] = entry else {
        return Err(corrupt());
    };
    let number = |bytes: &[u8]| parse_u64(bytes).ok_or_else(corrupt);
    let small = |bytes: &[u8]| number(bytes).and_then(|n| u32::try_from(n).map_err(|_| corrupt()));
    let time = |bytes: &[u8]| number(bytes).and_then(|ms| from_ms(ms, "counter time"));
    Ok(CounterState {
        window_start: time(ws)?,
        window_end: time(we)?,
        count: small(count)?,
        consecutive_failures: small(consec)?,
        locked_until: if lock.is_empty() {
            None
        } else {
            Some(time(lock)?)
        },
    })
}

/// Groups the indices of `keys` by hash tag, keeping the order within each group.
fn by_tag<'k, T>(
    store: &RedisStore,
    items: &'k [T],
    key_of: impl Fn(&'k T) -> &'k CounterKey,
) -> Vec<Vec<usize>> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let tag = store.keys.counter_tag(key_of(item));
        match groups.iter_mut().find(|(t, _)| *t == tag) {
            Some((_, members)) => members.push(index),
            None => groups.push((tag, vec![index])),
        }
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

/// Puts per-group results back in the order of the request.
fn reorder<T>(len: usize, groups: &[Vec<usize>], results: Vec<Vec<T>>) -> Result<Vec<T>> {
    let mut slots: Vec<Option<T>> = std::iter::repeat_with(|| None).take(len).collect();
    for (members, values) in groups.iter().zip(results) {
        if members.len() != values.len() {
            return Err(StoreError::corrupt("counter batch reply length"));
        }
        for (&index, value) in members.iter().zip(values) {
            if let Some(slot) = slots.get_mut(index) {
                *slot = Some(value);
            }
        }
    }
    slots
        .into_iter()
        .map(|slot| slot.ok_or_else(|| StoreError::corrupt("counter batch reply")))
        .collect()
}

impl RedisStore {
    /// One `counter_hit` script over keys of one tag.
    async fn hit_group(
        &self,
        hits: &[(CounterKey, Duration)],
        members: &[usize],
        now: SystemTime,
    ) -> Result<Vec<CounterState>> {
        let mut invocation = COUNTER_HIT.prepare_invoke();
        invocation.arg(to_ms(now));
        for &index in members {
            if let Some((key, window)) = hits.get(index) {
                invocation
                    .key(self.keys.counter(key))
                    .arg(to_ms(window_end(now, *window)));
            }
        }
        let reply: Vec<Vec<Vec<u8>>> = self.eval(&invocation, Retry::Never).await?;
        reply.iter().map(|entry| decode(entry)).collect()
    }

    /// One `counter_read` script over keys of one tag.
    async fn read_group(
        &self,
        keys: &[CounterKey],
        members: &[usize],
        now: SystemTime,
    ) -> Result<Vec<Option<CounterState>>> {
        let mut invocation = COUNTER_READ.prepare_invoke();
        invocation.arg(to_ms(now));
        for &index in members {
            if let Some(key) = keys.get(index) {
                invocation.key(self.keys.counter(key));
            }
        }
        let reply: Vec<Vec<Vec<u8>>> = self.eval(&invocation, Retry::Idempotent).await?;
        reply
            .iter()
            .map(|entry| {
                if entry.is_empty() {
                    Ok(None)
                } else {
                    decode(entry).map(Some)
                }
            })
            .collect()
    }
}

#[async_trait]
impl CounterStore for RedisStore {
    async fn hit_counter(
        &self,
        key: &CounterKey,
        window: Duration,
        now: SystemTime,
    ) -> Result<CounterState> {
        let hits = [(key.clone(), window)];
        let mut states = self.hit_group(&hits, &[0], now).await?;
        states
            .pop()
            .ok_or_else(|| StoreError::corrupt("counter hit reply"))
    }

    async fn lock_counter(
        &self,
        key: &CounterKey,
        until: SystemTime,
        now: SystemTime,
    ) -> Result<CounterState> {
        let reply: Vec<Vec<u8>> = self
            .eval(
                COUNTER_LOCK
                    .key(self.keys.counter(key))
                    .arg(to_ms(now))
                    .arg(to_ms(until)),
                Retry::Never,
            )
            .await?;
        decode(&reply)
    }

    async fn reset_counter(&self, key: &CounterKey) -> Result<()> {
        let _: i64 = self
            .command(
                redis::cmd("DEL").arg(self.keys.counter(key)),
                Retry::Idempotent,
            )
            .await?;
        Ok(())
    }

    async fn counter(&self, key: &CounterKey, now: SystemTime) -> Result<Option<CounterState>> {
        let mut states = self
            .read_group(std::slice::from_ref(key), &[0], now)
            .await?;
        states
            .pop()
            .ok_or_else(|| StoreError::corrupt("counter read reply"))
    }

    /// One `counter_read` script per hash tag, sent concurrently.
    async fn counters(
        &self,
        keys: &[CounterKey],
        now: SystemTime,
    ) -> Result<Vec<Option<CounterState>>> {
        let groups = by_tag(self, keys, |k| k);
        let results = join_all(
            groups
                .iter()
                .map(|members| self.read_group(keys, members, now)),
        )
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
        reorder(keys.len(), &groups, results)
    }

    /// One `counter_hit` script per hash tag, sent concurrently. On an error some tags' hits
    /// may be counted and others not; the caller denies the attempt either way.
    async fn hit_counters(
        &self,
        hits: &[(CounterKey, Duration)],
        now: SystemTime,
    ) -> Result<Vec<CounterState>> {
        let groups = by_tag(self, hits, |(k, _)| k);
        // join_all, not try_join_all: every group's hit is sent and awaited even if another
        // group failed, so an error never leaves a hit uncounted that could have been counted.
        let results = join_all(
            groups
                .iter()
                .map(|members| self.hit_group(hits, members, now)),
        )
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
        reorder(hits.len(), &groups, results)
    }

    /// Counters expire by TTL (`PEXPIREAT` at the later of window end and lock end): nothing to
    /// purge, returns 0.
    async fn purge_expired_counters(&self, _now: SystemTime) -> Result<u64> {
        Ok(0)
    }
}
