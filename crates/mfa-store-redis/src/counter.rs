//! [`CounterStore`] on Redis: one hash per counter, under the account's hash tag (account and
//! account+client counters) or the client's own tag (client counters); `PEXPIREAT` at the
//! record's retained-until instant.
//!
//! The batch methods send as few scripts as the topology allows. A standalone server runs a
//! script over keys of any slots, so a batch is one script. A Cluster runs a script on one
//! slot's node only: `counters` sends one script per slot, all at once (one round trip of
//! latency); `take_counters` must stop at the first refusal in the order given, so it sends one
//! script per run of consecutive takes on one slot, each after the previous one was all taken.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use mfa_store::{
    CounterKey, CounterState, CounterStore, CounterTake, Result, StoreError, Take, window_end,
};

use crate::RedisStore;
use crate::codec::{from_ms, parse_u64, to_ms};
use crate::scripts::{COUNTER_LOCK, COUNTER_READ, COUNTER_REFUND, COUNTER_TAKE};
use crate::slot::slot;
use crate::store::Op;

/// Decodes `{window_start, window_end, count, consecutive, locked_until or ''}`.
pub(crate) fn decode(entry: &[Vec<u8>]) -> Result<CounterState> {
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

/// Decodes `{'taken' | 'refused', state...}`.
pub(crate) fn decode_take(entry: &[Vec<u8>]) -> Result<CounterTake> {
    match entry.split_first() {
        Some((status, state)) if status.as_slice() == b"taken" => {
            Ok(CounterTake::Taken(decode(state)?))
        }
        Some((status, state)) if status.as_slice() == b"refused" => {
            Ok(CounterTake::Refused(decode(state)?))
        }
        _ => Err(StoreError::corrupt("counter take status")),
    }
}

/// How a batch is split into scripts.
#[derive(Clone, Copy)]
pub(crate) enum Grouping {
    /// Runs of consecutive items on one slot (the order matters: takes stop at a refusal).
    Runs,
    /// All items of each slot together (reads, whose order does not matter).
    BySlot,
}

/// Splits `0..len` into the groups one script each can serve, keeping the order within each:
/// everything in one group on a standalone server (`slot_of` is `None` for all), else by slot.
pub(crate) fn groups(
    len: usize,
    slot_of: impl Fn(usize) -> Option<u16>,
    how: Grouping,
) -> Vec<Vec<usize>> {
    let mut groups: Vec<(Option<u16>, Vec<usize>)> = Vec::new();
    for index in 0..len {
        let slot = slot_of(index);
        let open = match how {
            Grouping::Runs => groups.last_mut().filter(|(s, _)| *s == slot),
            Grouping::BySlot => groups.iter_mut().find(|(s, _)| *s == slot),
        };
        match open {
            Some((_, members)) => members.push(index),
            None => groups.push((slot, vec![index])),
        }
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

impl RedisStore {
    /// The slot that decides which script a counter goes in: its own on a Cluster, one shared
    /// `None` on a standalone server.
    pub(crate) fn group_slot(&self, key: &CounterKey) -> Option<u16> {
        self.is_cluster()
            .then(|| slot(self.keys.counter(key).as_bytes()))
    }

    /// Adds `marker, counter` to `invocation` for `key`.
    pub(crate) fn push_counter(
        &self,
        invocation: &mut crate::scripts::Invocation<'_>,
        key: &CounterKey,
    ) {
        let counter = self.keys.counter(key);
        invocation.key(self.keys.marker_for(&counter)).key(counter);
    }

    /// One `counter_take` script over `takes[members]`, stopping at the first refusal.
    pub(crate) async fn take_group(
        &self,
        takes: &[Take],
        members: &[usize],
        now: SystemTime,
    ) -> Result<Vec<CounterTake>> {
        let mut invocation = COUNTER_TAKE.prepare();
        invocation.arg(to_ms(now));
        for take in members.iter().filter_map(|&i| takes.get(i)) {
            self.push_counter(&mut invocation, &take.key);
            invocation
                .arg(to_ms(window_end(now, take.window)))
                .arg(take.limit);
        }
        let reply: Vec<Vec<Vec<u8>>> = self.eval(&invocation, Op::Guard).await?;
        if reply.is_empty() || reply.len() > members.len() {
            return Err(StoreError::corrupt("counter take reply length"));
        }
        reply.iter().map(|entry| decode_take(entry)).collect()
    }

    /// One `counter_read` invocation over `keys[members]`.
    pub(crate) fn read_invocation(
        &self,
        keys: &[CounterKey],
        members: &[usize],
    ) -> crate::scripts::Invocation<'_> {
        let mut invocation = COUNTER_READ.prepare();
        for key in members.iter().filter_map(|&i| keys.get(i)) {
            self.push_counter(&mut invocation, key);
        }
        invocation
    }
}

#[async_trait]
impl CounterStore for RedisStore {
    async fn take_counter(
        &self,
        key: &CounterKey,
        window: Duration,
        limit: u32,
        now: SystemTime,
    ) -> Result<CounterTake> {
        let takes = [Take::new(key.clone(), window, limit)];
        let mut results = self.take_group(&takes, &[0], now).await?;
        results
            .pop()
            .ok_or_else(|| StoreError::corrupt("counter take reply"))
    }

    /// One script for the whole batch on a standalone server; on a Cluster one script per run
    /// of consecutive takes on one slot, sent after the previous run was all taken.
    async fn take_counters(&self, takes: &[Take], now: SystemTime) -> Result<Vec<CounterTake>> {
        let runs = groups(
            takes.len(),
            |i| takes.get(i).and_then(|t| self.group_slot(&t.key)),
            Grouping::Runs,
        );
        let mut results = Vec::with_capacity(takes.len());
        for members in &runs {
            let run = self.take_group(takes, members, now).await?;
            let refused = run.len() < members.len() || run.last().is_some_and(|r| !r.is_taken());
            results.extend(run);
            if refused {
                break;
            }
        }
        Ok(results)
    }

    async fn refund_counter(&self, key: &CounterKey, now: SystemTime) -> Result<()> {
        let _: i64 = self
            .eval(
                COUNTER_REFUND
                    .on(&self.keys, self.keys.counter(key))
                    .arg(to_ms(now)),
                Op::Write,
            )
            .await?;
        Ok(())
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
                    .on(&self.keys, self.keys.counter(key))
                    .arg(to_ms(now))
                    .arg(to_ms(until)),
                Op::Guard,
            )
            .await?;
        decode(&reply)
    }

    async fn reset_counter(&self, key: &CounterKey) -> Result<()> {
        let _: i64 = self
            .command(redis::cmd("DEL").arg(self.keys.counter(key)), Op::Read)
            .await?;
        Ok(())
    }

    async fn counter(&self, key: &CounterKey, now: SystemTime) -> Result<Option<CounterState>> {
        let mut states = self.counters(std::slice::from_ref(key), now).await?;
        states
            .pop()
            .ok_or_else(|| StoreError::corrupt("counter read reply"))
    }

    /// One script for the whole batch on a standalone server; on a Cluster one script per slot,
    /// sent concurrently.
    async fn counters(
        &self,
        keys: &[CounterKey],
        now: SystemTime,
    ) -> Result<Vec<Option<CounterState>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let groups = groups(
            keys.len(),
            |i| keys.get(i).and_then(|k| self.group_slot(k)),
            Grouping::BySlot,
        );
        let mut invocations: Vec<_> = groups
            .iter()
            .map(|members| self.read_invocation(keys, members))
            .collect();
        for invocation in &mut invocations {
            invocation.arg(to_ms(now));
        }
        let replies = self
            .eval_all::<Vec<Vec<Vec<u8>>>>(&invocations, Op::Read)
            .await;
        let mut states: Vec<Option<CounterState>> = vec![None; keys.len()];
        for (members, reply) in groups.iter().zip(replies) {
            let reply = reply?;
            if reply.len() != members.len() {
                return Err(StoreError::corrupt("counter read reply length"));
            }
            for (&index, entry) in members.iter().zip(&reply) {
                let state = if entry.is_empty() {
                    None
                } else {
                    Some(decode(entry)?)
                };
                if let Some(slot) = states.get_mut(index) {
                    *slot = state;
                }
            }
        }
        Ok(states)
    }

    /// Counters expire by TTL (`PEXPIREAT` at the later of window end and lock end): nothing to
    /// purge, returns 0.
    async fn purge_expired_counters(&self, _now: SystemTime) -> Result<u64> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_keep_the_order_and_slots_group_it() {
        let slots = [Some(1), Some(1), Some(2), Some(1), Some(2)];
        let slot_of = |i: usize| slots[i];
        assert_eq!(
            groups(5, slot_of, Grouping::Runs),
            [vec![0, 1], vec![2], vec![3], vec![4]]
        );
        assert_eq!(
            groups(5, slot_of, Grouping::BySlot),
            [vec![0, 1, 3], vec![2, 4]]
        );
        assert_eq!(
            groups(3, |_| None, Grouping::Runs),
            [vec![0, 1, 2]],
            "standalone"
        );
        assert!(groups(0, |_| None, Grouping::Runs).is_empty());
    }
}
