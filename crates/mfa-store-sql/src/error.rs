//! The error of setting a store up (configuration, connection, migration).
//!
//! Store *operations* return [`mfa_store::StoreError`], as the traits require; this type is for
//! what happens before the first operation.

/// Result alias for this crate's set-up calls.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything setting up a SQL store can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A table prefix or schema name has a character outside `[a-z0-9_]`, starts with a digit,
    /// or is too long; it is refused because it is spliced into SQL text.
    #[error(
        "invalid {what}: only [a-z0-9_] allowed, not starting with a digit, at most {max} characters"
    )]
    InvalidName {
        /// Which setting was refused (`"table prefix"` or `"schema"`).
        what: &'static str,
        /// The longest accepted length.
        max: usize,
    },
    /// The database could not be reached, or refused a statement.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// The database holds a schema version newer than this crate knows.
    #[error("the database schema is at version {found}, newer than the {known} this crate knows")]
    SchemaTooNew {
        /// The version found in the migrations table.
        found: i64,
        /// The newest version embedded in this crate.
        known: i64,
    },
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error)
    }
}

impl Error {
    /// Whether retrying later may succeed (the database was unreachable or timed out).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Database(e) if crate::convert::is_transient_sqlx(e))
    }
}
