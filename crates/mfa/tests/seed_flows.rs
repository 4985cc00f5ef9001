//! One test per seed flow of DESIGN.md, asserting its numbers with a manual clock. The seed's
//! limits apply to unrecognised contexts (a stranger's network); the user's own network, once a
//! login completed from it, keeps a budget of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use mfa::Clock as _;
use mfa::core::{Algorithm, Digits, KeyUri};
use mfa::{
    Authority, ChallengeId, Channel, ClientInfo, EnrollmentOutcome, Error, LinkInspection,
    LoginStart, MagicLinkToken, Method, Outcome, PasswordVerdict, Policy, Proof, PublicResponse,
    SendOutcome, Store, TotpOptions, VerifyOptions,
};

fn code_after(text: &str, marker: &str, digits: usize) -> String {
    let at = text.find(marker).expect("marker") + marker.len();
    code_in(&text[at..], digits)
}

async fn login_email(h: &Harness, address: &str, from: &ClientInfo) -> ChallengeId {
    match h
        .mfa
        .begin_email_login(&email(address), from)
        .await
        .unwrap()
    {
        LoginStart::ChallengeRequired { challenge_id, .. } => challenge_id,
        other => panic!("{other:?}"),
    }
}

/// Seed 1: email magic link + 6-digit code: 2 min, 3 wrong tries lock 1 h, one active code per
/// ticket, resend replaces. Email through the real SMTP server.
async fn email_magic_link_and_code(store: Arc<dyn Store>) {
    let h = harness_smtp(store, Policy::email_link_login());
    let user = "ada@example.com";
    h.enrol_email(user, user).await;
    h.advance(60);

    // Magic link: opening inspects, only the explicit confirmation signs in, only in the
    // browser that asked for it.
    let id = login_email(&h, " Ada@Example.com ", &client()).await;
    let t0 = h.now();
    let sent = h
        .mfa
        .send_magic_link(&id, "https://app.test/login", Some("browser-1"), &client())
        .await
        .unwrap();
    assert_eq!(
        sent,
        SendOutcome::Sent {
            expires_at: t0 + Duration::from_secs(120)
        }
    );
    let mail = h.last_mail();
    let token: MagicLinkToken = token_in(&mail).parse().unwrap();
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
    let id = login_email(&h, user, &client()).await;
    let _ = h
        .mfa
        .send_magic_link(&id, "https://app.test/login", None, &client())
        .await
        .unwrap();
    let code = code_after(&h.last_mail(), "type this code:", 6);
    h.advance(121);
    let late = h.verify(&id, Proof::EmailCode(&code)).await;
    assert!(matches!(late, Outcome::Expired), "{late:?}");

    // Resend replaces: the first code stops working, the second works.
    let id = login_email(&h, user, &client()).await;
    assert!(matches!(
        h.send(&id, Channel::Email).await,
        SendOutcome::Sent { .. }
    ));
    let first = h.last_email_code(6);
    let early = h.send(&id, Channel::Email).await;
    assert!(matches!(early, SendOutcome::Cooldown { .. }), "{early:?}");
    h.advance(30);
    assert!(matches!(
        h.send(&id, Channel::Email).await,
        SendOutcome::Sent { .. }
    ));
    let second = h.last_email_code(6);
    if first != second {
        let r = h.verify(&id, Proof::EmailCode(&first)).await;
        assert!(matches!(r, Outcome::Rejected { attempts_left: 2 }), "{r:?}");
    }
    let r = h.verify(&id, Proof::EmailCode(&second)).await;
    assert!(r.is_verified(), "{r:?}");

    // One active ticket per network: a new login from the same network replaces the old one;
    // one from another network does not. (An hour on: the hourly send quota is used up.)
    h.advance(3600);
    let old = login_email(&h, user, &client()).await;
    let new = login_email(&h, user, &client()).await;
    assert_eq!(h.send(&old, Channel::Email).await, SendOutcome::NoChallenge);

    // A stranger's 3 wrong tries lock the account for 1 hour against strangers, on the third.
    let attacker = stranger(1);
    let theirs = login_email(&h, user, &attacker).await;
    assert!(matches!(
        h.mfa
            .send_code(&theirs, Channel::Email, &attacker)
            .await
            .unwrap(),
        SendOutcome::Sent { .. }
    ));
    let bad = wrong(&h.last_email_code(6));
    let r1 = h
        .verify_from(&theirs, Proof::EmailCode(&bad), &attacker)
        .await;
    let r2 = h
        .verify_from(&theirs, Proof::EmailCode(&bad), &attacker)
        .await;
    let locked_at = h.now();
    let r3 = h
        .verify_from(&theirs, Proof::EmailCode(&bad), &attacker)
        .await;
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
    assert!(h.last_mail().contains("is locked for 60 min"));
    // The user's own login, started before the attack from their usual network, is neither
    // cancelled by the stranger's login nor locked: it gets its code and signs in.
    assert!(matches!(
        h.send(&new, Channel::Email).await,
        SendOutcome::Sent { .. }
    ));
    let mine = h.last_email_code(6);
    assert!(h.verify(&new, Proof::EmailCode(&mine)).await.is_verified());
    // While locked, a stranger's new email login is refused until the lock ends ...
    let before = h.mails().len();
    h.advance(3599);
    let refused = h
        .mfa
        .begin_email_login(&email(user), &stranger(2))
        .await
        .unwrap();
    assert!(
        matches!(refused, LoginStart::LockedOut { until } if until == locked_at + Duration::from_secs(3600)),
        "{refused:?}"
    );
    assert_eq!(h.mails().len(), before);
    // ... while the user's own new login signs in.
    let own = login_email(&h, user, &client()).await;
    assert!(matches!(
        h.send(&own, Channel::Email).await,
        SendOutcome::Sent { .. }
    ));
    let mine = h.last_email_code(6);
    assert!(h.verify(&own, Proof::EmailCode(&mine)).await.is_verified());
    h.advance(1);
    let id = login_email(&h, user, &stranger(2)).await;
    let before = h.mails().len();
    assert!(matches!(
        h.mfa
            .send_code(&id, Channel::Email, &stranger(2))
            .await
            .unwrap(),
        SendOutcome::Sent { .. }
    ));
    assert_eq!(h.mails().len(), before + 1, "the lock ended after one hour");

    // Unknown address: the same answers, nothing sent, the same public failure.
    let unknown = login_email(&h, "nobody@example.com", &client()).await;
    let s = h.send(&unknown, Channel::Email).await;
    assert!(matches!(s, SendOutcome::Sent { .. }));
    assert_eq!(s.public_response(), PublicResponse::SentIfKnown);
    assert_eq!(h.mails().len(), before + 1);
    let v = h.verify(&unknown, Proof::EmailCode("123456")).await;
    let w = h
        .verify_from(
            &id,
            Proof::EmailCode(&wrong(&h.last_email_code(6))),
            &stranger(2),
        )
        .await;
    assert_eq!(v.public_response(), PublicResponse::Failed);
    assert_eq!(v.public_response(), w.public_response());
    // ... and it counts and locks exactly as a known address does (above): the second and
    // third wrong tries, then a refused login, and still nothing sent anywhere.
    let v2 = h.verify(&unknown, Proof::EmailCode("123456")).await;
    let unknown_locked_at = h.now();
    let v3 = h.verify(&unknown, Proof::EmailCode("123456")).await;
    assert!(matches!(v, Outcome::Rejected { attempts_left: 2 }), "{v:?}");
    assert!(
        matches!(v2, Outcome::Rejected { attempts_left: 1 }),
        "{v2:?}"
    );
    assert!(
        matches!(v3, Outcome::LockedOut { until } if until == unknown_locked_at + Duration::from_secs(3600)),
        "{v3:?}"
    );
    let refused = h
        .mfa
        .begin_email_login(&email("nobody@example.com"), &stranger(3))
        .await
        .unwrap();
    assert!(
        matches!(refused, LoginStart::LockedOut { .. }),
        "{refused:?}"
    );
    assert_eq!(
        h.mails().len(),
        before + 1,
        "nothing is sent for an unknown address"
    );
}

