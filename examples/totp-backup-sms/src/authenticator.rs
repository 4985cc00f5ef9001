//! The user's authenticator app, simulated for the demo.

use core::fmt;

use mfa::core::{Secret, Totp, TotpParams};
use zeroize::Zeroizing;

use crate::error::Result;

/// An authenticator app's account (SHA-1, 6 digits, 30 s: what the facade enrols by default),
/// standing in for the phone in the demo. Redacted in `Debug`.
pub struct TotpAccount {
    totp: Totp,
}

impl TotpAccount {
    /// The account for a base32 secret, as typed into an app by hand.
    ///
    /// # Errors
    /// [`Error::Mfa`](crate::Error::Mfa) for a malformed secret.
    pub fn from_base32(secret: &str) -> Result<Self> {
        let secret = Secret::from_base32(secret).map_err(mfa::Error::from)?;
        Ok(Self {
            totp: Totp::new(&secret, TotpParams::default()),
        })
    }

    /// The code the app shows at `unix_secs`.
    ///
    /// # Errors
    /// [`Error::Mfa`](crate::Error::Mfa) for a time before the epoch of the TOTP.
    pub fn code_at(&self, unix_secs: u64) -> Result<Zeroizing<String>> {
        let code = self.totp.generate_at(unix_secs).map_err(mfa::Error::from)?;
        Ok(code.expose())
    }

    /// The code the app shows now.
    ///
    /// # Errors
    /// As [`code_at`](Self::code_at).
    pub fn code_now(&self) -> Result<Zeroizing<String>> {
        let code = self.totp.generate_now().map_err(mfa::Error::from)?;
        Ok(code.expose())
    }
}

impl fmt::Debug for TotpAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpAccount").finish_non_exhaustive()
    }
}
