//! Guarantees through the facade: concurrency, limits, trusted devices after factor changes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::num::NonZeroU32;
use std::sync::Arc;

use common::*;
use mfa::Clock as _;
use mfa::core::Algorithm;
use mfa::store::{CounterKey, CounterScope};
use mfa::{
    Authority, Channel, LoginStart, Outcome, PasswordVerdict, Policy, Proof, SendOutcome, Store,
    TotpOptions, VerifyOptions,
};

/// 50 concurrent submissions of one valid TOTP code: exactly one succeeds.
async fn same_totp_code_succeeds_once(store: Arc<dyn Store>) {
    let h = harness(store, Policy::authenticator_setup());
    let (secret, _) = h.enrol_totp("u", TotpOptions::new()).await;
    h.advance(30);
    let id = h.login("u").await;
    let code = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs());
    let id = Arc::new(id);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (mfa, id, code) = (h.mfa.clone(), id.clone(), code.clone());
        tasks.push(tokio::spawn(async move {
            mfa.verify(&id, Proof::Totp(&code), &client(), VerifyOptions::new())
                .await
                .unwrap()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap().is_verified());
    }
    assert_eq!(ok, 1);
}

/// 50 concurrent wrong guesses at a 3-try challenge: at most 3 are evaluated.
async fn concurrent_guesses_are_bounded(store: Arc<dyn Store>) {
    let policy = Policy::authenticator_setup()
        .to_builder()
        .challenge_attempts(NonZeroU32::new(3).unwrap())
        .build()
        .unwrap();
    let h = harness(store.clone(), policy);
    h.enrol_email("v", "v@example.com").await;
    h.advance(60);
    let id = h.login("v").await;
    assert!(matches!(
        h.send(&id, Channel::Email).await,
        SendOutcome::Sent { .. }
    ));
    let bad = wrong(&h.last_email_code(6));
    let id = Arc::new(id);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (mfa, id, bad) = (h.mfa.clone(), id.clone(), bad.clone());
        tasks.push(tokio::spawn(async move {
            mfa.verify(&id, Proof::EmailCode(&bad), &client(), VerifyOptions::new())
                .await
                .unwrap()
        }));
    }
    let (mut evaluated, mut exhausted) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Outcome::Rejected { .. } | Outcome::LockedOut { .. } => evaluated += 1,
            Outcome::ChallengeExhausted => exhausted += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((evaluated, exhausted), (3, 47));
    let key = CounterKey::new("mfa.consecutive", CounterScope::Account("v".into()));
    let counted = store.counter(&key, h.clock.now()).await.unwrap().unwrap();
    assert_eq!(counted.count, 3, "only evaluated guesses count");
}

