//! The whole API over real HTTP/1.1 on loopback, on MariaDB (a throwaway database of the
//! backend's testkit, dropped after): enrolment with QR, typed errors, step-up, SMS and TOTP
//! challenges, and the rotating remembered-device cookie.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use authenticator_setup::{App, Backends, CookieSecurity, build_mfa};
use mfa::core::{KeyUri, Totp, TotpParams};
use mfa::mail::MemorySms;
use mfa::{Clock as _, Keyring, ManualClock, Pepper, SealingKey, Store};
use mfa_store_sql::MySqlStore;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PASSWORD: &str = "correct horse battery staple";

/// One HTTP response as read off the socket.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts a typed error: its HTTP status and JSON `error` code.
    #[track_caller]
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.body["error"].as_str()),
            (status, Some(code)),
            "{}",
            self.body
        );
    }

    /// The `mfa_device` cookie's value, after checking its attributes.
    #[track_caller]
    fn device_cookie(&self) -> String {
        let cookie = self.header("set-cookie").expect("a Set-Cookie header");
        let mut parts = cookie.split("; ");
        let value = parts
            .next()
            .unwrap()
            .strip_prefix("mfa_device=")
            .expect("the mfa_device cookie")
            .to_owned();
        let attributes: Vec<&str> = parts.collect();
        for expected in [
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=2592000",
        ] {
            assert!(attributes.contains(&expected), "{expected} in {cookie}");
        }
        assert_eq!(value.len(), 43, "a 256-bit token in base64url");
        value
    }
}

