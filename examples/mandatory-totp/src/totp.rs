//! The demo's stand-in for the user's phone: an authenticator reading the Key URI.

use mfa::core::{KeyUri, OtpKind, Totp, TotpParams};
use zeroize::Zeroizing;

use crate::error::Result;

/// The code an authenticator app that scanned `key_uri` shows at `unix` (seconds), with the
/// URI's algorithm, digits and period.
///
/// # Errors
/// [`Error::Password`](crate::Error::Password) (the core's error) for an unusable URI.
///
/// ```
/// // RFC 6238 Appendix B: SHA-1, 8 digits, T = 59 s.
/// let uri = "otpauth://totp/Acme:ada?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8";
/// let code = mandatory_totp::authenticator_code(uri, 59)?;
/// assert_eq!(code.as_str(), "94287082");
/// # Ok::<(), mandatory_totp::Error>(())
/// ```
pub fn authenticator_code(key_uri: &str, unix: u64) -> Result<Zeroizing<String>> {
    let uri = KeyUri::parse(key_uri)?;
    let mut params = TotpParams {
        algorithm: uri.algorithm,
        digits: uri.digits,
        ..TotpParams::default()
    };
    if let OtpKind::Totp { period } = uri.kind {
        params.period = period;
    }
    let code = Totp::new(&uri.secret, params).generate_at(unix)?;
    Ok(code.expose())
}