/// Seed 2: password, then an email code, then a session: 10 min code, one active per ticket,
/// expired codes purged, 3 failed password tries lock 10 s, login rate-limited per network.
async fn password_then_email_code(store: Arc<dyn Store>) {
    let h = harness_smtp(store, Policy::password_then_email_code());
    h.enrol_email("bob", "bob@example.com").await;
    h.advance(60);
    let c = stranger(7);
    let wrong_password = || async { PasswordVerdict::Wrong };
    let right_password = || async { PasswordVerdict::Correct };

    // 3 failed passwords from an unrecognised network lock it for 10 s, on the third failure.
    for _ in 0..2 {
        let r = h
            .mfa
            .password_step("bob", None, &c, wrong_password)
            .await
            .unwrap();
        assert!(matches!(r, LoginStart::PasswordRejected), "{r:?}");
    }
    let t = h.now();
    let r = h
        .mfa
        .password_step("bob", None, &c, wrong_password)
        .await
        .unwrap();
    assert!(
        matches!(r, LoginStart::LockedOut { until } if until == t + Duration::from_secs(10)),
        "{r:?}"
    );
    h.advance(9);
    let mut checked = false;
    let r = h
        .mfa
        .password_step("bob", None, &c, || {
            checked = true;
            async { PasswordVerdict::Correct }
        })
        .await
        .unwrap();
    assert!(matches!(r, LoginStart::LockedOut { .. }), "{r:?}");
    assert!(
        !checked,
        "a refused attempt never reaches the password check"
    );
    h.advance(1);
    let r = h
        .mfa
        .password_step("bob", None, &c, right_password)
        .await
        .unwrap();
    assert!(matches!(r, LoginStart::ChallengeRequired { .. }), "{r:?}");

    // The code lives 10 minutes.
    let id = h.login("bob").await;
    let t = h.now();
    assert_eq!(
        h.send(&id, Channel::Email).await,
        SendOutcome::Sent {
            expires_at: t + Duration::from_secs(600)
        }
    );
    let code = h.last_email_code(6);
    h.advance(599);
    let ok = h.verify(&id, Proof::EmailCode(&code)).await;
    assert!(ok.is_verified(), "{ok:?}");

    // Expired codes are purged and no longer verify.
    let id = h.login("bob").await;
    assert!(matches!(
        h.send(&id, Channel::Email).await,
        SendOutcome::Sent { .. }
    ));
    let code = h.last_email_code(6);
    h.advance(600);
    // SQL and memory stores delete the expired row here (the kit's `delete_and_purge` checks
    // the count); Redis has already let it expire by TTL and reports 0.
    h.mfa.purge_expired().await.unwrap();
    let late = h.verify(&id, Proof::EmailCode(&code)).await;
    assert!(matches!(late, Outcome::Expired), "{late:?}");

    // One active code per ticket: a new login from the same network replaces the previous one.
    let first = h.login("bob").await;
    let second = h.login("bob").await;
    assert_eq!(
        h.send(&first, Channel::Email).await,
        SendOutcome::NoChallenge
    );
    assert!(matches!(
        h.send(&second, Channel::Email).await,
        SendOutcome::Sent { .. }
    ));

    // Login rate limit: 10 failed passwords per network in 15 min, across accounts; the tenth
    // is answered with the lock.
    let attacker = client_at("203.0.113.9");
    for i in 0..10 {
        let r = h
            .mfa
            .password_step(&format!("victim{i}"), None, &attacker, wrong_password)
            .await
            .unwrap();
        if i < 9 {
            assert!(
                matches!(r, LoginStart::PasswordRejected),
                "failure {i}: {r:?}"
            );
        } else {
            assert!(
                matches!(r, LoginStart::LockedOut { .. }),
                "failure {i}: {r:?}"
            );
        }
    }
    let r = h
        .mfa
        .password_step("someone", None, &attacker, right_password)
        .await
        .unwrap();
    assert!(matches!(r, LoginStart::LockedOut { .. }), "{r:?}");
    let r = h
        .mfa
        .password_step("someone", None, &client_at("203.0.113.10"), right_password)
        .await
        .unwrap();
    assert!(matches!(r, LoginStart::NotRequired), "{r:?}");
}

