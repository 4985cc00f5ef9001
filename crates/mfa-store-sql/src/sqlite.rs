//! SQLite (feature `sqlite`, bundled 3.51: `RETURNING`, upserts, generated columns):
//! [`SqliteStore`].
//!
//! One writer at a time: every write statement takes the database's write lock, and
//! multi-statement operations begin with `BEGIN IMMEDIATE`, so they hold it from their first
//! read. A batch of counter takes is one such transaction (in-process: no network round trip).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use mfa_core::CodeDigest;
use mfa_store::{Challenge, CounterState, CounterTake, Result as SResult, TrustedDevice};
use sqlx::Sqlite;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool};

use crate::challenge;
use crate::convert::{conflict_or, corrupt, store_err};
use crate::counter::{self, KeyTake, keyed, taken_or_refused};
use crate::db::{Arg, Db, On, Sql};
use crate::dialect::{Dialect, Syntax};
use crate::engine::Engine;
use crate::returning::{self, ReturningSql, challenge_upsert, take_upsert};
use crate::store::SqlStore;
use crate::{Result, SqlStoreConfig, migrate};

/// An `mfa-store` [`Store`](mfa_store::Store) on SQLite (feature `sqlite`).
///
/// File databases use WAL mode (readers never block the writer), a busy timeout of
/// [`SQLITE_BUSY_TIMEOUT`] and a pool of 8; `sqlite::memory:` gets a pool of exactly one
/// connection that is never closed (every connection to `:memory:` is a separate database).
pub type SqliteStore = SqlStore<Sqlite>;

