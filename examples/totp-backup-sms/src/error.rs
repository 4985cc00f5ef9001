//! The example's one error type.

/// Result alias of this example.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// What can go wrong in the example's flow. No variant carries a code, token or secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The facade refused its configuration at start-up.
    #[error("the facade configuration was refused")]
    Config(#[from] mfa::ConfigError),
    /// The facade failed (store, delivery, crypto) or a management call was not authorised.
    #[error("the facade failed")]
    Mfa(#[from] mfa::Error),
    /// A phone number (or email address) that does not parse.
    #[error("invalid phone number or address")]
    Address(#[from] mfa::core::Error),
    /// The SMS sender could not be configured.
    #[error("the SMS sender could not be configured")]
    Sms(#[from] mfa::mail::MailError),
    /// The PostgreSQL store failed at connection or migration.
    #[error("the PostgreSQL store failed")]
    Store(#[from] mfa_store_sql::Error),
    /// A factor could not be enrolled: its first code was wrong or late, or it is already on.
    #[error("the factor was not enrolled: {0}")]
    NotEnrolled(&'static str),
    /// A login or step-up could not start (the user has no factor, or is locked out).
    #[error("no challenge could be started: {0}")]
    NoChallenge(&'static str),
    /// The SMS was not sent (cooldown, quota, no SMS number for the user).
    #[error("the SMS was not sent: {0}")]
    NotSent(&'static str),
}
