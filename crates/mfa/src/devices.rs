//! Trusted ("remembered") devices: per-user tokens stored as digests, rotated on each use.

use std::time::SystemTime;

use mfa_core::Token;
use mfa_store::{ClientInfo, TrustedDevice};

use crate::error::Result;
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::{self, DeviceToken};
use crate::notify::Recipients;
use crate::purpose::digest;

/// A trusted device as the user sees it in their security settings (no token, no digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The device id, to revoke it.
    pub id: String,
    /// The label given when it was trusted.
    pub label: String,
    /// When it was trusted.
    pub created_at: SystemTime,
    /// When the trust ends.
    pub expires_at: SystemTime,
    /// When it was last used.
    pub last_seen: SystemTime,
}

impl From<TrustedDevice> for DeviceInfo {
    fn from(d: TrustedDevice) -> Self {
        Self {
            id: d.id,
            label: d.label,
            created_at: d.created_at,
            expires_at: d.expires_at,
            last_seen: d.last_seen,
        }
    }
}

impl Mfa {
    /// Trusts the device that just verified; returns its token.
    pub(crate) async fn trust_device(
        &self,
        user: &str,
        label: &str,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<DeviceToken> {
        let token = Token::generate()?;
        let id = handles::random_id("dev")?;
        let expires_at = now
            .checked_add(self.inner.settings.trusted_device_lifetime)
            .unwrap_or(now);
        self.inner
            .store
            .insert_trusted_device(TrustedDevice {
                user: user.to_owned(),
                id: id.clone(),
                token_digest: self.inner.pepper.digest_token(digest::DEVICE, user, &token),
                label: label.to_owned(),
                created_at: now,
                expires_at,
                last_seen: now,
            })
            .await?;
        self.emit(
            user,
            Some(client),
            EventKind::DeviceTrusted { device_id: id },
        )
        .await;
        self.notify(
            user,
            mfa_mail::Notice::NewDeviceTrusted {
                device: label.to_owned(),
            },
            Recipients::default(),
        )
        .await;
        Ok(DeviceToken(token))
    }

    /// `user`'s trusted devices, oldest first.
    ///
    /// # Errors
    /// Store failures.
    pub async fn trusted_devices(&self, user: &str) -> Result<Vec<DeviceInfo>> {
        let devices = self.inner.store.trusted_devices(user, self.now()).await?;
        Ok(devices.into_iter().map(DeviceInfo::from).collect())
    }

    /// Revokes one of `user`'s trusted devices; returns whether it existed.
    ///
    /// # Errors
    /// Store failures.
    pub async fn revoke_trusted_device(&self, user: &str, device_id: &str) -> Result<bool> {
        let existed = self.inner.store.revoke_device(user, device_id).await?;
        if existed {
            self.emit(
                user,
                None,
                EventKind::DevicesRevoked {
                    device_id: Some(device_id.to_owned()),
                    count: 1,
                },
            )
            .await;
        }
        Ok(existed)
    }

    /// Revokes every trusted device of `user`; returns how many went.
    ///
    /// # Errors
    /// Store failures (report the change as incomplete).
    pub async fn revoke_all_trusted_devices(&self, user: &str) -> Result<u64> {
        let count = self.inner.store.revoke_all_devices(user).await?;
        self.emit(
            user,
            None,
            EventKind::DevicesRevoked {
                device_id: None,
                count,
            },
        )
        .await;
        Ok(count)
    }
}
