//! Recovery codes: generation, parsing, locator and verifier, stored forms.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;

use common::TestRng;
use mfa_core::{Error, PasswordParams, Pepper, RecoveryCode, RecoveryHardening, RecoveryVerifier};
use proptest::prelude::*;

fn pepper() -> Pepper {
    Pepper::from_bytes(&[0x11; 32]).unwrap()
}

/// Small Argon2id parameters so the tests stay fast; production uses the default.
fn fast() -> RecoveryHardening {
    RecoveryHardening::Argon2id(PasswordParams::new(64, 1, 1).unwrap())
}

#[test]
fn a_default_set_has_distinct_codes_and_selectors() {
    for _ in 0..50 {
        let set = RecoveryCode::generate_set(RecoveryCode::DEFAULT_COUNT).unwrap();
        assert_eq!(set.len(), 10);
        let codes: HashSet<String> = set.iter().map(|c| c.expose().to_string()).collect();
        assert_eq!(codes.len(), 10);
        let selectors: HashSet<&str> = codes.iter().map(|c| &c[..4]).collect();
        assert_eq!(selectors.len(), 10);
        let locators: HashSet<[u8; 32]> = set
            .iter()
            .map(|c| *c.locator(&pepper(), "alice").as_bytes())
            .collect();
        assert_eq!(locators.len(), 10);
    }
    assert_eq!(RecoveryCode::generate_set(100).unwrap().len(), 100);
}

#[test]
fn a_set_drawn_from_a_given_rng_is_that_rngs_and_distinct() {
    let draw = |seed| -> Vec<String> {
        RecoveryCode::generate_set_with_rng(&mut TestRng(seed), 10)
            .unwrap()
            .iter()
            .map(|c| c.expose().to_string())
            .collect()
    };
    let set = draw(1);
    assert_eq!(set.len(), 10);
    assert_eq!(set.iter().collect::<HashSet<_>>().len(), 10);
    assert_eq!(draw(1), set, "the same seed, the same codes");
    assert_ne!(draw(2), set);
    assert_eq!(
        RecoveryCode::generate_set_with_rng(&mut TestRng(1), 0).map(|s| s.len()),
        Err(Error::InvalidRecoveryCodeCount {
            count: 0,
            max: RecoveryCode::MAX_COUNT,
        })
    );
}

#[test]
fn entropy_is_at_least_112_bits() {
    let alphabet = RecoveryCode::ALPHABET.len() as f64;
    let symbols = (RecoveryCode::GROUPS * RecoveryCode::GROUP_LEN) as f64;
    let bits = alphabet.log2() * symbols;
    assert!(bits >= 112.0, "NIST 800-63B 5.1.2.2: {bits}");
    assert_eq!(bits as usize, RecoveryCode::ENTROPY_BITS);
}

#[test]
fn shape_is_six_groups_of_four() {
    for _ in 0..100 {
        let code = RecoveryCode::generate().unwrap();
        let text = code.expose();
        assert_eq!(text.len(), 29);
        let groups: Vec<&str> = text.split('-').collect();
        assert_eq!(groups.len(), 6);
        for group in groups {
            assert_eq!(group.len(), 4);
            assert!(group.chars().all(|c| RecoveryCode::ALPHABET.contains(c)));
        }
    }
}

#[test]
fn parse_is_lenient_on_case_separators_and_look_alikes() {
    let canonical = RecoveryCode::parse("0123-4567-89AB-CDEF-GHJK-MNPQ").unwrap();
    for typed in [
        "0123-4567-89ab-cdef-ghjk-mnpq",
        "0123 4567 89AB CDEF GHJK MNPQ",
        "0123456789abcdefghjkmnpq",
        " o123-4567-89ab-cdef-ghjk-mnpq ",
        "0I23-4567-89AB-CDEF-GHJK-MNPQ",
        "0l23-4567-89AB-CDEF-GHJK-MNPQ",
        "01-23-45-67-89-AB-CD-EF-GH-JK-MN-PQ",
    ] {
        let code = RecoveryCode::parse(typed).unwrap();
        assert_eq!(
            code.expose().as_str(),
            "0123-4567-89AB-CDEF-GHJK-MNPQ",
            "{typed}"
        );
        assert!(
            code.matches(
                &canonical
                    .verifier(&pepper(), "u", RecoveryHardening::Peppered)
                    .unwrap(),
                &pepper(),
                "u"
            )
            .unwrap()
        );
    }
}

