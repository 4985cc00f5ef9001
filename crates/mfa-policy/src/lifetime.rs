//! Code lifetimes per channel and the per-challenge checks (expiry, tries left).

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use mfa_core::ChallengeKind;

use crate::decision::{Decision, Reason};
use crate::error::{Result, check_count, check_duration};
use crate::time;

/// Shortest accepted lifetime of a code, link or login ticket: 30 seconds (less is not enough
/// to read an email or an SMS).
pub const MIN_LIFETIME: Duration = Duration::from_secs(30);
/// Longest accepted lifetime: 24 hours (a one-time code that lives longer is a password).
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// Most tries one challenge may allow.
pub const MAX_CHALLENGE_ATTEMPTS: u32 = 10;

/// Validated lifetimes of each [`ChallengeKind`], each within [`MIN_LIFETIME`]..=[`MAX_LIFETIME`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lifetimes {
    email_code: Duration,
    sms_code: Duration,
    magic_link: Duration,
    login_ticket: Duration,
}

impl Default for Lifetimes {
    /// [`Lifetimes::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Lifetimes {
    /// Email code 10 min, SMS code 5 min, magic link 10 min, login ticket 5 min: every code
    /// sent out of band lives at most the 10 minutes NIST SP 800-63B (5.1.3) allows.
    pub const DEFAULT: Self = Self {
        email_code: Duration::from_secs(10 * 60),
        sms_code: Duration::from_secs(5 * 60),
        magic_link: Duration::from_secs(10 * 60),
        login_ticket: Duration::from_secs(5 * 60),
    };

    /// These lifetimes with challenges of `kind` living `lifetime`.
    ///
    /// # Errors
    /// [`Error::DurationOutOfRange`](crate::Error::DurationOutOfRange) outside
    /// [`MIN_LIFETIME`]..=[`MAX_LIFETIME`].
    pub fn with(self, kind: ChallengeKind, lifetime: Duration) -> Result<Self> {
        check_duration("code lifetime", lifetime, MIN_LIFETIME, MAX_LIFETIME)?;
        Ok(self.set(kind, lifetime))
    }

    pub(crate) const fn set(mut self, kind: ChallengeKind, lifetime: Duration) -> Self {
        match kind {
            ChallengeKind::EmailCode => self.email_code = lifetime,
            ChallengeKind::SmsCode => self.sms_code = lifetime,
            ChallengeKind::MagicLink => self.magic_link = lifetime,
            ChallengeKind::LoginTicket => self.login_ticket = lifetime,
        }
        self
    }

    /// The lifetime of challenges of `kind`.
    #[must_use]
    pub const fn get(&self, kind: ChallengeKind) -> Duration {
        match kind {
            ChallengeKind::EmailCode => self.email_code,
            ChallengeKind::SmsCode => self.sms_code,
            ChallengeKind::MagicLink => self.magic_link,
            ChallengeKind::LoginTicket => self.login_ticket,
        }
    }

    /// When a challenge of `kind` issued at `issued_at` expires (saturating).
    #[must_use]
    pub fn expires_at(&self, kind: ChallengeKind, issued_at: SystemTime) -> SystemTime {
        time::add(issued_at, self.get(kind))
    }

    pub(crate) fn validate(self) -> Result<Self> {
        for kind in ChallengeKind::ALL {
            check_duration("code lifetime", self.get(*kind), MIN_LIFETIME, MAX_LIFETIME)?;
        }
        Ok(self)
    }
}

/// What the store knows about one challenge (code, link or login ticket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChallengeState {
    /// When the challenge expires.
    pub expires_at: SystemTime,
    /// Tries already spent on it (before this one).
    pub attempts_used: u32,
}

/// Checks one challenge before a try: expired first, then out of tries.
pub(crate) fn check_challenge(
    attempts: NonZeroU32,
    state: &ChallengeState,
    now: SystemTime,
) -> Decision {
    if now >= state.expires_at {
        return Decision::Deny {
            retry_after: Duration::ZERO,
            reason: Reason::ChallengeExpired,
        };
    }
    if state.attempts_used >= attempts.get() {
        return Decision::Deny {
            retry_after: Duration::ZERO,
            reason: Reason::ChallengeAttempts,
        };
    }
    Decision::Allow
}

pub(crate) fn validate_attempts(attempts: NonZeroU32) -> Result<NonZeroU32> {
    check_count("challenge attempts", attempts.get(), MAX_CHALLENGE_ATTEMPTS)?;
    Ok(attempts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_bounded() {
        let l = Lifetimes::default();
        assert!(
            l.with(ChallengeKind::SmsCode, Duration::from_secs(29))
                .is_err()
        );
        assert!(
            l.with(
                ChallengeKind::SmsCode,
                MAX_LIFETIME + Duration::from_secs(1)
            )
            .is_err()
        );
        let l = l.with(ChallengeKind::SmsCode, MIN_LIFETIME).unwrap();
        assert_eq!(l.get(ChallengeKind::SmsCode), MIN_LIFETIME);
        assert!(l.validate().is_ok());
    }
}
