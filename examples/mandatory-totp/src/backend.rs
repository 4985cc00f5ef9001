//! The Redis store the counters, challenges and sealed factors live in.

use std::sync::Arc;

use mfa::Store;
use mfa_store_redis::{Initialisation, KeyPrefix, RedisConfig, RedisStore};

use crate::error::Result;

/// The key prefix the service keeps its data under unless `MFA_REDIS_PREFIX` says otherwise.
pub const DEFAULT_REDIS_PREFIX: &str = "mandatory-totp";

/// The Redis URL: `MFA_REDIS_URL` or `redis://127.0.0.1:6379`.
#[must_use]
pub fn redis_url_from_env() -> String {
    std::env::var("MFA_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Connects to the initialised deployment under `prefix` and checks it (no eviction, every
/// data-loss marker present).
///
/// # Errors
/// [`Error::Redis`](crate::Error::Redis) when Redis is unreachable, unsuitable, or the prefix
/// was never initialised (run `mandatory-totp init-redis` once).
pub async fn connect_redis(url: &str, prefix: &str) -> Result<Arc<dyn Store>> {
    let config = RedisConfig::with_prefix(KeyPrefix::new(prefix)?);
    Ok(Arc::new(RedisStore::connect(url, config).await?))
}

/// Initialises `prefix` as a new deployment (writes its data-loss markers): the one-time
/// provisioning step `mandatory-totp init-redis`, never run when the service starts. Returns
/// how many markers it wrote (0: initialised already).
///
/// # Errors
/// [`Error::Redis`](crate::Error::Redis) when Redis is unreachable or unsuitable, or the
/// prefix holds keys but no markers (data that was lost: restore it).
pub async fn initialise_redis(url: &str, prefix: &str) -> Result<u64> {
    let config = RedisConfig::with_prefix(KeyPrefix::new(prefix)?);
    let store = RedisStore::connect_lazy(url, config)?;
    let report = store.initialise(Initialisation::NewDeployment).await?;
    store.verify_deployment().await?;
    Ok(report.markers_created)
}
