//! [`SqlSessionStore`]: a tower-sessions store over the application's own sqlx 0.9 pool
//! (SQLite, PostgreSQL, MySQL/MariaDB).
//!
//! Written here rather than taken from `tower-sessions-sqlx-store`, whose current release is
//! built on sqlx 0.8 and tower-sessions-core 0.14 (see docs/decisions.md). Two differences in
//! what it guarantees:
//! - the table keeps the SHA-256 of each session id, never the id: a reader of the table (a
//!   backup, an SQL injection elsewhere) cannot take over a session. The ids are 128 random
//!   bits, so an unkeyed digest cannot be reversed by guessing;
//! - `save` only updates a live row: a request that finishes after the session was deleted
//!   (signed out, rotated in another tab) or expired does not bring it back.

use core::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use sqlx::AssertSqlSafe;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

use crate::error::{Error, Result};

/// How often `create` draws a new id after a collision before giving up. With 128-bit ids a
/// single collision is already beyond belief; the bound only keeps a broken RNG from looping.
const CREATE_ATTEMPTS: usize = 4;

#[derive(Clone)]
enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

/// Runs `$body` with `$p` bound to whichever pool the store has; the statements are the same
/// text for every engine except for the placeholders, chosen in [`Queries::new`].
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite($p) => $body,
            #[cfg(feature = "postgres")]
            Pool::Postgres($p) => $body,
            #[cfg(feature = "mysql")]
            Pool::MySql($p) => $body,
        }
    };
}

#[derive(Debug)]
struct Queries {
    engine: Engine,
    table: String,
    create_table: Vec<Arc<str>>,
    insert: Arc<str>,
    update: Arc<str>,
    load: Arc<str>,
    delete: Arc<str>,
    purge: Arc<str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    #[cfg(feature = "sqlite")]
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
    #[cfg(feature = "mysql")]
    MySql,
}

impl Queries {
    fn new(engine: Engine, prefix: &str, schema: Option<&str>) -> Result<Self> {
        validate_prefix(prefix)?;
        let base = format!("{prefix}sessions");
        let t = match schema {
            Some(schema) => {
                if schema.is_empty() {
                    return Err(Error::InvalidTablePrefix);
                }
                validate_prefix(schema)?;
                format!("{schema}.{base}")
            }
            None => base.clone(),
        };
        let numbered = match engine {
            #[cfg(feature = "postgres")]
            Engine::Postgres => true,
            #[allow(unreachable_patterns, reason = "one arm per enabled engine")]
            _ => false,
        };
        let p = |n: usize| {
            if numbered {
                format!("${n}")
            } else {
                "?".to_owned()
            }
        };
        let columns = match engine {
            #[cfg(feature = "sqlite")]
            Engine::Sqlite => {
                "id_digest BLOB PRIMARY KEY NOT NULL, data TEXT NOT NULL, \
                               expires_at INTEGER NOT NULL"
            }
            #[cfg(feature = "postgres")]
            Engine::Postgres => {
                "id_digest BYTEA PRIMARY KEY, data TEXT NOT NULL, \
                                 expires_at BIGINT NOT NULL"
            }
            #[cfg(feature = "mysql")]
            Engine::MySql => {
                "id_digest VARBINARY(32) PRIMARY KEY, data MEDIUMTEXT NOT NULL, \
                              expires_at BIGINT NOT NULL, INDEX {t}_expires (expires_at)"
            }
        };
        let mut create_table = vec![Arc::from(format!(
            "CREATE TABLE IF NOT EXISTS {t} ({})",
            columns.replace("{t}", &base)
        ))];
        #[cfg(feature = "mysql")]
        let separate_index = engine != Engine::MySql;
        #[cfg(not(feature = "mysql"))]
        let separate_index = true;
        if separate_index {
            create_table.push(Arc::from(format!(
                "CREATE INDEX IF NOT EXISTS {base}_expires ON {t} (expires_at)"
            )));
        }
        Ok(Self {
            insert: Arc::from(format!(
                "INSERT INTO {t} (id_digest, data, expires_at) VALUES ({}, {}, {})",
                p(1),
                p(2),
                p(3)
            )),
            update: Arc::from(format!(
                "UPDATE {t} SET data = {}, expires_at = {} WHERE id_digest = {} AND expires_at > {}",
                p(1),
                p(2),
                p(3),
                p(4)
            )),
            load: Arc::from(format!(
                "SELECT data, expires_at FROM {t} WHERE id_digest = {} AND expires_at > {}",
                p(1),
                p(2)
            )),
            delete: Arc::from(format!("DELETE FROM {t} WHERE id_digest = {}", p(1))),
            purge: Arc::from(format!("DELETE FROM {t} WHERE expires_at <= {}", p(1))),
            create_table,
            engine,
            table: t,
        })
    }
}

