//! The failure rules of one factor (the password, or the second factor): which budgets an
//! attempt takes from in each context, and the decisions made when a budget refuses and after
//! a failure.

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use crate::counter::{Context, Counter, FailureState};
use crate::decision::{Decision, Reason};
use crate::error::{Result, check_count};
use crate::rule::FailureRule;
use crate::time::{self, INDEFINITE};

/// The largest accepted cap of consecutive failures: NIST SP 800-63B section 5.2.2 allows at
/// most 100 consecutive failed attempts on one account.
pub const MAX_CONSECUTIVE_CAP: u32 = 100;

/// The window of the consecutive-failure counter: long enough that only a success or an unlock
/// forgets it in practice (the cap counts consecutive failures, not failures per period).
pub const CONSECUTIVE_WINDOW: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Which factor a set of rules and counters belongs to; the two are counted separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Factor {
    /// The password (checked by the application, counted by the facade).
    Password,
    /// The second factor: TOTP, email or SMS code, magic link, recovery code.
    SecondFactor,
}

/// One budget an attempt takes a unit from before it is evaluated: at most `limit` events of
/// `counter` per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Budget {
    /// The counter.
    pub counter: Counter,
    /// The window the store counts in.
    pub window: Duration,
    /// The most events a window may hold.
    pub limit: u32,
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
    /// The strictest decision over all budgets (see [`Decision::stricter`]); `Lock` when this
    /// failure locked something.
    pub decision: Decision,
    /// Every counter this failure locked; write each one (lock and start an empty window).
    pub locks: Vec<CounterLock>,
}

impl FailureOutcome {
    /// Whether this failure locked something: the caller reports a lockout on this attempt
    /// (and sends the notice, once: only the failure that used the last unit of a budget gets
    /// here).
    #[must_use]
    pub fn locked_out(&self) -> bool {
        matches!(self.decision, Decision::Lock { .. }) || !self.locks.is_empty()
    }
}

/// The validated failure rules of one factor: up to four counters for unrecognised contexts,
/// one rule for each recognised context, and a cap of consecutive failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FactorRules {
    pub(crate) account: Option<FailureRule>,
    pub(crate) account_lock: Option<FailureRule>,
    pub(crate) account_client: Option<FailureRule>,
    pub(crate) client: Option<FailureRule>,
    pub(crate) recognised: FailureRule,
    pub(crate) consecutive_cap: NonZeroU32,
}

