//! The service over real HTTP on loopback, on PostgreSQL and on Redis (throwaway stores of the
//! backends' testkits), with mail through a real SMTP server on loopback and a manual clock.
//!
//! Clients come from the network each test browser names (`X-Forwarded-For`, one trusted
//! proxy): the user's own network, recognised once a sign-in completed from it, and strangers'.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::indexing_slicing
)]

mod common;

use std::future::{Future, IntoFuture as _};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use common::{Browser, Reply, send};
use email_link_login::{
    AppState, Parts, build_mfa, code_in_message, link_token_in_message, postgres_sessions, router,
};
use mfa::mail::testkit::SmtpTestServer;
use mfa::{Clock as _, Keyring, ManualClock, Pepper, SealingKey, Store};
use mfa_axum::tower_sessions::{MemoryStore, SessionStore};
use mfa_axum::{EdgeConfig, ForwardedHeader, Transport, TrustedProxies};
use mfa_store_sql::PgStore;
use mfa_store_sql::sqlx::{AssertSqlSafe, PgPool};
use serde_json::{Value, json};
use tokio::net::TcpListener;

const ADA: &str = "ada@example.com";
/// An address nobody registered.
const EVE: &str = "eve@example.com";
/// The user's own network.
const HOME: &str = "198.51.100.7";

/// A stranger's network.
fn stranger(n: u8) -> String {
    format!("203.0.113.{n}")
}

/// What removes a throwaway store's data.
type Cleanup = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How the test reads what the store holds (PostgreSQL only).
enum Peek {
    Postgres { pool: PgPool, schema: String },
    Nothing,
}

struct World {
    addr: SocketAddr,
    clock: ManualClock,
    smtp: SmtpTestServer,
    peek: Peek,
}

impl World {
    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    async fn browser(&self, ip: &str) -> Browser {
        common::browser(self.addr, ip).await
    }

    fn mails(&self) -> usize {
        self.smtp.messages().len()
    }

    /// The newest message to `to`.
    fn last_mail(&self, to: &str) -> String {
        self.smtp
            .messages()
            .into_iter()
            .rev()
            .find(|m| m.rcpt_to.iter().any(|r| r == to))
            .expect("a message")
            .text()
    }

    fn last_code(&self, to: &str) -> String {
        code_in_message(&self.last_mail(to)).expect("a code")
    }

    /// Every row of the facade's challenges and of the session table, as text.
    async fn stored_text(&self) -> Option<String> {
        let Peek::Postgres { pool, schema } = &self.peek else {
            return None;
        };
        let mut text = String::new();
        for table in ["mfa_challenges", "email_link_sessions"] {
            let sql = format!("SELECT t::text FROM {schema}.{table} t");
            let rows: Vec<String> = mfa_store_sql::sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .unwrap();
            text.push_str(&rows.join("\n"));
        }
        Some(text)
    }
}

/// A 6-digit code that is not `code`.
fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect()
}

/// Asserts that two answers are the same to the byte: status, body, `Retry-After`,
/// `Content-Type` (the CSRF header differs per session, and both have one or neither).
#[track_caller]
fn same(a: &Reply, b: &Reply) {
    assert_eq!(a.status, b.status, "{} / {}", a.body, b.body);
    assert_eq!(a.body, b.body);
    for header in ["retry-after", "content-type"] {
        assert_eq!(a.header(header), b.header(header), "{header}");
    }
    assert_eq!(
        a.header("x-csrf-token").is_some(),
        b.header("x-csrf-token").is_some()
    );
}

#[track_caller]
fn problem(reply: &Reply, status: u16, error: &str) -> Value {
    let body = reply.json();
    assert_eq!(
        (reply.status, body["error"].as_str()),
        (status, Some(error)),
        "{body}"
    );
    body
}

async fn verify(browser: &mut Browser, code: &str) -> Reply {
    browser.post("/auth/verify", &json!({ "code": code })).await
}

