//! Recovery codes: readable one-time codes a user keeps on paper for when the second factor is
//! lost, and what a store keeps to recognise them.
//!
//! A code is 24 symbols of Crockford's base32 alphabet in six groups,
//! `XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`: 120 bits of entropy, above the 112 bits from which NIST SP
//! 800-63B (5.1.2.2) lets a look-up secret be stored under an approved one-way function
//! instead of a slow salted hash, so the default verifier is both compliant and O(1). The alphabet has no two look-alike symbols (no `I`, `L`, `O` or `U`), and
//! parsing maps the look-alikes a person may type (`O` to `0`, `I` and `L` to `1`).
//!
//! A store keeps two values per code, both bound to the user (the peppered digests are
//! [`Pepper::digest`] with purposes `mfa-core/recovery-code/locator` and
//! `mfa-core/recovery-code/verifier`):
//! - the **locator**, a peppered digest of the first group only (its 4 upper-case ASCII
//!   symbols, 20 bits), to find the row in O(1) without giving anyone holding pepper and
//!   database a fast oracle for the whole code;
//! - the **verifier**: by default a peppered digest of all 24 symbols (upper-case ASCII, no
//!   dashes), or one Argon2id hash of those 24 symbols ([`RecoveryHardening::Argon2id`]) for
//!   stores that must not depend on the pepper.

use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::digest::{CodeDigest, Pepper};
use crate::error::{Error, Result};
use crate::password::{PasswordHash, PasswordHasher, PasswordParams};

/// Crockford's base32 alphabet: digits and upper-case letters without `I`, `L`, `O`, `U`.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Purpose of the locator digest.
const LOCATOR_PURPOSE: &str = "mfa-core/recovery-code/locator";
/// Purpose of the peppered verifier digest.
const VERIFIER_PURPOSE: &str = "mfa-core/recovery-code/verifier";
/// Symbols per code.
const SYMBOLS: usize = RecoveryCode::GROUPS * RecoveryCode::GROUP_LEN;
/// Prefix of the encoded peppered verifier.
const PEPPERED_PREFIX: &str = "p1:";

/// A recovery code, `XXXX-XXXX-XXXX-XXXX-XXXX-XXXX` (120 bits).
///
/// Zeroized on drop, redacted in `Debug`; the symbols come out only through
/// [`RecoveryCode::expose`].
///
/// ```
/// use mfa_core::{Pepper, RecoveryCode, RecoveryHardening};
///
/// let pepper = Pepper::generate()?;
/// let set = RecoveryCode::generate_set(RecoveryCode::DEFAULT_COUNT)?; // show these once
/// let code = &set[0];
/// let locator = code.locator(&pepper, "user-42");                     // store both
/// let verifier = code.verifier(&pepper, "user-42", RecoveryHardening::Peppered)?;
///
/// let typed = RecoveryCode::parse(&code.expose().to_lowercase())?;   // what the user typed
/// assert_eq!(typed.locator(&pepper, "user-42").as_bytes(), locator.as_bytes());
/// assert!(typed.matches(&verifier, &pepper, "user-42")?);
/// # Ok::<(), mfa_core::Error>(())
/// ```
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RecoveryCode {
    groups: [[u8; RecoveryCode::GROUP_LEN]; RecoveryCode::GROUPS],
}

impl RecoveryCode {
    /// The number of codes in a set, as most providers issue: 10.
    pub const DEFAULT_COUNT: usize = 10;
    /// The largest set [`RecoveryCode::generate_set`] makes.
    pub const MAX_COUNT: usize = 100;
    /// The symbols a code is made of (Crockford's base32).
    pub const ALPHABET: &'static str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    /// Number of groups.
    pub const GROUPS: usize = 6;
    /// Symbols per group.
    pub const GROUP_LEN: usize = 4;
    /// Entropy of a code: 24 symbols of 5 bits.
    pub const ENTROPY_BITS: usize = 120;

    /// Draws a code from the operating system's random number generator.
    ///
    /// # Errors
    /// [`Error::Rng`] if the operating system cannot provide randomness.
    pub fn generate() -> Result<Self> {
        let mut random = Zeroizing::new([0u8; SYMBOLS]);
        getrandom::fill(random.as_mut_slice()).map_err(|_| Error::Rng)?;
        Ok(Self::from_random(&random))
    }

