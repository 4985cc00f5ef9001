//! The whole flow against the real services: Redis (a throwaway key prefix of the backend's
//! testkit), and SMTP on loopback for the notice.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::future::IntoFuture as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mandatory_totp::{
    AppParts, FactorStep, MandatoryTotpApp, PasswordStep, PendingLogin, RegistrationStep,
    SecondFactor,
};
use mfa::core::{
    Algorithm, Digits, KeyUri, PasswordHasher, PasswordParams, Secret, Totp, TotpParams,
};
use mfa::mail::testkit::SmtpTestServer;
use mfa::{ClientInfo, Clock, Keyring, ManualClock, Pepper, SealingKey, Store};

const PASSWORD: &str = "correct horse battery staple";
const USER: &str = "carol";

fn keyring() -> Keyring {
    Keyring::new(1, SealingKey::from_bytes(&[0x11; 32]).unwrap())
}

/// The user's usual network: recognised once a login completed from it.
fn client() -> ClientInfo {
    ClientInfo::new("198.51.100.7".parse().unwrap())
}

/// A stranger's network (the seed's limits apply to unrecognised networks).
fn stranger(n: u8) -> ClientInfo {
    ClientInfo::new(format!("203.0.113.{n}").parse().unwrap())
}

/// The code of `secret` at `unix`, computed here with the RFC 6238 parameters of the seed
/// (SHA-1, 8 digits, 30 s), not through the app.
fn totp(secret: &Secret, unix: u64) -> String {
    let params = TotpParams {
        algorithm: Algorithm::Sha1,
        digits: Digits::EIGHT,
        ..TotpParams::default()
    };
    Totp::new(secret, params)
        .generate_at(unix)
        .unwrap()
        .expose()
        .to_string()
}

struct Fixture {
    app: MandatoryTotpApp,
    store: Arc<dyn Store>,
    clock: ManualClock,
    smtp: SmtpTestServer,
}

