//! [`Instrumented`]: a store wrapper that counts every operation and can fail a chosen one.
//!
//! Use it to measure the store round trips a flow makes (each trait method is one round trip on
//! a real backend, a batch method included) and to prove a flow fails closed when one step of
//! the store fails mid-way.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use mfa_core::{ChallengeKind, CodeDigest, RecoveryVerifier, SealedSecret};

use crate::{
    AttemptOutcome, AttemptView, AuditEvent, AuditStore, Challenge, ChallengeStore, CounterKey,
    CounterState, CounterStore, CounterTake, FlowStore, LoginView, MfaSettings, NewTotpFactor,
    RecoveryCodeRecord, RecoveryCodeStore, Result, SettingsStore, Settlement, Store, StoreError,
    Take, TotpFactor, TotpFactorStore, TrustedDevice, TrustedDeviceStore, WebAuthnStore,
};
use crate::{CeremonyKind, WebAuthnCeremony, WebAuthnCredential, WebAuthnUse};

/// A store wrapper that counts every operation it passes to the wrapped store and can fail a
/// chosen one with [`StoreError::Unavailable`].
///
/// Every method of the seven entity traits is delegated explicitly, the provided batch methods
/// [`CounterStore::counters`], [`CounterStore::take_counters`] and [`CounterStore::hit_counter`] included, so a batch counts as
/// one call (one round trip on a backend that overrides it) and reaches the wrapped store's own
/// implementation. Operations are named after their trait methods (see [`OPERATIONS`](Self::OPERATIONS)).
/// A call is counted before the injected failure is checked, so a failed call counts too.
///
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, SystemTime};
/// use mfa_store::testkit::Instrumented;
/// use mfa_store::{ChallengeStore, MemoryStore};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = Instrumented::new(Arc::new(MemoryStore::new()));
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// assert!(store.challenge("c1", now).await.unwrap().is_none());
/// assert_eq!((store.calls(), store.call("challenge")), (1, 1));
///
/// store.fail_on(Some("challenge"));
/// assert!(store.challenge("c1", now).await.unwrap_err().is_transient());
/// store.fail_on(None);
/// assert_eq!(store.calls(), 2); // a failed call is counted too
/// # });
/// ```
pub struct Instrumented {
    inner: Arc<dyn Store>,
    calls: Mutex<BTreeMap<&'static str, u64>>,
    fail_on: Mutex<Option<&'static str>>,
}

impl Instrumented {
    /// The name of every operation the wrapper counts, one per trait method.
    pub const OPERATIONS: &'static [&'static str] = &[
        "insert_pending_totp",
        "totp_factor",
        "totp_factors",
        "confirm_totp",
        "advance_totp_step",
        "replace_totp_secret",
        "delete_totp",
        "create_challenge",
        "challenge",
        "spend_attempt",
        "consume_challenge",
        "replace_challenge_code",
        "delete_challenge",
        "revoke_user_challenges",
        "purge_expired_challenges",
        "replace_recovery_codes",
        "find_recovery_code",
        "consume_recovery_code",
        "remaining_recovery_codes",
        "take_counter",
        "take_counters",
        "hit_counter",
        "refund_counter",
        "lock_counter",
        "reset_counter",
        "counter",
        "counters",
        "purge_expired_counters",
        "insert_trusted_device",
        "check_and_touch_device",
        "rotate_device_token",
        "trusted_devices",
        "revoke_device",
        "revoke_all_devices",
        "purge_expired_devices",
        "append_audit",
        "audit_events",
        "settings",
        "put_settings",
        "login_view",
        "open_ticket",
        "attempt",
        "settle",
    ];

    /// Wraps `inner`, with no call counted and no failure armed.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            calls: Mutex::new(BTreeMap::new()),
            fail_on: Mutex::new(None),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn Store> {
        &self.inner
    }

    /// Makes every later call of operation `op` fail with [`StoreError::Unavailable`] (without
    /// reaching the wrapped store), or with `None` stops failing.
    ///
    /// # Panics
    /// If `op` is not one of [`OPERATIONS`](Self::OPERATIONS) (a typo would otherwise arm
    /// nothing and a test would pass for the wrong reason).
    pub fn fail_on(&self, op: Option<&'static str>) {
        if let Some(name) = op {
            assert!(
                Self::OPERATIONS.contains(&name),
                "Instrumented::fail_on: unknown store operation `{name}`"
            );
        }
        *lock(&self.fail_on) = op;
    }

    /// How many operations were called since creation or the last [`reset_calls`](Self::reset_calls).
    pub fn calls(&self) -> u64 {
        lock(&self.calls).values().sum()
    }

    /// How many times operation `name` was called since creation or the last reset.
    pub fn call(&self, name: &str) -> u64 {
        lock(&self.calls).get(name).copied().unwrap_or(0)
    }

    /// The operations called since creation or the last reset, with their counts, by name.
    pub fn calls_by_operation(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.calls).clone()
    }

    /// Sets every count back to zero.
    pub fn reset_calls(&self) {
        lock(&self.calls).clear();
    }

    /// Counts one call of `op`, then fails it if armed.
    fn enter(&self, op: &'static str) -> Result<()> {
        {
            let mut calls = lock(&self.calls);
            let count = calls.entry(op).or_insert(0);
            *count = count.saturating_add(1);
        }
        if *lock(&self.fail_on) == Some(op) {
            return Err(StoreError::unavailable(std::io::Error::other(format!(
                "injected failure of `{op}`"
            ))));
        }
        Ok(())
    }
}

