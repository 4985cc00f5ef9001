//! Tests *of the conformance kit*: deliberately broken stores, each the memory store with
//! exactly one fault a real backend could have, and each must be rejected by
//! [`run_all`](mfa_store::testkit::run_all) with the name of the check that catches the fault.
//!
//! A fault the kit does not catch is a gap in the kit, not in these tests: the check that closes
//! it belongs in `mfa_store::testkit`, where it runs on every backend. The control store (the
//! same wrapper with no fault) passes the whole kit, so every failure below is the fault's.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use mfa_core::{CodeDigest, RecoveryVerifier, SealedSecret};
use mfa_store::testkit::run_all;
use mfa_store::{
    AttemptOutcome, AuditEvent, AuditStore, CeremonyKind, Challenge, ChallengeKind, ChallengeStore,
    CounterKey, CounterState, CounterStore, CounterTake, FactorStatus, FlowStore, MemoryStore,
    MfaSettings, NewTotpFactor, RecoveryCodeRecord, RecoveryCodeStore, Result, SettingsStore,
    Settlement, TotpFactor, TotpFactorStore, TrustedDevice, TrustedDeviceStore, WebAuthnCeremony,
    WebAuthnCredential, WebAuthnStore, WebAuthnUse,
};

/// The time between a broken store's read and its write: a round trip to a database, long
/// enough that 50 tasks released together all read before any of them writes. (Not a sleep to
/// move time: the kit's times are arguments and this moves none of them.)
const ROUND_TRIP: Duration = Duration::from_millis(2);

/// The one fault a [`Broken`] store has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// `spend_attempt` reads the tries left, waits a round trip, then writes `read - 1` and reports a
    /// spent try from what it read (`SELECT`, compare in Rust, `UPDATE`): concurrent guesses
    /// all pass the read.
    NonAtomicSpend,
    /// `advance_totp_step` accepts the step equal to the last used one (`<=` for `<` in the
    /// `WHERE` clause): one TOTP code signs in twice.
    ReplayableStep,
    /// `consume_recovery_code` deletes, then reports success whatever the affected-row count
    /// was: two concurrent redemptions of one code, both past the lookup, both succeed.
    RecoveryCodeTwice,
    /// `take_counter` reads the count, waits a round trip, then lands its write on what it read
    /// (`count = $read + 1`): concurrent hits are lost, and a limit lets more through.
    CounterLosesHits,
    /// `rotate_device_token` touches the device and reports success but keeps the old digest
    /// (an `UPDATE` that forgot `token_digest = $3`): a stolen cookie never stops working.
    DeviceTokenKept,
    /// `consume_challenge` succeeds on any live challenge, consumed or not (a `WHERE` without
    /// `AND NOT consumed`).
    ChallengeConsumedTwice,
    /// `settle` consumes the challenges it lists but ignores whether the consume took effect:
    /// one emailed code settles any number of logins.
    SettleIgnoresConsume,
}

/// The memory store with at most one [`Fault`]; every other operation is delegated unchanged.
struct Broken {
    inner: MemoryStore,
    fault: Option<Fault>,
}

impl Broken {
    fn new(fault: Option<Fault>) -> Self {
        Self {
            inner: MemoryStore::new(),
            fault,
        }
    }

    fn has(&self, fault: Fault) -> bool {
        self.fault == Some(fault)
    }
}

impl fmt::Debug for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broken")
            .field("fault", &self.fault)
            .finish_non_exhaustive()
    }
}

/// Delegates a call to the memory store.
macro_rules! delegate {
    ($self:ident . $op:ident ( $($arg:expr),* )) => {
        $self.inner.$op($($arg),*).await
    };
}

