//! The service over real HTTP on loopback, on SQLite and on PostgreSQL (throwaway stores of the
//! backend's testkit), with mail through a real SMTP server on loopback and a manual clock.
//!
//! Clients come from the network each test client names (`X-Forwarded-For`, one trusted
//! proxy): the user's own network, recognised once a login completed from it, and strangers'.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::indexing_slicing
)]

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use common::{Api, Reply};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use mfa::core::{PasswordHasher, PasswordParams};
use mfa::mail::testkit::SmtpTestServer;
use mfa::{Clock as _, Keyring, ManualClock, Pepper, SealingKey, Store};
use mfa_axum::{EdgeConfig, ForwardedHeader, Transport, TrustedProxies};
use mfa_store_sql::sqlx::{AssertSqlSafe, PgPool, SqlitePool};
use mfa_store_sql::{PgStore, SqliteStore};
use password_email_otp_jwt::{AppParts, AppState, Claims, SessionKey, code_in_message, serve};
use serde_json::{Value, json};
use tokio::net::TcpListener;

const PASSWORD: &str = "correct horse battery staple";
const KEY: [u8; 32] = [0x42; 32];
/// The user's own network.
const HOME: &str = "198.51.100.7";

/// A stranger's network.
fn stranger(n: u8) -> String {
    format!("203.0.113.{n}")
}

/// What removes a throwaway store's data.
type Cleanup = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How the test counts the challenges the store holds.
enum Peek {
    Sqlite(SqlitePool),
    Postgres { pool: PgPool, schema: String },
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

    fn api(&self, ip: &str) -> Api {
        Api::new(self.addr, ip)
    }

    fn mails(&self) -> usize {
        self.smtp.messages().len()
    }

    fn last_code(&self) -> String {
        let mail = self.smtp.messages().pop().expect("a message").text();
        code_in_message(&mail).expect("a code")
    }

    /// How many challenges (login tickets, codes, enrolment codes) the store holds.
    async fn challenges(&self) -> i64 {
        match &self.peek {
            Peek::Sqlite(pool) => {
                mfa_store_sql::sqlx::query_scalar("SELECT COUNT(*) FROM mfa_challenges")
                    .fetch_one(pool)
                    .await
                    .unwrap()
            }
            Peek::Postgres { pool, schema } => {
                let sql = format!("SELECT COUNT(*) FROM {schema}.mfa_challenges");
                mfa_store_sql::sqlx::query_scalar(AssertSqlSafe(sql))
                    .fetch_one(pool)
                    .await
                    .unwrap()
            }
        }
    }

    /// The right password: the code step, with the login handle.
    async fn password_ok(&self, api: &Api) -> String {
        let r = login(api, "bob", PASSWORD).await;
        assert_eq!(r.status, 202, "{}", r.body);
        let body = r.json();
        assert_eq!(body["step"], "code");
        body["login"].as_str().unwrap().to_owned()
    }
}

async fn login(api: &Api, user: &str, password: &str) -> Reply {
    api.post("/login", &json!({ "username": user, "password": password }))
        .await
}

async fn code(api: &Api, login: &str, code: &str) -> Reply {
    api.post("/login/code", &json!({ "login": login, "code": code }))
        .await
}

async fn me(api: &Api, token: &str) -> Reply {
    let bearer = format!("Bearer {token}");
    api.get("/me", &[("Authorization", &bearer)]).await
}

fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect()
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

