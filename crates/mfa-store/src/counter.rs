//! Counters for rate limits and lockouts, keyed by account, client or both.

use std::fmt::{self, Debug, Write as _};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::Result;

/// Whose attempts a counter counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CounterScope {
    /// One account, from anywhere.
    Account(String),
    /// One client (an IP address or a device), against any account.
    Client(String),
    /// One account from one client.
    AccountClient {
        /// The account.
        account: String,
        /// The client.
        client: String,
    },
}

/// The key of a counter: a namespace (what is counted) and a scope (whose attempts).
///
/// The namespace keeps counters of different purposes apart, so failed passwords and failed
/// second-factor codes of one account are two counters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CounterKey {
    /// What is counted ("password", "totp", "email-send", ...).
    pub namespace: String,
    /// Whose attempts are counted.
    pub scope: CounterScope,
}

impl CounterKey {
    /// A counter of `namespace` for `scope`.
    pub fn new(namespace: impl Into<String>, scope: CounterScope) -> Self {
        Self {
            namespace: namespace.into(),
            scope,
        }
    }

    /// The canonical storage key: one unambiguous string per key, the same in every backend.
    ///
    /// Every part is length-prefixed, so no choice of names makes two keys collide (an account
    /// named `"a|b"` cannot pose as another key).
    #[must_use]
    pub fn storage_key(&self) -> String {
        let mut out = String::new();
        push_part(&mut out, &self.namespace);
        match &self.scope {
            CounterScope::Account(account) => {
                out.push('a');
                push_part(&mut out, account);
            }
            CounterScope::Client(client) => {
                out.push('c');
                push_part(&mut out, client);
            }
            CounterScope::AccountClient { account, client } => {
                out.push('b');
                push_part(&mut out, account);
                push_part(&mut out, client);
            }
        }
        out
    }
}

fn push_part(out: &mut String, part: &str) {
    // Writing to a String cannot fail.
    let _ = write!(out, "{}:{part}", part.len());
}

impl CounterKey {
    /// The key whose [`storage_key`](Self::storage_key) is `text` (its exact inverse), for a
    /// backend that stored a key as text and needs its parts back.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`](crate::StoreError::Corrupt) for text that is not a storage key.
    pub fn from_storage_key(text: &str) -> Result<Self> {
        let corrupt = || crate::StoreError::corrupt("counter storage key");
        let mut rest = text;
        let namespace = take_part(&mut rest).ok_or_else(corrupt)?;
        let (tag, tail) = rest.split_at_checked(1).ok_or_else(corrupt)?;
        rest = tail;
        let scope = match tag {
            "a" => CounterScope::Account(take_part(&mut rest).ok_or_else(corrupt)?),
            "c" => CounterScope::Client(take_part(&mut rest).ok_or_else(corrupt)?),
            "b" => CounterScope::AccountClient {
                account: take_part(&mut rest).ok_or_else(corrupt)?,
                client: take_part(&mut rest).ok_or_else(corrupt)?,
            },
            _ => return Err(corrupt()),
        };
        if !rest.is_empty() {
            return Err(corrupt());
        }
        Ok(Self { namespace, scope })
    }
}

/// Reads one `<len>:<part>` from the front of `rest`.
fn take_part(rest: &mut &str) -> Option<String> {
    let (len, tail) = rest.split_once(':')?;
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let len: usize = len.parse().ok()?;
    let (part, tail) = tail.split_at_checked(len)?;
    *rest = tail;
    Some(part.to_owned())
}

impl fmt::Display for CounterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.storage_key())
    }
}

/// The state of a counter after a hit or a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterState {
    /// When the current window started.
    pub window_start: SystemTime,
    /// When the current window ends (the count restarts at the first hit at or after it).
    pub window_end: SystemTime,
    /// Hits in the current window.
    pub count: u32,
    /// Hits since the counter was created or reset; unlike `count`, kept when a new window
    /// starts while the record is retained (see [`CounterStore::hit_counter`]).
    pub consecutive_failures: u32,
    /// Until when the key is locked, if a lock was set and has not ended.
    pub locked_until: Option<SystemTime>,
}