/// One recovery code redeemed twice in parallel (two logins' worth): one success.
async fn recovery_code_redeemed_once_in_parallel(store: Arc<dyn Store>) {
    let h = harness(store, Policy::authenticator_setup());
    let (_, _, codes) = h.enrol_totp_codes("w", TotpOptions::new()).await;
    let rc = codes[0].clone();
    let id = Arc::new(h.login("w").await);
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (mfa, id, rc) = (h.mfa.clone(), id.clone(), rc.clone());
        tasks.push(tokio::spawn(async move {
            mfa.verify(
                &id,
                Proof::RecoveryCode(&rc),
                &client(),
                VerifyOptions::new(),
            )
            .await
            .unwrap()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap().is_verified());
    }
    assert_eq!(ok, 1);
    assert_eq!(h.mfa.recovery_codes_left("w").await.unwrap(), 9);
}

/// Recovery-code failures count toward the lockout, and LockedOut arrives on the locking try.
async fn recovery_failures_lock_on_the_locking_attempt(store: Arc<dyn Store>) {
    let h = harness(store, Policy::email_link_login());
    let (_secret, _) = h.enrol_totp("x", TotpOptions::new()).await;
    let id = h.login("x").await;
    let bad = "0000-0000-0000-0000-0000-0000";
    let r1 = h.verify(&id, Proof::RecoveryCode(bad)).await;
    let r2 = h.verify(&id, Proof::RecoveryCode(bad)).await;
    let r3 = h.verify(&id, Proof::RecoveryCode(bad)).await;
    assert!(
        matches!(r1, Outcome::Rejected { attempts_left: 2 }),
        "{r1:?}"
    );
    assert!(
        matches!(r2, Outcome::Rejected { attempts_left: 1 }),
        "{r2:?}"
    );
    assert!(
        matches!(r3, Outcome::LockedOut { .. }),
        "locks on the third: {r3:?}"
    );
    assert!(matches!(
        h.mfa.begin_login("x", None, &client()).await.unwrap(),
        LoginStart::LockedOut { .. }
    ));
}

/// A correct password does not reset the second-factor counter.
async fn password_success_keeps_second_factor_count(store: Arc<dyn Store>) {
    let h = harness(store, Policy::email_link_login());
    let (_secret, _) = h.enrol_totp("y", TotpOptions::new()).await;
    let id = h.login("y").await;
    for _ in 0..2 {
        let r = h.verify(&id, Proof::Totp("000000")).await;
        assert!(matches!(r, Outcome::Rejected { .. }));
    }
    let start = h
        .mfa
        .password_step("y", None, &client(), || async { PasswordVerdict::Correct })
        .await
        .unwrap();
    let LoginStart::ChallengeRequired {
        challenge_id: id, ..
    } = start
    else {
        panic!("{start:?}")
    };
    let r = h.verify(&id, Proof::Totp("000000")).await;
    assert!(
        matches!(r, Outcome::LockedOut { .. }),
        "third second-factor failure locks: {r:?}"
    );
}

/// A trusted device stops working after a factor change (and after a password change).
async fn trusted_device_revoked_by_factor_change(store: Arc<dyn Store>) {
    let h = harness(store, Policy::authenticator_setup());
    let (secret, _) = h.enrol_totp("z", TotpOptions::new()).await;
    h.advance(30);
    let id = h.login("z").await;
    let code = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs());
    let Outcome::Verified {
        trusted_device_token: Some(t),
        ..
    } = h
        .mfa
        .verify(
            &id,
            Proof::Totp(&code),
            &client(),
            VerifyOptions::new().trust_device("Laptop"),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let LoginStart::TrustedDevice { rotated_token } =
        h.mfa.begin_login("z", Some(&t), &client()).await.unwrap()
    else {
        panic!()
    };
    let grant = h.grant("z", &secret).await;
    h.enrol_email_as("z", "z@example.com", Authority::StepUp(&grant))
        .await; // a factor change
    assert!(matches!(
        h.mfa
            .begin_login("z", Some(&rotated_token), &client())
            .await
            .unwrap(),
        LoginStart::ChallengeRequired { .. }
    ));
    assert!(h.mfa.trusted_devices("z").await.unwrap().is_empty());

    // Password change revokes too.
    h.advance(30);
    let id = h.login("z").await;
    let code = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs());
    let Outcome::Verified {
        trusted_device_token: Some(t),
        ..
    } = h
        .mfa
        .verify(
            &id,
            Proof::Totp(&code),
            &client(),
            VerifyOptions::new().trust_device("Phone"),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    h.mfa.password_changed("z").await.unwrap();
    assert!(matches!(
        h.mfa.begin_login("z", Some(&t), &client()).await.unwrap(),
        LoginStart::ChallengeRequired { .. }
    ));
}

/// Begins a login for `user` from `client` and submits a wrong TOTP code; returns the outcome.
async fn wrong_totp(h: &Harness, user: &str, secret: &str, client: &mfa::ClientInfo) -> Outcome {
    let id = match h.mfa.begin_login(user, None, client).await.unwrap() {
        LoginStart::ChallengeRequired { challenge_id, .. } => challenge_id,
        LoginStart::LockedOut { until } => return Outcome::LockedOut { until },
        other => panic!("expected a challenge, got {other:?}"),
    };
    let bad = wrong(&totp_code(secret, 6, Algorithm::Sha1, h.clock.unix_secs()));
    h.mfa
        .verify(&id, Proof::Totp(&bad), client, VerifyOptions::new())
        .await
        .unwrap()
}

/// Failures from one client lock that client for the account first; the user's trusted device
/// on that very network, and the user from another network, still get in (lockout an attacker
/// cannot turn against the user).
async fn trusted_device_exempt_from_the_strangers_locks(store: Arc<dyn Store>) {
    let h = harness(store, Policy::authenticator_setup());
    let (secret, _) = h.enrol_totp("td", TotpOptions::new()).await;
    h.advance(30);
    let id = h.login("td").await;
    let code = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs());
    let Outcome::Verified {
        trusted_device_token: Some(device),
        ..
    } = h
        .mfa
        .verify(
            &id,
            Proof::Totp(&code),
            &client(),
            VerifyOptions::new().trust_device("Laptop"),
        )
        .await
        .unwrap()
    else {
        panic!("first login verifies")
    };

    let attacker = client_at("192.0.2.66");
    let mut locked_at = None;
    for attempt in 1..=10 {
        if let Outcome::LockedOut { .. } = wrong_totp(&h, "td", &secret, &attacker).await {
            locked_at = Some(attempt);
            break;
        }
    }
    assert!(locked_at.is_some(), "the attacking client is locked out");
    assert!(matches!(
        h.mfa.begin_login("td", None, &attacker).await.unwrap(),
        LoginStart::LockedOut { .. }
    ));
    assert!(
        matches!(
            h.mfa
                .begin_login("td", Some(&device), &attacker)
                .await
                .unwrap(),
            LoginStart::TrustedDevice { .. }
        ),
        "a trusted device is exempt from the client-level lock"
    );
    // Another network gets a challenge while the attacking one stays locked.
    assert!(
        matches!(
            h.mfa
                .begin_login("td", None, &client_at("203.0.113.200"))
                .await
                .unwrap(),
            LoginStart::ChallengeRequired { .. }
        ),
        "another network is not locked out by the attacker's failures"
    );
}

