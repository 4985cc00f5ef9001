//! WebAuthn through the facade, without a browser: `webauthn-authenticator-rs`'s software
//! token plays the authenticator and the browser's client checks, on every store.
//!
//! The attacks: a phishing relay (attacker A3: the victim's browser signs for the attacker's
//! origin, or for a relying party id the attacker chose), a replayed assertion, a cloned key
//! (its signature counter goes backwards), a stranger guessing assertions (they count toward
//! the same limits as wrong codes), and a session without a step-up adding or removing keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::sync::Arc;

use common::*;
use mfa::webauthn::{PublicKeyCredential, RequestChallengeResponse, UserVerification};
use mfa::{
    Authority, ChallengeId, CounterRegression, EnrollmentOutcome, Error, LoginStart, Method,
    Outcome, Policy, Proof, StepUpGrant, Store, VerifyOptions, WebAuthnChallenge, WebAuthnConfig,
};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::Url;
use webauthn_authenticator_rs::softtoken::SoftToken;

const RP_ID: &str = "login.example.com";
const ORIGIN: &str = "https://login.example.com";

fn origin() -> Url {
    Url::parse(ORIGIN).unwrap()
}

/// A facade with a relying party and `policy`.
fn webauthn_harness(store: Arc<dyn Store>, policy: Policy) -> Harness {
    build(store, policy, false, |b| {
        b.webauthn(WebAuthnConfig::new(RP_ID, ORIGIN).rp_name("Acme"))
    })
}

/// A new software security key (it claims user verification, as a key with a PIN would).
fn new_key() -> SoftToken {
    SoftToken::new(true).unwrap().0
}

/// Registers `key` for `user` under `label` with `authority`, from the real origin.
async fn register(
    h: &Harness,
    user: &str,
    key: &mut SoftToken,
    authority: Authority<'_>,
    label: &str,
) -> EnrollmentOutcome {
    let registration = h
        .mfa
        .start_webauthn_registration(user, authority, &format!("{user}@example.com"), &client())
        .await
        .unwrap();
    let response = key
        .do_registration(origin(), registration.options().clone())
        .unwrap();
    h.mfa
        .finish_webauthn_registration(user, authority, label, &response, &client())
        .await
        .unwrap()
}

/// The first key of `user`, which must mint recovery codes; returns them.
async fn first_key(h: &Harness, user: &str, key: &mut SoftToken) -> Vec<String> {
    match register(h, user, key, Authority::FirstFactor, "YubiKey").await {
        EnrollmentOutcome::Confirmed {
            recovery_codes: Some(codes),
        } => codes.expose().iter().map(|c| c.to_string()).collect(),
        other => panic!("{other:?}"),
    }
}

/// The options that answer ticket `id`.
async fn options(h: &Harness, id: &ChallengeId) -> RequestChallengeResponse {
    match h.mfa.webauthn_challenge(id, &client()).await.unwrap() {
        WebAuthnChallenge::Options(options) => *options,
        other => panic!("{other:?}"),
    }
}

/// `key`'s assertion for ticket `id`, signed in a browser at `at`.
async fn assertion_at(
    h: &Harness,
    id: &ChallengeId,
    key: &mut SoftToken,
    at: &str,
) -> PublicKeyCredential {
    let options = options(h, id).await;
    key.do_authentication(Url::parse(at).unwrap(), options)
        .unwrap()
}

async fn assertion(h: &Harness, id: &ChallengeId, key: &mut SoftToken) -> PublicKeyCredential {
    assertion_at(h, id, key, ORIGIN).await
}

/// A step-up grant for `user`, proven with `key`.
async fn grant_with(h: &Harness, user: &str, key: &mut SoftToken) -> StepUpGrant {
    let LoginStart::ChallengeRequired { challenge_id, .. } =
        h.mfa.begin_step_up(user, &client()).await.unwrap()
    else {
        panic!("a step-up challenge")
    };
    let signed = assertion(h, &challenge_id, key).await;
    let outcome = h
        .mfa
        .verify(
            &challenge_id,
            Proof::WebAuthn(&signed),
            &client(),
            VerifyOptions::new().grant_step_up(),
        )
        .await
        .unwrap();
    match outcome {
        Outcome::Verified {
            step_up: Some(grant),
            method: Method::WebAuthn,
            ..
        } => grant,
        other => panic!("{other:?}"),
    }
}