/// Locks `mutex`, ignoring poisoning (the data is plain counts, valid after any panic).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for Instrumented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No contents of the wrapped store: only the counts and the armed failure.
        f.debug_struct("Instrumented")
            .field("calls", &self.calls())
            .field("fail_on", &*lock(&self.fail_on))
            .finish_non_exhaustive()
    }
}

/// Counts (and maybe fails) the operation named by the method, then awaits the wrapped call.
macro_rules! delegate {
    ($self:ident . $op:ident ( $($arg:expr),* )) => {{
        $self.enter(stringify!($op))?;
        $self.inner.$op($($arg),*).await
    }};
}

#[async_trait]
impl TotpFactorStore for Instrumented {
    async fn insert_pending_totp(&self, factor: NewTotpFactor) -> Result<()> {
        delegate!(self.insert_pending_totp(factor))
    }
    async fn totp_factor(&self, user: &str, factor_id: &str) -> Result<Option<TotpFactor>> {
        delegate!(self.totp_factor(user, factor_id))
    }
    async fn totp_factors(&self, user: &str) -> Result<Vec<TotpFactor>> {
        delegate!(self.totp_factors(user))
    }
    async fn confirm_totp(
        &self,
        user: &str,
        factor_id: &str,
        step: u64,
        now: SystemTime,
    ) -> Result<bool> {
        delegate!(self.confirm_totp(user, factor_id, step, now))
    }
    async fn advance_totp_step(&self, user: &str, factor_id: &str, step: u64) -> Result<bool> {
        delegate!(self.advance_totp_step(user, factor_id, step))
    }
    async fn replace_totp_secret(
        &self,
        user: &str,
        factor_id: &str,
        expected: &SealedSecret,
        replacement: SealedSecret,
    ) -> Result<bool> {
        delegate!(self.replace_totp_secret(user, factor_id, expected, replacement))
    }
    async fn delete_totp(&self, user: &str, factor_id: &str) -> Result<bool> {
        delegate!(self.delete_totp(user, factor_id))
    }
}