/// NIST 800-63B: at most 100 consecutive failures per account. Unrecognised contexts stop at 90
/// (spread over days and networks so that no budget stops them earlier), the user's recognised
/// network can still sign in then, and its 10 failures reach the cap, after which only an unlock
/// helps, an administrator's included.
async fn nist_cap_locks_until_admin_unlock(store: Arc<dyn Store>) {
    let h = harness(store, Policy::authenticator_setup());
    let (secret, _) = h.enrol_totp("cap", TotpOptions::new()).await;
    // A completed login makes the user's network recognised.
    h.advance(30);
    let id = h.login("cap").await;
    let code = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs());
    assert!(h.verify(&id, Proof::Totp(&code)).await.is_verified());
    let mut last = None;
    for i in 0..90u32 {
        if i % 15 == 0 {
            h.advance(24 * 3600 + 1); // past the daily budget's window
        }
        last = Some(wrong_totp(&h, "cap", &secret, &stranger(i + 10)).await);
        if i < 89 {
            // The 15th failure of each day fills the daily budget: refused until its window
            // ends, a timed answer.
            let day_full = i % 15 == 14;
            let ok = match last {
                Some(Outcome::Rejected { .. }) => !day_full,
                Some(Outcome::LockedOut { until }) => {
                    day_full && until <= h.clock.now() + std::time::Duration::from_secs(86_400)
                }
                _ => false,
            };
            assert!(ok, "failure {}: {last:?}", i + 1);
        }
    }
    let Some(Outcome::LockedOut { until }) = last else {
        panic!("the 90th consecutive failure from strangers locks them out: {last:?}")
    };
    assert!(
        until.duration_since(h.clock.now()).unwrap().as_secs() > 365 * 24 * 3600,
        "the cap is not a timed lock"
    );
    h.advance(2 * 24 * 3600);
    assert!(matches!(
        h.mfa
            .begin_login("cap", None, &stranger(200))
            .await
            .unwrap(),
        LoginStart::LockedOut { .. }
    ));
    // The recognised network still gets a challenge, and ten failures more reach the cap.
    for i in 0..10 {
        let r = wrong_totp(&h, "cap", &secret, &client()).await;
        if i < 9 {
            assert!(matches!(r, Outcome::Rejected { .. }), "{i}: {r:?}");
        } else {
            assert!(matches!(r, Outcome::LockedOut { .. }), "the 100th: {r:?}");
        }
    }
    h.advance(2 * 24 * 3600);
    assert!(matches!(
        h.mfa.begin_login("cap", None, &client()).await.unwrap(),
        LoginStart::LockedOut { .. }
    ));
    h.mfa.admin_unlock("cap", "admin-1").await.unwrap();
    assert!(matches!(
        h.mfa
            .begin_login("cap", None, &stranger(200))
            .await
            .unwrap(),
        LoginStart::ChallengeRequired { .. }
    ));
}

