//! The options that make `mfa` an oathtool-class tool, each run beside the real `oathtool`
//! on the same input: `-w/--window`, `-v/--verbose`, times as RFC 3339 dates and `@UNIX`
//! (`-N`, `-S`), step sizes with units (`-s`), keys and codes read from `@FILE` and `-`, and
//! the exit statuses (0 done, 1 an error, 2 no match).
//!
//! Cases are drawn from a fixed seed, printed in every failure message; `MFA_TEST_SEED=N`
//! replays another. A missing oathtool skips these tests, unless `MFA_REQUIRE_SERVICES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;

use common::{Rng, Run, mfa, mfa_with_stdin, oathtool, oathtool_available, oathtool_with_stdin};

const CASES: usize = 100;
const ALGORITHMS: [&str; 3] = ["sha1", "sha256", "sha512"];
/// The RFC 4226 / RFC 6238 SHA-1 test key.
const KEY_HEX: &str = "3132333435363738393031323334353637383930";
const KEY_BASE32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// Asserts that `mfa` and oathtool ended alike and printed the same on standard output.
fn assert_same(mfa_args: &[&str], mfa_run: &Run, oath_args: &[&str], oath_run: &Run) {
    let context = format!(
        "seed {}\nmfa {mfa_args:?}: {mfa_run:?}\noathtool {oath_args:?}: {oath_run:?}",
        common::seed()
    );
    assert_eq!(mfa_run.status, oath_run.status, "exit status\n{context}");
    assert_eq!(
        mfa_run.stdout, oath_run.stdout,
        "standard output\n{context}"
    );
}

/// Runs the same request through both tools and asserts the same result.
fn same(mfa_args: &[&str], oath_args: &[&str]) -> Run {
    let (mine, theirs) = (mfa(mfa_args), oathtool(oath_args));
    assert_same(mfa_args, &mine, oath_args, &theirs);
    mine
}

/// One drawn TOTP setting: what oathtool can do (6 to 8 digits, times in a signed 64-bit
/// `time_t`).
#[derive(Debug)]
struct Totp {
    key_hex: String,
    algorithm: &'static str,
    digits: String,
    period: u64,
    t0: u64,
    time: u64,
}

/// A key of 10 to 64 bytes, in hex: every base32 padding length shows up in `-v`.
fn random_key(rng: &mut Rng) -> String {
    let len = rng.range(10, 64) as usize;
    rng.hex_bytes(len)
}

fn draw_totp(rng: &mut Rng) -> Totp {
    let time = rng.range(0, 1 << 33);
    Totp {
        key_hex: random_key(rng),
        algorithm: rng.pick(&ALGORITHMS),
        digits: rng.range(6, 8).to_string(),
        period: rng.range(1, 300),
        t0: if rng.range(0, 1) == 0 {
            0
        } else {
            rng.range(0, time)
        },
        time,
    }
}

#[test]
fn totp_window_and_verbose_print_what_oathtool_prints() {
    if !oathtool_available() {
        return;
    }
    let mut rng = Rng::new(common::seed() ^ 0x10);
    for _ in 0..CASES {
        let c = draw_totp(&mut rng);
        let (period, t0, now) = (
            c.period.to_string(),
            format!("@{}", c.t0),
            format!("@{}", c.time),
        );
        let window = rng.range(0, 5).to_string();
        let verbose = rng.range(0, 1) == 1;
        let mut mine = vec![
            "totp",
            &c.key_hex,
            "--hex",
            "-a",
            c.algorithm,
            "-d",
            &c.digits,
        ];
        mine.extend(["-s", &period, "-S", &t0, "-N", &now, "-w", &window]);
        let totp_mode = format!("--totp={}", c.algorithm);
        let seconds = format!("{period}s");
        let mut theirs = vec![totp_mode.as_str(), "-d", &c.digits, "-s", &seconds];
        theirs.extend(["-S", &t0, "-N", &now, "-w", &window]);
        if verbose {
            mine.push("-v");
            theirs.push("-v");
        }
        theirs.push(&c.key_hex);
        let run = same(&mine, &theirs);
        assert_eq!(run.status, 0, "{c:?}");
    }
}

