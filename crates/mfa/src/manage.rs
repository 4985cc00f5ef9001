//! Management behind a step-up grant, changes that end what was issued before them, and the
//! administrator's actions.

use std::time::SystemTime;

use mfa_core::{ChallengeKind, Token};
use mfa_store::{Challenge, ClientInfo, FactorStatus, MfaSettings};

use crate::enroll::describe;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::{self, StepUpGrant};
use crate::method::Method;
use crate::notify::Recipients;
use crate::purpose::{Purpose, digest};

impl Mfa {
    /// Issues a step-up grant for `user`, valid for the configured window.
    pub(crate) async fn grant_step_up(&self, user: &str, now: SystemTime) -> Result<StepUpGrant> {
        let token = Token::generate()?;
        let (id, _) = handles::store_id(&self.inner.pepper, digest::STEP_UP_ID, &token);
        self.inner
            .store
            .create_challenge(Challenge {
                id,
                user: user.to_owned(),
                purpose: Purpose::Grant.encode(),
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
                plan: None,
            })
            .await?;
        Ok(StepUpGrant(token))
    }

    /// Succeeds only for a live step-up grant of `user`.
    pub(crate) async fn require_step_up(&self, user: &str, grant: &StepUpGrant) -> Result<()> {
        let (id, _) = handles::store_id(&self.inner.pepper, digest::STEP_UP_ID, &grant.0);
        match self.inner.store.challenge(&id, self.now()).await? {
            Some(c)
                if c.user == user
                    && !c.consumed
                    && Purpose::decode(&c.purpose) == Some(Purpose::Grant) =>
            {
                Ok(())
            }
            _ => Err(Error::NotAuthorised),
        }
    }

