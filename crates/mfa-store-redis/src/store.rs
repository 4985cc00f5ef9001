//! [`RedisStore`]: the constructors, and how scripts and commands are sent (retries, script
//! loading, the durability wait).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use mfa_store::{Result as StoreResult, StoreError};
use redis::aio::ConnectionManager;
use redis::{Cmd, FromRedisValue, RedisError, Value};

use crate::conn::{Conn, STANDALONE};
use crate::error::{is_connection_lost, is_noscript, is_refused_unrun, store_error};
use crate::keys::Keys;
use crate::scripts::{self, Invocation, Script};
use crate::{KeyPrefix, RedisConfig, Result};

/// How many times a command the server refused without running it (a Cluster redirection, a
/// migrating slot, a loading node) is sent again, with 10, 20, 40, 80 ms pauses.
const REFUSAL_RETRIES: u32 = 4;

/// How many times a script is loaded again after `NOSCRIPT` (a `SCRIPT FLUSH`, a restart or a
/// failover between the load and the call) before the call fails.
const SCRIPT_RELOADS: u32 = 3;

/// What an operation does, which decides what may be retried and what waits for replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// A read (or a pure cleanup of stale index entries): sending it twice changes nothing a
    /// caller can see, so it is sent once more if the connection is lost mid-call.
    Read,
    /// A write: never resent after a lost connection (it may have run before the reply was
    /// lost; the caller fails closed and an attempt whose reply was lost stays counted).
    Write,
    /// A single-use write (it uses up or revokes something): as [`Write`](Self::Write), and
    /// followed by the [`Durability`](crate::Durability) wait in the same round trip.
    Guard,
}

/// A `mfa_store::Store` on Redis or Redis Cluster: every atomic operation is one Lua script on
/// keys of one hash slot, guarded by that slot's data-loss marker; records expire by TTL; time
/// comes from the caller.
///
/// Cheap to clone (the clones share the connections).
#[derive(Clone)]
pub struct RedisStore {
    pub(crate) conn: Conn,
    pub(crate) keys: Keys,
    pub(crate) config: Arc<RedisConfig>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", self.keys.prefix())
            .field("cluster", &self.conn.is_cluster())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to the standalone server at `url` (`redis://[user:password@]host:port[/db]`) and
    /// checks the deployment ([`verify_deployment`](Self::verify_deployment)): Redis 7.0 or
    /// later, no eviction, the configured durability available, every data-loss marker present.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`](crate::Error::InvalidUrl) or
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for bad settings;
    /// [`Error::Store`](crate::Error::Store) with [`StoreError::Unavailable`] if the server
    /// cannot be reached; the deployment errors of [`verify_deployment`](Self::verify_deployment)
    /// ([`Error::Evicting`](crate::Error::Evicting),
    /// [`Error::NotInitialised`](crate::Error::NotInitialised),
    /// [`Error::DataLoss`](crate::Error::DataLoss), ...).
    pub async fn connect(url: &str, config: RedisConfig) -> Result<Self> {
        let store = Self::connect_lazy(url, config)?;
        store.verify_deployment().await?;
        Ok(store)
    }

