//! The example's error type: what can stop the service from starting. Failures while serving
//! are answered as `mfa_axum::Problem`s.

/// Result alias for this example.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// What can go wrong while wiring or starting the service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The facade failed (store, delivery, randomness).
    #[error("mfa: {0}")]
    Mfa(#[from] mfa::Error),
    /// An email address that does not parse.
    #[error("invalid email address: {0}")]
    Address(#[from] mfa::core::Error),
    /// The facade's configuration was refused at start-up.
    #[error("mfa configuration: {0}")]
    Config(#[from] mfa::ConfigError),
    /// The web edge's configuration was refused, or its session store failed.
    #[error("web edge: {0}")]
    Edge(#[from] mfa_axum::Error),
    /// PostgreSQL failed or was unreachable.
    #[error("postgres: {0}")]
    Sql(#[from] mfa_store_sql::Error),
    /// Redis failed or was unreachable.
    #[error("redis: {0}")]
    Redis(#[from] mfa_store_redis::Error),
    /// The mailer could not be set up.
    #[error("mail: {0}")]
    Mail(#[from] mfa::mail::MailError),
    /// The listening socket could not be opened, or serving failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The store name is neither `postgres` nor `redis`.
    #[error("unknown store: use `postgres` or `redis`")]
    UnknownStore,
    /// A setting from the command line or the environment is unusable.
    #[error("bad setting: {0}")]
    Setting(&'static str),
    /// The operating system's random number generator failed.
    #[error("randomness unavailable")]
    Rng,
}
