//! Answering a login, step-up or unlock ticket with an assertion.
//!
//! [`Mfa::webauthn_challenge`] stores the ceremony of a ticket; [`Mfa::verify`] with
//! [`Proof::WebAuthn`](crate::Proof) spends a try of the ticket and a unit of every budget
//! first (the one limits path of every factor), then takes the ceremony (once), verifies the
//! assertion, refuses a signature counter that did not move forward, and records the use by
//! compare-and-set.

use std::time::SystemTime;

use mfa_core::FactorKind;
use mfa_policy::CounterRegression;
use mfa_store::{CeremonyKind, ClientInfo, WebAuthnCeremony, WebAuthnCredential, WebAuthnUse};
use webauthn_rs::prelude::{PublicKeyCredential, SecurityKey, WebauthnError};

use super::config::{decode_credential, encode_credential};
use super::{WebAuthnChallenge, describe};
use crate::error::Result;
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::ChallengeId;
use crate::method::Method;
use crate::notify::Recipients;
use crate::purpose::Purpose;
use crate::verify::Eval;

impl Mfa {
    /// The options for `navigator.credentials.get()` that answer the login, step-up or unlock
    /// ticket `challenge` (from [`begin_login`](Self::begin_login) and its siblings, which offer
    /// [`Method::WebAuthn`] when the user has a credential). The ceremony is stored with the
    /// ticket's expiry; a new call replaces it (only the newest options verify). A passwordless
    /// ticket ([`begin_email_login`](Self::begin_email_login)) takes email only:
    /// [`WebAuthnChallenge::MethodUnavailable`], for known and unknown addresses alike.
    ///
    /// # Errors
    /// Store failures.
    pub async fn webauthn_challenge(
        &self,
        challenge: &ChallengeId,
        client: &ClientInfo,
    ) -> Result<WebAuthnChallenge> {
        let Some(rp) = self.inner.webauthn.as_ref() else {
            return Ok(WebAuthnChallenge::MethodUnavailable);
        };
        let now = self.now();
        let Some(ticket) = self.ticket(challenge, now).await? else {
            return Ok(WebAuthnChallenge::NoChallenge);
        };
        if matches!(ticket.purpose, Purpose::EmailLogin(_)) {
            // Every address gets a passwordless ticket: answering with a key's options for an
            // address that has one would tell which addresses have accounts.
            return Ok(WebAuthnChallenge::MethodUnavailable);
        }
        let user = ticket.challenge.user.clone();
        let store = &self.inner.store;
        let enabled = store
            .settings(&user)
            .await?
            .is_some_and(|s| s.enabled.contains(&FactorKind::WebAuthn));
        let credentials: Vec<_> = if enabled {
            store
                .webauthn_credentials(&user)
                .await?
                .iter()
                .filter(|c| c.rp_id == rp.rp_id)
                .map(|c| decode_credential(&c.credential))
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        };
        if credentials.is_empty() {
            return Ok(WebAuthnChallenge::MethodUnavailable);
        }
        let (options, state) = rp.start_authentication(credentials)?;
        store
            .put_webauthn_ceremony(WebAuthnCeremony {
                id: ticket.id,
                user: user.clone(),
                kind: CeremonyKind::Authentication,
                state,
                created_at: now,
                expires_at: ticket.challenge.expires_at,
            })
            .await?;
        self.emit(
            &user,
            Some(client),
            EventKind::ChallengeIssued {
                method: Some(Method::WebAuthn),
            },
        )
        .await;
        Ok(WebAuthnChallenge::Options(Box::new(options)))
    }

    /// Evaluates an assertion on ticket `ticket_id` of `user` (the try and the budgets are
    /// spent already). A match has been recorded on the credential when this returns.
    pub(crate) async fn check_webauthn(
        &self,
        user: &str,
        ticket_id: &str,
        assertion: &PublicKeyCredential,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<Eval> {
        let Some(rp) = self.inner.webauthn.as_ref() else {
            return Ok(Eval::NoMatch);
        };
        let store = &self.inner.store;
        let Some(ceremony) = store
            .take_webauthn_ceremony(user, ticket_id, CeremonyKind::Authentication, now)
            .await?
        else {
            return Ok(Eval::NoMatch);
        };
        let credentials = store.webauthn_credentials(user).await?;
        let Some(stored) = credentials
            .iter()
            .find(|c| c.rp_id == rp.rp_id && c.credential_id == assertion.raw_id)
        else {
            return Ok(Eval::NoMatch);
        };
        let result = match rp.finish_authentication(assertion, &ceremony.state)? {
            Ok(result) => result,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                self.counter_regressed(user, stored, client).await?;
                return Ok(Eval::NoMatch);
            }
            Err(_) => return Ok(Eval::NoMatch),
        };
        // The ceremony compared the counter with the credential as it was when the ceremony
        // began; the stored one may have moved since (another sign-in in between).
        if (result.counter() > 0 || stored.sign_count > 0) && result.counter() <= stored.sign_count
        {
            self.counter_regressed(user, stored, client).await?;
            return Ok(Eval::NoMatch);
        }
        let mut key = SecurityKey::from(decode_credential(&stored.credential)?);
        key.update_credential(&result);
        let credential = webauthn_rs::prelude::Credential::from(key);
        let recorded = store
            .record_webauthn_use(
                user,
                &stored.id,
                WebAuthnUse {
                    expected_use_count: stored.use_count,
                    sign_count: credential.counter,
                    backup_eligible: credential.backup_eligible,
                    backup_state: credential.backup_state,
                    credential: encode_credential(&credential)?,
                    at: now,
                },
            )
            .await?;
        if !recorded {
            // A concurrent assertion was recorded against the same read: this one is a replay
            // or a clone racing the original.
            return Ok(Eval::NoMatch);
        }
        Ok(Eval::Match {
            step: None,
            recovery_left: None,
        })
    }

    /// A signature counter that did not move forward: a cloned authenticator, or a restored
    /// one. Audited, the user told, and the credential removed if the policy says so.
    async fn counter_regressed(
        &self,
        user: &str,
        credential: &WebAuthnCredential,
        client: &ClientInfo,
    ) -> Result<()> {
        // Removal takes the credential only: WebAuthn stays an enabled factor and the recovery
        // codes stay, so a clone can push the user to another factor or a recovery code, never
        // to no second factor at all (a missing record never means "no second factor").
        let regression = self.inner.policy.counter_regression();
        let removed = regression == CounterRegression::RefuseAndRemove
            && self
                .inner
                .store
                .remove_webauthn_credential(user, &credential.id)
                .await?;
        self.emit(
            user,
            Some(client),
            EventKind::WebAuthnCounterRegressed {
                credential: credential.id.clone(),
                removed,
            },
        )
        .await;
        let factor = describe(&credential.label);
        let notice = if removed {
            mfa_mail::Notice::FactorRemoved {
                factor: format!("{factor} (a copy of it may exist)"),
            }
        } else {
            mfa_mail::Notice::SecurityKeyCopied { key: factor }
        };
        self.notify(user, notice, Recipients::default()).await;
        Ok(())
    }
}
