//! [`PgStore`]: the `mfa-store` traits on PostgreSQL.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::SystemTime;

use mfa_store::Result as SResult;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use crate::common::{DEFAULT_PURGE_BATCH, Purge, Queries};
use crate::convert::{conflict_or, is_retryable, is_unique_violation, millis, store_err};
use crate::dialect::{Dialect, Engine, migration_statements, q};
use crate::impls::common_impls;
use crate::returning::{ReturningQueries, returning_impls};
use crate::{Error, Result, SqlStoreConfig};

/// The embedded migrations, oldest first: `(version, SQL)`.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/postgres/0001_init.sql"))];

/// An `mfa-store` [`Store`](mfa_store::Store) on PostgreSQL (feature `postgres`).
///
/// Cheap to clone: clones share the pool. Every guessing-bounding operation is one statement
/// (see docs/store-sql.md for the table of why each one is atomic).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    config: SqlStoreConfig,
    dialect: Arc<Dialect>,
    q: Arc<Queries>,
    eng: Arc<ReturningQueries>,
}

impl PgStore {
    /// Connects a pool to `url` (`postgres://user@host:5432/db`).
    ///
    /// # Errors
    /// [`Error::Database`] if no connection could be made.
    pub async fn connect(url: &str, config: SqlStoreConfig) -> Result<Self> {
        let pool = PgPoolOptions::new().connect(url).await?;
        Ok(Self::from_pool(pool, config))
    }

    /// A store on an existing pool (no I/O).
    #[must_use]
    pub fn from_pool(pool: PgPool, config: SqlStoreConfig) -> Self {
        let dialect = Dialect::new(Engine::Postgres, &config);
        Self {
            pool,
            q: Arc::new(Queries::new(&dialect)),
            eng: Arc::new(ReturningQueries::new(&dialect, "GREATEST")),
            dialect: Arc::new(dialect),
            config,
        }
    }

    /// The pool, to share with the rest of the application.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The configuration the store was built with.
    #[must_use]
    pub fn config(&self) -> &SqlStoreConfig {
        &self.config
    }

    /// Creates the schema (if configured) and the tables, applying every embedded migration
    /// not yet applied, in one transaction under an advisory lock (safe to call from several
    /// instances at once, and on every start).
    ///
    /// # Errors
    /// [`Error::Database`] if a statement failed (nothing is applied then);
    /// [`Error::SchemaTooNew`] if the database was migrated by a newer version of this crate.
    pub async fn migrate(&self) -> Result<()> {
        let prefix = self.config.qualified_prefix(true);
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("mfa-store-sql migrate {prefix}"))
            .execute(&mut *tx)
            .await?;
        if let Some(schema) = self.config.schema() {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}"
            )))
            .execute(&mut *tx)
            .await?;
        }
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
                "INSERT INTO {prefix}schema_migrations (version) VALUES ($1)"
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

    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Postgres>> {
        self.pool.begin().await
    }

    /// Serialises read-modify-write transactions on one user's rows of one kind (a
    /// transaction-scoped advisory lock), where no row exists yet to lock.
    async fn serialize_user(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        kind: &str,
        user: &str,
    ) -> sqlx::Result<()> {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!(
                "{}{kind}:{user}",
                self.config.qualified_prefix(true)
            ))
            .execute(&mut **tx)
            .await
            .map(|_| ())
    }
}

pub(crate) fn check_known(current: i64) -> Result<()> {
    let known = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    if current > known {
        return Err(Error::SchemaTooNew {
            found: current,
            known,
        });
    }
    Ok(())
}

returning_impls!(PgStore);
common_impls!(PgStore);
