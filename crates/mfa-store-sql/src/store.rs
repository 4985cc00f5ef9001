//! [`SqlStore`]: the pool, the statements, and what every operation does the same way on every
//! engine (set-up, purge, running a statement, retrying a transaction a concurrent writer
//! aborted).

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mfa_store::{Result as SResult, StoreError};
use sqlx::pool::{PoolConnectionMetadata, PoolOptions};
use sqlx::{Connection as _, Database, Pool};

use crate::convert::{millis, store_err};
use crate::db::{Arg, On, Sql};
use crate::dialect::Dialect;
use crate::engine::Engine;
use crate::{Result, SqlStoreConfig};
use crate::{audit, challenge, counter, device, flow, recovery, settings, totp, webauthn};

/// How many rows one purge statement deletes at most, when the trait's purge methods run.
pub const DEFAULT_PURGE_BATCH: u32 = 1000;

/// A pooled connection idle at least this long is pinged before use (a server, firewall or
/// proxy may have dropped it meanwhile); a connection used more recently is used at once.
pub const PING_IDLE_AFTER: Duration = Duration::from_secs(60);

/// An `mfa-store` [`Store`](mfa_store::Store) on a SQL database, through sqlx.
///
/// Use it through its aliases, one per engine: [`PgStore`](crate::PgStore) (feature
/// `postgres`), [`MySqlStore`](crate::MySqlStore) (feature `mysql`) and
/// [`SqliteStore`](crate::SqliteStore) (feature `sqlite`); the type parameter is the sqlx
/// database type. Every guessing-bounding operation is one statement, one transaction or (MySQL)
/// one routine call; `docs/store-sql.md` says why each one is atomic on each engine.
///
/// Cheap to clone: clones share the pool and the prepared statement texts.
pub struct SqlStore<E: Engine> {
    pool: Pool<E>,
    config: SqlStoreConfig,
    sql: Arc<Statements<E>>,
}

/// Every statement of a store, built once from its dialect.
pub(crate) struct Statements<E: Engine> {
    pub(crate) dialect: Dialect,
    pub(crate) totp: totp::TotpSql,
    pub(crate) challenge: challenge::ChallengeSql,
    pub(crate) recovery: recovery::RecoverySql,
    pub(crate) counter: counter::CounterSql,
    pub(crate) device: device::DeviceSql,
    pub(crate) audit: audit::AuditSql,
    pub(crate) settings: settings::SettingsSql,
    pub(crate) flow: flow::FlowSql,
    pub(crate) webauthn: webauthn::WebAuthnSql,
    pub(crate) engine: E::Sql,
}

impl<E: Engine> Clone for SqlStore<E> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            config: self.config.clone(),
            sql: Arc::clone(&self.sql),
        }
    }
}