impl FactorRules {
    /// Rules with no counter for unrecognised contexts, [`FailureRule::recognised_default`]
    /// for recognised ones, and a cap of `consecutive_cap` consecutive failures.
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
            recognised: FailureRule::recognised_default(),
            consecutive_cap,
        })
    }

    /// These rules with `rule` (or none) for one of the counters of unrecognised contexts
    /// ([`Counter::Account`], [`Counter::AccountLock`], [`Counter::AccountClient`],
    /// [`Counter::Client`]); the other counters are left as they are.
    #[must_use]
    pub const fn with(mut self, counter: Counter, rule: Option<FailureRule>) -> Self {
        match counter {
            Counter::Account => self.account = rule,
            Counter::AccountLock => self.account_lock = rule,
            Counter::AccountClient => self.account_client = rule,
            Counter::Client => self.client = rule,
            Counter::Recognised | Counter::Consecutive => {}
        }
        self
    }

    /// These rules with `rule` as the budget of each recognised context.
    #[must_use]
    pub const fn with_recognised(mut self, rule: FailureRule) -> Self {
        self.recognised = rule;
        self
    }

    /// The rule of one counter, if it is on ([`Counter::Consecutive`] has no rule: see
    /// [`consecutive_limit`](Self::consecutive_limit)).
    #[must_use]
    pub const fn rule(&self, counter: Counter) -> Option<&FailureRule> {
        match counter {
            Counter::Account => self.account.as_ref(),
            Counter::AccountLock => self.account_lock.as_ref(),
            Counter::AccountClient => self.account_client.as_ref(),
            Counter::Client => self.client.as_ref(),
            Counter::Recognised => Some(&self.recognised),
            Counter::Consecutive => None,
        }
    }

    /// The window the store must count `counter` in; `None` when the counter is off.
    #[must_use]
    pub fn window(&self, counter: Counter) -> Option<Duration> {
        match counter {
            Counter::Consecutive => Some(CONSECUTIVE_WINDOW),
            other => self.rule(other).map(FailureRule::window),
        }
    }

    /// The cap of consecutive failures after which only a success from a recognised context
    /// is no longer possible either and an unlock is needed.
    #[must_use]
    pub const fn consecutive_cap(&self) -> NonZeroU32 {
        self.consecutive_cap
    }

    /// How many consecutive failures an attempt from `context` may follow: the whole cap for a
    /// recognised context; nine tenths of it (rounded down, at least one) for an unrecognised
    /// one, so that strangers can never use up the last tenth the user's own recognised
    /// contexts keep.
    #[must_use]
    pub const fn consecutive_limit(&self, context: Context) -> u32 {
        let cap = self.consecutive_cap.get();
        match context {
            Context::Recognised => cap,
            Context::Unrecognised => {
                let limit = cap.saturating_mul(9) / 10;
                if limit == 0 { 1 } else { limit }
            }
        }
    }

    /// The budgets an attempt from `context` takes a unit from before it is evaluated, in the
    /// order it must take them: the network's budgets first (a refused network spends nothing
    /// account-wide), then the account-wide ones, the consecutive count last (an attempt that
    /// is refused is never counted as a consecutive failure).
    #[must_use]
    pub fn budgets(&self, context: Context) -> Vec<Budget> {
        let mut budgets: Vec<Budget> = Counter::ALL
            .into_iter()
            .filter(|c| *c != Counter::Consecutive && c.counts(context))
            .filter_map(|counter| {
                let rule = self.rule(counter)?;
                Some(Budget {
                    counter,
                    window: rule.window(),
                    limit: rule.limit().get(),
                })
            })
            .collect();
        budgets.push(Budget {
            counter: Counter::Consecutive,
            window: CONSECUTIVE_WINDOW,
            limit: self.consecutive_limit(context),
        });
        budgets
    }

    /// Whether an attempt from `context` may start, given the counters as read before it: the
    /// answer a login gives before it creates anything. (The attempt itself is still bounded
    /// by the atomic takes: this read may be stale under concurrency.)
    pub fn check(&self, context: Context, state: &FailureState, now: SystemTime) -> Decision {
        self.budgets(context)
            .iter()
            .fold(Decision::Allow, |decision, budget| {
                decision.stricter(self.refusal(budget, state, now), now)
            })
    }

    /// Why `budget` refuses at `now` given the counters, or `Allow` when it has room: a lock
    /// that holds, a full window (until it ends), or the consecutive count at its limit (until
    /// an unlock or a success from a recognised context).
    pub fn refusal(&self, budget: &Budget, state: &FailureState, now: SystemTime) -> Decision {
        let counter = state.get(budget.counter);
        let reason = self.reason(budget.counter);
        if let Some(retry_after) = counter.locked_for(now) {
            return Decision::Deny {
                retry_after,
                reason,
            };
        }
        if counter.count_at(budget.window, now) >= budget.limit {
            let retry_after = if budget.counter == Counter::Consecutive {
                INDEFINITE
            } else {
                counter.window_remaining(budget.window, now)
            };
            return Decision::Deny {
                retry_after,
                reason,
            };
        }
        Decision::Allow
    }

    fn reason(&self, counter: Counter) -> Reason {
        match (counter, self.rule(counter)) {
            (Counter::Consecutive, _) => Reason::ConsecutiveFailureCap,
            (c, Some(rule)) => rule.reason(Reason::from(c)),
            (c, None) => Reason::from(c),
        }
    }

    /// The decision after a failure from `context`, given the counters as the takes that
    /// counted it returned them.
    ///
    /// A budget whose window the failure filled locks (for the rule's lock length; for a
    /// backoff, longer the more consecutive failures) or, for a throttle, refuses until the
    /// window ends; the consecutive count at its limit refuses until an unlock. Only the
    /// failure that took the last unit of a budget sees `Lock`, so the caller reports the
    /// lockout (and sends its notice) once, on that very attempt.
    pub fn after_failure(
        &self,
        context: Context,
        state: &FailureState,
        now: SystemTime,
    ) -> FailureOutcome {
        let mut decision = Decision::Allow;
        let mut locks = Vec::new();
        let consecutive = state.get(Counter::Consecutive).count;
        for budget in self.budgets(context) {
            let counter = state.get(budget.counter);
            if counter.count_at(budget.window, now) < budget.limit {
                if let Some(retry_after) = counter.locked_for(now) {
                    let reason = self.reason(budget.counter);
                    let d = Decision::Deny {
                        retry_after,
                        reason,
                    };
                    decision = decision.stricter(d, now);
                }
                continue;
            }
            let reason = self.reason(budget.counter);
            let lock_for = match self.rule(budget.counter) {
                None => Some(INDEFINITE),
                Some(rule) => rule.lock_duration(consecutive),
            };
            let d = match lock_for {
                None => Decision::Deny {
                    retry_after: counter.window_remaining(budget.window, now),
                    reason,
                },
                Some(d) => {
                    let until = time::add(now, d);
                    if budget.counter != Counter::Consecutive {
                        // The consecutive count needs no lock: its take refuses at the limit.
                        locks.push(CounterLock {
                            counter: budget.counter,
                            until,
                        });
                    }
                    Decision::Lock { until, reason }
                }
            };
            decision = decision.stricter(d, now);
        }
        FailureOutcome { decision, locks }
    }

    /// Whether a lock this failure wrote (or the consecutive count it filled) shuts the whole
    /// account out of `context`, rather than one network: the locks the user is told about.
    #[must_use]
    pub fn locks_account(outcome: &FailureOutcome) -> bool {
        outcome
            .locks
            .iter()
            .any(|l| matches!(l.counter, Counter::Account | Counter::AccountLock))
            || matches!(
                outcome.decision,
                Decision::Lock {
                    reason: Reason::ConsecutiveFailureCap,
                    ..
                }
            )
    }
}
