//! The store of `docs/implementing-a-store.md`: a second, independent implementation of every
//! `mfa-store` trait, written the way a framework author would (one `std::sync::Mutex` per
//! entity, each operation one critical section), proven by the whole conformance kit.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use mfa_core::{CodeDigest, RecoveryVerifier, SealedSecret};
use mfa_store::{
    AttemptOutcome, AuditEvent, AuditStore, Challenge, ChallengeKind, ChallengeStore, CounterKey,
    CounterState, CounterStore, CounterTake, FactorStatus, MfaSettings, NewTotpFactor,
    RecoveryCodeRecord, RecoveryCodeStore, Result, SettingsStore, StoreError, TotpFactor,
    TotpFactorStore, TrustedDevice, TrustedDeviceStore, window_end,
};

/// `(user, id)`: the key of factors and devices.
type UserKey = (String, String);

/// One mutex per entity. An operation touches one entity, so holding that entity's lock for
/// the whole read-check-write makes it atomic, exactly like one SQL statement would.
#[derive(Debug, Default)]
pub struct GuideStore {
    factors: Mutex<HashMap<UserKey, TotpFactor>>,
    challenges: Mutex<HashMap<String, Challenge>>,
    recovery: Mutex<HashMap<String, HashMap<[u8; 32], RecoveryVerifier>>>,
    counters: Mutex<HashMap<String, CounterState>>,
    devices: Mutex<HashMap<UserKey, TrustedDevice>>,
    audit: Mutex<Vec<AuditEvent>>,
    settings: Mutex<HashMap<String, MfaSettings>>,
}

/// Locks a map. Nothing panics while a lock is held, so a poisoned lock still guards
/// consistent data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn key(user: &str, id: &str) -> UserKey {
    (user.to_owned(), id.to_owned())
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[async_trait]
impl TotpFactorStore for GuideStore {
    async fn insert_pending_totp(&self, factor: NewTotpFactor) -> Result<()> {
        let mut factors = lock(&self.factors);
        if factors
            .get(&key(&factor.user, &factor.id))
            .is_some_and(|f| f.status == FactorStatus::Confirmed)
        {
            return Err(StoreError::conflict("a confirmed factor has this id"));
        }
        factors.retain(|(user, _), f| *user != factor.user || f.status != FactorStatus::Pending);
        factors.insert(key(&factor.user, &factor.id), TotpFactor::pending(factor));
        Ok(())
    }

    async fn totp_factor(&self, user: &str, factor_id: &str) -> Result<Option<TotpFactor>> {
        Ok(lock(&self.factors).get(&key(user, factor_id)).cloned())
    }

    async fn totp_factors(&self, user: &str) -> Result<Vec<TotpFactor>> {
        let mut list: Vec<TotpFactor> = lock(&self.factors)
            .values()
            .filter(|f| f.user == user)
            .cloned()
            .collect();
        list.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(list)
    }

    async fn confirm_totp(
        &self,
        user: &str,
        factor_id: &str,
        step: u64,
        now: SystemTime,
    ) -> Result<bool> {
        let mut factors = lock(&self.factors);
        let Some(f) = factors.get_mut(&key(user, factor_id)) else {
            return Ok(false);
        };
        if f.status != FactorStatus::Pending {
            return Ok(false);
        }
        f.status = FactorStatus::Confirmed;
        f.last_used_step = Some(step);
        f.confirmed_at = Some(now);
        Ok(true)
    }

    async fn advance_totp_step(&self, user: &str, factor_id: &str, step: u64) -> Result<bool> {
        let mut factors = lock(&self.factors);
        let Some(f) = factors.get_mut(&key(user, factor_id)) else {
            return Ok(false);
        };
        let fresh = f.last_used_step.is_none_or(|last| step > last);
        if f.status != FactorStatus::Confirmed || !fresh {
            return Ok(false);
        }
        f.last_used_step = Some(step);
        Ok(true)
    }

