//! The whole `mfa-store` conformance kit, concurrency checks included, against the standalone
//! test server (`MFA_REDIS_URL`): every check concurrently on a multi-threaded runtime, on one
//! throwaway store whose keys are deleted at the end.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use mfa_store_redis::testkit::throwaway_store;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_conformance() {
    let Some((store, cleanup)) = throwaway_store("redis_conformance").await else {
        return;
    };
    let passed = common::run_conformance(&store, "redis").await;
    cleanup.await;
    eprintln!("redis conformance: {passed} checks passed");
}