#[test]
fn hotp_window_and_verbose_print_what_oathtool_prints() {
    if !oathtool_available() {
        return;
    }
    let mut rng = Rng::new(common::seed() ^ 0x11);
    for _ in 0..CASES {
        let key = random_key(&mut rng);
        let digits = rng.range(6, 8).to_string();
        // Small counters as providers use them, and large ones (short of the end, where mfa
        // refuses a window that would wrap and oathtool wraps).
        let counter = if rng.range(0, 1) == 0 {
            rng.range(0, 1_000_000)
        } else {
            rng.range(0, u64::MAX - 10)
        }
        .to_string();
        let window = rng.range(0, 5).to_string();
        let mut mine = vec![
            "hotp", &key, "--hex", "-c", &counter, "-d", &digits, "-w", &window,
        ];
        let mut theirs = vec!["--hotp", "-c", &counter, "-d", &digits, "-w", &window];
        if rng.range(0, 1) == 1 {
            mine.push("--verbose");
            theirs.push("--verbose");
        }
        theirs.push(&key);
        let run = same(&mine, &theirs);
        assert_eq!(run.status, 0);
    }
}

/// `unix` as an RFC 3339 date at UTC offset `offset_secs`, written with `separator` between
/// date and time, `Z` for a zero offset when `zulu`, and a fraction of a second when `fraction`
/// (both tools drop it).
fn rfc3339(unix: u64, offset_secs: i32, separator: char, zulu: bool, fraction: bool) -> String {
    let stamp = jiff::Timestamp::from_second(i64::try_from(unix).unwrap()).unwrap();
    let offset = jiff::tz::Offset::from_seconds(offset_secs).unwrap();
    let civil = offset.to_datetime(stamp);
    let mut text = format!(
        "{}{separator}{}",
        civil.strftime("%Y-%m-%d"),
        civil.strftime("%H:%M:%S")
    );
    if fraction {
        text.push_str(".75");
    }
    if zulu && offset_secs == 0 {
        text.push('Z');
    } else {
        let sign = if offset_secs < 0 { '-' } else { '+' };
        let minutes = offset_secs.unsigned_abs() / 60;
        text.push_str(&format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60));
    }
    text
}

#[test]
fn rfc3339_times_mean_what_they_mean_to_oathtool() {
    if !oathtool_available() {
        return;
    }
    let mut rng = Rng::new(common::seed() ^ 0x12);
    for _ in 0..CASES {
        let c = draw_totp(&mut rng);
        // Offsets from -14:00 to +14:00 in quarter hours; a third of them zero.
        let mut offset = || {
            if rng.range(0, 2) == 0 {
                0
            } else {
                i32::try_from(rng.range(0, 112)).unwrap() * 900 - 50_400
            }
        };
        let (now_offset, t0_offset) = (offset(), offset());
        let separator = if rng.range(0, 1) == 0 { 'T' } else { ' ' };
        let (zulu, fraction) = (rng.range(0, 1) == 0, rng.range(0, 3) == 0);
        let now = rfc3339(c.time, now_offset, separator, zulu, fraction);
        // At T0 = 0 a negative offset writes a civil time in 1969: still the instant 0.
        let t0 = rfc3339(c.t0, t0_offset, 'T', true, false);
        let seconds = format!("{}s", c.period);
        let mine = [
            "totp",
            &c.key_hex,
            "--hex",
            "-d",
            &c.digits,
            "--time-step-size",
            &seconds,
            "--start-time",
            &t0,
            "--now",
            &now,
            "-v",
        ];
        let theirs = [
            "--totp", "-d", &c.digits, "-s", &seconds, "-S", &t0, "-N", &now, "-v", &c.key_hex,
        ];
        // `-v` prints both times back in UTC with their Unix seconds: equal output means
        // both tools read the same instants.
        same(&mine, &theirs);
    }
}

#[test]
fn the_utc_form_oathtool_prints_is_read_back() {
    if !oathtool_available() {
        return;
    }
    for when in [
        "1970-01-01 00:00:00 UTC",
        "2009-02-13 23:31:30 UTC",
        "2038-01-19 03:14:08 UTC",
        "2200-06-30 23:00:00 UTC",
    ] {
        same(
            &["totp", KEY_HEX, "--hex", "-N", when, "-v"],
            &["--totp", "-N", when, "-v", KEY_HEX],
        );
    }
}

#[test]
fn step_sizes_with_units_mean_what_they_mean_to_oathtool() {
    if !oathtool_available() {
        return;
    }
    let mut rng = Rng::new(common::seed() ^ 0x13);
    for step in [
        "1", "30", "30s", "59s", "1m", "90s", "2m", "2m30s", "10m", "1h", "1h1m1s", "2h", "1d",
    ] {
        let now = format!("@{}", rng.range(0, 1 << 33));
        same(
            &[
                "totp", KEY_HEX, "--hex", "-s", step, "-N", &now, "-w", "2", "-v",
            ],
            &["--totp", "-s", step, "-N", &now, "-w", "2", "-v", KEY_HEX],
        );
    }
}

