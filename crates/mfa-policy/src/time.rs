//! Saturating time arithmetic: no input time or duration can make a decision panic.

use std::time::{Duration, SystemTime};

/// Ten years: how long a lock that waits for an administrator or a recovery flow lasts in
/// numbers (see [`Reason::requires_unlock`](crate::Reason::requires_unlock)).
///
/// A finite value rather than "the end of time" so that every store can represent it (SQL
/// timestamps end in year 9999 or earlier) and `now + INDEFINITE` stays far from overflow.
pub const INDEFINITE: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// `t + d`, or the latest representable time at or before it when the sum overflows.
pub(crate) fn add(t: SystemTime, d: Duration) -> SystemTime {
    if let Some(sum) = t.checked_add(d) {
        return sum;
    }
    // Approach the platform's maximum by halving steps: at most ~2 * 64 iterations.
    let mut cur = t;
    let mut step = d;
    while !step.is_zero() {
        match cur.checked_add(step) {
            Some(next) => cur = next,
            None => step = step.checked_div(2).unwrap_or_default(),
        }
    }
    cur
}

/// How long from `now` until `t`; zero when `t` is not in the future.
pub(crate) fn until(now: SystemTime, t: SystemTime) -> Duration {
    t.duration_since(now).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn add_saturates_instead_of_panicking() {
        let far = add(UNIX_EPOCH, Duration::MAX);
        assert!(far > UNIX_EPOCH + Duration::from_secs(1 << 40));
        assert_eq!(add(far, Duration::MAX), far);
        assert_eq!(add(far, Duration::from_secs(1)), far);
        assert_eq!(
            add(UNIX_EPOCH, Duration::from_secs(5)),
            UNIX_EPOCH + Duration::from_secs(5)
        );
    }

    #[test]
    fn until_is_zero_for_the_past() {
        let t = UNIX_EPOCH + Duration::from_secs(10);
        assert_eq!(until(t, UNIX_EPOCH), Duration::ZERO);
        assert_eq!(until(UNIX_EPOCH, t), Duration::from_secs(10));
    }
}
