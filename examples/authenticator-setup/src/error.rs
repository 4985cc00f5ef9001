//! The example's error type: what can go wrong while starting the service. A request's
//! failures are answered with [`mfa_axum::Problem`] (a status and a stable code), never with
//! this type.

/// Result alias of this example.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// A failure at start-up. No variant carries a code, token, secret or password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The facade failed (store, randomness).
    #[error("the second-factor service failed")]
    Mfa(#[from] mfa::Error),
    /// The facade refused its configuration.
    #[error("the facade configuration was refused")]
    Config(#[from] mfa::ConfigError),
    /// The web edge refused its configuration, or the session table could not be created.
    #[error("web edge: {0}")]
    Edge(#[from] mfa_axum::Error),
    /// The SQL store could not be opened or migrated.
    #[error("the store could not be opened")]
    Store(#[from] mfa_store_sql::Error),
    /// A setting is unusable.
    #[error("bad setting: {0}")]
    Setting(String),
    /// An I/O failure (binding the listener, serving, reading the key file).
    #[error("I/O failure")]
    Io(#[from] std::io::Error),
}
