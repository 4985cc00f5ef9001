//! `SqlSessionStore` on SQLite, PostgreSQL and MariaDB/MySQL: the same checks on each engine
//! (round trip, only a digest of the id in the table, no resurrection of a deleted session,
//! expiry, id collisions), then a sign-in over real HTTP whose rotated-away ids are gone from
//! the table. PostgreSQL and MariaDB come from `MFA_POSTGRES_URL` / `MFA_MYSQL_URL` (local
//! defaults); under `MFA_REQUIRE_SERVICES=1` a missing server fails the test instead of
//! skipping it.

#![cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "test code: a failure should stop the test with its message"
)]

mod common;

use std::collections::HashMap;
use std::time::SystemTime;

use axum::Router;
use axum::routing::{get, post};
use mfa_axum::tower_sessions::cookie::time::{Duration, OffsetDateTime};
use mfa_axum::tower_sessions::session::{Id, Record};
use mfa_axum::tower_sessions::session_store::SessionStore;
use mfa_axum::{AuthSession, AuthState, CsrfToken, EdgeConfig, SqlSessionStore, Transport};

use common::{Req, serve};

/// A table row: key, data, expiry in milliseconds.
type Row = (Vec<u8>, String, i64);

fn record(id: i128, expires_in: Duration, note: &str) -> Record {
    let mut data = HashMap::new();
    data.insert(
        "note".to_owned(),
        serde_json::Value::String(note.to_owned()),
    );
    Record {
        id: Id(id),
        data,
        expiry_date: OffsetDateTime::now_utc() + expires_in,
    }
}

fn note(record: &Record) -> &str {
    record.data["note"].as_str().unwrap()
}

/// Every check, on one engine. `rows` reads the table directly.
async fn conformance(engine: &str, store: &SqlSessionStore, rows: impl AsyncFn() -> Vec<Row>) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert!(rows().await.is_empty(), "{engine}: fresh table");

    // Round trip.
    let mut first = record(
        0x1234_5678_9abc_def0_1122_3344_5566_7788,
        Duration::hours(1),
        "one",
    );
    store.create(&mut first).await.unwrap();
    assert_eq!(first.id, Id(0x1234_5678_9abc_def0_1122_3344_5566_7788));
    let loaded = store.load(&first.id).await.unwrap().unwrap();
    assert_eq!(note(&loaded), "one", "{engine}");
    let drift = (loaded.expiry_date - first.expiry_date).abs();
    assert!(
        drift < Duration::milliseconds(1),
        "{engine}: expiry kept to the millisecond"
    );

    // The table keeps a digest, never the id.
    let table = rows().await;
    assert_eq!(table.len(), 1, "{engine}");
    let (key, data, _) = &table[0];
    assert_eq!(key.len(), 32, "{engine}: SHA-256");
    assert_ne!(key.as_slice(), first.id.0.to_le_bytes().as_slice());
    let id_text = first.id.to_string();
    assert!(!data.contains(&id_text), "{engine}: {data}");
    assert!(
        !key.windows(16).any(|w| w == first.id.0.to_le_bytes()),
        "{engine}: the id's bytes are not in the key"
    );

    // Save updates a live session.
    let mut changed = first.clone();
    changed
        .data
        .insert("note".into(), serde_json::Value::String("two".into()));
    store.save(&changed).await.unwrap();
    assert_eq!(note(&store.load(&first.id).await.unwrap().unwrap()), "two");

    // Delete is final: a late save does not bring the session back.
    store.delete(&first.id).await.unwrap();
    assert!(store.load(&first.id).await.unwrap().is_none(), "{engine}");
    store.save(&changed).await.unwrap();
    assert!(
        store.load(&first.id).await.unwrap().is_none(),
        "{engine}: deleted stays deleted"
    );
    assert!(rows().await.is_empty(), "{engine}");

    // Expired sessions do not load, are not revived by a save, and are purged.
    let mut old = record(42, Duration::seconds(-5), "old");
    store.create(&mut old).await.unwrap();
    assert!(
        store.load(&old.id).await.unwrap().is_none(),
        "{engine}: expired"
    );
    let mut revived = old.clone();
    revived.expiry_date = OffsetDateTime::now_utc() + Duration::hours(1);
    store.save(&revived).await.unwrap();
    assert!(
        store.load(&old.id).await.unwrap().is_none(),
        "{engine}: not revived"
    );
    let mut live = record(43, Duration::hours(1), "live");
    store.create(&mut live).await.unwrap();
    assert_eq!(store.purge_expired().await.unwrap(), 1, "{engine}");
    assert_eq!(rows().await.len(), 1, "{engine}");
    assert_eq!(note(&store.load(&live.id).await.unwrap().unwrap()), "live");

    // A colliding id on create is replaced by a fresh one; the first session is untouched.
    let mut twin = record(43, Duration::hours(1), "twin");
    store.create(&mut twin).await.unwrap();
    assert_ne!(twin.id, Id(43), "{engine}: a new id was drawn");
    assert_eq!(note(&store.load(&live.id).await.unwrap().unwrap()), "live");
    assert_eq!(note(&store.load(&twin.id).await.unwrap().unwrap()), "twin");

    // Debug names the engine and the table, nothing else.
    let debug = format!("{store:?}");
    assert!(debug.contains(store.table()), "{debug}");
    println!("{engine}: store checks passed ({debug})");
}

