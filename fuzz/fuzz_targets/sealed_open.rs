//! Arbitrary bytes given as a sealed secret never panic and never open: without the key,
//! forging a blob that authenticates is the attack XChaCha20-Poly1305 rules out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_core::{Keyring, SealedSecret, SealingKey};

fuzz_target!(|data: &[u8]| {
    let keyring = Keyring::new(1, SealingKey::from_bytes(&[7u8; 32]).expect("32 bytes"));
    if let Ok(blob) = SealedSecret::from_bytes(data.to_vec()) {
        let _ = blob.key_id();
        let _ = keyring.needs_reseal(&blob);
        assert!(keyring.open(&blob, "user", "factor").is_err());
    }
});
