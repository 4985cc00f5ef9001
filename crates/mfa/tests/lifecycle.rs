//! The factor lifecycle, attacked by someone who holds a signed-in session: every change needs
//! a step-up grant once a factor is active, notices reach the old and the new address, a
//! replacement mints no recovery codes, changes end what was issued before them, mandatory MFA
//! fails closed, and send quotas do not split by the case of an address.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use mfa::Clock as _;
use mfa::core::Algorithm;
use mfa::store::MfaSettings;
use mfa::{
    Authority, Channel, EnrollmentOutcome, Error, LoginStart, Method, Outcome, PasswordVerdict,
    Policy, Proof, SendOutcome, Store, TotpOptions, VerifyOptions,
};

/// With an active factor, a session alone (no grant) can add or replace no factor; the first
/// enrolment needs none.
async fn every_change_needs_a_step_up_once_a_factor_is_active(store: Arc<dyn Store>) {
    let h = harness(store, Policy::authenticator_setup());
    let (secret, _) = h.enrol_totp("sam", TotpOptions::new()).await;
    let first = Authority::FirstFactor;
    let attacker_mail = email("mallory@evil.test");
    let attacker_phone = phone("+15550000666");
    assert!(matches!(
        h.mfa
            .start_email_enrollment("sam", first, &attacker_mail, &client())
            .await,
        Err(Error::NotAuthorised)
    ));
    assert!(matches!(
        h.mfa
            .start_sms_enrollment("sam", first, &attacker_phone, &client())
            .await,
        Err(Error::NotAuthorised)
    ));
    assert!(matches!(
        h.mfa
            .start_totp_enrollment("sam", first, "Evil", TotpOptions::new(), &client())
            .await,
        Err(Error::NotAuthorised)
    ));
    assert!(matches!(
        h.mfa
            .finish_email_enrollment("sam", first, &attacker_mail, "123456", &client())
            .await,
        Err(Error::NotAuthorised)
    ));
    assert!(
        h.mails().is_empty() && h.sms.sent().is_empty(),
        "nothing was sent"
    );
    // Another user's grant does not authorise either.
    let (other_secret, _) = h.enrol_totp("ola", TotpOptions::new()).await;
    let other_grant = h.grant("ola", &other_secret).await;
    assert!(matches!(
        h.mfa
            .start_email_enrollment(
                "sam",
                Authority::StepUp(&other_grant),
                &attacker_mail,
                &client()
            )
            .await,
        Err(Error::NotAuthorised)
    ));
    // With sam's own grant, the change goes through.
    let grant = h.grant("sam", &secret).await;
    h.enrol_email_as("sam", "sam@example.com", Authority::StepUp(&grant))
        .await;
}

/// A replaced email address: the notice goes to the previous address as well as the new one,
/// naming the factor in words; a replaced phone gets a text on the old number.
async fn change_notices_reach_the_previous_and_the_new_address(store: Arc<dyn Store>) {
    let h = harness(store, Policy::authenticator_setup());
    let (secret, _) = h.enrol_totp("nia", TotpOptions::new()).await;
    let grant = h.grant("nia", &secret).await;
    h.enrol_email_as("nia", "nia@example.com", Authority::StepUp(&grant))
        .await;
    let added = h.last_mail();
    assert!(added.contains("email address ...@example.com"), "{added}");
    assert!(!added.contains("(email)") && !added.contains("(totp)"));
    let number = phone("+14155550100");
    let _ = h
        .mfa
        .start_sms_enrollment("nia", Authority::StepUp(&grant), &number, &client())
        .await
        .unwrap();
    let code = h.last_sms_code(6);
    let _ = h
        .mfa
        .finish_sms_enrollment("nia", Authority::StepUp(&grant), &number, &code, &client())
        .await
        .unwrap();

    // Someone with nia's session and a grant replaces the address and the number.
    let before = h.mail_recipients().len();
    let evil = email("mallory@evil.test");
    let _ = h
        .mfa
        .start_email_enrollment("nia", Authority::StepUp(&grant), &evil, &client())
        .await
        .unwrap();
    let code = h.last_email_code(6);
    let _ = h
        .mfa
        .finish_email_enrollment("nia", Authority::StepUp(&grant), &evil, &code, &client())
        .await
        .unwrap();
    let to: Vec<String> = h.mail_recipients().split_off(before);
    assert!(
        to.contains(&"nia@example.com".to_owned()),
        "the previous address is told: {to:?}"
    );
    assert!(to.contains(&"mallory@evil.test".to_owned()), "{to:?}");
    let texts_before = h.sms.sent().len();
    let evil_phone = phone("+15550000666");
    let _ = h
        .mfa
        .start_sms_enrollment("nia", Authority::StepUp(&grant), &evil_phone, &client())
        .await
        .unwrap();
    let code = h.last_sms_code(6);
    let _ = h
        .mfa
        .finish_sms_enrollment(
            "nia",
            Authority::StepUp(&grant),
            &evil_phone,
            &code,
            &client(),
        )
        .await
        .unwrap();
    let texts: Vec<_> = h.sms.sent().split_off(texts_before);
    let old_phone_told = texts
        .iter()
        .any(|m| m.to().as_str() == "+14155550100" && m.body().contains("was added"));
    assert!(old_phone_told, "the previous number is told by SMS");
    assert!(
        texts
            .iter()
            .any(|m| m.body().contains("phone number ending 0666"))
    );
}

