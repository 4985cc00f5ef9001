//! The service over real HTTP/1.1 on loopback, on PostgreSQL (a throwaway schema of the
//! backend's testkit, sessions included, dropped after), with SMS through a Twilio-compatible
//! HTTP server on loopback. The service stands behind one trusted TLS proxy: each client's
//! network is the `X-Forwarded-For` entry that proxy would write.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Api;
use mfa::core::{Algorithm, Digits, KeyUri, PasswordHasher, PasswordParams, Totp, TotpParams};
use mfa::{Clock as _, Keyring, ManualClock, Pepper, SealingKey};
use mfa_axum::{EdgeConfig, ForwardedHeader, Transport, TrustedProxies};
use mfa_store_sql::PgStore;
use mfa_store_sql::sqlx::{self, AssertSqlSafe, Row as _};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use totp_backup_sms::{
    App, BACKUP_CODES, Backends, SMS_CODE_LIFETIME, TwilioAccount, build_mfa, session_store,
    twilio_sms,
};

const PASSWORD: &str = "correct horse battery staple";
/// Gina's usual network: recognised once she completed a login from it.
const HOME: &str = "198.51.100.7";
/// A stranger who has Gina's password.
const STRANGER: &str = "203.0.113.9";

const SID: &str = "AC0123456789abcdef";
const TOKEN: &str = "auth-token-xyz";
/// RFC 7617: base64("AC0123456789abcdef:auth-token-xyz"), computed independently.
const BASIC: &str = "Basic QUMwMTIzNDU2Nzg5YWJjZGVmOmF1dGgtdG9rZW4teHl6";
const FROM: &str = "+15005550006";
const PHONE: &str = "+447700900123";

// ---------------------------------------------------------------------------------------------
// A Twilio-compatible Messages API on loopback.

/// What the loopback Twilio saw: accepted messages (To, Body) and refused requests.
#[derive(Default)]
struct Twilio {
    messages: Vec<(String, String)>,
    refused: Vec<String>,
}

/// Checks path, basic auth and form fields and answers 201 with Twilio's JSON (401/400 with
/// Twilio's error JSON otherwise).
async fn start_twilio() -> (String, Arc<Mutex<Twilio>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Twilio::default()));
    let state = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let (head, body) = read_request(&mut sock).await;
            let (status, answer) = judge(&head, &body, &state);
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            sock.write_all(response.as_bytes()).await.unwrap();
            sock.shutdown().await.unwrap();
        }
    });
    (base, seen)
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> (String, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock.read(&mut chunk).await.unwrap();
        assert!(n > 0, "client closed early");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let len: usize = header(head, "content-length").map_or(0, |v| v.parse().unwrap());
            if rest.len() >= len {
                return (head.to_owned(), rest.to_owned());
            }
        }
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