/// Serves the service on `store` and `sessions`, runs the scenario, then removes the store's
/// data (also when the scenario fails).
async fn run<S>(store: Arc<dyn Store>, sessions: S, peek: Peek, cleanup: Cleanup)
where
    S: SessionStore + Clone,
{
    let smtp = SmtpTestServer::start().unwrap();
    // Redis expires keys on its own clock: start the manual clock at the real time.
    let clock = ManualClock::at_unix_secs(mfa::SystemClock.unix_secs());
    let mfa = build_mfa(Parts {
        store,
        mailer: Arc::new(smtp.mailer().unwrap()),
        clock: Arc::new(clock.clone()),
        keyring: Keyring::new(1, SealingKey::generate().unwrap()),
        pepper: Pepper::generate().unwrap(),
    })
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState::new(mfa, &format!("http://127.0.0.1:{}", addr.port())).unwrap();
    // One proxy in front: the client is the address in X-Forwarded-For.
    let edge = EdgeConfig::builder(Transport::PlainHttpForDevelopment)
        .trusted_proxies(
            ForwardedHeader::XForwardedFor,
            TrustedProxies::count(1).unwrap(),
        )
        .pages("/", "/", "/", "/")
        .build()
        .unwrap();
    let app = router(state, &edge, sessions);
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let world = World {
        addr,
        clock,
        smtp,
        peek,
    };
    let outcome = tokio::spawn(async move { scenario(&world).await }).await;
    server.abort();
    cleanup.await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn scenario(w: &World) {
    requests_are_checked(w).await;
    register(w).await;
    magic_link(w).await;
    code_and_resend(w).await;
    code_lifetime(w).await;
    // A new hour: the address's quotas (5 messages an hour) start again.
    w.advance(3600);
    strangers_lock_and_the_user_signs_in(w).await;
}

/// Bad input gets a typed answer; a POST without the CSRF header is refused.
async fn requests_are_checked(w: &World) {
    let mut b = w.browser(HOME).await;
    let r = b
        .post("/auth/email", &json!({ "email": "not an address" }))
        .await;
    problem(&r, 400, "invalid_input");
    let r = b.post("/auth/email", &json!({ "mail": ADA })).await;
    problem(&r, 400, "invalid_input");
    let r = verify(&mut b, "123456").await;
    problem(&r, 410, "expired_code");
    let r = b.get("/me").await;
    problem(&r, 401, "sign_in_required");
    b.csrf.clear();
    let r = b.post("/auth/email", &json!({ "email": ADA })).await;
    assert_eq!(r.status, 403, "{}", r.body);
}

/// Registration: the address's first code proves it.
async fn register(w: &World) {
    let mut b = w.browser(HOME).await;
    let r = b.post("/auth/register", &json!({ "email": ADA })).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let code = w.last_code(ADA);
    let r = b
        .post("/auth/register/confirm", &json!({ "code": wrong(&code) }))
        .await;
    problem(&r, 401, "verification_failed");
    let r = b
        .post("/auth/register/confirm", &json!({ "code": code }))
        .await;
    assert_eq!((r.status, r.json()["email"].as_str()), (201, Some(ADA)));
    // Registering the address again is answered the same, and sends nothing.
    w.advance(31);
    let before = w.mails();
    let mut again = w.browser(&stranger(1)).await;
    let r = again.post("/auth/register", &json!({ "email": ADA })).await;
    assert_eq!(r.status, 202);
    assert_eq!(w.mails(), before);
    w.advance(60);
}

/// The magic link: opening it consumes nothing; it signs in only the browser session that
/// asked for it, once.
async fn magic_link(w: &World) {
    let mut asker = w.browser(HOME).await;
    let anonymous = common::session(&asker);
    let r = asker.post("/auth/email", &json!({ "email": ADA })).await;
    assert_eq!(
        (r.status, r.json()["expires_in"].as_u64()),
        (202, Some(120))
    );
    assert_ne!(
        common::session(&asker),
        anonymous,
        "a new session id for the pending sign-in"
    );
    let mail = w.last_mail(ADA);
    let base = format!("http://127.0.0.1:{}/auth/link?token=", w.addr.port());
    assert!(mail.contains(&base), "{mail}");
    let token = link_token_in_message(&mail).unwrap();
    let code = code_in_message(&mail).unwrap();
    assert_eq!(code.len(), 6);

    // The store keeps neither the code nor the link's token, only their digests.
    if let Some(stored) = w.stored_text().await {
        assert!(!stored.is_empty());
        assert!(!stored.contains(&token));
        assert!(!stored.contains(&code));
    }

    // A mail scanner (no cookie) opens the link three times: a page with a button, no
    // session started, nothing consumed.
    let link = format!("/auth/link?token={token}");
    for _ in 0..3 {
        let r = send(w.addr, "GET", &link, &[], b"").await;
        assert_eq!(r.status, 200);
        assert!(r.body.contains("<button"), "{}", r.body);
        assert!(r.all("set-cookie").is_empty(), "the page starts no session");
    }

    // Another browser presses the button: refused, not signed in. One with no sign-in of its
    // own, and one with a sign-in of ada's pending from another network (its own binding).
    let mut other = w.browser(HOME).await;
    let r = other
        .form("/auth/link", &format!("token={token}"), &[])
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    problem(&other.get("/me").await, 401, "sign_in_required");
    let mut thief = w.browser(&stranger(50)).await;
    let r = thief.post("/auth/email", &json!({ "email": ADA })).await;
    assert_eq!(r.status, 202);
    let r = thief
        .form("/auth/link", &format!("token={token}"), &[])
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    problem(&thief.get("/me").await, 401, "second_factor_required");

    // The asking browser, from another site: refused before anything is looked at.
    let cross = [("Sec-Fetch-Site", "cross-site")];
    let r = asker
        .form("/auth/link", &format!("token={token}"), &cross)
        .await;
    assert_eq!(r.status, 403);
    let evil = [("Origin", "https://evil.test")];
    let r = asker
        .form("/auth/link", &format!("token={token}"), &evil)
        .await;
    assert_eq!(r.status, 403);

    // The asking browser, from the page: signed in, under a new session id; once.
    let pending = common::session(&asker);
    let same_site = [("Sec-Fetch-Site", "same-origin")];
    let r = asker
        .form("/auth/link", &format!("token={token}"), &same_site)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(ADA));
    assert_ne!(common::session(&asker), pending);
    let r = asker.get("/me").await;
    assert_eq!((r.status, r.json()["email"].as_str()), (200, Some(ADA)));
    let r = asker
        .form("/auth/link", &format!("token={token}"), &same_site)
        .await;
    assert_eq!(r.status, 401);
    let r = send(w.addr, "GET", &link, &[], b"").await;
    assert_eq!(r.status, 410);
    // Signing out ends it. (The sign-in gave the session a new CSRF token; the script of the
    // page that asked for the link, in another tab, fetches it again.)
    let old = asker.csrf.clone();
    common::refresh_csrf(&mut asker).await;
    assert_ne!(asker.csrf, old);
    let r = asker.post("/auth/logout", &json!({})).await;
    assert_eq!(r.status, 204);
    problem(&asker.get("/me").await, 401, "sign_in_required");
}