    /// Whether `grant` is still accepted for `user`'s management calls.
    ///
    /// # Errors
    /// Store failures.
    pub async fn step_up_valid(&self, user: &str, grant: &StepUpGrant) -> Result<bool> {
        match self.require_step_up(user, grant).await {
            Ok(()) => Ok(true),
            Err(Error::NotAuthorised) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Ends everything issued to `user` before a change of credentials: trusted devices, live
    /// login tickets, codes and links sent, enrolment challenges, step-up grants, unlock links
    /// and pending authenticators. A code sent before the change signs in nowhere after it.
    pub(crate) async fn end_issued(&self, user: &str) -> Result<()> {
        let store = &self.inner.store;
        store.revoke_all_devices(user).await?;
        store.revoke_user_challenges(user).await?;
        for factor in store.totp_factors(user).await? {
            if factor.status == FactorStatus::Pending {
                store.delete_totp(user, &factor.id).await?;
            }
        }
        Ok(())
    }

    /// Disables one of `user`'s factors. Needs a step-up grant. Ends every trusted device,
    /// ticket, code sent, enrolment and step-up grant (the one used included); when no factor
    /// is left, the recovery codes go too. The notice goes to the address and number the
    /// account had before the change as well as after it.
    ///
    /// # Errors
    /// [`Error::NotAuthorised`], [`Error::MethodNotEnabled`], store failures.
    pub async fn disable_factor(
        &self,
        user: &str,
        method: Method,
        grant: &StepUpGrant,
        client: &ClientInfo,
    ) -> Result<()> {
        self.require_step_up(user, grant).await?;
        let kind = method.factor().ok_or(Error::MethodNotEnabled)?;
        let store = &self.inner.store;
        let previous = store.settings(user).await?;
        let mut also = Recipients::default();
        if let Some(p) = &previous {
            also.add(p.email.as_ref(), p.phone.as_ref());
        }
        let factor = describe(kind, previous.as_ref());
        let mut settings = previous.unwrap_or_else(|| MfaSettings::new(user));
        let mut removed = settings.enabled.remove(&kind);
        if kind == mfa_core::FactorKind::Totp {
            for factor in store.totp_factors(user).await? {
                removed |= store.delete_totp(user, &factor.id).await?;
            }
        }
        if kind == mfa_core::FactorKind::WebAuthn {
            for credential in store.webauthn_credentials(user).await? {
                removed |= store
                    .remove_webauthn_credential(user, &credential.id)
                    .await?;
            }
        }
        if !removed {
            return Err(Error::MethodNotEnabled);
        }
        if settings.preferred == Some(kind) {
            settings.preferred = settings.enabled.iter().next().copied();
        }
        let none_left = settings.enabled.is_empty();
        store.put_settings(settings).await?;
        if none_left {
            store
                .replace_recovery_codes(user, Vec::new(), self.now())
                .await?;
        }
        self.end_issued(user).await?;
        self.emit(user, Some(client), EventKind::FactorDisabled { method })
            .await;
        self.notify(user, mfa_mail::Notice::FactorRemoved { factor }, also)
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
        grant: &StepUpGrant,
    ) -> Result<()> {
        self.require_step_up(user, grant).await?;
        let kind = method.factor().ok_or(Error::MethodNotEnabled)?;
        let mut settings = self
            .inner
            .store
            .settings(user)
            .await?
            .unwrap_or_else(|| MfaSettings::new(user));
        if !settings.enabled.contains(&kind) {
            return Err(Error::MethodNotEnabled);
        }
        settings.preferred = Some(kind);
        self.inner.store.put_settings(settings).await?;
        self.emit(user, None, EventKind::PreferredMethodChanged { method })
            .await;
        Ok(())
    }

    /// Call after `user`'s password changed: ends every trusted device, ticket, code sent,
    /// enrolment and step-up grant issued before.
    ///
    /// # Errors
    /// Store failures (report the change as incomplete).
    pub async fn password_changed(&self, user: &str) -> Result<()> {
        self.end_issued(user).await?;
        self.emit(user, None, EventKind::PasswordChanged).await;
        Ok(())
    }

    /// An administrator lifts `user`'s account-wide locks and failure counts (second factor and
    /// password); per-network locks from before it are forgotten at their next use. The audit
    /// record names `admin`.
    ///
    /// # Errors
    /// Store failures.
    pub async fn admin_unlock(&self, user: &str, admin: &str) -> Result<()> {
        self.limit_unlock(user, self.now()).await?;
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

    /// An administrator removes every factor, recovery code, trusted device, ticket, code and
    /// grant of `user` and unlocks the account (for a user who lost everything and proved their
    /// identity otherwise). The audit record names `admin`; the user is told.
    ///
    /// # Errors
    /// Store failures.
    pub async fn admin_reset(&self, user: &str, admin: &str) -> Result<()> {
        let now = self.now();
        let store = &self.inner.store;
        for factor in store.totp_factors(user).await? {
            store.delete_totp(user, &factor.id).await?;
        }
        match store.webauthn_credentials(user).await {
            Ok(credentials) => {
                for credential in credentials {
                    store
                        .remove_webauthn_credential(user, &credential.id)
                        .await?;
                }
            }
            // A store without WebAuthn holds no credential to remove.
            Err(mfa_store::StoreError::Unsupported(_)) => {}
            Err(e) => return Err(e.into()),
        }
        store.replace_recovery_codes(user, Vec::new(), now).await?;
        self.end_issued(user).await?;
        let mut settings = store
            .settings(user)
            .await?
            .unwrap_or_else(|| MfaSettings::new(user));
        settings.enabled.clear();
        settings.preferred = None;
        store.put_settings(settings).await?;
        self.limit_unlock(user, now).await?;
        self.emit(
            user,
            None,
            EventKind::AdminReset {
                admin: admin.to_owned(),
            },
        )
        .await;
        let notice = mfa_mail::Notice::FactorRemoved {
            factor: "every second factor (an administrator reset your account)".to_owned(),
        };
        self.notify(user, notice, Recipients::default()).await;
        Ok(())
    }
}
