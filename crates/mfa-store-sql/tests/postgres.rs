//! PostgreSQL: the whole conformance kit, prefixes and schemas, migrations (concurrent, and
//! forward from the released version 1), round trips per operation, and fail-closed behaviour
//! when the connection is refused or killed mid-operation.

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
use std::time::{Duration, UNIX_EPOCH};

use mfa_store::{CounterKey, CounterScope, CounterStore, Take};

use mfa_store_sql::sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use mfa_store_sql::sqlx::{self, AssertSqlSafe, Postgres, Transaction};
use mfa_store_sql::testkit::postgres_url;
use mfa_store_sql::{PgStore, SqlStoreConfig};

use common::migration::{OLD, Seed, fixture_statements, normalized};
use common::round_trips::{Proxy, login, per_operation, report};

/// Every check of the kit, one store handle per check, in one throwaway schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance() {
    let Some(store) = PgStore::throwaway().await else {
        return;
    };
    mfa_store::testkit::run_all("postgres", || {
        let store = store.clone_store();
        async move { store }
    })
    .await;
}

/// What this backend claims of the coarse operations beyond the kit (`tests/flow`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn coarse_operations_beyond_the_kit() {
    let Some(store) = PgStore::throwaway().await else {
        return;
    };
    flow::all(|| async { store.clone_store() }).await;
}

/// `prefix` in the throwaway's schema.
fn in_schema(schema: &str, prefix: &str) -> SqlStoreConfig {
    SqlStoreConfig::new(prefix)
        .unwrap()
        .with_schema(schema)
        .unwrap()
}

/// Two prefixes in one schema are two independent stores; migrating again is harmless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_are_independent_and_migrate_is_idempotent() {
    let Some(t) = PgStore::throwaway().await else {
        return;
    };
    let a = PgStore::from_pool(t.pool().clone(), in_schema(t.name(), "a_"));
    let b = PgStore::from_pool(t.pool().clone(), in_schema(t.name(), "b_"));
    for store in [&b, &a, &a] {
        store.migrate().await.unwrap();
    }
    fail_closed::prefixes_are_independent(a, b).await;
}

/// Twenty instances migrating one new prefix at once all succeed, and apply it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_apply_once() {
    let Some(t) = PgStore::throwaway().await else {
        return;
    };
    let config = in_schema(t.name(), "c_");
    let runs: Vec<_> = (0..20)
        .map(|_| {
            let store = PgStore::from_pool(t.pool().clone(), config.clone());
            tokio::spawn(async move { store.migrate().await })
        })
        .collect();
    for run in runs {
        run.await.unwrap().unwrap();
    }
    let versions: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT version FROM {}.c_schema_migrations ORDER BY version",
        t.name()
    )))
    .fetch_all(t.pool())
    .await
    .unwrap();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
}

/// The columns and indexes of `prefix`'s tables, comparable across prefixes.
async fn describe(pool: &PgPool, schema: &str, prefix: &str) -> Vec<String> {
    let like = format!("{prefix}%");
    let mut lines: Vec<String> = sqlx::query_scalar(
        "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable \
         || ' ' || COALESCE(column_default, '') || ' ' || COALESCE(generation_expression, '') \
         FROM information_schema.columns WHERE table_schema = $1 AND table_name LIKE $2 \
         AND table_name NOT LIKE '%schema_migrations'",
    )
    .bind(schema)
    .bind(&like)
    .fetch_all(pool)
    .await
    .unwrap();
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename LIKE $2 \
         AND tablename NOT LIKE '%schema_migrations'",
    )
    .bind(schema)
    .bind(&like)
    .fetch_all(pool)
    .await
    .unwrap();
    lines.extend(indexes);
    let lines = lines.into_iter().map(|l| l.replace(schema, "S")).collect();
    normalized(lines, prefix)
}

/// A schema made by the released version 1 migrates forward with its rows readable, and ends
/// exactly as a new schema does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_1_migrates_forward() {
    let Some(t) = PgStore::throwaway().await else {
        return;
    };
    let tables = format!("{}.{OLD}", t.name());
    let mut setup = fixture_statements(include_str!("fixtures/v1/postgres.sql"), &tables, OLD);
    setup.insert(
        0,
        format!("CREATE TABLE {tables}schema_migrations (version BIGINT PRIMARY KEY)"),
    );
    let seed = Seed::new();
    setup.extend(seed.statements(&tables, |hex| format!("decode('{hex}', 'hex')")));
    for statement in setup {
        sqlx::query(AssertSqlSafe(statement))
            .execute(t.pool())
            .await
            .unwrap();
    }
    let old = PgStore::from_pool(t.pool().clone(), in_schema(t.name(), OLD));
    old.migrate().await.unwrap();
    old.migrate().await.unwrap();
    seed.check(&old).await;
    assert_eq!(
        describe(t.pool(), t.name(), OLD).await,
        describe(t.pool(), t.name(), "mfa_").await,
        "a migrated version-1 schema equals a new one"
    );
}

