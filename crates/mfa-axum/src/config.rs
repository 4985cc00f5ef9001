//! [`EdgeConfig`]: the web edge's settings, checked once when the application starts.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use crate::cookie::{CookiePolicy, HostPrefix, MAX_COOKIE_AGE, Secure};
use crate::error::{Error, Result};
use crate::forwarded::ForwardedHeader;
use crate::headers::{DEFAULT_CSP, DEFAULT_HSTS, SecurityHeaders};
use crate::proxy::{ClientIpSource, TrustedProxies};

/// How browsers reach the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// Plain HTTP, for development on a local machine: cookies without `Secure`, no HSTS.
    PlainHttpForDevelopment,
    /// This process terminates TLS itself: clients connect to it directly.
    Tls,
    /// A reverse proxy or load balancer terminates TLS and forwards to this process. Requires
    /// [`EdgeConfigBuilder::trusted_proxies`]: without it every client would share the proxy's
    /// address.
    TlsBehindProxy,
}

impl core::str::FromStr for Transport {
    type Err = Error;

    /// `development` (plain HTTP), `tls`, or `tls-behind-proxy` (any case), as read from an
    /// environment variable.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for anything else.
    fn from_str(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "development" => Ok(Self::PlainHttpForDevelopment),
            "tls" => Ok(Self::Tls),
            "tls-behind-proxy" => Ok(Self::TlsBehindProxy),
            _ => Err(Error::InvalidSetting {
                what: "transport",
                expected: "development, tls or tls-behind-proxy",
            }),
        }
    }
}

impl Transport {
    /// Whether browsers see HTTPS.
    #[must_use]
    pub const fn is_tls(self) -> bool {
        !matches!(self, Self::PlainHttpForDevelopment)
    }
}

/// The validated settings of the web edge: client address, cookies, CSRF, security headers.
/// Cheap to clone (shared). Build it with [`EdgeConfig::builder`].
///
/// ```
/// use mfa_axum::{EdgeConfig, ForwardedHeader, Transport, TrustedProxies, Error};
///
/// // Behind one TLS-terminating proxy that writes X-Forwarded-For:
/// let edge = EdgeConfig::builder(Transport::TlsBehindProxy)
///     .trusted_proxies(ForwardedHeader::XForwardedFor, TrustedProxies::count(1)?)
///     .build()?;
/// assert!(edge.cookies().is_secure());
///
/// // The same without saying which proxies to trust refuses to start:
/// let refused = EdgeConfig::builder(Transport::TlsBehindProxy).build();
/// assert!(matches!(refused, Err(Error::ProxiesNotConfigured)));
/// # Ok::<(), mfa_axum::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct EdgeConfig(pub(crate) Arc<Inner>);

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) transport: Transport,
    pub(crate) client_ip: ClientIpSource,
    pub(crate) cookies: CookiePolicy,
    pub(crate) headers: SecurityHeaders,
    /// `scheme://host[:port]`, lower case.
    pub(crate) trusted_origins: Vec<String>,
    pub(crate) csrf_form_limit: usize,
    pub(crate) pages: Pages,
}

/// Where the guards send a browser they refuse (an HTML request; scripts get JSON).
#[derive(Debug, Clone)]
pub(crate) struct Pages {
    pub(crate) sign_in: String,
    pub(crate) second_factor: String,
    pub(crate) step_up: String,
    pub(crate) enrolment: String,
}

impl EdgeConfig {
    /// Starts a configuration for an application reached over `transport`.
    pub fn builder(transport: Transport) -> EdgeConfigBuilder {
        EdgeConfigBuilder {
            transport,
            client_ip: None,
            host_prefix: HostPrefix::default(),
            session_lifetime: Duration::from_secs(12 * 60 * 60),
            ticket_lifetime: Duration::from_secs(10 * 60),
            device_lifetime: Duration::from_secs(30 * 24 * 60 * 60),
            csp: DEFAULT_CSP.to_owned(),
            hsts: DEFAULT_HSTS.to_owned(),
            trusted_origins: Vec::new(),
            csrf_form_limit: DEFAULT_CSRF_FORM_LIMIT,
            pages: Pages {
                sign_in: "/login".to_owned(),
                second_factor: "/login/second-factor".to_owned(),
                step_up: "/step-up".to_owned(),
                enrolment: "/enroll".to_owned(),
            },
        }
    }

