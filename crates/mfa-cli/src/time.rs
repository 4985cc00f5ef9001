//! Times and step sizes as people write them, and times as oathtool prints them.
//!
//! A time is Unix seconds (`1234567890`, or `@1234567890` as oathtool and GNU `date` write
//! it), an RFC 3339 date (`2009-02-13T23:31:30Z`, `2009-02-13 23:31:30+01:00`), the form
//! `oathtool -v` prints (`2009-02-13 23:31:30 UTC`), or `now`. A step size is whole seconds,
//! bare (`30`) or with units (`30s`, `1m`, `2m30s`, `1h`, `1d`), as oathtool's `-s` takes it.
//! RFC 3339 parsing and the unit grammar are jiff's; this module only says which forms count.

use jiff::{SignedDuration, Span, SpanRelativeTo, Timestamp};
use mfa_core::Period;

/// A point in time given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    /// The system clock, read once per run.
    Now,
    /// Seconds since 1970-01-01T00:00:00Z.
    Unix(u64),
}

impl When {
    /// The Unix time this stands for, given the clock's reading `now`.
    pub(crate) fn resolve(self, now: u64) -> u64 {
        match self {
            Self::Now => now,
            Self::Unix(unix) => unix,
        }
    }
}

/// What a time that does not parse is told; clap adds the value and the option's name.
const TIME_FORMS: &str = "expected Unix seconds (1234567890 or @1234567890), an RFC 3339 date \
                          (2009-02-13T23:31:30Z, 2009-02-13 23:31:30+01:00) or `now`";

/// Parses a time: Unix seconds, `@` and Unix seconds, an RFC 3339 date, or `now`.
///
/// Fractions of a second are dropped, as oathtool drops them: a TOTP step is whole seconds.
pub(crate) fn parse_when(text: &str) -> Result<When, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(When::Now);
    }
    let digits = text.strip_prefix('@').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return digits
            .parse()
            .map(When::Unix)
            .map_err(|_| format!("a Unix time must be at most {}", u64::MAX));
    }
    // `oathtool -v` prints `2009-02-13 23:31:30 UTC`; "UTC" is not an RFC 3339 offset, "Z" is.
    let rfc3339 = match text.strip_suffix(" UTC") {
        Some(civil) => format!("{civil}Z"),
        None => text.to_owned(),
    };
    let stamp: Timestamp = rfc3339.parse().map_err(|_| {
        if rfc3339.parse::<jiff::civil::DateTime>().is_ok() {
            // A civil time alone does not say which instant it is.
            "an RFC 3339 date needs its UTC offset: Z, +01:00 or -05:00".to_owned()
        } else {
            TIME_FORMS.to_owned()
        }
    })?;
    u64::try_from(stamp.as_second())
        .map(When::Unix)
        .map_err(|_| "times before 1970-01-01T00:00:00Z are not supported".to_owned())
}

/// Parses a step size: whole seconds, bare or with units.
pub(crate) fn parse_period(text: &str) -> Result<Period, String> {
    let text = text.trim();
    let seconds = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u64>()
            .map_err(|e| format!("not a number: {e}"))?
    } else {
        let span: Span = text.parse().map_err(|_| {
            "expected seconds (30) or a duration with units (30s, 1m, 2m30s, 1h)".to_owned()
        })?;
        whole_seconds(span)?
    };
    Period::from_secs(seconds).map_err(|e| e.to_string())
}

/// A span's length in whole, non-negative seconds; a day counts 24 hours.
fn whole_seconds(span: Span) -> Result<u64, String> {
    let duration: SignedDuration = span
        .to_duration(SpanRelativeTo::days_are_24_hours())
        .map_err(|_| "months and years have no fixed length in seconds".to_owned())?;
    if duration.subsec_nanos() != 0 {
        return Err("a step size must be whole seconds".to_owned());
    }
    u64::try_from(duration.as_secs()).map_err(|_| "a step size must be positive".to_owned())
}