/// An administrator's unlock frees the user on the very network that was locked for the
/// account (the client-first rule), not only on other networks; and that network gets the
/// rule's full allowance again rather than being locked by its next failure.
async fn admin_unlock_frees_the_locked_network(store: Arc<dyn Store>) {
    let h = harness(store, Policy::authenticator_setup());
    let (secret, _) = h.enrol_totp("ul", TotpOptions::new()).await;
    let home = client_at("192.0.2.10");
    let lock = || async {
        for _ in 0..10 {
            if let Outcome::LockedOut { .. } = wrong_totp(&h, "ul", &secret, &home).await {
                return true;
            }
        }
        false
    };
    let right_code = || async {
        h.advance(30);
        let id = match h.mfa.begin_login("ul", None, &home).await.unwrap() {
            LoginStart::ChallengeRequired { challenge_id, .. } => challenge_id,
            other => panic!("{other:?}"),
        };
        let code = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs());
        h.mfa
            .verify(&id, Proof::Totp(&code), &home, VerifyOptions::new())
            .await
            .unwrap()
    };
    assert!(
        lock().await,
        "the client-first rule locks this network for the account"
    );
    assert!(matches!(
        h.mfa.begin_login("ul", None, &home).await.unwrap(),
        LoginStart::LockedOut { .. }
    ));

    // The user's very next act after the unlock, the right code, signs in (the stale lock is
    // cleared inside that verification).
    h.mfa.admin_unlock("ul", "admin-1").await.unwrap();
    let ok = right_code().await;
    assert!(ok.is_verified(), "the first code after the unlock: {ok:?}");

    // Locked again and unlocked again: a failure after the unlock starts a fresh count.
    assert!(lock().await, "locked a second time");
    h.mfa.admin_unlock("ul", "admin-1").await.unwrap();
    assert!(
        matches!(
            h.mfa.begin_login("ul", None, &home).await.unwrap(),
            LoginStart::ChallengeRequired { .. }
        ),
        "unlocked on the network that was locked"
    );
    let next = wrong_totp(&h, "ul", &secret, &home).await;
    assert!(
        matches!(next, Outcome::Rejected { .. }),
        "a failure after the unlock starts a fresh count: {next:?}"
    );
    let ok = right_code().await;
    assert!(ok.is_verified(), "{ok:?}");
}

/// The ticket budget (30 logins started an hour per context) bounds logins that do not
/// complete: a user who completes 45 logins in 45 minutes is never refused, while 30 logins
/// left unanswered from one network refuse the 31st there.
async fn completed_logins_never_spend_the_ticket_budget(store: Arc<dyn Store>) {
    let h = harness(store, Policy::authenticator_setup());
    let (secret, _) = h.enrol_totp("tb", TotpOptions::new()).await;
    let home = client_at("192.0.2.20");
    for i in 0..45 {
        h.advance(60);
        let id = match h.mfa.begin_login("tb", None, &home).await.unwrap() {
            LoginStart::ChallengeRequired { challenge_id, .. } => challenge_id,
            other => panic!("login {i}: {other:?}"),
        };
        let code = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs());
        let ok = h
            .mfa
            .verify(&id, Proof::Totp(&code), &home, VerifyOptions::new())
            .await
            .unwrap();
        assert!(ok.is_verified(), "login {i}: {ok:?}");
    }
    let away = stranger(31);
    for i in 0..30 {
        assert!(
            matches!(
                h.mfa.begin_login("tb", None, &away).await.unwrap(),
                LoginStart::ChallengeRequired { .. }
            ),
            "unanswered login {i}"
        );
    }
    assert!(
        matches!(
            h.mfa.begin_login("tb", None, &away).await.unwrap(),
            LoginStart::LockedOut { .. }
        ),
        "the 31st unanswered login of the hour is refused"
    );
    // The user's own network keeps its budget.
    h.advance(60);
    assert!(matches!(
        h.mfa.begin_login("tb", None, &home).await.unwrap(),
        LoginStart::ChallengeRequired { .. }
    ));
}

scenarios!([memory, sqlite, postgres, mysql, redis, redis_cluster]: { same_totp_code_succeeds_once, concurrent_guesses_are_bounded, recovery_code_redeemed_once_in_parallel, recovery_failures_lock_on_the_locking_attempt, password_success_keeps_second_factor_count, trusted_device_revoked_by_factor_change, trusted_device_exempt_from_the_strangers_locks, nist_cap_locks_until_admin_unlock, admin_unlock_frees_the_locked_network, completed_logins_never_spend_the_ticket_budget });
