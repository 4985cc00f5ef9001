//! Recovery codes: a set shown once, stored as locator + verifier, each usable once.

use core::fmt;

use mfa_core::RecoveryCode;
use mfa_store::RecoveryCodeRecord;
use zeroize::Zeroizing;

use crate::error::Result;
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::StepUpGrant;

/// A fresh set of recovery codes, to show the user once (they are stored only as verifiers).
///
/// Redacted in `Debug`; the codes come out only through [`RecoveryCodes::expose`].
pub struct RecoveryCodes(Vec<RecoveryCode>);

impl RecoveryCodes {
    /// The codes as `XXXX-XXXX-XXXX-XXXX`, each zeroized when dropped.
    #[must_use]
    pub fn expose(&self) -> Vec<Zeroizing<String>> {
        self.0.iter().map(RecoveryCode::expose).collect()
    }

    /// How many codes the set holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty (never, for a set the facade made).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryCodes")
            .field("len", &self.0.len())
            .finish_non_exhaustive()
    }
}

impl Mfa {
    /// Makes a new set for `user` and replaces the stored one (no old code works afterwards).
    pub(crate) async fn new_recovery_set(&self, user: &str) -> Result<RecoveryCodes> {
        let inner = &self.inner;
        let codes = RecoveryCode::generate_set(inner.settings.recovery_codes)?;
        let mut records = Vec::with_capacity(codes.len());
        for code in &codes {
            records.push(RecoveryCodeRecord {
                locator: code.locator(&inner.pepper, user),
                verifier: code.verifier(&inner.pepper, user, inner.settings.recovery_hardening)?,
            });
        }
        inner
            .store
            .replace_recovery_codes(user, records, self.now())
            .await?;
        Ok(RecoveryCodes(codes))
    }

    /// Replaces `user`'s recovery codes with a new set, returned once. Needs a step-up grant.
    ///
    /// # Errors
    /// [`Error::NotAuthorised`](crate::Error::NotAuthorised) without a valid grant; store
    /// failures.
    pub async fn regenerate_recovery_codes(
        &self,
        user: &str,
        grant: &str,
    ) -> Result<RecoveryCodes> {
        self.require_step_up(user, grant).await?;
        let codes = self.new_recovery_set(user).await?;
        self.emit(user, None, EventKind::RecoveryCodesRegenerated)
            .await;
        self.notify(user, mfa_mail::Notice::RecoveryCodesRegenerated)
            .await;
        Ok(codes)
    }

    /// How many unused recovery codes `user` has.
    ///
    /// # Errors
    /// Store failures.
    pub async fn recovery_codes_left(&self, user: &str) -> Result<usize> {
        Ok(self.inner.store.remaining_recovery_codes(user).await?)
    }

    /// Whether a grant given as [`StepUpGrant`] value is still accepted (convenience for
    /// applications that keep the value rather than its text).
    ///
    /// # Errors
    /// Store failures.
    pub async fn step_up_valid(&self, user: &str, grant: &StepUpGrant) -> Result<bool> {
        match self.require_step_up(user, &grant.expose()).await {
            Ok(()) => Ok(true),
            Err(crate::Error::NotAuthorised) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
