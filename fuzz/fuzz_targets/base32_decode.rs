//! Any text given to the base32 secret decoders yields a secret or a typed error, never a
//! panic; a decoded secret encodes back to text that decodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_core::Secret;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Secret::from_base32(text);
    let _ = Secret::from_hex_legacy(text);
    if let Ok(secret) = Secret::from_base32_legacy(text) {
        let again = Secret::from_base32_legacy(&secret.to_base32()).expect("round trip");
        assert_eq!(again.expose_bytes(), secret.expose_bytes());
    }
});
