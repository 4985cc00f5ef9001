//! Opaque handles the application carries (challenge ids, magic-link and unlock tokens,
//! trusted-device tokens, step-up grants), parsed once at the application's edge, and the
//! digests the store keeps instead of them.

use core::fmt;
use core::str::FromStr;

use mfa_core::{CodeDigest, Pepper, Token};
use zeroize::Zeroizing;

use crate::error::Result;

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

#[cfg(test)]
mod tests {
    use super::*;

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
