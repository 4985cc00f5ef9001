//! [`SqliteStore`]: the `mfa-store` traits on SQLite (bundled, 3.51: `RETURNING` and upserts).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::SystemTime;

use mfa_store::Result as SResult;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Sqlite, Transaction};

use crate::common::{DEFAULT_PURGE_BATCH, Purge, Queries};
use crate::convert::{conflict_or, is_retryable, is_unique_violation, millis, store_err};
use crate::dialect::{Dialect, Engine, migration_statements, q};
use crate::impls::common_impls;
use crate::returning::{ReturningQueries, returning_impls};
use crate::{Error, Result, SqlStoreConfig};

/// The embedded migrations, oldest first: `(version, SQL)`.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/sqlite/0001_init.sql"))];

/// How long a statement waits for SQLite's write lock before failing (busy timeout).
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// An `mfa-store` [`Store`](mfa_store::Store) on SQLite (feature `sqlite`).
///
/// SQLite has one writer at a time: every write statement takes the database's write lock, and
/// multi-statement operations begin with `BEGIN IMMEDIATE`, so they hold it from their first
/// read. File databases use WAL mode (readers never block the writer) and a busy timeout of
/// [`SQLITE_BUSY_TIMEOUT`]. Cheap to clone: clones share the pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    config: SqlStoreConfig,
    dialect: Arc<Dialect>,
    q: Arc<Queries>,
    eng: Arc<ReturningQueries>,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url` (`sqlite://path/to/mfa.db`,
    /// `sqlite::memory:`), in WAL mode with a busy timeout. An in-memory database gets a pool of
    /// exactly one connection kept open forever (each connection would otherwise see its own
    /// empty database, and the data would go with the last connection).
    ///
    /// # Errors
    /// [`Error::Database`] for a malformed URL or a file that cannot be opened.
    pub async fn connect(url: &str, config: SqlStoreConfig) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?;
        Self::connect_with(options, config).await
    }

    /// Opens (creating it if missing) the database file at `path`, in WAL mode with a busy
    /// timeout.
    ///
    /// # Errors
    /// [`Error::Database`] if the file cannot be opened.
    pub async fn open(path: impl AsRef<Path>, config: SqlStoreConfig) -> Result<Self> {
        let options = SqliteConnectOptions::new().filename(path);
        Self::connect_with(options, config).await
    }

    /// A fresh private in-memory database (one connection, kept open while the store lives).
    ///
    /// # Errors
    /// [`Error::Database`] if SQLite cannot open it.
    pub async fn in_memory(config: SqlStoreConfig) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?;
        Self::connect_with(options, config).await
    }

    async fn connect_with(options: SqliteConnectOptions, config: SqlStoreConfig) -> Result<Self> {
        let memory = options.get_filename() == Path::new(":memory:");
        let options = options
            .create_if_missing(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let pool = if memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?
        } else {
            SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options.journal_mode(SqliteJournalMode::Wal))
                .await?
        };
        Ok(Self::from_pool(pool, config))
    }

    /// A store on an existing pool (no I/O). The pool's options are the caller's: set a busy
    /// timeout, and for an in-memory database use one connection.
    #[must_use]
    pub fn from_pool(pool: SqlitePool, config: SqlStoreConfig) -> Self {
        let dialect = Dialect::new(Engine::Sqlite, &config);
        Self {
            pool,
            q: Arc::new(Queries::new(&dialect)),
            eng: Arc::new(ReturningQueries::new(&dialect, "MAX")),
            dialect: Arc::new(dialect),
            config,
        }
    }

    /// The pool, to share with the rest of the application.
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The configuration the store was built with.
    #[must_use]
    pub fn config(&self) -> &SqlStoreConfig {
        &self.config
    }

    /// Creates the tables, applying every embedded migration not yet applied, in one
    /// `BEGIN IMMEDIATE` transaction (safe to call from several processes at once, and on every
    /// start).
    ///
    /// # Errors
    /// [`Error::Database`] if a statement failed (nothing is applied then);
    /// [`Error::SchemaTooNew`] if the database was migrated by a newer version of this crate.
    pub async fn migrate(&self) -> Result<()> {
        let prefix = self.config.table_prefix();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE IF NOT EXISTS {prefix}schema_migrations (version BIGINT PRIMARY KEY)"
        )))
        .execute(&mut *tx)
        .await?;
        let current: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT MAX(version) FROM {prefix}schema_migrations"
        )))
        .fetch_one(&mut *tx)
        .await?;
        let current = current.unwrap_or(0);
        check_known(current)?;
        for (version, file) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            for statement in migration_statements(&self.dialect, file) {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {prefix}schema_migrations (version) VALUES (?)"
            )))
            .bind(version)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes expired challenges, counters and trusted devices, at most `batch_size` rows per
    /// statement (short locks on a busy table); returns how many rows went. The trait's purge
    /// methods call it with a batch of 1000.
    ///
    /// # Errors
    /// The first backend failure; batches deleted before it stay deleted.
    pub async fn purge_expired_batched(
        &self,
        now: SystemTime,
        batch_size: NonZeroU32,
    ) -> SResult<u64> {
        let now = millis(now);
        let mut total = 0_u64;
        for table in [Purge::Challenges, Purge::Counters, Purge::Devices] {
            total = total.saturating_add(self.purge_table(table, now, batch_size.get()).await?);
        }
        Ok(total)
    }

    /// A read-modify-write transaction: `BEGIN IMMEDIATE` takes the write lock at once, so
    /// no other writer slips in between its reads and writes (and no deferred transaction
    /// fails to upgrade its lock).
    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Nothing to do: `BEGIN IMMEDIATE` already serialises every writer.
    #[allow(clippy::unused_async)]
    async fn serialize_user(
        &self,
        _tx: &mut Transaction<'static, Sqlite>,
        _kind: &str,
        _user: &str,
    ) -> sqlx::Result<()> {
        Ok(())
    }
}

fn check_known(current: i64) -> Result<()> {
    let known = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    if current > known {
        return Err(Error::SchemaTooNew {
            found: current,
            known,
        });
    }
    Ok(())
}

returning_impls!(SqliteStore);
common_impls!(SqliteStore);
