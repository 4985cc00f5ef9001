//! The demo's own SQLite tables: users with Argon2id password hashes, and web sessions.
//!
//! Only the second-factor state switches backends; these two tables always live in the SQLite
//! file of the state directory.

use std::path::Path;
use std::str::FromStr as _;

use mfa_store_sql::SQLITE_BUSY_TIMEOUT;
use mfa_store_sql::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use mfa_store_sql::sqlx::{self, Row as _, SqlitePool};

use crate::error::Result;

/// Opens (creating it) the SQLite file at `path` and creates the demo's tables.
pub(crate) async fn open(path: &Path) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str("sqlite://")?
        .filename(path)
        .create_if_missing(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .journal_mode(SqliteJournalMode::Wal);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS demo_users (
            username TEXT PRIMARY KEY NOT NULL,
            password_hash TEXT NOT NULL,
            created_at INTEGER NOT NULL)",
    )
    .execute(&pool)
    .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS demo_sessions (
            id_digest TEXT PRIMARY KEY NOT NULL,
            username TEXT,
            stage TEXT NOT NULL,
            methods TEXT NOT NULL DEFAULT '',
            pending_action TEXT,
            flash TEXT,
            expires_at INTEGER NOT NULL)",
    )
    .execute(&pool)
    .await?;
    Ok(pool)
}

/// Adds a user; `false` if the name is taken.
pub(crate) async fn create_user(
    pool: &SqlitePool,
    username: &str,
    hash: &str,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO demo_users (username, password_hash, created_at) VALUES (?, ?, ?)
         ON CONFLICT (username) DO NOTHING",
    )
    .bind(username)
    .bind(hash)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The stored password hash of `username`.
pub(crate) async fn password_hash(pool: &SqlitePool, username: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT password_hash FROM demo_users WHERE username = ?")
        .bind(username)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Every user name, sorted (the admin page).
pub(crate) async fn usernames(pool: &SqlitePool) -> Result<Vec<String>> {
    let rows = sqlx::query("SELECT username FROM demo_users ORDER BY username LIMIT 500")
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(|r| r.get(0)).collect())
}

/// Where a web session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Nobody signed in.
    Anonymous,
    /// The password was right; a second factor is pending.
    Password,
    /// Fully signed in.
    SignedIn,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Password => "password",
            Self::SignedIn => "signed_in",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "password" => Self::Password,
            "signed_in" => Self::SignedIn,
            _ => Self::Anonymous,
        }
    }
}

/// A session row (the id itself is never stored, only its keyed digest).
#[derive(Debug, Clone)]
pub(crate) struct SessionRow {
    pub(crate) id_digest: String,
    pub(crate) username: Option<String>,
    pub(crate) stage: Stage,
    /// The second-factor methods offered (comma-separated), preferred first.
    pub(crate) methods: String,
    /// What a step-up verification will do once it succeeds (`preferred:totp`).
    pub(crate) pending_action: Option<String>,
    /// A one-time message for the next page.
    pub(crate) flash: Option<String>,
    pub(crate) expires_at: i64,
}

impl SessionRow {
    /// A fresh anonymous session.
    pub(crate) fn anonymous(id_digest: String, expires_at: i64) -> Self {
        Self {
            id_digest,
            username: None,
            stage: Stage::Anonymous,
            methods: String::new(),
            pending_action: None,
            flash: None,
            expires_at,
        }
    }
}

/// Inserts or replaces `row`.
pub(crate) async fn save_session(pool: &SqlitePool, row: &SessionRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO demo_sessions
            (id_digest, username, stage, methods, pending_action, flash, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id_digest) DO UPDATE SET username = excluded.username,
            stage = excluded.stage, methods = excluded.methods,
            pending_action = excluded.pending_action, flash = excluded.flash,
            expires_at = excluded.expires_at",
    )
    .bind(&row.id_digest)
    .bind(&row.username)
    .bind(row.stage.as_str())
    .bind(&row.methods)
    .bind(&row.pending_action)
    .bind(&row.flash)
    .bind(row.expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// The live session with this id digest.
pub(crate) async fn load_session(
    pool: &SqlitePool,
    id_digest: &str,
    now: i64,
) -> Result<Option<SessionRow>> {
    let row = sqlx::query(
        "SELECT id_digest, username, stage, methods, pending_action, flash, expires_at
         FROM demo_sessions WHERE id_digest = ? AND expires_at > ?",
    )
    .bind(id_digest)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| SessionRow {
        id_digest: r.get(0),
        username: r.get(1),
        stage: Stage::parse(r.get::<&str, _>(2)),
        methods: r.get(3),
        pending_action: r.get(4),
        flash: r.get(5),
        expires_at: r.get(6),
    }))
}

/// Deletes a session (log out, rotation), and every expired one.
pub(crate) async fn delete_session(pool: &SqlitePool, id_digest: &str, now: i64) -> Result<()> {
    sqlx::query("DELETE FROM demo_sessions WHERE id_digest = ? OR expires_at <= ?")
        .bind(id_digest)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}