    /// Connects to the Redis Cluster that `urls` (one or more of its nodes) belong to, and checks
    /// the deployment as [`connect`](Self::connect) does, on every node.
    ///
    /// The same [`RedisStore`], scripts and key schema as on a standalone server: every script
    /// touches keys of one slot, so it runs on the node that owns that slot.
    ///
    /// # Errors
    /// As [`connect`](Self::connect); [`Error::InvalidConfig`](crate::Error::InvalidConfig) for
    /// an empty list.
    pub async fn connect_cluster<I, S>(urls: I, config: RedisConfig) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let store = Self::connect_cluster_lazy(urls, config)?;
        store.verify_deployment().await?;
        Ok(store)
    }

    /// Builds a store for the standalone server at `url` without connecting or checking
    /// anything: the first operation connects, and every operation fails with
    /// [`StoreError::Unavailable`] while the server cannot be reached. Scripts still check
    /// their slot's data-loss marker, so an uninitialised or emptied server answers
    /// [`StoreError::DataLoss`], never "absent".
    ///
    /// For [`initialise`](Self::initialise), and for applications that run
    /// [`verify_deployment`](Self::verify_deployment) themselves. Must be called within a tokio
    /// runtime.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`](crate::Error::InvalidUrl) for a malformed URL or settings the
    /// driver refuses, [`Error::InvalidConfig`](crate::Error::InvalidConfig).
    pub fn connect_lazy(url: &str, config: RedisConfig) -> Result<Self> {
        config.validate()?;
        let conn = Conn::standalone(url, &config)?;
        Self::build(conn, config)
    }

    /// Builds a store for the Redis Cluster of `urls` without connecting or checking anything;
    /// see [`connect_lazy`](Self::connect_lazy).
    ///
    /// # Errors
    /// As [`connect_lazy`](Self::connect_lazy); [`Error::InvalidConfig`](crate::Error::InvalidConfig)
    /// for an empty list.
    pub fn connect_cluster_lazy<I, S>(urls: I, config: RedisConfig) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        config.validate()?;
        let conn = Conn::cluster(urls, &config)?;
        Self::build(conn, config)
    }

    /// A store over a standalone connection manager the application already has, without
    /// checks (see [`connect_lazy`](Self::connect_lazy)).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig).
    pub fn from_manager(conn: ConnectionManager, config: RedisConfig) -> Result<Self> {
        config.validate()?;
        Self::build(Conn::Standalone(conn, STANDALONE.into()), config)
    }

    fn build(conn: Conn, config: RedisConfig) -> Result<Self> {
        Ok(Self {
            conn,
            keys: Keys::new(config.prefix.clone())?,
            config: Arc::new(config),
        })
    }

    /// The key prefix of this store.
    #[must_use]
    pub fn prefix(&self) -> &KeyPrefix {
        self.keys.prefix()
    }

    /// Whether this store talks to a Redis Cluster.
    #[must_use]
    pub fn is_cluster(&self) -> bool {
        self.conn.is_cluster()
    }

    /// Sends `PING` (to every primary of a Cluster): a health check.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if a server does not answer.
    pub async fn ping(&self) -> StoreResult<()> {
        self.command::<Value>(&redis::cmd("PING"), Op::Read)
            .await
            .map(drop)
    }

    /// Loads every script into the servers' script caches (`SCRIPT LOAD`, on every primary of a
    /// Cluster), so the first calls need no `NOSCRIPT` round trip. Optional: scripts are loaded
    /// on demand anyway.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if a server does not answer.
    pub async fn load_scripts(&self) -> StoreResult<()> {
        for script in scripts::all() {
            self.command::<Value>(&script.load_command(), Op::Read)
                .await?;
        }
        Ok(())
    }

    /// The server-side id (`CLIENT ID`) of the connection this store currently uses (on a
    /// Cluster: of its connection to some node), to find it in `CLIENT LIST` or end it with
    /// `CLIENT KILL ID` (operations, tests).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the server does not answer.
    pub async fn client_id(&self) -> StoreResult<i64> {
        self.command(redis::cmd("CLIENT").arg("ID"), Op::Read).await
    }

    /// Runs one script invocation and decodes its reply.
    pub(crate) async fn eval<T: FromRedisValue>(
        &self,
        invocation: &Invocation<'_>,
        op: Op,
    ) -> StoreResult<T> {
        decode(
            self.execute(&invocation.command(), Some(invocation.script()), op)
                .await?,
        )
    }

    /// Runs several script invocations concurrently (one round trip of latency on the
    /// multiplexed connections), each reply decoded.
    pub(crate) async fn eval_all<T: FromRedisValue>(
        &self,
        invocations: &[Invocation<'_>],
        op: Op,
    ) -> Vec<StoreResult<T>> {
        join_all(
            invocations
                .iter()
                .map(|invocation| self.eval(invocation, op)),
        )
        .await
    }

    /// Runs one plain command and decodes its reply.
    pub(crate) async fn command<T: FromRedisValue>(&self, cmd: &Cmd, op: Op) -> StoreResult<T> {
        decode(self.execute(cmd, None, op).await?)
    }

    /// Sends `cmd` (an `EVALSHA` of `script`, or a plain command), with the durability wait
    /// behind it for a [`Op::Guard`], and retries what is safe to retry:
    ///
    /// - `NOSCRIPT`: the script did not run; load it and send again (up to 3 times);
    /// - a refusal without running (`MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`, `MASTERDOWN`,
    ///   `LOADING`, `READONLY`): send again after a pause (up to 4 times), writes included;
    /// - a lost connection: send once more for an [`Op::Read`] only.
    async fn execute(&self, cmd: &Cmd, script: Option<&Script>, op: Op) -> StoreResult<Value> {
        let wait = match op {
            Op::Guard => self.config.durability.wait_command(),
            Op::Read | Op::Write => None,
        };
        let (mut reloads, mut refusals, mut resent) = (0, 0, false);
        loop {
            let error = match self.send(cmd, wait.as_ref()).await {
                Ok((reply, None)) => return Ok(reply),
                Ok((reply, Some(acks))) => {
                    self.config
                        .durability
                        .check(&acks)
                        .map_err(StoreError::unavailable)?;
                    return Ok(reply);
                }
                Err(error) => error,
            };
            if let Some(script) = script
                && is_noscript(&error)
                && reloads < SCRIPT_RELOADS
            {
                reloads += 1;
                self.conn
                    .command(&script.load_command())
                    .await
                    .map_err(store_error)?;
            } else if is_refused_unrun(&error) && refusals < REFUSAL_RETRIES {
                refusals += 1;
                tokio::time::sleep(Duration::from_millis(5 << refusals)).await;
            } else if op == Op::Read && is_connection_lost(&error) && !resent {
                resent = true;
            } else {
                return Err(store_error(error));
            }
        }
    }

    /// Sends `cmd`, and `wait` behind it in the same pipeline (so on the same connection, which
    /// is the one `WAIT` counts the writes of). A server error of `cmd` is an `Err`.
    async fn send(
        &self,
        cmd: &Cmd,
        wait: Option<&Cmd>,
    ) -> Result<(Value, Option<Value>), RedisError> {
        let Some(wait) = wait else {
            return self.conn.command(cmd).await.map(|reply| (reply, None));
        };
        let mut pipe = redis::pipe();
        pipe.add_command(cmd.clone()).add_command(wait.clone());
        let mut replies = self.conn.pipeline(&pipe, 2).await?.into_iter();
        let reply = replies.next().unwrap_or(Value::Nil).extract_error()?;
        Ok((reply, Some(replies.next().unwrap_or(Value::Nil))))
    }
}

/// Decodes a reply; a reply of another shape is [`StoreError::Corrupt`].
pub(crate) fn decode<T: FromRedisValue>(value: Value) -> StoreResult<T> {
    T::from_redis_value(value)
        .map_err(|_| StoreError::corrupt("a redis reply of an unexpected shape"))
}

/// Maps a script's status reply of a conflict to [`StoreError::Conflict`].
pub(crate) fn check_status(status: &str, conflict: &'static str) -> StoreResult<()> {
    match status {
        "ok" => Ok(()),
        "conflict" => Err(StoreError::conflict(conflict)),
        _ => Err(StoreError::corrupt("an unknown script status")),
    }
}
