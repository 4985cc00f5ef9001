//! What a login asks of the store: a full TOTP login (`begin_login` after the password, then
//! `verify`) and an emailed-code login (`begin_email_login`, then `verify` after the send) are
//! four store operations each, on every backend (each backend makes each operation one round
//! trip: see its own round-trip tests).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::sync::Arc;

use common::*;
use mfa::Clock as _;
use mfa::core::Algorithm;
use mfa::{Channel, LoginStart, Policy, Proof, SendOutcome, Store, TotpOptions};
use mfa_store::testkit::Instrumented;

async fn a_login_is_four_store_operations(store: Arc<dyn Store>) {
    let counted = Arc::new(Instrumented::new(store));
    let h = harness(counted.clone(), Policy::authenticator_setup());
    let (secret, _) = h.enrol_totp("rt", TotpOptions::new()).await;
    // The first login completes (the network becomes recognised); measure the next ones, from
    // the recognised network and from a stranger's.
    for from in [client(), client(), stranger(9)] {
        h.advance(30);
        counted.reset_calls();
        let LoginStart::ChallengeRequired { challenge_id, .. } =
            h.mfa.begin_login("rt", None, &from).await.unwrap()
        else {
            panic!()
        };
        let code = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs());
        assert!(
            h.verify_from(&challenge_id, Proof::Totp(&code), &from)
                .await
                .is_verified()
        );
        let calls = counted.calls_by_operation();
        eprintln!(
            "TOTP login: {} store operations: {calls:?}",
            counted.calls()
        );
        assert_eq!(counted.calls(), 4, "{calls:?}");
        for op in ["login_view", "open_ticket", "attempt", "settle"] {
            assert_eq!(counted.call(op), 1, "{op}: {calls:?}");
        }
    }

    // Passwordless: begin_email_login, the send, then verify.
    h.enrol_email("mail@example.com", "mail@example.com").await;
    h.advance(60);
    counted.reset_calls();
    let LoginStart::ChallengeRequired { challenge_id, .. } = h
        .mfa
        .begin_email_login(&email("mail@example.com"), &client())
        .await
        .unwrap()
    else {
        panic!()
    };
    let before_send = counted.calls();
    assert!(matches!(
        h.send(&challenge_id, Channel::Email).await,
        SendOutcome::Sent { .. }
    ));
    let send = counted.calls() - before_send;
    let code = h.last_email_code(6);
    assert!(
        h.verify(&challenge_id, Proof::EmailCode(&code))
            .await
            .is_verified()
    );
    let login = counted.calls() - send;
    eprintln!("emailed-code login: {login} store operations besides the send's {send}");
    assert_eq!(login, 4, "{:?}", counted.calls_by_operation());
}

scenarios!([memory, sqlite, postgres, mysql, redis, redis_cluster]: { a_login_is_four_store_operations });
