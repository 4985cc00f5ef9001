//! `mfa` against independent implementations: oathtool (C, OATH Toolkit) and pyotp (Python),
//! over randomly drawn keys, times, counters, algorithms, digit counts and periods.
//!
//! The draws come from a fixed seed, printed in every failure message; `MFA_TEST_SEED=N`
//! replays another. A missing tool skips its test, unless `MFA_REQUIRE_SERVICES=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Rng, mfa_ok, oathtool_available, pyotp_available, seed};

const CASES: usize = 200;
const ALGORITHMS: [&str; 3] = ["sha1", "sha256", "sha512"];

/// One drawn TOTP or HOTP case.
#[derive(Debug, Clone)]
struct Case {
    key_hex: String,
    algorithm: &'static str,
    digits: u64,
    /// Period for TOTP; unused for HOTP.
    period: u64,
    /// T0 for TOTP (oathtool only; pyotp has none); unused for HOTP.
    t0: u64,
    /// Unix time for TOTP, counter for HOTP.
    moving: u64,
}

fn draw(rng: &mut Rng, max_digits: u64, with_t0: bool, hotp: bool) -> Case {
    let key_len = rng.range(10, 64) as usize;
    let moving = if hotp {
        // Small counters as a provider uses them, and the whole u64 range.
        if rng.next_u64().is_multiple_of(2) {
            rng.range(0, 1_000_000)
        } else {
            rng.next_u64()
        }
    } else {
        rng.range(0, 1 << 33)
    };
    let t0 = if with_t0 && !hotp && rng.next_u64().is_multiple_of(2) {
        rng.range(0, moving)
    } else {
        0
    };
    Case {
        key_hex: rng.hex_bytes(key_len),
        algorithm: rng.pick(&ALGORITHMS),
        digits: rng.range(6, max_digits),
        period: rng.range(15, 120),
        t0,
        moving,
    }
}

fn mfa_code(case: &Case, base32: Option<&str>, hotp: bool) -> String {
    let digits = case.digits.to_string();
    let period = case.period.to_string();
    let t0 = case.t0.to_string();
    let moving = case.moving.to_string();
    let mut args = vec![if hotp { "hotp" } else { "totp" }];
    match base32 {
        Some(b32) => args.push(b32),
        None => args.extend([case.key_hex.as_str(), "--hex"]),
    }
    args.extend(["--algorithm", case.algorithm, "--digits", &digits]);
    if hotp {
        args.extend(["--counter", &moving]);
    } else {
        args.extend(["--period", &period, "--t0", &t0, "--time", &moving]);
    }
    mfa_ok(&args)
}

fn oathtool_code(case: &Case, hotp: bool) -> String {
    let mut cmd = Command::new("oathtool");
    if hotp {
        cmd.args(["--hotp", "-c", &case.moving.to_string()]);
    } else {
        cmd.arg(format!("--totp={}", case.algorithm))
            .args(["-s", &format!("{}s", case.period)])
            .args(["-S", &format!("@{}", case.t0)])
            .args(["-N", &format!("@{}", case.moving)]);
    }
    let out = cmd
        .args(["-d", &case.digits.to_string(), &case.key_hex])
        .output()
        .expect("oathtool runs");
    assert!(out.status.success(), "oathtool failed on {case:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Runs pyotp once over all cases; returns (base32 key with padding, code) per case.
fn pyotp_codes(cases: &[Case], hotp: bool) -> Vec<(String, String)> {
    const SCRIPT: &str = r#"
import base64, hashlib, sys, pyotp
# Newer pyotp refuses keys under 112 bits; mfa checks issued keys from 80 bits up.
pyotp.OTP.min_secret_length_bits = 80
digests = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
for line in sys.stdin:
    mode, key_hex, alg, digits, period, moving = line.split()
    b32 = base64.b32encode(bytes.fromhex(key_hex)).decode()
    if mode == "totp":
        otp = pyotp.TOTP(b32, digits=int(digits), digest=digests[alg], interval=int(period))
    else:
        otp = pyotp.HOTP(b32, digits=int(digits), digest=digests[alg])
    print(b32, otp.at(int(moving)))
"#;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        // pyotp turns a Unix time into a local datetime and back: pin the zone.
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut input = String::new();
    for c in cases {
        let mode = if hotp { "hotp" } else { "totp" };
        input += &format!(
            "{mode} {} {} {} {} {}\n",
            c.key_hex, c.algorithm, c.digits, c.period, c.moving
        );
    }
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "pyotp script failed: {out:?}");
    let lines: Vec<(String, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (b32, code) = l.split_once(' ').unwrap();
            (b32.to_owned(), code.to_owned())
        })
        .collect();
    assert_eq!(lines.len(), cases.len());
    lines
}

#[test]
fn totp_matches_oathtool() {
    if !oathtool_available() {
        return;
    }
    let seed = seed();
    let mut rng = Rng::new(seed);
    // oathtool prints 6, 7 or 8 digits only; it supports T0 (-S).
    for i in 0..CASES {
        let case = draw(&mut rng, 8, true, false);
        assert_eq!(
            mfa_code(&case, None, false),
            oathtool_code(&case, false),
            "seed {seed}, case {i}: {case:?}"
        );
    }
}

#[test]
fn hotp_matches_oathtool() {
    if !oathtool_available() {
        return;
    }
    let seed = seed() ^ 1;
    let mut rng = Rng::new(seed);
    // oathtool's HOTP mode is SHA-1 only.
    for i in 0..CASES {
        let case = Case {
            algorithm: "sha1",
            ..draw(&mut rng, 8, false, true)
        };
        assert_eq!(
            mfa_code(&case, None, true),
            oathtool_code(&case, true),
            "seed {seed}, case {i}: {case:?}"
        );
    }
}

#[test]
fn totp_matches_pyotp_with_base32_keys() {
    if !pyotp_available() {
        return;
    }
    let seed = seed() ^ 2;
    let mut rng = Rng::new(seed);
    // pyotp supports 6 to 10 digits, like mfa-core, and has no T0.
    let cases: Vec<Case> = (0..CASES)
        .map(|_| draw(&mut rng, 10, false, false))
        .collect();
    for (i, (case, (b32, code))) in cases.iter().zip(pyotp_codes(&cases, false)).enumerate() {
        // Python's base32 is padded with `=`: mfa must take it as it comes.
        assert_eq!(
            mfa_code(case, Some(&b32), false),
            code,
            "seed {seed}, case {i}: {case:?}"
        );
    }
}

#[test]
fn hotp_matches_pyotp_with_base32_keys() {
    if !pyotp_available() {
        return;
    }
    let seed = seed() ^ 3;
    let mut rng = Rng::new(seed);
    let cases: Vec<Case> = (0..CASES)
        .map(|_| draw(&mut rng, 10, false, true))
        .collect();
    for (i, (case, (b32, code))) in cases.iter().zip(pyotp_codes(&cases, true)).enumerate() {
        assert_eq!(
            mfa_code(case, Some(&b32), true),
            code,
            "seed {seed}, case {i}: {case:?}"
        );
    }
}
