//! Counters and trusted devices of [`MemoryStore`].

use std::collections::hash_map::Entry;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use mfa_core::CodeDigest;

use super::{MemoryStore, count_u64};
use crate::{
    CounterKey, CounterState, CounterStore, CounterTake, Result, StoreError, TrustedDevice,
    TrustedDeviceStore, window_end,
};

#[async_trait]
impl CounterStore for MemoryStore {
    async fn take_counter(
        &self,
        key: &CounterKey,
        window: Duration,
        limit: u32,
        now: SystemTime,
    ) -> Result<CounterTake> {
        let fresh = CounterState {
            window_start: now,
            window_end: window_end(now, window),
            count: 1,
            consecutive_failures: 1,
            locked_until: None,
        };
        Ok(self.with(|state| {
            let slot = match state.counters.entry(key.storage_key()) {
                Entry::Vacant(vacant) => return CounterTake::Taken(*vacant.insert(fresh)),
                Entry::Occupied(occupied) => occupied.into_mut(),
            };
            if slot.is_expired(now) {
                *slot = fresh;
            } else if slot.is_locked(now) {
                return CounterTake::Refused(*slot);
            } else if now >= slot.window_end {
                // The window ended but a lock keeps the record: a new window, same lock.
                *slot = CounterState {
                    consecutive_failures: slot.consecutive_failures.saturating_add(1),
                    locked_until: slot.locked_until,
                    ..fresh
                };
            } else if slot.count < limit {
                slot.count = slot.count.saturating_add(1);
                slot.consecutive_failures = slot.consecutive_failures.saturating_add(1);
            } else {
                return CounterTake::Refused(*slot);
            }
            CounterTake::Taken(*slot)
        }))
    }

    async fn refund_counter(&self, key: &CounterKey, now: SystemTime) -> Result<()> {
        self.with(|state| {
            if let Some(slot) = state.counters.get_mut(&key.storage_key())
                && !slot.is_expired(now)
                && now < slot.window_end
            {
                slot.count = slot.count.saturating_sub(1);
            }
        });
        Ok(())
    }

    async fn lock_counter(
        &self,
        key: &CounterKey,
        until: SystemTime,
        now: SystemTime,
    ) -> Result<CounterState> {
        Ok(self.with(|state| {
            let slot = state
                .counters
                .entry(key.storage_key())
                .or_insert(CounterState {
                    window_start: now,
                    window_end: now,
                    count: 0,
                    consecutive_failures: 0,
                    locked_until: None,
                });
            let live = !slot.is_expired(now);
            let lock = match slot.locked_until {
                Some(current) if live && current > until => current,
                _ => until,
            };
            *slot = CounterState {
                window_start: now,
                window_end: now,
                count: 0,
                consecutive_failures: if live { slot.consecutive_failures } else { 0 },
                locked_until: Some(lock),
            };
            *slot
        }))
    }

    async fn reset_counter(&self, key: &CounterKey) -> Result<()> {
        self.with(|state| state.counters.remove(&key.storage_key()));
        Ok(())
    }

    async fn counter(&self, key: &CounterKey, now: SystemTime) -> Result<Option<CounterState>> {
        Ok(self.with(|state| {
            state
                .counters
                .get(&key.storage_key())
                .filter(|c| !c.is_expired(now))
                .copied()
        }))
    }

    async fn purge_expired_counters(&self, now: SystemTime) -> Result<u64> {
        Ok(self.with(|state| {
            let before = state.counters.len();
            state.counters.retain(|_, c| !c.is_expired(now));
            count_u64(before.saturating_sub(state.counters.len()))
        }))
    }
}

#[async_trait]
impl TrustedDeviceStore for MemoryStore {
    async fn insert_trusted_device(&self, device: TrustedDevice) -> Result<()> {
        self.with(|state| {
            let devices = state.devices.entry(device.user.clone()).or_default();
            if devices
                .iter()
                .any(|d| d.id == device.id || d.token_digest.ct_eq(&device.token_digest))
            {
                return Err(StoreError::conflict(
                    "the user has a device with this id or token",
                ));
            }
            devices.push(device);
            Ok(())
        })
    }

    async fn check_and_touch_device(
        &self,
        user: &str,
        token_digest: &CodeDigest,
        now: SystemTime,
    ) -> Result<Option<TrustedDevice>> {
        Ok(self.with(|state| {
            let device = state
                .devices
                .get_mut(user)?
                .iter_mut()
                .find(|d| !d.is_expired(now) && d.token_digest.ct_eq(token_digest))?;
            device.last_seen = now;
            Some(device.clone())
        }))
    }

    async fn rotate_device_token(
        &self,
        user: &str,
        old: &CodeDigest,
        new: CodeDigest,
        now: SystemTime,
    ) -> Result<bool> {
        Ok(self.with(|state| {
            let Some(devices) = state.devices.get_mut(user) else {
                return false;
            };
            match devices
                .iter_mut()
                .find(|d| !d.is_expired(now) && d.token_digest.ct_eq(old))
            {
                Some(device) => {
                    device.token_digest = new;
                    device.last_seen = now;
                    true
                }
                None => false,
            }
        }))
    }

    async fn trusted_devices(&self, user: &str, now: SystemTime) -> Result<Vec<TrustedDevice>> {
        let mut devices = self.with(|state| {
            state.devices.get(user).map_or_else(Vec::new, |ds| {
                ds.iter().filter(|d| !d.is_expired(now)).cloned().collect()
            })
        });
        devices.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(devices)
    }

    async fn revoke_device(&self, user: &str, device_id: &str) -> Result<bool> {
        Ok(self.with(|state| {
            let Some(devices) = state.devices.get_mut(user) else {
                return false;
            };
            let before = devices.len();
            devices.retain(|d| d.id != device_id);
            devices.len() != before
        }))
    }

    async fn revoke_all_devices(&self, user: &str) -> Result<u64> {
        Ok(self.with(|state| {
            state
                .devices
                .remove(user)
                .map_or(0, |ds| count_u64(ds.len()))
        }))
    }

    async fn purge_expired_devices(&self, now: SystemTime) -> Result<u64> {
        Ok(self.with(|state| {
            let mut purged = 0_usize;
            for devices in state.devices.values_mut() {
                let before = devices.len();
                devices.retain(|d| !d.is_expired(now));
                purged = purged.saturating_add(before.saturating_sub(devices.len()));
            }
            state.devices.retain(|_, ds| !ds.is_empty());
            count_u64(purged)
        }))
    }
}
