//! Keyed digests: what a store keeps instead of a code, a token or a recovery code.
//!
//! A [`Pepper`] is a server-side key that never enters the database. [`Pepper::digest`] computes
//!
//! ```text
//! HMAC-SHA-256(pepper,
//!     "mfa-core/digest/v1" ||
//!     u64be(len(purpose)) || purpose ||
//!     u64be(len(user))    || user    ||
//!     u64be(len(value))   || value)
//! ```
//!
//! The fixed label versions the encoding and separates it from every other use of the key; the
//! 8-byte big-endian length before each field makes the encoding injective, so
//! `("ab", "c")` and `("a", "bc")` never share a digest. Someone who steals the database but not
//! the pepper cannot test guesses offline, and a digest made for one user or one purpose does
//! not verify for another.

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use rand_core::CryptoRng;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::code::Code;
use crate::error::{Error, Result};
use crate::token::Token;

/// The label that starts every digested message; bump the version to change the encoding.
pub(crate) const DIGEST_LABEL: &[u8] = b"mfa-core/digest/v1";

/// An HMAC-SHA-256 output under the server [`Pepper`]: what a store keeps for a code.
///
/// Compare with [`CodeDigest::ct_eq`]. There is deliberately no `PartialEq`/`Hash`: a map keys
/// on `*digest.as_bytes()`, which says in the code that bytes are being compared.
#[derive(Clone)]
pub struct CodeDigest {
    bytes: [u8; 32],
}

impl CodeDigest {
    /// A digest from its 32 bytes, as read back from a store.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self { bytes }
    }

    /// The 32 digest bytes, to store or to key a map.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Constant-time equality.
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        bool::from(self.bytes.ct_eq(&other.bytes))
    }
}

impl fmt::Debug for CodeDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeDigest").finish_non_exhaustive()
    }
}

/// The server key under which codes, tokens and recovery codes are digested.
///
/// At least 32 bytes (256 bits). Keep it outside the database (environment, secret manager):
/// the digests are only as strong as the pepper is secret. Zeroized on drop, redacted in
/// `Debug`, and without `Clone`, `Display` or `PartialEq`.
///
/// ```
/// use mfa_core::{Code, Digits, Pepper};
///
/// let pepper = Pepper::from_bytes(&[7; 32])?;
/// let sent = Code::parse("123456", Digits::SIX)?;
/// let stored = pepper.digest_code("email-login", "user-42", &sent);
/// let typed = Code::parse("123 456", Digits::SIX)?;
/// assert!(pepper.digest_code("email-login", "user-42", &typed).ct_eq(&stored));
/// assert!(!pepper.digest_code("email-login", "user-43", &typed).ct_eq(&stored));
/// # Ok::<(), mfa_core::Error>(())
/// ```
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Pepper {
    key: Box<[u8]>,
}

impl Pepper {
    /// The shortest pepper accepted: 32 bytes.
    pub const MIN_LEN: usize = 32;
    /// The longest pepper accepted: 64 bytes, the SHA-256 block size. HMAC hashes longer keys
    /// down to 32 bytes first, so they would add length without strength.
    pub const MAX_LEN: usize = 64;

    /// Takes a pepper of 32 to 64 bytes.
    ///
    /// # Errors
    /// [`Error::InvalidKeyLength`] for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < Self::MIN_LEN {
            return Err(Error::InvalidKeyLength {
                bytes: bytes.len(),
                expected: Self::MIN_LEN,
            });
        }
        if bytes.len() > Self::MAX_LEN {
            return Err(Error::InvalidKeyLength {
                bytes: bytes.len(),
                expected: Self::MAX_LEN,
            });
        }
        Ok(Self { key: bytes.into() })
    }

    /// Generates a 32-byte pepper from the operating system's random number generator.
    ///
    /// # Errors
    /// [`Error::Rng`] if the operating system cannot provide randomness.
    pub fn generate() -> Result<Self> {
        let mut key = vec![0u8; Self::MIN_LEN].into_boxed_slice();
        getrandom::fill(&mut key).map_err(|_| Error::Rng)?;
        Ok(Self { key })
    }

    /// Generates a 32-byte pepper from the given cryptographic RNG.
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut key = vec![0u8; Self::MIN_LEN].into_boxed_slice();
        rng.fill_bytes(&mut key);
        Self { key }
    }

    /// The keyed digest of `value`, bound to `purpose` (what the value is for, such as
    /// `"email-login"`) and `user`. The encoding is given in the module documentation.
    #[must_use]
    pub fn digest(&self, purpose: &str, user: &str, value: &[u8]) -> CodeDigest {
        CodeDigest::from_bytes(hmac_sha256(
            &self.key,
            &[
                DIGEST_LABEL,
                &len_be(purpose.as_bytes()),
                purpose.as_bytes(),
                &len_be(user.as_bytes()),
                user.as_bytes(),
                &len_be(value),
                value,
            ],
        ))
    }

    /// The keyed digest of a numeric code: [`Pepper::digest`] of its zero-padded decimal
    /// digits, so `012345` and `12345` (8 digits: `00012345`) differ.
    #[must_use]
    pub fn digest_code(&self, purpose: &str, user: &str, code: &Code) -> CodeDigest {
        self.digest(purpose, user, code.expose().as_bytes())
    }

    /// The keyed digest of a token: [`Pepper::digest`] of its 32 raw bytes.
    #[must_use]
    pub fn digest_token(&self, purpose: &str, user: &str, token: &Token) -> CodeDigest {
        self.digest(purpose, user, token.bytes())
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pepper").finish_non_exhaustive()
    }
}

