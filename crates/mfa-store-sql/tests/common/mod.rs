//! Helpers of the service-backed tests: URLs, skipping or failing when a server is missing,
//! unique names, and running a body with cleanup even when it panics.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `MFA_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`.
pub(crate) fn postgres_url() -> String {
    std::env::var("MFA_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `MFA_MYSQL_URL`, default `mysql://root@127.0.0.1:3306/test`.
pub(crate) fn mysql_url() -> String {
    std::env::var("MFA_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
}

/// Whether CI asked for every service (`MFA_REQUIRE_SERVICES=1`).
pub(crate) fn services_required() -> bool {
    std::env::var("MFA_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Called when `service` cannot be reached: fails under `MFA_REQUIRE_SERVICES=1`, else prints
/// why the test is skipped. Returns `None` so callers can `let Some(x) = .. else { return };`.
pub(crate) fn missing<T>(service: &str, url: &str, why: &dyn std::fmt::Display) -> Option<T> {
    if services_required() {
        panic!("{service} at {url} is required (MFA_REQUIRE_SERVICES=1) but unreachable: {why}");
    }
    eprintln!(
        "SKIPPED: {service} at {url} is unreachable ({why}); set MFA_REQUIRE_SERVICES=1 to fail instead"
    );
    None
}

/// A name no other run uses: `tag`, the start second (for stale-run cleanup) and 32 random bits.
pub(crate) fn unique_name(tag: &str) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut bytes = [0_u8; 4];
    getrandom::fill(&mut bytes).unwrap();
    format!("{tag}_{secs}_{:08x}", u32::from_be_bytes(bytes))
}

/// The start second encoded by [`unique_name`], to drop leftovers of runs killed mid-way.
pub(crate) fn started_at(name: &str, tag: &str) -> Option<u64> {
    let rest = name.strip_prefix(tag)?.strip_prefix('_')?;
    rest.split('_').next()?.parse().ok()
}

/// Whether a leftover named by [`unique_name`] is older than an hour (a crashed run's).
pub(crate) fn is_stale(name: &str, tag: &str) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    started_at(name, tag).is_some_and(|t| now.saturating_sub(t) > 3600)
}

/// Runs `body` as a task (so a failed assertion inside it is caught), then `cleanup`, then
/// re-raises the failure.
pub(crate) async fn with_cleanup<B, C>(body: B, cleanup: C)
where
    B: Future<Output = ()> + Send + 'static,
    C: Future<Output = ()>,
{
    let outcome = tokio::spawn(body).await;
    cleanup.await;
    if let Err(error) = outcome {
        if error.is_panic() {
            std::panic::resume_unwind(error.into_panic());
        }
        panic!("test body did not finish: {error}");
    }
}

/// How long a test waits for a pool connection before calling the server unreachable.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
