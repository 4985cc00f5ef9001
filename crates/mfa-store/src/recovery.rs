//! Recovery codes: a keyed locator to find a code in O(1) and a verifier to check it.

use std::fmt::Debug;
use std::time::SystemTime;

use async_trait::async_trait;
use mfa_core::{CodeDigest, RecoveryVerifier};

use crate::Result;

/// One stored recovery code: its locator and verifier, never the code.
#[derive(Debug, Clone)]
pub struct RecoveryCodeRecord {
    /// Peppered digest of the code's first group (`mfa_core::RecoveryCode::locator`), unique
    /// per user: the key a lookup uses.
    pub locator: CodeDigest,
    /// What the whole code is checked against (`mfa_core::RecoveryCode::verifier`).
    pub verifier: RecoveryVerifier,
}

/// Storage of recovery codes.
#[async_trait]
pub trait RecoveryCodeStore: Send + Sync + Debug {
    /// Replaces the whole set of `user`'s recovery codes with `codes`.
    ///
    /// Atomic: no reader ever sees a mix of the old and the new set, and once this returns no
    /// old code is found (SQL: delete + insert in one transaction).
    ///
    /// # Errors
    /// [`StoreError::Conflict`](crate::StoreError::Conflict) if two codes share a locator; the
    /// previous set then stays unchanged. Backend failures.
    async fn replace_recovery_codes(
        &self,
        user: &str,
        codes: Vec<RecoveryCodeRecord>,
        created_at: SystemTime,
    ) -> Result<()>;

    /// The verifier of `user`'s unused code with this locator, by an indexed lookup (never a scan
    /// that checks every verifier).
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`](crate::StoreError::Corrupt) for an undecodable
    /// verifier.
    async fn find_recovery_code(
        &self,
        user: &str,
        locator: &CodeDigest,
    ) -> Result<Option<RecoveryVerifier>>;

    /// Uses up `user`'s code with this locator; `true` only for the one call that did so.
    ///
    /// Atomic: of any number of concurrent calls exactly one returns `true` (SQL: `DELETE ..
    /// WHERE user = $u AND locator = $l`, true when one row went). Call it *after* the verifier
    /// matched and grant access only on `true`.
    ///
    /// # Errors
    /// Backend failures. On an error the caller must not grant access.
    async fn consume_recovery_code(&self, user: &str, locator: &CodeDigest) -> Result<bool>;

    /// How many unused codes `user` has.
    ///
    /// # Errors
    /// Backend failures.
    async fn remaining_recovery_codes(&self, user: &str) -> Result<usize>;
}
