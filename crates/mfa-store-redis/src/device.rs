//! [`TrustedDeviceStore`] on Redis: one hash per device (`PEXPIREAT` at its expiry), an index
//! `token digest -> device id` and a set of device ids per user. Index entries of expired
//! devices are dropped lazily: every lookup checks the device still holds the token.

use std::time::SystemTime;

use async_trait::async_trait;
use mfa_core::CodeDigest;
use mfa_store::{Result, StoreError, TrustedDevice, TrustedDeviceStore};

use crate::RedisStore;
use crate::codec::{Fields, to_ms};
use crate::scripts::{
    DEVICE_CHECK, DEVICE_INSERT, DEVICE_LIST, DEVICE_REVOKE, DEVICE_REVOKE_ALL, DEVICE_ROTATE,
};
use crate::store::{Op, check_status};

const RECORD: &str = "trusted device";

fn decode(user: &str, id: &str, f: &Fields) -> Result<TrustedDevice> {
    Ok(TrustedDevice {
        user: user.to_owned(),
        id: id.to_owned(),
        token_digest: f.digest("token")?,
        label: f.text("label")?,
        created_at: f.time("created")?,
        expires_at: f.time("expires")?,
        last_seen: f.time("seen")?,
    })
}

/// Splits `{id, field, value, ...}`.
fn decode_row(user: &str, row: Vec<Vec<u8>>) -> Result<TrustedDevice> {
    let mut row = row.into_iter();
    let id = row
        .next()
        .and_then(|id| String::from_utf8(id).ok())
        .ok_or_else(|| StoreError::corrupt("trusted device id"))?;
    decode(user, &id, &Fields::from_flat(RECORD, row)?)
}

#[async_trait]
impl TrustedDeviceStore for RedisStore {
    async fn insert_trusted_device(&self, device: TrustedDevice) -> Result<()> {
        let base = self.keys.device_base(&device.user);
        let expires_ms = to_ms(device.expires_at);
        let status: String = self
            .eval(
                DEVICE_INSERT
                    .on(&self.keys, format!("{base}{}", device.id))
                    .key(self.keys.device_tokens(&device.user))
                    .key(self.keys.device_index(&device.user))
                    .arg(&device.id)
                    .arg(device.token_digest.as_bytes().as_slice())
                    .arg(expires_ms)
                    .arg(&base)
                    .arg("token")
                    .arg(device.token_digest.as_bytes().as_slice())
                    .arg("label")
                    .arg(&device.label)
                    .arg("created")
                    .arg(to_ms(device.created_at))
                    .arg("expires")
                    .arg(expires_ms)
                    .arg("seen")
                    .arg(to_ms(device.last_seen)),
                Op::Write,
            )
            .await?;
        check_status(&status, "the user has a device with this id or token")
    }

    async fn check_and_touch_device(
        &self,
        user: &str,
        token_digest: &CodeDigest,
        now: SystemTime,
    ) -> Result<Option<TrustedDevice>> {
        let row: Vec<Vec<u8>> = self
            .eval(
                DEVICE_CHECK
                    .on(&self.keys, self.keys.device_tokens(user))
                    .arg(self.keys.device_base(user))
                    .arg(token_digest.as_bytes().as_slice())
                    .arg(to_ms(now)),
                Op::Write,
            )
            .await?;
        if row.is_empty() {
            return Ok(None);
        }
        decode_row(user, row).map(Some)
    }

    async fn rotate_device_token(
        &self,
        user: &str,
        old: &CodeDigest,
        new: CodeDigest,
        now: SystemTime,
    ) -> Result<bool> {
        let done: i64 = self
            .eval(
                DEVICE_ROTATE
                    .on(&self.keys, self.keys.device_tokens(user))
                    .arg(self.keys.device_base(user))
                    .arg(old.as_bytes().as_slice())
                    .arg(new.as_bytes().as_slice())
                    .arg(to_ms(now)),
                Op::Guard,
            )
            .await?;
        match done {
            1 => Ok(true),
            -1 => Err(StoreError::conflict("another device holds the new token")),
            _ => Ok(false),
        }
    }

    async fn trusted_devices(&self, user: &str, now: SystemTime) -> Result<Vec<TrustedDevice>> {
        let rows: Vec<Vec<Vec<u8>>> = self
            .eval(
                DEVICE_LIST
                    .on(&self.keys, self.keys.device_index(user))
                    .arg(self.keys.device_base(user)),
                Op::Read,
            )
            .await?;
        let mut list = Vec::with_capacity(rows.len());
        for row in rows {
            let device = decode_row(user, row)?;
            if !device.is_expired(now) {
                list.push(device);
            }
        }
        list.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(list)
    }

    async fn revoke_device(&self, user: &str, device_id: &str) -> Result<bool> {
        let existed: i64 = self
            .eval(
                DEVICE_REVOKE
                    .on(&self.keys, self.keys.device_tokens(user))
                    .key(self.keys.device_index(user))
                    .arg(self.keys.device_base(user))
                    .arg(device_id),
                Op::Guard,
            )
            .await?;
        Ok(existed == 1)
    }

    async fn revoke_all_devices(&self, user: &str) -> Result<u64> {
        let deleted: u64 = self
            .eval(
                DEVICE_REVOKE_ALL
                    .on(&self.keys, self.keys.device_tokens(user))
                    .key(self.keys.device_index(user))
                    .arg(self.keys.device_base(user)),
                Op::Guard,
            )
            .await?;
        Ok(deleted)
    }

    /// Devices expire by TTL (`PEXPIREAT` at `expires_at`): nothing to purge, returns 0.
    async fn purge_expired_devices(&self, _now: SystemTime) -> Result<u64> {
        Ok(0)
    }
}