/// A user registers a first key without a step-up (and gets recovery codes), signs in with
/// it, steps up with it, and needs that step-up to add a second key, which then signs in too.
/// Each addition is announced and audited.
async fn register_sign_in_and_step_up(store: Arc<dyn Store>) {
    let h = webauthn_harness(store, Policy::authenticator_setup());
    h.set_notice_email("alice", "alice@example.com").await;
    let mut key = new_key();
    let codes = first_key(&h, "alice", &mut key).await;
    assert_eq!(codes.len(), 10, "the first factor mints the recovery codes");
    assert!(
        h.last_mail().contains("security key \"YubiKey\""),
        "the notice names the key: {}",
        h.last_mail()
    );
    assert_eq!(
        h.methods("alice").await,
        vec![Method::WebAuthn, Method::RecoveryCode]
    );

    let ticket = h.login("alice").await;
    let signed = assertion(&h, &ticket, &mut key).await;
    let outcome = h.verify(&ticket, Proof::WebAuthn(&signed)).await;
    assert!(
        matches!(&outcome, Outcome::Verified { user, method: Method::WebAuthn, .. } if user == "alice"),
        "{outcome:?}"
    );
    let listed = h.mfa.webauthn_credentials("alice").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].label, "YubiKey");
    assert_eq!(listed[0].last_used_at, Some(h.now()));

    // A session alone adds no key once one is active.
    let mut second = new_key();
    assert!(matches!(
        h.mfa
            .start_webauthn_registration("alice", Authority::FirstFactor, "alice", &client())
            .await,
        Err(Error::NotAuthorised)
    ));
    let grant = grant_with(&h, "alice", &mut key).await;
    let added = register(
        &h,
        "alice",
        &mut second,
        Authority::StepUp(&grant),
        "Laptop",
    )
    .await;
    assert!(
        matches!(
            added,
            EnrollmentOutcome::Confirmed {
                recovery_codes: None
            }
        ),
        "{added:?}"
    );
    assert!(
        h.last_mail().contains("security key \"Laptop\", was added"),
        "{}",
        h.last_mail()
    );
    assert_eq!(h.mfa.webauthn_credentials("alice").await.unwrap().len(), 2);

    let ticket = h.login("alice").await;
    let signed = assertion(&h, &ticket, &mut second).await;
    assert!(
        h.verify(&ticket, Proof::WebAuthn(&signed))
            .await
            .is_verified()
    );
    let kinds = h.audit_kinds("alice").await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "factor.confirmed:success")
            .count(),
        2,
        "{kinds:?}"
    );
}

/// An assertion works once: replayed on its consumed ticket, on a new ticket, or raced 20
/// times at once, it signs in once.
async fn a_replayed_assertion_signs_in_nowhere(store: Arc<dyn Store>) {
    let h = webauthn_harness(store, Policy::authenticator_setup());
    let mut key = new_key();
    first_key(&h, "bob", &mut key).await;

    let ticket = h.login("bob").await;
    let signed = assertion(&h, &ticket, &mut key).await;
    assert!(
        h.verify(&ticket, Proof::WebAuthn(&signed))
            .await
            .is_verified()
    );
    let again = h.verify(&ticket, Proof::WebAuthn(&signed)).await;
    assert!(
        matches!(again, Outcome::Expired),
        "the ticket is consumed: {again:?}"
    );

    let fresh = h.login("bob").await;
    let _ = options(&h, &fresh).await;
    let replayed = h.verify(&fresh, Proof::WebAuthn(&signed)).await;
    assert!(
        matches!(replayed, Outcome::Rejected { .. }),
        "signed over another challenge: {replayed:?}"
    );

    // Twenty submissions of one fresh assertion at once: the ceremony is taken once.
    let ticket = Arc::new(h.login("bob").await);
    let signed = Arc::new(assertion(&h, &ticket, &mut key).await);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (mfa, ticket, signed) = (h.mfa.clone(), ticket.clone(), signed.clone());
        tasks.push(tokio::spawn(async move {
            mfa.verify(
                &ticket,
                Proof::WebAuthn(&signed),
                &client(),
                VerifyOptions::new(),
            )
            .await
            .unwrap()
            .is_verified()
        }));
    }
    let mut verified = 0;
    for task in tasks {
        verified += usize::from(task.await.unwrap());
    }
    eprintln!("one assertion submitted 20 times at once: {verified} sign-in");
    assert_eq!(verified, 1);
}

