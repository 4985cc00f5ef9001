//! A store or mailer failing mid-flow grants nothing and leaves nothing usable behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use common::*;
use mfa::Clock as _;
use mfa::core::{Algorithm, CodeDigest, RecoveryVerifier, SealedSecret};
use mfa::mail::{EmailMessage, MailError, Mailer, MemoryOutbox};
use mfa::store::*;
use mfa::{Channel, Error, Outcome, Policy, Proof, SendOutcome, TotpOptions, VerifyOptions};

/// Wraps a store and fails the named operation while armed.
#[derive(Debug)]
struct FailingStore {
    inner: Arc<dyn Store>,
    fail_on: Mutex<Option<&'static str>>,
}

impl FailingStore {
    fn arm(&self, op: Option<&'static str>) {
        *self.fail_on.lock().unwrap() = op;
    }
    fn check(&self, op: &str) -> mfa::store::Result<()> {
        if *self.fail_on.lock().unwrap() == Some(op) {
            return Err(StoreError::unavailable(std::io::Error::other("injected")));
        }
        Ok(())
    }
}

macro_rules! pass {
    ($self:ident, $op:literal, $call:expr) => {{
        $self.check($op)?;
        $call.await
    }};
}

#[async_trait]
impl TotpFactorStore for FailingStore {
    async fn insert_pending_totp(&self, f: NewTotpFactor) -> mfa::store::Result<()> {
        pass!(
            self,
            "insert_pending_totp",
            self.inner.insert_pending_totp(f)
        )
    }
    async fn totp_factor(&self, u: &str, id: &str) -> mfa::store::Result<Option<TotpFactor>> {
        pass!(self, "totp_factor", self.inner.totp_factor(u, id))
    }
    async fn totp_factors(&self, u: &str) -> mfa::store::Result<Vec<TotpFactor>> {
        pass!(self, "totp_factors", self.inner.totp_factors(u))
    }
    async fn confirm_totp(&self, u: &str, id: &str, s: u64) -> mfa::store::Result<bool> {
        pass!(self, "confirm_totp", self.inner.confirm_totp(u, id, s))
    }
    async fn advance_totp_step(&self, u: &str, id: &str, s: u64) -> mfa::store::Result<bool> {
        pass!(
            self,
            "advance_totp_step",
            self.inner.advance_totp_step(u, id, s)
        )
    }
    async fn replace_totp_secret(
        &self,
        u: &str,
        id: &str,
        e: &SealedSecret,
        r: SealedSecret,
    ) -> mfa::store::Result<bool> {
        pass!(
            self,
            "replace_totp_secret",
            self.inner.replace_totp_secret(u, id, e, r)
        )
    }
    async fn delete_totp(&self, u: &str, id: &str) -> mfa::store::Result<bool> {
        pass!(self, "delete_totp", self.inner.delete_totp(u, id))
    }
}

#[async_trait]
impl ChallengeStore for FailingStore {
    async fn create_challenge(&self, c: Challenge) -> mfa::store::Result<()> {
        pass!(self, "create_challenge", self.inner.create_challenge(c))
    }
    async fn challenge(&self, id: &str, now: SystemTime) -> mfa::store::Result<Option<Challenge>> {
        pass!(self, "challenge", self.inner.challenge(id, now))
    }
    async fn spend_attempt(&self, id: &str, now: SystemTime) -> mfa::store::Result<AttemptOutcome> {
        pass!(self, "spend_attempt", self.inner.spend_attempt(id, now))
    }
    async fn consume_challenge(&self, id: &str, now: SystemTime) -> mfa::store::Result<bool> {
        pass!(
            self,
            "consume_challenge",
            self.inner.consume_challenge(id, now)
        )
    }
    async fn replace_challenge_code(
        &self,
        id: &str,
        d: CodeDigest,
        e: SystemTime,
        now: SystemTime,
    ) -> mfa::store::Result<bool> {
        pass!(
            self,
            "replace_challenge_code",
            self.inner.replace_challenge_code(id, d, e, now)
        )
    }
    async fn delete_challenge(&self, id: &str) -> mfa::store::Result<bool> {
        pass!(self, "delete_challenge", self.inner.delete_challenge(id))
    }
    async fn purge_expired_challenges(&self, now: SystemTime) -> mfa::store::Result<u64> {
        pass!(self, "purge", self.inner.purge_expired_challenges(now))
    }
}

