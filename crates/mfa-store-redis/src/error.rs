//! The error of setting up a [`RedisStore`](crate::RedisStore), and how driver errors become
//! [`StoreError`]s.

use mfa_store::StoreError;
use redis::{ErrorKind, RedisError, ServerErrorKind};

/// Result alias for this crate's set-up calls.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// The error code a script answers when its slot's data-loss marker is missing, or when a
/// record it knows was written is gone.
pub(crate) const DATA_LOSS_CODE: &str = "MFADATALOSS";

/// What can go wrong when building, checking or initialising a [`RedisStore`](crate::RedisStore).
///
/// Store operations return [`StoreError`]; this type is for construction, the deployment checks
/// of [`connect`](crate::RedisStore::connect) and [`initialise`](crate::RedisStore::initialise).
/// Each message says which setting to change or what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key prefix is not 1 to 64 characters of `A-Z a-z 0-9 _ - .`.
    #[error("invalid key prefix: {0}")]
    InvalidPrefix(&'static str),
    /// The connection URL could not be parsed.
    #[error("invalid redis URL")]
    InvalidUrl(#[source] RedisError),
    /// Settings that contradict each other ([`RedisConfig::validate`](crate::RedisConfig::validate)).
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    /// A server can evict keys, so it can silently delete a user's settings (`allkeys-*`) or
    /// counters and locks (`volatile-*`).
    #[error(
        "redis at {node} can evict the store's keys (maxmemory {maxmemory} bytes with \
         maxmemory-policy {policy}): set `maxmemory-policy noeviction` (or `maxmemory 0`); \
         EvictionCheck::Allow accepts it, for tests and development only"
    )]
    Evicting {
        /// The server (`host:port`).
        node: String,
        /// Its `maxmemory-policy`.
        policy: String,
        /// Its `maxmemory` in bytes.
        maxmemory: u64,
    },
    /// A server older than Redis 7.0 (the scripts use `PEXPIRETIME` and `PEXPIREAT .. GT`).
    #[error("redis at {node} runs version {version}: mfa-store-redis needs Redis 7.0 or later")]
    UnsupportedVersion {
        /// The server.
        node: String,
        /// The version it reports.
        version: String,
    },
    /// The configured [`Durability`](crate::Durability) cannot be had from a server.
    #[error("redis at {node} cannot provide the configured durability: {reason}")]
    Durability {
        /// The server.
        node: String,
        /// What is missing (`WAITAOF needs Redis 7.2`, `appendonly is off`).
        reason: &'static str,
    },
    /// No data-loss marker exists under the prefix.
    #[error(
        "no data-loss marker under prefix `{prefix}`: a NEW deployment must call \
         RedisStore::initialise(Initialisation::NewDeployment) once, from its provisioning (never \
         from application start-up); a deployment that already held data has LOST it (a flush, a \
         restart without persistence, a failover to an empty replica): restore it before serving"
    )]
    NotInitialised {
        /// The key prefix.
        prefix: String,
    },
    /// Some slots' data-loss markers are missing: those slots lost data.
    #[error(
        "{missing} of 16384 data-loss markers under prefix `{prefix}` are missing: the data in \
         those hash slots was lost (a flush, an eviction, a node restarted empty or a failover to \
         an empty replica); restore it, and only then accept the state with \
         RedisStore::initialise(Initialisation::AdoptExistingData)"
    )]
    DataLoss {
        /// The key prefix.
        prefix: String,
        /// How many markers are missing.
        missing: usize,
    },
    /// [`Initialisation::NewDeployment`](crate::Initialisation::NewDeployment) found keys under
    /// the prefix, so this is not a new deployment.
    #[error(
        "keys already exist under prefix `{prefix}`, so this is not a new deployment: if it \
         lost data, restore it; to accept its current contents as complete, use \
         Initialisation::AdoptExistingData"
    )]
    NotEmpty {
        /// The key prefix.
        prefix: String,
    },
    /// The server could not be reached, or a store operation failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Maps a driver error: a script's data-loss answer is [`StoreError::DataLoss`], a reply of
/// the wrong shape or a key of the wrong type is [`StoreError::Corrupt`], everything else
/// (connection trouble, timeouts, server errors) is [`StoreError::Unavailable`] (transient).
pub(crate) fn store_error(error: RedisError) -> StoreError {
    if error.code() == Some(DATA_LOSS_CODE) {
        // An error raised inside a script ends with " script: <sha>, on @user_script:<line>.".
        let detail = error.detail().unwrap_or("a data-loss marker is missing");
        let detail = detail.split(" script: ").next().unwrap_or(detail);
        return StoreError::data_loss(detail.to_owned());
    }
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

/// Whether the server refused the command without running it (a Cluster redirection, a slot
/// being migrated, a node loading or demoted to replica), so that it is safe to send again,
/// even a write.
pub(crate) fn is_refused_unrun(error: &RedisError) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Server(
            ServerErrorKind::Moved
                | ServerErrorKind::Ask
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::MasterDown
                | ServerErrorKind::BusyLoading
                | ServerErrorKind::ReadOnly
        )
    )
}

/// Whether the server does not have the script (`NOSCRIPT`): it did not run.
pub(crate) fn is_noscript(error: &RedisError) -> bool {
    error.kind() == ErrorKind::Server(ServerErrorKind::NoScript)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(reply: &[u8]) -> RedisError {
        redis::parse_redis_value(reply)
            .unwrap()
            .extract_error()
            .unwrap_err()
    }

    #[test]
    fn a_scripts_data_loss_answer_is_data_loss_with_its_reason() {
        let raised = server_error(
            b"-MFADATALOSS the settings record was written and is gone script: be2d, on @user_script:13.\r\n",
        );
        match store_error(raised) {
            StoreError::DataLoss(what) => {
                assert_eq!(what, "the settings record was written and is gone");
            }
            other => panic!("{other:?}"),
        }
        let returned =
            server_error(b"-MFADATALOSS the data-loss marker of this hash slot is missing\r\n");
        assert!(matches!(store_error(returned), StoreError::DataLoss(_)));
        assert!(!matches!(
            store_error(server_error(b"-OOM command not allowed\r\n")),
            StoreError::DataLoss(_)
        ));
    }

    #[test]
    fn refusals_that_did_not_run_are_told_apart() {
        assert!(is_refused_unrun(&server_error(
            b"-MOVED 3999 127.0.0.1:7002\r\n"
        )));
        assert!(is_refused_unrun(&server_error(
            b"-TRYAGAIN slot migrating\r\n"
        )));
        assert!(is_refused_unrun(&server_error(b"-LOADING loading\r\n")));
        assert!(!is_refused_unrun(&server_error(b"-ERR something\r\n")));
        assert!(is_noscript(&server_error(
            b"-NOSCRIPT No matching script\r\n"
        )));
    }
}
