//! Opaque handles the application carries (challenge ids, magic-link and unlock tokens,
//! trusted-device tokens, step-up grants), parsed once at the application's edge, and the
//! digests the store keeps instead of them.

use core::fmt;
use core::str::FromStr;

use base64ct::{Base64UrlUnpadded, Encoding};
use mfa_core::{CodeDigest, Pepper, Token};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::Result;
use crate::purpose::digest;

macro_rules! handle {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        ///
        /// A 256-bit random token, written as 43 base64url characters. The store keeps only its
        /// keyed digest. Redacted in `Debug`, no `Display`: the text comes out only through
        /// [`expose`](Self::expose), and goes back in through [`FromStr`] (`text.parse()`), once,
        /// where the application reads it from a cookie, a form field or a JSON body.
        pub struct $name(pub(crate) Token);

        impl $name {
            /// The handle as 43 base64url characters, to put in a cookie, a JSON field or a
            /// URL. Zeroized when dropped.
            #[must_use]
            pub fn expose(&self) -> Zeroizing<String> {
                self.0.expose()
            }
        }

        impl FromStr for $name {
            type Err = mfa_core::Error;

            /// Parses the text [`expose`](Self::expose) gave.
            ///
            /// # Errors
            /// [`mfa_core::Error::MalformedToken`] for anything else (an application answers
            /// it like an unknown or expired handle).
            fn from_str(text: &str) -> core::result::Result<Self, Self::Err> {
                Token::parse(text.trim()).map(Self)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

handle!(
    /// The opaque id of a pending login, step-up or unlock challenge.
    ChallengeId
);
handle!(
    /// The token of a trusted ("remembered") device: give it back to
    /// [`Mfa::begin_login`](crate::Mfa::begin_login) or
    /// [`Mfa::password_step`](crate::Mfa::password_step); each use returns a new one.
    DeviceToken
);
handle!(
    /// A step-up grant: proof of a fresh second-factor verification, accepted by the
    /// management calls until it expires, or until a factor is removed, the password changes or
    /// an administrator resets the account (adding a factor keeps it).
    StepUpGrant
);
handle!(
    /// The token of an emailed magic link (the `token` query parameter of the link).
    MagicLinkToken
);
handle!(
    /// The token of an emailed unlock link (the `token` query parameter of the link).
    UnlockToken
);

/// Lower-case hex of a digest: the form challenge ids take in the store.
pub(crate) fn hex(digest: &CodeDigest) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in digest.as_bytes() {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The store id of a challenge whose handle is `token`, and the digest it is the hex of.
pub(crate) fn store_id(pepper: &Pepper, purpose: &str, token: &Token) -> (String, CodeDigest) {
    let digest = pepper.digest_token(purpose, "", token);
    (hex(&digest), digest)
}

/// A random id for a factor or a device (not secret): 96 bits as hex.
pub(crate) fn random_id(prefix: &str) -> Result<String> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|_| mfa_core::Error::Rng)?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{prefix}-{hex}"))
}

/// The raw 32 bytes of a token (mfa-core keeps them crate-private; its text form is canonical).
fn token_bytes(token: &Token) -> Option<Zeroizing<[u8; 32]>> {
    let mut out = Zeroizing::new([0u8; 32]);
    let text = token.expose();
    let len = Base64UrlUnpadded::decode(text.as_str(), out.as_mut_slice())
        .ok()?
        .len();
    (len == 32).then_some(out)
}

/// A decoy challenge id for an unknown address: 16 random bytes and a 16-byte tag under the
/// pepper, so the facade recognises it later without storing anything.
pub(crate) fn decoy(pepper: &Pepper) -> Result<ChallengeId> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    let (random, tag) = bytes.split_at_mut(16);
    getrandom::fill(random).map_err(|_| mfa_core::Error::Rng)?;
    let mac = pepper.digest(digest::DECOY, "", random);
    for (slot, byte) in tag.iter_mut().zip(mac.as_bytes()) {
        *slot = *byte;
    }
    let text = Zeroizing::new(Base64UrlUnpadded::encode_string(bytes.as_slice()));
    Ok(ChallengeId(Token::parse(&text)?))
}

/// Whether `token` is a decoy made by [`decoy`] under this pepper.
pub(crate) fn is_decoy(pepper: &Pepper, token: &Token) -> bool {
    let Some(bytes) = token_bytes(token) else {
        return false;
    };
    let (random, tag) = bytes.split_at(16);
    let mac = pepper.digest(digest::DECOY, "", random);
    let (expected, _) = mac.as_bytes().split_at(16);
    bool::from(expected.ct_eq(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoys_are_recognised_and_real_tokens_are_not() {
        let pepper = Pepper::from_bytes(&[9; 32]).unwrap();
        let d = decoy(&pepper).unwrap();
        assert!(is_decoy(&pepper, &d.0));
        let other = Pepper::from_bytes(&[8; 32]).unwrap();
        assert!(!is_decoy(&other, &d.0));
        for _ in 0..100 {
            assert!(!is_decoy(&pepper, &Token::generate().unwrap()));
        }
        assert_eq!(format!("{d:?}"), "ChallengeId { .. }");
    }

    #[test]
    fn handles_parse_back_what_they_expose_and_refuse_the_rest() {
        let id = ChallengeId(Token::generate().unwrap());
        let again: ChallengeId = id.expose().parse().unwrap();
        assert_eq!(again.expose(), id.expose());
        for bad in ["", "short", "203.0.113.7:443", &"A".repeat(44)] {
            assert!(bad.parse::<StepUpGrant>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hex_is_lower_case_and_64_long() {
        let h = hex(&CodeDigest::from_bytes([0xab; 32]));
        assert_eq!(h.len(), 64);
        assert!(h.starts_with("abab"));
    }
}
