//! [`TrustedDeviceStore`] on every engine: one row per device, unique on `(user_id, id)` and
//! `(user_id, token_digest)`; rotation is a compare-and-swap on the digest.
//!
//! Check-and-touch returns the row it updated, which each engine does its own way
//! ([`Engine::touch_device`]); the rest is here.

use std::time::SystemTime;

use async_trait::async_trait;
use mfa_core::CodeDigest;
use mfa_store::{Result as SResult, TrustedDevice, TrustedDeviceStore};

use crate::convert::{conflict_or, digest, millis, time};
use crate::db::{Arg, Cols, On, Sql};
use crate::dialect::Dialect;
use crate::engine::Engine;
use crate::store::{DEFAULT_PURGE_BATCH, SqlStore};

/// The select list of a device, in [`device`]'s order.
pub(crate) const COLUMNS: &str =
    "@user_id, @id, token_digest, label, created_at, expires_at, last_seen";

/// The statements of trusted devices every engine runs.
#[derive(Debug)]
pub(crate) struct DeviceSql {
    insert: Sql,
    rotate: Sql,
    list: Sql,
    revoke: Sql,
    revoke_all: Sql,
    pub(crate) purge: Sql,
}

impl DeviceSql {
    pub(crate) fn new(d: &Dialect) -> Self {
        Self {
            insert: d.sql(
                "INSERT INTO {p}trusted_devices \
                 (user_id, id, token_digest, label, created_at, expires_at, last_seen) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            ),
            rotate: d.sql(
                "UPDATE {p}trusted_devices SET token_digest = ?, last_seen = ? \
                 WHERE user_id = ? AND token_digest = ? AND expires_at > ?",
            ),
            list: d.sql(&format!(
                "SELECT {COLUMNS} FROM {{p}}trusted_devices \
                 WHERE user_id = ? AND expires_at > ? ORDER BY created_at, id"
            )),
            revoke: d.sql("DELETE FROM {p}trusted_devices WHERE user_id = ? AND id = ?"),
            revoke_all: d.sql("DELETE FROM {p}trusted_devices WHERE user_id = ?"),
            purge: d.purge("trusted_devices", "user_id, id"),
        }
    }
}

/// A device from a row of [`COLUMNS`].
pub(crate) fn device<E: Engine>(row: &E::Row) -> SResult<TrustedDevice> {
    let mut c = Cols::<E>::new(row);
    Ok(TrustedDevice {
        user: c.text("user_id")?,
        id: c.text("id")?,
        token_digest: digest(&c.bytes("token_digest")?, "token_digest")?,
        label: c.text("label")?,
        created_at: time(c.int("created_at")?, "created_at")?,
        expires_at: time(c.int("expires_at")?, "expires_at")?,
        last_seen: time(c.int("last_seen")?, "last_seen")?,
    })
}

#[async_trait]
impl<E: Engine> TrustedDeviceStore for SqlStore<E> {
    async fn insert_trusted_device(&self, device: TrustedDevice) -> SResult<()> {
        let args = [
            Arg::Text(&device.user),
            Arg::Text(&device.id),
            Arg::Bytes(device.token_digest.as_bytes()),
            Arg::Text(&device.label),
            Arg::Int(millis(device.created_at)),
            Arg::Int(millis(device.expires_at)),
            Arg::Int(millis(device.last_seen)),
        ];
        E::execute(On::Pool(self.pool()), &self.sql().device.insert, &args)
            .await
            .map_err(|e| conflict_or(e, "device id or token taken"))?;
        Ok(())
    }

    async fn check_and_touch_device(
        &self,
        user: &str,
        token_digest: &CodeDigest,
        now: SystemTime,
    ) -> SResult<Option<TrustedDevice>> {
        E::touch_device(self, user, token_digest, millis(now)).await
    }

    async fn rotate_device_token(
        &self,
        user: &str,
        old: &CodeDigest,
        new: CodeDigest,
        now: SystemTime,
    ) -> SResult<bool> {
        let now = millis(now);
        let args = [
            Arg::Bytes(new.as_bytes()),
            Arg::Int(now),
            Arg::Text(user),
            Arg::Bytes(old.as_bytes()),
            Arg::Int(now),
        ];
        let rotated = E::execute(On::Pool(self.pool()), &self.sql().device.rotate, &args)
            .await
            .map_err(|e| conflict_or(e, "device token taken"))?;
        Ok(rotated == 1)
    }

    async fn trusted_devices(&self, user: &str, now: SystemTime) -> SResult<Vec<TrustedDevice>> {
        let args = [Arg::Text(user), Arg::Int(millis(now))];
        self.fetch_all(&self.sql().device.list, &args, device::<E>)
            .await
    }

    async fn revoke_device(&self, user: &str, device_id: &str) -> SResult<bool> {
        let args = [Arg::Text(user), Arg::Text(device_id)];
        Ok(self.execute(&self.sql().device.revoke, &args).await? > 0)
    }

    async fn revoke_all_devices(&self, user: &str) -> SResult<u64> {
        self.execute(&self.sql().device.revoke_all, &[Arg::Text(user)])
            .await
    }

    async fn purge_expired_devices(&self, now: SystemTime) -> SResult<u64> {
        self.purge(&self.sql().device.purge, now, DEFAULT_PURGE_BATCH)
            .await
    }
}
