//! What a policy says about one attempt or one send: [`Decision`] and the [`Reason`] behind it.

use std::time::{Duration, SystemTime};

use crate::counter::Counter;
use crate::time;

/// The verdict of a policy on one attempt, one send or one challenge.
///
/// `Deny` and `Lock` say *why* ([`Reason`]) and *until when*. A `Deny` refuses this attempt and
/// asks the caller to wait; a `Lock` is returned by the `after_failure` functions when the
/// failure just recorded reached a lockout limit, so that the caller can report "locked out" on
/// the very attempt that locked (and write the lock, see
/// [`FailureOutcome::locks`](crate::FailureOutcome::locks)).
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// The attempt (or send) may proceed.
    Allow,
    /// Refused for now; the same request may succeed after `retry_after`.
    ///
    /// `retry_after` is [`Duration::ZERO`] for the challenge reasons (a new challenge is needed,
    /// waiting does not help) and about [`INDEFINITE`](crate::INDEFINITE) when
    /// [`Reason::requires_unlock`] is true.
    Deny {
        /// How long to wait before trying again.
        retry_after: Duration,
        /// Which rule refused.
        reason: Reason,
    },
    /// The failure just recorded locked a counter until `until`.
    Lock {
        /// The moment from which attempts are allowed again.
        until: SystemTime,
        /// Which rule locked.
        reason: Reason,
    },
}

impl Decision {
    /// Whether the attempt may proceed.
    #[must_use]
    pub const fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow)
    }

    /// The rule that refused or locked; `None` for `Allow`.
    #[must_use]
    pub const fn reason(&self) -> Option<Reason> {
        match self {
            Self::Allow => None,
            Self::Deny { reason, .. } | Self::Lock { reason, .. } => Some(*reason),
        }
    }

    /// How long after `now` the caller must wait; `None` for `Allow`.
    #[must_use]
    pub fn retry_after(&self, now: SystemTime) -> Option<Duration> {
        match self {
            Self::Allow => None,
            Self::Deny { retry_after, .. } => Some(*retry_after),
            Self::Lock { until, .. } => Some(time::until(now, *until)),
        }
    }

    /// The stricter of two decisions at `now`.
    ///
    /// A restriction that needs an unlock beats one that does not; otherwise the one that ends
    /// later wins; on a tie `Lock` beats `Deny` (so that a lock is never hidden), and `self`
    /// beats `other`.
    pub fn stricter(self, other: Self, now: SystemTime) -> Self {
        if other.rank(now) > self.rank(now) {
            other
        } else {
            self
        }
    }

    fn rank(&self, now: SystemTime) -> Option<(bool, SystemTime, bool)> {
        let unlock = self.reason().is_some_and(Reason::requires_unlock);
        match self {
            Self::Allow => None,
            Self::Deny { retry_after, .. } => Some((unlock, time::add(now, *retry_after), false)),
            Self::Lock { until, .. } => Some((unlock, *until, true)),
        }
    }
}

/// Which rule produced a `Deny` or a `Lock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The account-wide slowdown counter ([`Counter::Account`]) reached its limit.
    Account,
    /// The account-wide lockout counter ([`Counter::AccountLock`]) reached its limit.
    AccountLock,
    /// The counter of this client for this account ([`Counter::AccountClient`]) reached its
    /// limit.
    AccountClient,
    /// The counter of this client across all accounts ([`Counter::Client`]) reached its limit.
    Client,
    /// The budget of this recognised context (a trusted device, a network the user logged in
    /// from; [`Counter::Recognised`]) reached its limit.
    Recognised,
    /// A counter whose rule locks until an administrator or a recovery flow unlocks
    /// ([`Lockout::UntilUnlock`](crate::Lockout::UntilUnlock)) reached its limit.
    UnlockRequired,
    /// The account reached its limit of consecutive failures for this context (NIST SP
    /// 800-63B: at most 100 in all); an unlock (the emailed link, an administrator) or, below
    /// the cap itself, a success from a recognised context restores access.
    ConsecutiveFailureCap,
    /// The challenge has no tries left; a new challenge is needed.
    ChallengeAttempts,
    /// The challenge (code, link or login ticket) has expired; a new one is needed.
    ChallengeExpired,
    /// A code was sent to this destination too recently.
    ResendCooldown,
    /// The destination's hourly send quota is spent.
    HourlyQuota,
    /// The destination's daily send quota is spent.
    DailyQuota,
}

impl Reason {
    /// Whether waiting does not help: an administrator or a recovery flow must unlock.
    #[must_use]
    pub const fn requires_unlock(self) -> bool {
        matches!(self, Self::UnlockRequired | Self::ConsecutiveFailureCap)
    }

    /// Whether the caller must start a new challenge (send a new code) instead of waiting.
    #[must_use]
    pub const fn needs_new_challenge(self) -> bool {
        matches!(self, Self::ChallengeAttempts | Self::ChallengeExpired)
    }

    /// The failure counter this reason comes from, if any.
    #[must_use]
    pub const fn counter(self) -> Option<Counter> {
        match self {
            Self::Account => Some(Counter::Account),
            Self::AccountLock => Some(Counter::AccountLock),
            Self::AccountClient => Some(Counter::AccountClient),
            Self::Client => Some(Counter::Client),
            Self::Recognised => Some(Counter::Recognised),
            Self::ConsecutiveFailureCap => Some(Counter::Consecutive),
            _ => None,
        }
    }
}

impl From<Counter> for Reason {
    fn from(counter: Counter) -> Self {
        match counter {
            Counter::Account => Self::Account,
            Counter::AccountLock => Self::AccountLock,
            Counter::AccountClient => Self::AccountClient,
            Counter::Client => Self::Client,
            Counter::Recognised => Self::Recognised,
            Counter::Consecutive => Self::ConsecutiveFailureCap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn deny(secs: u64, reason: Reason) -> Decision {
        Decision::Deny {
            retry_after: Duration::from_secs(secs),
            reason,
        }
    }

    #[test]
    fn stricter_prefers_unlock_then_later_end_then_lock() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let lock = Decision::Lock {
            until: now + Duration::from_secs(60),
            reason: Reason::AccountClient,
        };
        assert_eq!(Decision::Allow.stricter(lock, now), lock);
        assert_eq!(lock.stricter(Decision::Allow, now), lock);
        assert_eq!(lock.stricter(deny(60, Reason::Account), now), lock);
        assert_eq!(deny(60, Reason::Account).stricter(lock, now), lock);
        let long = deny(61, Reason::Account);
        assert_eq!(lock.stricter(long, now), long);
        let cap = deny(1, Reason::ConsecutiveFailureCap);
        assert_eq!(long.stricter(cap, now), cap);
    }

    #[test]
    fn retry_after_of_a_lock_counts_from_now() {
        let now = UNIX_EPOCH + Duration::from_secs(100);
        let lock = Decision::Lock {
            until: now + Duration::from_secs(5),
            reason: Reason::Account,
        };
        assert_eq!(lock.retry_after(now), Some(Duration::from_secs(5)));
        assert_eq!(
            lock.retry_after(now + Duration::from_secs(9)),
            Some(Duration::ZERO)
        );
        assert_eq!(Decision::Allow.retry_after(now), None);
    }
}
