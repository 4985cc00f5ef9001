//! `mfa uri`, `mfa parse`, `mfa secret` and `mfa verify` as a user relies on them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{mfa, mfa_ok};
use serde_json::{Value, json};

const KEY: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn parse_json(args: &[&str]) -> Value {
    serde_json::from_str(&mfa_ok(args)).expect("parse prints JSON")
}

#[test]
fn parse_prints_the_fields_without_the_secret() {
    // Google Authenticator's documented example URI.
    let uri = "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30";
    let parsed = parse_json(&["parse", uri]);
    assert_eq!(
        parsed,
        json!({
            "type": "totp",
            "issuer": "ACME Co",
            "account": "john.doe@email.com",
            "algorithm": "SHA1",
            "digits": 6,
            "period": 30,
        })
    );
    assert!(!mfa_ok(&["parse", uri]).contains("HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"));
}

#[test]
fn parse_reveals_the_secret_only_when_asked() {
    let uri = "otpauth://hotp/alice?secret=gezd-gnbv-gy3t-qojq&counter=42&digits=8&algorithm=SHA256&image=https%3A%2F%2Fexample.com%2Flogo.png";
    let parsed = parse_json(&["parse", uri, "--reveal-secret"]);
    assert_eq!(
        parsed,
        json!({
            "type": "hotp",
            "issuer": null,
            "account": "alice",
            "algorithm": "SHA256",
            "digits": 8,
            "counter": 42,
            "image": "https://example.com/logo.png",
            "secret": "GEZDGNBVGY3TQOJQ",
        })
    );
    assert!(parse_json(&["parse", uri]).get("secret").is_none());
}

#[test]
fn uri_output_parses_back_with_parse() {
    let uri = mfa_ok(&[
        "uri",
        KEY,
        "--issuer",
        "ACME Co",
        "--account",
        "alice@example.com",
        "-a",
        "sha512",
        "-d",
        "8",
        "--period",
        "60",
    ]);
    assert!(
        uri.starts_with("otpauth://totp/ACME%20Co:alice@example.com?secret="),
        "{uri}"
    );
    let parsed = parse_json(&["parse", &uri, "--reveal-secret"]);
    assert_eq!(
        parsed,
        json!({
            "type": "totp", "issuer": "ACME Co", "account": "alice@example.com",
            "algorithm": "SHA512", "digits": 8, "period": 60, "secret": KEY,
        })
    );

    let hotp = common::mfa_with_stdin(
        &[
            "uri",
            "-",
            "--account",
            "bob:ops",
            "--counter",
            "7",
            "--hex",
        ],
        "3132333435363738393031323334353637383930\n",
    );
    assert_eq!(hotp.status, 0, "{hotp:?}");
    let hotp = hotp.stdout.trim_end();
    let parsed = common::mfa_with_stdin(&["parse", "-"], &format!("{hotp}\n"));
    assert_eq!(parsed.status, 0, "{parsed:?}");
    let parsed: Value = serde_json::from_str(&parsed.stdout).unwrap();
    assert_eq!(parsed["type"], "hotp");
    assert_eq!(parsed["account"], "bob:ops");
    assert_eq!(parsed["counter"], 7);
    assert_eq!(parsed["issuer"], Value::Null);
    assert!(hotp.contains(&format!("secret={KEY}&")), "{hotp}");
}

#[test]
fn uri_reads_the_key_from_stdin_with_dash() {
    let run = common::mfa_with_stdin(&["uri", "-", "--account", "a"], &format!("{KEY}\n"));
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains(&format!("secret={KEY}&")), "{run:?}");
}

#[test]
fn qr_files_are_written_as_png_and_svg() {
    let dir = std::env::temp_dir().join(format!("mfa-cli-qr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("qr.png");
    let svg = dir.join("qr.svg");
    let uri = mfa_ok(&[
        "uri",
        KEY,
        "--issuer",
        "ACME",
        "--account",
        "alice",
        "--qr-png",
        png.to_str().unwrap(),
        "--qr-svg",
        svg.to_str().unwrap(),
    ]);
    assert!(uri.starts_with("otpauth://totp/ACME:alice?"), "{uri}");
    let png_bytes = std::fs::read(&png).unwrap();
    assert!(png_bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.contains("<svg"), "not an SVG: {svg_text:.100}");
    assert!(svg_text.trim_end().ends_with("</svg>"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [&png, &svg] {
            let mode = std::fs::metadata(file).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{} is readable by others", file.display());
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn qr_in_the_terminal_replaces_the_uri() {
    let drawn = mfa_ok(&["uri", KEY, "--account", "alice", "--qr"]);
    assert!(!drawn.contains("otpauth://"));
    assert!(!drawn.contains(KEY));
    assert!(drawn.lines().count() > 10, "{drawn}");
}

#[test]
fn secret_has_the_requested_length_in_base32() {
    let default = mfa_ok(&["secret"]);
    assert_eq!(default.len(), 32, "160 bits are 32 base32 characters");
    let long = mfa_ok(&["secret", "--bits", "256"]);
    assert_eq!(long.len(), 52, "256 bits are 52 unpadded base32 characters");
    assert!(
        long.bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    );
    assert_ne!(mfa_ok(&["secret"]), default, "two secrets are different");
    // A fresh secret is a working key.
    assert_eq!(mfa_ok(&["totp", &long, "--time", "0"]).len(), 6);

    let run = mfa(&["secret", "--bits", "100"]);
    assert_eq!(run.status, 1, "{run:?}");
}

#[test]
fn verify_exits_0_2_1_and_prints_floor_t_over_30() {
    for t in [
        0u64,
        29,
        30,
        59,
        1_700_000_000,
        1_700_000_029,
        8_589_934_591,
    ] {
        let time = t.to_string();
        let code = mfa_ok(&["totp", KEY, "--time", &time]);
        let step = mfa_ok(&["verify", KEY, &code, "--time", &time]);
        assert_eq!(step, (t / 30).to_string(), "T = {t}");
    }
    // RFC 6238: 287082 is the 6-digit code of step 1 (T = 59).
    assert_eq!(
        mfa_ok(&["verify", KEY, "287 082", "--time", "59", "--skew", "0"]),
        "1"
    );
    // One step later it still matches with the default skew of one step...
    assert_eq!(mfa_ok(&["verify", KEY, "287082", "--time", "60"]), "1");
    // ...but not with --skew 0, and not two steps later.
    for args in [
        &["verify", KEY, "287082", "--time", "60", "--skew", "0"][..],
        &["verify", KEY, "287082", "--time", "90"],
    ] {
        let run = mfa(args);
        assert_eq!(run.status, 2, "{args:?}: {run:?}");
        assert_eq!(run.stdout, "");
        assert_eq!(run.stderr, "no match\n");
    }
    // A forward skew accepts a code from the next step.
    assert_eq!(
        mfa_ok(&["verify", KEY, "287082", "--time", "29", "--skew", "1"]),
        "1"
    );
    // A code of the wrong length is bad input (1), not a code that fails to match (2).
    let run = mfa(&["verify", KEY, "28708", "--time", "59"]);
    assert_eq!(run.status, 1, "{run:?}");
}

#[test]
fn verify_with_period_and_t0() {
    let code = mfa_ok(&[
        "totp", KEY, "--period", "60", "--t0", "1000", "--time", "1500",
    ]);
    let step = mfa_ok(&[
        "verify", KEY, &code, "--period", "60", "--t0", "1000", "--time", "1500", "--skew", "0",
    ]);
    assert_eq!(step, ((1500 - 1000) / 60).to_string());
}
