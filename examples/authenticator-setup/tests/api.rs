//! The API over real HTTP/1.1 on loopback, on MariaDB (a throwaway database of the backend's
//! testkit, dropped after) with its sessions in the same database. The service stands behind
//! one trusted TLS proxy (`Transport::TlsBehindProxy`): HSTS on every answer, `__Host-` secure
//! cookies, and each client's network is the `X-Forwarded-For` entry that proxy would write.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::indexing_slicing
)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use authenticator_setup::{App, Backends, build_mfa};
use common::{Api, send};
use mfa::core::{Digits, KeyUri, Totp, TotpParams};
use mfa::mail::MemorySms;
use mfa::{Clock as _, Keyring, ManualClock, Method, Mfa, Pepper, SealingKey};
use mfa_axum::{EdgeConfig, ForwardedHeader, SqlSessionStore, Transport, TrustedProxies};
use mfa_store_sql::MySqlStore;
use serde_json::{Value, json};
use tokio::net::TcpListener;

const PASSWORD: &str = "correct horse battery staple";
/// Dave's usual network: recognised once he completed a login from it.
const HOME: &str = "198.51.100.7";
/// Mallory's network.
const MALLORY_NET: &str = "198.51.100.66";
/// A stranger who has Dave's password.
const STRANGER: &str = "203.0.113.9";
const STRANGER_2: &str = "203.0.113.10";
const SESSION: &str = "__Host-mfa_session";
const DEVICE: &str = "__Host-mfa_device";

struct World {
    addr: SocketAddr,
    clock: ManualClock,
    sms: Arc<MemorySms>,
    mfa: Mfa,
}

impl World {
    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    /// The authenticator's code after moving to the next 30 s step (a code works once).
    fn next_code(&self, uri: &KeyUri) -> String {
        self.advance(30);
        code_at(uri, self.clock.unix_secs())
    }

    fn client(&self, ip: &str) -> Api {
        common::api(self.addr, ip)
    }

    /// The 6-digit code of the last SMS.
    fn sms_code(&self) -> String {
        let message = self.sms.last().expect("an SMS");
        message
            .body()
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .unwrap()
            .to_owned()
    }

    /// A session signed in with the password; `Some(methods)` when a second factor is asked.
    async fn login(&self, api: &mut Api, user: &str) -> Value {
        if api.csrf.is_empty() {
            common::start(api).await;
        }
        let r = api
            .post("/login", &json!({ "user": user, "password": PASSWORD }))
            .await;
        r.assert_status(200);
        r.json()
    }

    /// Password, then the authenticator's code: signed in.
    async fn sign_in(&self, api: &mut Api, user: &str, uri: &KeyUri) {
        let r = self.login(api, user).await;
        assert_eq!(r["status"], "second_factor", "{r}");
        let code = self.next_code(uri);
        let r = api
            .post("/login/verify", &json!({ "method": "totp", "code": code }))
            .await;
        r.assert_status(200);
        api.get("/me").await.assert_status(200);
    }

    /// A step-up with the authenticator.
    async fn step_up(&self, api: &mut Api, uri: &KeyUri) {
        api.post("/step-up", &json!({})).await.assert_status(200);
        let code = self.next_code(uri);
        api.post(
            "/step-up/verify",
            &json!({ "method": "totp", "code": code }),
        )
        .await
        .assert_status(200);
    }
}

/// The RFC 6238 code of the Key URI's secret at `unix`.
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

fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticator_setup_api_on_mariadb() {
    // A database of its own, dropped afterwards; skipped (or failed under
    // MFA_REQUIRE_SERVICES=1) without the server.
    let Some(throwaway) = MySqlStore::throwaway().await else {
        return;
    };
    let sessions = SqlSessionStore::mysql(throwaway.pool().clone(), "mfa_").unwrap();
    sessions.migrate().await.unwrap();
    let (store, cleanup) = throwaway.into_parts();
    let clock = ManualClock::at_unix_secs(mfa::SystemClock.unix_secs());
    let sms = Arc::new(MemorySms::new());
    let mfa = build_mfa(
        Backends {
            store: Arc::new(store),
            sms: sms.clone(),
            clock: Arc::new(clock.clone()),
            keyring: Keyring::new(1, SealingKey::generate().unwrap()),
            pepper: Pepper::generate().unwrap(),
        },
        "Acme",
    )
    .unwrap();
    let edge = EdgeConfig::builder(Transport::TlsBehindProxy).trusted_proxies(
        ForwardedHeader::XForwardedFor,
        TrustedProxies::count(1).unwrap(),
    );
    let app = App::new(mfa.clone(), edge, PASSWORD).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(app.serve(listener, sessions));
    let world = World {
        addr,
        clock,
        sms,
        mfa,
    };
    let outcome = tokio::spawn(async move { scenario(&world).await }).await;
    server.abort();
    cleanup.await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn scenario(w: &World) {
    the_edge(w).await;
    the_user_comes_from_the_session(w).await;
    let (uri, recovery) = qr_enrolment(w).await;
    codes_work_once(w, &uri, &recovery).await;
    second_factor_behind_step_up(w, &uri).await;
    sms_challenge_and_remembered_device(w, &uri).await;
    limits_from_a_stranger(w, &uri).await;
}

/// HSTS, secure session cookies, and CSRF on every state-changing request.
async fn the_edge(w: &World) {
    let mut api = w.client(HOME);
    let r = common::start(&mut api).await;
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    assert_eq!(r.json()["state"], "anonymous");
    let cookie = r.set_cookie(SESSION).expect("a session cookie");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert_eq!(api.csrf.len(), 43);
    // Errors carry HSTS too.
    let r = api.get("/me").await;
    r.assert_error(401, "sign_in_required");
    assert!(r.header("strict-transport-security").is_some());
    // A POST without the header token is refused, with or without a session.
    let mut no_token = api.without(&[]);
    let r = no_token
        .post("/login", &json!({ "user": "dave", "password": PASSWORD }))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = send(
        w.addr,
        "POST",
        "/login",
        &[("Content-Type", "application/json")],
        br#"{"user":"dave","password":"correct horse battery staple"}"#,
    )
    .await;
    assert_eq!(r.status, 403);
}

/// The bug this version fixes: a factor is added to the session's user, never to the user a
/// request body names.
async fn the_user_comes_from_the_session(w: &World) {
    let mut mallory = w.client(MALLORY_NET);
    let r = w.login(&mut mallory, "mallory").await;
    assert_eq!(
        r["status"], "signed_in",
        "no factor yet: the password alone"
    );
    let r = mallory
        .post("/enroll/totp", &json!({ "user": "dave" }))
        .await;
    r.assert_status(200);
    let body = r.json();
    let key_uri = body["key_uri"].as_str().unwrap();
    assert!(
        key_uri.starts_with("otpauth://totp/Acme:mallory?"),
        "{key_uri}"
    );
    let uri = KeyUri::parse(key_uri).unwrap();
    let code = code_at(&uri, w.clock.unix_secs());
    let r = mallory
        .post(
            "/enroll/totp/confirm",
            &json!({ "user": "dave", "code": code }),
        )
        .await;
    r.assert_status(200);
    assert_eq!(w.mfa.enabled_methods("dave").await.unwrap(), vec![]);
    assert_eq!(
        w.mfa.enabled_methods("mallory").await.unwrap(),
        vec![Method::Totp, Method::RecoveryCode]
    );

    // A session that is not signed in changes nobody's factors.
    let mut anonymous = w.client(MALLORY_NET);
    common::start(&mut anonymous).await;
    anonymous
        .post("/enroll/totp", &json!({ "user": "dave" }))
        .await
        .assert_error(401, "sign_in_required");
    anonymous
        .post(
            "/enroll/sms",
            &json!({ "user": "dave", "phone": "+14155550199" }),
        )
        .await
        .assert_error(401, "sign_in_required");
    assert!(w.sms.sent().is_empty());
    assert_eq!(w.mfa.enabled_methods("dave").await.unwrap(), vec![]);
}

/// QR enrolment, the first code activates it, the typed errors of enrolment.
async fn qr_enrolment(w: &World) -> (KeyUri, Vec<String>) {
    let mut dave = w.client(HOME);
    let r = w.login(&mut dave, "dave").await;
    assert_eq!(r["status"], "signed_in");
    // Signed in on the password alone: nothing that needs the second factor.
    dave.get("/me")
        .await
        .assert_error(403, "enrollment_required");

    let r = dave.post("/enroll/totp", &json!({})).await;
    r.assert_status(200);
    let uri = KeyUri::parse(r.json()["key_uri"].as_str().unwrap()).unwrap();
    assert_eq!(uri.issuer.as_deref(), Some("Acme"));
    assert_eq!(uri.digits, Digits::SIX);
    assert_eq!(r.json()["secret"], uri.secret.to_base32().as_str());
    assert!(r.json()["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(
        r.json()["qr_png_data_url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,iVBORw0KGgo")
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));

    let good = code_at(&uri, w.clock.unix_secs());
    dave.post("/enroll/totp/confirm", &json!({ "code": wrong(&good) }))
        .await
        .assert_error(401, "code_mismatch");
    let before = dave.cookies[SESSION].clone();
    let r = dave
        .post("/enroll/totp/confirm", &json!({ "code": good }))
        .await;
    r.assert_status(200);
    assert_eq!(r.json()["status"], "enabled");
    let recovery: Vec<String> = r.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    assert_ne!(dave.cookies[SESSION], before, "a new session id");
    let me = dave.get("/me").await;
    me.assert_status(200);
    assert_eq!(me.json()["methods"], json!(["totp", "recovery_code"]));

    // Once a factor is active, a change of factors needs a step-up.
    dave.post("/enroll/totp/confirm", &json!({ "code": good }))
        .await
        .assert_error(403, "not_authorised");
    dave.post("/enroll/totp", &json!({}))
        .await
        .assert_error(403, "not_authorised");

    // No pending enrolment; an enrolment past its 15 minutes.
    let mut erin = w.client(HOME);
    w.login(&mut erin, "erin").await;
    erin.post("/enroll/totp/confirm", &json!({ "code": "123456" }))
        .await
        .assert_error(409, "no_pending_enrollment");
    let r = erin.post("/enroll/totp", &json!({})).await;
    let late = KeyUri::parse(r.json()["key_uri"].as_str().unwrap()).unwrap();
    w.advance(15 * 60);
    let code = code_at(&late, w.clock.unix_secs());
    erin.post("/enroll/totp/confirm", &json!({ "code": code }))
        .await
        .assert_error(410, "expired_code");
    (uri, recovery)
}

/// A TOTP code and a recovery code each sign in once.
async fn codes_work_once(w: &World, uri: &KeyUri, recovery: &[String]) {
    let mut first = w.client(HOME);
    w.login(&mut first, "dave").await;
    let code = w.next_code(uri);
    first
        .post("/login/verify", &json!({ "method": "totp", "code": code }))
        .await
        .assert_status(200);
    let mut second = w.client(HOME);
    w.login(&mut second, "dave").await;
    second
        .post("/login/verify", &json!({ "method": "totp", "code": code }))
        .await
        .assert_error(401, "verification_failed");
    let r = second
        .post(
            "/login/verify",
            &json!({ "method": "recovery_code", "code": recovery[0] }),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.json()["recovery_codes_left"], 9);
    let mut third = w.client(HOME);
    w.login(&mut third, "dave").await;
    third
        .post(
            "/login/verify",
            &json!({ "method": "recovery_code", "code": recovery[0] }),
        )
        .await
        .assert_error(401, "verification_failed");
    third
        .post(
            "/login/verify",
            &json!({ "method": "carrier-pigeon", "code": "1" }),
        )
        .await
        .assert_error(400, "invalid_input");
}

/// SMS as a second factor, the preferred method: behind a step-up, with detailed errors.
async fn second_factor_behind_step_up(w: &World, uri: &KeyUri) {
    let mut dave = w.client(HOME);
    w.sign_in(&mut dave, "dave", uri).await;
    dave.call("PUT", "/preferred-method", &json!({ "method": "sms" }))
        .await
        .assert_error(403, "step_up_required");
    dave.post("/enroll/sms", &json!({ "phone": "+1 (415) 555-0100" }))
        .await
        .assert_error(403, "not_authorised");

    let r = dave.post("/step-up", &json!({})).await;
    assert_eq!(r.json()["methods"], json!(["totp", "recovery_code"]));
    let r = dave
        .post(
            "/step-up/verify",
            &json!({ "method": "totp", "code": "000000" }),
        )
        .await;
    r.assert_error(401, "code_mismatch");
    assert_eq!(r.json()["attempts_left"], 4, "5 tries per challenge");
    let code = w.next_code(uri);
    let r = dave
        .post(
            "/step-up/verify",
            &json!({ "method": "totp", "code": code }),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.json()["valid_for"], 600);

    dave.post("/enroll/totp", &json!({}))
        .await
        .assert_error(409, "already_enabled");
    dave.post("/enroll/sms", &json!({ "phone": "not a number" }))
        .await
        .assert_error(400, "invalid_input");
    dave.post("/enroll/sms", &json!({ "phone": "+1 (415) 555-0100" }))
        .await
        .assert_status(202);
    assert_eq!(w.sms.last().unwrap().to().as_str(), "+14155550100");
    let code = w.sms_code();
    dave.post(
        "/enroll/sms/confirm",
        &json!({ "phone": "+14155550100", "code": wrong(&code) }),
    )
    .await
    .assert_error(401, "code_mismatch");
    let r = dave
        .post(
            "/enroll/sms/confirm",
            &json!({ "phone": "+14155550100", "code": code }),
        )
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json()["recovery_codes"],
        json!([]),
        "only the first factor mints them"
    );

    dave.call("PUT", "/preferred-method", &json!({ "method": "fax" }))
        .await
        .assert_error(400, "invalid_input");
    let r = dave
        .call("PUT", "/preferred-method", &json!({ "method": "sms" }))
        .await;
    r.assert_status(200);
    // The grant ends with its 10 minutes.
    w.advance(601);
    dave.call("PUT", "/preferred-method", &json!({ "method": "sms" }))
        .await
        .assert_error(403, "step_up_required");
}

