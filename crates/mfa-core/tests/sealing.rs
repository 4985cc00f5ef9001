//! Sealing of TOTP secrets: round trips, tamper and move detection, rotation, hostile blobs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::TestRng;
use mfa_core::{Error, Keyring, SealedSecret, SealingKey, Secret};
use proptest::prelude::*;

fn key(byte: u8) -> SealingKey {
    SealingKey::from_bytes(&[byte; 32]).unwrap()
}

fn keyring() -> Keyring {
    Keyring::new(1, key(1))
}

#[test]
fn seal_then_open() {
    let secret = Secret::generate().unwrap();
    let sealed = keyring().seal(&secret, "alice", "totp-1").unwrap();
    let opened = keyring().open(&sealed, "alice", "totp-1").unwrap();
    assert_eq!(opened.expose_bytes(), secret.expose_bytes());
    // A fresh nonce each time: sealing twice gives different blobs.
    let again = keyring().seal(&secret, "alice", "totp-1").unwrap();
    assert_ne!(sealed.as_bytes(), again.as_bytes());
    // Through storage and back.
    let stored = sealed.clone().into_bytes();
    let loaded = SealedSecret::from_bytes(stored).unwrap();
    assert_eq!(loaded.key_id(), 1);
    assert!(keyring().open(&loaded, "alice", "totp-1").is_ok());
}

#[test]
fn a_moved_blob_does_not_open() {
    let secret = Secret::generate().unwrap();
    let sealed = keyring().seal(&secret, "alice", "totp-1").unwrap();
    for (user, factor) in [
        ("bob", "totp-1"),
        ("alice", "totp-2"),
        ("alicet", "otp-1"),
        ("", "alicetotp-1"),
    ] {
        assert_eq!(
            keyring().open(&sealed, user, factor).map(|_| ()),
            Err(Error::SealOpen),
            "{user}/{factor}"
        );
    }
    // Another key under the same id does not open it either.
    let other = Keyring::new(1, key(2));
    assert_eq!(
        other.open(&sealed, "alice", "totp-1").map(|_| ()),
        Err(Error::SealOpen)
    );
}

#[test]
fn a_relabelled_key_id_does_not_open() {
    // Key 1 and key 2 both present; a blob whose header is edited to claim key 2 fails.
    let keyring = Keyring::new(1, key(1)).with_key(2, key(1)).unwrap();
    let sealed = keyring
        .seal(&Secret::generate().unwrap(), "alice", "totp-1")
        .unwrap();
    let mut bytes = sealed.into_bytes();
    bytes[4] = 2;
    let relabelled = SealedSecret::from_bytes(bytes).unwrap();
    assert_eq!(relabelled.key_id(), 2);
    assert_eq!(
        keyring.open(&relabelled, "alice", "totp-1").map(|_| ()),
        Err(Error::SealOpen)
    );
}

#[test]
fn rotation() {
    let secret = Secret::generate().unwrap();
    let old = Keyring::new(1, key(1));
    let sealed = old.seal(&secret, "alice", "totp-1").unwrap();
    assert!(!old.needs_reseal(&sealed));

    let rotated = Keyring::new(1, key(1)).with_current(2, key(2)).unwrap();
    assert_eq!(rotated.current_key_id(), 2);
    assert!(rotated.needs_reseal(&sealed));
    let opened = rotated.open(&sealed, "alice", "totp-1").unwrap();
    assert_eq!(opened.expose_bytes(), secret.expose_bytes());

    let resealed = rotated.seal(&opened, "alice", "totp-1").unwrap();
    assert_eq!(resealed.key_id(), 2);
    assert!(!rotated.needs_reseal(&resealed));
    let via_reseal = rotated.reseal(&sealed, "alice", "totp-1").unwrap();
    assert!(!rotated.needs_reseal(&via_reseal));

    // Once every blob is resealed, key 1 can go; what still used it is then unknown.
    let retired = Keyring::new(2, key(2));
    assert!(retired.open(&resealed, "alice", "totp-1").is_ok());
    assert_eq!(
        retired.open(&sealed, "alice", "totp-1").map(|_| ()),
        Err(Error::UnknownKeyId(1))
    );
}

