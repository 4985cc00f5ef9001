//! [`CookiePolicy`]: the attributes of this crate's cookies, and setting, clearing and reading
//! them through axum-extra's [`CookieJar`].

use core::fmt;
use std::time::Duration;

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use tower_sessions::cookie::time;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The longest lifetime browsers keep a cookie (RFC 6265bis caps `Max-Age` at 400 days).
pub const MAX_COOKIE_AGE: Duration = Duration::from_secs(400 * 24 * 60 * 60);

/// Longest cookie value accepted (browsers keep about 4096 bytes per cookie).
const MAX_VALUE_LEN: usize = 4096;

/// Which of the crate's cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CookieKind {
    /// The session id (set by the session layer, [`EdgeConfig::session_layer`](crate::EdgeConfig::session_layer)).
    Session,
    /// A login ticket carried between the password step and the second factor, for an
    /// application that keeps it in a cookie rather than in the session.
    LoginTicket,
    /// The remembered-device token.
    TrustedDevice,
}

impl CookieKind {
    const fn base_name(self) -> &'static str {
        match self {
            Self::Session => "mfa_session",
            Self::LoginTicket => "mfa_ticket",
            Self::TrustedDevice => "mfa_device",
        }
    }
}

/// Whether cookies carry `Secure` (sent only over HTTPS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Secure {
    Yes,
    No,
}

/// Whether `Secure` cookies get the `__Host-` name prefix.
///
/// With the prefix a browser accepts the cookie only with `Secure`, `Path=/` and no `Domain`,
/// so a sibling subdomain (or a man in the middle on plain HTTP) cannot plant or overwrite it.
/// Without `Secure` (plain-HTTP development) the prefix is never used: browsers would refuse
/// the cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HostPrefix {
    /// `__Host-mfa_session`, ... whenever cookies are `Secure` (the default).
    #[default]
    WhenSecure,
    /// Plain names, for an application whose cookies must be readable on a path or shared with
    /// a subdomain (neither of which this crate's cookies need).
    Never,
}

/// The attributes of this crate's cookies: `HttpOnly`, `SameSite=Strict`, `Path=/`, an explicit
/// `Max-Age`, `Secure` when served over TLS, and the `__Host-` prefix on secure cookies unless
/// [`HostPrefix::Never`]. Built by [`EdgeConfig`](crate::EdgeConfig) from its transport.
///
/// `SameSite=Strict` means the browser sends none of these cookies on the first navigation
/// from another site (a link in an email): a page reached that way must not start a new
/// session, and should continue with a same-site step (a button or link the user follows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookiePolicy {
    pub(crate) secure: Secure,
    pub(crate) prefix: HostPrefix,
    pub(crate) session_age: Duration,
    pub(crate) ticket_age: Duration,
    pub(crate) device_age: Duration,
}

impl CookiePolicy {
    /// The cookie's name: `mfa_session`, `mfa_ticket` or `mfa_device`, with `__Host-` in front
    /// when cookies are `Secure` and the prefix is not turned off.
    #[must_use]
    pub fn name(&self, kind: CookieKind) -> String {
        let base = kind.base_name();
        if self.uses_host_prefix() {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    /// Whether cookies carry `Secure`.
    #[must_use]
    pub fn is_secure(&self) -> bool {
        self.secure == Secure::Yes
    }

    fn uses_host_prefix(&self) -> bool {
        self.is_secure() && self.prefix == HostPrefix::WhenSecure
    }

    /// The cookie's `Max-Age`.
    #[must_use]
    pub fn max_age(&self, kind: CookieKind) -> Duration {
        match kind {
            CookieKind::Session => self.session_age,
            CookieKind::LoginTicket => self.ticket_age,
            CookieKind::TrustedDevice => self.device_age,
        }
    }

    /// The `Set-Cookie` that stores `value` under `kind` with every attribute of the policy.
    #[must_use]
    pub fn cookie(&self, kind: CookieKind, value: &CookieValue) -> Cookie<'static> {
        self.with_attributes(kind, value.0.as_str().to_owned(), self.max_age(kind))
    }

    /// The `Set-Cookie` that makes the browser forget `kind`: empty, `Max-Age=0`, with the same
    /// `Path`, `Secure` and name prefix (a browser ignores a `__Host-` removal without them).
    #[must_use]
    pub fn removal(&self, kind: CookieKind) -> Cookie<'static> {
        let mut cookie = self.with_attributes(kind, String::new(), Duration::ZERO);
        cookie.set_expires(time::OffsetDateTime::UNIX_EPOCH);
        cookie
    }

    fn with_attributes(&self, kind: CookieKind, value: String, age: Duration) -> Cookie<'static> {
        let age = time::Duration::try_from(age).unwrap_or(time::Duration::ZERO);
        Cookie::build((self.name(kind), value))
            .http_only(true)
            .secure(self.is_secure())
            .same_site(SameSite::Strict)
            .path("/")
            .max_age(age)
            .build()
    }

    /// `jar` with `value` stored under `kind`; return the jar from the handler to send it.
    pub fn set(&self, jar: CookieJar, kind: CookieKind, value: &CookieValue) -> CookieJar {
        jar.add(self.cookie(kind, value))
    }

    /// `jar` with `kind` removed from the browser, whether or not the request carried it.
    pub fn clear(&self, jar: CookieJar, kind: CookieKind) -> CookieJar {
        jar.add(self.removal(kind))
    }

    /// The value the request carried under `kind`, if any and if it is a valid cookie value.
    /// Only the policy's own name is read: without `Secure` a `__Host-` cookie is not expected,
    /// and with the prefix an unprefixed cookie (which a subdomain could have planted) is
    /// ignored.
    #[must_use]
    pub fn get(&self, jar: &CookieJar, kind: CookieKind) -> Option<CookieValue> {
        let cookie = jar.get(&self.name(kind))?;
        CookieValue::new(cookie.value()).ok()
    }
}

/// A cookie value that is a secret (a session id, a ticket, a device token): zeroized on drop,
/// redacted in `Debug`, and checked to be a valid cookie value (RFC 6265 `cookie-octet`s, at
/// most 4096 bytes) so it is sent back exactly as given.
#[derive(Clone, PartialEq, Eq)]
pub struct CookieValue(Zeroizing<String>);

impl CookieValue {
    /// Takes `value` if it is a valid cookie value.
    ///
    /// # Errors
    /// [`Error::InvalidCookieValue`] for an empty value, a control character, a space, `"`,
    /// `,`, `;`, `\`, a non-ASCII character, or more than 4096 bytes.
    pub fn new(value: &str) -> Result<Self> {
        let ok = !value.is_empty()
            && value.len() <= MAX_VALUE_LEN
            && value
                .bytes()
                .all(|b| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E));
        if ok {
            Ok(Self(Zeroizing::new(value.to_owned())))
        } else {
            Err(Error::InvalidCookieValue)
        }
    }

    /// The value, to hand to the code that checks it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CookieValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieValue").finish_non_exhaustive()
    }
}