#[test]
fn keys_and_codes_from_files_and_standard_input_read_as_oathtool_reads_them() {
    if !oathtool_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, content: &str| {
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(content.as_bytes())
            .unwrap();
        format!("@{}", path.display())
    };
    let hex = file("hex", &format!("{KEY_HEX}\n"));
    let hex_no_newline = file("hex-bare", KEY_HEX);
    let base32 = file(
        "base32",
        &format!("{KEY_BASE32}\nanything after the first line\n"),
    );
    let code = file("code", "969429\n");

    same(
        &["totp", &hex, "--hex", "-N", "@59"],
        &["--totp", "-N", "@59", &hex],
    );
    same(
        &["totp", &hex_no_newline, "--hex", "-N", "@59"],
        &["--totp", "-N", "@59", &hex_no_newline],
    );
    same(
        &["totp", &base32, "-N", "@59", "-v"],
        &["--totp", "-b", "-N", "@59", "-v", &base32],
    );
    same(&["hotp", &hex, "--hex", "-c", "3"], &["-c", "3", &hex]);

    // A code from a file: matched at counter 3 by both (mfa prints the next counter, 4;
    // oathtool the position in its window, 3).
    let mine = mfa(&[
        "verify", &hex, &code, "--hex", "--hotp", "-c", "0", "-w", "5",
    ]);
    let theirs = oathtool(&["-c", "0", "-w", "5", &hex, &code]);
    assert_eq!((mine.status, mine.stdout.as_str()), (0, "4\n"), "{mine:?}");
    assert_eq!(
        (theirs.status, theirs.stdout.as_str()),
        (0, "3\n"),
        "{theirs:?}"
    );

    // Standard input: the key alone, then the key and the code on two lines.
    let key_line = format!("{KEY_HEX}\n");
    let mine = mfa_with_stdin(&["totp", "-", "--hex", "-N", "@59"], &key_line);
    let theirs = oathtool_with_stdin(&["--totp", "-N", "@59", "-"], &key_line);
    assert_same(&["totp", "-"], &mine, &["--totp", "-"], &theirs);
    let both = format!("{KEY_HEX}\n755224\n");
    let mine = mfa_with_stdin(&["verify", "-", "-", "--hex", "--hotp", "-c", "0"], &both);
    let theirs = oathtool_with_stdin(&["-", "-"], &both);
    assert_eq!((mine.status, theirs.status), (0, 0), "{mine:?} {theirs:?}");

    // A file that is not there: an error, status 1, for both; mfa names the file.
    let missing = format!("@{}", dir.path().join("missing").display());
    let mine = same(&["totp", &missing, "--hex"], &["--totp", &missing]);
    assert!(mine.stderr.contains("missing"), "{mine:?}");
}

#[test]
fn verify_exit_status_and_totp_window_agree_with_oathtool() {
    if !oathtool_available() {
        return;
    }
    let mut rng = Rng::new(common::seed() ^ 0x14);
    let mut outcomes = [0usize; 3];
    for _ in 0..CASES {
        let c = draw_totp(&mut rng);
        let current = (c.time - c.t0) / c.period;
        // The code of a step up to three away, and a window of up to two each way.
        let step = current.saturating_add_signed(rng.range(0, 6) as i64 - 3);
        let window = rng.range(0, 2);
        let (period, t0) = (c.period.to_string(), format!("@{}", c.t0));
        let mode = format!("--totp={}", c.algorithm);
        let at_step = format!("@{}", c.t0 + step * c.period);
        let code = oathtool(&[
            &mode, "-d", &c.digits, "-s", &period, "-S", &t0, "-N", &at_step, &c.key_hex,
        ]);
        assert_eq!(code.status, 0, "{code:?}");
        let code = code.stdout.trim();
        let (now, window) = (format!("@{}", c.time), window.to_string());
        let mine = mfa(&[
            "verify",
            &c.key_hex,
            code,
            "--hex",
            "-a",
            c.algorithm,
            "-d",
            &c.digits,
            "-s",
            &period,
            "-S",
            &t0,
            "-N",
            &now,
            "-w",
            &window,
        ]);
        let theirs = oathtool(&[
            &mode, "-d", &c.digits, "-s", &period, "-S", &t0, "-N", &now, "-w", &window,
            &c.key_hex, code,
        ]);
        let context = format!(
            "seed {}, {c:?}, step {step}: {mine:?} {theirs:?}",
            common::seed()
        );
        assert_eq!(mine.status, theirs.status, "{context}");
        match mine.status {
            // mfa prints the matched step, oathtool its distance from the current one.
            0 => {
                let matched: u64 = mine.stdout.trim().parse().unwrap();
                let position: u64 = theirs.stdout.trim().parse().unwrap();
                assert_eq!(matched.abs_diff(current), position, "{context}");
            }
            2 => assert_eq!(
                (mine.stdout.as_str(), mine.stderr.as_str()),
                ("", "no match\n")
            ),
            _ => panic!("neither a match nor a miss: {context}"),
        }
        outcomes[usize::try_from(mine.status).unwrap()] += 1;
    }
    eprintln!(
        "TOTP verify: {} matched, {} missed, like oathtool",
        outcomes[0], outcomes[2]
    );
    assert!(
        outcomes[0] > 10 && outcomes[2] > 10,
        "both outcomes drawn: {outcomes:?}"
    );
}