/// The SMS challenge (5 minutes), and the remembered device: its cookie rotates, the old one
/// is worthless, and revoking it brings the second factor back.
async fn sms_challenge_and_remembered_device(w: &World, uri: &KeyUri) {
    w.advance(3600); // a fresh hour of SMS quota
    let mut dave = w.client(HOME);
    let r = w.login(&mut dave, "dave").await;
    assert_eq!(r["status"], "second_factor");
    assert_eq!(r["methods"], json!(["sms", "totp", "recovery_code"]));
    dave.get("/me")
        .await
        .assert_error(401, "second_factor_required");
    dave.post("/login/sms", &json!({})).await.assert_status(202);
    let r = dave.post("/login/sms", &json!({})).await;
    r.assert_error(429, "too_many_messages");
    assert!(r.header("retry-after").is_some());
    let code = w.sms_code();
    w.advance(300);
    dave.post("/login/verify", &json!({ "method": "sms", "code": code }))
        .await
        .assert_error(401, "verification_failed");

    let r = w.login(&mut dave, "dave").await;
    assert_eq!(r["status"], "second_factor");
    dave.post("/login/sms", &json!({})).await.assert_status(202);
    let code = w.sms_code();
    w.advance(299);
    let r = dave
        .post(
            "/login/verify",
            &json!({ "method": "sms", "code": code, "remember_device": true }),
        )
        .await;
    r.assert_status(200);
    assert_eq!(r.json()["method"], "sms");
    let cookie = r.set_cookie(DEVICE).expect("the device cookie");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Max-Age=2592000"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    dave.get("/me").await.assert_status(200);
    let first = dave.cookies[DEVICE].clone();

    // A new session on the remembered device: the password alone, the cookie rotated.
    let mut later = dave.without(&[SESSION]);
    let r = w.login(&mut later, "dave").await;
    assert_eq!(r["status"], "signed_in", "{r}");
    assert_eq!(r["remembered_device"], true);
    assert_ne!(later.cookies[DEVICE], first);
    later.get("/me").await.assert_status(200);
    // The old cookie is worthless.
    let mut thief = dave.without(&[SESSION]);
    let r = w.login(&mut thief, "dave").await;
    assert_eq!(r["status"], "second_factor");

    // The devices, and revoking one (behind a step-up).
    let r = later.get("/devices").await;
    let body = r.json();
    let devices = body["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1);
    let id = devices[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/devices/{id}");
    later
        .call("DELETE", &path, &Value::Null)
        .await
        .assert_error(403, "step_up_required");
    w.step_up(&mut later, uri).await;
    later
        .call("DELETE", &path, &Value::Null)
        .await
        .assert_status(204);
    let mut again = later.without(&[SESSION]);
    let r = w.login(&mut again, "dave").await;
    assert_eq!(r["status"], "second_factor");
}

/// From a stranger's network: 5 failed codes lock that network out of the account for 15
/// minutes; another network still gets a challenge, and Dave's own network signs in.
async fn limits_from_a_stranger(w: &World, uri: &KeyUri) {
    w.advance(3600);
    let mut stranger = w.client(STRANGER);
    let r = w.login(&mut stranger, "dave").await;
    assert_eq!(r["status"], "second_factor");
    for _ in 0..5 {
        stranger
            .post(
                "/login/verify",
                &json!({ "method": "totp", "code": "000000" }),
            )
            .await
            .assert_error(401, "verification_failed");
    }
    let r = stranger
        .post("/login", &json!({ "user": "dave", "password": PASSWORD }))
        .await;
    r.assert_error(429, "locked_out");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((880..=900).contains(&wait), "{wait}");
    // The lock is that network's.
    let mut elsewhere = w.client(STRANGER_2);
    let r = w.login(&mut elsewhere, "dave").await;
    assert_eq!(r["status"], "second_factor");
    // Dave's own network signs in meanwhile.
    w.sign_in(&mut w.client(HOME), "dave", uri).await;
    // After 15 minutes the stranger's network gets a challenge again.
    w.advance(900);
    let r = w.login(&mut w.client(STRANGER), "dave").await;
    assert_eq!(r["status"], "second_factor");
}