    /// Draws a code from the given cryptographic RNG.
    pub fn generate_with_rng<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut random = Zeroizing::new([0u8; SYMBOLS]);
        rng.fill_bytes(random.as_mut_slice());
        Self::from_random(&random)
    }

    /// Each random byte gives one symbol through its low 5 bits: 32 symbols, so uniform.
    fn from_random(random: &[u8; SYMBOLS]) -> Self {
        let mut groups = [[0u8; Self::GROUP_LEN]; Self::GROUPS];
        for (slot, byte) in groups.as_flattened_mut().iter_mut().zip(random) {
            *slot = ALPHABET
                .get(usize::from(byte & 0x1f))
                .copied()
                .unwrap_or(b'0');
        }
        Self { groups }
    }

    /// Draws `count` codes from the operating system's RNG, with distinct first groups so
    /// that each code's locator finds one row.
    ///
    /// # Errors
    /// [`Error::InvalidRecoveryCodeCount`] unless `1 <= count <= MAX_COUNT`, [`Error::Rng`] if
    /// the operating system cannot provide randomness.
    pub fn generate_set(count: usize) -> Result<Vec<Self>> {
        generate_distinct(count, Self::generate)
    }

    /// Draws `count` codes from the given RNG, with distinct first groups.
    ///
    /// # Errors
    /// [`Error::InvalidRecoveryCodeCount`] unless `1 <= count <= MAX_COUNT`; [`Error::Rng`] if
    /// the RNG keeps repeating itself (as no working RNG does).
    pub fn generate_set_with_rng<R: CryptoRng + ?Sized>(
        rng: &mut R,
        count: usize,
    ) -> Result<Vec<Self>> {
        generate_distinct(count, || Ok(Self::generate_with_rng(rng)))
    }

    /// Parses what a person typed: case-insensitive, spaces and dashes ignored anywhere, `O`
    /// read as `0` and `I`/`L` as `1`.
    ///
    /// # Errors
    /// [`Error::MalformedRecoveryCode`] for any other character or a count of symbols other
    /// than 24.
    pub fn parse(input: &str) -> Result<Self> {
        let mut groups = [[0u8; Self::GROUP_LEN]; Self::GROUPS];
        let mut slots = groups.as_flattened_mut().iter_mut();
        for c in input.chars() {
            if c.is_whitespace() || matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '－')
            {
                continue;
            }
            let symbol = match c.to_ascii_uppercase() {
                'O' => b'0',
                'I' | 'L' => b'1',
                c => u8::try_from(c)
                    .ok()
                    .filter(|b| ALPHABET.contains(b))
                    .ok_or(Error::MalformedRecoveryCode)?,
            };
            *slots.next().ok_or(Error::MalformedRecoveryCode)? = symbol;
        }
        if slots.next().is_some() {
            return Err(Error::MalformedRecoveryCode);
        }
        Ok(Self { groups })
    }

    /// The code in its grouped form `XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`, to show once. The string
    /// is zeroized when dropped.
    #[must_use]
    pub fn expose(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(SYMBOLS + RecoveryCode::GROUPS));
        for (i, group) in self.groups.iter().enumerate() {
            if i > 0 {
                out.push('-');
            }
            out.extend(group.iter().map(|&b| char::from(b)));
        }
        out
    }

    /// The 24 symbols without dashes: what the verifier digests or hashes.
    fn symbols(&self) -> &[u8] {
        self.groups.as_flattened()
    }

    /// The locator: the peppered digest of the first group (the "selector"), to find the
    /// stored row in O(1).
    #[must_use]
    pub fn locator(&self, pepper: &Pepper, user: &str) -> CodeDigest {
        let [selector, ..] = &self.groups;
        pepper.digest(LOCATOR_PURPOSE, user, selector)
    }

    /// The verifier to store beside the locator, salted from the operating system's RNG when
    /// hardened with Argon2id.
    ///
    /// # Errors
    /// [`Error::Rng`] if the operating system cannot provide randomness.
    pub fn verifier(
        &self,
        pepper: &Pepper,
        user: &str,
        hardening: RecoveryHardening,
    ) -> Result<RecoveryVerifier> {
        Ok(match hardening {
            RecoveryHardening::Peppered => RecoveryVerifier::Peppered(self.digest(pepper, user)),
            RecoveryHardening::Argon2id(params) => RecoveryVerifier::Argon2id(
                PasswordHasher::new(params).hash_password(self.symbols())?,
            ),
        })
    }

    /// As [`RecoveryCode::verifier`], salting from the given RNG.
    ///
    /// # Errors
    /// None in practice; the `Result` mirrors [`RecoveryCode::verifier`].
    pub fn verifier_with_rng<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        pepper: &Pepper,
        user: &str,
        hardening: RecoveryHardening,
    ) -> Result<RecoveryVerifier> {
        Ok(match hardening {
            RecoveryHardening::Peppered => RecoveryVerifier::Peppered(self.digest(pepper, user)),
            RecoveryHardening::Argon2id(params) => RecoveryVerifier::Argon2id(
                PasswordHasher::new(params).hash_password_with_rng(rng, self.symbols())?,
            ),
        })
    }

    fn digest(&self, pepper: &Pepper, user: &str) -> CodeDigest {
        pepper.digest(VERIFIER_PURPOSE, user, self.symbols())
    }

    /// Whether this code is the one `verifier` was made from, for `user`. Constant time for
    /// the peppered form; one Argon2id computation (with the stored parameters) otherwise.
    ///
    /// # Errors
    /// [`Error::MalformedPasswordHash`] if an Argon2id verifier cannot be recomputed.
    pub fn matches(
        &self,
        verifier: &RecoveryVerifier,
        pepper: &Pepper,
        user: &str,
    ) -> Result<bool> {
        match verifier {
            RecoveryVerifier::Peppered(stored) => Ok(self.digest(pepper, user).ct_eq(stored)),
            RecoveryVerifier::Argon2id(hash) => {
                PasswordHasher::default().verify_password(self.symbols(), hash)
            }
        }
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryCode").finish_non_exhaustive()
    }
}

