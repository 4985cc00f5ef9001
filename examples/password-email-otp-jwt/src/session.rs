//! The session issued after both factors: an HS256 JWT with a short lifetime.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// How long a session token is accepted: 5 minutes.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// The claims of a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user signed in.
    pub sub: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expires at (Unix seconds).
    pub exp: u64,
    /// How the user authenticated (RFC 8176): `["pwd", "otp"]`.
    pub amr: Vec<String>,
}

/// The HMAC key session tokens are signed with (32 random bytes, zeroized on drop).
pub struct SessionKey(Zeroizing<[u8; 32]>);

impl SessionKey {
    /// A fresh key from the operating system's RNG.
    ///
    /// # Errors
    /// [`Error::Rng`] when the RNG fails.
    pub fn generate() -> Result<Self> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut()).map_err(|_| Error::Rng)?;
        Ok(Self(key))
    }

    /// A key from its 32 bytes (loaded from the application's secret storage).
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key bytes, for a verifier elsewhere (keep them secret).
    #[must_use]
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// Signs a token for `user` issued at `now` (Unix seconds), valid [`SESSION_LIFETIME`].
    pub(crate) fn issue(&self, user: &str, now: u64) -> Result<SessionToken> {
        let claims = Claims {
            sub: user.to_owned(),
            iat: now,
            exp: now.saturating_add(SESSION_LIFETIME.as_secs()),
            amr: vec!["pwd".to_owned(), "otp".to_owned()],
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(self.0.as_ref()),
        )
        .map_err(|_| Error::Jwt)?;
        Ok(SessionToken(Zeroizing::new(token)))
    }

    /// The claims of `token` if its HS256 signature is this key's and it has not expired at
    /// `now` (Unix seconds, no leeway); `None` otherwise.
    #[must_use]
    pub fn validate(&self, token: &str, now: u64) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["sub", "iat", "exp"]);
        // Expiry is checked against the application's clock below, not the system clock.
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(self.0.as_ref()),
            &validation,
        )
        .ok()?;
        (now < data.claims.exp).then_some(data.claims)
    }
}

impl core::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionKey").finish_non_exhaustive()
    }
}

/// A signed session token (a bearer credential: redacted in `Debug`, zeroized on drop).
pub struct SessionToken(Zeroizing<String>);

impl SessionToken {
    /// The token text, to send to the client.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionToken").finish_non_exhaustive()
    }
}