#[test]
fn parse_rejects_everything_else() {
    for typed in [
        "",
        "0123-4567-89AB-CDEF",
        "0123-4567-89AB-CDEF-GHJK-MNP",
        "0123-4567-89AB-CDEF-GHJK-MNPQ-0",
        "0123-4567-89AB-CDEF-GHJK-MNPU",
        "0123-4567-89AB-CDEF-GHJK-MNP!",
        "0123_4567_89AB_CDEF_GHJK_MNPQ",
        "0123-4567-89AB-CDEF-GHJK-MNPÉ",
        "０１２３-4567-89AB-CDEF-GHJK-MNPQ",
    ] {
        assert_eq!(
            RecoveryCode::parse(typed).map(|_| ()),
            Err(Error::MalformedRecoveryCode),
            "{typed}"
        );
    }
    let long = "A".repeat(100_000);
    assert!(RecoveryCode::parse(&long).is_err());
}

#[test]
fn locator_depends_on_the_first_group_and_user_only() {
    let a = RecoveryCode::parse("ABCD-0000-1111-2222-3333-4444").unwrap();
    let b = RecoveryCode::parse("ABCD-3333-4444-5555-6666-7777").unwrap();
    let c = RecoveryCode::parse("ABCE-0000-1111-2222-3333-4444").unwrap();
    let p = pepper();
    assert!(a.locator(&p, "alice").ct_eq(&b.locator(&p, "alice")));
    assert!(!a.locator(&p, "alice").ct_eq(&c.locator(&p, "alice")));
    assert!(!a.locator(&p, "alice").ct_eq(&a.locator(&p, "bob")));
    // The locator is not the verifier's digest.
    let RecoveryVerifier::Peppered(v) = a
        .verifier(&p, "alice", RecoveryHardening::Peppered)
        .unwrap()
    else {
        panic!("peppered verifier expected");
    };
    assert!(!v.ct_eq(&a.locator(&p, "alice")));
}

#[test]
fn matches_only_the_right_code_for_the_right_user() {
    let p = pepper();
    let code = RecoveryCode::parse("7K3M-Q9XP-2B4T-HW8R-J5N6-C1DG").unwrap();
    let one_off = RecoveryCode::parse("7K3M-Q9XP-2B4T-HW8R-J5N6-C1DH").unwrap();
    for hardening in [RecoveryHardening::Peppered, fast()] {
        let verifier = code.verifier(&p, "alice", hardening).unwrap();
        assert!(code.matches(&verifier, &p, "alice").unwrap());
        assert!(!one_off.matches(&verifier, &p, "alice").unwrap());
        let decoded = RecoveryVerifier::decode(&verifier.encode()).unwrap();
        assert!(code.matches(&decoded, &p, "alice").unwrap());
        assert!(!one_off.matches(&decoded, &p, "alice").unwrap());
    }
    let peppered = code
        .verifier(&p, "alice", RecoveryHardening::Peppered)
        .unwrap();
    assert!(!code.matches(&peppered, &p, "bob").unwrap());
    let other_pepper = Pepper::from_bytes(&[0x12; 32]).unwrap();
    assert!(!code.matches(&peppered, &other_pepper, "alice").unwrap());
}

#[test]
fn argon2id_verifier_from_an_independent_implementation() {
    // Made by argon2-cffi 25.1.0 (bindings to the reference C implementation):
    // argon2.low_level.hash_secret(b"7K3MQ9XP2B4THW8RJ5N6C1DG", b"recovery-salt-16", time_cost=1,
    //     memory_cost=64, parallelism=2, hash_len=32, type=Type.ID)
    // i.e. the hardened verifier is one Argon2id hash of the 24 symbols without dashes.
    let stored = "$argon2id$v=19$m=64,t=1,p=2$cmVjb3Zlcnktc2FsdC0xNg$\
                  3UtYUg/zXBdaWM5Qd+/VcDbsqkQGzLKRntCK4l8XHi8";
    let verifier = RecoveryVerifier::decode(stored).unwrap();
    assert_eq!(verifier.encode(), stored);
    let p = pepper();
    let code = RecoveryCode::parse("7k3m q9xp 2b4t hw8r j5n6 c1dg").unwrap();
    assert!(code.matches(&verifier, &p, "anyone").unwrap());
    let wrong = RecoveryCode::parse("7K3M-Q9XP-2B4T-HW8R-J5N6-C1DH").unwrap();
    assert!(!wrong.matches(&verifier, &p, "anyone").unwrap());
}

