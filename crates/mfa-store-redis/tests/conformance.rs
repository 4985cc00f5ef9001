//! The whole `mfa-store` conformance kit, concurrency checks included, against a real Redis.
//!
//! `conformance_tests!` cannot skip when the server is missing (its factory must return a
//! store), so this wrapper runs `mfa_store::testkit::CHECKS` itself: every check concurrently
//! on a multi-threaded runtime, under one random key prefix that is deleted at the end, and it
//! fails listing every failed check as `redis::<entity>::<check>`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use mfa_store::testkit::{CHECKS, shared};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_conformance() {
    let Some(store) = common::store("redis_conformance").await else {
        return;
    };
    let prefix = store.prefix().clone();
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
                failures.push(format!("redis::{name}: {message}"));
            }
            Err(error) => failures.push(format!("redis::{name}: {error}")),
        }
    }
    common::cleanup(&prefix).await;
    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n{}",
        failures.len(),
        CHECKS.len(),
        failures.join("\n")
    );
    assert_eq!(passed, CHECKS.len());
}
