//! The store this example keeps its state in: PostgreSQL or Redis, chosen at start-up; and
//! where the browser sessions live (a table beside the facade's on PostgreSQL; the process's
//! memory with Redis).

use std::str::FromStr;
use std::sync::Arc;

use mfa::Store;
use mfa_axum::SqlSessionStore;
use mfa_axum::sqlx::PgPool;
use mfa_axum::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use mfa_axum::tower_sessions::MemoryStore;
use mfa_store_redis::{Initialisation, KeyPrefix, RedisConfig, RedisStore};
// The schema name spliced into SQL is generated below from hex digits, never from input.
use mfa_store_sql::sqlx::AssertSqlSafe;
use mfa_store_sql::{PgStore, SqlStoreConfig};

use crate::error::{Error, Result};

/// Which backend holds challenges, counters and factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreKind {
    /// PostgreSQL (`MFA_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
    Postgres,
    /// Redis (`MFA_REDIS_URL`, default `redis://127.0.0.1:6379`).
    Redis,
}

impl StoreKind {
    /// The server URL for this backend: its environment variable or the local default.
    #[must_use]
    pub fn url_from_env(self) -> String {
        let (var, default) = match self {
            Self::Postgres => (
                "MFA_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/test",
            ),
            Self::Redis => ("MFA_REDIS_URL", "redis://127.0.0.1:6379"),
        };
        std::env::var(var).unwrap_or_else(|_| default.to_owned())
    }

    /// The backend's name ("postgres" or "redis").
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Redis => "redis",
        }
    }
}

impl FromStr for StoreKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => Ok(Self::Postgres),
            "redis" => Ok(Self::Redis),
            _ => Err(Error::UnknownStore),
        }
    }
}

enum Cleanup {
    Postgres {
        pool: PgPool,
        sessions: PgPool,
        schema: String,
    },
    Redis(RedisStore),
}

/// Where the browser sessions (and the sign-in state in them) are kept.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Sessions {
    /// A table in the PostgreSQL schema of the facade's tables (session ids kept as digests).
    Sql(SqlSessionStore),
    /// The process's memory: `mfa-axum` has no Redis session store, so with the Redis backend
    /// sessions end with the process (one instance only; see the README).
    Memory(MemoryStore),
}

/// The prefix of the session table (`email_link_sessions`).
pub const SESSION_TABLE_PREFIX: &str = "email_link_";

/// A session store in the PostgreSQL schema `schema` of the server at `url` (table
/// `email_link_sessions`, created if missing): the connections' `search_path` is the schema,
/// so the table lives and goes with the facade's tables.
///
/// # Errors
/// [`Error::Setting`] for a schema name outside `[a-z0-9_]`; [`Error::Edge`] when the server is
/// unreachable or refuses the table.
pub async fn postgres_sessions(url: &str, schema: &str) -> Result<SqlSessionStore> {
    Ok(sessions_in_schema(url, schema).await?.1)
}

async fn sessions_in_schema(url: &str, schema: &str) -> Result<(PgPool, SqlSessionStore)> {
    let plain = !schema.is_empty()
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !plain {
        return Err(Error::Setting("the schema name must be [a-z0-9_]"));
    }
    let options = url
        .parse::<PgConnectOptions>()
        .map_err(|e| Error::Edge(mfa_axum::Error::Database(e)))?
        .options([("search_path", schema)]);
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect_with(options)
        .await
        .map_err(|e| Error::Edge(mfa_axum::Error::Database(e)))?;
    let sessions = SqlSessionStore::postgres(pool.clone(), SESSION_TABLE_PREFIX)?;
    sessions.migrate().await?;
    Ok((pool, sessions))
}

/// A connected store in a namespace of its own (a PostgreSQL schema or a Redis key prefix),
/// so several runs and tests never see each other's data.
pub struct StoreHandle {
    store: Arc<dyn Store>,
    sessions: Sessions,
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
    /// Connects to `url` and prepares a fresh namespace starting with `tag` (PostgreSQL: a new
    /// schema with the tables migrated in, the session table too; Redis: a new key prefix,
    /// initialised, and sessions in memory).
    ///
    /// # Errors
    /// [`Error::Sql`], [`Error::Redis`] or [`Error::Edge`] when the server is unreachable or
    /// refuses.
    pub async fn connect(kind: StoreKind, url: &str, tag: &str) -> Result<Self> {
        let random = getrandom::u64().map_err(|_| Error::Rng)?;
        let namespace = format!("{tag}_{random:016x}");
        match kind {
            StoreKind::Postgres => {
                let config = SqlStoreConfig::default().with_schema(&namespace)?;
                let store = PgStore::connect(url, config).await?;
                store.migrate().await?;
                let pool = store.pool().clone();
                let (session_pool, sessions) = sessions_in_schema(url, &namespace).await?;
                Ok(Self {
                    store: Arc::new(store),
                    sessions: Sessions::Sql(sessions),
                    cleanup: Cleanup::Postgres {
                        pool,
                        sessions: session_pool,
                        schema: namespace.clone(),
                    },
                    namespace,
                })
            }
            StoreKind::Redis => {
                let prefix = KeyPrefix::new(&namespace)?;
                // The new prefix is a new deployment: write its data-loss markers once, the
                // provisioning step (an application serving an existing prefix only connects),
                // then check it as `RedisStore::connect` does.
                let store = RedisStore::connect_lazy(url, RedisConfig::with_prefix(prefix))?;
                store.initialise(Initialisation::NewDeployment).await?;
                store.verify_deployment().await?;
                Ok(Self {
                    store: Arc::new(store.clone()),
                    sessions: Sessions::Memory(MemoryStore::default()),
                    cleanup: Cleanup::Redis(store),
                    namespace,
                })
            }
        }
    }

    /// The store, to hand to the facade.
    #[must_use]
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Where the browser sessions live.
    #[must_use]
    pub fn sessions(&self) -> Sessions {
        self.sessions.clone()
    }

    /// The schema or key prefix this handle writes under.
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Deletes everything written under this handle's namespace.
    ///
    /// # Errors
    /// [`Error::Sql`] or [`Error::Redis`] when the server refuses.
    pub async fn remove_data(self) -> Result<()> {
        match self.cleanup {
            Cleanup::Postgres {
                pool,
                sessions,
                schema,
            } => {
                sessions.close().await;
                let drop_schema = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                let done = mfa_store_sql::sqlx::query(AssertSqlSafe(drop_schema))
                    .execute(&pool)
                    .await;
                pool.close().await;
                done.map_err(|e| Error::Sql(mfa_store_sql::Error::from(e)))?;
            }
            Cleanup::Redis(store) => {
                store.delete_all_keys().await.map_err(mfa::Error::from)?;
            }
        }
        Ok(())
    }
}