impl CounterState {
    /// Whether the key is locked at `now`.
    #[must_use]
    pub fn is_locked(&self, now: SystemTime) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }

    /// The instant after which the record is absent: the later of the window end and the lock
    /// end.
    #[must_use]
    pub fn retained_until(&self) -> SystemTime {
        match self.locked_until {
            Some(until) if until > self.window_end => until,
            _ => self.window_end,
        }
    }

    /// Whether the record behaves as absent at `now` (`now >= retained_until()`).
    #[must_use]
    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.retained_until()
    }
}

/// Adds `window` to `start`, saturating at a far-future instant instead of overflowing.
#[must_use]
pub fn window_end(start: SystemTime, window: Duration) -> SystemTime {
    start
        .checked_add(window)
        .unwrap_or_else(|| far_future(start))
}

fn far_future(start: SystemTime) -> SystemTime {
    // ~31 years: beyond any window a policy sets, and representable on every platform.
    start
        .checked_add(Duration::from_secs(1 << 30))
        .unwrap_or(start)
}

/// One bounded hit asked of [`CounterStore::take_counters`]: count one more event on `key` in
/// windows of `window`, unless the window already holds `limit` or the key is locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Take {
    /// The counter.
    pub key: CounterKey,
    /// The window length (a new window starts at the first take at or after the current one's
    /// end).
    pub window: Duration,
    /// The most events a window may hold; `u32::MAX` for no limit (a plain hit).
    pub limit: u32,
}

impl Take {
    /// A take of one event on `key`, in windows of `window`, of at most `limit` per window.
    pub fn new(key: CounterKey, window: Duration, limit: u32) -> Self {
        Self { key, window, limit }
    }
}

/// What a bounded hit ([`CounterStore::take_counter`]) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterTake {
    /// The event was counted; the state after it.
    Taken(CounterState),
    /// The event was not counted (the window is full or the key is locked); the state as it is.
    Refused(CounterState),
}

impl CounterTake {
    /// Whether the event was counted.
    #[must_use]
    pub const fn is_taken(&self) -> bool {
        matches!(self, Self::Taken(_))
    }

    /// The state after the call, counted or not.
    #[must_use]
    pub const fn state(&self) -> &CounterState {
        match self {
            Self::Taken(s) | Self::Refused(s) => s,
        }
    }
}

/// Storage of counters.
///
/// A record is *retained* until the later of its window end and its lock end; after that it
/// behaves as absent everywhere (`counter` returns `None`, `take_counter` starts from zero), so
/// Redis can give it that TTL and SQL can purge it.
///
/// The facade counts an attempt *before* it evaluates it, with a bounded take, so that no number
/// of concurrent attempts gets more evaluations than a limit allows; a success afterwards
/// returns its unit with [`refund_counter`](Self::refund_counter).
#[async_trait]
pub trait CounterStore: Send + Sync + Debug {
    /// Counts one event on `key` unless its window is full or it is locked, in one atomic step,
    /// and returns what it did with the state after the call.
    ///
    /// If the record is absent or expired at `now`: a new record with `window_start = now`,
    /// `window_end = now + window`, `count = 1`, `consecutive_failures = 1`, no lock, `Taken`.
    /// Else if it is locked at `now` (`now < locked_until`): unchanged, `Refused`. Else if
    /// `now >= window_end` (the window ended, a lock that ended keeps the record): a new window
    /// starting at `now` with `count = 1` and `consecutive_failures + 1`, the lock kept,
    /// `Taken`. Else if `count < limit`: `count + 1`, `consecutive_failures + 1` (saturating),
    /// `Taken`. Else unchanged, `Refused`. The lock is never changed here.
    ///
    /// Atomic: of `n` concurrent takes on one key with `limit` room left, exactly
    /// `min(n, room)` are `Taken`, and they return the counts `count + 1 ..` once each (SQL: one
    /// conditional `INSERT .. ON CONFLICT DO UPDATE .. RETURNING`, or a row lock; Redis: one
    /// Lua script).
    ///
    /// # Errors
    /// Backend failures. On an error the caller must deny the attempt.
    async fn take_counter(
        &self,
        key: &CounterKey,
        window: Duration,
        limit: u32,
        now: SystemTime,
    ) -> Result<CounterTake>;