#[test]
fn encoded_forms() {
    let p = pepper();
    let code = RecoveryCode::generate().unwrap();
    let peppered = code
        .verifier(&p, "alice", RecoveryHardening::Peppered)
        .unwrap()
        .encode();
    assert!(peppered.starts_with("p1:"));
    assert_eq!(peppered.len(), 3 + 43);
    assert_eq!(
        RecoveryVerifier::decode(&peppered).unwrap().encode(),
        peppered
    );
    let hardened = code.verifier(&p, "alice", fast()).unwrap().encode();
    assert!(hardened.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
    assert_eq!(
        RecoveryVerifier::decode(&hardened).unwrap().encode(),
        hardened
    );
}

#[test]
fn malformed_encodings_are_errors() {
    let p = pepper();
    let good = RecoveryCode::generate()
        .unwrap()
        .verifier(&p, "alice", RecoveryHardening::Peppered)
        .unwrap()
        .encode();
    let b64 = &good[3..];
    for bad in [
        String::new(),
        "p1:".to_owned(),
        format!("p2:{b64}"),
        format!("P1:{b64}"),
        format!("p1:{}", &b64[1..]),
        format!("p1:{b64}A"),
        format!("p1:{b64}="),
        format!("p1:{}+", &b64[..42]),
        format!("p1: {b64}"),
        b64.to_owned(),
        "$argon2id$".to_owned(),
        "$argon2i$v=19$m=64,t=2,p=1$bWZhLWNvcmUtc2FsdC0xNg$\
         rBdRYz5Yx8mTDPDqKSpEo5kzVtvC0CD3OdZS2IEsvQI"
            .to_owned(),
        "$argon2id$v=19$m=4294967295,t=1,p=2$cmVjb3Zlcnktc2FsdC0xNg$\
         3UtYUg/zXBdaWM5Qd+/VcDbsqkQGzLKRntCK4l8XHi8"
            .to_owned(),
    ] {
        assert_eq!(
            RecoveryVerifier::decode(&bad).map(|_| ()),
            Err(Error::MalformedRecoveryVerifier),
            "{bad}"
        );
    }
}

#[test]
fn debug_never_shows_the_code() {
    let code = RecoveryCode::generate().unwrap();
    let text = code.expose();
    let debug = format!("{code:?}");
    assert_eq!(debug, "RecoveryCode { .. }");
    assert!(!debug.contains(&text[..4]));
    let v = code.verifier(&pepper(), "u", fast()).unwrap();
    assert_eq!(
        format!("{v:?}"),
        "RecoveryVerifier { form: \"argon2id\", .. }"
    );
}

proptest! {
    #[test]
    fn expose_then_parse_round_trips(seed in any::<[u8; 24]>()) {
        // Build a code from arbitrary symbols through the public parser.
        let text: String = seed
            .iter()
            .map(|b| RecoveryCode::ALPHABET.as_bytes()[usize::from(b & 31)] as char)
            .collect();
        let code = RecoveryCode::parse(&text).unwrap();
        let again = RecoveryCode::parse(&code.expose()).unwrap();
        prop_assert_eq!(again.expose().to_string(), code.expose().to_string());
        prop_assert_eq!(code.expose().replace('-', ""), text);
    }

    #[test]
    fn parse_never_panics(input in ".{0,64}") {
        let _ = RecoveryCode::parse(&input);
    }

    #[test]
    fn decode_never_panics(input in "(p1:|\\$argon2id\\$)?.{0,120}") {
        let _ = RecoveryVerifier::decode(&input);
    }
}
