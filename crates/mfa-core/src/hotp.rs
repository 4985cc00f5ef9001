//! HOTP (RFC 4226): counter-based one-time codes, and the keyed HMAC that TOTP shares.

use hmac::{Hmac, KeyInit, Mac};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::code::Code;
use crate::params::{Algorithm, Digits};
use crate::secret::Secret;

/// An HMAC keyed once with the shared secret.
///
/// Keying costs two compression-function calls; cloning the keyed state costs none. Keeping it
/// keyed is what makes verifying a whole skew window cheap and allocation-free. The state is
/// zeroized on drop (the `zeroize` feature of the RustCrypto hash crates).
#[derive(Clone)]
enum KeyedMac {
    Sha1(Hmac<sha1::Sha1>),
    Sha256(Hmac<sha2::Sha256>),
    Sha512(Hmac<sha2::Sha512>),
}

impl KeyedMac {
    fn new(secret: &Secret, algorithm: Algorithm) -> Self {
        let key = secret.expose_bytes();
        match algorithm {
            Algorithm::Sha1 => Self::Sha1(keyed(key)),
            Algorithm::Sha256 => Self::Sha256(keyed(key)),
            Algorithm::Sha512 => Self::Sha512(keyed(key)),
        }
    }

    /// RFC 4226 section 5.3: HMAC of the big-endian counter, then dynamic truncation to 31 bits.
    fn truncated(&self, counter: u64) -> u32 {
        let msg = counter.to_be_bytes();
        match self {
            Self::Sha1(mac) => {
                dynamic_truncation(&mac.clone().chain_update(msg).finalize().into_bytes())
            }
            Self::Sha256(mac) => {
                dynamic_truncation(&mac.clone().chain_update(msg).finalize().into_bytes())
            }
            Self::Sha512(mac) => {
                dynamic_truncation(&mac.clone().chain_update(msg).finalize().into_bytes())
            }
        }
    }
}

/// Keys an HMAC. HMAC accepts keys of every length (longer ones are hashed first), so
/// `new_from_slice` cannot fail; hmac's own `KeyInit::new` relies on the same fact.
#[allow(clippy::expect_used)]
fn keyed<M: KeyInit>(key: &[u8]) -> M {
    M::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// RFC 4226 section 5.4: the low nibble of the last byte picks four bytes, read as a 31-bit
/// big-endian integer.
fn dynamic_truncation(hash: &[u8]) -> u32 {
    let offset = usize::from(hash.last().copied().unwrap_or(0) & 0x0f);
    match hash.get(offset..offset.saturating_add(4)) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a & 0x7f, b, c, d]),
        // Unreachable: every hash here is at least 20 bytes and offset + 4 <= 19.
        _ => 0,
    }
}

/// An HOTP generator (RFC 4226) with its key prepared for repeated use.
///
/// ```
/// use mfa_core::{Algorithm, Digits, Hotp, Secret};
///
/// // RFC 4226 Appendix D: the secret is the ASCII string "12345678901234567890".
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let hotp = Hotp::new(&secret, Algorithm::Sha1, Digits::SIX);
/// assert_eq!(hotp.generate(1).expose().as_str(), "287082");
///
/// // The user's token is at counter 3 while the server expects 1: a look-ahead of 5
/// // finds it and says which counter to store next.
/// let typed = mfa_core::Code::parse("969429", Digits::SIX)?;
/// assert_eq!(hotp.verify(&typed, 1, 5), Some(4));
/// # Ok::<(), mfa_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Hotp {
    mac: KeyedMac,
    algorithm: Algorithm,
    digits: Digits,
}

impl Hotp {
    /// Prepares an HOTP generator.
    #[must_use]
    pub fn new(secret: &Secret, algorithm: Algorithm, digits: Digits) -> Self {
        Self {
            mac: KeyedMac::new(secret, algorithm),
            algorithm,
            digits,
        }
    }

    /// The code for `counter`.
    #[must_use]
    pub fn generate(&self, counter: u64) -> Code {
        Code::from_value(self.value(counter), self.digits)
    }

    fn value(&self, counter: u64) -> u64 {
        u64::from(self.mac.truncated(counter)) % self.digits.modulus()
    }