/// Recovery codes are minted by the first factor and by a step-up regeneration only: a later
/// enrolment, when every code is used up, mints none.
async fn a_replacement_enrolment_mints_no_recovery_codes(store: Arc<dyn Store>) {
    let h = harness(store, Policy::authenticator_setup());
    let (secret, _, codes) = h.enrol_totp_codes("rex", TotpOptions::new()).await;
    for code in &codes {
        let id = h.login("rex").await;
        assert!(h.verify(&id, Proof::RecoveryCode(code)).await.is_verified());
    }
    assert_eq!(h.mfa.recovery_codes_left("rex").await.unwrap(), 0);
    let grant = h.grant("rex", &secret).await;
    let to = email("rex@example.com");
    let _ = h
        .mfa
        .start_email_enrollment("rex", Authority::StepUp(&grant), &to, &client())
        .await
        .unwrap();
    let code = h.last_email_code(6);
    let r = h
        .mfa
        .finish_email_enrollment("rex", Authority::StepUp(&grant), &to, &code, &client())
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
    assert_eq!(h.mfa.recovery_codes_left("rex").await.unwrap(), 0);
    let fresh = h
        .mfa
        .regenerate_recovery_codes("rex", &grant)
        .await
        .unwrap();
    assert_eq!(fresh.len(), 10);
}

/// Disabling a factor, a password change and an administrator's reset each end the user's
/// tickets, codes already sent, enrolment challenges and step-up grants: an SMS code sent
/// before SMS was disabled signs in nowhere.
async fn changes_end_what_was_issued_before_them(store: Arc<dyn Store>) {
    let h = harness(store, Policy::authenticator_setup());
    let (secret, _) = h.enrol_totp("dan", TotpOptions::new()).await;
    let grant = h.grant("dan", &secret).await;
    let number = phone("+14155550123");
    let _ = h
        .mfa
        .start_sms_enrollment("dan", Authority::StepUp(&grant), &number, &client())
        .await
        .unwrap();
    let code = h.last_sms_code(6);
    let _ = h
        .mfa
        .finish_sms_enrollment("dan", Authority::StepUp(&grant), &number, &code, &client())
        .await
        .unwrap();

    for change in ["disable", "password", "reset"] {
        h.advance(3600); // a fresh hourly SMS quota for each round
        // Issued before the change: a ticket with an SMS code sent, a pending enrolment, a
        // pending authenticator, a fresh grant.
        let id = h.login("dan").await;
        assert!(matches!(
            h.send(&id, Channel::Sms).await,
            SendOutcome::Sent { .. }
        ));
        let sms = h.last_sms_code(6);
        let fresh = h.grant("dan", &secret).await;
        let pending_mail = email("dan@example.com");
        let _ = h
            .mfa
            .start_email_enrollment("dan", Authority::StepUp(&fresh), &pending_mail, &client())
            .await
            .unwrap();
        let enrol_code = h.last_email_code(6);
        match change {
            "disable" => {
                h.mfa
                    .disable_factor("dan", Method::Sms, &fresh, &client())
                    .await
                    .unwrap();
            }
            "password" => h.mfa.password_changed("dan").await.unwrap(),
            _ => h.mfa.admin_reset("dan", "ops-7").await.unwrap(),
        }
        let r = h.verify(&id, Proof::SmsCode(&sms)).await;
        assert!(
            matches!(r, Outcome::Expired),
            "{change}: the sent code died: {r:?}"
        );
        assert!(
            !h.mfa.step_up_valid("dan", &fresh).await.unwrap(),
            "{change}: the grant died"
        );
        let after = if change == "reset" {
            None
        } else {
            Some(h.grant("dan", &secret).await)
        };
        let authority = after
            .as_ref()
            .map_or(Authority::FirstFactor, Authority::StepUp);
        let r = h
            .mfa
            .finish_email_enrollment("dan", authority, &pending_mail, &enrol_code, &client())
            .await
            .unwrap();
        assert!(
            matches!(r, EnrollmentOutcome::NoPendingEnrollment),
            "{change}: the pending enrolment died: {r:?}"
        );
        if change == "disable" {
            // Put SMS back for the next round.
            let grant = h.grant("dan", &secret).await;
            let _ = h
                .mfa
                .start_sms_enrollment("dan", Authority::StepUp(&grant), &number, &client())
                .await
                .unwrap();
            let code = h.last_sms_code(6);
            let _ = h
                .mfa
                .finish_sms_enrollment("dan", Authority::StepUp(&grant), &number, &code, &client())
                .await
                .unwrap();
        }
    }
    // After the reset dan has no factor: the first enrolment needs no grant again, and the
    // administrator is in the audit trail.
    let audit = h.store.audit_events("dan", 200).await.unwrap();
    let reset = audit
        .iter()
        .find(|e| e.kind.as_str() == "admin.reset")
        .unwrap();
    assert_eq!(reset.actor.as_deref(), Some("ops-7"));
    let (_, _) = h.enrol_totp("dan", TotpOptions::new()).await;
}

