//! Bad input of every kind: exit status 1 (oathtool's `EXIT_FAILURE`), exactly one line on
//! standard error saying what is wrong, nothing on standard output, no panic, and never the key
//! or the code in the message.

mod common;

use common::mfa;

const KEY: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const URI: &str = "otpauth://totp/ACME:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME";

/// Asserts the one-line exit-1 contract and that the line contains `what`.
fn assert_bad_input(args: &[&str], what: &str) {
    let run = mfa(args);
    assert_eq!(run.status, 1, "mfa {args:?}: {run:?}");
    assert_eq!(run.stdout, "", "mfa {args:?} printed a result");
    assert!(!run.stderr.contains("panicked"), "mfa {args:?}: {run:?}");
    assert!(!run.stderr.contains("backtrace"), "mfa {args:?}: {run:?}");
    assert_eq!(
        run.stderr.lines().count(),
        1,
        "mfa {args:?}: not one line: {:?}",
        run.stderr
    );
    assert!(run.stderr.ends_with('\n'));
    assert!(
        run.stderr.contains(what),
        "mfa {args:?}: {:?} does not say {what:?}",
        run.stderr
    );
    assert!(
        !run.stderr.contains(KEY),
        "the key leaked: {:?}",
        run.stderr
    );
}

#[test]
fn malformed_keys() {
    assert_bad_input(&["totp", "GEZDGNBVGY3TQOJ1GEZDGNBV"], "not valid base32");
    assert_bad_input(
        &["hotp", "not base32 at all!", "-c", "1"],
        "not valid base32",
    );
    assert_bad_input(&["totp", "3132zz", "--hex"], "not valid hexadecimal");
    assert_bad_input(&["totp", "313", "--hex"], "not valid hexadecimal");
    // 40 bits: shorter than even the legacy 80-bit minimum.
    assert_bad_input(&["totp", "GEZDGNBV"], "at least 80 are required");
    assert_bad_input(&["totp", ""], "base32");
    let huge = "A".repeat(500);
    assert_bad_input(&["totp", &huge], "at most 2048");
}

#[test]
fn parameters_out_of_range() {
    assert_bad_input(
        &["totp", KEY, "--digits", "5"],
        "between 6 and 10 digits, not 5",
    );
    assert_bad_input(
        &["totp", KEY, "--digits", "11"],
        "between 6 and 10 digits, not 11",
    );
    assert_bad_input(&["hotp", KEY, "-c", "0", "-d", "0"], "between 6 and 10");
    assert_bad_input(
        &["totp", KEY, "--period", "0"],
        "period must be at least one second",
    );
    assert_bad_input(&["uri", KEY, "--account", "a", "--period", "0"], "period");
    assert_bad_input(&["totp", KEY, "--algorithm", "md5"], "unknown algorithm");
    assert_bad_input(
        &["verify", KEY, "123456", "-a", "sha384"],
        "unknown algorithm",
    );
}

#[test]
fn numbers_that_do_not_parse() {
    assert_bad_input(&["totp", KEY, "--time", "soon"], "--time");
    assert_bad_input(&["totp", KEY, "--time", "-1"], "--time");
    assert_bad_input(&["totp", KEY, "--time", "18446744073709551616"], "--time");
    assert_bad_input(&["totp", KEY, "--t0", "1.5"], "--t0");
    assert_bad_input(&["totp", KEY, "--period", "thirty"], "--period");
    assert_bad_input(&["totp", KEY, "--digits", "six"], "--digits");
    assert_bad_input(&["hotp", KEY, "--counter", "x"], "--counter");
    assert_bad_input(&["verify", KEY, "123456", "--skew", "256"], "--skew");
    assert_bad_input(&["secret", "--bits", "lots"], "--bits");
}

#[test]
fn times_step_sizes_and_windows_that_are_refused() {
    assert_bad_input(
        &["totp", KEY, "--time", "1969-12-31T23:59:59Z"],
        "before 1970-01-01T00:00:00Z",
    );
    assert_bad_input(
        &["totp", KEY, "-N", "2009-02-13T23:31:30"],
        "needs its UTC offset",
    );
    assert_bad_input(&["totp", KEY, "-N", "2009-02-30T00:00:00Z"], "RFC 3339");
    assert_bad_input(&["totp", KEY, "--start-time", "yesterday"], "--t0");
    assert_bad_input(&["totp", KEY, "-s", "1.5s"], "whole seconds");
    assert_bad_input(&["totp", KEY, "--period=-30s"], "must be positive");
    assert_bad_input(&["totp", KEY, "-s", "0s"], "at least one second");
    assert_bad_input(&["totp", KEY, "-s", "1mo"], "no fixed length");
    assert_bad_input(
        &["uri", KEY, "--account", "a", "-s", "30 parsecs"],
        "--period",
    );
    assert_bad_input(&["totp", KEY, "-w", "-1"], "--window");
    assert_bad_input(&["hotp", KEY, "-c", "0", "-w", "4294967296"], "--window");
    assert_bad_input(
        &["hotp", KEY, "-c", "18446744073709551615", "-w", "1"],
        "runs past the last counter",
    );
    assert_bad_input(
        &[
            "totp",
            KEY,
            "-s",
            "1",
            "-N",
            "18446744073709551615",
            "-w",
            "1",
        ],
        "runs past the last counter or time step",
    );
    assert_bad_input(
        &["verify", KEY, "123456", "-w", "256"],
        "at most 255 steps each way, not 256",
    );
}

