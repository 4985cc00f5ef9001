//! The remembered-device cookie: HttpOnly, SameSite=Lax, Secure when configured.

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use zeroize::Zeroizing;

/// The name of the remembered-device cookie.
pub const DEVICE_COOKIE: &str = "mfa_device";

/// How long a device stays remembered (the facade's trusted-device lifetime), in days.
pub const TRUSTED_DEVICE_DAYS: u32 = 30;

/// Whether the cookie carries the `Secure` attribute (only sent over HTTPS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CookieSecurity {
    /// `Secure`: for any deployment behind HTTPS.
    #[default]
    Secure,
    /// No `Secure` attribute: for plain-http development on localhost only.
    PlainHttpForDevelopment,
}

/// The `Set-Cookie` value that stores `token`.
pub(crate) fn set_device_cookie(token: &str, security: CookieSecurity) -> Option<HeaderValue> {
    let max_age = u64::from(TRUSTED_DEVICE_DAYS).saturating_mul(86_400);
    let secure = match security {
        CookieSecurity::Secure => "; Secure",
        CookieSecurity::PlainHttpForDevelopment => "",
    };
    let text = Zeroizing::new(format!(
        "{DEVICE_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ));
    let mut value = HeaderValue::from_str(&text).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// The remembered-device token of the request's `Cookie` headers, if any.
pub(crate) fn device_token(headers: &HeaderMap) -> Option<Zeroizing<String>> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == DEVICE_COOKIE).then(|| Zeroizing::new(value.to_owned()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_and_parsing() {
        let v = set_device_cookie("abc", CookieSecurity::Secure).unwrap();
        assert_eq!(
            v.to_str().unwrap(),
            "mfa_device=abc; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax; Secure"
        );
        let plain = set_device_cookie("abc", CookieSecurity::PlainHttpForDevelopment).unwrap();
        assert!(!plain.to_str().unwrap().contains("Secure"));
        assert!(plain.is_sensitive());
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; mfa_device=xyz; b=2"));
        assert_eq!(device_token(&headers).unwrap().as_str(), "xyz");
    }
}