/// Draws codes until `count` of them have distinct first groups, with a bounded number of
/// draws so that a broken RNG is an error rather than an endless loop.
fn generate_distinct(
    count: usize,
    mut draw: impl FnMut() -> Result<RecoveryCode>,
) -> Result<Vec<RecoveryCode>> {
    if count == 0 || count > RecoveryCode::MAX_COUNT {
        return Err(Error::InvalidRecoveryCodeCount {
            count,
            max: RecoveryCode::MAX_COUNT,
        });
    }
    let mut set: Vec<RecoveryCode> = Vec::with_capacity(count);
    // With 2^20 selectors and at most 100 codes a redraw is rare; 1000 extra draws never
    // happen with a working RNG.
    let mut budget = count.saturating_add(1000);
    while set.len() < count {
        budget = budget.checked_sub(1).ok_or(Error::Rng)?;
        let code = draw()?;
        let [selector, ..] = &code.groups;
        let taken = set.iter().any(|other| {
            let [other_selector, ..] = &other.groups;
            bool::from(other_selector.ct_eq(selector))
        });
        if !taken {
            set.push(code);
        }
    }
    Ok(set)
}

/// How recovery code verifiers are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoveryHardening {
    /// The verifier is the peppered digest of the whole code: fast, and safe as long as the
    /// pepper stays out of the database.
    #[default]
    Peppered,
    /// The verifier is one Argon2id hash of the whole code, for stores that must hold up
    /// without the pepper (a database reader who also holds the pepper then faces one slow
    /// hash per guess instead of one HMAC).
    Argon2id(PasswordParams),
}

/// What a store keeps to check a recovery code.
#[derive(Clone)]
#[non_exhaustive]
pub enum RecoveryVerifier {
    /// Peppered digest of the whole code.
    Peppered(CodeDigest),
    /// Argon2id hash of the whole code.
    Argon2id(PasswordHash),
}

impl RecoveryVerifier {
    /// A text form for one store column: `p1:` and 43 base64url characters for the peppered
    /// form, the PHC string (`$argon2id$...`) for the Argon2id form.
    #[must_use]
    pub fn encode(&self) -> String {
        match self {
            Self::Peppered(digest) => {
                let mut out = String::from(PEPPERED_PREFIX);
                out.push_str(&Base64UrlUnpadded::encode_string(digest.as_bytes()));
                out
            }
            Self::Argon2id(hash) => hash.as_str().to_owned(),
        }
    }

