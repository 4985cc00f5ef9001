//! The demo's one error type.

/// What can stop the demo from starting or from answering a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting (environment variable) is missing or invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// A file of the development state could not be read or written.
    #[error("I/O on the development state")]
    Io(#[from] std::io::Error),
    /// The web edge refused its configuration, or the session store failed.
    #[error(transparent)]
    Edge(#[from] mfa_axum::Error),
    /// The demo's own SQLite table of users failed.
    #[error("demo database")]
    Database(#[from] mfa_store_sql::sqlx::Error),
    /// The second-factor store could not be opened or migrated.
    #[error("second-factor store: {0}")]
    Store(String),
    /// The mfa facade failed.
    #[error(transparent)]
    Mfa(#[from] mfa::Error),
    /// The mfa facade refused its configuration.
    #[error(transparent)]
    MfaConfig(#[from] mfa::ConfigError),
    /// The mailer could not be set up.
    #[error("mailer")]
    Mail(#[from] mfa_mail::MailError),
    /// A cryptographic primitive failed (randomness, hashing).
    #[error("crypto")]
    Core(#[from] mfa::core::Error),
}

/// The demo's result type.
pub type Result<T, E = Error> = core::result::Result<T, E>;
