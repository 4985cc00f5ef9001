//! Throwaway stores for tests (feature `testkit`): a [`RedisStore`] under a prefix no other test
//! uses, initialised with its data-loss markers, and a [`Cleanup`] that deletes its keys; and
//! the one place that decides whether a missing server skips a test or fails it.
//!
//! ```no_run
//! # async fn test() {
//! use mfa_store::SettingsStore;
//!
//! let Some((store, cleanup)) = mfa_store_redis::testkit::throwaway_store("my_test").await else {
//!     return; // no Redis, and MFA_REQUIRE_SERVICES is not 1: skipped (and said so)
//! };
//! assert!(store.settings("alice").await.unwrap().is_none());
//! cleanup.await;
//! # }
//! ```
//!
//! Environment: `MFA_REDIS_URL` (default `redis://127.0.0.1:6379`), `MFA_REDIS_CLUSTER_URLS`
//! (comma-separated, default the three nodes `.ci/redis-cluster.sh` starts on
//! `127.0.0.1:7001..7003`), and `MFA_REQUIRE_SERVICES=1` to fail instead of skipping.

// Test support: a missing service under MFA_REQUIRE_SERVICES=1 must fail the test loudly, and a
// skip must say so on stderr (tests' stdout is captured).
#![allow(clippy::panic, clippy::print_stderr)]

use std::error::Error as StdError;
use std::fmt::{self, Display};
use std::future::IntoFuture;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::{Initialisation, KeyPrefix, RedisConfig, RedisStore, Result};

/// The variable naming the standalone test server.
pub const URL_VAR: &str = "MFA_REDIS_URL";
/// The standalone test server when [`URL_VAR`] is unset.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";
/// The variable listing the test Cluster's nodes, comma-separated.
pub const CLUSTER_URLS_VAR: &str = "MFA_REDIS_CLUSTER_URLS";
/// The test Cluster when [`CLUSTER_URLS_VAR`] is unset: the nodes `.ci/redis-cluster.sh` starts.
pub const DEFAULT_CLUSTER_URLS: &str =
    "redis://127.0.0.1:7001,redis://127.0.0.1:7002,redis://127.0.0.1:7003";
/// The variable that, set to `1`, turns a missing service into a test failure.
pub const REQUIRE_VAR: &str = "MFA_REQUIRE_SERVICES";

