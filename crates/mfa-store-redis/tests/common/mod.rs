//! Shared by the integration tests: the conformance runner, small helpers, and the Redis
//! servers some tests start for themselves (`server`). Throwaway stores and the skip-or-fail
//! rule come from the crate's `testkit` feature.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

pub mod login;
pub mod monitor;
pub mod server;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mfa_store::testkit::{CHECKS, shared};
use mfa_store_redis::{Initialisation, RedisConfig, RedisStore};

/// Runs every check of `mfa_store::testkit::CHECKS` concurrently against `store` on the current
/// multi-threaded runtime; fails listing every failed check as `<label>::<entity>::<check>`.
/// Returns how many checks passed.
///
/// `conformance_tests!` cannot skip when the server is missing (its factory must return a
/// store), hence this runner.
pub async fn run_conformance(store: &RedisStore, label: &str) -> usize {
    let mut tasks = tokio::task::JoinSet::new();
    for check in CHECKS {
        let store = shared(store.clone());
        tasks.spawn(async move { (check.name, tokio::spawn((check.run)(store)).await) });
    }
    let mut failures = Vec::new();
    let mut passed = 0;
    while let Some(joined) = tasks.join_next().await {
        let (name, outcome) = joined.unwrap();
        match outcome {
            Ok(()) => passed += 1,
            Err(error) if error.is_panic() => {
                let payload = error.into_panic();
                let message = payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| payload.downcast_ref::<&str>().copied())
                    .unwrap_or("panic");
                failures.push(format!("{label}::{name}: {message}"));
            }
            Err(error) => failures.push(format!("{label}::{name}: {error}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n{}",
        failures.len(),
        CHECKS.len(),
        failures.join("\n")
    );
    assert_eq!(passed, CHECKS.len());
    passed
}

/// The real current time in whole seconds.
pub fn now() -> SystemTime {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// `tag` and 64 random bits.
pub fn unique(tag: &str) -> String {
    format!("{tag}-{:016x}", getrandom::u64().unwrap())
}

/// A plain connection to `url` (for what the store does not do: flushing scripts, killing
/// clients, deleting a key to simulate its loss).
pub async fn admin(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// A store on a server the test started (so nothing to clean up: the server goes with the
/// test), initialised as a new deployment with markers that never expire, as in production.
pub async fn initialised(url: &str, config: RedisConfig) -> RedisStore {
    let store = RedisStore::connect_lazy(url, config).unwrap();
    store
        .initialise(Initialisation::NewDeployment)
        .await
        .unwrap();
    store.verify_deployment().await.unwrap();
    store
}
