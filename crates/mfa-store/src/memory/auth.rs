//! TOTP factors, recovery codes, settings and audit events of [`MemoryStore`].

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::SystemTime;

use async_trait::async_trait;
use mfa_core::{CodeDigest, RecoveryVerifier, SealedSecret};
use subtle::ConstantTimeEq;

use super::MemoryStore;
use crate::{
    AuditEvent, AuditStore, FactorStatus, MfaSettings, NewTotpFactor, RecoveryCodeRecord,
    RecoveryCodeStore, Result, SettingsStore, StoreError, TotpFactor, TotpFactorStore,
};

#[async_trait]
impl TotpFactorStore for MemoryStore {
    async fn insert_pending_totp(&self, factor: NewTotpFactor) -> Result<()> {
        self.with(|state| {
            let factors = state.totp.entry(factor.user.clone()).or_default();
            if factors
                .iter()
                .any(|f| f.id == factor.id && f.status == FactorStatus::Confirmed)
            {
                return Err(StoreError::conflict("a confirmed TOTP factor has this id"));
            }
            factors.retain(|f| f.status != FactorStatus::Pending);
            factors.push(TotpFactor::pending(factor));
            Ok(())
        })
    }

    async fn totp_factor(&self, user: &str, factor_id: &str) -> Result<Option<TotpFactor>> {
        Ok(self.with(|state| {
            state
                .totp
                .get(user)
                .and_then(|fs| fs.iter().find(|f| f.id == factor_id))
                .cloned()
        }))
    }

    async fn totp_factors(&self, user: &str) -> Result<Vec<TotpFactor>> {
        let mut factors = self.with(|state| state.totp.get(user).cloned().unwrap_or_default());
        factors.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(factors)
    }

    async fn confirm_totp(
        &self,
        user: &str,
        factor_id: &str,
        step: u64,
        now: SystemTime,
    ) -> Result<bool> {
        Ok(self.with(
            |state| match find_factor(&mut state.totp, user, factor_id) {
                Some(f) if f.status == FactorStatus::Pending => {
                    f.status = FactorStatus::Confirmed;
                    f.last_used_step = Some(step);
                    f.confirmed_at = Some(now);
                    true
                }
                _ => false,
            },
        ))
    }

    async fn advance_totp_step(&self, user: &str, factor_id: &str, step: u64) -> Result<bool> {
        Ok(self.with(
            |state| match find_factor(&mut state.totp, user, factor_id) {
                Some(f)
                    if f.status == FactorStatus::Confirmed
                        && f.last_used_step.is_none_or(|last| step > last) =>
                {
                    f.last_used_step = Some(step);
                    true
                }
                _ => false,
            },
        ))
    }

    async fn replace_totp_secret(
        &self,
        user: &str,
        factor_id: &str,
        expected: &SealedSecret,
        replacement: SealedSecret,
    ) -> Result<bool> {
        Ok(self.with(
            |state| match find_factor(&mut state.totp, user, factor_id) {
                Some(f) if bool::from(f.sealed_secret.as_bytes().ct_eq(expected.as_bytes())) => {
                    f.sealed_secret = replacement;
                    true
                }
                _ => false,
            },
        ))
    }

    async fn delete_totp(&self, user: &str, factor_id: &str) -> Result<bool> {
        Ok(self.with(|state| {
            let Some(factors) = state.totp.get_mut(user) else {
                return false;
            };
            let before = factors.len();
            factors.retain(|f| f.id != factor_id);
            let deleted = factors.len() != before;
            if factors.is_empty() {
                state.totp.remove(user);
            }
            deleted
        }))
    }
}

fn find_factor<'a>(
    totp: &'a mut HashMap<String, Vec<TotpFactor>>,
    user: &str,
    factor_id: &str,
) -> Option<&'a mut TotpFactor> {
    totp.get_mut(user)?.iter_mut().find(|f| f.id == factor_id)
}

#[async_trait]
impl RecoveryCodeStore for MemoryStore {
    async fn replace_recovery_codes(
        &self,
        user: &str,
        codes: Vec<RecoveryCodeRecord>,
        _created_at: SystemTime,
    ) -> Result<()> {
        // Build the new set first: a duplicate leaves the old set untouched.
        let mut set = HashMap::with_capacity(codes.len());
        for code in codes {
            match set.entry(*code.locator.as_bytes()) {
                Entry::Occupied(_) => {
                    return Err(StoreError::conflict("two recovery codes share a locator"));
                }
                Entry::Vacant(slot) => {
                    slot.insert(code.verifier);
                }
            }
        }
        self.with(|state| state.recovery.insert(user.to_owned(), set));
        Ok(())
    }

    async fn find_recovery_code(
        &self,
        user: &str,
        locator: &CodeDigest,
    ) -> Result<Option<RecoveryVerifier>> {
        Ok(self.with(|state| {
            state
                .recovery
                .get(user)
                .and_then(|set| set.get(locator.as_bytes()))
                .cloned()
        }))
    }

    async fn consume_recovery_code(&self, user: &str, locator: &CodeDigest) -> Result<bool> {
        Ok(self.with(|state| {
            state
                .recovery
                .get_mut(user)
                .is_some_and(|set| set.remove(locator.as_bytes()).is_some())
        }))
    }

    async fn remaining_recovery_codes(&self, user: &str) -> Result<usize> {
        Ok(self.with(|state| state.recovery.get(user).map_or(0, HashMap::len)))
    }
}

#[async_trait]
impl SettingsStore for MemoryStore {
    async fn settings(&self, user: &str) -> Result<Option<MfaSettings>> {
        Ok(self.with(|state| state.settings.get(user).cloned()))
    }

    async fn put_settings(&self, settings: MfaSettings) -> Result<()> {
        self.with(|state| state.settings.insert(settings.user.clone(), settings));
        Ok(())
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append_audit(&self, event: AuditEvent) -> Result<()> {
        self.with(|state| {
            let seq = state.audit_seq;
            state.audit_seq = seq.saturating_add(1);
            state
                .audit
                .entry(event.user.clone())
                .or_default()
                .push((seq, event));
        });
        Ok(())
    }

    async fn audit_events(&self, user: &str, limit: usize) -> Result<Vec<AuditEvent>> {
        let mut events = self.with(|state| state.audit.get(user).cloned().unwrap_or_default());
        events.sort_by(|(seq_a, a), (seq_b, b)| b.at.cmp(&a.at).then_with(|| seq_b.cmp(seq_a)));
        Ok(events
            .into_iter()
            .take(limit)
            .map(|(_, event)| event)
            .collect())
    }
}
