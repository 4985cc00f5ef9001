//! The trusted-device cookie: read it as a [`TrustedDevice`] extractor, write the token the
//! facade returns with [`CookiePolicy::remember_device`], clear it with
//! [`CookiePolicy::forget_device`].

use axum::extract::FromRequestParts;
use axum_extra::extract::cookie::CookieJar;
use http::request::Parts;
use mfa::DeviceToken;

use crate::client_ip::ClientIpRejection;
use crate::config::EdgeConfig;
use crate::cookie::{CookieKind, CookiePolicy, CookieValue};

/// The trusted-device token the request carried, if any and if it parses: give it to
/// [`Mfa::password_step`](mfa::Mfa::password_step) or
/// [`Mfa::begin_login`](mfa::Mfa::begin_login). The facade checks it (a token of another user,
/// revoked or expired, makes no difference but is no error). Needs [`EdgeConfig::layer`].
#[derive(Debug, Default)]
pub struct TrustedDevice(pub Option<DeviceToken>);

impl<S: Send + Sync> FromRequestParts<S> for TrustedDevice {
    type Rejection = ClientIpRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let config = parts
            .extensions
            .get::<EdgeConfig>()
            .ok_or(ClientIpRejection::MissingEdgeLayer)?;
        let jar = CookieJar::from_headers(&parts.headers);
        let token = config
            .cookies()
            .get(&jar, CookieKind::TrustedDevice)
            .and_then(|value| value.expose().parse().ok());
        Ok(Self(token))
    }
}

impl CookiePolicy {
    /// `jar` with the trusted-device cookie set to `token` (the facade's new token after a
    /// verification with [`VerifyOptions::trust_device`](mfa::VerifyOptions::trust_device), or
    /// the rotated one of [`LoginStart::TrustedDevice`](mfa::LoginStart::TrustedDevice)).
    pub fn remember_device(&self, jar: CookieJar, token: &DeviceToken) -> CookieJar {
        match CookieValue::new(&token.expose()) {
            Ok(value) => self.set(jar, CookieKind::TrustedDevice, &value),
            // A handle is base64url, always a valid cookie value.
            Err(_) => jar,
        }
    }

    /// `jar` with the trusted-device cookie removed from the browser.
    pub fn forget_device(&self, jar: CookieJar) -> CookieJar {
        self.clear(jar, CookieKind::TrustedDevice)
    }
}