    /// Takes on several keys in the order given, stopping at the first refusal: returns one
    /// result per take made, so the last one is the refusal if there was one, and the keys
    /// after it are untouched.
    ///
    /// Each take has the semantics and atomicity of [`take_counter`](Self::take_counter); the
    /// batch as a whole need not be atomic (the takes before a refusal stay counted, erring on
    /// the side of counting). Provided as one `take_counter` call per key; override it to count
    /// an attempt in one round trip.
    ///
    /// # Errors
    /// Backend failures; the caller must deny the attempt.
    async fn take_counters(&self, takes: &[Take], now: SystemTime) -> Result<Vec<CounterTake>> {
        let mut results = Vec::with_capacity(takes.len());
        for take in takes {
            let result = self
                .take_counter(&take.key, take.window, take.limit, now)
                .await?;
            let refused = !result.is_taken();
            results.push(result);
            if refused {
                break;
            }
        }
        Ok(results)
    }

    /// Counts one event on `key` without a limit: [`take_counter`](Self::take_counter) with
    /// `limit = u32::MAX`, returning the state. Refused only while the key is locked.
    ///
    /// # Errors
    /// Backend failures. On an error the caller must deny the attempt.
    async fn hit_counter(
        &self,
        key: &CounterKey,
        window: Duration,
        now: SystemTime,
    ) -> Result<CounterState> {
        Ok(*self.take_counter(key, window, u32::MAX, now).await?.state())
    }

    /// Gives back one event counted on `key` in its current window: `count - 1` if the record
    /// is live at `now`, its window still runs and `count > 0`; otherwise nothing changes.
    /// `consecutive_failures` and the lock are kept.
    ///
    /// This returns the unit a successful attempt took before it was evaluated, so that a
    /// success does not use up a budget meant for failures. Atomic (one conditional
    /// `UPDATE`; Redis: one script).
    ///
    /// # Errors
    /// Backend failures.
    async fn refund_counter(&self, key: &CounterKey, now: SystemTime) -> Result<()>;

    /// Locks `key` until `until` and starts an empty window at `now`, in one atomic step.
    ///
    /// The record afterwards has `window_start = window_end = now` and `count = 0` (so the first
    /// take after the lock opens a fresh window), keeps `consecutive_failures` (0 for a new
    /// record), and `locked_until` = the later of `until` and the current lock: a lock is only
    /// ever extended. Returns the state after the call.
    ///
    /// A lock answers a limit being reached: the events that reached it are spent, and once the
    /// lock ends the user gets the rule's full allowance again, not a window still at its limit.
    /// Clearing and locking must be one step; a reset followed by a lock would let a concurrent
    /// attempt through between the two.
    ///
    /// # Errors
    /// Backend failures.
    async fn lock_counter(
        &self,
        key: &CounterKey,
        until: SystemTime,
        now: SystemTime,
    ) -> Result<CounterState>;

    /// Deletes the record of `key`: count, consecutive failures and lock (after a success where
    /// the policy says so, or an administrator's unlock).
    ///
    /// # Errors
    /// Backend failures.
    async fn reset_counter(&self, key: &CounterKey) -> Result<()>;

    /// The state of `key` at `now`, `None` if absent or expired.
    ///
    /// # Errors
    /// Backend failures.
    async fn counter(&self, key: &CounterKey, now: SystemTime) -> Result<Option<CounterState>>;

