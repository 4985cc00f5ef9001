//! The example's error type: what can go wrong while starting the service. A request's
//! failures are answered with [`mfa_axum::Problem`] (a status and a stable code), never with
//! this type.

/// Result alias of this example.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// A failure at start-up (or of the user table). No variant carries a code, token, secret or
/// password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The facade refused its configuration.
    #[error("the facade configuration was refused")]
    Config(#[from] mfa::ConfigError),
    /// The facade failed (store, delivery, randomness).
    #[error("the facade failed")]
    Mfa(#[from] mfa::Error),
    /// A phone number or address that does not parse, or a password hashing failure.
    #[error("invalid phone number or address, or hashing failed")]
    Core(#[from] mfa::core::Error),
    /// The SMS sender could not be configured.
    #[error("the SMS sender could not be configured")]
    Sms(#[from] mfa::mail::MailError),
    /// The PostgreSQL store failed at connection or migration.
    #[error("the PostgreSQL store failed")]
    Store(#[from] mfa_store_sql::Error),
    /// The web edge refused its configuration, or the session table could not be created.
    #[error("web edge: {0}")]
    Edge(#[from] mfa_axum::Error),
    /// The user name is already registered.
    #[error("this user name is taken")]
    UserExists,
    /// An I/O failure (binding the listener, serving, reading the key file).
    #[error("I/O failure")]
    Io(#[from] std::io::Error),
}
