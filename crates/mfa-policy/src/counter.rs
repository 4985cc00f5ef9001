//! The state a store keeps per counter, as plain values the facade fills in: [`CounterState`],
//! [`FailureState`], the six failure counters ([`Counter`]) and the two contexts an attempt can
//! come from ([`Context`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::time;

/// Where an attempt comes from, as far as the account is concerned.
///
/// The facade decides: an attempt is [`Recognised`](Self::Recognised) when it carries a valid
/// trusted-device token of the user, or comes from a network (the policy's client prefix) on
/// which the user completed a login recently; every other attempt is
/// [`Unrecognised`](Self::Unrecognised). Each context has budgets of its own, so failures from
/// unrecognised contexts (strangers, attackers) never exhaust what the user's recognised
/// contexts are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Context {
    /// No trusted-device token and a network the user has not logged in from recently.
    #[default]
    Unrecognised,
    /// A trusted device of the user, or a network the user logged in from recently.
    Recognised,
}

/// One of the six failure counters a factor (password or second factor) keeps.
///
/// Each is a separate counter in the store, keyed by the factor, the counter and the key shown
/// below. Which counters an attempt takes from depends on its [`Context`]
/// ([`FactorRules::budgets`](crate::FactorRules::budgets)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Counter {
    /// Keyed by account, unrecognised contexts only: the account-wide budget (the recommended
    /// rules make it a daily budget of guesses).
    Account,
    /// Keyed by account, unrecognised contexts only: a second account-wide rule (the seed
    /// flows' account locks).
    AccountLock,
    /// Keyed by account and client network, unrecognised contexts only: locks one network out
    /// of one account before anything account-wide happens.
    AccountClient,
    /// Keyed by client network alone, unrecognised contexts only: slows one network down
    /// across all accounts (credential stuffing).
    Client,
    /// Keyed by account and recognised context (the network, or the trusted device): the
    /// budget of one recognised context, which strangers cannot spend.
    Recognised,
    /// Keyed by account, every context: failures since the last success (the NIST SP 800-63B
    /// cap of consecutive failures). Unrecognised contexts stop below the cap, leaving a
    /// reserve that only recognised contexts can use.
    Consecutive,
}

impl Counter {
    /// All six counters, in the order an attempt takes from them.
    pub const ALL: [Self; 6] = [
        Self::Client,
        Self::AccountClient,
        Self::Recognised,
        Self::Account,
        Self::AccountLock,
        Self::Consecutive,
    ];

    /// The contexts whose attempts this counter counts.
    #[must_use]
    pub const fn counts(self, context: Context) -> bool {
        match self {
            Self::Account | Self::AccountLock | Self::AccountClient | Self::Client => {
                matches!(context, Context::Unrecognised)
            }
            Self::Recognised => matches!(context, Context::Recognised),
            Self::Consecutive => true,
        }
    }

    /// What a successful attempt does to this counter after having taken from it.
    ///
    /// The counters of the context itself and the consecutive count are
    /// [reset](OnSuccess::Reset) (a success ends a run of failures); the account-wide and
    /// per-network budgets only get the success's own unit [refunded](OnSuccess::Refund): a
    /// success of the real user must not hand an attacker elsewhere a fresh budget, and an
    /// attacker who signs in to an account of their own must not clear their network's count.
    #[must_use]
    pub const fn on_success(self) -> OnSuccess {
        match self {
            Self::AccountClient | Self::Recognised | Self::Consecutive => OnSuccess::Reset,
            Self::Account | Self::AccountLock | Self::Client => OnSuccess::Refund,
        }
    }
}

/// What a success does to a counter it took from (see [`Counter::on_success`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnSuccess {
    /// Delete the record: count, consecutive failures and lock.
    Reset,
    /// Give back the one unit the successful attempt took.
    Refund,
}

