//! The one error type of `mfa-store`.
//!
//! Every store operation returns [`Result`]. Outcomes a caller must branch on as part of the
//! normal flow (a replayed step, an exhausted challenge, a token that no longer matches) are
//! *values* (`bool`, `Option`, [`AttemptOutcome`](crate::AttemptOutcome)), not errors; errors are
//! for what the caller cannot act on except by failing closed or retrying.

use std::error::Error as StdError;

/// Result alias for this crate.
pub type Result<T, E = StoreError> = core::result::Result<T, E>;

/// Everything a store operation can fail with.
///
/// No variant carries a code, token, digest or secret: backends put only a short description of
/// *what* failed into [`Conflict`](Self::Conflict) and [`Corrupt`](Self::Corrupt), never a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record the operation requires does not exist.
    #[error("record not found")]
    NotFound,
    /// The write contradicts a record already stored (for example a duplicate id or locator).
    #[error("conflicting record: {0}")]
    Conflict(String),
    /// The backend could not be reached or did not answer in time; retrying may succeed.
    #[error("the store is unavailable")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync + 'static>),
    /// Stored data failed to decode (an unknown enum name, a malformed blob or digest).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The store has lost data it held (a flush, an eviction, a restart without persistence, a
    /// failover to a replica that had not received the writes), so an absent record cannot be
    /// told from one that was never written. Not transient: nothing may be granted on the
    /// strength of an absence until an operator restores the data.
    #[error("the store lost data: {0}")]
    DataLoss(String),
    /// The store does not keep this kind of record (a store written before the entity existed
    /// keeps the provided methods of its trait). Not transient: configure a store that does.
    #[error("the store does not support {0}")]
    Unsupported(&'static str),
}

impl StoreError {
    /// Wraps a backend error (I/O, pool timeout, connection reset) as [`StoreError::Unavailable`].
    pub fn unavailable(source: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        Self::Unavailable(source.into())
    }

    /// Builds [`StoreError::Corrupt`] from a description of what failed to decode.
    ///
    /// The description must name the field, never include its value.
    pub fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt(what.into())
    }

    /// Builds [`StoreError::DataLoss`] from a description of what was found missing.
    pub fn data_loss(what: impl Into<String>) -> Self {
        Self::DataLoss(what.into())
    }

    /// Builds [`StoreError::Conflict`] from a description of the conflict.
    pub fn conflict(what: impl Into<String>) -> Self {
        Self::Conflict(what.into())
    }

    /// Whether retrying the same operation later may succeed.
    ///
    /// Only [`Unavailable`](Self::Unavailable) is transient. A caller that does not retry must
    /// still fail closed: grant nothing when a store call failed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<mfa_core::Error> for StoreError {
    /// A value read back from the store that `mfa-core` refuses (an unknown factor or challenge
    /// kind name, an address that no longer parses, a malformed blob) is corrupt data.
    fn from(error: mfa_core::Error) -> Self {
        Self::Corrupt(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unavailable_is_transient() {
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "pool timeout");
        let err = StoreError::unavailable(io);
        assert!(err.is_transient());
        assert!(err.source().is_some(), "the cause stays reachable");
        assert!(!StoreError::NotFound.is_transient());
        assert!(!StoreError::conflict("duplicate id").is_transient());
        assert!(!StoreError::corrupt("challenge kind").is_transient());
    }

    #[test]
    fn messages_name_the_problem() {
        assert_eq!(
            StoreError::corrupt("factor status").to_string(),
            "stored data is corrupt: factor status"
        );
        assert_eq!(StoreError::NotFound.to_string(), "record not found");
    }
}