    async fn replace_totp_secret(
        &self,
        user: &str,
        factor_id: &str,
        expected: &SealedSecret,
        replacement: SealedSecret,
    ) -> Result<bool> {
        let mut factors = lock(&self.factors);
        let Some(f) = factors.get_mut(&key(user, factor_id)) else {
            return Ok(false);
        };
        // A sealed blob is ciphertext, not a secret: plain equality is fine here.
        if f.sealed_secret.as_bytes() != expected.as_bytes() {
            return Ok(false);
        }
        f.sealed_secret = replacement;
        Ok(true)
    }

    async fn delete_totp(&self, user: &str, factor_id: &str) -> Result<bool> {
        Ok(lock(&self.factors).remove(&key(user, factor_id)).is_some())
    }
}

#[async_trait]
impl ChallengeStore for GuideStore {
    async fn create_challenge(&self, challenge: Challenge) -> Result<()> {
        let mut all = lock(&self.challenges);
        if all
            .get(&challenge.id)
            .is_some_and(|c| c.user != challenge.user)
        {
            return Err(StoreError::conflict("challenge id taken"));
        }
        all.retain(|_, c| c.user != challenge.user || c.purpose != challenge.purpose);
        all.insert(challenge.id.clone(), challenge);
        Ok(())
    }

    async fn challenge(&self, id: &str, now: SystemTime) -> Result<Option<Challenge>> {
        Ok(lock(&self.challenges)
            .get(id)
            .filter(|c| now < c.expires_at)
            .cloned())
    }

    async fn spend_attempt(&self, id: &str, now: SystemTime) -> Result<AttemptOutcome> {
        let mut all = lock(&self.challenges);
        let Some(c) = all.get_mut(id) else {
            return Ok(AttemptOutcome::NotFound);
        };
        Ok(if now >= c.expires_at {
            AttemptOutcome::Expired
        } else if c.consumed {
            AttemptOutcome::Consumed
        } else if c.attempts_left == 0 {
            AttemptOutcome::Exhausted
        } else {
            // Decrement first; the caller compares only what this returns.
            c.attempts_left -= 1;
            AttemptOutcome::Spent {
                challenge: Box::new(c.clone()),
                attempts_left_after: c.attempts_left,
            }
        })
    }

