//! One failure counter's rule: a limit per window and what happens when it is reached.

use std::num::NonZeroU32;
use std::time::Duration;

use crate::decision::Reason;
use crate::error::{Error, Result, check_duration};
use crate::time::INDEFINITE;

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

    /// The reason a refusal by this rule gives: [`Reason::UnlockRequired`] for a rule that
    /// locks until an unlock, else the counter's own.
    pub(crate) fn reason(&self, counter_reason: Reason) -> Reason {
        if self.lockout == Lockout::UntilUnlock {
            Reason::UnlockRequired
        } else {
            counter_reason
        }
    }

    /// The default budget of one recognised context (a trusted device, a network the user
    /// logged in from): 10 failures per hour, then a lock of 15 minutes doubling with every
    /// further 10 consecutive failures up to 24 hours. A stolen device token or a stranger on
    /// the user's own network is bounded by it, and by the consecutive cap.
    #[must_use]
    pub const fn recognised_default() -> Self {
        Self::preset(
            match NonZeroU32::new(10) {
                Some(n) => n,
                None => NonZeroU32::MIN,
            },
            Duration::from_secs(60 * 60),
            Lockout::Backoff {
                base: Duration::from_secs(15 * 60),
                ceiling: Duration::from_secs(24 * 60 * 60),
            },
        )
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
