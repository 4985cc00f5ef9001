//! Configuration: the validated key prefix and the connection settings.

use std::fmt;
use std::time::Duration;

use crate::{Durability, Error, Result};

/// The longest prefix accepted.
const MAX_PREFIX_LEN: usize = 64;

/// A validated key prefix: 1 to 64 characters of `A-Z a-z 0-9 _ - .`.
///
/// The prefix starts every hash tag (`{<prefix>:u:<user>}`), so two deployments, or two test
/// runs, with different prefixes never see each other's keys. It cannot contain `:` (so no
/// prefix is another's prefix plus a key part), `{`/`}` (which would move the hash tag) or glob
/// characters (so `SCAN MATCH {<prefix>:*` selects exactly its keys).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    /// Validates `prefix`.
    ///
    /// # Errors
    /// [`Error::InvalidPrefix`] if it is empty, longer than 64 characters, or holds a character
    /// outside `A-Z a-z 0-9 _ - .`.
    pub fn new(prefix: &str) -> Result<Self> {
        if prefix.is_empty() {
            return Err(Error::InvalidPrefix("empty"));
        }
        if prefix.len() > MAX_PREFIX_LEN {
            return Err(Error::InvalidPrefix("longer than 64 characters"));
        }
        if !prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(Error::InvalidPrefix(
                "only A-Z, a-z, 0-9, '_', '-' and '.' are allowed",
            ));
        }
        Ok(Self(prefix.to_owned()))
    }

    /// The prefix text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `SCAN MATCH` pattern that selects every key under this prefix (`{<prefix>:*`).
    #[must_use]
    pub fn scan_pattern(&self) -> String {
        format!("{{{}:*", self.0)
    }
}

impl Default for KeyPrefix {
    /// `mfa`.
    fn default() -> Self {
        Self("mfa".to_owned())
    }
}

impl fmt::Debug for KeyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyPrefix").field(&self.0).finish()
    }
}

impl fmt::Display for KeyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether connecting refuses a server that can evict the store's keys.
///
/// A server with a `maxmemory` and any `maxmemory-policy` but `noeviction` deletes keys when it
/// is full: under `allkeys-*` any record (a user's settings: second factor off), under
/// `volatile-*` exactly the records with a TTL (counters and locks: limits reset). The store
/// cannot work safely on such a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EvictionCheck {
    /// Refuse it with [`Error::Evicting`] (the default).
    #[default]
    Refuse,
    /// Accept it. **For tests and development only**: evicted records are lost, and the
    /// data-loss markers only turn some of those losses into
    /// [`StoreError::DataLoss`](mfa_store::StoreError::DataLoss) (see `docs/store-redis.md`).
    Allow,
}

/// Settings of a [`RedisStore`](crate::RedisStore).
///
/// The URL is passed separately to the constructors, so this type holds no password and its
/// `Debug` is safe to log.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisConfig {
    /// The key prefix (default `mfa`).
    pub prefix: KeyPrefix,
    /// How long one connection attempt may take (default 2 s).
    pub connection_timeout: Duration,
    /// How long a command may wait for its reply before it fails as unavailable (default 2 s).
    pub response_timeout: Duration,
    /// How many times a lost connection is re-established, with exponential back-off from
    /// 100 ms, before pending operations fail (default 3; standalone servers only: a Cluster
    /// connection reconnects each node on the next command).
    pub reconnect_retries: usize,
    /// Whether connecting refuses a server that can evict keys (default: refuse).
    pub eviction: EvictionCheck,
    /// What single-use writes wait for (default: the primary only).
    pub durability: Durability,
}

impl RedisConfig {
    /// The defaults with `prefix`.
    #[must_use]
    pub fn with_prefix(prefix: KeyPrefix) -> Self {
        Self {
            prefix,
            ..Self::default()
        }
    }

    /// Checks the settings that depend on each other.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a zero response timeout, or a durability wait that is zero
    /// or not shorter than the response timeout (the reply would time out first).
    pub fn validate(&self) -> Result<()> {
        if self.response_timeout.is_zero() {
            return Err(Error::InvalidConfig(
                "the response timeout must not be zero",
            ));
        }
        if let Some(wait) = self.durability.timeout() {
            if wait.is_zero() {
                return Err(Error::InvalidConfig(
                    "the durability timeout must not be zero (WAIT 0 blocks for ever)",
                ));
            }
            if wait >= self.response_timeout {
                return Err(Error::InvalidConfig(
                    "the durability timeout must be shorter than the response timeout",
                ));
            }
        }
        Ok(())
    }
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            prefix: KeyPrefix::default(),
            connection_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(2),
            reconnect_retries: 3,
            eviction: EvictionCheck::Refuse,
            durability: Durability::Primary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_validated() {
        for good in ["mfa", "app-1.prod", "A_b", &"x".repeat(64)] {
            assert_eq!(KeyPrefix::new(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "a:b",
            "a{b",
            "a}b",
            "a*",
            "a?",
            "a[b]",
            "a b",
            "é",
            &"x".repeat(65),
        ] {
            assert!(
                matches!(KeyPrefix::new(bad), Err(Error::InvalidPrefix(_))),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn durability_waits_must_fit_in_the_response_timeout() {
        let mut config = RedisConfig::default();
        assert!(config.validate().is_ok());
        let replicas = std::num::NonZeroU32::MIN;
        config.durability = Durability::Replicas {
            replicas,
            timeout: Duration::from_secs(2),
        };
        assert!(matches!(config.validate(), Err(Error::InvalidConfig(_))));
        config.durability = Durability::Replicas {
            replicas,
            timeout: Duration::ZERO,
        };
        assert!(matches!(config.validate(), Err(Error::InvalidConfig(_))));
        config.durability = Durability::Replicas {
            replicas,
            timeout: Duration::from_millis(500),
        };
        assert!(config.validate().is_ok());
    }

    #[test]
    fn scan_pattern_selects_the_tagged_keys() {
        assert_eq!(KeyPrefix::new("t1").unwrap().scan_pattern(), "{t1:*");
    }
}