/// Seed 3: mandatory TOTP: enrolment required, 8 digits, ±1 step, 5 tries per 15 min, 10
/// failures in 1 h lock until unlocked (with a notice that says so), recovery codes, sealed
/// secrets, the enrolment's completion time and the unlocking administrator recorded.
async fn mandatory_totp(store: Arc<dyn Store>) {
    let h = harness(store.clone(), Policy::mandatory_totp());
    // No settings at all: enrolment required, no session.
    assert!(matches!(
        h.mfa.begin_login("carol", None, &client()).await.unwrap(),
        LoginStart::EnrollmentRequired
    ));
    h.set_notice_email("carol", "carol@example.com").await;
    let e = h
        .mfa
        .start_totp_enrollment(
            "carol",
            Authority::FirstFactor,
            "Phone",
            TotpOptions::new(),
            &client(),
        )
        .await
        .unwrap();
    let uri = KeyUri::parse(e.key_uri()).unwrap();
    assert_eq!(uri.digits, Digits::EIGHT);
    assert_eq!(uri.issuer.as_deref(), Some("Acme"));
    assert!(e.key_uri().contains("digits=8"));
    assert!(e.qr_png_data_url().starts_with("data:image/png;base64,"));
    assert!(e.qr_svg().contains("<svg"));
    let secret = e.secret_base32().to_owned();
    // Not active before the first code: still enrolment required, never a session.
    assert!(matches!(
        h.mfa.begin_login("carol", None, &client()).await.unwrap(),
        LoginStart::EnrollmentRequired
    ));
    let first = totp_code(&secret, 8, Algorithm::Sha1, h.clock.unix_secs());
    let confirmed_at = h.now();
    let done = h
        .mfa
        .finish_totp_enrollment("carol", Authority::FirstFactor, &first, &client())
        .await
        .unwrap();
    let EnrollmentOutcome::Confirmed {
        recovery_codes: Some(codes),
    } = done
    else {
        panic!("{done:?}")
    };
    assert_eq!(codes.len(), 10);
    let factors = store.totp_factors("carol").await.unwrap();
    assert_eq!(factors[0].confirmed_at, Some(confirmed_at));

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

    // From a stranger's network: 5 tries per 15 minutes; the fifth failure refuses further
    // tries until the window ends. (Past the hour of the replayed activation code's failure.)
    h.advance(3601);
    let attacker = stranger(3);
    let id = h.login_from("carol", &attacker).await;
    let bad = "00000000";
    for left in (1..5).rev() {
        let r = h.verify_from(&id, Proof::Totp(bad), &attacker).await;
        assert!(
            matches!(r, Outcome::Rejected { attempts_left } if attempts_left == left),
            "{r:?}"
        );
    }
    let t = h.now();
    let r = h.verify_from(&id, Proof::Totp(bad), &attacker).await;
    assert!(
        matches!(r, Outcome::LockedOut { until } if until == t + Duration::from_secs(900)),
        "{r:?}"
    );
    assert!(matches!(
        h.mfa.begin_login("carol", None, &attacker).await.unwrap(),
        LoginStart::LockedOut { .. }
    ));
    let notices_before = h.mails().len();

    // 10 failures within 1 hour lock strangers out until unlocked, with a notice that says an
    // administrator (or the link) must act, never a number of minutes.
    h.advance(900);
    let id = h.login_from("carol", &attacker).await;
    for _ in 0..4 {
        let r = h.verify_from(&id, Proof::Totp(bad), &attacker).await;
        assert!(matches!(r, Outcome::Rejected { .. }), "{r:?}");
    }
    let r = h.verify_from(&id, Proof::Totp(bad), &attacker).await;
    let Outcome::LockedOut { until } = r else {
        panic!("{r:?}")
    };
    assert!(until > h.now() + Duration::from_secs(365 * 24 * 3600));
    let mails = h.mails();
    assert_eq!(mails.len(), notices_before + 1);
    let notice = mails.last().unwrap();
    assert!(notice.contains("until it is unlocked"), "{notice}");
    assert!(!notice.contains(" min"), "{notice}");
    h.advance(7200);
    assert!(matches!(
        h.mfa
            .begin_login("carol", None, &stranger(4))
            .await
            .unwrap(),
        LoginStart::LockedOut { .. }
    ));
    // The user's own network is not locked out.
    let id = h.login("carol").await;
    let now_code = totp_code(&secret, 8, Algorithm::Sha1, h.clock.unix_secs());
    assert!(h.verify(&id, Proof::Totp(&now_code)).await.is_verified());
    h.mfa.admin_unlock("carol", "admin-1").await.unwrap();
    h.advance(30);
    let id = h.login_from("carol", &stranger(4)).await;
    let now_code = totp_code(&secret, 8, Algorithm::Sha1, h.clock.unix_secs());
    assert!(
        h.verify_from(&id, Proof::Totp(&now_code), &stranger(4))
            .await
            .is_verified()
    );
    let audit = store.audit_events("carol", 100).await.unwrap();
    let unlock = audit
        .iter()
        .find(|e| e.kind.as_str() == "account.unlocked")
        .unwrap();
    assert_eq!(
        unlock.actor.as_deref(),
        Some("admin-1"),
        "the administrator is recorded"
    );
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
            Authority::FirstFactor,
            "Phone",
            TotpOptions::new()
                .digits(Digits::EIGHT)
                .algorithm(Algorithm::Sha256),
            &client(),
        )
        .await
        .unwrap();
    let uri = KeyUri::parse(e.key_uri()).unwrap();
    assert_eq!(
        (uri.digits, uri.algorithm),
        (Digits::EIGHT, Algorithm::Sha256)
    );
    let secret = e.secret_base32().to_owned();
    let first = Authority::FirstFactor;
    let good = totp_code(&secret, 8, Algorithm::Sha256, h.clock.unix_secs());
    // Code mismatch.
    let r = h
        .mfa
        .finish_totp_enrollment("dave", first, &wrong(&good), &client())
        .await
        .unwrap();
    assert!(matches!(r, EnrollmentOutcome::Rejected { .. }), "{r:?}");
    // First code activates.
    let r = h
        .mfa
        .finish_totp_enrollment("dave", first, &good, &client())
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
    // Not authorised any more without a step-up grant: dave has an active factor.
    assert!(matches!(
        h.mfa
            .finish_totp_enrollment("dave", first, &good, &client())
            .await,
        Err(Error::NotAuthorised)
    ));
    // No pending enrolment; expired code.
    let r = h
        .mfa
        .finish_totp_enrollment("erin", first, "123456", &client())
        .await
        .unwrap();
    assert!(matches!(r, EnrollmentOutcome::NoPendingEnrollment), "{r:?}");
    h.mfa
        .start_totp_enrollment("erin", first, "Phone", TotpOptions::new(), &client())
        .await
        .unwrap();
    h.advance(15 * 60);
    let r = h
        .mfa
        .finish_totp_enrollment("erin", first, "123456", &client())
        .await
        .unwrap();
    assert!(matches!(r, EnrollmentOutcome::Expired), "{r:?}");

    let grant = step_up(&h, &secret).await;
    // Already enabled.
    assert!(matches!(
        h.mfa
            .start_totp_enrollment(
                "dave",
                Authority::StepUp(&grant),
                "Phone 2",
                TotpOptions::new(),
                &client()
            )
            .await,
        Err(Error::AlreadyEnabled)
    ));

    // SMS as a second factor (behind the grant); TOTP stays preferred (first enrolled).
    h.advance(60);
    let number = phone("+1 (415) 555-0100");
    assert!(matches!(
        h.mfa
            .start_sms_enrollment("dave", Authority::StepUp(&grant), &number, &client())
            .await
            .unwrap(),
        SendOutcome::Sent { .. }
    ));
    assert_eq!(h.sms.last().unwrap().to().as_str(), "+14155550100");
    let code = h.last_sms_code(6);
    let r = h
        .mfa
        .finish_sms_enrollment("dave", Authority::StepUp(&grant), &number, &code, &client())
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

    // Not authorised without a live grant; with one, the preferred method changes.
    let forged: mfa::StepUpGrant = "A".repeat(43).parse().unwrap();
    assert!(matches!(
        h.mfa
            .set_preferred_method("dave", Method::Sms, &forged)
            .await,
        Err(Error::NotAuthorised)
    ));
    let grant = step_up(&h, &secret).await;
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
        h.send(&id, Channel::Sms).await,
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

    // Trusted device: skips the second factor, rotated on each use; the old token stops.
    let LoginStart::TrustedDevice { rotated_token } = h
        .mfa
        .begin_login("dave", Some(&device), &client())
        .await
        .unwrap()
    else {
        panic!()
    };
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
            .begin_login("frank", Some(&rotated_token), &client())
            .await
            .unwrap(),
        LoginStart::ChallengeRequired { .. }
    ));
    let LoginStart::TrustedDevice { rotated_token } = h
        .mfa
        .begin_login("dave", Some(&rotated_token), &client())
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
    assert!(matches!(
        h.mfa
            .begin_login("dave", Some(&rotated_token), &client())
            .await
            .unwrap(),
        LoginStart::ChallengeRequired { .. }
    ));

    // The grant expires after 10 minutes.
    h.advance(10 * 60);
    assert!(matches!(
        h.mfa
            .disable_factor("dave", Method::Sms, &grant, &client())
            .await,
        Err(Error::NotAuthorised)
    ));
}

