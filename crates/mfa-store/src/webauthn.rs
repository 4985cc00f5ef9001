//! WebAuthn credentials (security keys, passkeys) and the state of their ceremonies.
//!
//! The store never interprets a credential: the facade hands it the credential as opaque bytes
//! (a serialized `webauthn-rs` credential) beside the few fields a store must compare or index
//! (the credential id, the signature counter, the backup flags). A ceremony's state is opaque
//! too; it is single use, like a challenge.

use core::fmt;
use std::fmt::Debug;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::text::text_enum;
use crate::{Result, StoreError};

/// A registered WebAuthn credential of a user.
///
/// `Debug` prints neither the credential id nor the credential (which holds the public key):
/// both identify the user's authenticator across sites that collude.
#[derive(Clone, PartialEq, Eq)]
pub struct WebAuthnCredential {
    /// The user the credential belongs to.
    pub user: String,
    /// The record id, chosen by the caller (unique per user): the handle to rename or remove
    /// the credential by, so that the credential id need not travel through forms and logs.
    pub id: String,
    /// The relying party id the credential was registered for ("example.com").
    pub rp_id: String,
    /// The authenticator's credential id: unique per relying party, across all users.
    pub credential_id: Vec<u8>,
    /// A label the user recognises ("YubiKey 5", "Laptop"); not secret.
    pub label: String,
    /// The serialized credential (public key, algorithm, counter, flags), opaque to the store.
    pub credential: Vec<u8>,
    /// The signature counter of the last accepted assertion (0 for authenticators without one).
    pub sign_count: u32,
    /// Whether the credential may be backed up (synchronised between devices).
    pub backup_eligible: bool,
    /// Whether the credential is backed up now.
    pub backup_state: bool,
    /// How many assertions were accepted: the generation [`WebAuthnStore::record_webauthn_use`]
    /// compares, so that two uses read from the same record cannot both be recorded.
    pub use_count: u64,
    /// When the credential was registered.
    pub created_at: SystemTime,
    /// When an assertion was last accepted (`None` before the first).
    pub last_used_at: Option<SystemTime>,
}

impl fmt::Debug for WebAuthnCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebAuthnCredential")
            .field("user", &self.user)
            .field("id", &self.id)
            .field("rp_id", &self.rp_id)
            .field("label", &self.label)
            .field("sign_count", &self.sign_count)
            .field("use_count", &self.use_count)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .finish_non_exhaustive()
    }
}

/// What an accepted assertion changes on a credential, for
/// [`WebAuthnStore::record_webauthn_use`].
#[derive(Clone, PartialEq, Eq)]
pub struct WebAuthnUse {
    /// The `use_count` read before the assertion was verified: the update applies only if the
    /// stored one is still this value.
    pub expected_use_count: u64,
    /// The new signature counter.
    pub sign_count: u32,
    /// The new backup eligibility.
    pub backup_eligible: bool,
    /// The new backup state.
    pub backup_state: bool,
    /// The serialized credential with the new counter and flags.
    pub credential: Vec<u8>,
    /// When the assertion was accepted.
    pub at: SystemTime,
}

impl fmt::Debug for WebAuthnUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebAuthnUse")
            .field("expected_use_count", &self.expected_use_count)
            .field("sign_count", &self.sign_count)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

text_enum! {
    /// Which half of WebAuthn a ceremony is.
    pub enum CeremonyKind {
        /// Registering a new credential.
        Registration => "registration",
        /// Asserting with a registered credential (a login or a step-up).
        Authentication => "authentication",
    }
}

/// The server-side state of a WebAuthn ceremony between its start and its finish: single use
/// and expiring, like a challenge.
#[derive(Clone, PartialEq, Eq)]
pub struct WebAuthnCeremony {
    /// The ceremony id, chosen by the caller (unique per user).
    pub id: String,
    /// The user the ceremony is for.
    pub user: String,
    /// Registration or authentication.
    pub kind: CeremonyKind,
    /// The serialized state (the challenge sent and what the finish checks), opaque to the
    /// store.
    pub state: Vec<u8>,
    /// When the ceremony started.
    pub created_at: SystemTime,
    /// When it expires: taken at or after this instant, it is gone.
    pub expires_at: SystemTime,
}