impl<E: Engine> fmt::Debug for SqlStore<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("engine", &E::SYNTAX.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<E: Engine> SqlStore<E> {
    /// Connects a pool to `url` (`postgres://user@host:5432/db`, `mysql://user@host:3306/db`,
    /// `sqlite://path/to/mfa.db` or `sqlite::memory:`) with the engine's defaults. SQLite: see
    /// [`SqliteStore`](crate::SqliteStore) for its pool and journal settings.
    ///
    /// # Errors
    /// [`Error::Database`](crate::Error::Database) if no connection could be made.
    pub async fn connect(url: &str, config: SqlStoreConfig) -> Result<Self> {
        let pool = E::connect(url).await?;
        Ok(Self::from_pool(pool, config))
    }

    /// The pool settings [`connect`](Self::connect) uses, to adjust (size, timeouts) and pass
    /// to [`from_pool`](Self::from_pool).
    ///
    /// sqlx's default pool pings every connection it hands out: one more round trip on the path
    /// of every operation. These settings ping only a connection idle for
    /// [`PING_IDLE_AFTER`] or longer, so an operation costs its own round trips; a connection
    /// that broke meanwhile fails its operation with a transient error (the caller fails
    /// closed) and is discarded. (sqlx 0.9 also pings each connection as it goes back to the
    /// pool, in a task of its own, off the caller's path.)
    #[must_use]
    pub fn pool_options() -> PoolOptions<E> {
        pool_options()
    }

    /// A store on an existing pool (no I/O).
    #[must_use]
    pub fn from_pool(pool: Pool<E>, config: SqlStoreConfig) -> Self {
        let dialect = Dialect::new(E::SYNTAX, &config);
        let sql = Statements {
            totp: totp::TotpSql::new(&dialect),
            challenge: challenge::ChallengeSql::new(&dialect),
            recovery: recovery::RecoverySql::new(&dialect),
            counter: counter::CounterSql::new(&dialect),
            device: device::DeviceSql::new(&dialect),
            audit: audit::AuditSql::new(&dialect),
            settings: settings::SettingsSql::new(&dialect),
            flow: flow::FlowSql::new(&dialect),
            webauthn: webauthn::WebAuthnSql::new(&dialect),
            engine: E::sql(&dialect),
            dialect,
        };
        Self {
            pool,
            config,
            sql: Arc::new(sql),
        }
    }

    /// The pool, to share with the rest of the application.
    #[must_use]
    pub fn pool(&self) -> &Pool<E> {
        &self.pool
    }

    /// The configuration the store was built with.
    #[must_use]
    pub fn config(&self) -> &SqlStoreConfig {
        &self.config
    }

    /// Creates the tables (and, on PostgreSQL, the configured schema), applying every embedded
    /// migration not yet applied. Idempotent: call it at every start. Safe to call from several
    /// instances at once: PostgreSQL runs it in one transaction under an advisory lock, SQLite
    /// in one `BEGIN IMMEDIATE` transaction, MySQL under a named lock (`GET_LOCK`; its DDL
    /// commits as it goes, so a migration interrupted part way is completed by the next call).
    ///
    /// # Errors
    /// [`Error::Database`](crate::Error::Database) if a statement failed (PostgreSQL and SQLite
    /// then apply nothing); [`Error::SchemaTooNew`](crate::Error::SchemaTooNew) if the database
    /// was migrated by a newer version of this crate.
    pub async fn migrate(&self) -> Result<()> {
        E::migrate(self).await
    }

    /// Deletes expired challenges, counters and trusted devices, at most `batch_size` rows per
    /// statement (short locks on a busy table); returns how many rows went. The trait's purge
    /// methods use batches of [`DEFAULT_PURGE_BATCH`].
    ///
    /// # Errors
    /// The first backend failure; batches deleted before it stay deleted.
    pub async fn purge_expired_batched(
        &self,
        now: SystemTime,
        batch_size: NonZeroU32,
    ) -> SResult<u64> {
        let mut total = 0_u64;
        for sql in [
            &self.sql.challenge.purge,
            &self.sql.counter.purge,
            &self.sql.device.purge,
        ] {
            total = total.saturating_add(self.purge(sql, now, batch_size.get()).await?);
        }
        Ok(total)
    }

    // -- what the entity files use ------------------------------------------------------------

    /// The store's statements.
    pub(crate) fn sql(&self) -> &Statements<E> {
        &self.sql
    }

    /// Runs a write in autocommit; returns how many rows it changed.
    pub(crate) async fn execute(&self, sql: &Sql, args: &[Arg<'_>]) -> SResult<u64> {
        execute_on(On::Pool(&self.pool), sql, args).await
    }

    /// Runs a read in autocommit and decodes its first row.
    pub(crate) async fn fetch_optional<T>(
        &self,
        sql: &Sql,
        args: &[Arg<'_>],
        decode: impl Fn(&E::Row) -> SResult<T>,
    ) -> SResult<Option<T>> {
        fetch_optional_on(On::Pool(&self.pool), sql, args, decode).await
    }

    /// Runs a read in autocommit and decodes every row.
    pub(crate) async fn fetch_all<T>(
        &self,
        sql: &Sql,
        args: &[Arg<'_>],
        decode: impl Fn(&E::Row) -> SResult<T>,
    ) -> SResult<Vec<T>> {
        fetch_all_on(On::Pool(&self.pool), sql, args, decode).await
    }

    /// Deletes expired rows with `sql` (`expires_at <= ?1 .. LIMIT ?2`) until a batch is short.
    pub(crate) async fn purge(&self, sql: &Sql, now: SystemTime, batch: u32) -> SResult<u64> {
        let batch = batch.max(1);
        let mut total = 0_u64;
        loop {
            let args = [Arg::Int(millis(now)), Arg::Int(i64::from(batch))];
            let deleted = self.execute(sql, &args).await?;
            total = total.saturating_add(deleted);
            if deleted < u64::from(batch) {
                return Ok(total);
            }
        }
    }
}

/// Runs a write on `on`; returns how many rows it changed.
pub(crate) async fn execute_on<E: Engine>(
    on: On<'_, E>,
    sql: &Sql,
    args: &[Arg<'_>],
) -> SResult<u64> {
    E::execute(on, sql, args).await.map_err(store_err)
}

/// Runs a read on `on` and decodes its first row.
pub(crate) async fn fetch_optional_on<E: Engine, T>(
    on: On<'_, E>,
    sql: &Sql,
    args: &[Arg<'_>],
    decode: impl Fn(&E::Row) -> SResult<T>,
) -> SResult<Option<T>> {
    let row = E::fetch_optional(on, sql, args).await.map_err(store_err)?;
    row.as_ref().map(decode).transpose()
}

/// Runs a read on `on` and decodes every row.
pub(crate) async fn fetch_all_on<E: Engine, T>(
    on: On<'_, E>,
    sql: &Sql,
    args: &[Arg<'_>],
    decode: impl Fn(&E::Row) -> SResult<T>,
) -> SResult<Vec<T>> {
    let rows = E::fetch_all(on, sql, args).await.map_err(store_err)?;
    rows.iter().map(decode).collect()
}

/// [`SqlStore::pool_options`] for any database.
pub(crate) fn pool_options<D: Database>() -> PoolOptions<D> {
    PoolOptions::new()
        .test_before_acquire(false)
        .before_acquire(|conn: &mut D::Connection, meta: PoolConnectionMetadata| {
            Box::pin(async move {
                if meta.idle_for >= PING_IDLE_AFTER {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// Why one try of a transaction failed: a driver error (maybe retryable) or a decided outcome.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The driver or the server failed.
    Sql(sqlx::Error),
    /// The operation decided to fail (a conflict, corrupt data): never retried.
    Store(StoreError),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Self::Sql(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// Retries of a transaction that a concurrent writer aborted (a deadlock victim, a
/// serialisation failure, a lost race for a unique key): an aborted transaction was rolled back
/// whole, so trying again cannot apply anything twice.
#[derive(Debug, Default)]
pub(crate) struct Retry {
    tries: u32,
}

impl Retry {
    /// Tries of one operation, in all. Fifty concurrent replacements of one MySQL user's
    /// challenge on two loaded cores needed more than five.
    const TRIES: u32 = 16;

    /// After a failed try: `Ok` (having waited) if the operation should be tried again, else
    /// the error to return. `retryable` names the driver errors worth another try.
    pub(crate) async fn again(
        &mut self,
        failure: Failure,
        retryable: fn(&sqlx::Error) -> bool,
    ) -> SResult<()> {
        self.tries = self.tries.saturating_add(1);
        match failure {
            Failure::Sql(e) if retryable(&e) && self.tries < Self::TRIES => {
                backoff(self.tries).await;
                Ok(())
            }
            Failure::Sql(e) => Err(store_err(e)),
            Failure::Store(e) => Err(e),
        }
    }
}

/// Waits before the next try: a victim retried at once tends to meet the same lock order again.
/// From 2 ms to 32 ms with the tries, plus up to as much again of jitter.
async fn backoff(tries: u32) {
    let base = 1_u64 << tries.min(5);
    let jitter = getrandom::u64().unwrap_or(0) % base;
    tokio::time::sleep(Duration::from_millis(base.saturating_add(jitter))).await;
}