/// Under Enrolment::Required, a user whose factor is only pending, disabled, or whose settings
/// record is missing gets "enrolment required" and no session; under Optional the same users
/// sign in with the first factor alone.
async fn mandatory_mfa_fails_closed(store: Arc<dyn Store>) {
    let required = harness(store.clone(), Policy::mandatory_totp());
    let optional = build(store, Policy::authenticator_setup(), false, |b| {
        b.clock(Arc::new(required.clock.clone()))
    });
    async fn start(h: &Harness, user: &str) -> LoginStart {
        h.mfa.begin_login(user, None, &client()).await.unwrap()
    }
    // No record at all.
    assert!(matches!(
        start(&required, "m1").await,
        LoginStart::EnrollmentRequired
    ));
    assert!(matches!(
        start(&optional, "m1").await,
        LoginStart::NotRequired
    ));
    // A record with nothing enabled (a notice address only).
    required.set_notice_email("m2", "m2@example.com").await;
    assert!(matches!(
        start(&required, "m2").await,
        LoginStart::EnrollmentRequired
    ));
    // A pending authenticator.
    let _ = required
        .mfa
        .start_totp_enrollment(
            "m3",
            Authority::FirstFactor,
            "Phone",
            TotpOptions::new(),
            &client(),
        )
        .await
        .unwrap();
    assert!(matches!(
        start(&required, "m3").await,
        LoginStart::EnrollmentRequired
    ));
    // A disabled one.
    let six = TotpOptions::new().digits(mfa::core::Digits::SIX);
    let (secret, _) = required.enrol_totp("m4", six).await;
    let grant = required.grant("m4", &secret).await;
    required
        .mfa
        .disable_factor("m4", Method::Totp, &grant, &client())
        .await
        .unwrap();
    assert!(matches!(
        start(&required, "m4").await,
        LoginStart::EnrollmentRequired
    ));
    // And through the password step too.
    let r = required
        .mfa
        .password_step("m4", None, &client(), || async {
            mfa::PasswordVerdict::Correct
        })
        .await
        .unwrap();
    assert!(matches!(r, LoginStart::EnrollmentRequired), "{r:?}");
}

/// `VICTIM@x.com`, `Victim@X.com` ... share one quota: the per-destination budget does not
/// split by case; and one user cannot send to many addresses beyond the per-user quota.
async fn send_quotas_ignore_case_and_bound_each_user(store: Arc<dyn Store>) {
    let h = harness(store, Policy::authenticator_setup());
    let forms = [
        "VICTIM@x.com",
        "Victim@X.com",
        "victim@x.COM",
        "vIcTiM@x.com",
        "victim@X.Com",
        "VICTIM@X.COM",
        "Victim@x.Com",
    ];
    let mut sent = 0;
    for (i, form) in forms.iter().enumerate() {
        h.advance(31); // past the cooldown each time
        let user = format!("enroller{i}");
        let r = h
            .mfa
            .start_email_enrollment(&user, Authority::FirstFactor, &email(form), &client())
            .await
            .unwrap();
        sent += usize::from(matches!(r, SendOutcome::Sent { .. }));
    }
    assert_eq!(
        sent, 5,
        "the hourly quota of one address, whatever the case"
    );
    // One user, many addresses: the per-user quota (10 an hour).
    let mut sent = 0;
    for i in 0..15 {
        h.advance(2);
        let r = h
            .mfa
            .start_email_enrollment(
                "sprayer",
                Authority::FirstFactor,
                &email(&format!("target{i}@example.com")),
                &client(),
            )
            .await
            .unwrap();
        sent += usize::from(matches!(r, SendOutcome::Sent { .. }));
    }
    assert_eq!(sent, 10, "the per-user hourly quota");
}