impl fmt::Debug for WebAuthnCeremony {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebAuthnCeremony")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("kind", &self.kind)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The error of every provided method: this store keeps no WebAuthn credentials.
fn unsupported() -> StoreError {
    StoreError::Unsupported("WebAuthn credentials")
}

/// Storage of WebAuthn credentials and ceremony states.
///
/// Every method is provided and fails with [`StoreError::Unsupported`], so that a store written
/// before WebAuthn existed needs only `impl WebAuthnStore for MyStore {}` and refuses WebAuthn
/// (the facade then fails closed). A store that implements one method implements them all, and
/// runs the kit's `webauthn::*` checks.
#[async_trait]
pub trait WebAuthnStore: Send + Sync + Debug {
    /// Stores a new credential.
    ///
    /// # Errors
    /// [`StoreError::Conflict`], changing nothing, if a credential with the same `credential_id`
    /// is registered for the same `rp_id` (for any user: one authenticator's credential belongs
    /// to one account), or the user has a credential with the same `id`. Atomic: of concurrent
    /// adds of one credential id, one succeeds (SQL: a unique index on `(rp_id,
    /// credential_id)`). Backend failures.
    async fn add_webauthn_credential(&self, credential: WebAuthnCredential) -> Result<()> {
        let _ = credential;
        Err(unsupported())
    }

    /// All credentials of `user`, oldest first (by `created_at`, then `id`); never another
    /// user's.
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`] for undecodable records.
    async fn webauthn_credentials(&self, user: &str) -> Result<Vec<WebAuthnCredential>> {
        let _ = user;
        Err(unsupported())
    }

    /// Sets the label of `user`'s credential `id`; returns whether it exists.
    ///
    /// # Errors
    /// Backend failures.
    async fn rename_webauthn_credential(&self, user: &str, id: &str, label: &str) -> Result<bool> {
        let _ = (user, id, label);
        Err(unsupported())
    }

    /// Deletes `user`'s credential `id`; returns whether it existed (of concurrent removals,
    /// one returns `true`).
    ///
    /// # Errors
    /// Backend failures.
    async fn remove_webauthn_credential(&self, user: &str, id: &str) -> Result<bool> {
        let _ = (user, id);
        Err(unsupported())
    }

    /// Records an accepted assertion on `user`'s credential `id`: counter, flags, serialized
    /// credential and `last_used_at` replaced, `use_count` incremented, only if the stored
    /// `use_count` is `update.expected_use_count`.
    ///
    /// Returns `false`, changing nothing, for a missing credential or another `use_count`.
    /// Atomic compare-and-set: of any number of concurrent calls with the same expected count,
    /// exactly one returns `true`, so two assertions verified against the same read cannot both
    /// be accepted (SQL: `UPDATE .. WHERE user = $u AND id = $id AND use_count = $expected`).
    ///
    /// # Errors
    /// Backend failures. On an error the caller must treat the assertion as not accepted.
    async fn record_webauthn_use(&self, user: &str, id: &str, update: WebAuthnUse) -> Result<bool> {
        let _ = (user, id, update);
        Err(unsupported())
    }

    /// Stores a ceremony's state, replacing the user's ceremony with the same `id`.
    ///
    /// # Errors
    /// Backend failures.
    async fn put_webauthn_ceremony(&self, ceremony: WebAuthnCeremony) -> Result<()> {
        let _ = ceremony;
        Err(unsupported())
    }

    /// Takes `user`'s ceremony `id` of `kind`: deletes it and returns it if it was live at
    /// `now` (`now < expires_at`); `None` for a missing, expired or taken one, one of another
    /// user or of another kind (then nothing is deleted).
    ///
    /// Atomic: of any number of concurrent takes, at most one returns the ceremony, so a
    /// ceremony's challenge is answered once.
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`] for an undecodable record.
    async fn take_webauthn_ceremony(
        &self,
        user: &str,
        id: &str,
        kind: CeremonyKind,
        now: SystemTime,
    ) -> Result<Option<WebAuthnCeremony>> {
        let _ = (user, id, kind, now);
        Err(unsupported())
    }

    /// Deletes ceremonies expired at `now`; returns how many. A backend whose records expire by
    /// themselves may return 0; the provided method does nothing.
    ///
    /// # Errors
    /// Backend failures.
    async fn purge_expired_webauthn_ceremonies(&self, now: SystemTime) -> Result<u64> {
        let _ = now;
        Ok(0)
    }
}
