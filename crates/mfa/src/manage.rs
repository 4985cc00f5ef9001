//! Management behind a step-up grant, administrator actions and key rotation.

use std::time::SystemTime;

use mfa_core::Token;
use mfa_store::{Challenge, ChallengeKind, FactorKind, MfaSettings};

use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::{self, StepUpGrant, purpose};
use crate::outcome::Method;

/// Store purpose of a step-up grant (one live grant per user).
const STEP_UP: &str = "step-up";

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
    /// Issues a step-up grant for `user`, valid for the configured window.
    pub(crate) async fn grant_step_up(&self, user: &str, now: SystemTime) -> Result<StepUpGrant> {
        let token = Token::generate()?;
        let (id, _) = handles::store_id(&self.inner.pepper, purpose::STEP_UP_ID, &token);
        self.inner
            .store
            .create_challenge(Challenge {
                id,
                user: user.to_owned(),
                purpose: STEP_UP.to_owned(),
                kind: ChallengeKind::LoginTicket,
                code_digest: None,
                link_digest: None,
                binding_digest: None,
                created_at: now,
                expires_at: now
                    .checked_add(self.inner.settings.step_up_window)
                    .unwrap_or(now),
                attempts_left: 0,
                consumed: false,
            })
            .await?;
        Ok(StepUpGrant(token))
    }

    /// Succeeds only for a live step-up grant of `user`.
    pub(crate) async fn require_step_up(&self, user: &str, grant: &str) -> Result<()> {
        let Ok(token) = Token::parse(grant) else {
            return Err(Error::NotAuthorised);
        };
        let (id, _) = handles::store_id(&self.inner.pepper, purpose::STEP_UP_ID, &token);
        match self.inner.store.challenge(&id, self.now()).await? {
            Some(c) if c.user == user && c.purpose == STEP_UP && !c.consumed => Ok(()),
            _ => Err(Error::NotAuthorised),
        }
    }

    async fn settings_of(&self, user: &str) -> Result<MfaSettings> {
        Ok(self
            .inner
            .store
            .settings(user)
            .await?
            .unwrap_or_else(|| MfaSettings::new(user)))
    }

    /// Disables one of `user`'s factors. Needs a step-up grant. Revokes every trusted device;
    /// when no factor is left, the recovery codes go too.
    ///
    /// # Errors
    /// [`Error::NotAuthorised`], [`Error::MethodNotEnabled`], store failures.
    pub async fn disable_factor(&self, user: &str, method: Method, grant: &str) -> Result<()> {
        self.require_step_up(user, grant).await?;
        let kind = method.factor_kind().ok_or(Error::MethodNotEnabled)?;
        let mut settings = self.settings_of(user).await?;
        let mut removed = settings.enabled.remove(&kind);
        if kind == FactorKind::Totp {
            for factor in self.inner.store.totp_factors(user).await? {
                removed |= self.inner.store.delete_totp(user, &factor.id).await?;
            }
        }
        if !removed {
            return Err(Error::MethodNotEnabled);
        }
        if settings.preferred == Some(kind) {
            settings.preferred = settings.enabled.iter().next().copied();
        }
        let none_left = settings.enabled.is_empty();
        self.inner.store.put_settings(settings).await?;
        if none_left {
            self.inner
                .store
                .replace_recovery_codes(user, Vec::new(), self.now())
                .await?;
        }
        self.inner.store.revoke_all_devices(user).await?;
        self.emit(user, None, EventKind::FactorDisabled { method })
            .await;
        self.notify(
            user,
            mfa_mail::Notice::FactorRemoved {
                factor: method.as_str().to_owned(),
            },
        )
        .await;
        Ok(())
    }

    /// Sets the method offered first at login. Needs a step-up grant.
    ///
    /// # Errors
    /// [`Error::NotAuthorised`], [`Error::MethodNotEnabled`], store failures.
    pub async fn set_preferred_method(
        &self,
        user: &str,
        method: Method,
        grant: &str,
    ) -> Result<()> {
        self.require_step_up(user, grant).await?;
        let kind = method.factor_kind().ok_or(Error::MethodNotEnabled)?;
        let mut settings = self.settings_of(user).await?;
        if !settings.enabled.contains(&kind) {
            return Err(Error::MethodNotEnabled);
        }
        settings.preferred = Some(kind);
        self.inner.store.put_settings(settings).await?;
        self.emit(user, None, EventKind::PreferredMethodChanged { method })
            .await;
        Ok(())
    }

    /// An administrator lifts `user`'s account-wide locks and failure counts (second factor and
    /// password). Audited with `admin`. Per-client counters are left to expire.
    ///
    /// # Errors
    /// Store failures.
    pub async fn admin_unlock(&self, user: &str, admin: &str) -> Result<()> {
        self.limit_unlock(user).await?;
        self.emit(
            user,
            None,
            EventKind::AdminUnlock {
                admin: admin.to_owned(),
            },
        )
        .await;
        Ok(())
    }

    /// An administrator removes every factor, recovery code and trusted device of `user` and
    /// unlocks the account (for a user who lost everything and proved their identity
    /// otherwise). Audited with `admin`.
    ///
    /// # Errors
    /// Store failures.
    pub async fn admin_reset(&self, user: &str, admin: &str) -> Result<()> {
        let store = &self.inner.store;
        for factor in store.totp_factors(user).await? {
            store.delete_totp(user, &factor.id).await?;
        }
        store
            .replace_recovery_codes(user, Vec::new(), self.now())
            .await?;
        store.revoke_all_devices(user).await?;
        let mut settings = self.settings_of(user).await?;
        settings.enabled.clear();
        settings.preferred = None;
        store.put_settings(settings).await?;
        self.limit_unlock(user).await?;
        self.emit(
            user,
            None,
            EventKind::AdminReset {
                admin: admin.to_owned(),
            },
        )
        .await;
        Ok(())
    }

    /// Re-seals the TOTP secrets of `users` under the keyring's current key (after
    /// [`Keyring::with_current`](mfa_core::Keyring::with_current)). Idempotent and safe to run
    /// from several instances (compare-and-swap per factor): call it with successive batches of
    /// the application's user list until done. mfa-store has no listing of all factors, so the
    /// caller supplies the users.
    ///
    /// # Errors
    /// Store failures; [`Error::Crypto`] for a blob no key of the keyring opens.
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
