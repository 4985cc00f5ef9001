//! The one error type of `mfa-policy`: a configuration that breaks a rule.
//!
//! Decisions themselves never fail (they are [`Decision`](crate::Decision) values); only building
//! a policy or one of its parts can, and only once, at construction.

use std::time::Duration;

/// Result alias for this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// A configuration value that a policy refuses.
///
/// Each variant names the setting and the bound it broke, so that an operator can fix the
/// configuration from the message alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A duration (window, lock, lifetime, cooldown) outside its allowed range.
    #[error("{setting} must be between {min:?} and {max:?}, not {got:?}")]
    DurationOutOfRange {
        /// Name of the setting.
        setting: &'static str,
        /// Smallest accepted value.
        min: Duration,
        /// Largest accepted value.
        max: Duration,
        /// The rejected value.
        got: Duration,
    },
    /// A count (limit, cap, quota) above its allowed maximum.
    #[error("{setting} must be at most {max}, not {got}")]
    LimitTooHigh {
        /// Name of the setting.
        setting: &'static str,
        /// Largest accepted value.
        max: u32,
        /// The rejected value.
        got: u32,
    },
    /// An exponential backoff whose base is longer than its ceiling.
    #[error("the backoff base must not exceed its ceiling")]
    BackoffBaseAboveCeiling,
    /// An hourly send quota larger than the daily one.
    #[error("the hourly send quota ({per_hour}) must not exceed the daily quota ({per_day})")]
    QuotaInverted {
        /// The hourly quota.
        per_hour: u32,
        /// The daily quota.
        per_day: u32,
    },
    /// A network prefix length of zero or longer than the address.
    #[error("the {family} client prefix must be between 1 and {max} bits, not {got}")]
    PrefixOutOfRange {
        /// "IPv4" or "IPv6".
        family: &'static str,
        /// Address length in bits.
        max: u8,
        /// The rejected prefix length.
        got: u8,
    },
}

/// Checks that `got` lies in `min..=max`.
pub(crate) fn check_duration(
    setting: &'static str,
    got: Duration,
    min: Duration,
    max: Duration,
) -> Result<Duration> {
    if got < min || got > max {
        return Err(Error::DurationOutOfRange {
            setting,
            min,
            max,
            got,
        });
    }
    Ok(got)
}

/// Checks that `got` is at most `max`.
pub(crate) fn check_count(setting: &'static str, got: u32, max: u32) -> Result<u32> {
    if got > max {
        return Err(Error::LimitTooHigh { setting, max, got });
    }
    Ok(got)
}