#[async_trait]
impl TotpFactorStore for Broken {
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
        if self.has(Fault::ReplayableStep)
            && let Some(factor) = self.inner.totp_factor(user, factor_id).await?
            && factor.status == FactorStatus::Confirmed
            && factor.last_used_step == Some(step)
        {
            return Ok(true);
        }
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
impl ChallengeStore for Broken {
    async fn create_challenge(&self, challenge: Challenge) -> Result<()> {
        delegate!(self.create_challenge(challenge))
    }
    async fn challenge(&self, id: &str, now: SystemTime) -> Result<Option<Challenge>> {
        delegate!(self.challenge(id, now))
    }
    async fn spend_attempt(&self, id: &str, now: SystemTime) -> Result<AttemptOutcome> {
        if !self.has(Fault::NonAtomicSpend) {
            return delegate!(self.spend_attempt(id, now));
        }
        let read = self.inner.challenge(id, now).await?;
        let Some(mut read) = read.filter(|c| !c.consumed && c.attempts_left > 0) else {
            // Nothing to spend: the refusal, as the memory store tells it.
            return delegate!(self.spend_attempt(id, now));
        };
        tokio::time::sleep(ROUND_TRIP).await;
        // The write, whatever it finds now; the answer comes from the stale read.
        self.inner.spend_attempt(id, now).await?;
        read.attempts_left = read.attempts_left.saturating_sub(1);
        Ok(AttemptOutcome::Spent {
            attempts_left_after: read.attempts_left,
            challenge: Box::new(read),
        })
    }
    async fn consume_challenge(&self, id: &str, now: SystemTime) -> Result<bool> {
        if self.has(Fault::ChallengeConsumedTwice) {
            let live = self.inner.challenge(id, now).await?.is_some();
            self.inner.consume_challenge(id, now).await?;
            return Ok(live);
        }
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
impl RecoveryCodeStore for Broken {
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
        let deleted = delegate!(self.consume_recovery_code(user, locator))?;
        Ok(deleted || self.has(Fault::RecoveryCodeTwice))
    }
    async fn remaining_recovery_codes(&self, user: &str) -> Result<usize> {
        delegate!(self.remaining_recovery_codes(user))
    }
}

// `take_counters`, `hit_counter` and `counters` are left provided, so they go through the
// (possibly broken) `take_counter` and `counter` here, as a third-party store's would.
#[async_trait]
impl CounterStore for Broken {
    async fn take_counter(
        &self,
        key: &CounterKey,
        window: Duration,
        limit: u32,
        now: SystemTime,
    ) -> Result<CounterTake> {
        if !self.has(Fault::CounterLosesHits) {
            return delegate!(self.take_counter(key, window, limit, now));
        }
        let read = self.inner.counter(key, now).await?;
        tokio::time::sleep(ROUND_TRIP).await;
        let take = self.inner.take_counter(key, window, limit, now).await?;
        let CounterTake::Taken(mut state) = take else {
            return Ok(take);
        };
        // Land the write on the stale read: give back every unit counted since the read.
        let read_count = read
            .filter(|r| r.window_start == state.window_start)
            .map_or(0, |r| r.count);
        while state.count > read_count.saturating_add(1) {
            self.inner.refund_counter(key, now).await?;
            state.count -= 1;
        }
        Ok(CounterTake::Taken(state))
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
    async fn purge_expired_counters(&self, now: SystemTime) -> Result<u64> {
        delegate!(self.purge_expired_counters(now))
    }
}

#[async_trait]
impl TrustedDeviceStore for Broken {
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
        if self.has(Fault::DeviceTokenKept) {
            let touched = self.inner.check_and_touch_device(user, old, now).await?;
            return Ok(touched.is_some());
        }
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
impl AuditStore for Broken {
    async fn append_audit(&self, event: AuditEvent) -> Result<()> {
        delegate!(self.append_audit(event))
    }
    async fn audit_events(&self, user: &str, limit: usize) -> Result<Vec<AuditEvent>> {
        delegate!(self.audit_events(user, limit))
    }
}

#[async_trait]
impl SettingsStore for Broken {
    async fn settings(&self, user: &str) -> Result<Option<MfaSettings>> {
        delegate!(self.settings(user))
    }
    async fn put_settings(&self, settings: MfaSettings) -> Result<()> {
        delegate!(self.put_settings(settings))
    }
}

// `login_view`, `open_ticket` and `attempt` are left provided: composed from the operations
// above, faults included. `settle` is written out (an override cannot call the provided body)
// as the provided composition with one line that the settle fault changes.
#[async_trait]
impl WebAuthnStore for Broken {
    async fn add_webauthn_credential(&self, credential: WebAuthnCredential) -> Result<()> {
        self.inner.add_webauthn_credential(credential).await
    }
    async fn webauthn_credentials(&self, user: &str) -> Result<Vec<WebAuthnCredential>> {
        self.inner.webauthn_credentials(user).await
    }
    async fn rename_webauthn_credential(&self, user: &str, id: &str, label: &str) -> Result<bool> {
        self.inner.rename_webauthn_credential(user, id, label).await
    }
    async fn remove_webauthn_credential(&self, user: &str, id: &str) -> Result<bool> {
        self.inner.remove_webauthn_credential(user, id).await
    }
    async fn record_webauthn_use(&self, user: &str, id: &str, update: WebAuthnUse) -> Result<bool> {
        self.inner.record_webauthn_use(user, id, update).await
    }
    async fn put_webauthn_ceremony(&self, ceremony: WebAuthnCeremony) -> Result<()> {
        self.inner.put_webauthn_ceremony(ceremony).await
    }
    async fn take_webauthn_ceremony(
        &self,
        user: &str,
        id: &str,
        kind: CeremonyKind,
        now: SystemTime,
    ) -> Result<Option<WebAuthnCeremony>> {
        self.inner.take_webauthn_ceremony(user, id, kind, now).await
    }
    async fn purge_expired_webauthn_ceremonies(&self, now: SystemTime) -> Result<u64> {
        self.inner.purge_expired_webauthn_ceremonies(now).await
    }
}

#[async_trait]
impl FlowStore for Broken {
    async fn settle(&self, settlement: Settlement, now: SystemTime) -> Result<bool> {
        if !settlement.is_own() {
            return Ok(false);
        }
        let Settlement {
            user,
            advance,
            consume,
            resets,
            refunds,
            locks,
            audit,
        } = settlement;
        if let Some((factor, step)) = advance
            && !self.advance_totp_step(&user, &factor, step).await?
        {
            return Ok(false);
        }
        for id in &consume {
            let owned = self
                .challenge(id, now)
                .await?
                .is_some_and(|challenge| challenge.user == user);
            if !owned {
                return Ok(false);
            }
            let consumed = self.consume_challenge(id, now).await?;
            if !consumed && !self.has(Fault::SettleIgnoresConsume) {
                return Ok(false);
            }
        }
        for key in &resets {
            self.reset_counter(key).await?;
        }
        for key in &refunds {
            self.refund_counter(key, now).await?;
        }
        for (key, until) in &locks {
            self.lock_counter(key, *until, now).await?;
        }
        for event in audit {
            self.append_audit(event).await?;
        }
        Ok(true)
    }
}

/// Runs the whole kit on fresh stores with `fault` and returns the names of the checks that
/// failed (`<entity>::<check>`), read from the report `run_all` panics with.
async fn failed_checks(fault: Option<Fault>) -> BTreeSet<String> {
    let backend = "broken";
    let run = tokio::spawn(run_all(backend, move || async move { Broken::new(fault) })).await;
    let Err(error) = run else {
        return BTreeSet::new();
    };
    let payload = error.into_panic();
    let report = payload
        .downcast_ref::<String>()
        .cloned()
        .expect("run_all reports its failures as a formatted message");
    let prefix = format!("{backend}::");
    let failed: BTreeSet<String> = report
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .filter_map(|line| line.split_once(": ").map(|(check, _)| check.to_owned()))
        .collect();
    println!("{fault:?}: {} checks failed: {failed:?}", failed.len());
    assert!(
        !failed.is_empty(),
        "run_all failed but named no check:\n{report}"
    );
    failed
}

/// Asserts that the kit rejects the store with `fault` and that the checks it names are
/// exactly `expected`: the ones whose claim the fault breaks, and no other.
async fn assert_caught_by(fault: Fault, expected: &[&str]) {
    let failed = failed_checks(Some(fault)).await;
    let expected: BTreeSet<String> = expected.iter().map(|c| (*c).to_owned()).collect();
    assert_eq!(failed, expected, "the checks that reject {fault:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wrapper_without_a_fault_passes_the_whole_kit() {
    let failed = failed_checks(None).await;
    assert!(failed.is_empty(), "the control store failed {failed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_non_atomic_spend_is_caught() {
    assert_caught_by(
        Fault::NonAtomicSpend,
        &[
            "challenge::spend_attempt_race_bounded",
            "flow::attempt_race_bounded",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replayable_totp_step_is_caught() {
    assert_caught_by(
        Fault::ReplayableStep,
        &[
            "totp::advance_step_only_forward",
            "totp::advance_step_race_once",
            "flow::settle_applies_only_when_its_conditions_hold",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recovery_code_usable_twice_is_caught() {
    assert_caught_by(
        Fault::RecoveryCodeTwice,
        &[
            "recovery::replace_find_consume",
            "recovery::consume_race_once",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_counter_losing_concurrent_hits_is_caught() {
    assert_caught_by(
        Fault::CounterLosesHits,
        &[
            "counter::hit_race_counts_all",
            "counter::take_race_bounded",
            "flow::attempt_race_bounded",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_device_token_that_does_not_rotate_is_caught() {
    assert_caught_by(
        Fault::DeviceTokenKept,
        &["device::rotate_once", "device::rotate_race_once"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_challenge_consumed_twice_is_caught() {
    assert_caught_by(
        Fault::ChallengeConsumedTwice,
        &[
            "challenge::consume_once",
            "challenge::consume_race_once",
            "flow::settle_consumes_once",
            "flow::settle_lists_apply_in_order",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_settle_that_is_not_single_use_is_caught() {
    assert_caught_by(
        Fault::SettleIgnoresConsume,
        &[
            "flow::settle_consumes_once",
            "flow::settle_lists_apply_in_order",
        ],
    )
    .await;
}
