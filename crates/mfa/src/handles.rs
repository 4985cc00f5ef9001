//! Opaque handles the application carries (challenge ids, trusted-device tokens, step-up grants)
//! and the digests the store keeps instead of them.

use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use mfa_core::{CodeDigest, Pepper, Token};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::Result;

macro_rules! handle {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        ///
        /// A 256-bit random [`Token`], written as 43 base64url characters. The store keeps only
        /// its keyed digest. Redacted in `Debug`; the text comes out only through `expose`.
        pub struct $name(pub(crate) Token);

        impl $name {
            /// The handle as 43 base64url characters, to put in a cookie, a JSON field or a
            /// header. Zeroized when dropped.
            #[must_use]
            pub fn expose(&self) -> Zeroizing<String> {
                self.0.expose()
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
    /// The opaque id of a pending login (or step-up) challenge.
    ChallengeId
);
handle!(
    /// The token of a trusted ("remembered") device: give it back to
    /// [`Mfa::begin_login`](crate::Mfa::begin_login); each use returns a new one.
    DeviceToken
);
handle!(
    /// A step-up grant: proof of a fresh second-factor verification, accepted by the
    /// management calls until it expires.
    StepUpGrant
);

/// Digest purposes, one per use, so a digest made for one never verifies for another.
pub(crate) mod purpose {
    pub(crate) const CHALLENGE_ID: &str = "mfa/challenge-id";
    pub(crate) const LINK_ID: &str = "mfa/magic-link-id";
    pub(crate) const LINK: &str = "mfa/magic-link";
    pub(crate) const LINK_BINDING: &str = "mfa/magic-link-binding";
    pub(crate) const STEP_UP_ID: &str = "mfa/step-up-id";
    pub(crate) const DEVICE: &str = "mfa/trusted-device";
    pub(crate) const EMAIL_CODE: &str = "mfa/email-code";
    pub(crate) const SMS_CODE: &str = "mfa/sms-code";
    pub(crate) const ENROL_ID: &str = "mfa/enrol-id";
    pub(crate) const ENROL_EMAIL: &str = "mfa/enrol-email";
    pub(crate) const ENROL_SMS: &str = "mfa/enrol-sms";
    pub(crate) const DECOY: &str = "mfa/decoy";
}

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

/// The store id of a challenge whose handle is `token`.
pub(crate) fn store_id(pepper: &Pepper, purpose: &str, token: &Token) -> (String, CodeDigest) {
    let digest = pepper.digest_token(purpose, "", token);
    (hex(&digest), digest)
}

/// A random id for a factor or a device (not secret): 96 bits as hex.
pub(crate) fn random_id(prefix: &str) -> Result<String> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|_| mfa_core::Error::Rng)?;
    let digest_like: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{prefix}-{digest_like}"))
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
    let mac = pepper.digest(purpose::DECOY, "", random);
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
    let mac = pepper.digest(purpose::DECOY, "", random);
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
    fn hex_is_lower_case_and_64_long() {
        let h = hex(&CodeDigest::from_bytes([0xab; 32]));
        assert_eq!(h.len(), 64);
        assert!(h.starts_with("abab"));
    }
}
