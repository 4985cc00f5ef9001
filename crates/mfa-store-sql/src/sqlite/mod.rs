//! SQLite (feature `sqlite`, bundled 3.51: `RETURNING`, upserts, generated columns):
//! [`SqliteStore`].
//!
//! One writer at a time: every write statement takes the database's write lock, and
//! multi-statement operations begin with `BEGIN IMMEDIATE`, so they hold it from their first
//! read. A batch of counter takes is one such transaction, and so is each coarse operation of
//! a login (`flow.rs`): in-process, with no network round trip to save.

mod flow;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use mfa_core::CodeDigest;
use mfa_store::{
    AttemptView, AuditEvent, Challenge, CounterState, CounterTake, Result as SResult, Settlement,
    TrustedDevice,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool};
use sqlx::{Sqlite, Transaction};

use crate::challenge::{self, Stored};
use crate::convert::{conflict_or, corrupt, store_err};
use crate::counter::{self, KeyTake, keyed, taken_or_refused};
use crate::db::{Arg, Db, On, Sql};
use crate::dialect::{Dialect, Syntax};
use crate::engine::Engine;
use crate::returning::{self, ReturningSql, challenge_upsert};
use crate::store::{SqlStore, fetch_optional_on};
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
    /// `lock_counter`: key, now, now, until.
    lock: Sql,
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
            // An empty window at now; the consecutive failures of a live record kept; a lock
            // only ever extended (an expired record counts as absent).
            lock: d.sql(&format!(
                "INSERT INTO {{p}}counters AS c (counter_key, window_start, window_end, count, \
                 consecutive, locked_until) VALUES (?, ?, ?, 0, 0, ?) \
                 ON CONFLICT (counter_key) DO UPDATE SET \
                 window_start = excluded.window_start, window_end = excluded.window_end, \
                 count = 0, \
                 consecutive = CASE WHEN excluded.window_start >= c.expires_at \
                   THEN 0 ELSE c.consecutive END, \
                 locked_until = CASE WHEN excluded.window_start >= c.expires_at \
                   THEN excluded.locked_until \
                   ELSE MAX(COALESCE(c.locked_until, excluded.locked_until), \
                            excluded.locked_until) END \
                 RETURNING {}",
                counter::COLUMNS
            )),
        }
    }
}

/// The bounded take of one key as a template (PostgreSQL's `take_one` function runs the same
/// upsert): an insert of a fresh record from `source`
/// (`counter_key, window_start = now, window_end, 1, 1`), or, on an existing record, the update
/// `CounterStore::take_counter` describes, made only where its `WHERE` allows it (a refusal
/// changes nothing and returns no row). The limit is the placeholder after `source`'s.
fn take_upsert(source: &str, returning: &str) -> String {
    // `excluded.window_start` is now. Expired (now >= the retention end): a new record. Else
    // locked: refused. Else the window ended: a new window, consecutive + 1. Else room left:
    // count + 1. Else refused. Every SET reads the row as it was before the update.
    format!(
        "INSERT INTO {{p}}counters AS c \
         (counter_key, window_start, window_end, count, consecutive) {source} \
         ON CONFLICT (counter_key) DO UPDATE SET \
         window_start = CASE WHEN excluded.window_start >= c.window_end \
           THEN excluded.window_start ELSE c.window_start END, \
         window_end = CASE WHEN excluded.window_start >= c.window_end \
           THEN excluded.window_end ELSE c.window_end END, \
         count = CASE WHEN excluded.window_start >= c.window_end THEN 1 ELSE c.count + 1 END, \
         consecutive = CASE WHEN excluded.window_start >= c.expires_at \
           THEN 1 ELSE c.consecutive + 1 END, \
         locked_until = CASE WHEN excluded.window_start >= c.expires_at \
           THEN NULL ELSE c.locked_until END \
         WHERE excluded.window_start >= c.expires_at \
           OR ((c.locked_until IS NULL OR c.locked_until <= excluded.window_start) \
               AND (excluded.window_start >= c.window_end OR c.count < ?)) \
         {returning}"
    )
}

impl SqlStore<Sqlite> {
    /// `create_challenge` on an open write transaction: delete this user's row with this id,
    /// then insert, replacing the user's challenge of this purpose; another user's id is a
    /// primary-key violation, a `Conflict` (the caller rolls back).
    async fn create_on(&self, conn: &mut SqliteConnection, challenge: &Challenge) -> SResult<()> {
        let q = &self.sql().engine;
        let own = [Arg::Text(&challenge.id), Arg::Text(&challenge.user)];
        Sqlite::execute(On::Tx(&mut *conn), &q.delete_own_challenge, &own)
            .await
            .map_err(store_err)?;
        let stored = Stored::new(challenge);
        Sqlite::execute(On::Tx(conn), &q.upsert_challenge, &stored.args())
            .await
            .map_err(|e| conflict_or(e, "challenge id taken"))?;
        Ok(())
    }

