//! A store or mailer failing mid-flow grants nothing and leaves nothing usable behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::*;
use mfa::Clock as _;
use mfa::core::Algorithm;
use mfa::mail::{EmailMessage, MailError, Mailer, MemoryOutbox};
use mfa::store::Store;
use mfa::{
    Authority, Channel, Error, Outcome, Policy, Proof, SendOutcome, TotpOptions, VerifyOptions,
};
use mfa_store::testkit::Instrumented;

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
    let failing = Arc::new(Instrumented::new(store));
    let h = harness(failing.clone(), Policy::authenticator_setup());
    let (secret, _) = h.enrol_totp("s", TotpOptions::new()).await;

    // Each verification step failing: an error, never a grant; the code is then unusable
    // (its step may have been recorded) or still needs a fresh, complete verification.
    // A login is four store operations (FlowStore): the two of the verification failing each
    // give an error, never a grant.
    for (n, op) in ["attempt", "settle"].into_iter().enumerate() {
        // A failed attempt keeps the budget units it took (it counts like a failure): each
        // from its own network, so that the per-network budget does not end the loop.
        h.advance(30);
        let from = stranger(u32::try_from(n).unwrap());
        let id = h.login_from("s", &from).await;
        let code = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs());
        failing.fail_on(Some(op));
        let r = h
            .mfa
            .verify(&id, Proof::Totp(&code), &from, VerifyOptions::new())
            .await;
        failing.fail_on(None);
        assert!(r.is_err(), "{op}: {r:?}");
        assert!(r.unwrap_err().is_transient());
    }
    // A failing settlement of a wrong code: error, nothing granted.
    h.advance(30);
    let id = h.login("s").await;
    failing.fail_on(Some("settle"));
    assert!(
        h.mfa
            .verify(&id, Proof::Totp("000000"), &client(), VerifyOptions::new())
            .await
            .is_err()
    );
    failing.fail_on(None);

    // begin_login failing to create its ticket: an error and no challenge to use.
    failing.fail_on(Some("open_ticket"));
    assert!(h.mfa.begin_login("s", None, &client()).await.is_err());
    failing.fail_on(None);

    // A code email delivered but not stored: the code does not work.
    let grant = h.grant("s", &secret).await;
    h.enrol_email_as("s", "s@example.com", Authority::StepUp(&grant))
        .await;
    h.advance(60);
    let id = h.login("s").await;
    failing.fail_on(Some("replace_challenge_code"));
    assert!(
        h.mfa
            .send_code(&id, Channel::Email, &client())
            .await
            .is_err()
    );
    failing.fail_on(None);
    let code = h.last_email_code(6);
    let r = h.verify(&id, Proof::EmailCode(&code)).await;
    assert!(!r.is_verified(), "{r:?}");
}

async fn mailer_failures(store: Arc<dyn Store>) {
    let mailer = Arc::new(FailingMailer::default());
    let h = build(store, Policy::authenticator_setup(), false, |b| {
        b.mailer(mailer.clone())
    });
    h.set_notice_email("m", "m@example.com").await;
    let (secret, _) = h.enrol_totp("m", TotpOptions::new()).await;
    let grant = h.grant("m", &secret).await;
    let to = email("m@example.com");
    let sent = h
        .mfa
        .start_email_enrollment("m", Authority::StepUp(&grant), &to, &client())
        .await
        .unwrap();
    assert!(matches!(sent, SendOutcome::Sent { .. }));
    let code = code_in(mailer.outbox.last().unwrap().text(), 6);
    let _ = h
        .mfa
        .finish_email_enrollment("m", Authority::StepUp(&grant), &to, &code, &client())
        .await
        .unwrap();
    h.advance(60);

    // A failing CODE mail fails the send; the code it carried does not work.
    *mailer.failing.lock().unwrap() = true;
    let id = h.login("m").await;
    let err = h
        .mfa
        .send_code(&id, Channel::Email, &client())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Delivery(_)) && err.is_transient(),
        "{err:?}"
    );
    let code = code_in(mailer.outbox.last().unwrap().text(), 6);
    let r = h.verify(&id, Proof::EmailCode(&code)).await;
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

scenarios!([memory, sqlite, postgres, mysql, redis, redis_cluster]: { store_failures_grant_nothing, mailer_failures });