fn validate_prefix(prefix: &str) -> Result<()> {
    let ok = prefix.len() <= 32
        && !prefix.starts_with(|c: char| c.is_ascii_digit())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidTablePrefix)
    }
}

fn q(sql: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(Arc::clone(sql))
}

/// A tower-sessions [`SessionStore`] in the table `{prefix}sessions` of a sqlx pool the
/// application already has. Create the table once with [`migrate`](Self::migrate); remove
/// expired rows with [`purge_expired`](Self::purge_expired) (or tower-sessions'
/// [`ExpiredDeletion`]) from a periodic task. Cheap to clone.
#[derive(Clone)]
pub struct SqlSessionStore {
    pool: Pool,
    q: Arc<Queries>,
}

impl SqlSessionStore {
    /// A store on SQLite (feature `sqlite`). `table_prefix` is `[a-z0-9_]*`, not starting with a
    /// digit, at most 32 characters (`"mfa_"` gives the table `mfa_sessions`).
    ///
    /// # Errors
    /// [`Error::InvalidTablePrefix`].
    #[cfg(feature = "sqlite")]
    pub fn sqlite(pool: sqlx::SqlitePool, table_prefix: &str) -> Result<Self> {
        Ok(Self {
            pool: Pool::Sqlite(pool),
            q: Arc::new(Queries::new(Engine::Sqlite, table_prefix, None)?),
        })
    }

    /// A store on PostgreSQL (feature `postgres`); `table_prefix` as for
    /// [`sqlite`](Self::sqlite). The table is created in the connection's `search_path`.
    ///
    /// # Errors
    /// [`Error::InvalidTablePrefix`].
    #[cfg(feature = "postgres")]
    pub fn postgres(pool: sqlx::PgPool, table_prefix: &str) -> Result<Self> {
        Ok(Self {
            pool: Pool::Postgres(pool),
            q: Arc::new(Queries::new(Engine::Postgres, table_prefix, None)?),
        })
    }

    /// A store on PostgreSQL whose table lives in `schema` (which must exist: the second-factor
    /// store's schema, for example), whatever the connections' `search_path`. `schema` follows
    /// the rules of `table_prefix` and must not be empty.
    ///
    /// # Errors
    /// [`Error::InvalidTablePrefix`] for a prefix or schema outside `[a-z0-9_]`.
    #[cfg(feature = "postgres")]
    pub fn postgres_in_schema(
        pool: sqlx::PgPool,
        schema: &str,
        table_prefix: &str,
    ) -> Result<Self> {
        Ok(Self {
            pool: Pool::Postgres(pool),
            q: Arc::new(Queries::new(Engine::Postgres, table_prefix, Some(schema))?),
        })
    }

    /// A store on MySQL or MariaDB (feature `mysql`); `table_prefix` as for
    /// [`sqlite`](Self::sqlite).
    ///
    /// # Errors
    /// [`Error::InvalidTablePrefix`].
    #[cfg(feature = "mysql")]
    pub fn mysql(pool: sqlx::MySqlPool, table_prefix: &str) -> Result<Self> {
        Ok(Self {
            pool: Pool::MySql(pool),
            q: Arc::new(Queries::new(Engine::MySql, table_prefix, None)?),
        })
    }