    /// The takes of `take_counters` on an open write transaction: each take is one upsert that
    /// returns its row only if it counted; a refusal reads the record as it is (under the same
    /// write lock) and ends the batch.
    async fn take_on(
        &self,
        conn: &mut SqliteConnection,
        takes: &[KeyTake],
        now: i64,
    ) -> SResult<Vec<CounterTake>> {
        let q = &self.sql().engine;
        let mut done = Vec::with_capacity(takes.len());
        for take in takes {
            let args = [
                Arg::Text(&take.key),
                Arg::Int(now),
                Arg::Int(take.end),
                Arg::Int(i64::from(take.limit)),
            ];
            let taken = Sqlite::fetch_optional(On::Tx(&mut *conn), &q.take_one, &args)
                .await
                .map_err(store_err)?;
            if let Some(row) = taken {
                done.push(taken_or_refused(true, keyed::<Sqlite>(&row)?.1));
                continue;
            }
            let row = Sqlite::fetch_optional(On::Tx(&mut *conn), &q.state, &[Arg::Text(&take.key)])
                .await
                .map_err(store_err)?
                .ok_or_else(|| corrupt("counter_key"))?;
            done.push(taken_or_refused(false, keyed::<Sqlite>(&row)?.1));
            break;
        }
        Ok(done)
    }

    /// `lock_counter` of storage key `key` on `on`: one upsert.
    async fn lock_on(
        &self,
        on: On<'_, Sqlite>,
        key: &str,
        until: i64,
        now: i64,
    ) -> SResult<CounterState> {
        let args = [
            Arg::Text(key),
            Arg::Int(now),
            Arg::Int(now),
            Arg::Int(until),
        ];
        let row = fetch_optional_on(on, &self.sql().engine.lock, &args, keyed::<Sqlite>).await?;
        row.map(|(_, state)| state)
            .ok_or_else(|| corrupt("counter_key"))
    }

    /// A `BEGIN IMMEDIATE` transaction on the pool.
    async fn begin(&self) -> SResult<Transaction<'static, Sqlite>> {
        Sqlite::begin_write(self.pool()).await.map_err(store_err)
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

    /// One `BEGIN IMMEDIATE` transaction of [`create_on`](SqlStore::create_on).
    async fn create_challenge(store: &SqlStore<Self>, challenge: &Challenge) -> SResult<()> {
        let mut tx = store.begin().await?;
        store.create_on(&mut tx, challenge).await?;
        tx.commit().await.map_err(store_err)
    }

    async fn spend(store: &SqlStore<Self>, id: &str, now: i64) -> SResult<Option<Challenge>> {
        returning::spend(store, On::Pool(store.pool()), id, now).await
    }

    async fn touch_device(
        store: &SqlStore<Self>,
        user: &str,
        token: &CodeDigest,
        now: i64,
    ) -> SResult<Option<TrustedDevice>> {
        returning::touch_device(store, user, token, now).await
    }

    /// One `BEGIN IMMEDIATE` transaction of [`take_on`](SqlStore::take_on).
    async fn take(
        store: &SqlStore<Self>,
        takes: &[KeyTake],
        now: i64,
    ) -> SResult<Vec<CounterTake>> {
        let mut tx = store.begin().await?;
        let done = store.take_on(&mut tx, takes, now).await?;
        tx.commit().await.map_err(store_err)?;
        Ok(done)
    }

    async fn lock_counter(
        store: &SqlStore<Self>,
        key: &str,
        until: i64,
        now: i64,
    ) -> SResult<CounterState> {
        store.lock_on(On::Pool(store.pool()), key, until, now).await
    }

    async fn open_ticket(
        store: &SqlStore<Self>,
        ticket: &Challenge,
        budget: &KeyTake,
        audit: &AuditEvent,
        now: i64,
    ) -> SResult<CounterTake> {
        flow::open_ticket(store, ticket, budget, audit, now).await
    }

    async fn attempt(
        store: &SqlStore<Self>,
        id: &str,
        tag: Option<&str>,
        factors: bool,
        now: i64,
    ) -> SResult<Option<AttemptView>> {
        flow::attempt(store, id, tag, factors, now).await
    }

    async fn settle(
        store: &SqlStore<Self>,
        settlement: &Settlement,
        step: Option<i64>,
        now: i64,
    ) -> SResult<bool> {
        flow::settle(store, settlement, step, now).await
    }
}
