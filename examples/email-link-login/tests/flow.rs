//! The whole flow against the real services: PostgreSQL or Redis, SMTP on loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use email_link_login::{
    EmailLinkApp, PendingLogin, Registration, SignIn, StoreHandle, StoreKind, code_in_message,
    link_token_in_message,
};
use mfa::mail::testkit::SmtpTestServer;
use mfa::{
    ClientInfo, Clock, Keyring, LinkInspection, ManualClock, Pepper, SealingKey, SendOutcome,
};

const EMAIL: &str = "ada@example.com";
const BASE: &str = "https://app.test/login";

fn client() -> ClientInfo {
    ClientInfo {
        ip: Some("198.51.100.7".into()),
        user_agent: Some("test".into()),
    }
}

/// Connects, or skips (fails under `MFA_REQUIRE_SERVICES=1`) when the server is missing.
async fn connect(kind: StoreKind) -> Option<StoreHandle> {
    let url = kind.url_from_env();
    match StoreHandle::connect(kind, &url, "email_link_test").await {
        Ok(handle) => Some(handle),
        Err(e) => {
            assert!(
                std::env::var("MFA_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "{} at {url} is required (MFA_REQUIRE_SERVICES=1) but unreachable: {e}",
                kind.as_str()
            );
            eprintln!("SKIPPED: {} at {url} is unreachable ({e})", kind.as_str());
            None
        }
    }
}

struct Fixture {
    app: EmailLinkApp,
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
    fn mails(&self) -> usize {
        self.smtp.messages().len()
    }
    fn last_mail(&self) -> String {
        self.smtp.messages().pop().expect("a message").text()
    }
    fn last_code(&self) -> String {
        code_in_message(&self.last_mail()).expect("a code")
    }
    async fn login(&self) -> PendingLogin {
        self.app.begin_login(EMAIL, &client()).await.unwrap()
    }
}

fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect()
}

