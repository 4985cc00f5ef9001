//! Whatever a person types into a code, recovery-code or token field yields a value or a typed
//! error, never a panic; a parsed value shown again parses to an equal value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_core::{Code, Digits, RecoveryCode, Token};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for digits in 6..=10 {
        let digits = Digits::new(digits).expect("6..=10");
        if let Ok(code) = Code::parse(text, digits) {
            let again = Code::parse(&code.expose(), digits).expect("round trip");
            assert!(again.ct_eq(&code));
        }
    }
    if let Ok(code) = RecoveryCode::parse(text) {
        let again = RecoveryCode::parse(&code.expose()).expect("round trip");
        assert_eq!(again.expose(), code.expose());
    }
    if let Ok(token) = Token::parse(text) {
        let again = Token::parse(&token.expose()).expect("round trip");
        assert!(again.ct_eq(&token));
    }
});