/// Serves the service on `store`, runs the scenario, then removes the store's data (also when
/// the scenario fails).
async fn run(store: Arc<dyn Store>, peek: Peek, cleanup: Cleanup) {
    let smtp = SmtpTestServer::start().unwrap();
    let clock = ManualClock::at_unix_secs(mfa::SystemClock.unix_secs());
    let state = AppState::new(AppParts {
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
    // One proxy in front: the client is the address in X-Forwarded-For.
    let edge = EdgeConfig::builder(Transport::PlainHttpForDevelopment)
        .trusted_proxies(
            ForwardedHeader::XForwardedFor,
            TrustedProxies::count(1).unwrap(),
        )
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The binary's serve, with the purge every second instead of every minute.
    let server =
        tokio::spawn(async move { serve(listener, state, &edge, Duration::from_secs(1)).await });
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
    register(w).await;
    first_login_and_the_token(w).await;
    code_lifetime_and_purge(w).await;
    resend_replaces_the_code(w).await;
    strangers_lock_and_the_user_logs_in(w).await;
    login_rate_limit(w).await;
}

/// Registration: the password stored as Argon2id, the address proven by its first code.
async fn register(w: &World) {
    let api = w.api(HOME);
    let bob = json!({ "username": "bob", "email": "bob@example.com", "password": PASSWORD });
    let r = api.post("/register", &bob).await;
    assert_eq!(
        (r.status, r.json()["expires_in"].as_u64()),
        (202, Some(600))
    );
    let r = api.post("/register", &bob).await;
    problem(&r, 409, "username_taken");
    let bad = json!({ "username": "carol", "email": "not an address", "password": PASSWORD });
    problem(&api.post("/register", &bad).await, 400, "invalid_input");
    problem(
        &api.post("/register", &json!([1, 2])).await,
        400,
        "invalid_input",
    );
    let sent = w.last_code();
    let r = api
        .post(
            "/register/confirm",
            &json!({ "username": "bob", "code": wrong(&sent) }),
        )
        .await;
    assert_eq!(problem(&r, 401, "code_mismatch")["attempts_left"], 4);
    let r = api
        .post(
            "/register/confirm",
            &json!({ "username": "bob", "code": sent }),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["username"].as_str()),
        (201, Some("bob"))
    );
    w.advance(60);
}

/// Password, then the code (which lives 10 minutes and works once), then an HS256 token of 5
/// minutes that `GET /me` accepts.
async fn first_login_and_the_token(w: &World) {
    let api = w.api(HOME);
    problem(&login(&api, "bob", "wrong").await, 401, "wrong_password");
    problem(&login(&api, "nobody", "wrong").await, 401, "wrong_password");
    problem(&login(&api, "", PASSWORD).await, 400, "invalid_input");

    let before = w.mails();
    let r = login(&api, "bob", PASSWORD).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json()["expires_in"], 600);
    assert!(
        r.json().get("token").is_none(),
        "no session before the code"
    );
    assert_eq!(w.mails(), before + 1);
    let handle = r.json()["login"].as_str().unwrap().to_owned();
    let sent = w.last_code();
    let r = code(&api, &handle, &wrong(&sent)).await;
    assert_eq!(problem(&r, 401, "code_mismatch")["attempts_left"], 4);
    problem(
        &code(&api, "not a handle", &sent).await,
        410,
        "expired_code",
    );

    w.advance(599);
    let r = code(&api, &handle, &sent).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    let token = body["token"].as_str().unwrap().to_owned();
    // The code worked once.
    problem(&code(&api, &handle, &sent).await, 410, "expired_code");

    // The token, checked with jsonwebtoken itself and the key: HS256, the seed's claims.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false; // the manual clock may be ahead of the system clock
    let data = jsonwebtoken::decode::<Claims>(&token, &DecodingKey::from_secret(&KEY), &validation)
        .unwrap();
    assert_eq!(data.header.alg, Algorithm::HS256);
    assert_eq!(data.claims.sub, "bob");
    assert_eq!(data.claims.amr, ["pwd", "otp"]);
    assert_eq!(data.claims.iat, w.clock.unix_secs());
    assert_eq!(data.claims.exp - data.claims.iat, 300);

    let r = me(&api, &token).await;
    assert_eq!(
        (r.status, r.json()["username"].as_str()),
        (200, Some("bob"))
    );
    // No token, a malformed one, one signed with another key: 401, asking for a bearer token.
    for bad in [None, Some("garbage".to_owned()), Some(forged(&data.claims))] {
        let r = match &bad {
            Some(token) => me(&api, token).await,
            None => api.get("/me", &[]).await,
        };
        problem(&r, 401, "sign_in_required");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    // The token ends after 5 minutes.
    w.advance(299);
    assert_eq!(me(&api, &token).await.status, 200);
    w.advance(1);
    problem(&me(&api, &token).await, 401, "sign_in_required");
}

/// The same claims signed with another key.
fn forged(claims: &Claims) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(&[0x43; 32]),
    )
    .unwrap()
}

/// The code lives 10 minutes; expired codes and logins are purged by the service's purge task.
async fn code_lifetime_and_purge(w: &World) {
    let api = w.api(HOME);
    w.advance(31);
    let handle = w.password_ok(&api).await;
    let sent = w.last_code();
    assert!(w.challenges().await >= 1);
    w.advance(600);
    problem(&code(&api, &handle, &sent).await, 410, "expired_code");
    // Every challenge made so far has expired by now: the purge (every second) deletes them.
    let mut left = w.challenges().await;
    for _ in 0..100 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = w.challenges().await;
    }
    assert_eq!(left, 0, "expired challenges are purged");
}