fn judge(head: &str, body: &str, state: &Mutex<Twilio>) -> (&'static str, String) {
    let mut state = state.lock().unwrap();
    let request_line = head.lines().next().unwrap_or_default();
    if request_line != format!("POST /2010-04-01/Accounts/{SID}/Messages.json HTTP/1.1") {
        state.refused.push(format!("request line {request_line}"));
        return ("404 Not Found", r#"{"code": 20404, "status": 404}"#.into());
    }
    if header(head, "authorization") != Some(BASIC) {
        state.refused.push("authorization".into());
        let e = r#"{"code": 20003, "message": "Authenticate", "status": 401}"#;
        return ("401 Unauthorized", e.into());
    }
    let form = form(body);
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let content_type = header(head, "content-type").unwrap_or_default();
    match (field("To"), field("From"), field("Body")) {
        (Some(to), Some(from), Some(text))
            if from == FROM && content_type == "application/x-www-form-urlencoded" =>
        {
            state.messages.push((to.clone(), text));
            let sid = format!("SM{:032x}", state.messages.len());
            let ok = format!(
                r#"{{"sid": "{sid}", "account_sid": "{SID}", "to": "{to}", "from": "{FROM}", "status": "queued", "api_version": "2010-04-01"}}"#
            );
            ("201 Created", ok)
        }
        _ => {
            state.refused.push(format!("form fields of {body}"));
            let e =
                r#"{"code": 21604, "message": "A 'To' phone number is required.", "status": 400}"#;
            ("400 Bad Request", e.into())
        }
    }
}

/// Decodes `application/x-www-form-urlencoded`.
fn form(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

// ---------------------------------------------------------------------------------------------

struct World {
    addr: SocketAddr,
    clock: ManualClock,
    twilio: Arc<Mutex<Twilio>>,
    pool: sqlx::PgPool,
    schema: String,
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

    /// The newest SMS code the loopback Twilio accepted for `to`.
    fn sms_code(&self, to: &str) -> String {
        let state = self.twilio.lock().unwrap();
        assert!(state.refused.is_empty(), "refused: {:?}", state.refused);
        let (_, body) = state
            .messages
            .iter()
            .rev()
            .find(|(t, _)| t == to)
            .expect("an SMS was sent");
        body.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .expect("a 6-digit code")
            .to_owned()
    }

    /// A session past the password; answers the login's JSON.
    async fn login(&self, api: &mut Api) -> Value {
        if api.csrf.is_empty() {
            common::start(api).await;
        }
        let r = api
            .post("/login", &json!({ "user": "gina", "password": PASSWORD }))
            .await;
        r.assert_status(200);
        r.json()
    }

    /// Password, then the authenticator's code.
    async fn sign_in(&self, api: &mut Api, uri: &KeyUri) {
        let r = self.login(api).await;
        assert_eq!(r["status"], "second_factor", "{r}");
        let code = self.next_code(uri);
        api.post("/login/totp", &json!({ "code": code }))
            .await
            .assert_status(200);
        api.get("/me").await.assert_status(200);
    }

    /// A step-up with `method` and `code`.
    async fn step_up(&self, api: &mut Api, method: &str, code: &str) {
        api.post("/step-up", &json!({})).await.assert_status(200);
        api.post(
            "/step-up/verify",
            &json!({ "method": method, "code": code }),
        )
        .await
        .assert_status(200);
    }

    /// The rows of Gina's backup codes, as PostgreSQL holds them: (locator, verifier).
    async fn stored_codes(&self) -> Vec<(Vec<u8>, String)> {
        let sql = format!(
            "SELECT locator, verifier FROM {}.mfa_recovery_codes WHERE user_id = $1",
            self.schema
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind("gina")
            .fetch_all(&self.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<Vec<u8>, _>(0), r.get::<String, _>(1)))
            .collect()
    }
}

/// The authenticator app: the RFC 6238 code of the Key URI's secret at `unix`.
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

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_backup_codes_and_sms_fallback_service_on_postgres() {
    // A schema of its own, dropped afterwards; skipped (or failed under
    // MFA_REQUIRE_SERVICES=1) without the server.
    let Some(throwaway) = PgStore::throwaway().await else {
        return;
    };
    let schema = throwaway.name().to_owned();
    let pool = throwaway.pool().clone();
    let url = mfa_store_sql::testkit::postgres_url();
    let sessions = session_store(&url, &schema).await.unwrap();
    let (store, cleanup) = throwaway.into_parts();
    let (base, twilio) = start_twilio().await;
    let sms = twilio_sms(&TwilioAccount {
        account_sid: SID.into(),
        auth_token: TOKEN.into(),
        from: FROM.into(),
        base_url: Some(base),
    })
    .unwrap();
    let clock = ManualClock::at_unix_secs(mfa::SystemClock.unix_secs());
    let mfa = build_mfa(
        Backends {
            store: Arc::new(store),
            sms: Arc::new(sms),
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
    // Small Argon2id parameters keep the unoptimised test fast; the binary uses OWASP's.
    let hasher = PasswordHasher::new(PasswordParams::new(64, 1, 1).unwrap());
    let app = App::new(mfa, hasher, edge).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(app.serve(listener, sessions));
    let world = World {
        addr,
        clock,
        twilio,
        pool,
        schema,
    };
    let outcome = tokio::spawn(async move { scenario(&world).await }).await;
    server.abort();
    cleanup.await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn scenario(w: &World) {
    let (uri, codes) = totp_and_ten_backup_codes(w).await;
    sms_fallback_behind_step_up(w, &uri).await;
    sms_code_lives_five_minutes(w).await;
    backup_codes_work_once(w, &uri, &codes).await;
    limits_from_a_stranger(w, &uri).await;
}

/// Registration, then TOTP: the first code activates it and returns 10 backup codes, once,
/// stored hashed.
async fn totp_and_ten_backup_codes(w: &World) -> (KeyUri, Vec<String>) {
    let mut gina = w.client(HOME);
    let r = common::start(&mut gina).await;
    assert!(r.header("strict-transport-security").is_some());
    gina.post(
        "/register",
        &json!({ "user": "Gina!", "password": "short" }),
    )
    .await
    .assert_error(400, "invalid_input");
    let r = gina
        .post(
            "/register",
            &json!({ "user": "gina", "password": PASSWORD }),
        )
        .await;
    r.assert_status(201);
    gina.post(
        "/register",
        &json!({ "user": "gina", "password": PASSWORD }),
    )
    .await
    .assert_error(409, "user_taken");
    // Signed in on the password: nothing that needs a second factor yet.
    gina.get("/me")
        .await
        .assert_error(403, "enrollment_required");

    let r = gina.post("/account/totp", &json!({})).await;
    r.assert_status(200);
    let uri = KeyUri::parse(r.json()["key_uri"].as_str().unwrap()).unwrap();
    assert_eq!(uri.issuer.as_deref(), Some("Acme"));
    assert_eq!((uri.algorithm, uri.digits), (Algorithm::Sha1, Digits::SIX));
    assert!(r.json()["qr_svg"].as_str().unwrap().contains("<svg"));
    let code = code_at(&uri, w.clock.unix_secs());
    gina.post("/account/totp/confirm", &json!({ "code": "000000" }))
        .await
        .assert_error(401, "code_mismatch");
    let r = gina
        .post("/account/totp/confirm", &json!({ "code": code }))
        .await;
    r.assert_status(200);
    let shown = strings(&r.json()["backup_codes"]);
    assert_eq!(shown.len(), BACKUP_CODES);
    assert_eq!(BACKUP_CODES, 10);
    assert_eq!(shown.iter().collect::<HashSet<_>>().len(), 10, "distinct");
    // Shown once: with an active factor, a confirmation needs a step-up.
    gina.post("/account/totp/confirm", &json!({ "code": code }))
        .await
        .assert_error(403, "not_authorised");
    let me = gina.get("/me").await;
    me.assert_status(200);
    assert_eq!(me.json()["backup_codes_left"], 10);

    // The store holds only a locator and a verifier per code, never the code.
    let columns: HashSet<String> = sqlx::query(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = 'mfa_recovery_codes'",
    )
    .bind(&w.schema)
    .fetch_all(&w.pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    let expected: HashSet<String> = ["user_id", "locator", "verifier", "created_at"]
        .map(String::from)
        .into();
    assert_eq!(columns, expected);
    let rows = w.stored_codes().await;
    assert_eq!(rows.len(), 10);
    for code in &shown {
        let bare = code.replace('-', "");
        for (locator, verifier) in &rows {
            for form in [code.as_str(), bare.as_str(), &bare.to_lowercase()] {
                assert!(!verifier.contains(form), "a verifier holds a code");
                assert!(
                    !locator.windows(form.len()).any(|x| x == form.as_bytes()),
                    "a locator holds a code"
                );
            }
        }
    }
    (uri, shown)
}

/// Adding the SMS fallback changes the factors: it needs a step-up; the number is confirmed
/// through the Twilio API.
async fn sms_fallback_behind_step_up(w: &World, uri: &KeyUri) {
    let mut gina = w.client(HOME);
    w.sign_in(&mut gina, uri).await;
    gina.post("/account/sms", &json!({ "phone": PHONE }))
        .await
        .assert_error(403, "step_up_required");
    assert!(w.twilio.lock().unwrap().messages.is_empty());

    // A step-up: the user is known, so errors are detailed.
    let r = gina.post("/step-up", &json!({})).await;
    assert_eq!(r.json()["methods"], json!(["totp", "backup_code"]));
    let r = gina
        .post(
            "/step-up/verify",
            &json!({ "method": "totp", "code": "000000" }),
        )
        .await;
    r.assert_error(401, "code_mismatch");
    assert_eq!(r.json()["attempts_left"], 4);
    let code = w.next_code(uri);
    gina.post(
        "/step-up/verify",
        &json!({ "method": "totp", "code": code }),
    )
    .await
    .assert_status(200);

    gina.post("/account/sms", &json!({ "phone": "0800 not a number" }))
        .await
        .assert_error(400, "invalid_input");
    let r = gina.post("/account/sms", &json!({ "phone": PHONE })).await;
    r.assert_status(202);
    let code = w.sms_code(PHONE);
    gina.post(
        "/account/sms/confirm",
        &json!({ "phone": PHONE, "code": "000000" }),
    )
    .await
    .assert_error(401, "code_mismatch");
    gina.post(
        "/account/sms/confirm",
        &json!({ "phone": PHONE, "code": code }),
    )
    .await
    .assert_status(200);
    let me = gina.get("/me").await;
    assert_eq!(me.json()["methods"], json!(["totp", "sms", "backup_code"]));
    // The new number is told a factor was added.
    let messages = w.twilio.lock().unwrap().messages.clone();
    assert_eq!(messages.len(), 2);
    assert!(
        messages[1].1.contains("was added to your account"),
        "{:?}",
        messages[1].1
    );
}

/// The SMS fallback at login: the code is refused at 5 minutes, accepted at 4:59.
async fn sms_code_lives_five_minutes(w: &World) {
    w.advance(60); // the number's resend cooldown
    let mut gina = w.client(HOME);
    let r = w.login(&mut gina).await;
    assert_eq!(r["methods"], json!(["totp", "sms", "backup_code"]));
    // The password alone reaches nothing.
    gina.get("/me")
        .await
        .assert_error(401, "second_factor_required");
    let r = gina.post("/login/sms", &json!({})).await;
    r.assert_status(202);
    let now = w.clock.unix_secs();
    assert_eq!(
        r.json()["expires_at"],
        now + SMS_CODE_LIFETIME.as_secs(),
        "5 minutes"
    );
    let code = w.sms_code(PHONE);
    w.advance(300);
    gina.post("/login/sms/verify", &json!({ "code": code }))
        .await
        .assert_error(401, "verification_failed");

    w.login(&mut gina).await;
    gina.post("/login/sms", &json!({})).await.assert_status(202);
    let code = w.sms_code(PHONE);
    w.advance(299);
    let r = gina
        .post("/login/sms/verify", &json!({ "code": code }))
        .await;
    r.assert_status(200);
    assert_eq!(r.json()["method"], "sms");
    gina.get("/me").await.assert_status(200);
}

/// A backup code signs in once (typed loosely); regenerating (after a step-up) replaces the
/// whole set.
async fn backup_codes_work_once(w: &World, uri: &KeyUri, shown: &[String]) {
    let mut gina = w.client(HOME);
    w.login(&mut gina).await;
    let loose = shown[3].to_lowercase().replace('-', " ");
    let r = gina
        .post("/login/backup-code", &json!({ "code": loose }))
        .await;
    r.assert_status(200);
    assert_eq!(r.json()["backup_codes_left"], 9);
    let mut again = w.client(HOME);
    w.login(&mut again).await;
    again
        .post("/login/backup-code", &json!({ "code": shown[3] }))
        .await
        .assert_error(401, "verification_failed");
    assert_eq!(w.stored_codes().await.len(), 9);

    // TOTP at ±1 step: the previous step signs in, two steps back does not.
    w.advance(30);
    let now = w.clock.unix_secs();
    let mut totp = w.client(HOME);
    w.login(&mut totp).await;
    totp.post("/login/totp", &json!({ "code": code_at(uri, now - 60) }))
        .await
        .assert_error(401, "verification_failed");
    totp.post("/login/totp", &json!({ "code": code_at(uri, now - 30) }))
        .await
        .assert_status(200);

    // Regenerating needs a step-up; a backup code can give one.
    let old: HashSet<Vec<u8>> = w.stored_codes().await.into_iter().map(|(l, _)| l).collect();
    gina.post("/account/backup-codes", &json!({}))
        .await
        .assert_error(403, "step_up_required");
    w.step_up(&mut gina, "backup_code", &shown[4]).await;
    let r = gina.post("/account/backup-codes", &json!({})).await;
    r.assert_status(200);
    let fresh = strings(&r.json()["backup_codes"]);
    assert_eq!(fresh.len(), 10);
    let new: HashSet<Vec<u8>> = w.stored_codes().await.into_iter().map(|(l, _)| l).collect();
    assert_eq!(new.len(), 10);
    assert!(new.is_disjoint(&old), "the old set is gone");
    let mut late = w.client(HOME);
    w.login(&mut late).await;
    late.post("/login/backup-code", &json!({ "code": shown[0] }))
        .await
        .assert_error(401, "verification_failed");
    late.post("/login/backup-code", &json!({ "code": fresh[0] }))
        .await
        .assert_status(200);
}

/// From a stranger's network: 5 failed codes lock that network out for 15 minutes; Gina's
/// network signs in meanwhile. A step-up's SMS code expires at 5 minutes: `expired_code`.
async fn limits_from_a_stranger(w: &World, uri: &KeyUri) {
    w.advance(3600);
    let mut stranger = w.client(STRANGER);
    let r = w.login(&mut stranger).await;
    assert_eq!(r["status"], "second_factor");
    for _ in 0..5 {
        stranger
            .post("/login/totp", &json!({ "code": "000000" }))
            .await
            .assert_error(401, "verification_failed");
    }
    let r = stranger
        .post("/login", &json!({ "user": "gina", "password": PASSWORD }))
        .await;
    r.assert_error(429, "locked_out");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((880..=900).contains(&wait), "{wait}");
    let mut gina = w.client(HOME);
    w.sign_in(&mut gina, uri).await;

    // A step-up by SMS: the code expires with its 5 minutes.
    gina.post("/step-up", &json!({})).await.assert_status(200);
    gina.post("/step-up/sms", &json!({}))
        .await
        .assert_status(202);
    let code = w.sms_code(PHONE);
    w.advance(300);
    gina.post("/step-up/verify", &json!({ "method": "sms", "code": code }))
        .await
        .assert_error(410, "expired_code");
}
