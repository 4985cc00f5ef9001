//! On PostgreSQL and MariaDB the web sessions live in the same database as the second-factor
//! state (mfa-axum's `SqlSessionStore` on the store's pool): a sign-in outlives a restart of
//! the demo. Each backend runs
//! in a throwaway schema or database of its own; a missing server skips (or fails under
//! `MFA_REQUIRE_SERVICES=1`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should stop the test with its message"
)]

mod common;

use std::str::FromStr as _;

use common::{Agent, clock_now, dev_config, start};
use mfa_demo::{DemoConfig, StoreKind};
use mfa_store_sql::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use mfa_store_sql::sqlx::{self, AssertSqlSafe, Row as _};
use mfa_store_sql::{MySqlStore, PgStore, SqlStoreConfig};

/// Signs in on one instance of the demo, then finds the session on a second instance started
/// on the same database.
async fn session_outlives_a_restart(config: &DemoConfig) {
    let first = start(config).await;
    let mut agent = Agent::new(first, "127.0.0.1");
    let account = agent.register("erin").await;
    assert_eq!(account.by_id("whoami"), "erin");

    let second = start(config).await;
    agent.server = second;
    let account = agent.get("/account").await;
    assert_eq!(account.status, 200, "{}", account.body);
    assert_eq!(account.by_id("whoami"), "erin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sessions_live_beside_the_second_factor_state() {
    let Some(throwaway) = PgStore::throwaway().await else {
        return;
    };
    let schema = throwaway.name().to_owned();
    // The demo's pool, with the throwaway schema first on its search path: the session table
    // lands there too, and goes with the schema.
    let options = PgConnectOptions::from_str(&mfa_store_sql::testkit::postgres_url())
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect_with(options)
        .await
        .unwrap();
    let store = PgStore::from_pool(
        pool.clone(),
        SqlStoreConfig::default().with_schema(&schema).unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut config = dev_config(dir.path(), &clock_now());
    config.store = StoreKind::PostgresStore(store);
    let run = tokio::spawn(async move {
        session_outlives_a_restart(&config).await;
        let sql = format!("SELECT COUNT(*) FROM {schema}.mfa_demo_sessions");
        let row = sqlx::query(AssertSqlSafe(sql))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(
            row.get::<i64, _>(0) > 0,
            "the sessions are in the PostgreSQL schema"
        );
        pool.close().await;
    })
    .await;
    throwaway.cleanup().await;
    if let Err(e) = run {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_sessions_live_beside_the_second_factor_state() {
    let Some(throwaway) = MySqlStore::throwaway().await else {
        return;
    };
    let pool = throwaway.pool().clone();
    let dir = tempfile::tempdir().unwrap();
    let mut config = dev_config(dir.path(), &clock_now());
    config.store = StoreKind::MySqlStore(throwaway.clone_store());
    let run = tokio::spawn(async move {
        session_outlives_a_restart(&config).await;
        let row = sqlx::query("SELECT COUNT(*) FROM mfa_demo_sessions")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(
            row.get::<i64, _>(0) > 0,
            "the sessions are in the MariaDB database"
        );
    })
    .await;
    throwaway.cleanup().await;
    if let Err(e) = run {
        std::panic::resume_unwind(e.into_panic());
    }
}
