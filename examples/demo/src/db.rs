//! The demo's own table of users (Argon2id password hashes), in the SQLite file of the state
//! directory whatever the second-factor backend.

use std::path::Path;
use std::str::FromStr as _;

use mfa_store_sql::SQLITE_BUSY_TIMEOUT;
use mfa_store_sql::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use mfa_store_sql::sqlx::{self, Row as _, SqlitePool};

use crate::error::Result;

/// Opens (creating it) the SQLite file at `path` and creates the users table.
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
    // The sessions of earlier versions of the demo (its own session code); web sessions now
    // live in mfa-axum's session table.
    sqlx::query("DROP TABLE IF EXISTS demo_sessions")
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