#[test]
fn keyring_rejects_duplicate_ids() {
    assert_eq!(
        Keyring::new(1, key(1)).with_key(1, key(2)).map(|_| ()),
        Err(Error::InvalidKeyring)
    );
    assert_eq!(
        Keyring::new(1, key(1)).with_current(1, key(2)).map(|_| ()),
        Err(Error::InvalidKeyring)
    );
    let k = Keyring::new(1, key(1)).with_key(0, key(0)).unwrap();
    assert_eq!(k.current_key_id(), 1);
}

#[test]
fn key_lengths_are_checked() {
    for len in [0, 16, 31, 33, 64] {
        assert_eq!(
            SealingKey::from_bytes(&vec![0; len]).map(|_| ()),
            Err(Error::InvalidKeyLength {
                bytes: len,
                expected: 32
            })
        );
    }
    let mut rng = TestRng(7);
    let a = SealingKey::generate_with_rng(&mut rng);
    let b = SealingKey::generate().unwrap();
    let secret = Secret::generate().unwrap();
    let sealed = Keyring::new(9, a).seal_with_rng(&mut rng, &secret, "u", "f");
    assert_eq!(sealed.key_id(), 9);
    assert_eq!(
        Keyring::new(9, b).open(&sealed, "u", "f").map(|_| ()),
        Err(Error::SealOpen)
    );
}

#[test]
fn secrets_of_every_accepted_length_round_trip() {
    let keyring = keyring();
    for bytes in [16, 20, 32, 64, 256] {
        let secret = Secret::from_bytes(&vec![0x5a; bytes]).unwrap();
        let sealed = keyring.seal(&secret, "u", "f").unwrap();
        assert_eq!(sealed.as_bytes().len(), 1 + 4 + 24 + bytes + 16);
        let back = SealedSecret::from_bytes(sealed.as_bytes().to_vec()).unwrap();
        assert_eq!(
            keyring.open(&back, "u", "f").unwrap().expose_bytes(),
            secret.expose_bytes()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn round_trip(
        secret in proptest::collection::vec(any::<u8>(), 16..=64),
        user in ".{0,40}",
        factor in ".{0,20}",
        seed in any::<u64>(),
    ) {
        let secret = Secret::from_bytes(&secret).unwrap();
        let sealed = keyring().seal_with_rng(&mut TestRng(seed), &secret, &user, &factor);
        let opened = keyring().open(&sealed, &user, &factor).unwrap();
        prop_assert_eq!(opened.expose_bytes(), secret.expose_bytes());
    }

    #[test]
    fn any_flipped_byte_never_opens(
        index in any::<prop::sample::Index>(),
        mask in 1u8..=255,
        seed in any::<u64>(),
    ) {
        let secret = Secret::generate().unwrap();
        let sealed = keyring().seal_with_rng(&mut TestRng(seed), &secret, "alice", "totp-1");
        let mut bytes = sealed.into_bytes();
        let i = index.index(bytes.len());
        bytes[i] ^= mask;
        // Either the structure is refused (version byte) or the blob fails to open.
        if let Ok(tampered) = SealedSecret::from_bytes(bytes) {
            let result = keyring().open(&tampered, "alice", "totp-1");
            prop_assert!(matches!(
                result,
                Err(Error::SealOpen | Error::UnknownKeyId(_))
            ));
        }
    }

    #[test]
    fn another_user_or_factor_never_opens(
        user in ".{0,20}",
        factor in ".{0,20}",
        other_user in ".{0,20}",
        other_factor in ".{0,20}",
    ) {
        prop_assume!(user != other_user || factor != other_factor);
        let sealed = keyring().seal(&Secret::generate().unwrap(), &user, &factor).unwrap();
        prop_assert_eq!(
            keyring().open(&sealed, &other_user, &other_factor).map(|_| ()),
            Err(Error::SealOpen)
        );
    }

    #[test]
    fn random_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        key_id in any::<u32>(),
    ) {
        let mut bytes = bytes;
        // Half of the cases get a valid header so that `open` runs on them too.
        if key_id % 2 == 0 && bytes.len() > 5 {
            bytes[0] = 1;
            bytes[1..5].copy_from_slice(&1u32.to_be_bytes());
        }
        if let Ok(sealed) = SealedSecret::from_bytes(bytes) {
            let _ = keyring().needs_reseal(&sealed);
            prop_assert!(keyring().open(&sealed, "alice", "totp-1").is_err());
        }
    }
}
