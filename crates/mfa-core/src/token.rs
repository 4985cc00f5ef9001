//! URL-safe random tokens for magic links and trusted devices.

use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};

/// A 256-bit random token, written as 43 characters of unpadded base64url (RFC 4648 section
/// 5): safe in a URL path or query and in a cookie without escaping.
///
/// Store only its keyed digest ([`Pepper::digest_token`](crate::Pepper::digest_token)).
/// Zeroized on drop, redacted in `Debug`, compared in constant time; the text comes out only
/// through [`Token::expose`].
///
/// ```
/// use mfa_core::Token;
///
/// let token = Token::generate()?;
/// let link = format!("https://example.com/login?t={}", token.expose().as_str());
/// let back = Token::parse(link.rsplit('=').next().unwrap_or_default())?;
/// assert!(back.ct_eq(&token));
/// assert_eq!(format!("{back:?}"), "Token { .. }");
/// # Ok::<(), mfa_core::Error>(())
/// ```
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Token {
    bytes: [u8; Token::LEN],
}

impl Token {
    /// Length in bytes: 32 (256 bits).
    pub const LEN: usize = 32;
    /// Length of the text form: 43 base64url characters.
    pub const ENCODED_LEN: usize = 43;

    /// Draws a token from the operating system's random number generator.
    ///
    /// # Errors
    /// [`Error::Rng`] if the operating system cannot provide randomness.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; Self::LEN];
        getrandom::fill(&mut bytes).map_err(|_| Error::Rng)?;
        Ok(Self { bytes })
    }

    /// Draws a token from the given cryptographic RNG.
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; Self::LEN];
        rng.fill_bytes(&mut bytes);
        Self { bytes }
    }

    /// Parses the text form: exactly 43 base64url characters without padding, surrounding
    /// whitespace ignored. Strict otherwise: no padding, no standard-base64 `+` or `/`, and
    /// no non-canonical last character (so one token has exactly one spelling).
    ///
    /// # Errors
    /// [`Error::MalformedToken`] for anything else.
    pub fn parse(input: &str) -> Result<Self> {
        let text = input.trim();
        if text.len() != Self::ENCODED_LEN {
            return Err(Error::MalformedToken);
        }
        let mut bytes = [0u8; Self::LEN];
        let decoded_len = Base64UrlUnpadded::decode(text, &mut bytes)
            .map_err(|_| Error::MalformedToken)?
            .len();
        if decoded_len != Self::LEN {
            bytes.zeroize();
            return Err(Error::MalformedToken);
        }
        Ok(Self { bytes })
    }

    /// The token as 43 base64url characters, to put in a link or a cookie. The string is
    /// zeroized when dropped.
    #[must_use]
    pub fn expose(&self) -> Zeroizing<String> {
        Zeroizing::new(Base64UrlUnpadded::encode_string(&self.bytes))
    }

    /// Constant-time equality.
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        bool::from(self.bytes.ct_eq(&other.bytes))
    }

    /// The raw bytes, for digesting.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_form_is_43_url_safe_characters() {
        for _ in 0..200 {
            let token = Token::generate().unwrap();
            let text = token.expose();
            assert_eq!(text.len(), Token::ENCODED_LEN);
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
        }
        const { assert!(Token::LEN * 8 >= 256) };
    }

    #[test]
    fn parse_known_encoding() {
        // RFC 4648 base64url of bytes 0xfb 0xff repeated: exercises both URL-safe characters.
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = if i % 2 == 0 { 0xfb } else { 0xff };
        }
        let text = "-__7__v_-__7__v_-__7__v_-__7__v_-__7__v_-_8";
        let token = Token::parse(text).unwrap();
        assert_eq!(token.bytes(), &bytes);
        assert_eq!(token.expose().as_str(), text);
        assert!(Token::parse(&format!("  {text}\n")).is_ok());
    }

    #[test]
    fn parse_rejects_everything_else() {
        let good = Token::generate().unwrap().expose();
        let cases = [
            String::new(),
            good[..42].to_string(),
            format!("{}A", good.as_str()),
            format!("{}=", good.as_str()),
            good.replacen(&good[..1], "+", 1),
            good.replacen(&good[..1], "/", 1),
            good.replacen(&good[..1], "é", 1),
            format!("{} {}", &good[..20], &good[20..42]),
            // Last character with non-zero trailing bits: non-canonical.
            format!("{}B", &"A".repeat(42)),
        ];
        for case in cases {
            assert_eq!(
                Token::parse(&case).map(|_| ()),
                Err(Error::MalformedToken),
                "{case:?}"
            );
        }
        assert!(Token::parse(&format!("{}A", "A".repeat(42))).is_ok());
    }

    #[test]
    fn equality_and_debug() {
        let a = Token::generate().unwrap();
        let b = Token::parse(&a.expose()).unwrap();
        let c = Token::generate().unwrap();
        assert!(a.ct_eq(&b));
        assert!(!a.ct_eq(&c));
        let debug = format!("{a:?}");
        assert_eq!(debug, "Token { .. }");
        assert!(!debug.contains(a.expose().as_str()));
    }

    proptest! {
        #[test]
        fn expose_then_parse_round_trips(bytes in any::<[u8; 32]>()) {
            let token = Token { bytes };
            let back = Token::parse(&token.expose()).unwrap();
            prop_assert_eq!(back.bytes(), &bytes);
        }

        #[test]
        fn parse_never_panics(input in ".{0,80}") {
            let _ = Token::parse(&input);
        }

        #[test]
        fn parse_never_panics_on_url_alphabet(input in "[A-Za-z0-9_=+/-]{40,46}") {
            if let Ok(token) = Token::parse(&input) {
                let text = token.expose();
                prop_assert_eq!(text.as_str(), input.as_str());
            }
        }
    }
}
