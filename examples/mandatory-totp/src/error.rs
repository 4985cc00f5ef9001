//! The example's error type: what can go wrong while starting the service. Failures of a
//! request are answered as pages ([`PageError`](crate::html)), never as this type.

/// Result alias for this example.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// What can go wrong while wiring or starting the service. No variant carries a password,
/// code, secret or token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The facade failed (store, delivery, randomness).
    #[error("mfa: {0}")]
    Mfa(#[from] mfa::Error),
    /// The facade's configuration was refused at start-up.
    #[error("mfa configuration: {0}")]
    Config(#[from] mfa::ConfigError),
    /// The web edge's configuration was refused at start-up.
    #[error("web edge: {0}")]
    Edge(#[from] mfa_axum::Error),
    /// An email address that does not parse.
    #[error("invalid email address: {0}")]
    Address(#[source] mfa::core::Error),
    /// Hashing or checking a password failed.
    #[error("password hashing: {0}")]
    Password(#[from] mfa::core::Error),
    /// Redis failed or was unreachable.
    #[error("redis: {0}")]
    Redis(#[from] mfa_store_redis::Error),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] mfa::store::StoreError),
    /// The mailer could not be set up.
    #[error("mail: {0}")]
    Mail(#[from] mfa::mail::MailError),
    /// The user name is already registered.
    #[error("this user name is taken")]
    UserExists,
    /// A setting of the service is unusable.
    #[error("bad setting: {0}")]
    Setting(String),
    /// Serving failed (binding the listener, accepting connections).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}