/// The 8-byte big-endian length prefix of a field.
fn len_be(field: &[u8]) -> [u8; 8] {
    // usize is at most 64 bits on every target this crate builds for.
    (field.len() as u64).to_be_bytes()
}

/// HMAC-SHA-256 of the concatenation of `parts` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = keyed(key);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// HMAC accepts keys of every length (longer ones are hashed first), so `new_from_slice`
/// cannot fail; hmac's own `KeyInit::new` relies on the same fact.
#[allow(clippy::expect_used)]
fn keyed(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Digits;

    fn pepper() -> Pepper {
        Pepper::from_bytes(&[0x42; 32]).unwrap()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_sha256_rfc4231_test_cases() {
        // RFC 4231 section 4.3, test case 2: key "Jefe".
        let out = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex(&out),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // RFC 4231 section 4.2, test case 1: 20 bytes of 0x0b, "Hi There".
        let out = hmac_sha256(&[0x0b; 20], &[b"Hi There"]);
        assert_eq!(
            hex(&out),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn digest_is_the_documented_encoding() {
        // The message spelled out byte by byte as the module documentation gives it.
        let mut msg = b"mfa-core/digest/v1".to_vec();
        msg.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 5]);
        msg.extend_from_slice(b"login");
        msg.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 2]);
        msg.extend_from_slice(b"u1");
        msg.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 6]);
        msg.extend_from_slice(b"123456");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[0x42; 32]).unwrap();
        mac.update(&msg);
        let expected: [u8; 32] = mac.finalize().into_bytes().into();

        let code = Code::parse("123456", Digits::SIX).unwrap();
        assert_eq!(
            pepper().digest_code("login", "u1", &code).as_bytes(),
            &expected
        );
        assert_eq!(
            pepper().digest("login", "u1", b"123456").as_bytes(),
            &expected
        );
    }

    #[test]
    fn every_field_changes_the_digest() {
        let p = pepper();
        let base = p.digest("login", "alice", b"123456");
        assert!(base.ct_eq(&p.digest("login", "alice", b"123456")));
        assert!(!base.ct_eq(&p.digest("reset", "alice", b"123456")));
        assert!(!base.ct_eq(&p.digest("login", "bob", b"123456")));
        assert!(!base.ct_eq(&p.digest("login", "alice", b"123457")));
        let other = Pepper::from_bytes(&[0x43; 32]).unwrap();
        assert!(!base.ct_eq(&other.digest("login", "alice", b"123456")));
        // Length prefixes: moving a byte across a field boundary changes the digest.
        assert!(!p.digest("ab", "c", b"").ct_eq(&p.digest("a", "bc", b"")));
        assert!(!p.digest("a", "b", b"c").ct_eq(&p.digest("a", "", b"bc")));
    }

    #[test]
    fn codes_of_different_lengths_differ() {
        let p = pepper();
        let six = Code::parse("012345", Digits::SIX).unwrap();
        let eight = Code::parse("00012345", Digits::EIGHT).unwrap();
        assert!(
            !p.digest_code("x", "u", &six)
                .ct_eq(&p.digest_code("x", "u", &eight))
        );
    }

    #[test]
    fn pepper_length_is_checked() {
        assert_eq!(
            Pepper::from_bytes(&[1; 31]).map(|_| ()),
            Err(Error::InvalidKeyLength {
                bytes: 31,
                expected: 32
            })
        );
        assert!(Pepper::from_bytes(&[1; 32]).is_ok());
        assert!(Pepper::from_bytes(&[1; 64]).is_ok());
        assert!(Pepper::from_bytes(&[1; 65]).is_err());
        let a = Pepper::generate().unwrap();
        let b = Pepper::generate().unwrap();
        assert_ne!(a.key, b.key);
        assert_eq!(a.key.len(), 32);
    }

    #[test]
    fn debug_prints_nothing_of_the_bytes() {
        let p = pepper();
        assert_eq!(format!("{p:?}"), "Pepper { .. }");
        let d = CodeDigest::from_bytes([0xab; 32]);
        let debug = format!("{d:?}");
        assert_eq!(debug, "CodeDigest { .. }");
        assert!(!debug.to_lowercase().contains("ab"));
        assert_eq!(d.as_bytes(), &[0xab; 32]);
        assert!(d.ct_eq(&d.clone()));
        assert!(!d.ct_eq(&CodeDigest::from_bytes([0xac; 32])));
    }
}