    /// The table's name.
    #[must_use]
    pub fn table(&self) -> &str {
        &self.q.table
    }

    /// Creates the table and its expiry index if they do not exist.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn migrate(&self) -> Result<()> {
        for statement in &self.q.create_table {
            on_pool!(&self.pool, p => sqlx::query(q(statement)).execute(p).await.map(|r| r.rows_affected()))
                .map_err(Error::Database)?;
        }
        Ok(())
    }

    /// A task that calls [`purge_expired`](Self::purge_expired) every `every` (at least one
    /// second) for as long as it runs; spawn it once at start-up, beside
    /// [`Mfa::purge_task`](mfa::Mfa::purge_task). A failed purge is logged and retried at the
    /// next tick.
    pub fn purge_task(
        &self,
        every: std::time::Duration,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let store = self.clone();
        let every = every.max(std::time::Duration::from_secs(1));
        async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match store.purge_expired().await {
                    Ok(purged) => tracing::debug!(purged, "session purge"),
                    Err(e) => tracing::warn!(error = %e, "session purge failed; retried next tick"),
                }
            }
        }
    }

    /// Deletes every expired session; returns how many.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn purge_expired(&self) -> Result<u64> {
        let now = millis(OffsetDateTime::now_utc());
        let done = on_pool!(&self.pool, p => sqlx::query(q(&self.q.purge))
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(Error::Database)?;
        Ok(done)
    }
}

/// The key a session is stored under: SHA-256 of a label and the id's 16 bytes.
fn digest(id: &Id) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(b"mfa-axum/session-id\0");
    hash.update(id.0.to_le_bytes());
    hash.finalize().to_vec()
}

/// Milliseconds since the Unix epoch, saturating.
fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms).saturating_mul(1_000_000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn backend(e: &sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn encode(record: &Record) -> session_store::Result<String> {
    serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    /// Inserts the record under a fresh id: a plain `INSERT`, and on a duplicate key a new id.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = encode(record)?;
        let expires = millis(record.expiry_date);
        for _ in 0..CREATE_ATTEMPTS {
            let key = digest(&record.id);
            let inserted = on_pool!(&self.pool, p => sqlx::query(q(&self.q.insert))
                .bind(key)
                .bind(data.as_str())
                .bind(expires)
                .execute(p)
                .await
                .map(|r| r.rows_affected()));
            match inserted {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.as_database_error()
                        .is_some_and(|d| d.is_unique_violation()) =>
                {
                    record.id = Id::default();
                }
                Err(e) => return Err(backend(&e)),
            }
        }
        Err(session_store::Error::Backend(
            "no unused session id after repeated draws".to_owned(),
        ))
    }

    /// Updates a live session; a deleted or expired one stays gone.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = encode(record)?;
        let now = millis(OffsetDateTime::now_utc());
        on_pool!(&self.pool, p => sqlx::query(q(&self.q.update))
            .bind(data.as_str())
            .bind(millis(record.expiry_date))
            .bind(digest(&record.id))
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| backend(&e))?;
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let now = millis(OffsetDateTime::now_utc());
        let row: Option<(String, i64)> = on_pool!(&self.pool, p => sqlx::query_as(q(&self.q.load))
            .bind(digest(session_id))
            .bind(now)
            .fetch_optional(p)
            .await)
        .map_err(|e| backend(&e))?;
        let Some((data, expires)) = row else {
            return Ok(None);
        };
        let data =
            serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *session_id,
            data,
            expiry_date: from_millis(expires),
        }))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        on_pool!(&self.pool, p => sqlx::query(q(&self.q.delete))
            .bind(digest(session_id))
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| backend(&e))?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for SqlSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        self.purge_expired().await.map(drop).map_err(|e| match e {
            Error::Database(e) => backend(&e),
            other => session_store::Error::Backend(other.to_string()),
        })
    }
}

impl fmt::Debug for SqlSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlSessionStore")
            .field("engine", &self.q.engine)
            .field("table", &self.q.table)
            .finish()
    }
}
