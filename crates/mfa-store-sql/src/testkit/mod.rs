//! Throwaway stores for tests (feature `testkit`): a store in a PostgreSQL schema, a MySQL
//! database or a SQLite file of its own, migrated, and removed afterwards; and the one place
//! that decides what a missing server means.
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn demo() {
//! use mfa_store_sql::PgStore;
//!
//! // `None`: no server at MFA_POSTGRES_URL, and MFA_REQUIRE_SERVICES is not 1 (the test skips).
//! let Some(store) = PgStore::throwaway().await else { return };
//! mfa_store::testkit::run_all("postgres", || {
//!     let store = store.clone_store();
//!     async move { store }
//! })
//! .await;
//! // Dropping `store` drops its schema, also when the test panicked; `store.cleanup().await`
//! // does it on the test's own runtime, and `into_parts()` hands the store and a cleanup future
//! // to a harness that wants to run the cleanup itself.
//! # }
//! ```
//!
//! Servers come from `MFA_POSTGRES_URL` and `MFA_MYSQL_URL` (defaults
//! `postgres://postgres@127.0.0.1:5432/test` and `mysql://root@127.0.0.1:3306/test`; the MySQL
//! user must be allowed to create databases). A missing server makes the constructor print
//! `SKIPPED: ..` and return `None`, or panic under `MFA_REQUIRE_SERVICES=1`, as CI sets it.
//! Names are `mfa_test_<start second>_<random>`; leftovers of runs killed before their cleanup
//! and older than an hour are dropped by the next throwaway on the same server.

// A test helper reports a broken set-up by panicking, as the test around it would.
#![allow(clippy::panic, clippy::expect_used, clippy::print_stderr)]

use std::fmt::Display;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::engine::Engine;
use crate::store::SqlStore;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

/// The default PostgreSQL of tests (`MFA_POSTGRES_URL` overrides it).
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The default MySQL/MariaDB of tests (`MFA_MYSQL_URL` overrides it).
pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// How long the first connection may take before the server counts as missing.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
const REACH_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections of a throwaway pool: the kit's 50-task races queue on them.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
const POOL_SIZE: u32 = 20;
/// How long a throwaway store's operation waits for a pooled connection.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// The prefix of every throwaway schema or database name.
const TAG: &str = "mfa_test";
/// Leftovers older than this are a killed run's.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// `MFA_POSTGRES_URL`, or [`DEFAULT_POSTGRES_URL`].
#[must_use]
pub fn postgres_url() -> String {
    std::env::var("MFA_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// `MFA_MYSQL_URL`, or [`DEFAULT_MYSQL_URL`].
#[must_use]
pub fn mysql_url() -> String {
    std::env::var("MFA_MYSQL_URL").unwrap_or_else(|_| DEFAULT_MYSQL_URL.to_owned())
}

/// Whether every service is required (`MFA_REQUIRE_SERVICES=1`, as CI sets it).
#[must_use]
pub fn services_required() -> bool {
    std::env::var("MFA_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// What a test does when `service` at `url` cannot be reached: under `MFA_REQUIRE_SERVICES=1`
/// it fails; otherwise it prints `SKIPPED: ..` on stderr and the caller returns (skips).
///
/// # Panics
/// Under `MFA_REQUIRE_SERVICES=1`, always.
pub fn skip_or_fail(service: &str, url: &str, why: &dyn Display) {
    assert!(
        !services_required(),
        "{service} at {url} is required (MFA_REQUIRE_SERVICES=1) but unreachable: {why}"
    );
    eprintln!(
        "SKIPPED: {service} at {url} is unreachable ({why}); \
         set MFA_REQUIRE_SERVICES=1 to fail instead"
    );
}

/// A future that removes a throwaway store's data (see [`Throwaway::into_parts`]).
pub type Cleanup = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A migrated store in a schema, database or file of its own, removed when this is dropped.
///
/// Dereferences to the store. Build one with `PgStore::throwaway()`, `MySqlStore::throwaway()`
/// or `SqliteStore::throwaway()`.
pub struct Throwaway<E: Engine> {
    store: SqlStore<E>,
    name: String,
    removal: Option<Removal>,
}

/// What to remove, and where.
#[derive(Debug)]
enum Removal {
    #[cfg(feature = "postgres")]
    Schema { url: String, schema: String },
    #[cfg(feature = "mysql")]
    Database { url: String, database: String },
    #[cfg(feature = "sqlite")]
    Directory(tempfile::TempDir),
}

impl<E: Engine> Throwaway<E> {
    /// The schema (PostgreSQL), database (MySQL) or file path (SQLite) the store lives in.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The store (also reachable through `Deref`).
    #[must_use]
    pub fn store(&self) -> &SqlStore<E> {
        &self.store
    }

    /// Another handle to the store (sharing the pool), for a check that takes one by value.
    #[must_use]
    pub fn clone_store(&self) -> SqlStore<E> {
        self.store.clone()
    }

    /// Closes the store's pool and removes its data now, on the caller's runtime.
    pub async fn cleanup(self) {
        let (_, cleanup) = self.into_parts();
        cleanup.await;
    }

    /// The store and the future that closes its pool and removes its data, for a harness that
    /// hands the store on (`Arc<dyn Store>`) and runs the cleanup after the test. If the future
    /// is dropped unawaited, the data stays until a later run drops it as stale.
    #[must_use]
    pub fn into_parts(mut self) -> (SqlStore<E>, Cleanup) {
        let removal = self.removal.take();
        let store = self.store.clone();
        let pool = store.pool().clone();
        let cleanup = Box::pin(async move {
            // Connections in use are closed when they come back; do not wait for ever.
            let _ = tokio::time::timeout(Duration::from_secs(5), pool.close()).await;
            if let Some(removal) = removal {
                removal.run().await;
            }
        });
        (store, cleanup)
    }
}

impl<E: Engine> Deref for Throwaway<E> {
    type Target = SqlStore<E>;

    fn deref(&self) -> &SqlStore<E> {
        &self.store
    }
}

impl<E: Engine> std::fmt::Debug for Throwaway<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throwaway")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<E: Engine> Drop for Throwaway<E> {
    /// Removes the data from a thread with a runtime of its own and a fresh connection, so it
    /// works whatever runtime (if any) is dropping this, and while a test panics.
    fn drop(&mut self) {
        if let Some(removal) = self.removal.take() {
            let done =
                std::thread::spawn(move || {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime.block_on(removal.run()),
                        Err(e) => eprintln!("mfa-store-sql testkit: no runtime to clean up: {e}"),
                    }
                });
            let _ = done.join();
        }
    }
}

impl Removal {
    /// Removes the data; a failure is reported on stderr, never raised (a later run drops the
    /// leftover as stale).
    async fn run(self) {
        match self {
            #[cfg(feature = "postgres")]
            Self::Schema { url, schema } => {
                if let Err(e) = postgres::drop_schema(&url, &schema).await {
                    eprintln!("mfa-store-sql testkit: dropping schema {schema} failed: {e}");
                }
            }
            #[cfg(feature = "mysql")]
            Self::Database { url, database } => {
                if let Err(e) = mysql::drop_database(&url, &database).await {
                    eprintln!("mfa-store-sql testkit: dropping database {database} failed: {e}");
                }
            }
            #[cfg(feature = "sqlite")]
            Self::Directory(dir) => drop(dir),
        }
    }
}

/// A name no other run uses: the tag, the start second (for the stale sweep) and 32 random bits.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
fn unique_name() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let random = getrandom::u32().expect("the OS RNG works");
    format!("{TAG}_{secs}_{random:08x}")
}

/// Whether `name` is a throwaway name older than [`STALE_AFTER`].
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
fn is_stale(name: &str) -> bool {
    let started = name
        .strip_prefix(TAG)
        .and_then(|rest| rest.strip_prefix('_'))
        .and_then(|rest| rest.split('_').next())
        .and_then(|secs| secs.parse::<u64>().ok());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    started.is_some_and(|t| now.saturating_sub(t) > STALE_AFTER.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_age() {
        let (a, b) = (unique_name(), unique_name());
        assert_ne!(a, b);
        assert!(a.starts_with("mfa_test_"));
        assert!(!is_stale(&a), "a new name is not stale");
        assert!(is_stale("mfa_test_1000_0000abcd"), "one from 1970 is");
        assert!(
            !is_stale("mfa_test_x_1"),
            "an unknown shape is never dropped"
        );
        assert!(!is_stale("other_1000_1"));
    }
}
