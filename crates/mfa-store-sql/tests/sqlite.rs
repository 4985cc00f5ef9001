//! SQLite: the whole conformance kit on a file database (WAL, pool of 8) and on an in-memory
//! database (one connection), plus prefixes, migrations (forward from the released version 1),
//! hostile prefixes and corrupt rows.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;
mod fail_closed;
mod flow;

use std::time::Duration;

use mfa_store::{
    AuditEvent, AuditKind, AuditOutcome, AuditStore, ChallengeStore, ClientInfo, EmailAddress,
    MfaSettings, SettingsStore, StoreError, TotpFactorStore,
};
use mfa_store_sql::sqlx::sqlite::SqlitePoolOptions;
use mfa_store_sql::sqlx::{self, AssertSqlSafe, SqlitePool};
use mfa_store_sql::{SqlStoreConfig, SqliteStore};

use common::migration::{OLD, Seed, fixture_statements, normalized};

/// Every check of the kit on one throwaway file database, one store handle per check.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_file() {
    let store = SqliteStore::throwaway().await;
    mfa_store::testkit::run_all("sqlite_file", || {
        let store = store.clone_store();
        async move { store }
    })
    .await;
}

/// Every check of the kit on an in-memory database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_memory() {
    let store = SqliteStore::in_memory(SqlStoreConfig::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    mfa_store::testkit::run_all("sqlite_memory", || {
        let store = store.clone();
        async move { store }
    })
    .await;
}

/// What this backend claims of the coarse operations beyond the kit (`tests/flow`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn coarse_operations_beyond_the_kit() {
    let store = SqliteStore::throwaway().await;
    flow::all(|| async { store.clone_store() }).await;
}

/// Two prefixes in one file are two stores; migrating again is harmless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_are_independent_and_migrate_is_idempotent() {
    let t = SqliteStore::throwaway().await;
    let a = SqliteStore::from_pool(t.pool().clone(), SqlStoreConfig::new("a_").unwrap());
    let b = SqliteStore::from_pool(t.pool().clone(), SqlStoreConfig::new("b_").unwrap());
    for store in [&a, &b, &a] {
        store.migrate().await.unwrap();
    }
    fail_closed::prefixes_are_independent(a, b).await;
}

/// Eight stores (one pool each, as eight processes would have) migrating one new file at once
/// all succeed, and apply each version once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_apply_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mfa.db");
    let mut runs = Vec::new();
    for _ in 0..8 {
        let store = SqliteStore::open(&path, SqlStoreConfig::default())
            .await
            .unwrap();
        runs.push(tokio::spawn(async move { store.migrate().await }));
    }
    for run in runs {
        run.await.unwrap().unwrap();
    }
    let store = SqliteStore::open(&path, SqlStoreConfig::default())
        .await
        .unwrap();
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM mfa_schema_migrations ORDER BY version")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
}

/// The definitions of `prefix`'s tables and indexes, comparable across prefixes.
async fn describe(pool: &SqlitePool, prefix: &str) -> Vec<String> {
    let lines: Vec<String> = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE name LIKE ? AND sql IS NOT NULL \
         AND name NOT LIKE '%schema_migrations'",
    )
    .bind(format!("{prefix}%"))
    .fetch_all(pool)
    .await
    .unwrap();
    normalized(lines, prefix)
        .into_iter()
        // The released file and the template space their columns differently.
        .map(|l| l.replace(" ,", ",").replace("( ", "(").replace(" )", ")"))
        .collect()
}

/// A file made by the released version 1 migrates forward with its rows readable, and ends
/// exactly as a new file does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_1_migrates_forward() {
    let t = SqliteStore::throwaway().await;
    let mut setup = fixture_statements(include_str!("fixtures/v1/sqlite.sql"), OLD, OLD);
    setup.insert(
        0,
        format!("CREATE TABLE {OLD}schema_migrations (version BIGINT PRIMARY KEY)"),
    );
    let seed = Seed::new();
    setup.extend(seed.statements(OLD, |hex| format!("X'{hex}'")));
    for statement in setup {
        sqlx::query(AssertSqlSafe(statement))
            .execute(t.pool())
            .await
            .unwrap();
    }
    let old = SqliteStore::from_pool(t.pool().clone(), SqlStoreConfig::new(OLD).unwrap());
    old.migrate().await.unwrap();
    old.migrate().await.unwrap();
    seed.check(&old).await;
    assert_eq!(
        describe(t.pool(), OLD).await,
        describe(t.pool(), "mfa_").await,
        "a migrated version-1 file equals a new one"
    );
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

/// Runs `sql` on the store's database, behind the store's back.
async fn tamper(store: &SqliteStore, sql: &str) {
    sqlx::query(AssertSqlSafe(sql.to_owned()))
        .execute(store.pool())
        .await
        .unwrap();
}

fn corrupt_names(err: &StoreError, column: &str) {
    assert!(
        matches!(err, StoreError::Corrupt(what) if what.contains(column)),
        "{err:?} should name {column}"
    );
}

/// A row with an unknown enum name, a malformed digest or attempt plan, an address or
/// destination that no longer parses reads as `Corrupt` naming the column, not as a panic, a
/// default or a guess.
#[tokio::test]
async fn corrupt_rows_are_reported_by_column() {
    let store = SqliteStore::in_memory(SqlStoreConfig::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let now = fail_closed::now();

    let c = fail_closed::challenge("corrupt", 3);
    store.create_challenge(c.clone()).await.unwrap();
    tamper(&store, "UPDATE mfa_challenges SET code_digest = x'0102'").await;
    corrupt_names(
        &store.challenge(&c.id, now).await.unwrap_err(),
        "code_digest",
    );
    tamper(&store, "UPDATE mfa_challenges SET kind = 'carrier_pigeon'").await;
    corrupt_names(&store.challenge(&c.id, now).await.unwrap_err(), "kind");
    tamper(
        &store,
        "UPDATE mfa_challenges SET kind = 'email_code', code_digest = NULL, plan = 'p1;x'",
    )
    .await;
    corrupt_names(&store.challenge(&c.id, now).await.unwrap_err(), "plan");

    fail_closed::confirmed_factor(&store, "corrupt", "f").await;
    tamper(&store, "UPDATE mfa_totp_factors SET status = 'bogus'").await;
    corrupt_names(
        &store.totp_factor("corrupt", "f").await.unwrap_err(),
        "status",
    );

    let event = AuditEvent {
        at: now,
        user: "corrupt".into(),
        kind: AuditKind::LOCKED,
        outcome: AuditOutcome::Denied,
        client: ClientInfo::new("192.0.2.1".parse().unwrap()),
        actor: Some("admin".into()),
    };
    store.append_audit(event).await.unwrap();
    tamper(&store, "UPDATE mfa_audit_events SET ip = '192.0.2.1:443'").await;
    corrupt_names(&store.audit_events("corrupt", 5).await.unwrap_err(), "ip");

    let mut settings = MfaSettings::new("corrupt");
    settings.email = Some(EmailAddress::parse("a@example.com").unwrap());
    store.put_settings(settings).await.unwrap();
    tamper(&store, "UPDATE mfa_settings SET email = 'not an address'").await;
    corrupt_names(&store.settings("corrupt").await.unwrap_err(), "email");
    tamper(
        &store,
        "UPDATE mfa_settings SET email = NULL, phone = '555-0100'",
    )
    .await;
    corrupt_names(&store.settings("corrupt").await.unwrap_err(), "phone");
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
