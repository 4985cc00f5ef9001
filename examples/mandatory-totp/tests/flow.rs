//! The service over real HTTP on loopback, on Redis (a throwaway key prefix of the backend's
//! testkit) with lock notices through a real SMTP server on loopback. The service stands behind
//! one trusted TLS proxy: each browser's network is the `X-Forwarded-For` entry that proxy
//! would write, so the seed's limits are attacked from a stranger's network while the user's
//! own network signs in.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::indexing_slicing
)]

mod common;

use std::future::IntoFuture as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{Browser, Page as _, Reply, between};
use mandatory_totp::{App, AppParts, Settings};
use mfa::core::{Algorithm, Digits, KeyUri, PasswordHasher, PasswordParams, Totp, TotpParams};
use mfa::mail::testkit::SmtpTestServer;
use mfa::{Clock as _, Keyring, ManualClock, Pepper, SealingKey, Store};
use mfa_axum::tower_sessions::MemoryStore;
use mfa_axum::{EdgeConfig, ForwardedHeader, Transport, TrustedProxies};
use tokio::net::TcpListener;

const PASSWORD: &str = "correct horse battery staple";
/// Carol's usual network: recognised once she completed a login from it.
const HOME: &str = "198.51.100.7";
/// A stranger who has Carol's password.
const STRANGER: &str = "203.0.113.9";
/// Another network of the same stranger.
const STRANGER_2: &str = "203.0.113.10";
/// Carol, travelling: a network she never signed in from.
const TRAVELLING: &str = "192.0.2.50";
/// The administrator's network.
const ADMIN_NET: &str = "198.51.100.200";

fn keyring() -> Keyring {
    Keyring::new(1, SealingKey::from_bytes(&[0x11; 32]).unwrap())
}

struct World {
    addr: SocketAddr,
    clock: ManualClock,
    store: Arc<dyn Store>,
    smtp: SmtpTestServer,
}

impl World {
    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    /// The authenticator's code now, after moving to the next 30 s step (a code is accepted
    /// once).
    fn next_code(&self, uri: &KeyUri) -> String {
        self.advance(30);
        code_at(uri, self.clock.unix_secs())
    }

    fn browser(&self, ip: &str) -> Browser {
        Browser::new(self.addr, ip)
    }