    /// The states of several keys at `now`, in the order given (`None` for absent or expired).
    ///
    /// Provided as one [`counter`](Self::counter) call per key. A backend that can read them in
    /// one round trip (SQL `WHERE key IN (..)`, one Redis script) should override it with the
    /// same result: this is the read a login makes before it starts.
    ///
    /// # Errors
    /// Backend failures.
    async fn counters(
        &self,
        keys: &[CounterKey],
        now: SystemTime,
    ) -> Result<Vec<Option<CounterState>>> {
        let mut states = Vec::with_capacity(keys.len());
        for key in keys {
            states.push(self.counter(key, now).await?);
        }
        Ok(states)
    }

    /// Deletes every record expired at `now`; returns how many (may be 0 where records expire by
    /// themselves).
    ///
    /// # Errors
    /// Backend failures.
    async fn purge_expired_counters(&self, now: SystemTime) -> Result<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_keys_do_not_collide() {
        let a = CounterKey::new("totp", CounterScope::Account("a:1b".into()));
        let b = CounterKey::new("totp:1", CounterScope::Account("ab".into()));
        let c = CounterKey::new("totp", CounterScope::Client("a:1b".into()));
        let d = CounterKey::new(
            "totp",
            CounterScope::AccountClient {
                account: "a".into(),
                client: "b".into(),
            },
        );
        let e = CounterKey::new(
            "totp",
            CounterScope::AccountClient {
                account: "a1:b".into(),
                client: String::new(),
            },
        );
        let keys = [a, b, c, d, e].map(|k| k.storage_key());
        for (i, x) in keys.iter().enumerate() {
            for y in keys.iter().skip(i + 1) {
                assert_ne!(x, y);
            }
        }
    }

    #[test]
    fn storage_keys_parse_back_and_garbage_is_corrupt() {
        let keys = [
            CounterKey::new("mfa.account", CounterScope::Account("a:1b\n".into())),
            CounterKey::new("x", CounterScope::Client("203.0.113.0/24".into())),
            CounterKey::new(
                "mfa.recognised",
                CounterScope::AccountClient {
                    account: "élodie".into(),
                    client: "device:dev-1".into(),
                },
            ),
            CounterKey::new("", CounterScope::Account(String::new())),
        ];
        for key in keys {
            assert_eq!(
                CounterKey::from_storage_key(&key.storage_key()).unwrap(),
                key
            );
        }
        for bad in [
            "",
            "3:abc",
            "3:abcx1:a",
            "3:abca9:a",
            "3:abca1:ab",
            "x:abca1:a",
            "3:abcb1:a",
            // A signed length: Rust's integer parser would take "+3"; a storage key never
            // writes one, so it is not one.
            "+3:abca1:a",
        ] {
            assert!(CounterKey::from_storage_key(bad).is_err(), "{bad:?}");
        }
        // Display is the storage key.
        let key = CounterKey::new("x", CounterScope::Client("203.0.113.0/24".into()));
        assert_eq!(key.to_string(), "1:xc14:203.0.113.0/24");
        assert_eq!(key.to_string(), key.storage_key());
    }

    #[test]
    fn a_record_is_retained_until_the_later_of_its_window_and_its_lock() {
        let at = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        let state = |window_end, locked_until: Option<u64>| CounterState {
            window_start: at(0),
            window_end: at(window_end),
            count: 1,
            consecutive_failures: 1,
            locked_until: locked_until.map(at),
        };
        assert_eq!(state(60, None).retained_until(), at(60));
        assert_eq!(state(60, Some(30)).retained_until(), at(60));
        assert_eq!(state(60, Some(90)).retained_until(), at(90));
    }

    #[test]
    fn window_end_saturates() {
        let start = SystemTime::UNIX_EPOCH;
        assert!(window_end(start, Duration::MAX) > start);
        assert_eq!(
            window_end(start, Duration::from_secs(5)),
            start + Duration::from_secs(5)
        );
    }
}