/// A step-up grant for dave, from his authenticator (8 digits, SHA-256).
async fn step_up(h: &Harness, secret: &str) -> mfa::StepUpGrant {
    h.advance(30);
    let LoginStart::ChallengeRequired { challenge_id, .. } =
        h.mfa.begin_step_up("dave", &client()).await.unwrap()
    else {
        panic!()
    };
    let code = totp_code(secret, 8, Algorithm::Sha256, h.clock.unix_secs());
    let r = h
        .mfa
        .verify(
            &challenge_id,
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
    grant
}

/// Seed 5: TOTP + 10 backup codes + SMS fallback: codes shown once, single use; SMS code
/// 5 minutes; ±1 step.
async fn totp_backup_codes_sms(store: Arc<dyn Store>) {
    let h = harness(store, Policy::totp_backup_sms());
    let (secret, _, shown) = h.enrol_totp_codes("gina", TotpOptions::new()).await;
    assert_eq!(shown.len(), 10);
    let mut unique = shown.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10);
    assert!(
        shown
            .iter()
            .all(|c| c.len() == 29 && c.matches('-').count() == 5),
        "six groups of four: 120 bits"
    );
    assert_eq!(h.mfa.recovery_codes_left("gina").await.unwrap(), 10);

    // SMS fallback with a 5-minute code (a change of factors: behind a step-up grant).
    let grant = h.grant("gina", &secret).await;
    let number = phone("+447700900123");
    let _ = h
        .mfa
        .start_sms_enrollment("gina", Authority::StepUp(&grant), &number, &client())
        .await
        .unwrap();
    let sms = h.last_sms_code(6);
    let r = h
        .mfa
        .finish_sms_enrollment("gina", Authority::StepUp(&grant), &number, &sms, &client())
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
    let t = h.now();
    assert_eq!(
        h.send(&id, Channel::Sms).await,
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
        h.send(&id, Channel::Sms).await,
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
    let grant = h.grant("gina", &secret).await;
    let fresh = h
        .mfa
        .regenerate_recovery_codes("gina", &grant)
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

scenarios!([memory, sqlite, postgres, mysql, redis, redis_cluster]: { email_magic_link_and_code, password_then_email_code, mandatory_totp, authenticator_setup, totp_backup_codes_sms });