#[test]
fn verify_exit_status_and_hotp_window_agree_with_oathtool() {
    if !oathtool_available() {
        return;
    }
    let mut rng = Rng::new(common::seed() ^ 0x15);
    let mut outcomes = [0usize; 3];
    for _ in 0..CASES {
        let key = random_key(&mut rng);
        let digits = rng.range(6, 8).to_string();
        let counter = rng.range(2, 1_000_000);
        let used = counter + rng.range(0, 6) - 2;
        let window = rng.range(0, 3).to_string();
        let code = oathtool(&["-d", &digits, "-c", &used.to_string(), &key]);
        let code = code.stdout.trim();
        let start = counter.to_string();
        let mine = mfa(&[
            "verify", &key, code, "--hex", "-d", &digits, "--hotp", "-c", &start, "-w", &window,
        ]);
        let theirs = oathtool(&["-d", &digits, "-c", &start, "-w", &window, &key, code]);
        let context = format!(
            "seed {}, counter {counter}, used {used}: {mine:?} {theirs:?}",
            common::seed()
        );
        assert_eq!(mine.status, theirs.status, "{context}");
        if mine.status == 0 {
            // mfa prints the counter to store next, oathtool the position in its window.
            let position: u64 = theirs.stdout.trim().parse().unwrap();
            assert_eq!(
                mine.stdout,
                format!("{}\n", counter + position + 1),
                "{context}"
            );
        }
        outcomes[usize::try_from(mine.status).unwrap()] += 1;
    }
    eprintln!(
        "HOTP verify: {} matched, {} missed, like oathtool",
        outcomes[0], outcomes[2]
    );
    assert!(
        outcomes[0] > 10 && outcomes[2] > 10,
        "both outcomes drawn: {outcomes:?}"
    );
}

#[test]
fn errors_exit_1_like_oathtool() {
    if !oathtool_available() {
        return;
    }
    let cases: [(&[&str], &[&str]); 8] = [
        (&["totp", "zz", "--hex"], &["--totp", "zz"]),
        (&["totp", "GEZ1", "-N", "@0"], &["--totp", "-b", "GEZ1"]),
        (
            &["totp", KEY_HEX, "--hex", "--no-such-option"],
            &["--totp", "--no-such-option", KEY_HEX],
        ),
        (
            &["totp", KEY_HEX, "--hex", "-N", "bogus"],
            &["--totp", "-N", "bogus", KEY_HEX],
        ),
        (
            &["totp", KEY_HEX, "--hex", "-S", "bogus"],
            &["--totp", "-S", "bogus", KEY_HEX],
        ),
        (
            &["totp", KEY_HEX, "--hex", "-s", "1mo"],
            &["--totp", "-s", "1mo", KEY_HEX],
        ),
        (
            &["hotp", KEY_HEX, "--hex", "-c", "x"],
            &["-c", "x", KEY_HEX],
        ),
        (
            &["verify", KEY_HEX, "12345", "--hex", "--hotp", "-c", "0"],
            &[KEY_HEX, "12345"],
        ),
    ];
    for (mine, theirs) in cases {
        let run = same(mine, theirs);
        assert_eq!(run.status, 1, "{mine:?}");
        assert!(!run.stderr.contains("panicked"), "{run:?}");
    }
}
