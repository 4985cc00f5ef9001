//! Recovery codes: a set shown once, stored as locator + verifier, each usable once.

use mfa_core::RecoveryCode;
use mfa_store::RecoveryCodeRecord;

use crate::error::Result;
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::StepUpGrant;
use crate::notify::Recipients;
use crate::outcome::RecoveryCodes;

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

    /// Replaces `user`'s recovery codes with a new set, returned once. Needs a step-up grant:
    /// the only way, besides the first factor's enrolment, to mint recovery codes.
    ///
    /// # Errors
    /// [`Error::NotAuthorised`](crate::Error::NotAuthorised) without a valid grant; store
    /// failures.
    pub async fn regenerate_recovery_codes(
        &self,
        user: &str,
        grant: &StepUpGrant,
    ) -> Result<RecoveryCodes> {
        self.require_step_up(user, grant).await?;
        let codes = self.new_recovery_set(user).await?;
        self.emit(user, None, EventKind::RecoveryCodesRegenerated)
            .await;
        self.notify(
            user,
            mfa_mail::Notice::RecoveryCodesRegenerated,
            Recipients::default(),
        )
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
}
