//! MySQL/MariaDB: the whole conformance kit, prefixes, migrations (concurrent, and forward from
//! the released version 1), round trips per operation, and fail-closed behaviour when the
//! connection is refused or killed (`KILL CONNECTION`) mid-operation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;
mod fail_closed;
mod flow;

use std::str::FromStr;
use std::time::Duration;

use mfa_store_sql::sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use mfa_store_sql::sqlx::{self, AssertSqlSafe, MySql, Transaction};
use mfa_store_sql::testkit::mysql_url;
use mfa_store_sql::{MySqlStore, SqlStoreConfig};

use common::migration::{OLD, Seed, fixture_statements, normalized};
use common::round_trips::{Proxy, login, per_operation, report};

/// Every check of the kit, one store handle per check, in one throwaway database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance() {
    let Some(store) = MySqlStore::throwaway().await else {
        return;
    };
    mfa_store::testkit::run_all("mysql", || {
        let store = store.clone_store();
        async move { store }
    })
    .await;
}

/// What this backend claims of the coarse operations beyond the kit (`tests/flow`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn coarse_operations_beyond_the_kit() {
    let Some(store) = MySqlStore::throwaway().await else {
        return;
    };
    flow::all(|| async { store.clone_store() }).await;
}

fn prefixed(prefix: &str) -> SqlStoreConfig {
    SqlStoreConfig::new(prefix).unwrap()
}

/// Two prefixes in one database are two stores; migrating again is harmless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_are_independent_and_migrate_is_idempotent() {
    let Some(t) = MySqlStore::throwaway().await else {
        return;
    };
    let a = MySqlStore::from_pool(t.pool().clone(), prefixed("a_"));
    let b = MySqlStore::from_pool(t.pool().clone(), prefixed("b_"));
    for store in [&a, &b, &a] {
        store.migrate().await.unwrap();
    }
    fail_closed::prefixes_are_independent(a, b).await;
}

/// Twenty instances migrating one new prefix at once all succeed, and apply it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_apply_once() {
    let Some(t) = MySqlStore::throwaway().await else {
        return;
    };
    let runs: Vec<_> = (0..20)
        .map(|_| {
            let store = MySqlStore::from_pool(t.pool().clone(), prefixed("c_"));
            tokio::spawn(async move { store.migrate().await })
        })
        .collect();
    for run in runs {
        run.await.unwrap().unwrap();
    }
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM c_schema_migrations ORDER BY version")
            .fetch_all(t.pool())
            .await
            .unwrap();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
}

/// A migration interrupted after some of its statements (MySQL commits DDL as it goes) is
/// completed by the next `migrate()`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_migration_is_completed() {
    let Some(t) = MySqlStore::throwaway().await else {
        return;
    };
    // Versions 2 and 3 half applied: some of their columns and routines there, the versions
    // not recorded.
    for statement in [
        "DELETE FROM mfa_schema_migrations WHERE version >= 2",
        "ALTER TABLE mfa_audit_events DROP COLUMN actor",
        "ALTER TABLE mfa_challenges DROP COLUMN plan_takes",
        "DROP PROCEDURE mfa_take_list",
    ] {
        sqlx::query(statement).execute(t.pool()).await.unwrap();
    }
    t.migrate().await.unwrap();
    let other = MySqlStore::from_pool(t.pool().clone(), prefixed("d_"));
    other.migrate().await.unwrap();
    fail_closed::prefixes_are_independent(t.clone_store(), other).await;
    let actor: Option<String> = sqlx::query_scalar("SELECT MAX(actor) FROM mfa_audit_events")
        .fetch_one(t.pool())
        .await
        .unwrap();
    assert_eq!(actor, None, "the dropped column is back");
    let routines: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.routines \
         WHERE routine_schema = DATABASE() AND routine_name = 'mfa_take_list'",
    )
    .fetch_one(t.pool())
    .await
    .unwrap();
    assert_eq!(routines, 1, "the dropped routine is back");
}