/// One active code per login: a resend within 30 seconds is refused; a resend replaces the
/// code and keeps the tries left.
async fn resend_replaces_the_code(w: &World) {
    let api = w.api(HOME);
    let handle = w.password_ok(&api).await;
    let first = w.last_code();
    let resend = json!({ "login": handle });
    let r = api.post("/login/resend", &resend).await;
    assert_eq!(problem(&r, 429, "too_many_messages")["retry_after"], 30);
    assert_eq!(r.header("retry-after"), Some("30"));
    w.advance(30);
    let r = api.post("/login/resend", &resend).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let second = w.last_code();
    if first != second {
        let r = code(&api, &handle, &first).await;
        assert_eq!(problem(&r, 401, "code_mismatch")["attempts_left"], 4);
    }
    assert_eq!(code(&api, &handle, &second).await.status, 200);
    problem(
        &api.post("/login/resend", &resend).await,
        410,
        "expired_code",
    );
}

/// From a stranger's network 3 failed passwords lock the account for 10 seconds against every
/// unrecognised network, with the same answers for a user that does not exist; the user's own
/// network, recognised since the logins above, logs in meanwhile.
async fn strangers_lock_and_the_user_logs_in(w: &World) {
    w.advance(31);
    let s = w.api(&stranger(9));
    let t = w.api(&stranger(11));
    for _ in 0..2 {
        let a = login(&s, "bob", "guess").await;
        let b = login(&t, "nobody", "guess").await;
        problem(&a, 401, "wrong_password");
        assert_eq!((a.status, &a.body), (b.status, &b.body));
    }
    let a = login(&s, "bob", "guess").await;
    let b = login(&t, "nobody", "guess").await;
    assert_eq!(problem(&a, 429, "locked_out")["retry_after"], 10);
    assert_eq!(a.header("retry-after"), Some("10"));
    assert_eq!((a.status, &a.body), (b.status, &b.body));

    // Locked for every unrecognised network, even with the right password (not checked).
    let before = w.mails();
    problem(&login(&s, "bob", PASSWORD).await, 429, "locked_out");
    let other = w.api(&stranger(10));
    problem(&login(&other, "bob", PASSWORD).await, 429, "locked_out");
    assert_eq!(w.mails(), before);

    // The user's own network logs in during the lock.
    let home = w.api(HOME);
    let handle = w.password_ok(&home).await;
    let sent = w.last_code();
    let r = code(&home, &handle, &sent).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(me(&home, &token).await.status, 200);

    // After 10 seconds the stranger's network may try again.
    w.advance(9);
    problem(&login(&other, "bob", PASSWORD).await, 429, "locked_out");
    w.advance(1);
    w.advance(30); // past the address's resend cooldown
    let handle = w.password_ok(&other).await;
    assert_eq!(code(&other, &handle, &w.last_code()).await.status, 200);
}

/// Login attempts are rate-limited per network: 10 failed passwords in 15 minutes, across
/// accounts, refuse that network, even for the right password; another network is unaffected.
async fn login_rate_limit(w: &World) {
    w.advance(31);
    let attacker = w.api(&stranger(20));
    for i in 0..9 {
        let r = login(&attacker, &format!("victim{i}"), "guess").await;
        problem(&r, 401, "wrong_password");
    }
    let r = login(&attacker, "victim9", "guess").await;
    problem(&r, 429, "locked_out");
    problem(&login(&attacker, "bob", PASSWORD).await, 429, "locked_out");
    let _ = w.password_ok(&w.api(&stranger(21))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    // A file in a temporary folder of its own, removed afterwards.
    let throwaway = SqliteStore::throwaway().await;
    let peek = Peek::Sqlite(throwaway.pool().clone());
    let (store, cleanup) = throwaway.into_parts();
    run(Arc::new(store), peek, cleanup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    // A schema of its own, dropped afterwards; skipped (or failed under
    // MFA_REQUIRE_SERVICES=1) without the server.
    let Some(throwaway) = PgStore::throwaway().await else {
        return;
    };
    let peek = Peek::Postgres {
        pool: throwaway.pool().clone(),
        schema: throwaway.name().to_owned(),
    };
    let (store, cleanup) = throwaway.into_parts();
    run(Arc::new(store), peek, cleanup).await;
}