/// The phishing relay (A3): the victim's browser signs the relayed challenge for the page it
/// is on. An assertion for another origin, or for a relying party id the attacker chose, is
/// refused and counts as a failed attempt; the genuine origin still works afterwards.
async fn a_relayed_challenge_fails_for_the_wrong_origin_or_relying_party(store: Arc<dyn Store>) {
    let h = webauthn_harness(store, Policy::authenticator_setup());
    let mut key = new_key();
    first_key(&h, "carol", &mut key).await;
    let tries = Policy::authenticator_setup().challenge_attempts().get();

    // A look-alike host under the relying party id (the browser accepts the rp id there).
    let ticket = h.login("carol").await;
    let signed = assertion_at(&h, &ticket, &mut key, "https://evil.login.example.com").await;
    let outcome = h.verify(&ticket, Proof::WebAuthn(&signed)).await;
    assert!(
        matches!(outcome, Outcome::Rejected { attempts_left } if attempts_left == tries - 1),
        "wrong origin: {outcome:?}"
    );

    // The attacker's own site, with the challenge relayed under its own rp id.
    let mut relayed = options(&h, &ticket).await;
    relayed.public_key.rp_id = "evil.example".to_owned();
    let signed = key
        .do_authentication(Url::parse("https://evil.example").unwrap(), relayed)
        .unwrap();
    let outcome = h.verify(&ticket, Proof::WebAuthn(&signed)).await;
    assert!(
        matches!(outcome, Outcome::Rejected { attempts_left } if attempts_left == tries - 2),
        "attacker's origin and relying party: {outcome:?}"
    );

    // The genuine origin, but a relying party id the attacker chose (a parent domain).
    let ticket = h.login("carol").await;
    let mut relayed = options(&h, &ticket).await;
    relayed.public_key.rp_id = "example.com".to_owned();
    let signed = key.do_authentication(origin(), relayed).unwrap();
    let outcome = h.verify(&ticket, Proof::WebAuthn(&signed)).await;
    assert!(
        matches!(outcome, Outcome::Rejected { .. }),
        "wrong relying party: {outcome:?}"
    );

    let failed = h
        .audit_kinds("carol")
        .await
        .iter()
        .filter(|k| *k == "second_factor:failure")
        .count();
    eprintln!("relayed assertions refused and counted: {failed}");
    assert_eq!(failed, 3);
    let ticket = h.login("carol").await;
    let signed = assertion(&h, &ticket, &mut key).await;
    assert!(
        h.verify(&ticket, Proof::WebAuthn(&signed))
            .await
            .is_verified()
    );
}