impl Fixture {
    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
    fn now(&self) -> SystemTime {
        self.clock.now()
    }
    async fn password(&self) -> PendingLogin {
        self.password_from(&client()).await
    }
    async fn password_from(&self, from: &ClientInfo) -> PendingLogin {
        match self.app.login_password(USER, PASSWORD, from).await.unwrap() {
            PasswordStep::TotpRequired(login) => login,
            other => panic!("expected the TOTP step, got {other:?}"),
        }
    }
    async fn second(&self, login: &PendingLogin, factor: SecondFactor<'_>) -> FactorStep {
        self.second_from(login, factor, &client()).await
    }
    async fn second_from(
        &self,
        login: &PendingLogin,
        factor: SecondFactor<'_>,
        from: &ClientInfo,
    ) -> FactorStep {
        self.app
            .login_second_factor(login, factor, from)
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis() {
    // An initialised key prefix of its own, deleted afterwards; skipped (or failed under
    // MFA_REQUIRE_SERVICES=1) without the server.
    let Some((redis, cleanup)) = mfa_store_redis::testkit::throwaway_store("mandatory-totp").await
    else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(redis);
    let smtp = SmtpTestServer::start().unwrap();
    // Redis expires keys on its own clock: start the manual clock at the real time.
    let clock = ManualClock::at_unix_secs(mfa::SystemClock.unix_secs());
    let app = MandatoryTotpApp::new(AppParts {
        store: store.clone(),
        mailer: Arc::new(smtp.mailer().unwrap()),
        clock: Arc::new(clock.clone()),
        keyring: keyring(),
        pepper: Pepper::generate().unwrap(),
        // Small Argon2id parameters keep the unoptimised test fast; the binary uses OWASP's.
        hasher: PasswordHasher::new(PasswordParams::new(64, 1, 1).unwrap()),
    })
    .unwrap();
    let f = Fixture {
        app,
        store,
        clock,
        smtp,
    };
    let outcome = tokio::spawn(async move { scenario(&f).await }).await;
    cleanup.into_future().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn scenario(f: &Fixture) {
    let app = &f.app;
    let c = client();

    // Registration hands out an 8-digit authenticator; until its first code, no login at all.
    let enrollment = app
        .register(USER, "carol@example.com", PASSWORD, &c)
        .await
        .unwrap();
    let uri = KeyUri::parse(enrollment.key_uri()).unwrap();
    assert_eq!(uri.digits, Digits::EIGHT);
    assert_eq!(uri.algorithm, Algorithm::Sha1);
    assert_eq!(uri.issuer.as_deref(), Some("Acme"));
    assert!(enrollment.qr_svg().contains("<svg"));
    let secret = Secret::from_base32(enrollment.secret_base32()).unwrap();
    assert!(matches!(
        app.login_password(USER, PASSWORD, &c).await.unwrap(),
        PasswordStep::RegistrationIncomplete
    ));
    let now = f.clock.unix_secs();
    let wrong_first: String = totp(&secret, now)
        .chars()
        .map(|d| if d == '0' { '1' } else { '0' })
        .collect();
    assert!(matches!(
        app.complete_registration(USER, &wrong_first, &c)
            .await
            .unwrap(),
        RegistrationStep::WrongCode
    ));
    assert!(matches!(
        app.login_password(USER, PASSWORD, &c).await.unwrap(),
        PasswordStep::RegistrationIncomplete
    ));
    let RegistrationStep::Complete { recovery_codes } = app
        .complete_registration(USER, &totp(&secret, now), &c)
        .await
        .unwrap()
    else {
        panic!("the first code completes the registration");
    };
    assert_eq!(recovery_codes.len(), 10);
    assert_eq!(app.recovery_codes_left(USER).await.unwrap(), 10);

    // The secret is sealed at rest: the stored factor holds a SealedSecret that does not
    // contain the secret's bytes, opens with the keyring for carol, and not for anyone else.
    let factors = f.store.totp_factors(USER).await.unwrap();
    assert_eq!(factors.len(), 1);
    let sealed = &factors[0].sealed_secret;
    let raw = secret.expose_bytes();
    assert!(sealed.as_bytes().len() > raw.len());
    assert!(!sealed.as_bytes().windows(raw.len()).any(|w| w == raw));
    let opened = keyring().open(sealed, USER, &factors[0].id).unwrap();
    assert_eq!(opened.expose_bytes(), raw);
    assert!(keyring().open(sealed, "mallory", &factors[0].id).is_err());

    // Wrong password: no TOTP step, no session.
    assert!(matches!(
        app.login_password(USER, "wrong", &c).await.unwrap(),
        PasswordStep::WrongPassword
    ));

    // ±1 step: one step back and one step ahead sign in, two steps back do not.
    f.advance(90);
    let now = f.clock.unix_secs();
    let login = f.password().await;
    match f
        .second(&login, SecondFactor::Totp(&totp(&secret, now - 30)))
        .await
    {
        FactorStep::Session(s) => {
            assert_eq!(s.user, USER);
            assert_eq!(s.id().len(), 64);
            assert!(!format!("{s:?}").contains(s.id()));
        }
        other => panic!("one step back must sign in: {other:?}"),
    }
    f.advance(60);
    let now = f.clock.unix_secs();
    let login = f.password().await;
    assert!(matches!(
        f.second(&login, SecondFactor::Totp(&totp(&secret, now - 60)))
            .await,
        FactorStep::WrongCode { .. }
    ));
    assert!(matches!(
        f.second(&login, SecondFactor::Totp(&totp(&secret, now + 30)))
            .await,
        FactorStep::Session(_)
    ));

    // Recovery codes sign in once each.
    let codes = recovery_codes.expose();
    let login = f.password().await;
    match f
        .second(&login, SecondFactor::RecoveryCode(&codes[0]))
        .await
    {
        FactorStep::Session(s) => assert_eq!(s.recovery_codes_left, Some(9)),
        other => panic!("a recovery code must sign in: {other:?}"),
    }
    let login = f.password().await;
    assert!(matches!(
        f.second(&login, SecondFactor::RecoveryCode(&codes[0]))
            .await,
        FactorStep::WrongCode { .. }
    ));
    f.advance(60);

    // From a stranger's network (one who has the password): 5 tries per 15 minutes (counted in
    // Redis), the fifth failure refuses further tries until the window ends. (The two failures
    // above count too: start in a fresh hour.)
    f.advance(3600);
    let attacker = stranger(9);
    let login = f.password_from(&attacker).await;
    let bad = "00000000";
    for left in (1..5).rev() {
        let step = f
            .second_from(&login, SecondFactor::Totp(bad), &attacker)
            .await;
        assert!(
            matches!(step, FactorStep::WrongCode { attempts_left } if attempts_left == left),
            "{step:?}"
        );
    }
    let t = f.now();
    let step = f
        .second_from(&login, SecondFactor::Totp(bad), &attacker)
        .await;
    assert!(
        matches!(step, FactorStep::Locked { until } if until == t + Duration::from_secs(900)),
        "{step:?}"
    );
    assert!(matches!(
        app.login_password(USER, PASSWORD, &attacker).await.unwrap(),
        PasswordStep::Locked { .. }
    ));
    let notices_before = f.smtp.messages().len();

    // 10 failures in 1 hour lock unrecognised networks out until an administrator unlocks, and
    // email a notice.
    f.advance(900);
    let login = f.password_from(&attacker).await;
    for _ in 0..4 {
        let step = f
            .second_from(&login, SecondFactor::Totp(bad), &attacker)
            .await;
        assert!(matches!(step, FactorStep::WrongCode { .. }), "{step:?}");
    }
    let step = f
        .second_from(&login, SecondFactor::Totp(bad), &attacker)
        .await;
    let FactorStep::Locked { until } = step else {
        panic!("the tenth failure locks: {step:?}")
    };
    assert!(until > f.now() + Duration::from_secs(365 * 24 * 3600));
    let mails = f.smtp.messages();
    assert_eq!(mails.len(), notices_before + 1);
    let notice = mails.last().unwrap();
    assert_eq!(notice.rcpt_to, vec!["carol@example.com".to_owned()]);
    assert!(notice.text().contains("locked"));
    f.advance(7200);
    let elsewhere = stranger(10);
    assert!(matches!(
        app.login_password(USER, PASSWORD, &elsewhere)
            .await
            .unwrap(),
        PasswordStep::Locked { .. }
    ));
    // The user's own network is not locked out.
    let login = f.password().await;
    let code = totp(&secret, f.clock.unix_secs());
    assert!(matches!(
        f.second(&login, SecondFactor::Totp(&code)).await,
        FactorStep::Session(_)
    ));

    // The administrator unlocks; password then TOTP sign in again from elsewhere.
    app.admin_unlock(USER, "admin-1").await.unwrap();
    f.advance(30);
    let login = f.password_from(&elsewhere).await;
    let code = totp(&secret, f.clock.unix_secs());
    assert!(matches!(
        f.second_from(&login, SecondFactor::Totp(&code), &elsewhere)
            .await,
        FactorStep::Session(_)
    ));
    let audit = f.store.audit_events(USER, 100).await.unwrap();
    assert!(audit.iter().any(|e| e.kind.as_str() == "account.unlocked"));
}
