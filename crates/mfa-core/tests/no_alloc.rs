//! Verifying a code against a prepared key allocates nothing: the hot path of every login
//! stays off the heap (no allocator contention, nothing left behind to zeroize).

use mfa_core::{Algorithm, Code, Digits, Hotp, Secret, Skew, Totp, TotpParams};

fn allocations_during(f: impl FnOnce()) -> u64 {
    allocation_counter::measure(f).count_total
}

#[test]
fn the_counter_sees_allocations() {
    // Without this, a counter that never counts would make the test below pass vacuously.
    assert!(allocations_during(|| drop(std::hint::black_box(vec![1u8; 16]))) >= 1);
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    assert!(
        allocations_during(|| drop(
            Totp::new(&secret, TotpParams::default())
                .generate_at(59)
                .unwrap()
                .expose()
        )) >= 1
    );
}

#[test]
fn verification_against_a_prepared_key_allocates_nothing() {
    for (algorithm, seed) in [
        (Algorithm::Sha1, &b"12345678901234567890"[..]),
        (Algorithm::Sha256, &b"12345678901234567890123456789012"[..]),
        (
            Algorithm::Sha512,
            &b"1234567890123456789012345678901234567890123456789012345678901234"[..],
        ),
    ] {
        let secret = Secret::from_bytes(seed).unwrap();
        let totp = Totp::new(
            &secret,
            TotpParams {
                algorithm,
                digits: Digits::EIGHT,
                ..TotpParams::default()
            },
        );
        let hotp = Hotp::new(&secret, algorithm, Digits::EIGHT);
        let right = totp.generate_at(1_234_567_890).unwrap();
        let wrong = Code::parse("00000000", Digits::EIGHT).unwrap();

        let n = allocations_during(|| {
            for _ in 0..100 {
                assert!(
                    totp.verify_at(&right, 1_234_567_890, Skew::ONE_STEP)
                        .is_some()
                );
                assert!(
                    totp.verify_after(&wrong, 1_234_567_890, Skew::ONE_STEP, Some(1))
                        .is_none()
                );
                assert!(hotp.verify(&wrong, 0, 10).is_none());
                let _ = Code::parse("1234 5678", Digits::EIGHT).unwrap();
            }
        });
        assert_eq!(n, 0, "{algorithm}: verification allocated {n} times");
    }
}
