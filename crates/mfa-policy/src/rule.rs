//! One failure counter's rule: a limit per window and what happens when it is reached.

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use crate::counter::CounterState;
use crate::decision::{Decision, Reason};
use crate::error::{Error, Result, check_duration};
use crate::time::{self, INDEFINITE};

/// Shortest accepted window or lock: one second.
pub const MIN_WINDOW: Duration = Duration::from_secs(1);
/// Longest accepted window, lock or backoff ceiling: 30 days.
pub const MAX_WINDOW: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// What happens when a counter reaches its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lockout {
    /// Nothing is written: further attempts are denied until the window ends (a rate limit).
    Throttle,
    /// The counter is locked for this long.
    Fixed(Duration),
    /// The counter is locked for `base`, doubled for every further time the limit is reached in
    /// one run of consecutive failures, and never longer than `ceiling`.
    Backoff {
        /// The first lock's length.
        base: Duration,
        /// The longest lock.
        ceiling: Duration,
    },
    /// The counter is locked until an administrator or a recovery flow unlocks it (in numbers,
    /// for [`INDEFINITE`]).
    UntilUnlock,
}

impl Lockout {
    fn validate(self) -> Result<Self> {
        match self {
            Self::Throttle | Self::UntilUnlock => {}
            Self::Fixed(d) => {
                check_duration("lock duration", d, MIN_WINDOW, MAX_WINDOW)?;
            }
            Self::Backoff { base, ceiling } => {
                check_duration("backoff base", base, MIN_WINDOW, MAX_WINDOW)?;
                check_duration("backoff ceiling", ceiling, MIN_WINDOW, MAX_WINDOW)?;
                if base > ceiling {
                    return Err(Error::BackoffBaseAboveCeiling);
                }
            }
        }
        Ok(self)
    }
}

/// A validated failure rule: at most `limit` failures per `window`, then `lockout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FailureRule {
    limit: NonZeroU32,
    window: Duration,
    lockout: Lockout,
}

impl FailureRule {
    /// A rule allowing `limit` failures per `window`, then applying `lockout`.
    ///
    /// # Errors
    /// [`Error::DurationOutOfRange`] for a window or lock outside [`MIN_WINDOW`]..=[`MAX_WINDOW`];
    /// [`Error::BackoffBaseAboveCeiling`] for a backoff whose base exceeds its ceiling.
    pub fn new(limit: NonZeroU32, window: Duration, lockout: Lockout) -> Result<Self> {
        check_duration("failure window", window, MIN_WINDOW, MAX_WINDOW)?;
        Ok(Self {
            limit,
            window,
            lockout: lockout.validate()?,
        })
    }

    /// Unchecked constructor for the presets (each preset is validated by a unit test).
    pub(crate) const fn preset(limit: NonZeroU32, window: Duration, lockout: Lockout) -> Self {
        Self {
            limit,
            window,
            lockout,
        }
    }

    /// Failures allowed per window.
    #[must_use]
    pub const fn limit(&self) -> NonZeroU32 {
        self.limit
    }

    /// The window the store counts in.
    #[must_use]
    pub const fn window(&self) -> Duration {
        self.window
    }

    /// What happens at the limit.
    #[must_use]
    pub const fn lockout(&self) -> Lockout {
        self.lockout
    }

    /// The length of the lock written when the limit is reached after `consecutive_failures`
    /// failures in a row; `None` for [`Lockout::Throttle`].
    ///
    /// For a backoff this is `base * 2^(n - 1)` capped at `ceiling`, where `n` =
    /// `consecutive_failures / limit` (at least 1) is the number of times the limit was reached
    /// in this run of failures.
    #[must_use]
    pub fn lock_duration(&self, consecutive_failures: u32) -> Option<Duration> {
        match self.lockout {
            Lockout::Throttle => None,
            Lockout::Fixed(d) => Some(d),
            Lockout::UntilUnlock => Some(INDEFINITE),
            Lockout::Backoff { base, ceiling } => {
                let rounds = consecutive_failures
                    .checked_div(self.limit.get())
                    .unwrap_or(0)
                    .saturating_sub(1);
                let factor = 2u32.checked_pow(rounds).unwrap_or(u32::MAX);
                Some(base.saturating_mul(factor).min(ceiling))
            }
        }
    }

    fn reason(&self, counter_reason: Reason) -> Reason {
        if self.lockout == Lockout::UntilUnlock {
            Reason::UnlockRequired
        } else {
            counter_reason
        }
    }

    /// Whether an attempt may start, given the counter as read before it.
    pub(crate) fn check(&self, state: &CounterState, now: SystemTime, reason: Reason) -> Decision {
        let reason = self.reason(reason);
        if let Some(retry_after) = state.locked_for(now) {
            return Decision::Deny {
                retry_after,
                reason,
            };
        }
        if state.count_at(self.window, now) >= self.limit.get() {
            // Limit reached without a lock (a throttle, or a lock never written): fail closed
            // until the window ends.
            return Decision::Deny {
                retry_after: state.window_remaining(self.window, now),
                reason,
            };
        }
        Decision::Allow
    }

    /// The decision for the next attempt, given the counter as returned by the hit that
    /// recorded this failure; `Some(until)` when a lock must be written.
    pub(crate) fn after_failure(
        &self,
        state: &CounterState,
        now: SystemTime,
        consecutive_failures: u32,
        reason: Reason,
    ) -> (Decision, Option<SystemTime>) {
        let reason = self.reason(reason);
        if state.count_at(self.window, now) >= self.limit.get() {
            return match self.lock_duration(consecutive_failures) {
                None => (
                    Decision::Deny {
                        retry_after: state.window_remaining(self.window, now),
                        reason,
                    },
                    None,
                ),
                Some(d) => {
                    let until = time::add(now, d);
                    (Decision::Lock { until, reason }, Some(until))
                }
            };
        }
        match state.locked_for(now) {
            Some(retry_after) => (
                Decision::Deny {
                    retry_after,
                    reason,
                },
                None,
            ),
            None => (Decision::Allow, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn validation_refuses_zero_and_inverted_values() {
        let w = Duration::from_secs(60);
        assert!(FailureRule::new(nz(3), Duration::ZERO, Lockout::Throttle).is_err());
        assert!(FailureRule::new(nz(3), w, Lockout::Fixed(Duration::ZERO)).is_err());
        assert!(FailureRule::new(nz(3), MAX_WINDOW + MIN_WINDOW, Lockout::Throttle).is_err());
        let inverted = Lockout::Backoff {
            base: Duration::from_secs(10),
            ceiling: Duration::from_secs(5),
        };
        assert_eq!(
            FailureRule::new(nz(3), w, inverted),
            Err(Error::BackoffBaseAboveCeiling)
        );
        assert!(FailureRule::new(nz(3), w, Lockout::UntilUnlock).is_ok());
    }

    #[test]
    fn backoff_doubles_per_round_and_stops_at_the_ceiling() {
        let rule = FailureRule::new(
            nz(5),
            Duration::from_secs(900),
            Lockout::Backoff {
                base: Duration::from_secs(60),
                ceiling: Duration::from_secs(900),
            },
        )
        .unwrap();
        let secs = |n| rule.lock_duration(n).unwrap().as_secs();
        assert_eq!(secs(0), 60);
        assert_eq!(secs(5), 60);
        assert_eq!(secs(9), 60);
        assert_eq!(secs(10), 120);
        assert_eq!(secs(15), 240);
        assert_eq!(secs(20), 480);
        assert_eq!(secs(25), 900);
        assert_eq!(secs(u32::MAX), 900);
    }
}
