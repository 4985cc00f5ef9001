//! The state a store keeps per counter, as plain values the facade fills in: [`CounterState`],
//! [`FailureState`], and the names of the four failure counters ([`Counter`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::time;

/// One of the four failure counters a factor (password or second factor) keeps.
///
/// Each is a separate counter in the store, keyed by the factor, the counter and the key shown
/// below, counted in the window of its rule ([`FactorRules::window`](crate::FactorRules::window)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Counter {
    /// Keyed by account: the account-wide slowdown (capped backoff by default).
    Account,
    /// Keyed by account: the account-wide hard lockout (off unless configured).
    AccountLock,
    /// Keyed by account and client ([`ClientKey`](crate::ClientKey)): locks one client out of
    /// one account before anything account-wide happens.
    AccountClient,
    /// Keyed by client alone: slows one network down across all accounts (credential stuffing).
    Client,
}

impl Counter {
    /// All four counters, in evaluation order.
    pub const ALL: [Self; 4] = [
        Self::Account,
        Self::AccountLock,
        Self::AccountClient,
        Self::Client,
    ];

    /// Whether this counter is keyed by the client and so does not apply to a trusted device.
    #[must_use]
    pub const fn is_client_level(self) -> bool {
        matches!(self, Self::AccountClient | Self::Client)
    }

    /// Whether a successful attempt resets this counter (count to zero, lock cleared).
    ///
    /// The per-client counter is not reset: an attacker could otherwise clear the counter of
    /// their network by signing in to an account of their own from it.
    #[must_use]
    pub const fn resets_on_success(self) -> bool {
        !matches!(self, Self::Client)
    }
}

/// The state of one fixed-window counter as a store returns it.
///
/// `count` failures were recorded in the window that started at `window_start` (the window's
/// length comes from the rule); `locked_until` is set while a lock applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CounterState {
    /// When the current window started.
    pub window_start: SystemTime,
    /// Events recorded in the current window.
    pub count: u32,
    /// The end of the current lock, if one was written.
    pub locked_until: Option<SystemTime>,
}

impl Default for CounterState {
    /// An empty counter (no events, no lock); its window, at the epoch, has long ended.
    fn default() -> Self {
        Self::fresh(UNIX_EPOCH)
    }
}

impl CounterState {
    /// An empty counter whose window starts at `now`.
    #[must_use]
    pub const fn fresh(now: SystemTime) -> Self {
        Self {
            window_start: now,
            count: 0,
            locked_until: None,
        }
    }

    /// The end of the current window for a window of length `window`.
    #[must_use]
    pub fn window_end(&self, window: Duration) -> SystemTime {
        time::add(self.window_start, window)
    }

    /// The number of events that count at `now`: `count` while the window runs, else zero.
    ///
    /// A window that starts in the future (the clock went back) still runs.
    #[must_use]
    pub fn count_at(&self, window: Duration, now: SystemTime) -> u32 {
        if now < self.window_end(window) {
            self.count
        } else {
            0
        }
    }

    /// How long the window still runs after `now` (at most `window`).
    #[must_use]
    pub fn window_remaining(&self, window: Duration, now: SystemTime) -> Duration {
        time::until(now, self.window_end(window)).min(window)
    }

    /// How long the lock still holds after `now`; `None` when not locked at `now`.
    #[must_use]
    pub fn locked_for(&self, now: SystemTime) -> Option<Duration> {
        self.locked_until
            .filter(|until| now < *until)
            .map(|until| time::until(now, until))
    }

    /// Reference semantics of the store's atomic "hit": one more event at `now`.
    ///
    /// Inside the window the count grows by one (saturating); after the window a new one starts
    /// at `now` with a count of one. The lock is kept as it is.
    #[must_use]
    pub fn hit(self, window: Duration, now: SystemTime) -> Self {
        if now < self.window_end(window) {
            Self {
                count: self.count.saturating_add(1),
                ..self
            }
        } else {
            Self {
                window_start: now,
                count: 1,
                locked_until: self.locked_until,
            }
        }
    }

    /// Reference semantics of applying a [`Decision::Lock`](crate::Decision::Lock) (or a
    /// [`CounterLock`](crate::CounterLock)) at `now`: the lock is written and a new, empty
    /// window starts, so the limit applies afresh once the lock ends.
    #[must_use]
    pub const fn lock(self, until: SystemTime, now: SystemTime) -> Self {
        Self {
            window_start: now,
            count: 0,
            locked_until: Some(until),
        }
    }
}

/// Whether the attempt comes from a device the user has marked as trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Device {
    /// No valid trusted-device token came with the attempt.
    #[default]
    Unknown,
    /// A valid trusted-device token of this user came with the attempt: the client-level
    /// counters ([`Counter::is_client_level`]) do not apply.
    Trusted,
}

/// Everything the failure rules of one factor look at, as the store returned it.
///
/// Counters whose rule is off are ignored and may be left at their default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FailureState {
    /// State of [`Counter::Account`].
    pub account: CounterState,
    /// State of [`Counter::AccountLock`].
    pub account_lock: CounterState,
    /// State of [`Counter::AccountClient`].
    pub account_client: CounterState,
    /// State of [`Counter::Client`].
    pub client: CounterState,
    /// Failures of this factor on this account since its last success (never reset by a
    /// window; reset by a success, an administrator unlock or a recovery flow).
    pub consecutive_failures: u32,
    /// Whether the attempt comes from a trusted device of the user.
    pub device: Device,
}

impl FailureState {
    /// The state of one counter.
    #[must_use]
    pub const fn get(&self, counter: Counter) -> &CounterState {
        match counter {
            Counter::Account => &self.account,
            Counter::AccountLock => &self.account_lock,
            Counter::AccountClient => &self.account_client,
            Counter::Client => &self.client,
        }
    }

    /// The state of one counter, mutably.
    pub const fn get_mut(&mut self, counter: Counter) -> &mut CounterState {
        match counter {
            Counter::Account => &mut self.account,
            Counter::AccountLock => &mut self.account_lock,
            Counter::AccountClient => &mut self.account_client,
            Counter::Client => &mut self.client,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(60);

    #[test]
    fn hit_counts_inside_the_window_and_restarts_after_it() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000);
        let s = CounterState::default().hit(W, t0);
        assert_eq!((s.window_start, s.count), (t0, 1));
        let s = s.hit(W, t0 + Duration::from_secs(59));
        assert_eq!((s.window_start, s.count), (t0, 2));
        assert_eq!(s.count_at(W, t0 + Duration::from_secs(59)), 2);
        assert_eq!(s.count_at(W, t0 + W), 0);
        let s = s.hit(W, t0 + W);
        assert_eq!((s.window_start, s.count), (t0 + W, 1));
    }

    #[test]
    fn lock_starts_an_empty_window_and_holds_until_its_end() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000);
        let until = t0 + Duration::from_secs(10);
        let s = CounterState::fresh(t0).hit(W, t0).lock(until, t0);
        assert_eq!(s.count, 0);
        assert_eq!(s.locked_for(t0), Some(Duration::from_secs(10)));
        assert_eq!(s.locked_for(until), None);
    }

    #[test]
    fn a_window_in_the_future_still_runs() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000);
        let s = CounterState {
            window_start: t0,
            count: 3,
            locked_until: None,
        };
        let earlier = UNIX_EPOCH;
        assert_eq!(s.count_at(W, earlier), 3);
        assert_eq!(s.window_remaining(W, earlier), W);
    }
}
