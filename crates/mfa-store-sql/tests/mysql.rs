//! MySQL/MariaDB: the whole conformance kit, prefixes, and fail-closed behaviour when the
//! connection is refused or killed (`KILL CONNECTION`) mid-operation.

#![cfg(feature = "mysql")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod fail_closed;

use std::str::FromStr;
use std::time::Duration;

use mfa_store_sql::sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use mfa_store_sql::sqlx::{AssertSqlSafe, MySql, Transaction};
use mfa_store_sql::{MySqlStore, SqlStoreConfig};

use common::{CONNECT_TIMEOUT, is_stale, missing, mysql_url, unique_name, with_cleanup};

/// A pool on the server's default database, or `None` (skip) / a failure (CI).
async fn admin_pool() -> Option<MySqlPool> {
    let url = mysql_url();
    match MySqlPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect(&url)
        .await
    {
        Ok(pool) => Some(pool),
        Err(e) => missing("MariaDB/MySQL", &url, &e),
    }
}

/// A fresh database for this run and a pool on it.
async fn fresh_database(admin: &MySqlPool, max: u32) -> (String, MySqlPool) {
    let stale: Vec<String> = mfa_store_sql::sqlx::query_scalar(
        "SELECT CONVERT(schema_name USING utf8mb4) FROM information_schema.schemata \
         WHERE schema_name LIKE 'mfa\\_test\\_%'",
    )
    .fetch_all(admin)
    .await
    .unwrap_or_default();
    for name in stale.into_iter().filter(|n| is_stale(n, "mfa_test")) {
        drop_database(admin, &name).await;
    }
    let name = unique_name("mfa_test");
    mfa_store_sql::sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin)
        .await
        .unwrap();
    let options = MySqlConnectOptions::from_str(&mysql_url())
        .unwrap()
        .database(&name);
    let pool = MySqlPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
        .unwrap();
    (name, pool)
}

async fn drop_database(admin: &MySqlPool, name: &str) {
    let _ = mfa_store_sql::sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
        .execute(admin)
        .await;
}

/// Every check of the kit, one fresh store handle per check, on this run's database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance() {
    let Some(admin) = admin_pool().await else {
        return;
    };
    let (name, pool) = fresh_database(&admin, 20).await;
    MySqlStore::from_pool(pool.clone(), SqlStoreConfig::default())
        .migrate()
        .await
        .unwrap();
    with_cleanup(
        async move {
            mfa_store::testkit::run_all("mysql", || {
                let pool = pool.clone();
                async move { MySqlStore::from_pool(pool, SqlStoreConfig::default()) }
            })
            .await;
        },
        drop_database(&admin, &name),
    )
    .await;
}

/// Two prefixes in one database are two stores; migrating again is harmless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_are_independent_and_migrate_is_idempotent() {
    let Some(admin) = admin_pool().await else {
        return;
    };
    let (name, pool) = fresh_database(&admin, 5).await;
    with_cleanup(
        async move {
            let a = MySqlStore::from_pool(pool.clone(), SqlStoreConfig::new("a_").unwrap());
            let b = MySqlStore::from_pool(pool, SqlStoreConfig::new("b_").unwrap());
            for store in [&a, &b, &a] {
                store.migrate().await.unwrap();
            }
            fail_closed::prefixes_are_independent(a, b).await;
        },
        drop_database(&admin, &name),
    )
    .await;
}

/// A store pointed at a closed port fails every operation kind with a transient error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_fails_closed() {
    let pool = MySqlPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect_lazy("mysql://root@127.0.0.1:1/test")
        .unwrap();
    fail_closed::every_operation_is_transient(MySqlStore::from_pool(
        pool,
        SqlStoreConfig::default(),
    ))
    .await;
}

/// Holds row locks from one connection and kills the store's connection waiting behind them.
struct MySqlKiller {
    admin: MySqlPool,
    database: String,
    holder: Option<Transaction<'static, MySql>>,
}

impl fail_closed::Killer for MySqlKiller {
    async fn hold(&mut self, sql: String) {
        let mut tx = self.admin.begin().await.unwrap();
        mfa_store_sql::sqlx::query(AssertSqlSafe(format!("USE {}", self.database)))
            .execute(&mut *tx)
            .await
            .unwrap();
        mfa_store_sql::sqlx::query(AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .unwrap();
        self.holder = Some(tx);
    }

    async fn kill_waiting(&self, marker: &str) {
        for _ in 0..400 {
            let id: Option<i64> = mfa_store_sql::sqlx::query_scalar(
                "SELECT id FROM information_schema.processlist WHERE db = ? \
                 AND id <> CONNECTION_ID() AND info LIKE CONCAT('%', ?, '%') \
                 AND info NOT LIKE '%FOR UPDATE%' LIMIT 1",
            )
            .bind(&self.database)
            .bind(marker)
            .fetch_optional(&self.admin)
            .await
            .unwrap();
            if let Some(id) = id {
                mfa_store_sql::sqlx::query(AssertSqlSafe(format!("KILL CONNECTION {id}")))
                    .execute(&self.admin)
                    .await
                    .unwrap();
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

/// Each guessing-bounding operation whose connection is killed with `KILL CONNECTION` while it
/// waits for a row lock returns a transient error, grants nothing and loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_connection_fails_closed() {
    let Some(admin) = admin_pool().await else {
        return;
    };
    let (name, pool) = fresh_database(&admin, 10).await;
    let store = MySqlStore::from_pool(pool, SqlStoreConfig::default());
    store.migrate().await.unwrap();
    let killer = MySqlKiller {
        admin: admin.clone(),
        database: name.clone(),
        holder: None,
    };
    with_cleanup(
        async move { fail_closed::killed_mid_operation(store, killer, "mfa_").await },
        drop_database(&admin, &name),
    )
    .await;
}
