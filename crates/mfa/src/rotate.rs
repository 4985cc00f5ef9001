//! Key rotation: re-sealing TOTP secrets under the keyring's current key.

use crate::error::Result;
use crate::facade::Mfa;

/// What one call of [`Mfa::rotate_keys`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Factors re-sealed under the current key.
    pub resealed: usize,
    /// Factors already under the current key.
    pub current: usize,
    /// Factors a concurrent rotation re-sealed first.
    pub raced: usize,
}

impl Mfa {
    /// Re-seals the TOTP secrets of `users` under the keyring's current key (after
    /// [`Keyring::with_current`](mfa_core::Keyring::with_current)). Idempotent and safe to run
    /// from several instances (compare-and-swap per factor): call it with successive batches of
    /// the application's user list until done. mfa-store has no listing of all factors, so the
    /// caller supplies the users.
    ///
    /// # Errors
    /// Store failures; [`Error::Crypto`](crate::Error::Crypto) for a blob no key of the keyring opens.
    pub async fn rotate_keys<S: AsRef<str>>(&self, users: &[S]) -> Result<RotationReport> {
        let mut report = RotationReport::default();
        let keyring = &self.inner.keyring;
        for user in users {
            let user = user.as_ref();
            for factor in self.inner.store.totp_factors(user).await? {
                if !keyring.needs_reseal(&factor.sealed_secret) {
                    report.current = report.current.saturating_add(1);
                    continue;
                }
                let resealed = keyring.reseal(&factor.sealed_secret, user, &factor.id)?;
                if self
                    .inner
                    .store
                    .replace_totp_secret(user, &factor.id, &factor.sealed_secret, resealed)
                    .await?
                {
                    report.resealed = report.resealed.saturating_add(1);
                } else {
                    report.raced = report.raced.saturating_add(1);
                }
            }
        }
        tracing::info!(
            resealed = report.resealed,
            current = report.current,
            "mfa key rotation batch"
        );
        Ok(report)
    }
}