#[async_trait]
impl RecoveryCodeStore for FailingStore {
    async fn replace_recovery_codes(
        &self,
        u: &str,
        c: Vec<RecoveryCodeRecord>,
        at: SystemTime,
    ) -> mfa::store::Result<()> {
        pass!(
            self,
            "replace_recovery_codes",
            self.inner.replace_recovery_codes(u, c, at)
        )
    }
    async fn find_recovery_code(
        &self,
        u: &str,
        l: &CodeDigest,
    ) -> mfa::store::Result<Option<RecoveryVerifier>> {
        pass!(
            self,
            "find_recovery_code",
            self.inner.find_recovery_code(u, l)
        )
    }
    async fn consume_recovery_code(&self, u: &str, l: &CodeDigest) -> mfa::store::Result<bool> {
        pass!(
            self,
            "consume_recovery_code",
            self.inner.consume_recovery_code(u, l)
        )
    }
    async fn remaining_recovery_codes(&self, u: &str) -> mfa::store::Result<usize> {
        pass!(
            self,
            "remaining_recovery_codes",
            self.inner.remaining_recovery_codes(u)
        )
    }
}

#[async_trait]
impl CounterStore for FailingStore {
    async fn hit_counter(
        &self,
        k: &CounterKey,
        w: Duration,
        now: SystemTime,
    ) -> mfa::store::Result<CounterState> {
        pass!(self, "hit_counter", self.inner.hit_counter(k, w, now))
    }
    async fn lock_counter(
        &self,
        k: &CounterKey,
        u: SystemTime,
        now: SystemTime,
    ) -> mfa::store::Result<CounterState> {
        pass!(self, "lock_counter", self.inner.lock_counter(k, u, now))
    }
    async fn reset_counter(&self, k: &CounterKey) -> mfa::store::Result<()> {
        pass!(self, "reset_counter", self.inner.reset_counter(k))
    }
    async fn counter(
        &self,
        k: &CounterKey,
        now: SystemTime,
    ) -> mfa::store::Result<Option<CounterState>> {
        pass!(self, "counter", self.inner.counter(k, now))
    }
    async fn counters(
        &self,
        k: &[CounterKey],
        now: SystemTime,
    ) -> mfa::store::Result<Vec<Option<CounterState>>> {
        pass!(self, "counters", self.inner.counters(k, now))
    }
    async fn hit_counters(
        &self,
        h: &[(CounterKey, Duration)],
        now: SystemTime,
    ) -> mfa::store::Result<Vec<CounterState>> {
        pass!(self, "hit_counters", self.inner.hit_counters(h, now))
    }
    async fn purge_expired_counters(&self, now: SystemTime) -> mfa::store::Result<u64> {
        pass!(self, "purge", self.inner.purge_expired_counters(now))
    }
}

#[async_trait]
impl TrustedDeviceStore for FailingStore {
    async fn insert_trusted_device(&self, d: TrustedDevice) -> mfa::store::Result<()> {
        pass!(
            self,
            "insert_trusted_device",
            self.inner.insert_trusted_device(d)
        )
    }
    async fn check_and_touch_device(
        &self,
        u: &str,
        d: &CodeDigest,
        now: SystemTime,
    ) -> mfa::store::Result<Option<TrustedDevice>> {
        pass!(
            self,
            "check_and_touch_device",
            self.inner.check_and_touch_device(u, d, now)
        )
    }
    async fn rotate_device_token(
        &self,
        u: &str,
        o: &CodeDigest,
        n: CodeDigest,
        now: SystemTime,
    ) -> mfa::store::Result<bool> {
        pass!(
            self,
            "rotate_device_token",
            self.inner.rotate_device_token(u, o, n, now)
        )
    }
    async fn trusted_devices(
        &self,
        u: &str,
        now: SystemTime,
    ) -> mfa::store::Result<Vec<TrustedDevice>> {
        pass!(self, "trusted_devices", self.inner.trusted_devices(u, now))
    }
    async fn revoke_device(&self, u: &str, id: &str) -> mfa::store::Result<bool> {
        pass!(self, "revoke_device", self.inner.revoke_device(u, id))
    }
    async fn revoke_all_devices(&self, u: &str) -> mfa::store::Result<u64> {
        pass!(self, "revoke_all_devices", self.inner.revoke_all_devices(u))
    }
    async fn purge_expired_devices(&self, now: SystemTime) -> mfa::store::Result<u64> {
        pass!(self, "purge", self.inner.purge_expired_devices(now))
    }
}

#[async_trait]
impl AuditStore for FailingStore {
    async fn append_audit(&self, e: AuditEvent) -> mfa::store::Result<()> {
        pass!(self, "append_audit", self.inner.append_audit(e))
    }
    async fn audit_events(&self, u: &str, l: usize) -> mfa::store::Result<Vec<AuditEvent>> {
        pass!(self, "audit_events", self.inner.audit_events(u, l))
    }
}

#[async_trait]
impl SettingsStore for FailingStore {
    async fn settings(&self, u: &str) -> mfa::store::Result<Option<MfaSettings>> {
        pass!(self, "settings", self.inner.settings(u))
    }
    async fn put_settings(&self, s: MfaSettings) -> mfa::store::Result<()> {
        pass!(self, "put_settings", self.inner.put_settings(s))
    }
}