    /// How browsers reach the application.
    #[must_use]
    pub fn transport(&self) -> Transport {
        self.0.transport
    }

    /// Where client addresses come from.
    #[must_use]
    pub fn client_ip(&self) -> &ClientIpSource {
        &self.0.client_ip
    }

    /// The attributes of the crate's cookies.
    #[must_use]
    pub fn cookies(&self) -> &CookiePolicy {
        &self.0.cookies
    }

    /// The headers added to every response.
    #[must_use]
    pub fn security_headers(&self) -> &SecurityHeaders {
        &self.0.headers
    }
}

/// The largest `application/x-www-form-urlencoded` body the CSRF layer reads to find the token
/// (64 KiB): larger form posts are answered 413 unless they carry the token in the header.
pub const DEFAULT_CSRF_FORM_LIMIT: usize = 64 * 1024;

/// Settings for [`EdgeConfig`]; every check happens in [`build`](Self::build).
#[derive(Debug, Clone)]
#[must_use]
pub struct EdgeConfigBuilder {
    transport: Transport,
    client_ip: Option<ClientIpSource>,
    host_prefix: HostPrefix,
    session_lifetime: Duration,
    ticket_lifetime: Duration,
    device_lifetime: Duration,
    csp: String,
    hsts: String,
    trusted_origins: Vec<String>,
    csrf_form_limit: usize,
    pages: Pages,
}

impl EdgeConfigBuilder {
    /// The pages the guards send a refused browser to (a `303 See Other`; a request that does
    /// not accept HTML gets the JSON [`Problem`](crate::Problem) instead): sign-in (default
    /// `/login`), the second factor of a pending sign-in (`/login/second-factor`), step-up
    /// (`/step-up`) and enrolment (`/enroll`). Each must be a path on this site (`/...`, not
    /// `//...`).
    pub fn pages(
        mut self,
        sign_in: &str,
        second_factor: &str,
        step_up: &str,
        enrolment: &str,
    ) -> Self {
        self.pages = Pages {
            sign_in: sign_in.to_owned(),
            second_factor: second_factor.to_owned(),
            step_up: step_up.to_owned(),
            enrolment: enrolment.to_owned(),
        };
        self
    }

    /// Reads client addresses from `header`, as written by the proxies `trust` describes.
    pub fn trusted_proxies(mut self, header: ForwardedHeader, trust: TrustedProxies) -> Self {
        self.client_ip = Some(ClientIpSource::proxies(header, trust));
        self
    }

    /// Sets where client addresses come from ([`ClientIpSource::socket`] is the default unless
    /// the transport is [`Transport::TlsBehindProxy`], which has no default).
    pub fn client_ip(mut self, source: ClientIpSource) -> Self {
        self.client_ip = Some(source);
        self
    }

    /// Whether secure cookies get the `__Host-` prefix (default: they do).
    pub fn host_prefix(mut self, prefix: HostPrefix) -> Self {
        self.host_prefix = prefix;
        self
    }

    /// How long a session lives after it last changed (default 12 hours). Every sign-in step
    /// changes it, so this is at least the time from the last sign-in step.
    pub fn session_lifetime(mut self, lifetime: Duration) -> Self {
        self.session_lifetime = lifetime;
        self
    }

    /// `Max-Age` of the login-ticket cookie (default 10 minutes).
    pub fn login_ticket_lifetime(mut self, lifetime: Duration) -> Self {
        self.ticket_lifetime = lifetime;
        self
    }

    /// `Max-Age` of the trusted-device cookie (default 30 days, the facade's device lifetime).
    pub fn trusted_device_lifetime(mut self, lifetime: Duration) -> Self {
        self.device_lifetime = lifetime;
        self
    }

    /// Replaces the `Content-Security-Policy` (default [`DEFAULT_CSP`]).
    pub fn content_security_policy(mut self, policy: &str) -> Self {
        policy.clone_into(&mut self.csp);
        self
    }