    async fn consume_challenge(&self, id: &str, now: SystemTime) -> Result<bool> {
        let mut all = lock(&self.challenges);
        match all.get_mut(id) {
            Some(c) if now < c.expires_at && !c.consumed => {
                c.consumed = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn replace_challenge_code(
        &self,
        id: &str,
        kind: ChallengeKind,
        code_digest: CodeDigest,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<bool> {
        let mut all = lock(&self.challenges);
        match all.get_mut(id) {
            Some(c) if now < c.expires_at && !c.consumed => {
                c.kind = kind;
                c.code_digest = Some(code_digest);
                c.expires_at = expires_at;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_challenge(&self, id: &str) -> Result<bool> {
        Ok(lock(&self.challenges).remove(id).is_some())
    }

    async fn revoke_user_challenges(&self, user: &str) -> Result<u64> {
        let mut all = lock(&self.challenges);
        let before = all.len();
        all.retain(|_, c| c.user != user);
        Ok(count(before - all.len()))
    }

    async fn purge_expired_challenges(&self, now: SystemTime) -> Result<u64> {
        let mut all = lock(&self.challenges);
        let before = all.len();
        all.retain(|_, c| now < c.expires_at);
        Ok(count(before - all.len()))
    }
}

#[async_trait]
impl RecoveryCodeStore for GuideStore {
    async fn replace_recovery_codes(
        &self,
        user: &str,
        codes: Vec<RecoveryCodeRecord>,
        _created_at: SystemTime,
    ) -> Result<()> {
        let total = codes.len();
        let set: HashMap<[u8; 32], RecoveryVerifier> = codes
            .into_iter()
            .map(|c| (*c.locator.as_bytes(), c.verifier))
            .collect();
        if set.len() != total {
            return Err(StoreError::conflict("duplicate recovery code locator"));
        }
        lock(&self.recovery).insert(user.to_owned(), set);
        Ok(())
    }

    async fn find_recovery_code(
        &self,
        user: &str,
        locator: &CodeDigest,
    ) -> Result<Option<RecoveryVerifier>> {
        Ok(lock(&self.recovery)
            .get(user)
            .and_then(|set| set.get(locator.as_bytes()))
            .cloned())
    }

    async fn consume_recovery_code(&self, user: &str, locator: &CodeDigest) -> Result<bool> {
        let mut all = lock(&self.recovery);
        Ok(all
            .get_mut(user)
            .and_then(|set| set.remove(locator.as_bytes()))
            .is_some())
    }

    async fn remaining_recovery_codes(&self, user: &str) -> Result<usize> {
        Ok(lock(&self.recovery).get(user).map_or(0, HashMap::len))
    }
}

#[async_trait]
impl CounterStore for GuideStore {
    async fn take_counter(
        &self,
        key: &CounterKey,
        window: Duration,
        limit: u32,
        now: SystemTime,
    ) -> Result<CounterTake> {
        let mut all = lock(&self.counters);
        let live = all
            .get(&key.storage_key())
            .copied()
            .filter(|c| !c.is_expired(now));
        let next = match live {
            // Locked, or a full window: refused, nothing changes.
            Some(c) if c.is_locked(now) || (now < c.window_end && c.count >= limit) => {
                return Ok(CounterTake::Refused(c));
            }
            Some(c) if now < c.window_end => CounterState {
                count: c.count.saturating_add(1),
                consecutive_failures: c.consecutive_failures.saturating_add(1),
                ..c
            },
            // The window ended; only a lock kept the record.
            Some(c) => CounterState {
                window_start: now,
                window_end: window_end(now, window),
                count: 1,
                consecutive_failures: c.consecutive_failures.saturating_add(1),
                locked_until: c.locked_until,
            },
            None => CounterState {
                window_start: now,
                window_end: window_end(now, window),
                count: 1,
                consecutive_failures: 1,
                locked_until: None,
            },
        };
        all.insert(key.storage_key(), next);
        Ok(CounterTake::Taken(next))
    }

    async fn refund_counter(&self, key: &CounterKey, now: SystemTime) -> Result<()> {
        let mut all = lock(&self.counters);
        if let Some(c) = all.get_mut(&key.storage_key())
            && !c.is_expired(now)
            && now < c.window_end
        {
            c.count = c.count.saturating_sub(1);
        }
        Ok(())
    }

    async fn lock_counter(
        &self,
        key: &CounterKey,
        until: SystemTime,
        now: SystemTime,
    ) -> Result<CounterState> {
        let mut all = lock(&self.counters);
        let live = all
            .get(&key.storage_key())
            .copied()
            .filter(|c| !c.is_expired(now));
        // The lock spends the window: an empty window at `now`, the lock only ever extended.
        let state = CounterState {
            window_start: now,
            window_end: now,
            count: 0,
            consecutive_failures: live.map_or(0, |c| c.consecutive_failures),
            locked_until: Some(
                live.and_then(|c| c.locked_until)
                    .map_or(until, |current| current.max(until)),
            ),
        };
        all.insert(key.storage_key(), state);
        Ok(state)
    }

    async fn reset_counter(&self, key: &CounterKey) -> Result<()> {
        lock(&self.counters).remove(&key.storage_key());
        Ok(())
    }

    async fn counter(&self, key: &CounterKey, now: SystemTime) -> Result<Option<CounterState>> {
        Ok(lock(&self.counters)
            .get(&key.storage_key())
            .copied()
            .filter(|c| !c.is_expired(now)))
    }

    async fn purge_expired_counters(&self, now: SystemTime) -> Result<u64> {
        let mut all = lock(&self.counters);
        let before = all.len();
        all.retain(|_, c| !c.is_expired(now));
        Ok(count(before - all.len()))
    }
}

#[async_trait]
impl TrustedDeviceStore for GuideStore {
    async fn insert_trusted_device(&self, device: TrustedDevice) -> Result<()> {
        let mut all = lock(&self.devices);
        let taken = all.values().any(|d| {
            d.user == device.user
                && (d.id == device.id || d.token_digest.ct_eq(&device.token_digest))
        });
        if taken {
            return Err(StoreError::conflict("device id or token taken"));
        }
        all.insert(key(&device.user, &device.id), device);
        Ok(())
    }

    async fn check_and_touch_device(
        &self,
        user: &str,
        token_digest: &CodeDigest,
        now: SystemTime,
    ) -> Result<Option<TrustedDevice>> {
        let mut all = lock(&self.devices);
        let found = all
            .values_mut()
            .find(|d| d.user == user && now < d.expires_at && d.token_digest.ct_eq(token_digest));
        Ok(found.map(|d| {
            d.last_seen = now;
            d.clone()
        }))
    }

    async fn rotate_device_token(
        &self,
        user: &str,
        old: &CodeDigest,
        new: CodeDigest,
        now: SystemTime,
    ) -> Result<bool> {
        let mut all = lock(&self.devices);
        let found = all
            .values_mut()
            .find(|d| d.user == user && now < d.expires_at && d.token_digest.ct_eq(old));
        Ok(found
            .map(|d| {
                d.token_digest = new;
                d.last_seen = now;
            })
            .is_some())
    }

    async fn trusted_devices(&self, user: &str, now: SystemTime) -> Result<Vec<TrustedDevice>> {
        let mut list: Vec<TrustedDevice> = lock(&self.devices)
            .values()
            .filter(|d| d.user == user && now < d.expires_at)
            .cloned()
            .collect();
        list.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(list)
    }

    async fn revoke_device(&self, user: &str, device_id: &str) -> Result<bool> {
        Ok(lock(&self.devices).remove(&key(user, device_id)).is_some())
    }

    async fn revoke_all_devices(&self, user: &str) -> Result<u64> {
        let mut all = lock(&self.devices);
        let before = all.len();
        all.retain(|(owner, _), _| owner != user);
        Ok(count(before - all.len()))
    }

    async fn purge_expired_devices(&self, now: SystemTime) -> Result<u64> {
        let mut all = lock(&self.devices);
        let before = all.len();
        all.retain(|_, d| now < d.expires_at);
        Ok(count(before - all.len()))
    }
}

#[async_trait]
impl AuditStore for GuideStore {
    async fn append_audit(&self, event: AuditEvent) -> Result<()> {
        lock(&self.audit).push(event);
        Ok(())
    }

    async fn audit_events(&self, user: &str, limit: usize) -> Result<Vec<AuditEvent>> {
        let all = lock(&self.audit);
        // Position in the Vec is the append order: newest time first, then latest appended.
        let mut mine: Vec<(usize, &AuditEvent)> = all
            .iter()
            .enumerate()
            .filter(|(_, e)| e.user == user)
            .collect();
        mine.sort_by(|(i, a), (j, b)| b.at.cmp(&a.at).then(j.cmp(i)));
        Ok(mine
            .into_iter()
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect())
    }
}

#[async_trait]
impl SettingsStore for GuideStore {
    async fn settings(&self, user: &str) -> Result<Option<MfaSettings>> {
        Ok(lock(&self.settings).get(user).cloned())
    }

    async fn put_settings(&self, settings: MfaSettings) -> Result<()> {
        lock(&self.settings).insert(settings.user.clone(), settings);
        Ok(())
    }
}

// The whole kit: one test per check, named `guide_store::<entity>::<check>`.
/// The coarse operations of a login, as the entity operations they stand for: one line, and
/// the kit checks them like every override.
impl mfa_store::FlowStore for GuideStore {}
// No WebAuthn: the provided methods refuse it, and the kit's WebAuthn checks say so.
impl mfa_store::WebAuthnStore for GuideStore {}

mfa_store::conformance_tests!(guide_store, async { GuideStore::default() });
