//! Configuration: the validated key prefix and the connection settings.

use std::fmt;
use std::time::Duration;

use crate::{Error, Result};

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
    /// 100 ms, before pending operations fail (default 3).
    pub reconnect_retries: usize,
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
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            prefix: KeyPrefix::default(),
            connection_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(2),
            reconnect_retries: 3,
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
    fn scan_pattern_selects_the_tagged_keys() {
        assert_eq!(KeyPrefix::new("t1").unwrap().scan_pattern(), "{t1:*");
    }
}
