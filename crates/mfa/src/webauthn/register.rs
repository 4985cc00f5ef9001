//! Registering a credential: behind the same authority as every other factor; the credential
//! is active once the browser's response verifies against the stored ceremony.

use mfa_core::FactorKind;
use mfa_store::{CeremonyKind, ClientInfo, StoreError, WebAuthnCeremony, WebAuthnCredential};
use webauthn_rs::prelude::{RegisterPublicKeyCredential, Uuid};

use super::{WebAuthnRegistration, describe};
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles;
use crate::method::Method;
use crate::outcome::{Authority, EnrollmentOutcome};
use crate::purpose::digest;

/// The id of a user's registration ceremony: one at a time, a new start replaces it.
const REGISTRATION: &str = "registration";

/// The longest label kept.
const MAX_LABEL: usize = 64;

impl Mfa {
    /// The relying party, or [`Error::MethodNotEnabled`] on a facade built without one.
    pub(crate) fn relying_party(&self) -> Result<&super::RelyingParty> {
        self.inner.webauthn.as_ref().ok_or(Error::MethodNotEnabled)
    }

    /// The user handle authenticators store: derived from the user id under the pepper, so it
    /// is stable, carries no personal data, and needs no column of its own.
    fn user_handle(&self, user: &str) -> Uuid {
        let digest = self.inner.pepper.digest(digest::WEBAUTHN_USER, user, &[]);
        let mut bytes = [0_u8; 16];
        bytes.copy_from_slice(digest.as_bytes().get(..16).unwrap_or(&[0; 16]));
        Uuid::from_bytes(bytes)
    }

    /// Starts registering a security key or passkey for `user`: the options for
    /// `navigator.credentials.create()`. The user's registered credentials are excluded (an
    /// authenticator is registered once). A new start replaces an unfinished one.
    ///
    /// `authority`: [`Authority::FirstFactor`] while the user has no active factor, else a
    /// step-up grant. `account_name` is what the authenticator may show ("alice@example.com").
    ///
    /// # Errors
    /// [`Error::NotAuthorised`]; [`Error::MethodNotEnabled`] without a relying party
    /// ([`MfaBuilder::webauthn`](crate::MfaBuilder::webauthn)); store failures.
    pub async fn start_webauthn_registration(
        &self,
        user: &str,
        authority: Authority<'_>,
        account_name: &str,
        client: &ClientInfo,
    ) -> Result<WebAuthnRegistration> {
        let rp = self.relying_party()?;
        let now = self.now();
        self.authorise(user, authority).await?;
        let store = &self.inner.store;
        let exclude = store
            .webauthn_credentials(user)
            .await?
            .into_iter()
            .filter(|c| c.rp_id == rp.rp_id)
            .map(|c| c.credential_id)
            .collect();
        let (options, state) =
            rp.start_registration(self.user_handle(user), account_name, exclude)?;
        store
            .put_webauthn_ceremony(WebAuthnCeremony {
                id: REGISTRATION.to_owned(),
                user: user.to_owned(),
                kind: CeremonyKind::Registration,
                state,
                created_at: now,
                expires_at: now
                    .checked_add(self.inner.settings.enrollment_lifetime)
                    .unwrap_or(now),
            })
            .await?;
        self.emit(
            user,
            Some(client),
            EventKind::EnrollmentStarted {
                method: Method::WebAuthn,
            },
        )
        .await;
        Ok(WebAuthnRegistration { options })
    }

    /// Finishes the registration with the browser's response and stores the credential under
    /// `label`. The ceremony is taken first, so a response is evaluated once. Like every new
    /// factor: recovery codes if it is the user's first, trusted devices revoked, audited, and
    /// the notice sent to the addresses on the account. The authority is checked again.
    ///
    /// A refused response ([`EnrollmentOutcome::Rejected`]) is audited but counts toward no
    /// limit: it guesses at no secret. A credential id registered already (to anyone) is
    /// refused the same way: one authenticator's credential belongs to one account.
    ///
    /// # Errors
    /// [`Error::NotAuthorised`]; [`Error::MethodNotEnabled`]; store failures.
    pub async fn finish_webauthn_registration(
        &self,
        user: &str,
        authority: Authority<'_>,
        label: &str,
        response: &RegisterPublicKeyCredential,
        client: &ClientInfo,
    ) -> Result<EnrollmentOutcome> {
        let rp = self.relying_party()?;
        let now = self.now();
        let authorised = self.authorise(user, authority).await?;
        let store = &self.inner.store;
        let Some(ceremony) = store
            .take_webauthn_ceremony(user, REGISTRATION, CeremonyKind::Registration, now)
            .await?
        else {
            return Ok(EnrollmentOutcome::NoPendingEnrollment);
        };
        let rejected = || async {
            self.emit(
                user,
                Some(client),
                EventKind::EnrollmentFailed {
                    method: Method::WebAuthn,
                },
            )
            .await;
            Ok(EnrollmentOutcome::Rejected {
                attempts_left: None,
            })
        };
        let Ok(credential) = rp.finish_registration(response, &ceremony.state)? else {
            return rejected().await;
        };
        let label: String = label.trim().chars().take(MAX_LABEL).collect();
        let label = if label.is_empty() {
            "Security key".to_owned()
        } else {
            label
        };
        let record = WebAuthnCredential {
            user: user.to_owned(),
            id: handles::random_id("wa")?,
            rp_id: rp.rp_id.clone(),
            credential_id: credential.cred_id.clone(),
            label: label.clone(),
            credential: super::config::encode_credential(&credential)?,
            sign_count: credential.counter,
            backup_eligible: credential.backup_eligible,
            backup_state: credential.backup_state,
            use_count: 0,
            created_at: now,
            last_used_at: None,
        };
        match store.add_webauthn_credential(record).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return rejected().await,
            Err(e) => return Err(e.into()),
        }
        self.activated_as(
            user,
            FactorKind::WebAuthn,
            describe(&label),
            authorised,
            client,
        )
        .await
    }
}
