//! TOTP factors: the sealed shared secret of an authenticator app and its replay guard.

use std::fmt::Debug;
use std::time::SystemTime;

use async_trait::async_trait;
use mfa_core::{Algorithm, Digits, Period, SealedSecret};

use crate::Result;
use crate::text::text_enum;

text_enum! {
    /// Whether the user has proven a TOTP factor yet.
    pub enum FactorStatus {
        /// Enrolled but not yet proven with a first code: must not be accepted for sign-in.
        Pending => "pending",
        /// Proven with a first code: active.
        Confirmed => "confirmed",
    }
}

/// A new TOTP factor, before it is stored as [`FactorStatus::Pending`].
///
/// The secret is sealed ([`SealedSecret`]); the type gives no way to store it in plain text.
#[derive(Debug, Clone)]
pub struct NewTotpFactor {
    /// The user the factor belongs to.
    pub user: String,
    /// The factor id, chosen by the caller (unique per user; it is bound into the sealed blob).
    pub id: String,
    /// The shared secret, sealed with `mfa_core::Keyring::seal` for this user and factor id.
    pub sealed_secret: SealedSecret,
    /// The HMAC algorithm of the factor.
    pub algorithm: Algorithm,
    /// The number of digits of its codes.
    pub digits: Digits,
    /// Its time-step length.
    pub period: Period,
    /// A label the user recognises ("Phone", "YubiKey"); not secret.
    pub label: String,
    /// When the factor was enrolled.
    pub created_at: SystemTime,
}

/// A stored TOTP factor.
#[derive(Debug, Clone)]
pub struct TotpFactor {
    /// The user the factor belongs to.
    pub user: String,
    /// The factor id (unique per user).
    pub id: String,
    /// The sealed shared secret.
    pub sealed_secret: SealedSecret,
    /// The HMAC algorithm of the factor.
    pub algorithm: Algorithm,
    /// The number of digits of its codes.
    pub digits: Digits,
    /// Its time-step length.
    pub period: Period,
    /// A label the user recognises.
    pub label: String,
    /// Pending until the user proves the factor, then confirmed.
    pub status: FactorStatus,
    /// The greatest time step accepted so far; a code of this step or an earlier one is a replay.
    pub last_used_step: Option<u64>,
    /// When the factor was enrolled.
    pub created_at: SystemTime,
    /// When the user proved it with a first code (`None` while pending).
    pub confirmed_at: Option<SystemTime>,
}

impl TotpFactor {
    /// The pending record a [`NewTotpFactor`] becomes when inserted.
    #[must_use]
    pub fn pending(new: NewTotpFactor) -> Self {
        Self {
            user: new.user,
            id: new.id,
            sealed_secret: new.sealed_secret,
            algorithm: new.algorithm,
            digits: new.digits,
            period: new.period,
            label: new.label,
            status: FactorStatus::Pending,
            last_used_step: None,
            created_at: new.created_at,
            confirmed_at: None,
        }
    }
}

/// Storage of TOTP factors.
#[async_trait]
pub trait TotpFactorStore: Send + Sync + Debug {
    /// Stores `factor` as [`FactorStatus::Pending`] with no used step, replacing any *pending*
    /// factor of the same user; the user's confirmed factors stay.
    ///
    /// Atomic: afterwards the user has exactly one pending factor, this one (SQL: delete the
    /// user's pending rows and insert in one transaction, or an upsert on a unique index of
    /// pending factors per user).
    ///
    /// # Errors
    /// [`StoreError::Conflict`](crate::StoreError::Conflict) if the user already has a
    /// *confirmed* factor with this id (nothing is changed); backend failures.
    async fn insert_pending_totp(&self, factor: NewTotpFactor) -> Result<()>;

    /// The factor `factor_id` of `user`, pending or confirmed.
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`](crate::StoreError::Corrupt) for undecodable rows.
    async fn totp_factor(&self, user: &str, factor_id: &str) -> Result<Option<TotpFactor>>;

    /// All factors of `user`, pending and confirmed, oldest first (by `created_at`, then id).
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`](crate::StoreError::Corrupt) for undecodable rows.
    async fn totp_factors(&self, user: &str) -> Result<Vec<TotpFactor>>;

    /// Confirms a pending factor, records `step` (the step of the code that proved it) as its
    /// last used step, so the activation code cannot be replayed for sign-in, and records `now`
    /// as its `confirmed_at`.
    ///
    /// Returns `true` if the factor was pending and is now confirmed; `false` if it does not
    /// exist or was already confirmed (nothing changes). Atomic: two concurrent calls cannot both
    /// return `true` (SQL: `UPDATE .. SET status = 'confirmed', last_used_step = $step WHERE user
    /// = $u AND id = $id AND status = 'pending'`, true when one row changed).
    ///
    /// # Errors
    /// Backend failures.
    async fn confirm_totp(
        &self,
        user: &str,
        factor_id: &str,
        step: u64,
        now: SystemTime,
    ) -> Result<bool>;

    /// Records `step` as the last used step of a *confirmed* factor if it is greater than the
    /// one stored (or none is stored): the replay guard.
    ///
    /// Returns `true` if it did, `false` for a step not greater than the last used one, a
    /// pending factor, or no factor. Atomic: of any number of concurrent calls with the same
    /// step, exactly one returns `true` (SQL: `UPDATE .. SET last_used_step = $s WHERE user = $u
    /// AND id = $id AND status = 'confirmed' AND (last_used_step IS NULL OR last_used_step <
    /// $s)`).
    ///
    /// # Errors
    /// Backend failures. On an error the caller must treat the code as not accepted.
    async fn advance_totp_step(&self, user: &str, factor_id: &str, step: u64) -> Result<bool>;

    /// Replaces the sealed secret of a factor if the stored one is byte-for-byte `expected`
    /// (compare-and-swap, for re-sealing under a new key).
    ///
    /// Returns `false`, changing nothing, if the factor is missing or holds another blob (a
    /// concurrent rotation won). Status and last used step are kept.
    ///
    /// # Errors
    /// Backend failures.
    async fn replace_totp_secret(
        &self,
        user: &str,
        factor_id: &str,
        expected: &SealedSecret,
        replacement: SealedSecret,
    ) -> Result<bool>;

    /// Deletes a factor; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    async fn delete_totp(&self, user: &str, factor_id: &str) -> Result<bool>;
}
