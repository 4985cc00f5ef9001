//! The whole flow against the real services: SQLite and PostgreSQL (throwaway stores of the
//! backend's testkit), SMTP on loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mfa::core::{PasswordHasher, PasswordParams};
use mfa::mail::testkit::SmtpTestServer;
use mfa::{ClientInfo, Clock, Keyring, ManualClock, Pepper, SealingKey, SendOutcome, Store};
use mfa_store_sql::{PgStore, SqliteStore};
use password_email_otp_jwt::{
    AppParts, Claims, CodeStep, PasswordEmailApp, PasswordStep, PendingLogin, SessionKey,
    code_in_message,
};

const PASSWORD: &str = "correct horse battery staple";
const KEY: [u8; 32] = [0x42; 32];

fn client_at(ip: &str) -> ClientInfo {
    ClientInfo::new(ip.parse().unwrap())
}

/// What removes a throwaway store's data.
type Cleanup = Pin<Box<dyn Future<Output = ()> + Send>>;

struct Fixture {
    app: PasswordEmailApp,
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
    fn last_code(&self) -> String {
        let mail = self.smtp.messages().pop().expect("a message").text();
        code_in_message(&mail).expect("a code")
    }
    async fn password_ok(&self, client: &ClientInfo) -> PendingLogin {
        match self
            .app
            .login_password("bob", PASSWORD, client)
            .await
            .unwrap()
        {
            PasswordStep::CodeSent(login) => login,
            other => panic!("expected the code step, got {other:?}"),
        }
    }
}

