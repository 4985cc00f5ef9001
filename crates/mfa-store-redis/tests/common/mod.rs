//! Shared set-up of the tests against a real Redis: URL, per-run prefix, skip or fail when the
//! server is missing, and clean-up of the run's keys.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use mfa_store_redis::{KeyPrefix, RedisConfig, RedisStore};
use redis::AsyncCommands as _;

/// The server URL: `MFA_REDIS_URL`, default `redis://127.0.0.1:6379`.
pub fn url() -> String {
    std::env::var("MFA_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Whether CI demands the services (`MFA_REQUIRE_SERVICES=1`).
fn required() -> bool {
    std::env::var("MFA_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// A prefix no other run uses.
pub fn random_prefix() -> KeyPrefix {
    KeyPrefix::new(&format!("mfa-test-{:016x}", getrandom::u64().unwrap())).unwrap()
}

/// A store on the test server under a fresh random prefix, or `None` (after saying why) when
/// the server is missing and `MFA_REQUIRE_SERVICES` is not `1`.
pub async fn store(test: &str) -> Option<RedisStore> {
    let url = url();
    match RedisStore::connect(&url, RedisConfig::with_prefix(random_prefix())).await {
        Ok(store) => Some(store),
        Err(error) if required() => {
            panic!(
                "{test}: Redis at {url} is required (MFA_REQUIRE_SERVICES=1) but unreachable: {error}"
            )
        }
        Err(error) => {
            eprintln!(
                "SKIPPED {test}: no Redis at {url} ({error}); set MFA_REDIS_URL, or MFA_REQUIRE_SERVICES=1 to fail instead"
            );
            None
        }
    }
}

/// A second, plain connection to the test server (to flush scripts, kill clients, clean up).
pub async fn admin() -> redis::aio::MultiplexedConnection {
    redis::Client::open(url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Deletes every key under `prefix` (SCAN + DEL); best effort.
pub async fn cleanup(prefix: &KeyPrefix) {
    let Ok(client) = redis::Client::open(url()) else {
        return;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let mut cursor: u64 = 0;
    loop {
        let reply: redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(prefix.scan_pattern())
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await;
        let Ok((next, keys)) = reply else {
            return;
        };
        if !keys.is_empty() {
            let _: redis::RedisResult<i64> = conn.del(keys).await;
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}