/// Handles come back typed; a client address is an IpAddr, so an unparsable one cannot reach
/// the facade and switch the per-network limits off.
async fn typed_edges(store: Arc<dyn Store>) {
    let h = harness(store, Policy::authenticator_setup());
    let (secret, _) = h.enrol_totp("ty", TotpOptions::new()).await;
    h.advance(30);
    let id = h.login("ty").await;
    let text = id.expose().to_string();
    let back: mfa::ChallengeId = text.parse().unwrap();
    let code = totp_code(&secret, 6, Algorithm::Sha1, h.clock.unix_secs());
    let r = h
        .mfa
        .verify(&back, Proof::Totp(&code), &client(), VerifyOptions::new())
        .await
        .unwrap();
    assert!(r.is_verified());
    assert!("203.0.113.7:443".parse::<mfa::ChallengeId>().is_err());
    assert!("203.0.113.7:443".parse::<std::net::IpAddr>().is_err());
    // Settings keep typed destinations.
    let mut s = MfaSettings::new("ty2");
    s.email = Some(email("Ty@Example.com"));
    h.store.put_settings(s).await.unwrap();
    let read = h.store.settings("ty2").await.unwrap().unwrap();
    assert_eq!(read.email.unwrap().normalized(), "ty@example.com");
    // Text parsed at the application's edge fails as input, not as cryptography.
    let bad_address = "not an address".parse::<mfa::EmailAddress>().unwrap_err();
    assert!(matches!(Error::from(bad_address), Error::Input(_)));
    let bad_handle = "x".parse::<mfa::ChallengeId>().unwrap_err();
    assert!(matches!(Error::from(bad_handle), Error::Input(_)));
    // What an application asks to choose between a first enrolment and a step-up.
    assert_eq!(
        h.mfa.enabled_methods("ty").await.unwrap(),
        [Method::Totp, Method::RecoveryCode]
    );
    assert!(h.mfa.enabled_methods("ty2").await.unwrap().is_empty());
}

/// A password check that cannot be made (the application's directory or hasher failed) opens
/// nothing and counts nowhere: a hundred of them leave the budgets untouched.
async fn an_unavailable_password_check_counts_nowhere(store: Arc<dyn Store>) {
    let h = harness(store, Policy::password_then_email_code());
    let from = stranger(7);
    for _ in 0..100 {
        let r = h
            .mfa
            .password_step("pat", None, &from, || async {
                PasswordVerdict::Unavailable
            })
            .await;
        assert!(matches!(r, Err(Error::PasswordCheck)), "{r:?}");
    }
    // Seed 001 locks for 10 s after 3 wrong passwords: none of the above counted.
    for _ in 0..2 {
        let r = h
            .mfa
            .password_step("pat", None, &from, || async { PasswordVerdict::Wrong })
            .await
            .unwrap();
        assert!(matches!(r, LoginStart::PasswordRejected), "{r:?}");
    }
    let r = h
        .mfa
        .password_step("pat", None, &from, || async { PasswordVerdict::Correct })
        .await
        .unwrap();
    assert!(
        !matches!(
            r,
            LoginStart::LockedOut { .. } | LoginStart::PasswordRejected
        ),
        "{r:?}"
    );
}

scenarios!([memory, sqlite, postgres, mysql, redis, redis_cluster]: {
    every_change_needs_a_step_up_once_a_factor_is_active,
    change_notices_reach_the_previous_and_the_new_address,
    a_replacement_enrolment_mints_no_recovery_codes,
    changes_end_what_was_issued_before_them,
    mandatory_mfa_fails_closed,
    send_quotas_ignore_case_and_bound_each_user,
    typed_edges,
    an_unavailable_password_check_counts_nowhere,
});
