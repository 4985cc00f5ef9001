//! The store this example keeps its state in: SQLite in a temporary file or PostgreSQL.

use std::str::FromStr;
use std::sync::Arc;

use mfa::Store;
// The schema name spliced into SQL is generated below from hex digits, never from input.
use mfa_store_sql::sqlx::AssertSqlSafe;
use mfa_store_sql::{PgStore, SqlStoreConfig, SqliteStore};

use crate::error::{Error, Result};

/// Which backend holds challenges, counters and factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreKind {
    /// SQLite in a file of a temporary folder, removed afterwards.
    Sqlite,
    /// PostgreSQL (`MFA_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
    Postgres,
}

impl StoreKind {
    /// The backend's name ("sqlite" or "postgres").
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl FromStr for StoreKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" | "pg" => Ok(Self::Postgres),
            _ => Err(Error::UnknownStore),
        }
    }
}

enum Cleanup {
    Sqlite(tempfile::TempDir),
    Postgres {
        pool: mfa_store_sql::sqlx::PgPool,
        schema: String,
    },
}

/// A connected store in a namespace of its own (a temporary SQLite file or a PostgreSQL
/// schema), so runs and tests never see each other's data.
pub struct StoreHandle {
    store: Arc<dyn Store>,
    namespace: String,
    cleanup: Cleanup,
}

impl core::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StoreHandle")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl StoreHandle {
    /// Opens the store: SQLite in a new temporary file, or PostgreSQL (`MFA_POSTGRES_URL`) in a
    /// new schema starting with `tag`; tables are migrated in.
    ///
    /// # Errors
    /// [`Error::Sql`] when the database is unreachable or refuses, [`Error::Io`] when the
    /// temporary folder cannot be made.
    pub async fn connect(kind: StoreKind, tag: &str) -> Result<Self> {
        match kind {
            StoreKind::Sqlite => {
                let dir = tempfile::Builder::new().prefix(tag).tempdir()?;
                let path = dir.path().join("mfa.db");
                let store = SqliteStore::open(&path, SqlStoreConfig::default()).await?;
                store.migrate().await?;
                Ok(Self {
                    store: Arc::new(store),
                    namespace: path.display().to_string(),
                    cleanup: Cleanup::Sqlite(dir),
                })
            }
            StoreKind::Postgres => {
                let url = std::env::var("MFA_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
                let random = getrandom::u64().map_err(|_| Error::Rng)?;
                let schema = format!("{tag}_{random:016x}");
                let config = SqlStoreConfig::default().with_schema(&schema)?;
                let store = PgStore::connect(&url, config).await?;
                store.migrate().await?;
                let pool = store.pool().clone();
                Ok(Self {
                    store: Arc::new(store),
                    namespace: schema.clone(),
                    cleanup: Cleanup::Postgres { pool, schema },
                })
            }
        }
    }

    /// The store, to hand to the facade.
    #[must_use]
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The SQLite file or PostgreSQL schema this handle writes to.
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Deletes everything written under this handle (the file or the schema).
    ///
    /// # Errors
    /// [`Error::Sql`] when PostgreSQL refuses, [`Error::Io`] when the file cannot be removed.
    pub async fn remove_data(self) -> Result<()> {
        match self.cleanup {
            Cleanup::Sqlite(dir) => dir.close()?,
            Cleanup::Postgres { pool, schema } => {
                let drop_schema = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                let done = mfa_store_sql::sqlx::query(AssertSqlSafe(drop_schema))
                    .execute(&pool)
                    .await;
                pool.close().await;
                done.map_err(|e| Error::Sql(mfa_store_sql::Error::from(e)))?;
            }
        }
        Ok(())
    }
}