#[test]
fn key_files_that_cannot_be_read() {
    assert_bad_input(
        &["totp", "@/nonexistent-dir/key"],
        "cannot read /nonexistent-dir/key",
    );
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("long");
    std::fs::write(&long, "A".repeat(70_000)).unwrap();
    let arg = format!("@{}", long.display());
    assert_bad_input(&["totp", &arg], "longer than 65536 bytes");
    assert_bad_input(&["verify", KEY, &arg], "longer than 65536 bytes");
    let binary = dir.path().join("binary");
    std::fs::write(&binary, [0xff, 0xfe, b'\n']).unwrap();
    let arg = format!("@{}", binary.display());
    assert_bad_input(&["totp", &arg], "valid UTF-8");
}

#[test]
fn time_before_t0() {
    assert_bad_input(
        &["totp", KEY, "--t0", "100", "--time", "99"],
        "before the TOTP epoch",
    );
    assert_bad_input(
        &["verify", KEY, "123456", "--t0", "100", "--time", "99"],
        "before the TOTP epoch",
    );
}

#[test]
fn malformed_codes() {
    assert_bad_input(&["verify", KEY, "12345"], "not a 6-digit number");
    assert_bad_input(&["verify", KEY, "1234567"], "not a 6-digit number");
    assert_bad_input(&["verify", KEY, "12a456"], "not a 6-digit number");
    assert_bad_input(
        &["verify", KEY, "94287082", "-d", "6"],
        "not a 6-digit number",
    );
    assert_bad_input(
        &["verify", KEY, "", "--hotp", "-c", "0"],
        "not a 6-digit number",
    );
}

#[test]
fn malformed_uris() {
    assert_bad_input(&["parse", "https://example.com/"], "otpauth://");
    assert_bad_input(&["parse", "otpauth://"], "no type");
    assert_bad_input(
        &["parse", "otpauth://motp/a?secret=GEZDGNBVGY3TQOJQ"],
        "neither totp nor hotp",
    );
    assert_bad_input(
        &["parse", "otpauth://totp/?secret=GEZDGNBVGY3TQOJQ"],
        "no account",
    );
    assert_bad_input(&["parse", "otpauth://totp/ACME:alice"], "no secret");
    assert_bad_input(
        &["parse", "otpauth://totp/alice?secret=GEZ1"],
        "secret parameter",
    );
    assert_bad_input(
        &["parse", "otpauth://hotp/alice?secret=GEZDGNBVGY3TQOJQ"],
        "counter",
    );
    assert_bad_input(&["parse", &format!("{URI}&digits=12")], "between 6 and 10");
    assert_bad_input(&["parse", &format!("{URI}&period=0")], "period");
    assert_bad_input(
        &["parse", &format!("{URI}&algorithm=MD5")],
        "unknown algorithm",
    );
    assert_bad_input(
        &["parse", "otpauth://totp/a%zz?secret=GEZDGNBVGY3TQOJQ"],
        "percent",
    );
    assert_bad_input(
        &[
            "parse",
            "otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQ&issuer=B",
        ],
        "issuer",
    );
}

#[test]
fn bad_secret_lengths_and_empty_accounts() {
    assert_bad_input(&["secret", "--bits", "100"], "at least 128");
    assert_bad_input(&["secret", "--bits", "4096"], "at most 2048");
    assert_bad_input(&["secret", "--bits", "130"], "");
    assert_bad_input(
        &["uri", KEY, "--account", ""],
        "account name must not be empty",
    );
}

#[test]
fn qr_file_that_cannot_be_written() {
    assert_bad_input(
        &[
            "uri",
            KEY,
            "--account",
            "a",
            "--qr-png",
            "/nonexistent-dir/qr.png",
        ],
        "cannot write /nonexistent-dir/qr.png",
    );
}

#[test]
fn usage_errors_exit_1_without_panicking() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["totp"],
        &["hotp", KEY],
        &["totp", KEY, "--no-such-flag"],
        &["verify", KEY],
        &["verify", KEY, "123456", "--hotp"],
        &["verify", KEY, "123456", "--counter", "3"],
        &["verify", KEY, "123456", "--hotp", "-c", "1", "--time", "5"],
        &["uri", KEY],
        &[
            "uri",
            KEY,
            "--account",
            "a",
            "--counter",
            "1",
            "--period",
            "60",
        ],
    ] {
        let run = mfa(args);
        assert_eq!(run.status, 1, "mfa {args:?}: {run:?}");
        assert_eq!(run.stdout, "", "mfa {args:?}");
        // Without a subcommand clap shows the help (on stderr, status 1); otherwise an error.
        let expected = if args.is_empty() {
            "The `mfa` command"
        } else {
            "error: "
        };
        assert!(run.stderr.starts_with(expected), "mfa {args:?}: {run:?}");
        assert!(!run.stderr.contains("panicked"), "mfa {args:?}: {run:?}");
    }
}

#[test]
fn help_and_version_exit_0() {
    for args in [&["--help"][..], &["totp", "--help"], &["--version"]] {
        let run = mfa(args);
        assert_eq!(run.status, 0, "mfa {args:?}: {run:?}");
        assert!(!run.stdout.is_empty());
    }
}
