//! Any text given to the Key URI parser yields a URI or a typed error, never a panic; a URI
//! that parses re-parses to the same fields after being built again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_core::KeyUri;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(uri) = KeyUri::parse(text) {
        let again = KeyUri::parse(&uri.to_uri()).expect("a built URI parses");
        assert_eq!(again.kind, uri.kind);
        assert_eq!(again.issuer, uri.issuer);
        assert_eq!(again.account, uri.account);
        assert_eq!(again.secret.expose_bytes(), uri.secret.expose_bytes());
        assert_eq!(again.algorithm, uri.algorithm);
        assert_eq!(again.digits, uri.digits);
    }
});
