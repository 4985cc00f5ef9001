//! The whole flow against the real services: PostgreSQL or Redis, SMTP on loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::future::{Future, IntoFuture as _};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use email_link_login::{
    EmailLinkApp, PendingLogin, Registration, SignIn, code_in_message, link_token_in_message,
};
use mfa::mail::testkit::SmtpTestServer;
use mfa::{
    ClientInfo, Clock, Keyring, LinkInspection, ManualClock, Pepper, SealingKey, SendOutcome, Store,
};
use mfa_store_sql::PgStore;

const EMAIL: &str = "ada@example.com";
const BASE: &str = "https://app.test/login";

/// The user's usual network: recognised once a login completed from it.
fn client() -> ClientInfo {
    ClientInfo::new("198.51.100.7".parse().unwrap()).with_user_agent("test")
}

/// A stranger's network (the seed's limits apply to unrecognised networks).
fn stranger(n: u8) -> ClientInfo {
    ClientInfo::new(format!("203.0.113.{n}").parse().unwrap())
}

/// What removes a throwaway store's data.
type Cleanup = Pin<Box<dyn Future<Output = ()> + Send>>;

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
        self.login_from(&client()).await
    }
    async fn login_from(&self, from: &ClientInfo) -> PendingLogin {
        self.app.begin_login(EMAIL, from).await.unwrap()
    }
}

fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect()
}

/// Runs the scenario on `store`, then removes the store's data (also when the scenario fails).
async fn whole_flow(store: Arc<dyn Store>, cleanup: Cleanup) {
    let smtp = SmtpTestServer::start().unwrap();
    // Redis expires keys on its own clock: start the manual clock at the real time.
    let clock = ManualClock::at_unix_secs(mfa::SystemClock.unix_secs());
    let app = EmailLinkApp::new(
        store,
        Arc::new(smtp.mailer().unwrap()),
        Arc::new(clock.clone()),
        Keyring::new(1, SealingKey::generate().unwrap()),
        Pepper::generate().unwrap(),
    )
    .unwrap();
    let f = Fixture { app, clock, smtp };
    let run = tokio::spawn(async move { scenario(&f).await });
    let outcome = run.await;
    cleanup.await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn scenario(f: &Fixture) {
    let app = &f.app;
    let c = client();

    // Registration: the address's first code proves it.
    assert!(matches!(
        app.register(EMAIL, &c).await.unwrap(),
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
        app.send_link(&login, BASE, Some("browser-1"), &c)
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
        app.send_link(&login, BASE, None, &c).await.unwrap(),
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
        app.resend_code(&login, &c).await.unwrap(),
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

    // One active code per login: a resend replaces the code; the old one no longer verifies.
    let login = f.login().await;
    assert!(matches!(
        app.resend_code(&login, &c).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    let first = f.last_code();
    assert!(matches!(
        app.resend_code(&login, &c).await.unwrap(),
        SendOutcome::Cooldown { .. }
    ));
    f.advance(30);
    assert!(matches!(
        app.resend_code(&login, &c).await.unwrap(),
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
    // A new login from the same network replaces the previous one too.
    f.advance(31);
    let old = f.login().await;
    let new = f.login().await;
    assert_eq!(
        app.resend_code(&old, &c).await.unwrap(),
        SendOutcome::NoChallenge
    );

    // A stranger's 3 wrong tries lock the account for 1 hour against unrecognised networks, on
    // the third try.
    let attacker = stranger(9);
    let theirs = f.login_from(&attacker).await;
    assert!(matches!(
        app.resend_code(&theirs, &attacker).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    let right = f.last_code();
    let bad = wrong(&right);
    assert_eq!(
        app.login_with_code(&theirs, &bad, &attacker).await.unwrap(),
        SignIn::WrongCode { attempts_left: 2 }
    );
    assert_eq!(
        app.login_with_code(&theirs, &bad, &attacker).await.unwrap(),
        SignIn::WrongCode { attempts_left: 1 }
    );
    let locked_at = f.now();
    assert_eq!(
        app.login_with_code(&theirs, &bad, &attacker).await.unwrap(),
        SignIn::Locked {
            until: locked_at + Duration::from_secs(3600)
        }
    );
    // The right code of the locked login does not sign in.
    assert_ne!(
        app.login_with_code(&theirs, &right, &attacker)
            .await
            .unwrap(),
        SignIn::SignedIn {
            email: EMAIL.into()
        }
    );
    // The user's own login, started from their usual network before the attack, is neither
    // cancelled by the stranger's login nor locked: it gets its code and signs in.
    assert!(matches!(
        app.resend_code(&new, &c).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    let mine = f.last_code();
    assert_eq!(
        app.login_with_code(&new, &mine, &c).await.unwrap(),
        SignIn::SignedIn {
            email: EMAIL.into()
        }
    );
    // Locked for the hour against strangers: their login looks the same but no mail goes out.
    let other = stranger(10);
    let before = f.mails();
    f.advance(3599);
    let decoy = f.login_from(&other).await;
    assert!(matches!(
        app.resend_code(&decoy, &other).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    assert_eq!(f.mails(), before);
    // After the hour, sign-in from there works again.
    f.advance(1);
    let login = f.login_from(&other).await;
    assert!(matches!(
        app.resend_code(&login, &other).await.unwrap(),
        SendOutcome::Sent { .. }
    ));
    assert_eq!(f.mails(), before + 1);
    let code = f.last_code();
    assert_eq!(
        app.login_with_code(&login, &code, &other).await.unwrap(),
        SignIn::SignedIn {
            email: EMAIL.into()
        }
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis() {
    // An initialised key prefix of its own, deleted afterwards.
    let Some((store, cleanup)) =
        mfa_store_redis::testkit::throwaway_store("email-link-login").await
    else {
        return;
    };
    whole_flow(Arc::new(store), Box::pin(cleanup.into_future())).await;
}
