//! [`RedisStore`]: the connection, the key schema, and how scripts are run.

use std::fmt;

use mfa_store::{Result as StoreResult, StoreError};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Cmd, FromRedisValue, ScriptInvocation};

use crate::error::{is_connection_lost, store_error};
use crate::keys::Keys;
use crate::{Error, KeyPrefix, RedisConfig, Result, scripts};

/// Whether an operation may be sent again after the connection was lost mid-call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// A read (or a pure cleanup of stale index entries): sending it twice changes nothing a
    /// caller can see, so it is retried once on the reconnected connection.
    Idempotent,
    /// A write that counts or grants something: never resent. A lost reply is an
    /// [`StoreError::Unavailable`]; the write may or may not have happened, and the caller
    /// fails closed (an attempt whose reply was lost stays counted).
    Never,
}

/// A `mfa_store::Store` on Redis: every atomic operation is one Lua script on keys of one hash
/// tag, records expire by TTL, time comes from the caller.
///
/// Cheap to clone (the clones share one multiplexed, auto-reconnecting connection).
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    pub(crate) keys: Keys,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", self.keys.prefix())
            .finish_non_exhaustive()
    }
}

fn manager_config(config: &RedisConfig) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.connection_timeout))
        .set_response_timeout(Some(config.response_timeout))
        .set_number_of_retries(config.reconnect_retries)
}

impl RedisStore {
    /// Connects to `url` (`redis://[user:password@]host:port[/db]`) and checks the server
    /// answers.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for a malformed URL; [`Error::Store`] with
    /// [`StoreError::Unavailable`] if the server cannot be reached.
    pub async fn connect(url: &str, config: RedisConfig) -> Result<Self> {
        let store = Self::connect_lazy(url, config)?;
        store.ping().await?;
        Ok(store)
    }

    /// Builds a store for `url` without connecting: the first operation connects, and every
    /// operation fails with [`StoreError::Unavailable`] while the server cannot be reached.
    ///
    /// Must be called within a tokio runtime.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for a malformed URL or settings the driver refuses.
    pub fn connect_lazy(url: &str, config: RedisConfig) -> Result<Self> {
        let client = Client::open(url).map_err(Error::InvalidUrl)?;
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config(&config))
            .map_err(Error::InvalidUrl)?;
        Ok(Self::from_manager(conn, config.prefix))
    }

    /// A store over a connection manager the application already has.
    #[must_use]
    pub fn from_manager(conn: ConnectionManager, prefix: KeyPrefix) -> Self {
        Self {
            conn,
            keys: Keys::new(prefix),
        }
    }

    /// The key prefix of this store.
    #[must_use]
    pub fn prefix(&self) -> &KeyPrefix {
        self.keys.prefix()
    }

    /// Sends `PING`: a health check.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the server does not answer.
    pub async fn ping(&self) -> StoreResult<()> {
        let _: String = self.command(&redis::cmd("PING"), Retry::Idempotent).await?;
        Ok(())
    }

    /// Loads every script into the server's script cache (`SCRIPT LOAD`), so the first calls
    /// need no `NOSCRIPT` round trip. Optional: scripts are loaded on demand anyway.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the server does not answer.
    pub async fn load_scripts(&self) -> StoreResult<()> {
        for script in scripts::all() {
            let mut conn = self.conn.clone();
            script.load_async(&mut conn).await.map_err(store_error)?;
        }
        Ok(())
    }

    /// The server-side id (`CLIENT ID`) of the connection this store currently uses, to find it
    /// in `CLIENT LIST` or end it with `CLIENT KILL ID` (operations, tests).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the server does not answer.
    pub async fn client_id(&self) -> StoreResult<i64> {
        self.command(redis::cmd("CLIENT").arg("ID"), Retry::Idempotent)
            .await
    }

    /// Deletes every key under this store's prefix (`SCAN MATCH {<prefix>:*` + `DEL`), for
    /// tests, benchmarks and decommissioning; returns how many keys went. Not atomic: keys
    /// written meanwhile may stay.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the server does not answer.
    pub async fn delete_all_keys(&self) -> StoreResult<u64> {
        let pattern = self.keys.prefix().scan_pattern();
        let mut cursor: u64 = 0;
        let mut deleted: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = self
                .command(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000),
                    Retry::Idempotent,
                )
                .await?;
            if !keys.is_empty() {
                let n: u64 = self
                    .command(redis::cmd("DEL").arg(keys), Retry::Idempotent)
                    .await?;
                deleted = deleted.saturating_add(n);
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    /// Runs one script invocation.
    pub(crate) async fn eval<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
        retry: Retry,
    ) -> StoreResult<T> {
        let mut conn = self.conn.clone();
        match invocation.invoke_async(&mut conn).await {
            Err(error) if retry == Retry::Idempotent && is_connection_lost(&error) => invocation
                .invoke_async(&mut conn)
                .await
                .map_err(store_error),
            other => other.map_err(store_error),
        }
    }

    /// Runs one plain command.
    pub(crate) async fn command<T: FromRedisValue>(
        &self,
        cmd: &Cmd,
        retry: Retry,
    ) -> StoreResult<T> {
        let mut conn = self.conn.clone();
        let first = conn.req_packed_command(cmd).await;
        let value = match first {
            Err(error) if retry == Retry::Idempotent && is_connection_lost(&error) => {
                conn.req_packed_command(cmd).await
            }
            other => other,
        }
        .map_err(store_error)?;
        T::from_redis_value(value)
            .map_err(|_| StoreError::corrupt("a redis reply of an unexpected shape"))
    }
}

/// Maps a script's status reply of a conflict to [`StoreError::Conflict`].
pub(crate) fn check_status(status: &str, conflict: &'static str) -> StoreResult<()> {
    match status {
        "ok" => Ok(()),
        "conflict" => Err(StoreError::conflict(conflict)),
        _ => Err(StoreError::corrupt("an unknown script status")),
    }
}
