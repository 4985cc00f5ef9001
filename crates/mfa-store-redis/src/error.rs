//! The error of setting up a [`RedisStore`](crate::RedisStore), and how driver errors become
//! [`StoreError`]s.

use mfa_store::StoreError;
use redis::{ErrorKind, RedisError, ServerErrorKind};

/// Result alias for this crate's set-up calls.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// What can go wrong when building a [`RedisStore`](crate::RedisStore).
///
/// Store operations return [`StoreError`]; this type is only for construction.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key prefix is not 1 to 64 characters of `A-Z a-z 0-9 _ - .`.
    #[error("invalid key prefix: {0}")]
    InvalidPrefix(&'static str),
    /// The connection URL could not be parsed.
    #[error("invalid redis URL")]
    InvalidUrl(#[source] RedisError),
    /// The server could not be reached (only from the eager [`connect`](crate::RedisStore::connect)).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Maps a driver error: connection trouble is [`StoreError::Unavailable`] (transient), a reply
/// of the wrong shape or a key of the wrong type is [`StoreError::Corrupt`].
pub(crate) fn store_error(error: RedisError) -> StoreError {
    match error.kind() {
        ErrorKind::Parse | ErrorKind::UnexpectedReturnType => {
            StoreError::corrupt("a redis reply of an unexpected shape")
        }
        ErrorKind::Server(ServerErrorKind::ResponseError) if error.code() == Some("WRONGTYPE") => {
            StoreError::corrupt("a redis key of the wrong type")
        }
        _ => StoreError::unavailable(error),
    }
}

/// Whether an error means the connection went away, so that an idempotent read may be sent
/// once more on the reconnected connection.
pub(crate) fn is_connection_lost(error: &RedisError) -> bool {
    error.is_io_error() || error.is_connection_dropped() || error.is_unrecoverable_error()
}
