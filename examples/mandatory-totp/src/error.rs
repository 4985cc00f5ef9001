//! The example's error type.

/// Result alias for this example.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// What can go wrong while wiring or running the example (never a wrong password or code:
/// those are [`PasswordStep`](crate::PasswordStep) and [`FactorStep`](crate::FactorStep)
/// values).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The facade failed (store, delivery, randomness, an unauthorised management call).
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
    /// An SMTP setting from the environment is unusable.
    #[error("bad SMTP setting: {0}")]
    SmtpSetting(&'static str),
    /// The operating system's random number generator failed.
    #[error("randomness unavailable")]
    Rng,
}
