//! PostgreSQL: the whole conformance kit, prefixes and schemas, and fail-closed behaviour when
//! the connection is refused or killed mid-operation.

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod fail_closed;

use std::time::Duration;

use mfa_store_sql::sqlx::postgres::{PgPool, PgPoolOptions};
use mfa_store_sql::sqlx::{Postgres, Transaction};
use mfa_store_sql::{PgStore, SqlStoreConfig};

use common::{CONNECT_TIMEOUT, is_stale, missing, postgres_url, unique_name, with_cleanup};

/// A pool on the test server, or `None` (skip) / a failure (CI) if it is unreachable.
async fn pool(max: u32) -> Option<PgPool> {
    let url = postgres_url();
    match PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect(&url)
        .await
    {
        Ok(pool) => Some(pool),
        Err(e) => missing("PostgreSQL", &url, &e),
    }
}

/// A fresh schema for this test run, migrated, and the config naming it.
async fn fresh_schema(pool: &PgPool, prefix: &str) -> SqlStoreConfig {
    drop_stale_schemas(pool).await;
    let config = SqlStoreConfig::new(prefix)
        .unwrap()
        .with_schema(unique_name("mfa_test"))
        .unwrap();
    PgStore::from_pool(pool.clone(), config.clone())
        .migrate()
        .await
        .unwrap();
    config
}

async fn drop_schema(pool: &PgPool, config: &SqlStoreConfig) {
    let schema = config.schema().unwrap();
    let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
    let _ = mfa_store_sql::sqlx::query(mfa_store_sql::sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await;
}

/// Best effort: schemas of runs killed more than an hour ago.
async fn drop_stale_schemas(pool: &PgPool) {
    let names: Vec<String> = mfa_store_sql::sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'mfa\\_test\\_%'",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    for name in names.into_iter().filter(|n| is_stale(n, "mfa_test")) {
        let sql = format!("DROP SCHEMA IF EXISTS {name} CASCADE");
        let _ = mfa_store_sql::sqlx::query(mfa_store_sql::sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await;
    }
}

/// Every check of the kit, one fresh store handle per check, on one schema of this run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance() {
    let Some(pool) = pool(20).await else { return };
    let config = fresh_schema(&pool, "mfa_").await;
    let (p, c) = (pool.clone(), config.clone());
    with_cleanup(
        async move {
            mfa_store::testkit::run_all("postgres", || {
                let (p, c) = (p.clone(), c.clone());
                async move { PgStore::from_pool(p, c) }
            })
            .await;
        },
        drop_schema(&pool, &config),
    )
    .await;
}

/// Two prefixes in one schema are two independent stores; migrating twice is harmless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_are_independent_and_migrate_is_idempotent() {
    let Some(pool) = pool(5).await else { return };
    let config = fresh_schema(&pool, "a_").await;
    let other = SqlStoreConfig::new("b_")
        .unwrap()
        .with_schema(config.schema().unwrap())
        .unwrap();
    let (p, c) = (pool.clone(), config.clone());
    with_cleanup(
        async move {
            let a = PgStore::from_pool(p.clone(), c);
            let b = PgStore::from_pool(p, other);
            b.migrate().await.unwrap();
            a.migrate().await.unwrap();
            fail_closed::prefixes_are_independent(a, b).await;
        },
        drop_schema(&pool, &config),
    )
    .await;
}

/// A store pointed at a closed port fails every operation kind with a transient error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_fails_closed() {
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect_lazy("postgres://postgres@127.0.0.1:1/test")
        .unwrap();
    fail_closed::every_operation_is_transient(PgStore::from_pool(pool, SqlStoreConfig::default()))
        .await;
}

/// Holds row locks from one connection and kills the store's connection waiting behind them.
struct PgKiller {
    admin: PgPool,
    holder: Option<Transaction<'static, Postgres>>,
}

impl fail_closed::Killer for PgKiller {
    async fn hold(&mut self, sql: String) {
        let mut tx = self.admin.begin().await.unwrap();
        mfa_store_sql::sqlx::query(mfa_store_sql::sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .unwrap();
        self.holder = Some(tx);
    }

    async fn kill_waiting(&self, marker: &str) {
        for _ in 0..400 {
            let pid: Option<i32> = mfa_store_sql::sqlx::query_scalar(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                 AND position($1 in query) > 0 AND pid <> pg_backend_pid() LIMIT 1",
            )
            .bind(marker)
            .fetch_optional(&self.admin)
            .await
            .unwrap();
            if let Some(pid) = pid {
                let killed: bool =
                    mfa_store_sql::sqlx::query_scalar("SELECT pg_terminate_backend($1)")
                        .bind(pid)
                        .fetch_one(&self.admin)
                        .await
                        .unwrap();
                assert!(killed, "pg_terminate_backend({pid})");
                return;
            }
            // Polling for the server to show the waiting statement, not moving test time.
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no statement on {marker} ever waited for the lock");
    }

    async fn release(&mut self) {
        if let Some(tx) = self.holder.take() {
            let _ = tx.rollback().await;
        }
    }
}

/// Each guessing-bounding operation whose connection is killed by `pg_terminate_backend`
/// while it waits for a row lock returns a transient error, grants nothing and loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_connection_fails_closed() {
    let Some(pool) = pool(10).await else { return };
    let config = fresh_schema(&pool, "mfa_").await;
    let (p, c) = (pool.clone(), config.clone());
    with_cleanup(
        async move {
            let tables = format!("{}.{}", c.schema().unwrap(), c.table_prefix());
            let killer = PgKiller {
                admin: p.clone(),
                holder: None,
            };
            fail_closed::killed_mid_operation(PgStore::from_pool(p, c), killer, &tables).await;
        },
        drop_schema(&pool, &config),
    )
    .await;
}