/// How long a statement waits for SQLite's write lock before failing (busy timeout).
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How SQLite spells what engines spell differently.
pub(crate) const SYNTAX: Syntax = Syntax {
    name: "sqlite",
    numbered_placeholders: false,
    schemas: false,
    binary_identifiers: false,
    greatest: "MAX",
    // A read-modify-write transaction holds the write lock from `BEGIN IMMEDIATE`.
    for_update: "",
    duplicate_key_update: false,
    delete_limit: false,
    types: &[
        ("{id}", "TEXT"),
        ("{key}", "TEXT"),
        ("{blob}", "BLOB"),
        ("{digest}", "BLOB"),
        ("{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        ("{table}", ""),
    ],
    varchar: false,
};

/// The engine-only statements of SQLite.
#[derive(Debug)]
pub struct LiteSql {
    shared: ReturningSql,
    delete_own_challenge: Sql,
    upsert_challenge: Sql,
    /// One bounded take: `VALUES (key, now, end)`, then the limit.
    take_one: Sql,
    /// The state of one counter, read after a refusal.
    state: Sql,
}

impl AsRef<ReturningSql> for LiteSql {
    fn as_ref(&self) -> &ReturningSql {
        &self.shared
    }
}

impl LiteSql {
    fn new(d: &Dialect) -> Self {
        Self {
            shared: ReturningSql::new(d),
            delete_own_challenge: d.sql("DELETE FROM {p}challenges WHERE id = ? AND user_id = ?"),
            upsert_challenge: d.sql(&challenge_upsert(&format!(
                "VALUES ({})",
                ["?"; challenge::INSERT_WIDTH].join(", ")
            ))),
            take_one: d.sql(&take_upsert(
                "VALUES (?, ?, ?, 1, 1)",
                &format!("RETURNING {}", counter::COLUMNS),
            )),
            state: d.sql(&format!(
                "SELECT {} FROM {{p}}counters WHERE counter_key = ?",
                counter::COLUMNS
            )),
        }
    }
}

impl SqlStore<Sqlite> {
    /// Opens (creating it if missing) the database file at `path`, in WAL mode with a busy
    /// timeout.
    ///
    /// # Errors
    /// [`Error::Database`](crate::Error::Database) if the file cannot be opened.
    pub async fn open(path: impl AsRef<Path>, config: SqlStoreConfig) -> Result<Self> {
        let pool = pool(SqliteConnectOptions::new().filename(path)).await?;
        Ok(Self::from_pool(pool, config))
    }

    /// A fresh private in-memory database (one connection, kept open while the store lives).
    ///
    /// # Errors
    /// [`Error::Database`](crate::Error::Database) if SQLite cannot open it.
    pub async fn in_memory(config: SqlStoreConfig) -> Result<Self> {
        Self::connect("sqlite::memory:", config).await
    }
}

/// A pool with this crate's settings: WAL, busy timeout, 8 connections; one connection kept
/// forever for `:memory:` (the data would go with the last connection).
async fn pool(options: SqliteConnectOptions) -> sqlx::Result<SqlitePool> {
    let memory = options.get_filename() == Path::new(":memory:");
    let options = options
        .create_if_missing(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    if memory {
        crate::store::pool_options::<Sqlite>()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
    } else {
        crate::store::pool_options::<Sqlite>()
            .max_connections(8)
            .connect_with(options.journal_mode(SqliteJournalMode::Wal))
            .await
    }
}

impl Engine for Sqlite {
    const SYNTAX: &'static Syntax = &SYNTAX;
    type Sql = LiteSql;

    fn sql(dialect: &Dialect) -> LiteSql {
        LiteSql::new(dialect)
    }

    /// `sqlite://path/to/mfa.db` or `sqlite::memory:`, with [`pool`]'s settings.
    async fn connect(url: &str) -> sqlx::Result<SqlitePool> {
        pool(SqliteConnectOptions::from_str(url)?).await
    }

    /// One `BEGIN IMMEDIATE` transaction: concurrent callers (other processes included) wait
    /// for the write lock, and a failed statement applies nothing.
    async fn migrate(store: &SqlStore<Self>) -> Result<()> {
        let mut tx = Self::begin_write(store.pool()).await?;
        migrate::apply::<Self>(&mut tx, &store.sql().dialect, |_| false).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `BEGIN IMMEDIATE` takes the write lock at once, so no other writer slips in between the
    /// transaction's reads and writes (and no deferred transaction fails to upgrade its lock).
    async fn begin_write(pool: &SqlitePool) -> sqlx::Result<sqlx::Transaction<'static, Self>> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// One `BEGIN IMMEDIATE` transaction: delete this user's row with this id, then insert,
    /// replacing the user's challenge of this purpose; another user's id is a primary-key
    /// violation, rolled back as a `Conflict`.
    async fn create_challenge(store: &SqlStore<Self>, challenge: &Challenge) -> SResult<()> {
        let q = &store.sql().engine;
        let mut tx = Self::begin_write(store.pool()).await.map_err(store_err)?;
        let own = [Arg::Text(&challenge.id), Arg::Text(&challenge.user)];
        Self::execute(On::Tx(&mut *tx), &q.delete_own_challenge, &own)
            .await
            .map_err(store_err)?;
        let stored = challenge::Stored::new(challenge);
        Self::execute(On::Tx(&mut *tx), &q.upsert_challenge, &stored.args())
            .await
            .map_err(|e| conflict_or(e, "challenge id taken"))?;
        tx.commit().await.map_err(store_err)
    }

    async fn spend(store: &SqlStore<Self>, id: &str, now: i64) -> SResult<Option<Challenge>> {
        returning::spend(store, id, now).await
    }

    async fn touch_device(
        store: &SqlStore<Self>,
        user: &str,
        token: &CodeDigest,
        now: i64,
    ) -> SResult<Option<TrustedDevice>> {
        returning::touch_device(store, user, token, now).await
    }

    /// One `BEGIN IMMEDIATE` transaction: each take is one upsert that returns its row only if
    /// it counted; a refusal reads the record as it is (under the same write lock) and ends
    /// the batch.
    async fn take(
        store: &SqlStore<Self>,
        takes: &[KeyTake],
        now: i64,
    ) -> SResult<Vec<CounterTake>> {
        let q = &store.sql().engine;
        let mut tx = Self::begin_write(store.pool()).await.map_err(store_err)?;
        let mut done = Vec::with_capacity(takes.len());
        for take in takes {
            let args = [
                Arg::Text(&take.key),
                Arg::Int(now),
                Arg::Int(take.end),
                Arg::Int(i64::from(take.limit)),
            ];
            let taken = Self::fetch_optional(On::Tx(&mut *tx), &q.take_one, &args)
                .await
                .map_err(store_err)?;
            if let Some(row) = taken {
                done.push(taken_or_refused(true, keyed::<Self>(&row)?.1));
                continue;
            }
            let row = Self::fetch_optional(On::Tx(&mut *tx), &q.state, &[Arg::Text(&take.key)])
                .await
                .map_err(store_err)?
                .ok_or_else(|| corrupt("counter_key"))?;
            done.push(taken_or_refused(false, keyed::<Self>(&row)?.1));
            break;
        }
        tx.commit().await.map_err(store_err)?;
        Ok(done)
    }

    async fn lock_counter(
        store: &SqlStore<Self>,
        key: &str,
        until: i64,
        now: i64,
    ) -> SResult<CounterState> {
        returning::lock_counter(store, key, until, now).await
    }
}