    /// Verifies `code` against counters `counter ..= counter + look_ahead`.
    ///
    /// Every counter in the window is computed and compared in constant time, without early
    /// exit. Returns the counter the server must store next (the matched counter plus one),
    /// or `None`. The window stops at `u64::MAX` instead of wrapping; when the matched counter
    /// is `u64::MAX` the generator is exhausted and `None` is returned, because no next
    /// counter exists.
    #[must_use]
    pub fn verify(&self, code: &Code, counter: u64, look_ahead: u32) -> Option<u64> {
        let last = counter.saturating_add(u64::from(look_ahead));
        self.match_in(code, counter, last)
            .and_then(|matched| matched.checked_add(1))
    }

    /// Constant-time search of `first ..= last`; returns the highest matching counter.
    pub(crate) fn match_in(&self, code: &Code, first: u64, last: u64) -> Option<u64> {
        if code.digits() != self.digits {
            return None;
        }
        let wanted = code.value();
        let mut found = Choice::from(0);
        let mut matched = 0u64;
        let mut counter = first;
        loop {
            let hit = self.value(counter).ct_eq(&wanted);
            matched.conditional_assign(&counter, hit);
            found |= hit;
            if counter >= last {
                break;
            }
            counter = counter.saturating_add(1);
        }
        bool::from(found).then_some(matched)
    }

    /// The hash algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The number of digits of each code.
    #[must_use]
    pub fn digits(&self) -> Digits {
        self.digits
    }
}

impl core::fmt::Debug for Hotp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Hotp")
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_secret() -> Secret {
        Secret::from_bytes(b"12345678901234567890").unwrap()
    }

    /// RFC 4226 Appendix D: truncated values and 6-digit codes for counters 0 to 9.
    const APPENDIX_D: [(u32, &str); 10] = [
        (1_284_755_224, "755224"),
        (1_094_287_082, "287082"),
        (137_359_152, "359152"),
        (1_726_969_429, "969429"),
        (1_640_338_314, "338314"),
        (868_254_676, "254676"),
        (1_918_287_922, "287922"),
        (82_162_583, "162583"),
        (673_399_871, "399871"),
        (645_520_489, "520489"),
    ];

    #[test]
    fn rfc4226_appendix_d() {
        let hotp = Hotp::new(&rfc_secret(), Algorithm::Sha1, Digits::SIX);
        for (counter, (truncated, code)) in (0u64..).zip(APPENDIX_D) {
            assert_eq!(hotp.mac.truncated(counter), truncated, "counter {counter}");
            assert_eq!(
                hotp.generate(counter).expose().as_str(),
                code,
                "counter {counter}"
            );
        }
    }

    #[test]
    fn rfc4226_appendix_d_verification_resynchronises() {
        let hotp = Hotp::new(&rfc_secret(), Algorithm::Sha1, Digits::SIX);
        for (counter, (_, code)) in (0u64..).zip(APPENDIX_D) {
            let code = Code::parse(code, Digits::SIX).unwrap();
            assert_eq!(hotp.verify(&code, counter, 0), Some(counter + 1));
            assert_eq!(hotp.verify(&code, 0, 9), Some(counter + 1));
            if counter > 0 {
                assert_eq!(hotp.verify(&code, counter - 1, 0), None);
            }
            assert_eq!(hotp.verify(&code, counter + 1, 20), None);
        }
    }

    #[test]
    fn window_at_the_top_of_the_counter_space_neither_wraps_nor_panics() {
        let hotp = Hotp::new(&rfc_secret(), Algorithm::Sha1, Digits::SIX);
        let top = hotp.generate(u64::MAX);
        // The last counter matches but has no successor: exhausted.
        assert_eq!(hotp.verify(&top, u64::MAX - 2, u32::MAX), None);
        assert_eq!(hotp.match_in(&top, u64::MAX - 2, u64::MAX), Some(u64::MAX));
        let near = hotp.generate(u64::MAX - 1);
        assert_eq!(hotp.verify(&near, u64::MAX - 3, 10), Some(u64::MAX));
        // A code never matches counter 0 through wrapping.
        let zero = hotp.generate(0);
        assert_eq!(hotp.verify(&zero, u64::MAX - 1, u32::MAX), None);
    }

    #[test]
    fn a_code_of_other_length_never_matches() {
        let hotp = Hotp::new(&rfc_secret(), Algorithm::Sha1, Digits::EIGHT);
        let six = Code::parse("755224", Digits::SIX).unwrap();
        assert_eq!(hotp.verify(&six, 0, 0), None);
    }

    #[test]
    fn debug_shows_no_key_material() {
        let hotp = Hotp::new(&rfc_secret(), Algorithm::Sha1, Digits::SIX);
        assert_eq!(
            format!("{hotp:?}"),
            "Hotp { algorithm: Sha1, digits: Digits(6), .. }"
        );
    }
}