/// A sign-in over HTTP on `store`: every rotated-away id leaves the table at once.
async fn sign_in_over_http(engine: &str, store: SqlSessionStore, rows: impl AsyncFn() -> Vec<Row>) {
    let edge = EdgeConfig::builder(Transport::PlainHttpForDevelopment)
        .build()
        .unwrap();
    let router = Router::new()
        .route(
            "/csrf",
            get(|t: CsrfToken| async move { t.expose().to_string() }),
        )
        .route(
            "/sign-in",
            post(|s: AuthSession| async move {
                let state = AuthState::SignedIn {
                    user: "alice".into(),
                    second_factor_at: Some(SystemTime::now()),
                };
                s.set_state(state).await.unwrap();
            }),
        )
        .route(
            "/who",
            get(|s: AuthSession| async move {
                s.state()
                    .await
                    .unwrap()
                    .and_then(|st| st.signed_in_user().map(str::to_owned))
                    .unwrap_or_else(|| "nobody".into())
            }),
        )
        .layer(edge.session_layer(store))
        .layer(edge.layer());
    let addr = serve(router).await;
    let before = rows().await.len();
    let c0 = Req::get("/csrf")
        .send(addr)
        .await
        .cookie_pair("mfa_session");
    assert_eq!(rows().await.len(), before + 1, "{engine}");
    let reply = Req::post("/sign-in").cookie(&c0).send(addr).await;
    let c1 = reply.cookie_pair("mfa_session");
    assert_ne!(c0, c1);
    assert_eq!(rows().await.len(), before + 1, "{engine}: the old row went");
    let who = |c: String| async move { Req::get("/who").cookie(&c).send(addr).await.body };
    assert_eq!(who(c0).await, "nobody", "{engine}");
    assert_eq!(who(c1).await, "alice", "{engine}");
}

