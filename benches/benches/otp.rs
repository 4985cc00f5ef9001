#![allow(clippy::expect_used)] // benchmark fixtures: a failure means a broken set-up, not bad input
//! OTP engine benchmarks, each beside its peer (totp-rs 6) in the same run.
//!
//! `cargo bench -p mfa-benches --bench otp`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mfa_benches::{KEY_URI, RFC_SEED, TIME};
use mfa_core::{
    Algorithm, Code, Digits, Hotp, KeyUri, Keyring, SealingKey, Secret, Skew, Totp, TotpParams,
};

fn peer() -> totp_rs::Totp {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(RFC_SEED.to_vec())
        .with_account_name("bench")
        .build()
        .expect("a valid totp-rs configuration")
}

/// SHA-1, 6 digits, one step each way, same key and time for both crates. A right code is
/// the current step's; a wrong code matches no step of the window (checked below), so both
/// crates compute all three steps.
fn totp_verify(c: &mut Criterion) {
    let secret = Secret::from_bytes(RFC_SEED).expect("20-byte seed");
    let ours = Totp::new(&secret, TotpParams::default());
    let theirs = peer();
    let right = ours.generate_at(TIME).expect("time after T0").expose();
    let wrong = (0u32..)
        .map(|n| format!("{n:06}"))
        .find(|s| theirs.check(s, TIME).is_none())
        .expect("some six-digit code misses the window");
    assert!(theirs.check(&right, TIME).is_some());

    let mut group = c.benchmark_group("totp_verify");
    group.bench_function("mfa-core/valid", |b| {
        b.iter(|| {
            let code = Code::parse(black_box(&right), Digits::SIX).expect("six digits");
            black_box(ours.verify_at(&code, black_box(TIME), Skew::ONE_STEP))
        })
    });
    group.bench_function("mfa-core/invalid", |b| {
        b.iter(|| {
            let code = Code::parse(black_box(&wrong), Digits::SIX).expect("six digits");
            black_box(ours.verify_at(&code, black_box(TIME), Skew::ONE_STEP))
        })
    });
    group.bench_function("totp-rs/valid", |b| {
        b.iter(|| black_box(theirs.check(black_box(&right), black_box(TIME))))
    });
    group.bench_function("totp-rs/invalid", |b| {
        b.iter(|| black_box(theirs.check(black_box(&wrong), black_box(TIME))))
    });
    group.finish();
}

fn hotp_generate(c: &mut Criterion) {
    let secret = Secret::from_bytes(RFC_SEED).expect("20-byte seed");
    let mut group = c.benchmark_group("hotp_generate");
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        let hotp = Hotp::new(&secret, algorithm, Digits::SIX);
        group.bench_function(format!("mfa-core/{algorithm}"), |b| {
            b.iter(|| black_box(hotp.generate(black_box(1_234))))
        });
    }
    let theirs = peer();
    group.bench_function("totp-rs/SHA1", |b| {
        b.iter(|| black_box(theirs.generate(black_box(1_234 * 30))))
    });
    group.finish();
}

fn uri_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("uri_parse");
    group.bench_function("mfa-core", |b| {
        b.iter(|| black_box(KeyUri::parse(black_box(KEY_URI)).expect("valid URI")))
    });
    group.bench_function("totp-rs", |b| {
        b.iter(|| black_box(totp_rs::Totp::from_url(black_box(KEY_URI)).expect("valid URI")))
    });
    group.finish();
}

fn seal(c: &mut Criterion) {
    let keyring = Keyring::new(1, SealingKey::generate().expect("OS RNG"));
    let secret = Secret::from_bytes(RFC_SEED).expect("20-byte seed");
    let blob = keyring.seal(&secret, "user-42", "factor-7").expect("seal");
    let mut group = c.benchmark_group("seal");
    group.bench_function("seal", |b| {
        b.iter(|| black_box(keyring.seal(black_box(&secret), "user-42", "factor-7")))
    });
    group.bench_function("open", |b| {
        b.iter(|| black_box(keyring.open(black_box(&blob), "user-42", "factor-7")))
    });
    group.finish();
}

criterion_group!(benches, totp_verify, hotp_generate, uri_parse, seal);
criterion_main!(benches);