/// Runs the scenario on `store`, then removes the store's data (also when the scenario fails).
async fn whole_flow(store: Arc<dyn Store>, cleanup: Cleanup) {
    let smtp = SmtpTestServer::start().unwrap();
    let clock = ManualClock::at_unix_secs(mfa::SystemClock.unix_secs());
    let app = PasswordEmailApp::new(AppParts {
        store,
        mailer: Arc::new(smtp.mailer().unwrap()),
        clock: Arc::new(clock.clone()),
        keyring: Keyring::new(1, SealingKey::generate().unwrap()),
        pepper: Pepper::generate().unwrap(),
        // Small Argon2id parameters keep the unoptimised test fast; the binary uses OWASP's.
        hasher: PasswordHasher::new(PasswordParams::new(64, 1, 1).unwrap()),
        session_key: SessionKey::from_bytes(KEY),
    })
    .unwrap();
    let f = Fixture { app, clock, smtp };
    let outcome = tokio::spawn(async move { scenario(&f).await }).await;
    cleanup.await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn scenario(f: &Fixture) {
    let app = &f.app;
    let c = client_at("198.51.100.7");

    // Registration: password stored as Argon2id, address proven by its first code.
    assert!(matches!(
        app.register("bob", "bob@example.com", PASSWORD, &c)
            .await
            .unwrap(),
        SendOutcome::Sent { .. }
    ));
    assert!(app.confirm_email("bob", &f.last_code(), &c).await.unwrap());
    f.advance(60);

    // 3 failed passwords lock the account for 10 s against unrecognised networks (no login has
    // completed from this one yet), on the third failure; while locked even the right password
    // is refused without being checked.
    for _ in 0..2 {
        assert!(matches!(
            app.login_password("bob", "wrong", &c).await.unwrap(),
            PasswordStep::WrongPassword
        ));
    }
    let t = f.now();
    let third = app.login_password("bob", "wrong", &c).await.unwrap();
    assert!(
        matches!(third, PasswordStep::Locked { until } if until == t + Duration::from_secs(10)),
        "{third:?}"
    );
    f.advance(9);
    assert!(matches!(
        app.login_password("bob", PASSWORD, &c).await.unwrap(),
        PasswordStep::Locked { .. }
    ));
    f.advance(1);

    // Password right: a code is mailed, living 10 minutes; no session before it verifies.
    let t = f.now();
    let login = f.password_ok(&c).await;
    assert_eq!(
        login.sent,
        SendOutcome::Sent {
            expires_at: t + Duration::from_secs(600)
        }
    );
    let code = f.last_code();
    let wrong_code: String = code
        .chars()
        .map(|d| if d == '0' { '1' } else { '0' })
        .collect();
    assert!(matches!(
        app.login_second_factor(&login, &wrong_code, &c)
            .await
            .unwrap(),
        CodeStep::WrongCode { .. }
    ));
    f.advance(599);
    let CodeStep::Session(token) = app.login_second_factor(&login, &code, &c).await.unwrap() else {
        panic!("the right code within 10 minutes must give a session");
    };

    // The JWT validates with the key (independently of the app, with jsonwebtoken itself),
    // with the claims the seed names and a 5-minute lifetime.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false; // the manual clock may be ahead of the system clock
    let data = jsonwebtoken::decode::<Claims>(
        token.expose(),
        &DecodingKey::from_secret(&KEY),
        &validation,
    )
    .unwrap();
    assert_eq!(data.header.alg, Algorithm::HS256);
    assert_eq!(data.claims.sub, "bob");
    assert_eq!(data.claims.amr, vec!["pwd".to_owned(), "otp".to_owned()]);
    assert_eq!(data.claims.iat, f.clock.unix_secs());
    assert_eq!(data.claims.exp - data.claims.iat, 300);
    assert!(
        jsonwebtoken::decode::<Claims>(
            token.expose(),
            &DecodingKey::from_secret(&[0x43; 32]),
            &validation
        )
        .is_err()
    );
    assert_eq!(app.validate_session(token.expose()), Some(data.claims));
    assert!(!format!("{token:?}").contains(token.expose()));
    f.advance(300);
    assert_eq!(app.validate_session(token.expose()), None);
    // The code worked once.
    assert!(matches!(
        app.login_second_factor(&login, &code, &c).await.unwrap(),
        CodeStep::Expired
    ));

    // Expired codes are purged and no longer verify.
    f.advance(31);
    let login = f.password_ok(&c).await;
    let code = f.last_code();
    f.advance(600);
    let purged = app.purge_expired().await.unwrap();
    assert!(purged >= 1, "the expired challenge is deleted ({purged})");
    assert!(matches!(
        app.login_second_factor(&login, &code, &c).await.unwrap(),
        CodeStep::Expired
    ));

    // One active code per login: a new login from the same network replaces the previous one.
    let first = f.password_ok(&c).await;
    let first_code = f.last_code();
    f.advance(31);
    let second = f.password_ok(&c).await;
    let second_code = f.last_code();
    assert_eq!(
        app.resend_code(&first, &c).await.unwrap(),
        SendOutcome::NoChallenge
    );
    assert!(matches!(
        app.login_second_factor(&first, &first_code, &c)
            .await
            .unwrap(),
        CodeStep::Expired
    ));
    assert!(matches!(
        app.login_second_factor(&second, &second_code, &c)
            .await
            .unwrap(),
        CodeStep::Session(_)
    ));

    // Login rate limit: 10 failed passwords from one network in 15 min, across accounts,
    // refuse that client, even for the right password; another client is unaffected.
    let attacker = client_at("203.0.113.9");
    for i in 0..9 {
        let r = app
            .login_password(&format!("victim{i}"), "guess", &attacker)
            .await
            .unwrap();
        assert!(
            matches!(r, PasswordStep::WrongPassword),
            "failure {i}: {r:?}"
        );
    }
    let tenth = app
        .login_password("victim9", "guess", &attacker)
        .await
        .unwrap();
    assert!(matches!(tenth, PasswordStep::Locked { .. }), "{tenth:?}");
    assert!(matches!(
        app.login_password("bob", PASSWORD, &attacker)
            .await
            .unwrap(),
        PasswordStep::Locked { .. }
    ));
    f.advance(31);
    let _ = f.password_ok(&client_at("203.0.113.10")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    // A file in a temporary folder of its own, removed afterwards.
    let (store, cleanup) = SqliteStore::throwaway().await.into_parts();
    whole_flow(Arc::new(store), cleanup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    // A schema of its own, dropped afterwards; skipped (or failed under
    // MFA_REQUIRE_SERVICES=1) without the server.
    let Some(throwaway) = PgStore::throwaway().await else {
        return;
    };
    let (store, cleanup) = throwaway.into_parts();
    whole_flow(Arc::new(store), cleanup).await;
}
