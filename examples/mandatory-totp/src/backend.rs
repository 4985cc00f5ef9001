//! The Redis store the counters, challenges and sealed factors live in.

use std::sync::Arc;

use mfa::Store;
use mfa_store_redis::{Initialisation, KeyPrefix, RedisConfig, RedisStore};

use crate::error::{Error, Result};

/// A Redis store under a key prefix of its own, so runs and tests never see each other's keys.
#[derive(Debug, Clone)]
pub struct StoreHandle {
    store: RedisStore,
}

impl StoreHandle {
    /// The Redis URL: `MFA_REDIS_URL` or `redis://127.0.0.1:6379`.
    #[must_use]
    pub fn url_from_env() -> String {
        std::env::var("MFA_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
    }

    /// Connects to `url` under a new key prefix starting with `tag`, initialised.
    ///
    /// # Errors
    /// [`Error::Redis`] when Redis is unreachable or refuses.
    pub async fn connect(url: &str, tag: &str) -> Result<Self> {
        let random = getrandom::u64().map_err(|_| Error::Rng)?;
        let prefix = KeyPrefix::new(&format!("{tag}-{random:016x}"))?;
        // The new prefix is a new deployment: write its data-loss markers once, the
        // provisioning step (an application serving an existing prefix only connects), then
        // check it as `RedisStore::connect` does.
        let store = RedisStore::connect_lazy(url, RedisConfig::with_prefix(prefix))?;
        store.initialise(Initialisation::NewDeployment).await?;
        store.verify_deployment().await?;
        Ok(Self { store })
    }

    /// The store, to hand to the facade.
    #[must_use]
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::new(self.store.clone())
    }

    /// The key prefix this handle writes under.
    #[must_use]
    pub fn namespace(&self) -> &str {
        self.store.prefix().as_str()
    }

    /// Deletes every key under this handle's prefix.
    ///
    /// # Errors
    /// [`Error::Mfa`] when Redis refuses.
    pub async fn remove_data(self) -> Result<()> {
        self.store
            .delete_all_keys()
            .await
            .map_err(mfa::Error::from)?;
        Ok(())
    }
}
