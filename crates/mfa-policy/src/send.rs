//! Resend cooldown and send quotas per destination (the SMS toll-fraud budget).

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use crate::counter::CounterState;
use crate::decision::{Decision, Reason};
use crate::error::{Error, Result, check_duration};
use crate::time;

/// What the store knows about sends to one destination (an email address or phone number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SendState {
    /// When the last message went to this destination.
    pub last_sent: Option<SystemTime>,
    /// Sends counted in the hourly window ([`SendQuota::HOUR`]).
    pub hour: CounterState,
    /// Sends counted in the daily window ([`SendQuota::DAY`]).
    pub day: CounterState,
}

/// A validated send quota for one delivery channel, applied per destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SendQuota {
    cooldown: Duration,
    per_hour: NonZeroU32,
    per_day: NonZeroU32,
}

impl SendQuota {
    /// The window of the hourly quota.
    pub const HOUR: Duration = Duration::from_secs(60 * 60);
    /// The window of the daily quota.
    pub const DAY: Duration = Duration::from_secs(24 * 60 * 60);
    /// Shortest accepted cooldown.
    pub const MIN_COOLDOWN: Duration = Duration::from_secs(1);
    /// Longest accepted cooldown.
    pub const MAX_COOLDOWN: Duration = Self::HOUR;

    /// A quota: at least `cooldown` between two sends, at most `per_hour` per hour and
    /// `per_day` per day to one destination.
    ///
    /// # Errors
    /// [`Error::DurationOutOfRange`] for a cooldown outside
    /// [`MIN_COOLDOWN`](Self::MIN_COOLDOWN)..=[`MAX_COOLDOWN`](Self::MAX_COOLDOWN);
    /// [`Error::QuotaInverted`] when `per_hour` exceeds `per_day`.
    pub fn new(cooldown: Duration, per_hour: NonZeroU32, per_day: NonZeroU32) -> Result<Self> {
        check_duration(
            "resend cooldown",
            cooldown,
            Self::MIN_COOLDOWN,
            Self::MAX_COOLDOWN,
        )?;
        if per_hour > per_day {
            return Err(Error::QuotaInverted {
                per_hour: per_hour.get(),
                per_day: per_day.get(),
            });
        }
        Ok(Self {
            cooldown,
            per_hour,
            per_day,
        })
    }

    pub(crate) const fn preset(
        cooldown: Duration,
        per_hour: NonZeroU32,
        per_day: NonZeroU32,
    ) -> Self {
        Self {
            cooldown,
            per_hour,
            per_day,
        }
    }

    /// The least time between two sends to one destination.
    #[must_use]
    pub const fn cooldown(&self) -> Duration {
        self.cooldown
    }

    /// Sends allowed per destination per hour.
    #[must_use]
    pub const fn per_hour(&self) -> NonZeroU32 {
        self.per_hour
    }

    /// Sends allowed per destination per day.
    #[must_use]
    pub const fn per_day(&self) -> NonZeroU32 {
        self.per_day
    }

    /// Whether one more message may go to the destination, given its state before the send.
    ///
    /// On `Allow` the caller sends, then records the send (hits both windows, sets
    /// `last_sent`). The longest applicable wait wins.
    pub fn check(&self, state: &SendState, now: SystemTime) -> Decision {
        let mut decision = Decision::Allow;
        if let Some(last) = state.last_sent {
            let wait = time::until(now, time::add(last, self.cooldown)).min(self.cooldown);
            if !wait.is_zero() {
                decision = Decision::Deny {
                    retry_after: wait,
                    reason: Reason::ResendCooldown,
                };
            }
        }
        for (counter, window, limit, reason) in [
            (&state.hour, Self::HOUR, self.per_hour, Reason::HourlyQuota),
            (&state.day, Self::DAY, self.per_day, Reason::DailyQuota),
        ] {
            if counter.count_at(window, now) >= limit.get() {
                let d = Decision::Deny {
                    retry_after: counter.window_remaining(window, now),
                    reason,
                };
                decision = decision.stricter(d, now);
            }
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn validation() {
        assert!(SendQuota::new(Duration::ZERO, nz(1), nz(1)).is_err());
        assert!(SendQuota::new(Duration::from_secs(7200), nz(1), nz(1)).is_err());
        assert_eq!(
            SendQuota::new(Duration::from_secs(30), nz(5), nz(4)),
            Err(Error::QuotaInverted {
                per_hour: 5,
                per_day: 4
            })
        );
    }

    #[test]
    fn cooldown_then_hourly_quota() {
        let q = SendQuota::new(Duration::from_secs(60), nz(2), nz(10)).unwrap();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut s = SendState::default();
        assert_eq!(q.check(&s, t0), Decision::Allow);
        s.last_sent = Some(t0);
        s.hour = s.hour.hit(SendQuota::HOUR, t0);
        s.day = s.day.hit(SendQuota::DAY, t0);
        let t1 = t0 + Duration::from_secs(59);
        assert_eq!(
            q.check(&s, t1),
            Decision::Deny {
                retry_after: Duration::from_secs(1),
                reason: Reason::ResendCooldown
            }
        );
        let t2 = t0 + Duration::from_secs(60);
        assert_eq!(q.check(&s, t2), Decision::Allow);
        s.last_sent = Some(t2);
        s.hour = s.hour.hit(SendQuota::HOUR, t2);
        s.day = s.day.hit(SendQuota::DAY, t2);
        let t3 = t0 + Duration::from_secs(120);
        assert_eq!(
            q.check(&s, t3),
            Decision::Deny {
                retry_after: Duration::from_secs(3600 - 120),
                reason: Reason::HourlyQuota
            }
        );
        assert_eq!(q.check(&s, t0 + SendQuota::HOUR), Decision::Allow);
    }
}