    /// Reads the text form made by [`RecoveryVerifier::encode`].
    ///
    /// # Errors
    /// [`Error::MalformedRecoveryVerifier`] for any other text.
    pub fn decode(text: &str) -> Result<Self> {
        if let Some(b64) = text.strip_prefix(PEPPERED_PREFIX) {
            let mut bytes = [0u8; 32];
            let decoded = Base64UrlUnpadded::decode(b64, &mut bytes)
                .map_err(|_| Error::MalformedRecoveryVerifier)?;
            if decoded.len() != bytes.len() {
                return Err(Error::MalformedRecoveryVerifier);
            }
            return Ok(Self::Peppered(CodeDigest::from_bytes(bytes)));
        }
        if text.starts_with("$argon2id$") {
            return PasswordHash::parse(text)
                .map(Self::Argon2id)
                .map_err(|_| Error::MalformedRecoveryVerifier);
        }
        Err(Error::MalformedRecoveryVerifier)
    }
}

impl fmt::Debug for RecoveryVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let form = match self {
            Self::Peppered(_) => "peppered",
            Self::Argon2id(_) => "argon2id",
        };
        f.debug_struct("RecoveryVerifier")
            .field("form", &form)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_has_no_look_alikes_and_gives_64_bits() {
        assert_eq!(RecoveryCode::ALPHABET.as_bytes(), ALPHABET);
        let mut sorted = ALPHABET.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 32);
        for look_alike in b"ILOU" {
            assert!(!ALPHABET.contains(look_alike));
        }
        let bits_per_symbol = f64::from(u32::try_from(ALPHABET.len()).unwrap()).log2();
        let symbols = RecoveryCode::GROUPS * RecoveryCode::GROUP_LEN;
        let bits = bits_per_symbol * symbols as f64;
        assert!(bits >= 64.0);
        assert_eq!(bits, RecoveryCode::ENTROPY_BITS as f64);
    }

    #[test]
    fn every_symbol_is_reachable() {
        let random: [u8; SYMBOLS] = core::array::from_fn(|i| u8::try_from(i * 2 + 192).unwrap());
        let code = RecoveryCode::from_random(&random);
        assert_eq!(code.expose().as_str(), "0246-8ACE-GJMP-RTWY-0246-8ACE");
        let random: [u8; SYMBOLS] = core::array::from_fn(|i| u8::try_from(i * 2 + 1).unwrap());
        assert_eq!(
            RecoveryCode::from_random(&random).expose().as_str(),
            "1357-9BDF-HKNQ-SVXZ-1357-9BDF"
        );
    }

    #[test]
    fn broken_rng_is_an_error_not_a_loop() {
        let result = generate_distinct(2, || Ok(RecoveryCode::from_random(&[0; SYMBOLS])));
        assert_eq!(result.map(|s| s.len()), Err(Error::Rng));
        for count in [0, RecoveryCode::MAX_COUNT + 1, usize::MAX] {
            assert_eq!(
                RecoveryCode::generate_set(count).map(|s| s.len()),
                Err(Error::InvalidRecoveryCodeCount {
                    count,
                    max: RecoveryCode::MAX_COUNT
                })
            );
        }
    }

    #[test]
    fn verifier_uses_the_documented_digest() {
        let pepper = Pepper::from_bytes(&[1; 32]).unwrap();
        let code = RecoveryCode::parse("ABCD-EFGH-JKMN-PQRS-TVWX-YZ01").unwrap();
        let expected = pepper.digest(VERIFIER_PURPOSE, "u", b"ABCDEFGHJKMNPQRSTVWXYZ01");
        let Ok(RecoveryVerifier::Peppered(digest)) =
            code.verifier(&pepper, "u", RecoveryHardening::Peppered)
        else {
            panic!("peppered verifier expected");
        };
        assert!(digest.ct_eq(&expected));
        let locator = pepper.digest(LOCATOR_PURPOSE, "u", b"ABCD");
        assert!(code.locator(&pepper, "u").ct_eq(&locator));
    }

    #[test]
    fn debug_is_redacted() {
        let code = RecoveryCode::parse("ABCD-EFGH-JKMN-PQRS-TVWX-YZ01").unwrap();
        assert_eq!(format!("{code:?}"), "RecoveryCode { .. }");
        let v = RecoveryVerifier::Peppered(CodeDigest::from_bytes([7; 32]));
        assert_eq!(
            format!("{v:?}"),
            "RecoveryVerifier { form: \"peppered\", .. }"
        );
    }
}