/// The 6-digit code; a resend within 30 seconds is refused; a resend replaces the code.
async fn code_and_resend(w: &World) {
    w.advance(31);
    let mut b = w.browser(HOME).await;
    assert_eq!(
        b.post("/auth/email", &json!({ "email": ADA })).await.status,
        202
    );
    let first = w.last_code(ADA);
    let r = b.post("/auth/resend", &json!({})).await;
    let body = problem(&r, 429, "too_many_messages");
    assert_eq!(body["retry_after"], 30);
    assert_eq!(r.header("retry-after"), Some("30"));
    w.advance(30);
    let r = b.post("/auth/resend", &json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let second = w.last_code(ADA);
    if first != second {
        let r = verify(&mut b, &first).await;
        assert_eq!(problem(&r, 401, "code_mismatch")["attempts_left"], 2);
    }
    let r = verify(&mut b, &second).await;
    assert_eq!((r.status, r.json()["email"].as_str()), (200, Some(ADA)));
    assert_eq!(b.get("/me").await.status, 200);
    // Signed in: there is no pending sign-in left to answer.
    problem(&verify(&mut b, &second).await, 410, "expired_code");
}

/// The code lives 2 minutes.
async fn code_lifetime(w: &World) {
    w.advance(31);
    let mut b = w.browser(HOME).await;
    assert_eq!(
        b.post("/auth/email", &json!({ "email": ADA })).await.status,
        202
    );
    let code = w.last_code(ADA);
    w.advance(119);
    assert_eq!(verify(&mut b, &code).await.status, 200);

    w.advance(31);
    let mut b = w.browser(HOME).await;
    assert_eq!(
        b.post("/auth/email", &json!({ "email": ADA })).await.status,
        202
    );
    let code = w.last_code(ADA);
    w.advance(121);
    problem(&verify(&mut b, &code).await, 410, "expired_code");
    problem(
        &b.post("/auth/resend", &json!({})).await,
        410,
        "expired_code",
    );
}

/// From a stranger's network: a known and an unknown address get the same answers, tries
/// included; 3 wrong codes lock the account for 1 hour against unrecognised networks, while
/// the user's own network signs in.
async fn strangers_lock_and_the_user_signs_in(w: &World) {
    let s = stranger(9);
    let mut known = w.browser(&s).await;
    let mut unknown = w.browser(&s).await;
    let before = w.mails();
    let a = known.post("/auth/email", &json!({ "email": ADA })).await;
    let b = unknown.post("/auth/email", &json!({ "email": EVE })).await;
    assert_eq!(a.status, 202);
    same(&a, &b);
    assert_eq!(w.mails(), before + 1, "only the known address gets mail");
    let right = w.last_code(ADA);
    let bad = wrong(&right);

    let a = known.post("/auth/resend", &json!({})).await;
    let b = unknown.post("/auth/resend", &json!({})).await;
    assert_eq!(a.status, 429);
    same(&a, &b);

    for left in [2, 1, 0] {
        let a = verify(&mut known, &bad).await;
        let b = verify(&mut unknown, &bad).await;
        assert_eq!(problem(&a, 401, "code_mismatch")["attempts_left"], left);
        same(&a, &b);
    }
    // No tries left: start again, whatever the code.
    let a = verify(&mut known, &right).await;
    let b = verify(&mut unknown, &right).await;
    problem(&a, 410, "expired_code");
    same(&a, &b);
    problem(&known.get("/me").await, 401, "second_factor_required");

    // The third wrong code locked the account for an hour against unrecognised networks: a
    // sign-in from another stranger's network (past the address's 30-second cooldown) is
    // answered as for anyone, and sends nothing.
    w.advance(31);
    let s2 = stranger(10);
    let before = w.mails();
    let mut locked = w.browser(&s2).await;
    let mut nobody = w.browser(&s2).await;
    let a = locked.post("/auth/email", &json!({ "email": ADA })).await;
    let b = nobody.post("/auth/email", &json!({ "email": EVE })).await;
    same(&a, &b);
    assert_eq!(w.mails(), before);
    let a = verify(&mut locked, &right).await;
    let b = verify(&mut nobody, &right).await;
    same(&a, &b);

    // The user's own network, recognised since the sign-ins above, signs in during the lock.
    let mut home = w.browser(HOME).await;
    assert_eq!(
        home.post("/auth/email", &json!({ "email": ADA }))
            .await
            .status,
        202
    );
    assert_eq!(w.mails(), before + 1, "the user's sign-in sends its code");
    let code = w.last_code(ADA);
    let r = verify(&mut home, &code).await;
    assert_eq!((r.status, r.json()["email"].as_str()), (200, Some(ADA)));

    // Still locked for strangers a second before the hour ends; open after it.
    w.advance(3599 - 31);
    let before = w.mails();
    let mut b = w.browser(&s2).await;
    assert_eq!(
        b.post("/auth/email", &json!({ "email": ADA })).await.status,
        202
    );
    assert_eq!(w.mails(), before);
    w.advance(1);
    let mut b = w.browser(&s2).await;
    assert_eq!(
        b.post("/auth/email", &json!({ "email": ADA })).await.status,
        202
    );
    assert_eq!(w.mails(), before + 1);
    let code = w.last_code(ADA);
    let r = verify(&mut b, &code).await;
    assert_eq!((r.status, r.json()["email"].as_str()), (200, Some(ADA)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    // A schema of its own, dropped afterwards (the session table with it); skipped (or failed
    // under MFA_REQUIRE_SERVICES=1) without the server.
    let Some(throwaway) = PgStore::throwaway().await else {
        return;
    };
    let schema = throwaway.name().to_owned();
    let url = mfa_store_sql::testkit::postgres_url();
    let sessions = postgres_sessions(&url, &schema).await.unwrap();
    let pool = throwaway.pool().clone();
    let (store, cleanup) = throwaway.into_parts();
    let peek = Peek::Postgres { pool, schema };
    run(Arc::new(store), sessions, peek, cleanup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis() {
    // An initialised key prefix of its own, deleted afterwards; sessions in memory.
    let Some((store, cleanup)) =
        mfa_store_redis::testkit::throwaway_store("email-link-login").await
    else {
        return;
    };
    run(
        Arc::new(store),
        MemoryStore::default(),
        Peek::Nothing,
        Box::pin(cleanup.into_future()),
    )
    .await;
}
