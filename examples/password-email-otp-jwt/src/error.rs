//! The example's error type: what can stop the service from starting, and the few failures
//! of the application's own parts (users, tokens). Failures while serving are answered as
//! `mfa_axum::Problem`s.

/// Result alias for this example.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// What can go wrong while wiring or running the service (never a wrong password or code:
/// those are answers).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The facade failed (store, delivery, randomness).
    #[error("mfa: {0}")]
    Mfa(#[from] mfa::Error),
    /// The facade's configuration was refused at start-up.
    #[error("mfa configuration: {0}")]
    Config(#[from] mfa::ConfigError),
    /// An email address that does not parse.
    #[error("invalid email address: {0}")]
    Address(#[source] mfa::core::Error),
    /// Hashing or checking a password failed.
    #[error("password hashing: {0}")]
    Password(#[from] mfa::core::Error),
    /// The SQL store failed or was unreachable.
    #[error("sql store: {0}")]
    Sql(#[from] mfa_store_sql::Error),
    /// The mailer could not be set up.
    #[error("mail: {0}")]
    Mail(#[from] mfa::mail::MailError),
    /// A file could not be created or removed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Signing the session token failed.
    #[error("session token could not be signed")]
    Jwt,
    /// The user name is already registered.
    #[error("this user name is taken")]
    UserExists,
    /// The store name is neither `sqlite` nor `postgres`.
    #[error("unknown store: use `sqlite` or `postgres`")]
    UnknownStore,
    /// A setting from the command line or the environment is unusable.
    #[error("bad setting: {0}")]
    Setting(&'static str),
    /// The web edge's configuration was refused.
    #[error("web edge: {0}")]
    Edge(#[from] mfa_axum::Error),
    /// The operating system's random number generator failed.
    #[error("randomness unavailable")]
    Rng,
}