#[async_trait]
impl ChallengeStore for Instrumented {
    async fn create_challenge(&self, challenge: Challenge) -> Result<()> {
        delegate!(self.create_challenge(challenge))
    }
    async fn challenge(&self, id: &str, now: SystemTime) -> Result<Option<Challenge>> {
        delegate!(self.challenge(id, now))
    }
    async fn spend_attempt(&self, id: &str, now: SystemTime) -> Result<AttemptOutcome> {
        delegate!(self.spend_attempt(id, now))
    }
    async fn consume_challenge(&self, id: &str, now: SystemTime) -> Result<bool> {
        delegate!(self.consume_challenge(id, now))
    }
    async fn replace_challenge_code(
        &self,
        id: &str,
        kind: ChallengeKind,
        code_digest: CodeDigest,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<bool> {
        delegate!(self.replace_challenge_code(id, kind, code_digest, expires_at, now))
    }
    async fn delete_challenge(&self, id: &str) -> Result<bool> {
        delegate!(self.delete_challenge(id))
    }
    async fn revoke_user_challenges(&self, user: &str) -> Result<u64> {
        delegate!(self.revoke_user_challenges(user))
    }
    async fn purge_expired_challenges(&self, now: SystemTime) -> Result<u64> {
        delegate!(self.purge_expired_challenges(now))
    }
}

#[async_trait]
impl RecoveryCodeStore for Instrumented {
    async fn replace_recovery_codes(
        &self,
        user: &str,
        codes: Vec<RecoveryCodeRecord>,
        created_at: SystemTime,
    ) -> Result<()> {
        delegate!(self.replace_recovery_codes(user, codes, created_at))
    }
    async fn find_recovery_code(
        &self,
        user: &str,
        locator: &CodeDigest,
    ) -> Result<Option<RecoveryVerifier>> {
        delegate!(self.find_recovery_code(user, locator))
    }
    async fn consume_recovery_code(&self, user: &str, locator: &CodeDigest) -> Result<bool> {
        delegate!(self.consume_recovery_code(user, locator))
    }
    async fn remaining_recovery_codes(&self, user: &str) -> Result<usize> {
        delegate!(self.remaining_recovery_codes(user))
    }
}

#[async_trait]
impl CounterStore for Instrumented {
    async fn take_counter(
        &self,
        key: &CounterKey,
        window: Duration,
        limit: u32,
        now: SystemTime,
    ) -> Result<CounterTake> {
        delegate!(self.take_counter(key, window, limit, now))
    }
    async fn hit_counter(
        &self,
        key: &CounterKey,
        window: Duration,
        now: SystemTime,
    ) -> Result<CounterState> {
        delegate!(self.hit_counter(key, window, now))
    }
    async fn refund_counter(&self, key: &CounterKey, now: SystemTime) -> Result<()> {
        delegate!(self.refund_counter(key, now))
    }
    async fn lock_counter(
        &self,
        key: &CounterKey,
        until: SystemTime,
        now: SystemTime,
    ) -> Result<CounterState> {
        delegate!(self.lock_counter(key, until, now))
    }
    async fn reset_counter(&self, key: &CounterKey) -> Result<()> {
        delegate!(self.reset_counter(key))
    }
    async fn counter(&self, key: &CounterKey, now: SystemTime) -> Result<Option<CounterState>> {
        delegate!(self.counter(key, now))
    }
    // The batch methods are delegated too: one call here, the wrapped store's own batch there.
    async fn counters(
        &self,
        keys: &[CounterKey],
        now: SystemTime,
    ) -> Result<Vec<Option<CounterState>>> {
        delegate!(self.counters(keys, now))
    }
    async fn take_counters(&self, takes: &[Take], now: SystemTime) -> Result<Vec<CounterTake>> {
        delegate!(self.take_counters(takes, now))
    }
    async fn purge_expired_counters(&self, now: SystemTime) -> Result<u64> {
        delegate!(self.purge_expired_counters(now))
    }
}

#[async_trait]
impl TrustedDeviceStore for Instrumented {
    async fn insert_trusted_device(&self, device: TrustedDevice) -> Result<()> {
        delegate!(self.insert_trusted_device(device))
    }
    async fn check_and_touch_device(
        &self,
        user: &str,
        token_digest: &CodeDigest,
        now: SystemTime,
    ) -> Result<Option<TrustedDevice>> {
        delegate!(self.check_and_touch_device(user, token_digest, now))
    }
    async fn rotate_device_token(
        &self,
        user: &str,
        old: &CodeDigest,
        new: CodeDigest,
        now: SystemTime,
    ) -> Result<bool> {
        delegate!(self.rotate_device_token(user, old, new, now))
    }
    async fn trusted_devices(&self, user: &str, now: SystemTime) -> Result<Vec<TrustedDevice>> {
        delegate!(self.trusted_devices(user, now))
    }
    async fn revoke_device(&self, user: &str, device_id: &str) -> Result<bool> {
        delegate!(self.revoke_device(user, device_id))
    }
    async fn revoke_all_devices(&self, user: &str) -> Result<u64> {
        delegate!(self.revoke_all_devices(user))
    }
    async fn purge_expired_devices(&self, now: SystemTime) -> Result<u64> {
        delegate!(self.purge_expired_devices(now))
    }
}

#[async_trait]
impl AuditStore for Instrumented {
    async fn append_audit(&self, event: AuditEvent) -> Result<()> {
        delegate!(self.append_audit(event))
    }
    async fn audit_events(&self, user: &str, limit: usize) -> Result<Vec<AuditEvent>> {
        delegate!(self.audit_events(user, limit))
    }
}

#[async_trait]
impl SettingsStore for Instrumented {
    async fn settings(&self, user: &str) -> Result<Option<MfaSettings>> {
        delegate!(self.settings(user))
    }
    async fn put_settings(&self, settings: MfaSettings) -> Result<()> {
        delegate!(self.put_settings(settings))
    }
}

#[async_trait]
impl WebAuthnStore for Instrumented {
    async fn add_webauthn_credential(&self, credential: WebAuthnCredential) -> Result<()> {
        delegate!(self.add_webauthn_credential(credential))
    }
    async fn webauthn_credentials(&self, user: &str) -> Result<Vec<WebAuthnCredential>> {
        delegate!(self.webauthn_credentials(user))
    }
    async fn rename_webauthn_credential(&self, user: &str, id: &str, label: &str) -> Result<bool> {
        delegate!(self.rename_webauthn_credential(user, id, label))
    }
    async fn remove_webauthn_credential(&self, user: &str, id: &str) -> Result<bool> {
        delegate!(self.remove_webauthn_credential(user, id))
    }
    async fn record_webauthn_use(&self, user: &str, id: &str, update: WebAuthnUse) -> Result<bool> {
        delegate!(self.record_webauthn_use(user, id, update))
    }
    async fn put_webauthn_ceremony(&self, ceremony: WebAuthnCeremony) -> Result<()> {
        delegate!(self.put_webauthn_ceremony(ceremony))
    }
    async fn take_webauthn_ceremony(
        &self,
        user: &str,
        id: &str,
        kind: CeremonyKind,
        now: SystemTime,
    ) -> Result<Option<WebAuthnCeremony>> {
        delegate!(self.take_webauthn_ceremony(user, id, kind, now))
    }
    async fn purge_expired_webauthn_ceremonies(&self, now: SystemTime) -> Result<u64> {
        delegate!(self.purge_expired_webauthn_ceremonies(now))
    }
}

// The coarse operations are delegated too: one call here, the wrapped store's own (possibly
// single-round-trip) implementation there.
#[async_trait]
impl FlowStore for Instrumented {
    async fn login_view(
        &self,
        user: &str,
        keys: &[CounterKey],
        now: SystemTime,
    ) -> Result<LoginView> {
        delegate!(self.login_view(user, keys, now))
    }
    async fn open_ticket(
        &self,
        ticket: Challenge,
        budget: &Take,
        audit: AuditEvent,
        now: SystemTime,
    ) -> Result<CounterTake> {
        delegate!(self.open_ticket(ticket, budget, audit, now))
    }
    async fn attempt(
        &self,
        id: &str,
        tag: Option<&str>,
        factors: bool,
        now: SystemTime,
    ) -> Result<AttemptView> {
        delegate!(self.attempt(id, tag, factors, now))
    }
    async fn settle(&self, settlement: Settlement, now: SystemTime) -> Result<bool> {
        delegate!(self.settle(settlement, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CounterScope, MemoryStore};

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn key(n: &str) -> CounterKey {
        CounterKey::new("totp", CounterScope::Account(n.into()))
    }

    #[test]
    fn operations_are_unique() {
        let mut names = Instrumented::OPERATIONS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Instrumented::OPERATIONS.len());
    }

    #[tokio::test]
    async fn counts_each_operation_and_a_batch_as_one_call() {
        let store = Instrumented::new(Arc::new(MemoryStore::new()));
        let takes = [
            Take::new(key("a"), Duration::from_secs(60), 5),
            Take::new(key("b"), Duration::from_secs(60), 5),
        ];
        let states = store.take_counters(&takes, now()).await.unwrap();
        assert_eq!(states.len(), 2);
        let read = store.counters(&[key("a"), key("b")], now()).await.unwrap();
        assert_eq!(read.iter().flatten().map(|s| s.count).sum::<u32>(), 2);
        assert!(store.settings("alice").await.unwrap().is_none());
        assert!(store.settings("bob").await.unwrap().is_none());

        assert_eq!(store.calls(), 4);
        assert_eq!(store.call("take_counters"), 1);
        assert_eq!(store.call("counters"), 1);
        assert_eq!(store.call("take_counter"), 0, "the batch is not split here");
        assert_eq!(store.call("settings"), 2);
        let by_op = store.calls_by_operation();
        assert_eq!(by_op.len(), 3);
        assert_eq!(by_op.get("settings"), Some(&2));

        store.reset_calls();
        assert_eq!((store.calls(), store.call("settings")), (0, 0));
        assert!(store.calls_by_operation().is_empty());
    }

    #[tokio::test]
    async fn fails_only_the_armed_operation_without_reaching_the_store() {
        let store = Instrumented::new(Arc::new(MemoryStore::new()));
        let take = [Take::new(key("a"), Duration::from_secs(60), 5)];
        store.fail_on(Some("take_counters"));
        let err = store.take_counters(&take, now()).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)) && err.is_transient());
        // Other operations pass, and the failed hit never reached the wrapped store.
        assert!(store.counter(&key("a"), now()).await.unwrap().is_none());
        assert_eq!(store.call("take_counters"), 1, "a failed call is counted");

        store.fail_on(None);
        let states = store.take_counters(&take, now()).await.unwrap();
        assert_eq!(states.first().map(|s| s.state().count), Some(1));
        assert_eq!(store.calls(), 3);
    }

    #[test]
    #[should_panic(expected = "unknown store operation")]
    fn arming_an_unknown_operation_panics() {
        Instrumented::new(Arc::new(MemoryStore::new())).fail_on(Some("spend_atempt"));
    }

    #[test]
    fn debug_shows_counts_not_contents() {
        let store = Instrumented::new(Arc::new(MemoryStore::new()));
        store.fail_on(Some("spend_attempt"));
        assert_eq!(
            format!("{store:?}"),
            r#"Instrumented { calls: 0, fail_on: Some("spend_attempt"), .. }"#
        );
    }
}
