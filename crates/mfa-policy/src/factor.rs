//! The failure rules of one factor (the password, or the second factor) and the decisions they
//! make before an attempt and after a failure.

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use crate::counter::{Counter, FailureState};
use crate::decision::{Decision, Reason};
use crate::error::{Result, check_count};
use crate::rule::FailureRule;
use crate::time::{self, INDEFINITE};

/// The largest accepted cap of consecutive failures: NIST SP 800-63B section 5.2.2 allows at
/// most 100 consecutive failed attempts on one account.
pub const MAX_CONSECUTIVE_CAP: u32 = 100;

/// Which factor a set of rules and counters belongs to; the two are counted separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Factor {
    /// The password (checked by the application, counted by the facade).
    Password,
    /// The second factor: TOTP, email or SMS code, magic link, recovery code.
    SecondFactor,
}

/// A lock the caller must write to one counter (see [`CounterState::lock`](crate::CounterState::lock)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CounterLock {
    /// The counter to lock.
    pub counter: Counter,
    /// The end of the lock.
    pub until: SystemTime,
}

/// What a failure leads to: the decision for the next attempt and the locks to write.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureOutcome {
    /// The strictest decision over all rules (see [`Decision::stricter`]); `Lock` when this
    /// failure locked the counter that restricts longest.
    pub decision: Decision,
    /// Every counter this failure locked; write each one (lock and start an empty window).
    pub locks: Vec<CounterLock>,
}

impl FailureOutcome {
    /// Whether this failure locked something: the caller reports a lockout on this attempt
    /// (and may send a lockout notice).
    #[must_use]
    pub fn locked_out(&self) -> bool {
        matches!(self.decision, Decision::Lock { .. }) || !self.locks.is_empty()
    }
}

/// The validated failure rules of one factor: up to four counters and a cap of consecutive
/// failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FactorRules {
    pub(crate) account: Option<FailureRule>,
    pub(crate) account_lock: Option<FailureRule>,
    pub(crate) account_client: Option<FailureRule>,
    pub(crate) client: Option<FailureRule>,
    pub(crate) consecutive_cap: NonZeroU32,
}

impl FactorRules {
    /// Rules with no counter and a cap of `consecutive_cap` consecutive failures.
    ///
    /// # Errors
    /// [`Error::LimitTooHigh`](crate::Error::LimitTooHigh) when the cap exceeds
    /// [`MAX_CONSECUTIVE_CAP`].
    pub fn new(consecutive_cap: NonZeroU32) -> Result<Self> {
        check_count(
            "consecutive failure cap",
            consecutive_cap.get(),
            MAX_CONSECUTIVE_CAP,
        )?;
        Ok(Self {
            account: None,
            account_lock: None,
            account_client: None,
            client: None,
            consecutive_cap,
        })
    }

    /// These rules with `rule` (or none) for `counter`.
    #[must_use]
    pub const fn with(mut self, counter: Counter, rule: Option<FailureRule>) -> Self {
        match counter {
            Counter::Account => self.account = rule,
            Counter::AccountLock => self.account_lock = rule,
            Counter::AccountClient => self.account_client = rule,
            Counter::Client => self.client = rule,
        }
        self
    }

    /// The rule of one counter, if it is on.
    #[must_use]
    pub const fn rule(&self, counter: Counter) -> Option<&FailureRule> {
        match counter {
            Counter::Account => self.account.as_ref(),
            Counter::AccountLock => self.account_lock.as_ref(),
            Counter::AccountClient => self.account_client.as_ref(),
            Counter::Client => self.client.as_ref(),
        }
    }

    /// The window the store must count `counter` in; `None` when the counter is off.
    #[must_use]
    pub fn window(&self, counter: Counter) -> Option<Duration> {
        self.rule(counter).map(FailureRule::window)
    }

    /// The window of [`Counter::Account`].
    #[must_use]
    pub fn account_window(&self) -> Option<Duration> {
        self.window(Counter::Account)
    }

    /// The window of [`Counter::AccountLock`].
    #[must_use]
    pub fn account_lock_window(&self) -> Option<Duration> {
        self.window(Counter::AccountLock)
    }

    /// The window of [`Counter::AccountClient`].
    #[must_use]
    pub fn account_client_window(&self) -> Option<Duration> {
        self.window(Counter::AccountClient)
    }

    /// The window of [`Counter::Client`].
    #[must_use]
    pub fn client_window(&self) -> Option<Duration> {
        self.window(Counter::Client)
    }

    /// The cap of consecutive failures after which only an unlock restores access.
    #[must_use]
    pub const fn consecutive_cap(&self) -> NonZeroU32 {
        self.consecutive_cap
    }

    fn active(&self, state: &FailureState) -> impl Iterator<Item = (Counter, &FailureRule)> {
        let device = state.device;
        Counter::ALL.into_iter().filter_map(move |c| {
            let exempt = c.is_client_level() && device == crate::Device::Trusted;
            self.rule(c).filter(|_| !exempt).map(|r| (c, r))
        })
    }

    /// Whether an attempt may start, given the counters as read before it.
    pub fn check(&self, state: &FailureState, now: SystemTime) -> Decision {
        let mut decision = Decision::Allow;
        if state.consecutive_failures >= self.consecutive_cap.get() {
            decision = Decision::Deny {
                retry_after: INDEFINITE,
                reason: Reason::ConsecutiveFailureCap,
            };
        }
        for (counter, rule) in self.active(state) {
            let d = rule.check(state.get(counter), now, Reason::from(counter));
            decision = decision.stricter(d, now);
        }
        decision
    }

    /// The decision after a failure, given the counters as returned by the hits that recorded
    /// it and `consecutive_failures` including it.
    ///
    /// The failure that reaches a lockout limit gets `Decision::Lock` (and the locks to write),
    /// so the caller can report the lockout on that very attempt.
    pub fn after_failure(&self, state: &FailureState, now: SystemTime) -> FailureOutcome {
        let mut decision = Decision::Allow;
        let mut locks = Vec::new();
        if state.consecutive_failures >= self.consecutive_cap.get() {
            decision = Decision::Lock {
                until: time::add(now, INDEFINITE),
                reason: Reason::ConsecutiveFailureCap,
            };
        }
        for (counter, rule) in self.active(state) {
            let (d, lock) = rule.after_failure(
                state.get(counter),
                now,
                state.consecutive_failures,
                Reason::from(counter),
            );
            if let Some(until) = lock {
                locks.push(CounterLock { counter, until });
            }
            decision = decision.stricter(d, now);
        }
        FailureOutcome { decision, locks }
    }
}
