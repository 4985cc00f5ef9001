//! Human-readable UTC times for the pages (no time-zone database needed).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2026-11-25 16:41:30 UTC`.
pub(crate) fn format_utc(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// "42 seconds", "3 minutes": for "try again in".
pub(crate) fn format_wait(wait: Duration) -> String {
    let secs = wait.as_secs().max(1);
    if secs == 1 {
        "1 second".to_owned()
    } else if secs < 120 {
        format!("{secs} seconds")
    } else if secs < 7200 {
        format!("{} minutes", secs.div_ceil(60))
    } else {
        format!("{} hours", secs.div_ceil(3600))
    }
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        // `date -u -d @0` and `date -u -d @1700000000`.
        assert_eq!(format_utc(UNIX_EPOCH), "1970-01-01 00:00:00 UTC");
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(format_utc(t), "2023-11-14 22:13:20 UTC");
        // A leap day: `date -u -d @1709164800` is 2024-02-29 00:00:00.
        let leap = UNIX_EPOCH + Duration::from_secs(1_709_164_800);
        assert_eq!(format_utc(leap), "2024-02-29 00:00:00 UTC");
    }

    #[test]
    fn waits_read_naturally() {
        assert_eq!(format_wait(Duration::from_secs(42)), "42 seconds");
        assert_eq!(format_wait(Duration::from_secs(600)), "10 minutes");
        assert_eq!(format_wait(Duration::ZERO), "1 second");
    }
}
