//! Trusted ("remembered") devices: a token digest that skips the second factor until it expires.

use std::fmt::Debug;
use std::time::SystemTime;

use async_trait::async_trait;
use mfa_core::CodeDigest;

use crate::Result;

/// A stored trusted device. Only the digest of its token is stored.
#[derive(Debug, Clone)]
pub struct TrustedDevice {
    /// The user who trusted the device.
    pub user: String,
    /// The device id, chosen by the caller (unique per user).
    pub id: String,
    /// Digest of the device's current token (unique per user).
    pub token_digest: CodeDigest,
    /// A label the user recognises ("Firefox on Linux"); not secret.
    pub label: String,
    /// When the device was trusted.
    pub created_at: SystemTime,
    /// The first instant at which the trust has ended (live while `now < expires_at`).
    pub expires_at: SystemTime,
    /// When the device was last seen (checked or rotated).
    pub last_seen: SystemTime,
}

impl TrustedDevice {
    /// Whether the trust has ended at `now` (`now >= expires_at`).
    #[must_use]
    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.expires_at
    }
}

/// Storage of trusted devices.
#[async_trait]
pub trait TrustedDeviceStore: Send + Sync + Debug {
    /// Stores a new trusted device.
    ///
    /// # Errors
    /// [`StoreError::Conflict`](crate::StoreError::Conflict) if the user already has a device
    /// with this id or this token digest (nothing is changed); backend failures.
    async fn insert_trusted_device(&self, device: TrustedDevice) -> Result<()>;

    /// Finds `user`'s live device whose token digest is `token_digest`, sets its `last_seen` to
    /// `now` and returns it as updated; `None` if there is none or it expired at `now`.
    ///
    /// # Errors
    /// Backend failures. On an error the caller must ask for the second factor.
    async fn check_and_touch_device(
        &self,
        user: &str,
        token_digest: &CodeDigest,
        now: SystemTime,
    ) -> Result<Option<TrustedDevice>>;

    /// Replaces the token digest of `user`'s live device holding `old` by `new` and sets its
    /// `last_seen` to `now`; returns whether it did.
    ///
    /// Atomic compare-and-swap: of any number of concurrent rotations of one `old` digest exactly
    /// one returns `true`, so a token works for one rotation only (SQL: `UPDATE .. SET
    /// token_digest = $new WHERE user = $u AND token_digest = $old AND expires_at > $now`).
    ///
    /// # Errors
    /// Backend failures.
    async fn rotate_device_token(
        &self,
        user: &str,
        old: &CodeDigest,
        new: CodeDigest,
        now: SystemTime,
    ) -> Result<bool>;

    /// `user`'s devices live at `now`, oldest first (by `created_at`, then id).
    ///
    /// # Errors
    /// Backend failures.
    async fn trusted_devices(&self, user: &str, now: SystemTime) -> Result<Vec<TrustedDevice>>;

    /// Revokes one device; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    async fn revoke_device(&self, user: &str, device_id: &str) -> Result<bool>;

    /// Revokes every device of `user` (after a password or factor change); returns how many
    /// records were deleted.
    ///
    /// # Errors
    /// Backend failures. On an error the caller must report the change as incomplete.
    async fn revoke_all_devices(&self, user: &str) -> Result<u64>;

    /// Deletes every device expired at `now`; returns how many (may be 0 where records expire by
    /// themselves).
    ///
    /// # Errors
    /// Backend failures.
    async fn purge_expired_devices(&self, now: SystemTime) -> Result<u64>;
}
