//! Time as a parameter: the [`Clock`] trait, the system clock and a manual clock for tests.

use core::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
///
/// Everything in this workspace that depends on time (code lifetimes, lockout windows, TOTP
/// steps, expiry in stores) reads it through a `Clock`, so that tests move time instead of
/// sleeping and every instance of an application can be checked against one notion of "now".
pub trait Clock: Send + Sync + Debug {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// The current time in whole seconds since the Unix epoch (0 before 1970).
    fn unix_secs(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to; clones share one time.
///
/// ```
/// use std::time::Duration;
/// use mfa_core::{Clock, ManualClock};
///
/// let clock = ManualClock::at_unix_secs(1_700_000_000);
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(shared.unix_secs(), 1_700_000_090);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    millis: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at `unix_secs` seconds after the Unix epoch.
    #[must_use]
    pub fn at_unix_secs(unix_secs: u64) -> Self {
        Self {
            millis: Arc::new(AtomicU64::new(unix_secs.saturating_mul(1_000))),
        }
    }

    /// Moves the clock forward by `by` (saturating at the end of the representable range).
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        // A failed update cannot happen: the closure always returns Some.
        let _ = self
            .millis
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| {
                Some(m.saturating_add(by))
            });
    }

    /// Sets the clock to `unix_secs` seconds after the Unix epoch (backwards too, to test
    /// clock steps).
    pub fn set_unix_secs(&self, unix_secs: u64) {
        self.millis
            .store(unix_secs.saturating_mul(1_000), Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    /// A clock at 2023-11-14T22:13:20Z (Unix time 1 700 000 000).
    fn default() -> Self {
        Self::at_unix_secs(1_700_000_000)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        let millis = self.millis.load(Ordering::SeqCst);
        UNIX_EPOCH
            .checked_add(Duration::from_millis(millis))
            .unwrap_or(UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = ManualClock::at_unix_secs(100);
        let other = clock.clone();
        assert_eq!(clock.unix_secs(), 100);
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(other.unix_secs(), 101);
        assert_eq!(other.now(), UNIX_EPOCH + Duration::from_millis(101_500));
        other.set_unix_secs(50);
        assert_eq!(clock.unix_secs(), 50);
        clock.advance(Duration::MAX);
        assert!(clock.now() >= UNIX_EPOCH);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.unix_secs() > 1_577_836_800);
    }
}
