//! One test per seed flow of DESIGN.md, asserting its numbers with a manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use mfa::Clock as _;
use mfa::core::{Algorithm, Digits, KeyUri};
use mfa::{
    Channel, EnrollmentOutcome, Error, LinkInspection, LoginStart, Method, Outcome, PasswordCheck,
    Policy, Proof, PublicResponse, SendOutcome, Store, TotpOptions, VerifyOptions,
};

fn code_after(text: &str, marker: &str, digits: usize) -> String {
    let at = text.find(marker).expect("marker") + marker.len();
    code_in(&text[at..], digits)
}

/// Seed 1: email magic link + 6-digit code: 2 min, 3 wrong tries lock 1 h, one active code per
/// email, resend replaces. Email through the real SMTP server.
async fn email_magic_link_and_code(store: Arc<dyn Store>) {
    let h = harness_smtp(store, Policy::email_link_login());
    let user = "ada@example.com";
    h.enrol_email(user, user).await;
    h.advance(60);

    // Magic link: opening inspects, only the explicit confirmation signs in.
    let LoginStart::ChallengeRequired {
        challenge_id,
        methods,
        ..
    } = h
        .mfa
        .begin_email_login(" Ada@Example.com ", &client())
        .await
        .unwrap()
    else {
        panic!("challenge expected")
    };
    assert_eq!(methods, vec![Method::Email]);
    let id = expose(&challenge_id);
    let t0 = h.clock.now_for_test();
    let sent = h
        .mfa
        .send_magic_link(&id, "https://app.test/login", Some("browser-1"))
        .await
        .unwrap();
    assert_eq!(
        sent,
        SendOutcome::Sent {
            expires_at: t0 + Duration::from_secs(120)
        }
    );
    let mail = h.last_mail();
    let token = link_token_in(&mail);
    assert!(mail.contains("https://app.test/login?token="));
    for _ in 0..3 {
        assert_eq!(
            h.mfa.inspect_magic_link(&token).await.unwrap(),
            LinkInspection::Valid {
                expires_at: t0 + Duration::from_secs(120)
            }
        );
    }
    let other_browser = h
        .mfa
        .confirm_magic_link(&token, Some("browser-2"), &client(), VerifyOptions::new())
        .await
        .unwrap();
    assert!(
        matches!(other_browser, Outcome::Rejected { .. }),
        "{other_browser:?}"
    );
    let ok = h
        .mfa
        .confirm_magic_link(&token, Some("browser-1"), &client(), VerifyOptions::new())
        .await
        .unwrap();
    assert!(
        matches!(&ok, Outcome::Verified { user: u, method: Method::Email, .. } if u == user),
        "{ok:?}"
    );
    let again = h
        .mfa
        .confirm_magic_link(&token, Some("browser-1"), &client(), VerifyOptions::new())
        .await
        .unwrap();
    assert!(matches!(again, Outcome::Expired), "{again:?}");
    assert_eq!(
        h.mfa.inspect_magic_link(&token).await.unwrap(),
        LinkInspection::Invalid
    );

    // The code beside the link works too (for the browser holding the challenge id), and
    // lives 2 minutes.
    h.advance(31);
    let id = login_email(&h, user).await;
    let _ = h
        .mfa
        .send_magic_link(&id, "https://app.test/login", None)
        .await
        .unwrap();
    let code = code_after(&h.last_mail(), "type this code:", 6);
    h.advance(121);
    let late = h.verify(&id, Proof::EmailCode(&code)).await;
    assert!(matches!(late, Outcome::Expired), "{late:?}");

    // Resend replaces: the first code stops working, the second works.
    let id = login_email(&h, user).await;
    assert!(matches!(
        h.mfa.send_code(&id, Channel::Email).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    let first = h.last_email_code(6);
    let early = h.mfa.send_code(&id, Channel::Email).await.unwrap();
    assert!(matches!(early, SendOutcome::Cooldown { .. }), "{early:?}");
    h.advance(30);
    assert!(matches!(
        h.mfa.send_code(&id, Channel::Email).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    let second = h.last_email_code(6);
    if first != second {
        let r = h.verify(&id, Proof::EmailCode(&first)).await;
        assert!(matches!(r, Outcome::Rejected { attempts_left: 2 }), "{r:?}");
    }
    let r = h.verify(&id, Proof::EmailCode(&second)).await;
    assert!(r.is_verified(), "{r:?}");

    // One active challenge per email: a new login replaces the old one. (An hour on: the
    // address's hourly send quota of 5 is used up.)
    h.advance(3600);
    let old = login_email(&h, user).await;
    let new = login_email(&h, user).await;
    assert_eq!(
        h.mfa.send_code(&old, Channel::Email).await.unwrap(),
        SendOutcome::NoChallenge
    );

    // 3 wrong tries lock the account for 1 hour, on the third try.
    assert!(matches!(
        h.mfa.send_code(&new, Channel::Email).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    let bad = wrong(&h.last_email_code(6));
    let r1 = h.verify(&new, Proof::EmailCode(&bad)).await;
    let r2 = h.verify(&new, Proof::EmailCode(&bad)).await;
    let locked_at = h.clock.now_for_test();
    let r3 = h.verify(&new, Proof::EmailCode(&bad)).await;
    assert!(
        matches!(r1, Outcome::Rejected { attempts_left: 2 }),
        "{r1:?}"
    );
    assert!(
        matches!(r2, Outcome::Rejected { attempts_left: 1 }),
        "{r2:?}"
    );
    assert!(
        matches!(r3, Outcome::LockedOut { until } if until == locked_at + Duration::from_secs(3600)),
        "{r3:?}"
    );
    // While locked, a new email login looks the same but sends nothing.
    let before = h.mails().len();
    h.advance(3599);
    let decoy = login_email(&h, user).await;
    assert!(matches!(
        h.mfa.send_code(&decoy, Channel::Email).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    assert_eq!(h.mails().len(), before);
    h.advance(1);
    let id = login_email(&h, user).await;
    assert!(matches!(
        h.mfa.send_code(&id, Channel::Email).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    assert_eq!(h.mails().len(), before + 1);

    // Unknown address: the same answers, nothing sent, the same public failure.
    let unknown = login_email(&h, "nobody@example.com").await;
    let s = h.mfa.send_code(&unknown, Channel::Email).await.unwrap();
    assert!(matches!(s, SendOutcome::Sent { .. }));
    assert_eq!(s.public_response(), PublicResponse::SentIfKnown);
    assert_eq!(h.mails().len(), before + 1);
    let v = h.verify(&unknown, Proof::EmailCode("123456")).await;
    let w = h
        .mfa
        .verify(
            &id,
            Proof::EmailCode(&wrong(&h.last_email_code(6))),
            &client(),
            VerifyOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(v.public_response(), PublicResponse::Failed);
    assert_eq!(v.public_response(), w.public_response());
}

async fn login_email(h: &Harness, email: &str) -> String {
    match h.mfa.begin_email_login(email, &client()).await.unwrap() {
        LoginStart::ChallengeRequired { challenge_id, .. } => expose(&challenge_id),
        other => panic!("{other:?}"),
    }
}

/// Seed 2: password, then an email code, then a session: 10 min code, one active per email,
/// expired codes purged, 3 failed password tries lock 10 s, login rate-limited per client.
async fn password_then_email_code(store: Arc<dyn Store>) {
    let h = harness_smtp(store, Policy::password_then_email_code());
    h.enrol_email("bob", "bob@example.com").await;
    h.advance(60);
    let c = client();

    // 3 failed passwords lock the account for 10 s, on the third failure.
    assert_eq!(
        h.mfa.check_password_attempt("bob", &c).await.unwrap(),
        PasswordCheck::Allowed
    );
    assert_eq!(
        h.mfa.record_password_failure("bob", &c).await.unwrap(),
        PasswordCheck::Allowed
    );
    assert_eq!(
        h.mfa.record_password_failure("bob", &c).await.unwrap(),
        PasswordCheck::Allowed
    );
    let t = h.clock.now_for_test();
    assert_eq!(
        h.mfa.record_password_failure("bob", &c).await.unwrap(),
        PasswordCheck::LockedOut {
            until: t + Duration::from_secs(10)
        }
    );
    h.advance(9);
    assert!(matches!(
        h.mfa.check_password_attempt("bob", &c).await.unwrap(),
        PasswordCheck::LockedOut { .. }
    ));
    h.advance(1);
    assert_eq!(
        h.mfa.check_password_attempt("bob", &c).await.unwrap(),
        PasswordCheck::Allowed
    );
    h.mfa.record_password_success("bob", &c).await.unwrap();

    // The code lives 10 minutes.
    let id = h.login("bob").await;
    let t = h.clock.now_for_test();
    assert_eq!(
        h.mfa.send_code(&id, Channel::Email).await.unwrap(),
        SendOutcome::Sent {
            expires_at: t + Duration::from_secs(600)
        }
    );
    let code = h.last_email_code(6);
    h.advance(599);
    let ok = h
        .mfa
        .verify(&id, Proof::EmailCode(&code), &c, VerifyOptions::new())
        .await
        .unwrap();
    assert!(ok.is_verified(), "{ok:?}");

    // Expired codes are purged and no longer verify.
    let id = h.login("bob").await;
    assert!(matches!(
        h.mfa.send_code(&id, Channel::Email).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    let code = h.last_email_code(6);
    h.advance(600);
    // SQL and memory stores delete the expired row here (the kit's `delete_and_purge` checks
    // the count); Redis has already let it expire by TTL and reports 0.
    h.mfa.purge_expired().await.unwrap();
    let late = h
        .mfa
        .verify(&id, Proof::EmailCode(&code), &c, VerifyOptions::new())
        .await
        .unwrap();
    assert!(matches!(late, Outcome::Expired), "{late:?}");

    // One active code per email: a new login's code replaces the previous challenge.
    let first = h.login("bob").await;
    let second = h.login("bob").await;
    assert_eq!(
        h.mfa.send_code(&first, Channel::Email).await.unwrap(),
        SendOutcome::NoChallenge
    );
    assert!(matches!(
        h.mfa.send_code(&second, Channel::Email).await.unwrap(),
        SendOutcome::Sent { .. }
    ));

    // Login rate limit: 10 failed passwords per client network in 15 min, across accounts.
    let attacker = client_at("203.0.113.9");
    for i in 0..9 {
        let r = h
            .mfa
            .record_password_failure(&format!("victim{i}"), &attacker)
            .await
            .unwrap();
        assert_eq!(r, PasswordCheck::Allowed, "failure {i}");
    }
    let r = h
        .mfa
        .record_password_failure("victim9", &attacker)
        .await
        .unwrap();
    assert!(matches!(r, PasswordCheck::LockedOut { .. }), "{r:?}");
    assert!(matches!(
        h.mfa
            .check_password_attempt("someone", &attacker)
            .await
            .unwrap(),
        PasswordCheck::LockedOut { .. }
    ));
    assert_eq!(
        h.mfa
            .check_password_attempt("someone", &client_at("203.0.113.10"))
            .await
            .unwrap(),
        PasswordCheck::Allowed
    );
}

/// Seed 3: mandatory TOTP: 8 digits, ±1 step, 5 tries per 15 min, 10 failures in 1 h lock
/// until an administrator unlocks (with a notice email), recovery codes, sealed secrets.
async fn mandatory_totp(store: Arc<dyn Store>) {
    let h = harness(store.clone(), Policy::mandatory_totp());
    h.set_notice_email("carol", "carol@example.com").await;
    let e = h
        .mfa
        .start_totp_enrollment("carol", "Phone", TotpOptions::new())
        .await
        .unwrap();
    let uri = KeyUri::parse(e.key_uri()).unwrap();
    assert_eq!(uri.digits, Digits::EIGHT);
    assert_eq!(uri.issuer.as_deref(), Some("Acme"));
    assert!(e.key_uri().contains("digits=8"));
    assert!(e.qr_png_data_url().starts_with("data:image/png;base64,"));
    assert!(e.qr_svg().contains("<svg"));
    let secret = e.secret_base32().to_owned();
    // Not active before the first code: no challenge yet.
    assert!(matches!(
        h.mfa.begin_login("carol", None, &client()).await.unwrap(),
        LoginStart::NotRequired
    ));
    let first = totp_code(&secret, 8, Algorithm::Sha1, h.clock.unix_secs());
    let done = h
        .mfa
        .finish_totp_enrollment("carol", &first, &client())
        .await
        .unwrap();
    let EnrollmentOutcome::Confirmed {
        recovery_codes: Some(codes),
    } = done
    else {
        panic!("{done:?}")
    };
    assert_eq!(codes.len(), 10);

    // The activation code cannot sign in (its step is recorded).
    let id = h.login("carol").await;
    let r = h.verify(&id, Proof::Totp(&first)).await;
    assert!(matches!(r, Outcome::Rejected { .. }), "{r:?}");

    // ±1 step: one step back and one ahead are accepted, two back are not.
    h.advance(90);
    let now = h.clock.unix_secs();
    let id = h.login("carol").await;
    let back1 = totp_code(&secret, 8, Algorithm::Sha1, now - 30);
    assert!(h.verify(&id, Proof::Totp(&back1)).await.is_verified());
    h.advance(60);
    let now = h.clock.unix_secs();
    let id = h.login("carol").await;
    let back2 = totp_code(&secret, 8, Algorithm::Sha1, now - 60);
    let r = h.verify(&id, Proof::Totp(&back2)).await;
    assert!(matches!(r, Outcome::Rejected { .. }), "{r:?}");
    let ahead1 = totp_code(&secret, 8, Algorithm::Sha1, now + 30);
    assert!(h.verify(&id, Proof::Totp(&ahead1)).await.is_verified());

    // 5 tries per 15 minutes: the fifth failure refuses further tries until the window ends.
    h.advance(60);
    let id = h.login("carol").await;
    let bad = "00000000";
    for left in (1..5).rev() {
        let r = h.verify(&id, Proof::Totp(bad)).await;
        assert!(
            matches!(r, Outcome::Rejected { attempts_left } if attempts_left == left),
            "{r:?}"
        );
    }
    let t = h.clock.now_for_test();
    let r = h.verify(&id, Proof::Totp(bad)).await;
    assert!(
        matches!(r, Outcome::LockedOut { until } if until == t + Duration::from_secs(900)),
        "{r:?}"
    );
    assert!(matches!(
        h.mfa.begin_login("carol", None, &client()).await.unwrap(),
        LoginStart::LockedOut { .. }
    ));
    let notices_before = h.mails().len();

    // 10 failures within 1 hour lock until an administrator unlocks, with a notice email.
    h.advance(900);
    let id = h.login("carol").await;
    for _ in 0..4 {
        let r = h.verify(&id, Proof::Totp(bad)).await;
        assert!(matches!(r, Outcome::Rejected { .. }), "{r:?}");
    }
    let r = h.verify(&id, Proof::Totp(bad)).await;
    let Outcome::LockedOut { until } = r else {
        panic!("{r:?}")
    };
    assert!(until > h.clock.now_for_test() + Duration::from_secs(365 * 24 * 3600));
    let mails = h.mails();
    assert_eq!(mails.len(), notices_before + 1);
    assert!(mails.last().unwrap().contains("locked"));
    h.advance(7200);
    assert!(matches!(
        h.mfa.begin_login("carol", None, &client()).await.unwrap(),
        LoginStart::LockedOut { .. }
    ));
    h.mfa.admin_unlock("carol", "admin-1").await.unwrap();
    let id = h.login("carol").await;
    let now_code = totp_code(&secret, 8, Algorithm::Sha1, h.clock.unix_secs());
    assert!(h.verify(&id, Proof::Totp(&now_code)).await.is_verified());
    let audit = store.audit_events("carol", 100).await.unwrap();
    assert!(audit.iter().any(|e| e.kind.as_str() == "account.unlocked"));
    assert!(audit.iter().any(|e| e.kind.as_str() == "account.locked"));

    // Recovery codes sign in, once each.
    let rc = codes.expose()[0].to_string();
    let id = h.login("carol").await;
    let r = h.verify(&id, Proof::RecoveryCode(&rc)).await;
    assert!(
        matches!(
            r,
            Outcome::Verified {
                recovery_codes_left: Some(9),
                method: Method::RecoveryCode,
                ..
            }
        ),
        "{r:?}"
    );

    // The secret is sealed at rest, bound to user and factor.
    let factors = store.totp_factors("carol").await.unwrap();
    let raw = mfa::core::Secret::from_base32(&secret).unwrap();
    let sealed = factors[0].sealed_secret.as_bytes();
    assert!(
        !sealed
            .windows(raw.expose_bytes().len())
            .any(|w| w == raw.expose_bytes())
    );
    assert!(
        keyring()
            .open(&factors[0].sealed_secret, "mallory", &factors[0].id)
            .is_err()
    );
}

/// Seed 4: authenticator set-up with QR, first code activates, preferred method, SMS or TOTP
/// challenge, typed errors, trusted devices.
async fn authenticator_setup(store: Arc<dyn Store>) {
    let h = harness(store, Policy::authenticator_setup());
    let e = h
        .mfa
        .start_totp_enrollment(
            "dave",
            "Phone",
            TotpOptions::new()
                .digits(Digits::EIGHT)
                .algorithm(Algorithm::Sha256),
        )
        .await
        .unwrap();
    let uri = KeyUri::parse(e.key_uri()).unwrap();
    assert_eq!(
        (uri.digits, uri.algorithm),
        (Digits::EIGHT, Algorithm::Sha256)
    );
    let secret = e.secret_base32().to_owned();
    let good = totp_code(&secret, 8, Algorithm::Sha256, h.clock.unix_secs());
    // Code mismatch.
    let r = h
        .mfa
        .finish_totp_enrollment("dave", &wrong(&good), &client())
        .await
        .unwrap();
    assert!(matches!(r, EnrollmentOutcome::Rejected { .. }), "{r:?}");
    // First code activates.
    let r = h
        .mfa
        .finish_totp_enrollment("dave", &good, &client())
        .await
        .unwrap();
    assert!(
        matches!(
            r,
            EnrollmentOutcome::Confirmed {
                recovery_codes: Some(_)
            }
        ),
        "{r:?}"
    );
    // Already enabled.
    let r = h
        .mfa
        .finish_totp_enrollment("dave", &good, &client())
        .await
        .unwrap();
    assert!(matches!(r, EnrollmentOutcome::AlreadyEnabled), "{r:?}");
    assert!(matches!(
        h.mfa
            .start_totp_enrollment("dave", "Phone 2", TotpOptions::new())
            .await,
        Err(Error::AlreadyEnabled)
    ));
    // No pending enrolment; expired code.
    let r = h
        .mfa
        .finish_totp_enrollment("erin", "123456", &client())
        .await
        .unwrap();
    assert!(matches!(r, EnrollmentOutcome::NoPendingEnrollment), "{r:?}");
    h.mfa
        .start_totp_enrollment("erin", "Phone", TotpOptions::new())
        .await
        .unwrap();
    h.advance(15 * 60);
    let r = h
        .mfa
        .finish_totp_enrollment("erin", "123456", &client())
        .await
        .unwrap();
    assert!(matches!(r, EnrollmentOutcome::Expired), "{r:?}");

    // SMS as a second factor; TOTP stays preferred (first enrolled).
    h.advance(60);
    assert!(matches!(
        h.mfa
            .start_sms_enrollment("dave", "+1 (415) 555-0100")
            .await
            .unwrap(),
        SendOutcome::Sent { .. }
    ));
    assert_eq!(h.sms.last().unwrap().to().as_str(), "+14155550100");
    let code = h.last_sms_code(6);
    let r = h
        .mfa
        .finish_sms_enrollment("dave", "+14155550100", &code, &client())
        .await
        .unwrap();
    assert!(
        matches!(
            r,
            EnrollmentOutcome::Confirmed {
                recovery_codes: None
            }
        ),
        "{r:?}"
    );
    assert_eq!(
        h.methods("dave").await,
        vec![Method::Totp, Method::Sms, Method::RecoveryCode]
    );

    // Not authorised without a step-up grant; with one, the preferred method changes.
    assert!(matches!(
        h.mfa
            .set_preferred_method("dave", Method::Sms, "not-a-grant")
            .await,
        Err(Error::NotAuthorised)
    ));
    let LoginStart::ChallengeRequired { challenge_id, .. } =
        h.mfa.begin_step_up("dave", &client()).await.unwrap()
    else {
        panic!()
    };
    h.advance(30);
    let code = totp_code(&secret, 8, Algorithm::Sha256, h.clock.unix_secs());
    let r = h
        .mfa
        .verify(
            &expose(&challenge_id),
            Proof::Totp(&code),
            &client(),
            VerifyOptions::new().grant_step_up(),
        )
        .await
        .unwrap();
    let Outcome::Verified {
        step_up: Some(grant),
        ..
    } = r
    else {
        panic!("{r:?}")
    };
    let grant = grant.expose().to_string();
    h.mfa
        .set_preferred_method("dave", Method::Sms, &grant)
        .await
        .unwrap();
    assert_eq!(h.methods("dave").await[0], Method::Sms);
    // Another user's grant does not authorise.
    assert!(matches!(
        h.mfa
            .set_preferred_method("erin", Method::Sms, &grant)
            .await,
        Err(Error::NotAuthorised)
    ));

    // SMS challenge; the SMS code is refused as an email code (only the named factor counts).
    h.advance(60);
    let id = h.login("dave").await;
    assert!(matches!(
        h.mfa.send_code(&id, Channel::Sms).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    let code = h.last_sms_code(6);
    let r = h.verify(&id, Proof::EmailCode(&code)).await;
    assert!(matches!(r, Outcome::Rejected { .. }), "{r:?}");
    let r = h
        .mfa
        .verify(
            &id,
            Proof::SmsCode(&code),
            &client(),
            VerifyOptions::new().trust_device("Laptop"),
        )
        .await
        .unwrap();
    let Outcome::Verified {
        trusted_device_token: Some(device),
        method: Method::Sms,
        ..
    } = r
    else {
        panic!("{r:?}")
    };
    let device = device.expose().to_string();

    // Trusted device: skips the second factor, rotated on each use; the old token stops.
    let LoginStart::TrustedDevice { rotated_token } = h
        .mfa
        .begin_login("dave", Some(&device), &client())
        .await
        .unwrap()
    else {
        panic!()
    };
    let rotated = rotated_token.expose().to_string();
    assert!(matches!(
        h.mfa
            .begin_login("dave", Some(&device), &client())
            .await
            .unwrap(),
        LoginStart::ChallengeRequired { .. }
    ));
    // Per user: another user cannot use dave's token.
    h.enrol_email("frank", "frank@example.com").await;
    assert!(matches!(
        h.mfa
            .begin_login("frank", Some(&rotated), &client())
            .await
            .unwrap(),
        LoginStart::ChallengeRequired { .. }
    ));
    let LoginStart::TrustedDevice { rotated_token } = h
        .mfa
        .begin_login("dave", Some(&rotated), &client())
        .await
        .unwrap()
    else {
        panic!()
    };
    let listed = h.mfa.trusted_devices("dave").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].label, "Laptop");
    assert_eq!(
        listed[0].expires_at,
        listed[0].created_at + Duration::from_secs(30 * 86400)
    );
    assert!(
        h.mfa
            .revoke_trusted_device("dave", &listed[0].id)
            .await
            .unwrap()
    );
    let token = rotated_token.expose().to_string();
    assert!(matches!(
        h.mfa
            .begin_login("dave", Some(&token), &client())
            .await
            .unwrap(),
        LoginStart::ChallengeRequired { .. }
    ));

    // The grant expires after 10 minutes.
    h.advance(10 * 60);
    assert!(matches!(
        h.mfa.disable_factor("dave", Method::Sms, &grant).await,
        Err(Error::NotAuthorised)
    ));
}

/// Seed 5: TOTP + 10 backup codes + SMS fallback: codes shown once, single use; SMS code
/// 5 minutes; ±1 step.
async fn totp_backup_codes_sms(store: Arc<dyn Store>) {
    let h = harness(store, Policy::totp_backup_sms());
    let e = h
        .mfa
        .start_totp_enrollment("gina", "Phone", TotpOptions::new())
        .await
        .unwrap();
    let secret = e.secret_base32().to_owned();
    let code = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs());
    let EnrollmentOutcome::Confirmed {
        recovery_codes: Some(codes),
    } = h
        .mfa
        .finish_totp_enrollment("gina", &code, &client())
        .await
        .unwrap()
    else {
        panic!()
    };
    let shown: Vec<String> = codes.expose().iter().map(|c| c.to_string()).collect();
    assert_eq!(shown.len(), 10);
    let mut unique = shown.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10);
    assert!(
        shown
            .iter()
            .all(|c| c.len() == 19 && c.matches('-').count() == 3)
    );
    assert!(!format!("{codes:?}").contains(&shown[0]));
    assert_eq!(h.mfa.recovery_codes_left("gina").await.unwrap(), 10);

    // SMS fallback with a 5-minute code.
    let _ = h
        .mfa
        .start_sms_enrollment("gina", "+447700900123")
        .await
        .unwrap();
    let sms = h.last_sms_code(6);
    let r = h
        .mfa
        .finish_sms_enrollment("gina", "+447700900123", &sms, &client())
        .await
        .unwrap();
    assert!(
        matches!(
            r,
            EnrollmentOutcome::Confirmed {
                recovery_codes: None
            }
        ),
        "{r:?}"
    );
    h.advance(60);
    let id = h.login("gina").await;
    let t = h.clock.now_for_test();
    assert_eq!(
        h.mfa.send_code(&id, Channel::Sms).await.unwrap(),
        SendOutcome::Sent {
            expires_at: t + Duration::from_secs(300)
        }
    );
    let sms = h.last_sms_code(6);
    h.advance(300);
    let r = h.verify(&id, Proof::SmsCode(&sms)).await;
    assert!(matches!(r, Outcome::Expired), "{r:?}");
    let id = h.login("gina").await;
    assert!(matches!(
        h.mfa.send_code(&id, Channel::Sms).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    h.advance(299);
    let sms = h.last_sms_code(6);
    assert!(h.verify(&id, Proof::SmsCode(&sms)).await.is_verified());

    // Backup codes: single use, typed loosely.
    let id = h.login("gina").await;
    let loose = shown[3].to_lowercase().replace('-', " ");
    let r = h.verify(&id, Proof::RecoveryCode(&loose)).await;
    assert!(
        matches!(
            r,
            Outcome::Verified {
                recovery_codes_left: Some(9),
                ..
            }
        ),
        "{r:?}"
    );
    let id = h.login("gina").await;
    let r = h.verify(&id, Proof::RecoveryCode(&shown[3])).await;
    assert!(matches!(r, Outcome::Rejected { .. }), "{r:?}");

    // ±1 step.
    h.advance(30);
    let id = h.login("gina").await;
    let prev = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs() - 30);
    assert!(h.verify(&id, Proof::Totp(&prev)).await.is_verified());

    // Regenerating replaces the whole set (step-up required).
    h.advance(30);
    let LoginStart::ChallengeRequired { challenge_id, .. } =
        h.mfa.begin_step_up("gina", &client()).await.unwrap()
    else {
        panic!()
    };
    let now_code = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs());
    let Outcome::Verified {
        step_up: Some(grant),
        ..
    } = h
        .mfa
        .verify(
            &expose(&challenge_id),
            Proof::Totp(&now_code),
            &client(),
            VerifyOptions::new().grant_step_up(),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let fresh = h
        .mfa
        .regenerate_recovery_codes("gina", &grant.expose())
        .await
        .unwrap();
    assert_eq!(fresh.len(), 10);
    assert_eq!(h.mfa.recovery_codes_left("gina").await.unwrap(), 10);
    let id = h.login("gina").await;
    let r = h.verify(&id, Proof::RecoveryCode(&shown[0])).await;
    assert!(matches!(r, Outcome::Rejected { .. }), "{r:?}");
    let id = h.login("gina").await;
    let new_code = fresh.expose()[0].to_string();
    assert!(
        h.verify(&id, Proof::RecoveryCode(&new_code))
            .await
            .is_verified()
    );
}

trait NowForTest {
    fn now_for_test(&self) -> std::time::SystemTime;
}
impl NowForTest for mfa::ManualClock {
    fn now_for_test(&self) -> std::time::SystemTime {
        mfa::Clock::now(self)
    }
}

scenarios!([memory, sqlite, postgres, mysql, redis]: { email_magic_link_and_code, password_then_email_code, mandatory_totp, authenticator_setup, totp_backup_codes_sms });