async fn whole_flow(kind: StoreKind) {
    let Some(handle) = connect(kind).await else {
        return;
    };
    let smtp = SmtpTestServer::start().unwrap();
    // Redis expires keys on its own clock: start the manual clock at the real time.
    let clock = ManualClock::at_unix_secs(mfa::SystemClock.unix_secs());
    let app = EmailLinkApp::new(
        handle.store(),
        Arc::new(smtp.mailer().unwrap()),
        Arc::new(clock.clone()),
        Keyring::new(1, SealingKey::generate().unwrap()),
        Pepper::generate().unwrap(),
    )
    .unwrap();
    let f = Fixture { app, clock, smtp };
    let run = tokio::spawn(async move { scenario(&f).await });
    let outcome = run.await;
    handle.remove_data().await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn scenario(f: &Fixture) {
    let app = &f.app;
    let c = client();

    // Registration: the address's first code proves it.
    assert!(matches!(
        app.register(EMAIL).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    let code = f.last_code();
    assert_eq!(
        app.confirm_registration(EMAIL, &wrong(&code), &c)
            .await
            .unwrap(),
        Registration::Incomplete
    );
    assert_eq!(
        app.confirm_registration(EMAIL, &code, &c).await.unwrap(),
        Registration::Complete
    );
    f.advance(60);

    // Magic link + code in one message; the link lives 2 minutes; opening it consumes nothing;
    // the confirmation signs in exactly once, and only in the browser it was sent for.
    let login = f.login().await;
    let t0 = f.now();
    assert_eq!(
        app.send_link(&login, BASE, Some("browser-1"))
            .await
            .unwrap(),
        SendOutcome::Sent {
            expires_at: t0 + Duration::from_secs(120)
        }
    );
    let mail = f.last_mail();
    assert!(mail.contains("https://app.test/login?token="));
    let token = link_token_in_message(&mail).unwrap();
    assert!(code_in_message(&mail).is_some_and(|c| c.len() == 6));
    for _ in 0..3 {
        assert_eq!(
            app.open_link(&token).await.unwrap(),
            LinkInspection::Valid {
                expires_at: t0 + Duration::from_secs(120)
            }
        );
    }
    assert!(matches!(
        app.confirm_link(&token, Some("browser-2"), &c)
            .await
            .unwrap(),
        SignIn::WrongCode { .. }
    ));
    assert_eq!(
        app.confirm_link(&token, Some("browser-1"), &c)
            .await
            .unwrap(),
        SignIn::SignedIn {
            email: EMAIL.into()
        }
    );
    assert_eq!(
        app.confirm_link(&token, Some("browser-1"), &c)
            .await
            .unwrap(),
        SignIn::Expired
    );
    assert_eq!(
        app.open_link(&token).await.unwrap(),
        LinkInspection::Invalid
    );

    // The 6-digit code works once.
    f.advance(31);
    let login = f.login().await;
    assert!(matches!(
        app.send_link(&login, BASE, None).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    let code = f.last_code();
    assert_eq!(
        app.login_with_code(&login, &code, &c).await.unwrap(),
        SignIn::SignedIn {
            email: EMAIL.into()
        }
    );
    assert_eq!(
        app.login_with_code(&login, &code, &c).await.unwrap(),
        SignIn::Expired
    );

    // Code lifetime: 2 minutes.
    f.advance(31);
    let login = f.login().await;
    let t = f.now();
    assert_eq!(
        app.resend_code(&login).await.unwrap(),
        SendOutcome::Sent {
            expires_at: t + Duration::from_secs(120)
        }
    );
    let code = f.last_code();
    f.advance(121);
    assert_eq!(
        app.login_with_code(&login, &code, &c).await.unwrap(),
        SignIn::Expired
    );

    // A new hour (the address's quota is 5 messages an hour).
    f.advance(3600);

    // One active code per address: a resend replaces the code; the old one no longer verifies.
    let login = f.login().await;
    assert!(matches!(
        app.resend_code(&login).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    let first = f.last_code();
    assert!(matches!(
        app.resend_code(&login).await.unwrap(),
        SendOutcome::Cooldown { .. }
    ));
    f.advance(30);
    assert!(matches!(
        app.resend_code(&login).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    let second = f.last_code();
    if first != second {
        assert_eq!(
            app.login_with_code(&login, &first, &c).await.unwrap(),
            SignIn::WrongCode { attempts_left: 2 }
        );
    }
    assert_eq!(
        app.login_with_code(&login, &second, &c).await.unwrap(),
        SignIn::SignedIn {
            email: EMAIL.into()
        }
    );
    // A new login replaces the previous one too.
    f.advance(31);
    let old = f.login().await;
    let new = f.login().await;
    assert_eq!(
        app.resend_code(&old).await.unwrap(),
        SendOutcome::NoChallenge
    );

    // 3 wrong tries lock the account for 1 hour, on the third try.
    assert!(matches!(
        app.resend_code(&new).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    let right = f.last_code();
    let bad = wrong(&right);
    assert_eq!(
        app.login_with_code(&new, &bad, &c).await.unwrap(),
        SignIn::WrongCode { attempts_left: 2 }
    );
    assert_eq!(
        app.login_with_code(&new, &bad, &c).await.unwrap(),
        SignIn::WrongCode { attempts_left: 1 }
    );
    let locked_at = f.now();
    assert_eq!(
        app.login_with_code(&new, &bad, &c).await.unwrap(),
        SignIn::Locked {
            until: locked_at + Duration::from_secs(3600)
        }
    );
    // Locked for the hour: a login looks the same but no mail goes out, and the right code of
    // the locked login does not sign in.
    assert_ne!(
        app.login_with_code(&new, &right, &c).await.unwrap(),
        SignIn::SignedIn {
            email: EMAIL.into()
        }
    );
    let before = f.mails();
    f.advance(3599);
    let decoy = f.login().await;
    assert!(matches!(
        app.resend_code(&decoy).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    assert_eq!(f.mails(), before);
    // After the hour, sign-in works again.
    f.advance(1);
    let login = f.login().await;
    assert!(matches!(
        app.resend_code(&login).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    assert_eq!(f.mails(), before + 1);
    let code = f.last_code();
    assert_eq!(
        app.login_with_code(&login, &code, &c).await.unwrap(),
        SignIn::SignedIn {
            email: EMAIL.into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    whole_flow(StoreKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis() {
    whole_flow(StoreKind::Redis).await;
}
