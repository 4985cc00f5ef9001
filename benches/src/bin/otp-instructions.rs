//! Runs one OTP verification case many times, for `valgrind --tool=callgrind`: instruction
//! counts are repeatable on a shared, noisy machine where wall-clock ratios wobble.
//!
//! `benches/instructions.sh` runs every case under callgrind and prints the ratios; run one
//! case by hand with `otp-instructions CASE ITERATIONS` (case `none` measures the set-up alone).

#![allow(clippy::print_stdout, clippy::print_stderr)] // a measuring tool reports on the terminal

use std::hint::black_box;
use std::process::ExitCode;

use mfa_benches::{RFC_SEED, TIME};
use mfa_core::{Code, Digits, Secret, Skew, Totp, TotpParams};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_default();
    let Some(iterations) = args.next().and_then(|n| n.parse::<u64>().ok()) else {
        eprintln!(
            "usage: otp-instructions none|mfa-core/valid|mfa-core/invalid|totp-rs/valid|totp-rs/invalid ITERATIONS"
        );
        return ExitCode::from(2);
    };
    let Ok(secret) = Secret::from_bytes(RFC_SEED) else {
        return ExitCode::FAILURE;
    };
    let ours = Totp::new(&secret, TotpParams::default());
    let Ok(theirs) = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(RFC_SEED.to_vec())
        .with_account_name("bench")
        .build()
    else {
        return ExitCode::FAILURE;
    };
    let Ok(right) = ours.generate_at(TIME).map(|c| c.expose()) else {
        return ExitCode::FAILURE;
    };
    let Some(wrong) = (0u32..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|s| theirs.check(s, TIME).is_none())
    else {
        return ExitCode::FAILURE;
    };

    let mut matches = 0u64;
    for _ in 0..iterations {
        let hit = match case.as_str() {
            "none" => false,
            "mfa-core/valid" | "mfa-core/invalid" => {
                let typed = if case.ends_with("/valid") {
                    &right
                } else {
                    &wrong
                };
                Code::parse(black_box(typed), Digits::SIX)
                    .ok()
                    .and_then(|code| ours.verify_at(&code, black_box(TIME), Skew::ONE_STEP))
                    .is_some()
            }
            "totp-rs/valid" => theirs.check(black_box(&right), black_box(TIME)).is_some(),
            "totp-rs/invalid" => theirs.check(black_box(&wrong), black_box(TIME)).is_some(),
            _ => {
                eprintln!("unknown case {case}");
                return ExitCode::from(2);
            }
        };
        matches = matches.saturating_add(u64::from(hit));
    }
    println!("{case}: {matches} of {iterations} matched");
    ExitCode::SUCCESS
}