/// The definitions of `prefix`'s tables, comparable across prefixes.
async fn describe(pool: &MySqlPool, prefix: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for table in [
        "totp_factors",
        "challenges",
        "recovery_codes",
        "counters",
        "trusted_devices",
        "audit_events",
        "settings",
    ] {
        let (_, create): (String, String) =
            sqlx::query_as(AssertSqlSafe(format!("SHOW CREATE TABLE {prefix}{table}")))
                .fetch_one(pool)
                .await
                .unwrap();
        lines.extend(create.lines().map(str::to_owned));
    }
    let routines: Vec<String> = sqlx::query_scalar(
        "SELECT CONVERT(routine_name USING utf8mb4) FROM information_schema.routines \
         WHERE routine_schema = DATABASE() AND routine_name LIKE ?",
    )
    .bind(format!("{prefix}%"))
    .fetch_all(pool)
    .await
    .unwrap();
    lines.extend(routines);
    normalized(lines, prefix)
}

/// A database made by the released version 1 migrates forward with its rows readable, and
/// ends exactly as a new database does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_1_migrates_forward() {
    let Some(t) = MySqlStore::throwaway().await else {
        return;
    };
    let mut setup = fixture_statements(include_str!("fixtures/v1/mysql.sql"), OLD, OLD);
    setup.insert(
        0,
        format!(
            "CREATE TABLE {OLD}schema_migrations (version BIGINT NOT NULL PRIMARY KEY) \
             ENGINE = InnoDB"
        ),
    );
    let seed = Seed::new();
    setup.extend(seed.statements(OLD, |hex| format!("X'{hex}'")));
    for statement in setup {
        sqlx::query(AssertSqlSafe(statement))
            .execute(t.pool())
            .await
            .unwrap();
    }
    let old = MySqlStore::from_pool(t.pool().clone(), prefixed(OLD));
    old.migrate().await.unwrap();
    old.migrate().await.unwrap();
    seed.check(&old).await;
    assert_eq!(
        describe(t.pool(), OLD).await,
        describe(t.pool(), "mfa_").await,
        "a migrated version-1 database equals a new one"
    );
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

/// The round trips of each operation, through a counting proxy, on the pool settings
/// `connect()` uses. A batch of counter takes, a lock, a new challenge and each coarse
/// operation of a login is one routine call; the two fine-grained operations that return the
/// row they changed without a routine (`RETURNING` missing) are a transaction.
#[tokio::test(flavor = "current_thread")]
async fn round_trips_per_operation() {
    let Some(t) = MySqlStore::throwaway().await else {
        return;
    };
    let options = MySqlConnectOptions::from_str(&mysql_url()).unwrap();
    let upstream = tokio::net::lookup_host((options.get_host(), options.get_port()))
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = Proxy::start(upstream).await;
    let pool = MySqlStore::pool_options()
        .max_connections(1)
        .connect_with(options.port(proxy.port()).database(t.name()))
        .await
        .unwrap();
    let store = MySqlStore::from_pool(pool.clone(), t.config().clone());
    let rows = per_operation(&store, &pool, &proxy).await;
    report("MySQL/MariaDB", &rows);
    let transactions = ["spend_attempt (a try spent)", "check_and_touch_device"];
    for (op, n) in &rows {
        // BEGIN, the write, the read of the row it locked, COMMIT.
        let expected = if transactions.contains(op) { 4 } else { 1 };
        assert_eq!(*n, expected, "{op}");
    }
    assert_eq!(login(&rows), 4, "a whole TOTP login");
    pool.close().await;
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
        sqlx::query(AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .unwrap();
        self.holder = Some(tx);
    }

    async fn kill_waiting(&self, marker: &str) {
        for _ in 0..400 {
            let id: Option<i64> = sqlx::query_scalar(
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
                sqlx::query(AssertSqlSafe(format!("KILL CONNECTION {id}")))
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
    let Some(t) = MySqlStore::throwaway().await else {
        return;
    };
    let killer = MySqlKiller {
        admin: t.pool().clone(),
        database: t.name().to_owned(),
        holder: None,
    };
    fail_closed::killed_mid_operation(t.clone_store(), killer, "mfa_", "mfa_counters").await;
}