/// A minimal HTTP/1.1 client: one request per connection.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &Value,
    cookie: Option<&str>,
) -> Response {
    let body = body.to_string();
    let cookie = cookie.map_or(String::new(), |c| format!("Cookie: mfa_device={c}\r\n"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: api-test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{cookie}Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut sock = TcpStream::connect(addr).await.unwrap();
    sock.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    sock.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
    };
    Response {
        status,
        headers,
        body,
    }
}

async fn post(addr: SocketAddr, path: &str, body: Value) -> Response {
    send(addr, "POST", path, &body, None).await
}

/// The authenticator app: the RFC 6238 code of the Key URI's secret at `unix`.
fn app_code(uri: &KeyUri, unix: u64) -> String {
    let totp = Totp::new(
        &uri.secret,
        TotpParams {
            algorithm: uri.algorithm,
            digits: uri.digits,
            ..TotpParams::default()
        },
    );
    totp.generate_at(unix).unwrap().expose().to_string()
}

fn sms_code(sms: &MemorySms) -> String {
    let message = sms.last().expect("an SMS");
    message
        .body()
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned()
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
    let (store, cleanup) = throwaway.into_parts();
    let outcome = tokio::spawn(scenario(Arc::new(store))).await;
    cleanup.await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn scenario(store: Arc<dyn Store>) {
    let clock = ManualClock::at_unix_secs(mfa::SystemClock.unix_secs());
    let sms = Arc::new(MemorySms::new());
    let mfa = build_mfa(
        Backends {
            store,
            sms: sms.clone(),
            clock: Arc::new(clock.clone()),
            keyring: Keyring::new(1, SealingKey::generate().unwrap()),
            pepper: Pepper::generate().unwrap(),
        },
        "Acme",
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(App::new(mfa, CookieSecurity::Secure, PASSWORD).serve(listener));
    let advance = |secs| clock.advance(Duration::from_secs(secs));

    // Enrolment: Key URI, QR as SVG and PNG data URL, never cached.
    let r = post(addr, "/enroll/totp", json!({ "user": "dave" })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let key_uri = r.body["key_uri"].as_str().unwrap();
    assert!(
        key_uri.starts_with("otpauth://totp/Acme:dave?"),
        "{key_uri}"
    );
    let uri = KeyUri::parse(key_uri).unwrap();
    assert_eq!(uri.issuer.as_deref(), Some("Acme"));
    assert!(r.body["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(
        r.body["qr_png_data_url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,iVBORw0KGgo")
    );

    // Code mismatch, then the first code activates (the first factor needs no step-up).
    let good = app_code(&uri, clock.unix_secs());
    let r = post(
        addr,
        "/enroll/totp/confirm",
        json!({ "user": "dave", "code": wrong(&good) }),
    )
    .await;
    r.assert_error(422, "code_mismatch");
    let r = post(
        addr,
        "/enroll/totp/confirm",
        json!({ "user": "dave", "code": good }),
    )
    .await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("enabled"))
    );
    assert_eq!(r.body["recovery_codes"].as_array().unwrap().len(), 10);
    // Once a factor is active, any change of factors needs a step-up grant.
    post(
        addr,
        "/enroll/totp/confirm",
        json!({ "user": "dave", "code": good }),
    )
    .await
    .assert_error(403, "not_authorised");
    post(addr, "/enroll/totp", json!({ "user": "dave" }))
        .await
        .assert_error(403, "not_authorised");

    // No pending enrolment; an enrolment past its lifetime: expired code.
    post(
        addr,
        "/enroll/totp/confirm",
        json!({ "user": "erin", "code": "123456" }),
    )
    .await
    .assert_error(404, "no_pending_enrollment");
    let r = post(addr, "/enroll/totp", json!({ "user": "erin" })).await;
    let erin = KeyUri::parse(r.body["key_uri"].as_str().unwrap()).unwrap();
    advance(15 * 60);
    let late = app_code(&erin, clock.unix_secs());
    post(
        addr,
        "/enroll/totp/confirm",
        json!({ "user": "erin", "code": late }),
    )
    .await
    .assert_error(410, "expired_code");

    // A step-up grant: a fresh second-factor verification.
    let r = post(addr, "/step-up", json!({ "user": "dave" })).await;
    let step_id = r.body["challenge_id"].as_str().unwrap().to_owned();
    advance(30);
    let r = post(
        addr,
        "/verify",
        json!({ "challenge_id": step_id, "method": "totp",
                "code": app_code(&uri, clock.unix_secs()), "step_up": true }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let grant = r.body["step_up_grant"].as_str().unwrap().to_owned();

    // With it: the authenticator is already enabled.
    post(
        addr,
        "/enroll/totp",
        json!({ "user": "dave", "step_up_grant": grant }),
    )
    .await
    .assert_error(409, "already_enabled");
    post(
        addr,
        "/enroll/totp/confirm",
        json!({ "user": "dave", "code": good, "step_up_grant": grant }),
    )
    .await
    .assert_error(409, "already_enabled");

    // SMS as a second method, behind the grant.
    post(
        addr,
        "/enroll/sms",
        json!({ "user": "dave", "phone": "+1 (415) 555-0100" }),
    )
    .await
    .assert_error(403, "not_authorised");
    let r = post(
        addr,
        "/enroll/sms",
        json!({ "user": "dave", "phone": "+1 (415) 555-0100", "step_up_grant": grant }),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(sms.last().unwrap().to().as_str(), "+14155550100");
    let r = post(
        addr,
        "/enroll/sms/confirm",
        json!({ "user": "dave", "phone": "+14155550100", "code": sms_code(&sms),
                "step_up_grant": grant }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The preferred method needs a step-up grant too: not authorised without one.
    let put =
        |body: Value| async move { send(addr, "PUT", "/preferred-method", &body, None).await };
    put(json!({ "user": "dave", "method": "sms", "step_up_grant": "not-a-grant" }))
        .await
        .assert_error(403, "not_authorised");
    let r = put(json!({ "user": "dave", "method": "sms", "step_up_grant": grant })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    put(json!({ "user": "erin", "method": "sms", "step_up_grant": grant }))
        .await
        .assert_error(403, "not_authorised");

    // Login: the password (simulated), then the challenge with SMS preferred.
    post(
        addr,
        "/login",
        json!({ "user": "dave", "password": "wrong" }),
    )
    .await
    .assert_error(401, "invalid_credentials");
    let login = json!({ "user": "dave", "password": PASSWORD });
    let r = post(addr, "/login", login.clone()).await;
    assert_eq!(r.body["status"], "challenge_required", "{}", r.body);
    assert_eq!(r.body["methods"], json!(["sms", "totp", "recovery_code"]));
    let id = r.body["challenge_id"].as_str().unwrap().to_owned();

    // An SMS code expires after 5 minutes: expired code.
    advance(60);
    let r = post(addr, "/challenge/sms", json!({ "challenge_id": id })).await;
    assert_eq!(r.status, 202, "{}", r.body);
    post(addr, "/challenge/sms", json!({ "challenge_id": id }))
        .await
        .assert_error(429, "retry_later");
    let code = sms_code(&sms);
    advance(300);
    post(
        addr,
        "/verify",
        json!({ "challenge_id": id, "method": "sms", "code": code }),
    )
    .await
    .assert_error(410, "expired_code");

    // A fresh SMS challenge: a wrong code is a mismatch; the right one signs in and
    // remembers the device in an HttpOnly, SameSite=Lax, Secure cookie.
    let r = post(addr, "/login", login.clone()).await;
    let id = r.body["challenge_id"].as_str().unwrap().to_owned();
    assert_eq!(
        post(addr, "/challenge/sms", json!({ "challenge_id": id }))
            .await
            .status,
        202
    );
    let code = sms_code(&sms);
    let r = post(
        addr,
        "/verify",
        json!({ "challenge_id": id, "method": "sms", "code": wrong(&code) }),
    )
    .await;
    r.assert_error(422, "code_mismatch");
    assert_eq!(
        r.body["attempts_left"], 4,
        "5 tries per challenge, one spent"
    );
    let r = post(
        addr,
        "/verify",
        json!({ "challenge_id": id, "method": "sms", "code": code, "remember_device": true }),
    )
    .await;
    assert_eq!(
        (r.status, &r.body["method"]),
        (200, &json!("sms")),
        "{}",
        r.body
    );
    let first = r.device_cookie();

    // The cookie skips the challenge and is rotated; the old value is refused after.
    let r = send(addr, "POST", "/login", &login, Some(&first)).await;
    assert_eq!(r.body["status"], "signed_in", "{}", r.body);
    let second = r.device_cookie();
    assert_ne!(second, first);
    let r = send(addr, "POST", "/login", &login, Some(&first)).await;
    assert_eq!(r.body["status"], "challenge_required", "{}", r.body);
    assert!(r.header("set-cookie").is_none());
    let r = send(addr, "POST", "/login", &login, Some(&second)).await;
    assert_eq!(r.body["status"], "signed_in", "{}", r.body);
    let third = r.device_cookie();
    assert!(third != second && third != first);

    // A TOTP code answers a login challenge too.
    advance(30);
    let r = post(addr, "/login", login.clone()).await;
    let id = r.body["challenge_id"].as_str().unwrap().to_owned();
    let r = post(
        addr,
        "/verify",
        json!({ "challenge_id": id, "method": "totp", "code": app_code(&uri, clock.unix_secs()) }),
    )
    .await;
    assert_eq!(
        (r.status, &r.body["method"]),
        (200, &json!("totp")),
        "{}",
        r.body
    );
    assert!(r.header("set-cookie").is_none());
    // The challenge is used: expired code.
    post(
        addr,
        "/verify",
        json!({ "challenge_id": id, "method": "totp", "code": app_code(&uri, clock.unix_secs()) }),
    )
    .await
    .assert_error(410, "expired_code");

    server.abort();
}