    /// Replaces the `Strict-Transport-Security` value sent over TLS (default [`DEFAULT_HSTS`]).
    pub fn hsts(mut self, value: &str) -> Self {
        value.clone_into(&mut self.hsts);
        self
    }

    /// Accepts unsafe requests whose `Origin` is `origin` (`https://app.example.com`), for an
    /// application whose `Host` header, as it arrives, is not the name browsers use (a proxy
    /// that rewrites it). Without any, `Origin` must name the request's `Host`.
    pub fn trusted_origin(mut self, origin: &str) -> Self {
        self.trusted_origins.push(origin.to_owned());
        self
    }

    /// The largest form body the CSRF layer reads (default [`DEFAULT_CSRF_FORM_LIMIT`]).
    pub fn csrf_form_limit(mut self, bytes: usize) -> Self {
        self.csrf_form_limit = bytes;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::ProxiesNotConfigured`] for [`Transport::TlsBehindProxy`] without trusted
    /// proxies; [`Error::InvalidLifetime`] for a lifetime of zero or beyond 400 days;
    /// [`Error::InvalidOrigin`] for a trusted origin that is not `http(s)://host[:port]`;
    /// [`Error::InvalidHeaderValue`] for a CSP or HSTS value HTTP cannot carry.
    pub fn build(self) -> Result<EdgeConfig> {
        let client_ip = match (self.transport, self.client_ip) {
            (Transport::TlsBehindProxy, Some(source)) if source.is_behind_proxies() => source,
            (Transport::TlsBehindProxy, _) => return Err(Error::ProxiesNotConfigured),
            (_, source) => source.unwrap_or_default(),
        };
        for (what, lifetime) in [
            ("session", self.session_lifetime),
            ("login ticket cookie", self.ticket_lifetime),
            ("trusted device cookie", self.device_lifetime),
        ] {
            if lifetime < Duration::from_secs(1) || lifetime > MAX_COOKIE_AGE {
                return Err(Error::InvalidLifetime { what });
            }
        }
        for path in [
            &self.pages.sign_in,
            &self.pages.second_factor,
            &self.pages.step_up,
            &self.pages.enrolment,
        ] {
            let local = crate::guard::is_local_path(path) && HeaderValue::from_str(path).is_ok();
            if !local {
                return Err(Error::InvalidPagePath(path.clone()));
            }
        }
        let trusted_origins = self
            .trusted_origins
            .iter()
            .map(|o| normalise_origin(o).ok_or_else(|| Error::InvalidOrigin(o.clone())))
            .collect::<Result<Vec<_>>>()?;
        let header = |what, value: &str| {
            HeaderValue::from_str(value).map_err(|_| Error::InvalidHeaderValue { what })
        };
        let hsts = self
            .transport
            .is_tls()
            .then(|| header("Strict-Transport-Security", &self.hsts))
            .transpose()?;
        let headers = SecurityHeaders::new(header("Content-Security-Policy", &self.csp)?, hsts);
        let secure = if self.transport.is_tls() {
            Secure::Yes
        } else {
            Secure::No
        };
        Ok(EdgeConfig(Arc::new(Inner {
            transport: self.transport,
            client_ip,
            cookies: CookiePolicy {
                secure,
                prefix: self.host_prefix,
                session_age: self.session_lifetime,
                ticket_age: self.ticket_lifetime,
                device_age: self.device_lifetime,
            },
            headers,
            trusted_origins,
            csrf_form_limit: self.csrf_form_limit,
            pages: self.pages,
        })))
    }
}

/// `http(s)://host[:port]` (optionally with a trailing `/`) in lower case, or `None`.
pub(crate) fn normalise_origin(origin: &str) -> Option<String> {
    let lower = origin.trim().to_ascii_lowercase();
    let lower = lower.strip_suffix('/').unwrap_or(&lower);
    let (scheme, authority) = lower.split_once("://")?;
    let host_ok = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    (matches!(scheme, "http" | "https") && host_ok).then(|| format!("{scheme}://{authority}"))
}