/// Records every message (so the test can read the code) and fails while armed.
#[derive(Debug, Default)]
struct FailingMailer {
    outbox: MemoryOutbox,
    failing: Mutex<bool>,
}

#[async_trait]
impl Mailer for FailingMailer {
    async fn send(&self, message: &EmailMessage) -> mfa::mail::Result<()> {
        self.outbox.send(message).await?;
        if *self.failing.lock().unwrap() {
            return Err(MailError::Timeout);
        }
        Ok(())
    }
}

async fn store_failures_grant_nothing(store: Arc<dyn Store>) {
    let failing = Arc::new(FailingStore {
        inner: store,
        fail_on: Mutex::new(None),
    });
    let h = harness(failing.clone(), Policy::authenticator_setup());
    let (secret, _) = h.enrol_totp("s", TotpOptions::new()).await;

    // Each verification step failing: an error, never a grant; the code is then unusable
    // (its step may have been recorded) or still needs a fresh, complete verification.
    for op in [
        "counters",
        "spend_attempt",
        "totp_factors",
        "advance_totp_step",
        "consume_challenge",
        "reset_counter",
    ] {
        h.advance(30);
        let id = h.login("s").await;
        let code = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs());
        failing.arm(Some(op));
        let r = h
            .mfa
            .verify(&id, Proof::Totp(&code), &client(), VerifyOptions::new())
            .await;
        failing.arm(None);
        assert!(r.is_err(), "{op}: {r:?}");
        assert!(r.unwrap_err().is_transient());
    }
    // A failing counter hit on a wrong code: error, nothing granted.
    h.advance(30);
    let id = h.login("s").await;
    failing.arm(Some("hit_counters"));
    assert!(
        h.mfa
            .verify(&id, Proof::Totp("000000"), &client(), VerifyOptions::new())
            .await
            .is_err()
    );
    failing.arm(None);

    // begin_login failing to create its ticket: an error and no challenge to use.
    failing.arm(Some("create_challenge"));
    assert!(h.mfa.begin_login("s", None, &client()).await.is_err());
    failing.arm(None);

    // A code email delivered but not stored: the code does not work.
    h.enrol_email("s", "s@example.com").await;
    h.advance(60);
    let id = h.login("s").await;
    failing.arm(Some("replace_challenge_code"));
    assert!(h.mfa.send_code(&id, Channel::Email).await.is_err());
    failing.arm(None);
    let code = h.last_email_code(6);
    let r = h
        .mfa
        .verify(
            &id,
            Proof::EmailCode(&code),
            &client(),
            VerifyOptions::new(),
        )
        .await
        .unwrap();
    assert!(!r.is_verified(), "{r:?}");
}

async fn mailer_failures(store: Arc<dyn Store>) {
    let mailer = Arc::new(FailingMailer::default());
    let h = build(store, Policy::authenticator_setup(), false, |b| {
        b.mailer(mailer.clone())
    });
    h.set_notice_email("m", "m@example.com").await;
    let (secret, _) = h.enrol_totp("m", TotpOptions::new()).await;
    let sent = h
        .mfa
        .start_email_enrollment("m", "m@example.com")
        .await
        .unwrap();
    assert!(matches!(sent, SendOutcome::Sent { .. }));
    let code = code_in(mailer.outbox.last().unwrap().text(), 6);
    let _ = h
        .mfa
        .finish_email_enrollment("m", "m@example.com", &code, &client())
        .await
        .unwrap();
    h.advance(60);

    // A failing CODE mail fails the send; the code it carried does not work.
    *mailer.failing.lock().unwrap() = true;
    let id = h.login("m").await;
    let err = h.mfa.send_code(&id, Channel::Email).await.unwrap_err();
    assert!(
        matches!(err, Error::Delivery(_)) && err.is_transient(),
        "{err:?}"
    );
    let code = code_in(mailer.outbox.last().unwrap().text(), 6);
    let r = h
        .mfa
        .verify(
            &id,
            Proof::EmailCode(&code),
            &client(),
            VerifyOptions::new(),
        )
        .await
        .unwrap();
    assert!(!r.is_verified(), "{r:?}");

    // A failing NOTICE mail does not undo the action (trusting a device sends one).
    h.advance(30);
    let id = h.login("m").await;
    let code = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs());
    let r = h
        .mfa
        .verify(
            &id,
            Proof::Totp(&code),
            &client(),
            VerifyOptions::new().trust_device("Laptop"),
        )
        .await
        .unwrap();
    assert!(
        matches!(
            r,
            Outcome::Verified {
                trusted_device_token: Some(_),
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(h.mfa.trusted_devices("m").await.unwrap().len(), 1);
    assert!(mailer.outbox.last().unwrap().text().contains("Laptop"));
}

scenarios!([memory, sqlite, postgres, mysql, redis]: { store_failures_grant_nothing, mailer_failures });
