//! WebAuthn credentials and ceremonies of [`MemoryStore`].

use std::time::SystemTime;

use async_trait::async_trait;

use super::{MemoryStore, count_u64};
use crate::{
    CeremonyKind, Result, StoreError, WebAuthnCeremony, WebAuthnCredential, WebAuthnStore,
    WebAuthnUse,
};

#[async_trait]
impl WebAuthnStore for MemoryStore {
    async fn add_webauthn_credential(&self, credential: WebAuthnCredential) -> Result<()> {
        self.with(|state| {
            let taken = state.webauthn.values().flatten().any(|c| {
                c.rp_id == credential.rp_id && c.credential_id == credential.credential_id
            });
            if taken {
                return Err(StoreError::conflict(
                    "a credential with this id is registered for this relying party",
                ));
            }
            let mine = state.webauthn.entry(credential.user.clone()).or_default();
            if mine.iter().any(|c| c.id == credential.id) {
                return Err(StoreError::conflict(
                    "the user has a credential with this id",
                ));
            }
            mine.push(credential);
            Ok(())
        })
    }

    async fn webauthn_credentials(&self, user: &str) -> Result<Vec<WebAuthnCredential>> {
        let mut credentials =
            self.with(|state| state.webauthn.get(user).cloned().unwrap_or_default());
        credentials.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(credentials)
    }

    async fn rename_webauthn_credential(&self, user: &str, id: &str, label: &str) -> Result<bool> {
        Ok(self.with(|state| {
            match state
                .webauthn
                .get_mut(user)
                .and_then(|cs| cs.iter_mut().find(|c| c.id == id))
            {
                Some(c) => {
                    label.clone_into(&mut c.label);
                    true
                }
                None => false,
            }
        }))
    }

    async fn remove_webauthn_credential(&self, user: &str, id: &str) -> Result<bool> {
        Ok(self.with(|state| {
            let Some(credentials) = state.webauthn.get_mut(user) else {
                return false;
            };
            let before = credentials.len();
            credentials.retain(|c| c.id != id);
            credentials.len() != before
        }))
    }

    async fn record_webauthn_use(&self, user: &str, id: &str, update: WebAuthnUse) -> Result<bool> {
        Ok(self.with(|state| {
            match state
                .webauthn
                .get_mut(user)
                .and_then(|cs| cs.iter_mut().find(|c| c.id == id))
            {
                Some(c) if c.use_count == update.expected_use_count => {
                    c.sign_count = update.sign_count;
                    c.backup_eligible = update.backup_eligible;
                    c.backup_state = update.backup_state;
                    c.credential = update.credential;
                    c.use_count = c.use_count.saturating_add(1);
                    c.last_used_at = Some(update.at);
                    true
                }
                _ => false,
            }
        }))
    }

    async fn put_webauthn_ceremony(&self, ceremony: WebAuthnCeremony) -> Result<()> {
        self.with(|state| {
            state
                .ceremonies
                .insert((ceremony.user.clone(), ceremony.id.clone()), ceremony);
        });
        Ok(())
    }

    async fn take_webauthn_ceremony(
        &self,
        user: &str,
        id: &str,
        kind: CeremonyKind,
        now: SystemTime,
    ) -> Result<Option<WebAuthnCeremony>> {
        Ok(self.with(|state| {
            let key = (user.to_owned(), id.to_owned());
            match state.ceremonies.get(&key) {
                Some(c) if c.kind == kind && now < c.expires_at => state.ceremonies.remove(&key),
                Some(c) if now >= c.expires_at => {
                    state.ceremonies.remove(&key);
                    None
                }
                _ => None,
            }
        }))
    }

    async fn purge_expired_webauthn_ceremonies(&self, now: SystemTime) -> Result<u64> {
        Ok(self.with(|state| {
            let before = state.ceremonies.len();
            state.ceremonies.retain(|_, c| now < c.expires_at);
            count_u64(before.saturating_sub(state.ceremonies.len()))
        }))
    }
}
