//! The one error type of `mfa-axum`.
//!
//! Configuration mistakes are found once, when [`EdgeConfig`](crate::EdgeConfig) is built, so an
//! application with an unsafe setup refuses to start instead of serving. No variant carries a
//! cookie value, a token or a session id.

/// Result alias for this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong in `mfa-axum`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- configuration, refused at start-up ---------------------------------------------------
    /// TLS is terminated by a reverse proxy, but the configuration does not say which proxies to
    /// trust. Without that, every client would seem to come from the proxy's address (one
    /// client's failures would lock everyone out), or a client could name its own address.
    #[error(
        "TLS is terminated by a proxy, but no trusted proxies are configured: say how many \
         proxies stand in front of the application or which networks they are in"
    )]
    ProxiesNotConfigured,
    /// A proxy count of zero: say [`ClientIpSource::socket`](crate::ClientIpSource::socket)
    /// for an application that clients reach directly.
    #[error("the number of trusted proxies must be at least 1")]
    ZeroProxies,
    /// An empty list of trusted proxy networks.
    #[error("the list of trusted proxy networks is empty")]
    NoProxyNetworks,
    /// A trusted proxy network that is not an address or a CIDR network.
    #[error("not an IP network (expected e.g. 10.0.0.0/8, fd00::/8 or 192.0.2.7): {0:?}")]
    InvalidNetwork(String),
    /// A trusted origin that is not `http(s)://host[:port]`.
    #[error("not an origin (expected https://host or https://host:port): {0:?}")]
    InvalidOrigin(String),
    /// A cookie or session lifetime of zero or beyond the 400 days browsers keep a cookie.
    #[error("the {what} lifetime must be between 1 second and 400 days")]
    InvalidLifetime {
        /// Which lifetime was refused.
        what: &'static str,
    },
    /// A setting read from text (an environment variable) that is not one of its values.
    #[error("invalid {what}: expected {expected}")]
    InvalidSetting {
        /// Which setting.
        what: &'static str,
        /// The values accepted, in words.
        expected: &'static str,
    },
    /// A guard's page that is not a path on this site (`/...`).
    #[error("not a local path (expected /login or the like): {0:?}")]
    InvalidPagePath(String),
    /// A header value the configuration supplied that HTTP cannot carry.
    #[error("the {what} header value is not a valid HTTP header value")]
    InvalidHeaderValue {
        /// Which header.
        what: &'static str,
    },

    // --- requests ----------------------------------------------------------------------------
    /// A value that cannot be a cookie value (control characters, spaces, `"`, `,`, `;`, `\`,
    /// or longer than 4096 bytes). The value itself is not kept.
    #[error("not a valid cookie value")]
    InvalidCookieValue,
    /// The operating system gave no randomness for a token.
    #[error("the operating system's random number generator failed")]
    Rng,
    /// The session store failed (read, write or id rotation): nothing was granted.
    #[error("session store: {0}")]
    Session(#[source] tower_sessions::session::Error),
    /// The SQL session store failed.
    #[cfg(feature = "sqlx")]
    #[error("session database: {0}")]
    Database(#[source] sqlx::Error),
    /// A table prefix outside `[a-z0-9_]`, starting with a digit, or longer than 32 characters.
    #[cfg(feature = "sqlx")]
    #[error(
        "invalid table prefix: only [a-z0-9_] allowed, not starting with a digit, at most 32 \
         characters"
    )]
    InvalidTablePrefix,
}

impl Error {
    /// Whether retrying the same request later may succeed (the session store was unreachable
    /// or busy), as opposed to a configuration or input that will fail again.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Session(_) | Self::Rng => true,
            #[cfg(feature = "sqlx")]
            Self::Database(e) => matches!(
                e,
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
            ),
            _ => false,
        }
    }
}

impl From<tower_sessions::session::Error> for Error {
    fn from(e: tower_sessions::session::Error) -> Self {
        Self::Session(e)
    }
}