/// The standalone test server's URL.
#[must_use]
pub fn url() -> String {
    std::env::var(URL_VAR).unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// The test Cluster's node URLs.
#[must_use]
pub fn cluster_urls() -> Vec<String> {
    std::env::var(CLUSTER_URLS_VAR)
        .unwrap_or_else(|_| DEFAULT_CLUSTER_URLS.to_owned())
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether a missing service fails the test (`MFA_REQUIRE_SERVICES=1`, as `.ci` sets it).
#[must_use]
pub fn services_required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1")
}

/// A prefix no other test or run uses: `mfa-test-` and 64 random bits.
///
/// # Panics
/// If the OS random number generator fails.
#[must_use]
pub fn random_prefix() -> KeyPrefix {
    let n = getrandom::u64().unwrap_or_else(|e| panic!("the OS RNG failed: {e}"));
    KeyPrefix::new(&format!("mfa-test-{n:016x}"))
        .unwrap_or_else(|e| panic!("a generated prefix is valid: {e}"))
}

/// The name of the data-loss marker that guards the hash slot of `key` in `store`: a test
/// deletes it to see the operations on that slot fail closed.
#[must_use]
pub fn marker_for(store: &RedisStore, key: &str) -> String {
    store.keys.marker_for(key)
}

/// The default configuration under a [`random_prefix`].
#[must_use]
pub fn config() -> RedisConfig {
    RedisConfig::with_prefix(random_prefix())
}

/// The one decision for a service a test cannot reach: under `MFA_REQUIRE_SERVICES=1` it panics
/// (the test fails, naming `service` and `why`); otherwise it prints `SKIPPED <test>: ...` to
/// stderr and returns, and the caller returns from the test.
///
/// # Panics
/// When services are required.
pub fn skip_or_fail(test: &str, service: &str, why: &dyn Display) {
    if services_required() {
        panic!("{test}: {service} is required ({REQUIRE_VAR}=1) but unusable: {why}");
    }
    eprintln!(
        "SKIPPED {test}: {service} unusable ({why}); start it, or set {REQUIRE_VAR}=1 to fail instead"
    );
}

/// `error` and its sources, `: `-separated (a store error's own message is short; the cause says
/// which server refused what).
fn with_causes(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// How long a throwaway store's data-loss markers live: a test that panics before awaiting its
/// [`Cleanup`] leaves them (about 2 MB) for at most this long; a test running longer would see
/// its store report data loss.
pub const MARKER_TTL: Duration = Duration::from_secs(3600);

/// Makes `store` (built with [`RedisStore::connect_lazy`] or
/// [`RedisStore::connect_cluster_lazy`], under a prefix of its own) a throwaway store:
/// initialises it as a new deployment with markers that expire after [`MARKER_TTL`], checks it
/// as `connect` would, and returns it with the [`Cleanup`] that deletes its keys.
///
/// # Errors
/// Those of [`RedisStore::initialise`] and [`RedisStore::verify_deployment`] (an unreachable
/// server is [`Error::Store`](crate::Error::Store)).
pub async fn throwaway(store: RedisStore) -> Result<(RedisStore, Cleanup)> {
    store.initialise(Initialisation::NewDeployment).await?;
    store.expire_markers(MARKER_TTL).await?;
    store.verify_deployment().await?;
    let cleanup = Cleanup {
        store: store.clone(),
    };
    Ok((store, cleanup))
}

/// A throwaway store on the standalone test server ([`url`]) with the default configuration
/// under a [`random_prefix`]; `None` after [`skip_or_fail`] when the server is unusable.
pub async fn throwaway_store(test: &str) -> Option<(RedisStore, Cleanup)> {
    let url = url();
    let made = match RedisStore::connect_lazy(&url, config()) {
        Ok(store) => throwaway(store).await,
        Err(error) => Err(error),
    };
    made.map_err(|error| skip_or_fail(test, &format!("Redis at {url}"), &with_causes(&error)))
        .ok()
}

/// A throwaway store on the test Cluster ([`cluster_urls`]) with the default configuration
/// under a [`random_prefix`]; `None` after [`skip_or_fail`] when the Cluster is unusable.
pub async fn throwaway_cluster_store(test: &str) -> Option<(RedisStore, Cleanup)> {
    let urls = cluster_urls();
    let made = match RedisStore::connect_cluster_lazy(&urls, config()) {
        Ok(store) => throwaway(store).await,
        Err(error) => Err(error),
    };
    let service = format!(
        "the Redis Cluster at {} ({CLUSTER_URLS_VAR}; `eval \"$(bash .ci/redis-cluster.sh \
         start)\"` starts one)",
        urls.join(",")
    );
    made.map_err(|error| skip_or_fail(test, &service, &with_causes(&error)))
        .ok()
}

/// Deletes a throwaway store's keys, markers included, when awaited (best effort: a failure is
/// printed, not raised, so that it cannot hide the test's own result).
#[must_use = "await it at the end of the test, or the store's keys stay behind"]
pub struct Cleanup {
    store: RedisStore,
}

impl fmt::Debug for Cleanup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cleanup")
            .field("prefix", self.store.prefix())
            .finish()
    }
}

impl IntoFuture for Cleanup {
    type Output = ();
    type IntoFuture = BoxFuture<'static, ()>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            if let Err(error) = self.store.delete_all_keys().await {
                eprintln!(
                    "cleanup of Redis prefix {} failed: {error}",
                    self.store.prefix()
                );
            }
        })
    }
}
