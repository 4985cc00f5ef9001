//! Listing, renaming and removing credentials.

use mfa_store::ClientInfo;

use super::{WebAuthnCredentialInfo, describe};
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::StepUpGrant;
use crate::method::Method;
use crate::notify::Recipients;

/// The longest label kept.
const MAX_LABEL: usize = 64;

impl Mfa {
    /// `user`'s registered security keys and passkeys, oldest first, for a settings page (no
    /// credential id, no public key).
    ///
    /// # Errors
    /// Store failures.
    pub async fn webauthn_credentials(&self, user: &str) -> Result<Vec<WebAuthnCredentialInfo>> {
        let credentials = self.inner.store.webauthn_credentials(user).await?;
        Ok(credentials
            .iter()
            .map(WebAuthnCredentialInfo::from)
            .collect())
    }

    /// Renames `user`'s credential `id` (a label is no credential: no step-up needed).
    ///
    /// # Errors
    /// [`Error::MethodNotEnabled`] for an unknown credential; store failures.
    pub async fn rename_webauthn_credential(
        &self,
        user: &str,
        id: &str,
        label: &str,
    ) -> Result<()> {
        let label: String = label.trim().chars().take(MAX_LABEL).collect();
        if label.is_empty() {
            return Err(Error::InvalidArgument("an empty label"));
        }
        if !self
            .inner
            .store
            .rename_webauthn_credential(user, id, &label)
            .await?
        {
            return Err(Error::MethodNotEnabled);
        }
        Ok(())
    }

    /// Removes `user`'s credential `id`. Needs a step-up grant. Like every change of factors it
    /// ends every trusted device, ticket, code sent and step-up grant, is audited, and the
    /// user is told. Removing the last credential disables WebAuthn exactly as
    /// [`disable_factor`](Self::disable_factor) does (with the last factor, the recovery
    /// codes go too).
    ///
    /// # Errors
    /// [`Error::NotAuthorised`]; [`Error::MethodNotEnabled`] for an unknown credential; store
    /// failures.
    pub async fn remove_webauthn_credential(
        &self,
        user: &str,
        id: &str,
        grant: &StepUpGrant,
        client: &ClientInfo,
    ) -> Result<()> {
        self.require_step_up(user, grant).await?;
        let store = &self.inner.store;
        let credentials = store.webauthn_credentials(user).await?;
        let Some(target) = credentials.iter().find(|c| c.id == id) else {
            return Err(Error::MethodNotEnabled);
        };
        if credentials.len() == 1 {
            return self
                .disable_factor(user, Method::WebAuthn, grant, client)
                .await;
        }
        if !store.remove_webauthn_credential(user, id).await? {
            return Err(Error::MethodNotEnabled);
        }
        self.end_issued(user).await?;
        self.emit(
            user,
            Some(client),
            EventKind::FactorDisabled {
                method: Method::WebAuthn,
            },
        )
        .await;
        let notice = mfa_mail::Notice::FactorRemoved {
            factor: describe(&target.label),
        };
        self.notify(user, notice, Recipients::default()).await;
        Ok(())
    }
}
