//! No code, token or secret in Debug output, log lines or stored records; configuration errors
//! at start-up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use mfa::Clock as _;
use mfa::core::{Algorithm, Pepper, Token};
use mfa::store::MemoryStore;
use mfa::{
    Authority, Channel, ConfigError, LoginStart, MagicLinkToken, Mfa, Outcome, Policy, Proof,
    Store, TotpOptions, VerifyOptions,
};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn challenge_store_id(id: &str) -> String {
    let pepper = Pepper::from_bytes(&PEPPER).unwrap();
    let d = pepper.digest_token("mfa/challenge-id", "", &Token::parse(id).unwrap());
    d.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn nothing_secret_in_debug_logs_or_records() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let h = harness(store.clone(), Policy::authenticator_setup());
    let mut secrets: Vec<String> = Vec::new();
    let mut debug = String::new();

    let e = h
        .mfa
        .start_totp_enrollment(
            "leak",
            Authority::FirstFactor,
            "Phone",
            TotpOptions::new(),
            &client(),
        )
        .await
        .unwrap();
    secrets.push(e.secret_base32().to_owned());
    secrets.push(e.key_uri().to_owned());
    debug += &format!("{e:?}");
    let first = totp_code(e.secret_base32(), 6, Algorithm::Sha1, h.clock.unix_secs());
    secrets.push(first.clone());
    let done = h
        .mfa
        .finish_totp_enrollment("leak", Authority::FirstFactor, &first, &client())
        .await
        .unwrap();
    debug += &format!("{done:?}");
    let mfa::EnrollmentOutcome::Confirmed {
        recovery_codes: Some(codes),
    } = done
    else {
        panic!()
    };
    secrets.extend(codes.expose().iter().map(|c| c.to_string()));
    let grant = h.grant("leak", e.secret_base32()).await;
    secrets.push(grant.expose().to_string());
    debug += &format!("{grant:?}");
    h.enrol_email_as("leak", "leak@example.com", Authority::StepUp(&grant))
        .await;
    h.advance(60);

    let start = h.mfa.begin_login("leak", None, &client()).await.unwrap();
    debug += &format!("{start:?}");
    let LoginStart::ChallengeRequired { challenge_id, .. } = start else {
        panic!()
    };
    let id = challenge_id;
    let id_text = id.expose().to_string();
    secrets.push(id_text.clone());
    debug += &format!("{id:?}");
    let _ = h.send(&id, Channel::Email).await;
    let email_code = h.last_email_code(6);
    secrets.push(email_code.clone());
    let proof = Proof::EmailCode(&email_code);
    debug += &format!("{proof:?}");
    // The store keys the challenge by a digest of the id, never the id itself.
    assert!(
        store
            .challenge(&id_text, h.clock.now())
            .await
            .unwrap()
            .is_none()
    );
    let record = store
        .challenge(&challenge_store_id(&id_text), h.clock.now())
        .await
        .unwrap()
        .unwrap();
    debug += &format!("{record:?}");
    let r = h.verify(&id, Proof::Totp("000000")).await;
    debug += &format!("{r:?}");
    let r = h
        .mfa
        .verify(
            &id,
            proof,
            &client(),
            VerifyOptions::new().trust_device("Laptop").grant_step_up(),
        )
        .await
        .unwrap();
    debug += &format!("{r:?}");
    let Outcome::Verified {
        trusted_device_token: Some(device),
        step_up: Some(grant),
        ..
    } = r
    else {
        panic!()
    };
    secrets.push(device.expose().to_string());
    secrets.push(grant.expose().to_string());
    h.advance(60);
    let id2 = h.login("leak").await;
    secrets.push(id2.expose().to_string());
    let _ = h
        .mfa
        .send_magic_link(
            &id2,
            "https://app.test/l",
            Some("binding-secret"),
            &client(),
        )
        .await
        .unwrap();
    let token_text = token_in(&h.last_mail());
    secrets.push(token_text.clone());
    let token: MagicLinkToken = token_text.parse().unwrap();
    debug += &format!("{token:?}");
    secrets.push("binding-secret".into());
    let r = h
        .mfa
        .confirm_magic_link(
            &token,
            Some("binding-secret"),
            &client(),
            VerifyOptions::new(),
        )
        .await
        .unwrap();
    assert!(r.is_verified());

    // Records read back through the store's public methods.
    debug += &format!("{:?}", store.totp_factors("leak").await.unwrap());
    debug += &format!(
        "{:?}",
        store.trusted_devices("leak", h.clock.now()).await.unwrap()
    );
    debug += &format!("{:?}", store.settings("leak").await.unwrap());
    debug += &format!("{:?}", store.audit_events("leak", 100).await.unwrap());
    debug += &format!("{:?} {:?}", h.mfa, store);
    debug += &format!("{:?}", h.mfa.trusted_devices("leak").await.unwrap());

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("mfa audit"), "events are logged");
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "a secret is in the logs");
        assert!(
            !debug.contains(s.as_str()),
            "a secret is in Debug output or a record"
        );
    }
    // No digest in hex either.
    assert!(!logs.contains(&challenge_store_id(&id_text)));
}

#[test]
fn configuration_errors_at_start_up() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mailer = Arc::new(mfa::mail::MemoryOutbox::new());
    let full = || {
        Mfa::builder()
            .store(store.clone())
            .mailer(mailer.clone())
            .keyring(keyring())
            .pepper_bytes(&[1; 32])
            .mail_settings(mail_settings())
    };
    assert!(full().build().is_ok());
    // An application with authenticator apps only needs no mailer, only an issuer.
    let no_mail = || {
        Mfa::builder()
            .store(store.clone())
            .keyring(keyring())
            .pepper_bytes(&[1; 32])
    };
    assert!(matches!(no_mail().build(), Err(ConfigError::MissingIssuer)));
    assert!(no_mail().issuer("Acme").build().is_ok());
    assert!(matches!(
        no_mail().issuer("Acme").mailer(mailer.clone()).build(),
        Err(ConfigError::MissingMailSettings)
    ));
    for bad in [
        "http://app.test/unlock",
        "https://app.test/unlock?x=1",
        "javascript:alert(1)",
        "https://app.test/un lock",
    ] {
        assert!(
            matches!(
                full().unlock_url(bad).build(),
                Err(ConfigError::BadUnlockUrl)
            ),
            "{bad}"
        );
    }
    assert!(full().unlock_url("https://app.test/unlock").build().is_ok());
    assert!(matches!(
        Mfa::builder().build(),
        Err(ConfigError::MissingStore)
    ));
    assert!(matches!(
        Mfa::builder()
            .store(store.clone())
            .mailer(mailer.clone())
            .pepper_bytes(&[1; 32])
            .mail_settings(mail_settings())
            .build(),
        Err(ConfigError::MissingKeyring)
    ));
    assert!(matches!(
        full().pepper_bytes(&[1; 16]).build(),
        Err(ConfigError::BadPepper { bytes: 16 })
    ));
    let impossible = Policy::builder().lifetime(
        mfa::core::ChallengeKind::EmailCode,
        std::time::Duration::from_secs(1),
    );
    assert!(matches!(
        full().policy_builder(impossible).build(),
        Err(ConfigError::Policy(_))
    ));
    assert!(matches!(
        full().trusted_device_days(0).build(),
        Err(ConfigError::OutOfRange { .. })
    ));
    assert!(matches!(
        full().recovery_codes(0).build(),
        Err(ConfigError::OutOfRange { .. })
    ));
    assert!(matches!(
        full().issuer("a:b").build(),
        Err(ConfigError::BadIssuer)
    ));
}