/// Wrong assertions spend the ticket's tries and the second factor's budgets like wrong codes:
/// each one is counted and audited, the one that reaches a limit locks (as a wrong code
/// would), and the right assertion is refused afterwards.
async fn failed_assertions_count_toward_the_limits(store: Arc<dyn Store>) {
    let h = webauthn_harness(store, Policy::authenticator_setup());
    let mut key = new_key();
    first_key(&h, "dave", &mut key).await;
    let tries = Policy::authenticator_setup().challenge_attempts().get();
    let ticket = h.login("dave").await;
    let mut evaluated = 0;
    let mut locked = false;
    for left in (0..tries).rev() {
        let signed = assertion_at(&h, &ticket, &mut key, "https://evil.login.example.com").await;
        evaluated += 1;
        match h.verify(&ticket, Proof::WebAuthn(&signed)).await {
            Outcome::Rejected { attempts_left } => assert_eq!(attempts_left, left),
            Outcome::LockedOut { .. } => {
                locked = true;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    let signed = assertion(&h, &ticket, &mut key).await;
    let outcome = h.verify(&ticket, Proof::WebAuthn(&signed)).await;
    assert!(
        matches!(
            outcome,
            Outcome::ChallengeExhausted | Outcome::LockedOut { .. }
        ),
        "the right assertion after the limit: {outcome:?}"
    );
    let failed = h
        .audit_kinds("dave")
        .await
        .iter()
        .filter(|k| *k == "second_factor:failure")
        .count();
    eprintln!(
        "{evaluated} wrong assertions on a {tries}-try ticket: {failed} counted, locked: {locked}"
    );
    assert_eq!(failed, evaluated);
    assert!(locked || evaluated == usize::try_from(tries).unwrap());
}

/// A copy of a key (its counter behind the original's) is refused, audited and announced;
/// the original keeps working under the default policy. Under `RefuseAndRemove` the key goes,
/// but the user keeps a second factor: WebAuthn stays enabled and the recovery codes work.
async fn a_cloned_key_is_refused_audited_and_announced(store: Arc<dyn Store>) {
    let h = webauthn_harness(store.clone(), Policy::authenticator_setup());
    h.set_notice_email("erin", "erin@example.com").await;
    let mut key = new_key();
    let codes = first_key(&h, "erin", &mut key).await;
    let mut clone = SoftToken::from_cbor(&key.to_cbor().unwrap()).unwrap();

    let ticket = h.login("erin").await;
    let signed = assertion(&h, &ticket, &mut key).await;
    assert!(
        h.verify(&ticket, Proof::WebAuthn(&signed))
            .await
            .is_verified()
    );

    let ticket = h.login("erin").await;
    let signed = assertion(&h, &ticket, &mut clone).await;
    let outcome = h.verify(&ticket, Proof::WebAuthn(&signed)).await;
    assert!(matches!(outcome, Outcome::Rejected { .. }), "{outcome:?}");
    let kinds = h.audit_kinds("erin").await;
    assert!(
        kinds.contains(&"webauthn.counter_regressed:denied".to_owned()),
        "{kinds:?}"
    );
    assert!(
        h.last_mail().contains("a copy of the key"),
        "{}",
        h.last_mail()
    );
    assert_eq!(h.mfa.webauthn_credentials("erin").await.unwrap().len(), 1);

    let ticket = h.login("erin").await;
    let signed = assertion(&h, &ticket, &mut key).await;
    assert!(
        h.verify(&ticket, Proof::WebAuthn(&signed))
            .await
            .is_verified(),
        "the original"
    );

    // The stricter policy removes the key; the user signs in with a recovery code.
    let strict = Policy::authenticator_setup()
        .to_builder()
        .counter_regression(CounterRegression::RefuseAndRemove)
        .build()
        .unwrap();
    let h = webauthn_harness(store, strict);
    let ticket = h.login("erin").await;
    let signed = assertion(&h, &ticket, &mut clone).await;
    assert!(matches!(
        h.verify(&ticket, Proof::WebAuthn(&signed)).await,
        Outcome::Rejected { .. }
    ));
    assert!(h.mfa.webauthn_credentials("erin").await.unwrap().is_empty());
    assert!(h.last_mail().contains("was removed"), "{}", h.last_mail());
    let ticket = h.login("erin").await;
    assert!(matches!(
        h.mfa.webauthn_challenge(&ticket, &client()).await.unwrap(),
        WebAuthnChallenge::MethodUnavailable
    ));
    assert!(
        h.verify(&ticket, Proof::RecoveryCode(&codes[0]))
            .await
            .is_verified(),
        "a second factor is still required, and the recovery codes answer it"
    );
}

/// A user whose only factor is a key, and who lost it, signs in with a recovery code.
async fn recovery_codes_stand_in_for_a_lost_key(store: Arc<dyn Store>) {
    let h = webauthn_harness(store, Policy::authenticator_setup());
    let mut key = new_key();
    let codes = first_key(&h, "fay", &mut key).await;
    drop(key);
    let ticket = h.login("fay").await;
    let outcome = h.verify(&ticket, Proof::RecoveryCode(&codes[3])).await;
    assert!(
        matches!(
            outcome,
            Outcome::Verified {
                method: Method::RecoveryCode,
                recovery_codes_left: Some(9),
                ..
            }
        ),
        "{outcome:?}"
    );
}

/// Removing keys needs a step-up grant of the user; each removal is announced; the last
/// removal disables WebAuthn with the rules of every factor (with the last factor go the
/// recovery codes, and the login needs no second factor).
async fn removing_keys_needs_a_step_up_and_follows_the_factor_rules(store: Arc<dyn Store>) {
    let h = webauthn_harness(store, Policy::authenticator_setup());
    h.set_notice_email("gus", "gus@example.com").await;
    let (mut key, mut spare) = (new_key(), new_key());
    first_key(&h, "gus", &mut key).await;
    let grant = grant_with(&h, "gus", &mut key).await;
    let added = register(&h, "gus", &mut spare, Authority::StepUp(&grant), "Spare").await;
    assert!(
        matches!(added, EnrollmentOutcome::Confirmed { .. }),
        "{added:?}"
    );
    // Registered in the same second: tell them apart by label, not by order.
    let listed = h.mfa.webauthn_credentials("gus").await.unwrap();
    let id_of = |label: &str| {
        listed
            .iter()
            .find(|c| c.label == label)
            .map(|c| c.id.clone())
            .unwrap()
    };
    let ids = [id_of("YubiKey"), id_of("Spare")];

    let mut other = new_key();
    first_key(&h, "mallory", &mut other).await;
    let foreign = grant_with(&h, "mallory", &mut other).await;
    assert!(matches!(
        h.mfa
            .remove_webauthn_credential("gus", &ids[0], &foreign, &client())
            .await,
        Err(Error::NotAuthorised)
    ));

    let grant = grant_with(&h, "gus", &mut spare).await;
    h.mfa
        .remove_webauthn_credential("gus", &ids[0], &grant, &client())
        .await
        .unwrap();
    assert!(
        h.last_mail()
            .contains("security key \"YubiKey\", was removed"),
        "{}",
        h.last_mail()
    );
    assert!(
        !h.mfa.step_up_valid("gus", &grant).await.unwrap(),
        "a factor change ends the grant used"
    );
    let ticket = h.login("gus").await;
    let signed = assertion(&h, &ticket, &mut spare).await;
    assert!(
        h.verify(&ticket, Proof::WebAuthn(&signed))
            .await
            .is_verified()
    );

    let grant = grant_with(&h, "gus", &mut spare).await;
    h.mfa
        .remove_webauthn_credential("gus", &ids[1], &grant, &client())
        .await
        .unwrap();
    assert!(h.mfa.enabled_methods("gus").await.unwrap().is_empty());
    assert!(matches!(
        h.mfa.begin_login("gus", None, &client()).await.unwrap(),
        LoginStart::NotRequired
    ));
    let kinds = h.audit_kinds("gus").await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "factor.removed:success")
            .count(),
        2,
        "{kinds:?}"
    );
}

/// A passwordless (email) ticket never answers with a key's options: for an address whose
/// account has a key, exactly as for an address nobody has, so the options tell no one which
/// addresses have accounts.
async fn passwordless_tickets_offer_no_key(store: Arc<dyn Store>) {
    let h = webauthn_harness(store, Policy::authenticator_setup());
    let user = "lee@example.com";
    let mut key = new_key();
    first_key(&h, user, &mut key).await;
    let grant = grant_with(&h, user, &mut key).await;
    h.enrol_email_as(user, user, Authority::StepUp(&grant))
        .await;
    for address in [user, "nobody@example.com"] {
        let LoginStart::ChallengeRequired { challenge_id, .. } = h
            .mfa
            .begin_email_login(&email(address), &client())
            .await
            .unwrap()
        else {
            panic!("a passwordless ticket for {address}")
        };
        let answer = h
            .mfa
            .webauthn_challenge(&challenge_id, &client())
            .await
            .unwrap();
        assert!(
            matches!(answer, WebAuthnChallenge::MethodUnavailable),
            "{address}: {answer:?}"
        );
    }
}

/// Neither the credential id nor the public key shows in `Debug` output or audit records.
async fn credential_ids_stay_out_of_debug_and_audit(store: Arc<dyn Store>) {
    let h = webauthn_harness(store.clone(), Policy::authenticator_setup());
    let mut key = new_key();
    first_key(&h, "hal", &mut key).await;
    let ticket = h.login("hal").await;
    let signed = assertion(&h, &ticket, &mut key).await;
    assert!(
        h.verify(&ticket, Proof::WebAuthn(&signed))
            .await
            .is_verified()
    );
    let record = store.webauthn_credentials("hal").await.unwrap().remove(0);
    let grant = grant_with(&h, "hal", &mut key).await;
    let registration = h
        .mfa
        .start_webauthn_registration("hal", Authority::StepUp(&grant), "hal", &client())
        .await
        .unwrap();
    let ticket = h.login("hal").await;
    let challenge = h.mfa.webauthn_challenge(&ticket, &client()).await.unwrap();
    let shown = [
        format!("{registration:?}"),
        format!("{challenge:?}"),
        format!("{record:?}"),
        format!("{:?}", h.mfa.webauthn_credentials("hal").await.unwrap()),
        format!("{:?}", Proof::WebAuthn(&signed)),
        format!("{:?}", store.audit_events("hal", 100).await.unwrap()),
    ]
    .join("\n");
    assert!(
        !shown.contains(&signed.id),
        "the credential id (base64url) leaked: {shown}"
    );
    let bytes = format!("{:?}", record.credential_id);
    assert!(
        !shown.contains(&bytes[1..bytes.len() - 1]),
        "the credential id bytes leaked"
    );
    assert!(
        !shown.contains("EC_EC2") && !shown.contains("cred"),
        "the public key leaked"
    );
}

/// With `UserVerification::Required` the keys are passkeys: a key that verifies its user
/// registers and signs in; one that cannot is refused at registration.
async fn passkeys_when_user_verification_is_required(store: Arc<dyn Store>) {
    let h = build(store, Policy::authenticator_setup(), false, |b| {
        b.webauthn(WebAuthnConfig::new(RP_ID, ORIGIN).user_verification(UserVerification::Required))
    });
    let mut passkey = new_key();
    first_key(&h, "ivy", &mut passkey).await;
    let ticket = h.login("ivy").await;
    let options = options(&h, &ticket).await;
    assert_eq!(
        serde_json::to_value(&options).unwrap()["publicKey"]["userVerification"],
        "required"
    );
    let signed = passkey.do_authentication(origin(), options).unwrap();
    assert!(
        h.verify(&ticket, Proof::WebAuthn(&signed))
            .await
            .is_verified()
    );

    // A key that cannot verify its user cannot answer a registration that requires it.
    let mut plain = SoftToken::new(false).unwrap().0;
    let registration = h
        .mfa
        .start_webauthn_registration("joe", Authority::FirstFactor, "joe", &client())
        .await
        .unwrap();
    assert!(
        plain
            .do_registration(origin(), registration.options().clone())
            .is_err(),
        "a key without user verification"
    );
    assert!(h.mfa.webauthn_credentials("joe").await.unwrap().is_empty());
}

scenarios!([memory, sqlite, postgres, mysql, redis, redis_cluster]: {
    passwordless_tickets_offer_no_key,
    passkeys_when_user_verification_is_required,
    register_sign_in_and_step_up,
    a_replayed_assertion_signs_in_nowhere,
    a_relayed_challenge_fails_for_the_wrong_origin_or_relying_party,
    failed_assertions_count_toward_the_limits,
    a_cloned_key_is_refused_audited_and_announced,
    recovery_codes_stand_in_for_a_lost_key,
    removing_keys_needs_a_step_up_and_follows_the_factor_rules,
    credential_ids_stay_out_of_debug_and_audit,
});

/// The relying party is checked at start-up: an origin outside its id, or plain http away
/// from localhost, is refused before any user meets it.
#[test]
fn the_relying_party_is_checked_at_build() {
    let try_build = |config: WebAuthnConfig| {
        mfa::Mfa::builder()
            .store(Arc::new(mfa::store::MemoryStore::new()))
            .keyring(keyring())
            .pepper(mfa::Pepper::from_bytes(&PEPPER).unwrap())
            .issuer("Acme")
            .webauthn(config)
            .build()
    };
    assert!(try_build(WebAuthnConfig::new(RP_ID, ORIGIN)).is_ok());
    assert!(try_build(WebAuthnConfig::new("localhost", "http://localhost:8080")).is_ok());
    for bad in [
        WebAuthnConfig::new("example.org", ORIGIN),
        WebAuthnConfig::new(RP_ID, "http://login.example.com"),
        WebAuthnConfig::new(RP_ID, "not a url"),
        WebAuthnConfig::new(RP_ID, ORIGIN).allow_origin("https://elsewhere.example"),
    ] {
        assert!(
            matches!(
                try_build(bad.clone()),
                Err(mfa::ConfigError::BadWebAuthn(_))
            ),
            "{bad:?}"
        );
    }
}