/// `unix` as oathtool's `-v` prints a time: `YYYY-MM-DD HH:MM:SS UTC`.
///
/// Computed here rather than by jiff because a Unix time in a `u64` reaches far past the
/// year 9999 that jiff's calendar ends at, and oathtool prints those dates too. The calendar
/// arithmetic is Howard Hinnant's `civil_from_days`, exact for every day from 1970 on.
pub(crate) fn utc(unix: u64) -> String {
    let (days, secs) = (unix / 86_400, unix % 86_400);
    // Shift the epoch to 0000-03-01 so that leap days end a 400-year era's years.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3_600,
        secs % 3_600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_accepted_form() {
        let cases = [
            ("0", 0),
            ("1234567890", 1_234_567_890),
            ("@1234567890", 1_234_567_890),
            (" @59 ", 59),
            ("2009-02-13T23:31:30Z", 1_234_567_890),
            ("2009-02-13t23:31:30z", 1_234_567_890),
            ("2009-02-13 23:31:30Z", 1_234_567_890),
            ("2009-02-13T23:31:30.999Z", 1_234_567_890),
            ("2009-02-14T00:31:30+01:00", 1_234_567_890),
            ("2009-02-13T18:31:30-05:00", 1_234_567_890),
            ("2009-02-13 23:31:30 UTC", 1_234_567_890),
            ("1970-01-01T00:00:00Z", 0),
            ("18446744073709551615", u64::MAX),
        ];
        for (text, unix) in cases {
            assert_eq!(parse_when(text), Ok(When::Unix(unix)), "{text}");
        }
        assert_eq!(parse_when("now"), Ok(When::Now));
        assert_eq!(parse_when("NOW").map(|w| w.resolve(7)), Ok(7));
    }

    #[test]
    fn times_that_are_refused() {
        for text in [
            "",
            "@",
            "soon",
            "-1",
            "@-1",
            "1.5",
            "18446744073709551616",
            // No offset: which zone was meant is unknown, so it is refused, not guessed.
            "2009-02-13T23:31:30",
            "2009-02-13",
            "2009-02-30T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "2009-02-13T23:31:30Z trailing",
        ] {
            assert!(parse_when(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn step_sizes_bare_and_with_units() {
        let cases = [
            ("30", 30),
            ("30s", 30),
            ("1m", 60),
            ("90s", 90),
            ("2m30s", 150),
            ("1h", 3_600),
            ("1d", 86_400),
            ("1 minute", 60),
            ("PT45S", 45),
        ];
        for (text, secs) in cases {
            assert_eq!(parse_period(text).map(Period::as_secs), Ok(secs), "{text}");
        }
    }

    #[test]
    fn step_sizes_that_are_refused() {
        for text in [
            "", "0", "0s", "-5", "-5s", "1.5s", "500ms", "1mo", "1y", "thirty", "30 x",
        ] {
            assert!(parse_period(text).is_err(), "{text:?} was accepted");
        }
        // A zero step is refused by `Period` itself, whichever way it is written.
        assert_eq!(parse_period("0s"), parse_period("0"));
        assert!(parse_period("0").is_err_and(|e| e.contains("at least one second")));
    }

    #[test]
    fn utc_matches_jiff_wherever_jiff_has_a_calendar() {
        let format = |unix: u64| {
            let stamp = Timestamp::from_second(i64::try_from(unix).unwrap()).unwrap();
            format!("{} UTC", stamp.strftime("%Y-%m-%d %H:%M:%S"))
        };
        let last = u64::try_from(Timestamp::MAX.as_second()).unwrap();
        // Month and year ends, leap days (2000 yes, 2100 no), and a spread of everything else.
        let mut times = vec![
            0,
            59,
            86_399,
            86_400,
            951_782_400,
            951_868_800,
            4_107_542_400,
        ];
        times.extend([last - 1, last]);
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            times.push(x % (last + 1));
        }
        for unix in times {
            assert_eq!(utc(unix), format(unix), "{unix}");
        }
    }

    #[test]
    fn utc_goes_past_the_year_9999_like_oathtool() {
        // What `oathtool -v --totp -N @N` prints for these.
        assert_eq!(utc(253_402_300_800), "10000-01-01 00:00:00 UTC");
        assert_eq!(utc(99_999_999_999_999), "3170843-11-07 09:46:39 UTC");
        assert!(utc(u64::MAX).ends_with(" UTC"));
    }
}
