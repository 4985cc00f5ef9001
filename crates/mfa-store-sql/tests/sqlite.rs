//! SQLite: the whole conformance kit on a file database (WAL, pool of 8) and on an in-memory
//! database (one connection), plus prefix, migration and corrupt-row checks.

#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod fail_closed;

use std::time::Duration;

use mfa_store::{ChallengeStore, StoreError, TotpFactorStore};
use mfa_store_sql::sqlx::sqlite::SqlitePoolOptions;
use mfa_store_sql::{SqlStoreConfig, SqliteStore};

/// Every check of the kit on one file database (created and migrated once, one store handle
/// per check sharing the pool).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("mfa.db"), SqlStoreConfig::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    mfa_store::testkit::run_all("sqlite_file", || {
        let store = store.clone();
        async move { store }
    })
    .await;
}

/// Every check of the kit on an in-memory database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_memory() {
    let store = SqliteStore::connect("sqlite::memory:", SqlStoreConfig::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    mfa_store::testkit::run_all("sqlite_memory", || {
        let store = store.clone();
        async move { store }
    })
    .await;
}

/// Two prefixes in one file are two stores; migrating again is harmless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_are_independent_and_migrate_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mfa.db");
    let a = SqliteStore::open(&path, SqlStoreConfig::new("a_").unwrap())
        .await
        .unwrap();
    let b = SqliteStore::open(&path, SqlStoreConfig::new("b_").unwrap())
        .await
        .unwrap();
    for store in [&a, &b, &a] {
        store.migrate().await.unwrap();
    }
    fail_closed::prefixes_are_independent(a, b).await;
}

/// A hostile prefix never reaches SQL: the configuration refuses it.
#[test]
fn hostile_prefix_is_refused() {
    for bad in ["x; DROP TABLE t; --", "mfa_\"", "mfa'", "Mfa", "a b"] {
        assert!(matches!(
            SqlStoreConfig::new(bad),
            Err(mfa_store_sql::Error::InvalidName { .. })
        ));
    }
}

/// A row with an unknown enum name or a malformed digest reads as `Corrupt` naming the column,
/// not as a panic or a default.
#[tokio::test]
async fn corrupt_rows_are_reported_by_column() {
    let store = SqliteStore::in_memory(SqlStoreConfig::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let c = fail_closed::challenge("corrupt", 3);
    store.create_challenge(c.clone()).await.unwrap();
    mfa_store_sql::sqlx::query("UPDATE mfa_challenges SET code_digest = x'0102' WHERE id = ?")
        .bind(&c.id)
        .execute(store.pool())
        .await
        .unwrap();
    let err = store
        .challenge(&c.id, fail_closed::now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(what) if what.contains("code_digest")),
        "{err:?}"
    );

    fail_closed::confirmed_factor(&store, "corrupt", "f").await;
    mfa_store_sql::sqlx::query("UPDATE mfa_totp_factors SET status = 'bogus'")
        .execute(store.pool())
        .await
        .unwrap();
    let err = store.totp_factor("corrupt", "f").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(what) if what.contains("status")),
        "{err:?}"
    );
}

/// A closed pool fails every operation kind with a transient error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_pool_fails_closed() {
    let pool = SqlitePoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect("sqlite::memory:")
        .await
        .unwrap();
    pool.close().await;
    fail_closed::every_operation_is_transient(SqliteStore::from_pool(
        pool,
        SqlStoreConfig::default(),
    ))
    .await;
}