/// A take refused on a record committed after its statement began (the take waited for the
/// row lock of another instance's insert, so the statement's snapshot does not show the row)
/// still answers the refusal with the record's state: the function reads it in a statement of
/// its own, with a snapshot of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusal_on_a_record_committed_meanwhile_is_reported() {
    let Some(t) = PgStore::throwaway().await else {
        return;
    };
    let key = CounterKey::new("totp", CounterScope::Account(fail_closed::id("late")));
    let now = fail_closed::now();
    let ms = i64::try_from(now.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap();
    // Another instance has inserted the record, at its limit, and not committed yet.
    let mut other = t.pool().begin().await.unwrap();
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {}.mfa_counters (counter_key, window_start, window_end, count, consecutive) \
         VALUES ($1, $2, $3, 3, 3)",
        t.name()
    )))
    .bind(key.storage_key())
    .bind(ms)
    .bind(ms + 900_000)
    .execute(&mut *other)
    .await
    .unwrap();
    let store = t.clone_store();
    let take = [Take::new(key, Duration::from_secs(900), 3)];
    let taking = tokio::spawn(async move { store.take_counters(&take, now).await });
    let mut waited = false;
    for _ in 0..400 {
        let waiting: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
             AND position('mfa_take_list' in query) > 0 LIMIT 1",
        )
        .fetch_optional(t.pool())
        .await
        .unwrap();
        if waiting.is_some() {
            waited = true;
            break;
        }
        // Polling for the server to show the waiting statement, not moving test time.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(waited, "the take waited for the other instance's row lock");
    other.commit().await.unwrap();
    let result = taking.await.unwrap().unwrap();
    assert_eq!(result.len(), 1);
    assert!(!result[0].is_taken(), "the record was full");
    assert_eq!(result[0].state().count, 3, "the refusal shows the record");
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

/// The round trips of each operation, through a counting proxy, on the pool settings
/// `connect()` uses: a batch of counter takes is one, whatever it does, and so is each coarse
/// operation of a login (a whole TOTP login: four).
#[tokio::test(flavor = "current_thread")]
async fn round_trips_per_operation() {
    let Some(t) = PgStore::throwaway().await else {
        return;
    };
    let options = PgConnectOptions::from_str(&postgres_url()).unwrap();
    let upstream = tokio::net::lookup_host((options.get_host(), options.get_port()))
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = Proxy::start(upstream).await;
    let pool = PgStore::pool_options()
        .max_connections(1)
        .connect_with(options.port(proxy.port()))
        .await
        .unwrap();
    let store = PgStore::from_pool(pool.clone(), t.config().clone());
    let rows = per_operation(&store, &pool, &proxy).await;
    report("PostgreSQL", &rows);
    for (op, n) in &rows {
        assert_eq!(*n, 1, "{op}: one statement, one round trip");
    }
    assert_eq!(login(&rows), 4, "a whole TOTP login");
    pool.close().await;
}

/// Holds row locks from one connection and kills the store's connection waiting behind them.
struct PgKiller {
    admin: PgPool,
    holder: Option<Transaction<'static, Postgres>>,
}

impl fail_closed::Killer for PgKiller {
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
            let pid: Option<i32> = sqlx::query_scalar(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                 AND position($1 in query) > 0 AND pid <> pg_backend_pid() LIMIT 1",
            )
            .bind(marker)
            .fetch_optional(&self.admin)
            .await
            .unwrap();
            if let Some(pid) = pid {
                let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
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
    let Some(t) = PgStore::throwaway().await else {
        return;
    };
    let tables = format!("{}.mfa_", t.name());
    let killer = PgKiller {
        admin: t.pool().clone(),
        holder: None,
    };
    // The take runs inside the schema's function; the server shows the statement that called it.
    let takes = format!("{tables}take_list");
    fail_closed::killed_mid_operation(t.clone_store(), killer, &tables, &takes).await;
}