    /// Registers `user` and activates the authenticator; returns its Key URI and the recovery
    /// codes.
    async fn register(&self, user: &str, ip: &str) -> (KeyUri, Vec<String>) {
        let mut b = self.browser(ip);
        b.get("/register").await;
        let email = format!("{user}@example.com");
        let r = b
            .post(
                "/register",
                &[("user", user), ("email", &email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(
            (r.status, r.location()),
            (303, Some("/register/totp")),
            "{}",
            r.body
        );
        let page = b.get("/register/totp").await;
        let uri = key_uri(&page);
        let code = code_at(&uri, self.clock.unix_secs());
        let r = b.post("/register/totp", &[("code", &code)]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        (uri, recovery_codes(&r))
    }

    /// Password, then the code: the browser ends signed in (`/me` answers 200).
    async fn sign_in(&self, b: &mut Browser, user: &str, uri: &KeyUri) {
        let r = password(b, user).await;
        assert_eq!(r.location(), Some("/login/totp"), "{} {}", r.status, r.body);
        b.get("/login/totp").await;
        let code = self.next_code(uri);
        let r = b.post("/login/totp", &[("code", &code)]).await;
        assert_eq!(r.location(), Some("/me"), "{} {}", r.status, r.body);
        assert_eq!(b.get("/me").await.status, 200);
    }

    /// A stranger with the password: a login, then `n` wrong codes on its ticket, each
    /// answered with the uniform failure.
    async fn wrong_codes(&self, ip: &str, n: usize) {
        let mut b = self.browser(ip);
        let r = password(&mut b, "carol").await;
        assert_eq!(r.location(), Some("/login/totp"), "{} {}", r.status, r.body);
        b.get("/login/totp").await;
        for _ in 0..n {
            let r = b.post("/login/totp", &[("code", "00000000")]).await;
            assert_eq!(
                (r.status, r.error()),
                (401, Some("verification_failed")),
                "{}",
                r.body
            );
        }
    }
}

/// The RFC 6238 code of the Key URI's secret at `unix`, with the URI's parameters.
fn code_at(uri: &KeyUri, unix: u64) -> String {
    let params = TotpParams {
        algorithm: uri.algorithm,
        digits: uri.digits,
        ..TotpParams::default()
    };
    Totp::new(&uri.secret, params)
        .generate_at(unix)
        .unwrap()
        .expose()
        .to_string()
}

fn key_uri(page: &Reply) -> KeyUri {
    assert_eq!(page.status, 200, "{}", page.body);
    let href = between(&page.body, "id=\"key-uri\" href=\"", "\"").expect("the Key URI");
    KeyUri::parse(&href.replace("&amp;", "&")).unwrap()
}

fn recovery_codes(page: &Reply) -> Vec<String> {
    page.body
        .split("<li class=\"recovery-code\"><code>")
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap().to_owned())
        .collect()
}

async fn password(b: &mut Browser, user: &str) -> Reply {
    b.get("/login").await;
    b.post("/login", &[("user", user), ("password", PASSWORD)])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mandatory_totp_service_on_redis() {
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
    let app = App::new(
        AppParts {
            store: store.clone(),
            mailer: Arc::new(smtp.mailer().unwrap()),
            clock: Arc::new(clock.clone()),
            keyring: keyring(),
            pepper: Pepper::generate().unwrap(),
            // Small Argon2id parameters keep the unoptimised test fast; the binary uses OWASP's.
            hasher: PasswordHasher::new(PasswordParams::new(64, 1, 1).unwrap()),
        },
        Settings {
            edge: EdgeConfig::builder(Transport::TlsBehindProxy).trusted_proxies(
                ForwardedHeader::XForwardedFor,
                TrustedProxies::count(1).unwrap(),
            ),
            public_url: "https://acme.test".into(),
            admins: vec!["root".into()],
        },
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(app.serve(listener, MemoryStore::default()));
    let world = World {
        addr,
        clock,
        store,
        smtp,
    };
    let outcome = tokio::spawn(async move { scenario(&world).await }).await;
    server.abort();
    cleanup.into_future().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn scenario(w: &World) {
    registration(w).await;
    let (uri, codes) = w.register("carol", HOME).await;
    logins(w, &uri, &codes).await;
    let notice = limits_from_a_stranger(w, &uri).await;
    self_service_unlock(w, &uri, &notice).await;
    admin_unlock(w, &uri).await;
}

/// Registration: no session before both factors; 8-digit codes; the secret sealed at rest;
/// 10 recovery codes shown once.
async fn registration(w: &World) {
    let mut b = w.browser(HOME);
    // Behind the TLS proxy: HSTS and secure, host-only cookies.
    let r = b.get("/register").await;
    assert_eq!(r.status, 200);
    assert!(r.header("strict-transport-security").is_some());
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.starts_with("__Host-mfa_session="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    // Malformed input is a typed answer, and a form without the CSRF token is refused.
    let r = b
        .post(
            "/register",
            &[("user", "Dave!"), ("email", "x"), ("password", "short")],
        )
        .await;
    assert_eq!((r.status, r.error()), (400, Some("invalid_input")));
    let forged = common::send(
        w.addr,
        "POST",
        "/register",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"user=dave&email=dave%40example.com&password=correct+horse+battery",
    )
    .await;
    assert_eq!(forged.status, 403);

    let r = b
        .post(
            "/register",
            &[
                ("user", "dave"),
                ("email", "dave@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.location(), Some("/register/totp"), "{}", r.body);
    // Registered, but no session before the authenticator: the browser is sent to set it up,
    // a script gets 403 enrollment_required.
    assert_eq!(b.get("/me").await.location(), Some("/register/totp"));
    let r = b.fetch("/me").await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("enrollment_required"), "{}", r.body);

    let page = b.get("/register/totp").await;
    assert!(page.body.contains("<svg"), "the QR code, inline");
    let uri = key_uri(&page);
    assert_eq!(uri.digits, Digits::EIGHT);
    assert_eq!(uri.algorithm, Algorithm::Sha1);
    assert_eq!(uri.issuer.as_deref(), Some("Acme"));
    let secret = between(&page.body, "<code id=\"secret\">", "<").unwrap();
    assert_eq!(secret, uri.secret.to_base32().as_str());

    // A wrong first code: typed, and the registration stays incomplete.
    let now = w.clock.unix_secs();
    let six = &code_at(&uri, now)[2..];
    let r = b.post("/register/totp", &[("code", six)]).await;
    assert_eq!(r.status / 100, 4, "a 6-digit code is not an 8-digit code");
    let r = b.post("/register/totp", &[("code", "00000000")]).await;
    assert_eq!((r.status, r.error()), (401, Some("code_mismatch")));
    // A login meanwhile continues the set-up; it opens no session.
    let mut other = w.browser(HOME);
    let r = password(&mut other, "dave").await;
    assert_eq!(r.location(), Some("/register/totp"));
    assert_eq!(other.get("/me").await.location(), Some("/register/totp"));

    let r = b
        .post("/register/totp", &[("code", &code_at(&uri, now))])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let codes = recovery_codes(&r);
    assert_eq!(codes.len(), 10);
    // The registration ends signed out: the login comes next.
    assert_eq!(b.get("/me").await.location(), Some("/login"));
    b.get("/register").await;
    let r = b
        .post(
            "/register",
            &[
                ("user", "dave"),
                ("email", "eve@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!((r.status, r.error()), (409, Some("user_taken")));

    // The secret is sealed at rest: the stored factor does not contain the secret's bytes,
    // opens with the keyring for dave, and for no one else.
    let factors = w.store.totp_factors("dave").await.unwrap();
    assert_eq!(factors.len(), 1);
    let sealed = &factors[0].sealed_secret;
    let raw = uri.secret.expose_bytes();
    assert!(!sealed.as_bytes().windows(raw.len()).any(|x| x == raw));
    let opened = keyring().open(sealed, "dave", &factors[0].id).unwrap();
    assert_eq!(opened.expose_bytes(), raw);
    assert!(keyring().open(sealed, "mallory", &factors[0].id).is_err());
}

/// Password then TOTP then the session; ±1 step; codes and recovery codes work once.
async fn logins(w: &World, uri: &KeyUri, codes: &[String]) {
    let mut b = w.browser(HOME);
    let r = b.get("/login").await;
    assert_eq!(r.status, 200);
    let r = b
        .post("/login", &[("user", "carol"), ("password", "wrong")])
        .await;
    assert_eq!((r.status, r.error()), (401, Some("wrong_password")));
    let r = password(&mut b, "nobody").await;
    assert_eq!((r.status, r.error()), (401, Some("wrong_password")));

    // The password alone reaches nothing.
    let r = password(&mut b, "carol").await;
    assert_eq!(r.location(), Some("/login/totp"));
    assert_eq!(b.get("/me").await.location(), Some("/login/totp"));
    let r = b.fetch("/me").await;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("second_factor_required"), "{}", r.body);

    // ±1 step: two steps back is refused, one step back signs in.
    w.advance(90);
    let now = w.clock.unix_secs();
    b.get("/login/totp").await;
    let r = b
        .post("/login/totp", &[("code", &code_at(uri, now - 60))])
        .await;
    assert_eq!((r.status, r.error()), (401, Some("verification_failed")));
    let back = code_at(uri, now - 30);
    let r = b.post("/login/totp", &[("code", &back)]).await;
    assert_eq!(r.location(), Some("/me"), "{}", r.body);
    let me = b.get("/me").await;
    assert_eq!(
        between(&me.body, "<strong id=\"user\">", "<"),
        Some("carol")
    );
    // The same code in another browser: refused (each code works once).
    let mut other = w.browser(HOME);
    password(&mut other, "carol").await;
    other.get("/login/totp").await;
    let r = other.post("/login/totp", &[("code", &back)]).await;
    assert_eq!(r.status, 401);
    // One step ahead signs in.
    let r = other
        .post("/login/totp", &[("code", &code_at(uri, now + 30))])
        .await;
    assert_eq!(r.location(), Some("/me"));
    w.advance(30); // past the step just used

    // A recovery code signs in once.
    let mut b = w.browser(HOME);
    password(&mut b, "carol").await;
    b.get("/login/totp").await;
    let r = b.post("/login/recovery-code", &[("code", &codes[0])]).await;
    assert_eq!(r.location(), Some("/me"), "{}", r.body);
    let me = b.get("/me").await;
    assert_eq!(
        between(&me.body, "id=\"recovery-codes-left\">", "<"),
        Some("9")
    );
    let mut b = w.browser(HOME);
    password(&mut b, "carol").await;
    b.get("/login/totp").await;
    let r = b.post("/login/recovery-code", &[("code", &codes[0])]).await;
    assert_eq!((r.status, r.error()), (401, Some("verification_failed")));
    // Signing out ends the session.
    let mut b = w.browser(HOME);
    w.sign_in(&mut b, "carol", uri).await;
    b.post("/logout", &[]).await;
    assert_eq!(b.get("/me").await.location(), Some("/login"));
}

/// From a stranger's network: 5 failed codes per 15 minutes per account, then 10 in an hour
/// lock the account against unrecognised networks until it is unlocked, with a notice; Carol's
/// network signs in throughout. Returns the notice.
async fn limits_from_a_stranger(w: &World, uri: &KeyUri) -> String {
    // A fresh hour: the failures above are out of every window.
    w.advance(3600);
    let before = w.smtp.messages().len();
    w.wrong_codes(STRANGER, 5).await;
    // The fifth failure refuses every unrecognised network for the rest of the 15 minutes.
    for ip in [STRANGER, STRANGER_2] {
        let r = password(&mut w.browser(ip), "carol").await;
        assert_eq!((r.status, r.error()), (429, Some("locked_out")), "{ip}");
        let wait = r.retry_after().unwrap();
        assert!((880..=900).contains(&wait), "{wait}");
    }
    // Carol's own network is not refused.
    w.sign_in(&mut w.browser(HOME), "carol", uri).await;
    assert_eq!(w.smtp.messages().len(), before, "no lock yet, no notice");

    // After the window, five more: ten in the hour lock the account until it is unlocked.
    w.advance(900);
    w.wrong_codes(STRANGER, 5).await;
    w.advance(2 * 3600);
    for ip in [STRANGER, STRANGER_2, TRAVELLING] {
        let r = password(&mut w.browser(ip), "carol").await;
        assert_eq!((r.status, r.error()), (429, Some("locked_out")), "{ip}");
        assert!(r.retry_after().unwrap() > 365 * 24 * 3600, "until unlocked");
    }
    w.sign_in(&mut w.browser(HOME), "carol", uri).await;

    let mails = w.smtp.messages();
    assert_eq!(mails.len(), before + 1, "one notice per lock");
    let notice = mails.last().unwrap();
    assert_eq!(notice.rcpt_to, vec!["carol@example.com".to_owned()]);
    let text = notice.text();
    assert!(text.contains("locked"), "{text}");
    text
}

/// The notice's link: a GET only looks, the code from the authenticator unlocks, once.
async fn self_service_unlock(w: &World, uri: &KeyUri, notice: &str) {
    let link = notice
        .split("https://acme.test/unlock?token=")
        .nth(1)
        .expect("an unlock link in the notice");
    let token: String = link
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(token.len(), 43);

    // The link opened from the mail: a page, no session started.
    let mut b = w.browser(TRAVELLING);
    let r = b.get(&format!("/unlock?token={token}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("set-cookie").is_none());
    let next = between(&r.body, "id=\"continue\" href=\"", "\"").unwrap();
    assert_eq!(next, format!("/unlock/confirm?token={token}"));
    let r = b.get(next).await;
    assert_eq!(r.status, 200);
    // A forged token, and a wrong code: typed answers; still locked.
    let r = b.get(&format!("/unlock?token={}", "A".repeat(43))).await;
    assert_eq!((r.status, r.error()), (410, Some("expired_code")));
    b.get(next).await;
    let r = b
        .post("/unlock", &[("token", &token), ("code", "00000000")])
        .await;
    assert_eq!((r.status, r.error()), (401, Some("code_mismatch")));
    let r = password(&mut w.browser(TRAVELLING), "carol").await;
    assert_eq!(r.status, 429);

    b.get(next).await;
    let code = w.next_code(uri);
    let r = b
        .post("/unlock", &[("token", &token), ("code", &code)])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("id=\"unlocked\""));
    // Unlocked, no session: Carol signs in from the start, on the new network too.
    assert_eq!(b.get("/me").await.location(), Some("/login"));
    w.sign_in(&mut w.browser(TRAVELLING), "carol", uri).await;
    // The link worked once.
    let r = b.get(&format!("/unlock?token={token}")).await;
    assert_eq!((r.status, r.error()), (410, Some("expired_code")));
}

/// An administrator named in the configuration lifts a lock; nobody else can.
async fn admin_unlock(w: &World, uri: &KeyUri) {
    let (root, _) = w.register("root", ADMIN_NET).await;
    w.advance(3600);
    w.wrong_codes(STRANGER, 5).await;
    w.advance(900);
    w.wrong_codes(STRANGER, 5).await;
    let r = password(&mut w.browser(STRANGER_2), "carol").await;
    assert_eq!(r.status, 429, "locked again");

    // Carol is no administrator.
    let mut carol = w.browser(HOME);
    w.sign_in(&mut carol, "carol", uri).await;
    assert_eq!(carol.get("/admin").await.error(), Some("not_authorised"));
    let r = carol.post("/admin/unlock", &[("user", "carol")]).await;
    assert_eq!((r.status, r.error()), (403, Some("not_authorised")));
    assert_eq!(
        password(&mut w.browser(STRANGER_2), "carol").await.status,
        429
    );
    // Without a session at all: sent to sign in.
    let mut anonymous = w.browser(ADMIN_NET);
    assert_eq!(anonymous.get("/admin").await.location(), Some("/login"));

    let mut admin = w.browser(ADMIN_NET);
    w.sign_in(&mut admin, "root", &root).await;
    let r = admin.get("/admin").await;
    assert_eq!(r.status, 200);
    let r = admin.post("/admin/unlock", &[("user", "carol")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = password(&mut w.browser(STRANGER_2), "carol").await;
    assert_eq!(r.location(), Some("/login/totp"), "unlocked");
    let audit = w.store.audit_events("carol", 200).await.unwrap();
    assert!(
        audit.iter().any(|e| e.actor.as_deref() == Some("root")),
        "the unlock is audited under the administrator's name"
    );
}