#[tokio::test]
async fn table_prefixes_are_checked() {
    #[cfg(feature = "sqlite")]
    {
        let pool = mfa_axum::sqlx::SqlitePool::connect_lazy("sqlite::memory:").unwrap();
        for bad in ["Mfa_", "1mfa_", "mfa-", "mfa_;drop", &"a".repeat(33)] {
            assert!(
                matches!(
                    SqlSessionStore::sqlite(pool.clone(), bad),
                    Err(mfa_axum::Error::InvalidTablePrefix)
                ),
                "{bad}"
            );
        }
        let store = SqlSessionStore::sqlite(pool, "").unwrap();
        assert_eq!(store.table(), "sessions");
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
fn services_required() -> bool {
    std::env::var("MFA_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Fails under `MFA_REQUIRE_SERVICES=1`, else says why the test is skipped.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn missing(service: &str, url: &str, why: &dyn std::fmt::Display) {
    assert!(
        !services_required(),
        "{service} at {url} is required (MFA_REQUIRE_SERVICES=1) but unreachable: {why}"
    );
    eprintln!("SKIPPED: {service} at {url} is unreachable ({why})");
}

/// A table prefix no other run uses.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn unique_prefix() -> String {
    let secs = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut bytes = [0_u8; 4];
    getrandom::fill(&mut bytes).unwrap();
    format!("t{secs}_{:08x}_", u32::from_be_bytes(bytes))
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite() {
    use mfa_axum::sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("sessions.db"))
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await.unwrap();
    let store = SqlSessionStore::sqlite(pool.clone(), "mfa_").unwrap();
    assert_eq!(store.table(), "mfa_sessions");
    let rows = async || -> Vec<Row> {
        mfa_axum::sqlx::query_as("SELECT id_digest, data, expires_at FROM mfa_sessions")
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    conformance("sqlite", &store, &rows).await;
    sign_in_over_http("sqlite", store, &rows).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres() {
    use mfa_axum::sqlx::{AssertSqlSafe, PgPool};
    let url = std::env::var("MFA_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = match PgPool::connect(&url).await {
        Ok(pool) => pool,
        Err(e) => return missing("PostgreSQL", &url, &e),
    };
    let prefix = unique_prefix();
    let store = SqlSessionStore::postgres(pool.clone(), &prefix).unwrap();
    let select = format!("SELECT id_digest, data, expires_at FROM {}", store.table());
    let rows = async || -> Vec<Row> {
        mfa_axum::sqlx::query_as(AssertSqlSafe(select.clone()))
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    conformance("postgres", &store, &rows).await;
    sign_in_over_http("postgres", store.clone(), &rows).await;
    let drop = format!("DROP TABLE {}", store.table());
    mfa_axum::sqlx::query(AssertSqlSafe(drop))
        .execute(&pool)
        .await
        .unwrap();
}

/// A store in a named schema keeps its table there whatever the pool's `search_path`, and its
/// purge task removes expired sessions.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_in_a_schema_with_a_purge_task() {
    use mfa_axum::sqlx::{AssertSqlSafe, PgPool};
    let url = std::env::var("MFA_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = match PgPool::connect(&url).await {
        Ok(pool) => pool,
        Err(e) => return missing("PostgreSQL", &url, &e),
    };
    let schema = unique_prefix().trim_end_matches('_').to_owned();
    mfa_axum::sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        SqlSessionStore::postgres_in_schema(pool.clone(), "Bad-Schema", "mfa_"),
        Err(mfa_axum::Error::InvalidTablePrefix)
    ));
    let store = SqlSessionStore::postgres_in_schema(pool.clone(), &schema, "mfa_").unwrap();
    assert_eq!(store.table(), format!("{schema}.mfa_sessions"));
    store.migrate().await.unwrap();
    let tables: Vec<(String,)> = mfa_axum::sqlx::query_as(
        "SELECT table_schema::TEXT FROM information_schema.tables WHERE table_name = 'mfa_sessions'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(tables.iter().any(|(s,)| *s == schema), "{tables:?}");
    let select = format!("SELECT id_digest, data, expires_at FROM {}", store.table());
    let rows = async || -> Vec<Row> {
        mfa_axum::sqlx::query_as(AssertSqlSafe(select.clone()))
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    conformance("postgres-schema", &store, &rows).await;
    // An expired row, then the purge task: gone within a tick.
    let mut expired = record(7, Duration::minutes(1), "old");
    store.create(&mut expired).await.unwrap();
    mfa_axum::sqlx::query(AssertSqlSafe(format!(
        "UPDATE {} SET expires_at = 0",
        store.table()
    )))
    .execute(&pool)
    .await
    .unwrap();
    let task = tokio::spawn(store.purge_task(std::time::Duration::from_secs(1)));
    let mut left = rows().await.len();
    for _ in 0..50 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left = rows().await.len();
    }
    task.abort();
    assert_eq!(left, 0, "the purge task removed the expired session");
    mfa_axum::sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&pool)
        .await
        .unwrap();
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql() {
    use mfa_axum::sqlx::{AssertSqlSafe, MySqlPool};
    let url = std::env::var("MFA_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
    let pool = match MySqlPool::connect(&url).await {
        Ok(pool) => pool,
        Err(e) => return missing("MariaDB/MySQL", &url, &e),
    };
    let prefix = unique_prefix();
    let store = SqlSessionStore::mysql(pool.clone(), &prefix).unwrap();
    let select = format!("SELECT id_digest, data, expires_at FROM {}", store.table());
    let rows = async || -> Vec<Row> {
        mfa_axum::sqlx::query_as(AssertSqlSafe(select.clone()))
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    conformance("mysql", &store, &rows).await;
    sign_in_over_http("mysql", store.clone(), &rows).await;
    let drop = format!("DROP TABLE {}", store.table());
    mfa_axum::sqlx::query(AssertSqlSafe(drop))
        .execute(&pool)
        .await
        .unwrap();
}