/// The state of one fixed-window counter as a store returns it.
///
/// `count` events were recorded in the window that started at `window_start` (the window's
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

    /// Reference semantics of the store's atomic bounded take: one more event at `now` unless
    /// the counter is locked or its window already holds `limit`. Returns the new state and
    /// whether the event was counted.
    ///
    /// Inside the window the count grows by one (saturating); after the window a new one starts
    /// at `now` with a count of one. The lock is kept as it is.
    #[must_use]
    pub fn take(self, window: Duration, limit: u32, now: SystemTime) -> (Self, bool) {
        if self.locked_for(now).is_some() {
            return (self, false);
        }
        if now < self.window_end(window) {
            if self.count >= limit {
                return (self, false);
            }
            let next = Self {
                count: self.count.saturating_add(1),
                ..self
            };
            return (next, true);
        }
        let next = Self {
            window_start: now,
            count: 1,
            locked_until: self.locked_until,
        };
        (next, true)
    }

    /// Reference semantics of the store's unbounded hit: [`take`](Self::take) without a limit.
    #[must_use]
    pub fn hit(self, window: Duration, now: SystemTime) -> Self {
        self.take(window, u32::MAX, now).0
    }

    /// Reference semantics of the store's refund: one event fewer while the window runs.
    #[must_use]
    pub fn refund(self, window: Duration, now: SystemTime) -> Self {
        if now < self.window_end(window) {
            Self {
                count: self.count.saturating_sub(1),
                ..self
            }
        } else {
            self
        }
    }

    /// Reference semantics of applying a [`CounterLock`](crate::CounterLock) at `now`: the
    /// lock is written and a new, empty window starts, so the limit applies afresh once the
    /// lock ends.
    #[must_use]
    pub const fn lock(self, until: SystemTime, now: SystemTime) -> Self {
        Self {
            window_start: now,
            count: 0,
            locked_until: Some(until),
        }
    }
}

/// Everything the failure rules of one factor look at: the state of each counter, as the store
/// returned it. Counters an attempt does not take from may be left at their default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FailureState {
    account: CounterState,
    account_lock: CounterState,
    account_client: CounterState,
    client: CounterState,
    recognised: CounterState,
    consecutive: CounterState,
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
            Counter::Recognised => &self.recognised,
            Counter::Consecutive => &self.consecutive,
        }
    }

    /// The state of one counter, mutably.
    pub const fn get_mut(&mut self, counter: Counter) -> &mut CounterState {
        match counter {
            Counter::Account => &mut self.account,
            Counter::AccountLock => &mut self.account_lock,
            Counter::AccountClient => &mut self.account_client,
            Counter::Client => &mut self.client,
            Counter::Recognised => &mut self.recognised,
            Counter::Consecutive => &mut self.consecutive,
        }
    }

    /// This state with `counter` set to `state`.
    #[must_use]
    pub const fn with(mut self, counter: Counter, state: CounterState) -> Self {
        *self.get_mut(counter) = state;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(60);

    #[test]
    fn take_counts_inside_the_window_up_to_the_limit_and_restarts_after_it() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000);
        let (s, taken) = CounterState::default().take(W, 2, t0);
        assert!(taken);
        assert_eq!((s.window_start, s.count), (t0, 1));
        let (s, taken) = s.take(W, 2, t0 + Duration::from_secs(59));
        assert!(taken);
        assert_eq!((s.window_start, s.count), (t0, 2));
        let (same, taken) = s.take(W, 2, t0 + Duration::from_secs(59));
        assert!(!taken);
        assert_eq!(same, s, "a refusal changes nothing");
        assert_eq!(s.count_at(W, t0 + W), 0);
        let (s, taken) = s.take(W, 2, t0 + W);
        assert!(taken);
        assert_eq!((s.window_start, s.count), (t0 + W, 1));
        assert_eq!(s.refund(W, t0 + W).count, 0);
    }

    #[test]
    fn lock_starts_an_empty_window_and_refuses_takes_until_its_end() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000);
        let until = t0 + Duration::from_secs(10);
        let s = CounterState::fresh(t0).take(W, 9, t0).0.lock(until, t0);
        assert_eq!(s.count, 0);
        assert_eq!(s.locked_for(t0), Some(Duration::from_secs(10)));
        assert!(!s.take(W, u32::MAX, t0 + Duration::from_secs(9)).1);
        assert!(s.take(W, 1, until).1);
    }

    #[test]
    fn each_counter_counts_one_context_but_the_consecutive_count() {
        for c in Counter::ALL {
            let both = c.counts(Context::Recognised) && c.counts(Context::Unrecognised);
            assert_eq!(both, c == Counter::Consecutive, "{c:?}");
        }
        let mut state = FailureState::default();
        state.get_mut(Counter::Recognised).count = 3;
        assert_eq!(state.get(Counter::Recognised).count, 3);
        assert_eq!(state.get(Counter::Account).count, 0);
    }
}
