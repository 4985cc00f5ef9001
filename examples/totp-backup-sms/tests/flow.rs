//! The whole seed-5 flow against PostgreSQL (a throwaway schema of the backend's testkit, dropped
//! after) and a Twilio-compatible HTTP server on loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::indexing_slicing
)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mfa::core::{Algorithm, KeyUri, Secret, Totp, TotpParams};
use mfa::{ClientInfo, Clock as _, Keyring, ManualClock, Method, Pepper, SealingKey, StepUpGrant};
use mfa_store_sql::PgStore;
use mfa_store_sql::sqlx::{self, AssertSqlSafe, Row as _};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use totp_backup_sms::{
    Answer, BACKUP_CODES, Backends, Error, SMS_CODE_LIFETIME, SignIn, TotpBackupSms, TwilioAccount,
    twilio_sms,
};

const SID: &str = "AC0123456789abcdef";
const TOKEN: &str = "auth-token-xyz";
/// RFC 7617: base64("AC0123456789abcdef:auth-token-xyz"), computed independently.
const BASIC: &str = "Basic QUMwMTIzNDU2Nzg5YWJjZGVmOmF1dGgtdG9rZW4teHl6";
const FROM: &str = "+15005550006";
const PHONE: &str = "+447700900123";

/// What the loopback Twilio saw: accepted messages (To, Body) and refused requests.
#[derive(Default)]
struct Twilio {
    messages: Vec<(String, String)>,
    refused: Vec<String>,
}

/// A Twilio-compatible Messages API on loopback: checks path, basic auth and form fields and
/// answers 201 with Twilio's JSON (401/400 with Twilio's error JSON otherwise).
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

/// The newest SMS code the loopback Twilio accepted for `to`.
fn last_code(twilio: &Mutex<Twilio>, to: &str) -> String {
    let state = twilio.lock().unwrap();
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

/// The authenticator app: the RFC 6238 code of the Key URI's secret at `unix`.
fn app_code(uri: &KeyUri, unix: u64) -> String {
    assert_eq!(uri.algorithm, Algorithm::Sha1);
    let secret = Secret::from_bytes(uri.secret.expose_bytes()).unwrap();
    let totp = Totp::new(
        &secret,
        TotpParams {
            digits: uri.digits,
            ..TotpParams::default()
        },
    );
    totp.generate_at(unix).unwrap().expose().to_string()
}

fn client() -> ClientInfo {
    ClientInfo::new("198.51.100.7".parse().unwrap()).with_user_agent("test")
}

/// The rows of the user's backup codes, as PostgreSQL holds them: (locator, verifier).
async fn stored_codes(pool: &sqlx::PgPool, schema: &str, user: &str) -> Vec<(Vec<u8>, String)> {
    let sql =
        format!("SELECT locator, verifier FROM {schema}.mfa_recovery_codes WHERE user_id = $1");
    sqlx::query(AssertSqlSafe(sql))
        .bind(user)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<Vec<u8>, _>(0), r.get::<String, _>(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_backup_codes_and_sms_fallback_on_postgres_and_twilio() {
    // A schema of its own, dropped afterwards; skipped (or failed under
    // MFA_REQUIRE_SERVICES=1) without the server.
    let Some(throwaway) = PgStore::throwaway().await else {
        return;
    };
    let schema = throwaway.name().to_owned();
    let pool = throwaway.pool().clone();
    let (store, cleanup) = throwaway.into_parts();
    let run = tokio::spawn(flow(Arc::new(store), pool, schema)).await;
    cleanup.await;
    if let Err(e) = run {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn flow(store: Arc<mfa_store_sql::PgStore>, pool: sqlx::PgPool, schema: String) {
    let (base, twilio) = start_twilio().await;
    let sms = twilio_sms(&TwilioAccount {
        account_sid: SID.into(),
        auth_token: TOKEN.into(),
        from: FROM.into(),
        base_url: Some(base),
    })
    .unwrap();
    let clock = ManualClock::at_unix_secs(mfa::SystemClock.unix_secs());
    let app = TotpBackupSms::new(
        Backends {
            store,
            sms: Arc::new(sms),
            clock: Arc::new(clock.clone()),
            keyring: Keyring::new(1, SealingKey::generate().unwrap()),
            pepper: Pepper::generate().unwrap(),
        },
        "Acme",
    )
    .unwrap();
    let user = "gina";

    // TOTP: the first code from the app activates it and returns 10 backup codes, once.
    let setup = app.start_authenticator(user, &client()).await.unwrap();
    let uri = KeyUri::parse(setup.key_uri()).unwrap();
    assert_eq!(uri.issuer.as_deref(), Some("Acme"));
    let codes = app
        .confirm_authenticator(user, &app_code(&uri, clock.unix_secs()), &client())
        .await
        .unwrap();
    let shown: Vec<String> = codes.expose().iter().map(|c| c.to_string()).collect();
    assert_eq!(shown.len(), BACKUP_CODES);
    assert_eq!(BACKUP_CODES, 10);
    assert_eq!(shown.iter().collect::<HashSet<_>>().len(), 10, "distinct");
    assert!(
        !format!("{codes:?}").contains(&shown[0]),
        "redacted in Debug"
    );
    // Shown once: a second confirmation returns no codes (with an active factor, any change of
    // factors needs a step-up grant).
    assert!(matches!(
        app.confirm_authenticator(user, &app_code(&uri, clock.unix_secs()), &client())
            .await,
        Err(Error::Mfa(mfa::Error::NotAuthorised))
    ));

    // The store holds only a locator and a verifier per code, never the code.
    let columns: HashSet<String> = sqlx::query(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = 'mfa_recovery_codes'",
    )
    .bind(&schema)
    .fetch_all(&pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    let expected: HashSet<String> = ["user_id", "locator", "verifier", "created_at"]
        .map(String::from)
        .into();
    assert_eq!(columns, expected);
    let rows = stored_codes(&pool, &schema, user).await;
    assert_eq!(rows.len(), 10);
    for code in &shown {
        let bare = code.replace('-', "");
        for (locator, verifier) in &rows {
            for form in [code.as_str(), bare.as_str(), &bare.to_lowercase()] {
                assert!(!verifier.contains(form), "a verifier holds a code");
                assert!(
                    !locator.windows(form.len()).any(|w| w == form.as_bytes()),
                    "a locator holds a code"
                );
            }
        }
    }
    let old_locators: HashSet<Vec<u8>> = rows.into_iter().map(|(l, _)| l).collect();

    // SMS fallback, confirmed through the Twilio API: a change of factors, behind a step-up
    // with the authenticator (a new time step: the activation code cannot be replayed).
    let forged: StepUpGrant = "A".repeat(43).parse().unwrap();
    assert!(matches!(
        app.start_sms_fallback(user, &forged, PHONE, &client())
            .await,
        Err(Error::Mfa(mfa::Error::NotAuthorised))
    ));
    clock.advance(Duration::from_secs(30));
    let grant = app
        .step_up(
            user,
            Answer::Totp(&app_code(&uri, clock.unix_secs())),
            &client(),
        )
        .await
        .unwrap();
    app.start_sms_fallback(user, &grant, PHONE, &client())
        .await
        .unwrap();
    let code = last_code(&twilio, PHONE);
    app.confirm_sms_fallback(user, &grant, PHONE, &code, &client())
        .await
        .unwrap();

    // SMS login: the code lives exactly 5 minutes.
    clock.advance(Duration::from_secs(60)); // the per-number resend cooldown
    let login = app.begin_login(user, &client()).await.unwrap();
    assert_eq!(
        login.methods,
        vec![Method::Totp, Method::Sms, Method::RecoveryCode]
    );
    let id = login.challenge_id;
    let expires_at = app.send_sms_code(&id, &client()).await.unwrap();
    assert_eq!(expires_at, mfa::Clock::now(&clock) + SMS_CODE_LIFETIME);
    assert_eq!(SMS_CODE_LIFETIME, Duration::from_secs(300));
    let code = last_code(&twilio, PHONE);
    clock.advance(Duration::from_secs(300));
    assert_eq!(
        app.sign_in(&id, Answer::SmsCode(&code), &client())
            .await
            .unwrap(),
        SignIn::Expired
    );
    let id = app.begin_login(user, &client()).await.unwrap().challenge_id;
    app.send_sms_code(&id, &client()).await.unwrap();
    let code = last_code(&twilio, PHONE);
    clock.advance(Duration::from_secs(299));
    assert_eq!(
        app.sign_in(&id, Answer::SmsCode(&code), &client())
            .await
            .unwrap(),
        SignIn::Verified {
            method: Method::Sms,
            backup_codes_left: None
        }
    );
    // Three codes (the number's confirmation, two logins) and, to the new number, the notice
    // that a second factor was added.
    let messages = twilio.lock().unwrap().messages.clone();
    assert_eq!(messages.len(), 4);
    assert!(
        messages[1].1.contains("was added to your account"),
        "{:?}",
        messages[1].1
    );

    // A backup code works once (typed loosely), and is refused the second time.
    let id = app.begin_login(user, &client()).await.unwrap().challenge_id;
    let loose = shown[3].to_lowercase().replace('-', " ");
    assert_eq!(
        app.sign_in(&id, Answer::BackupCode(&loose), &client())
            .await
            .unwrap(),
        SignIn::Verified {
            method: Method::RecoveryCode,
            backup_codes_left: Some(9)
        }
    );
    let id = app.begin_login(user, &client()).await.unwrap().challenge_id;
    assert!(matches!(
        app.sign_in(&id, Answer::BackupCode(&shown[3]), &client())
            .await
            .unwrap(),
        SignIn::WrongCode { .. }
    ));
    assert_eq!(stored_codes(&pool, &schema, user).await.len(), 9);
    assert_eq!(app.backup_codes_left(user).await.unwrap(), 9);

    // TOTP accepts the previous step (±1 step).
    clock.advance(Duration::from_secs(30));
    let id = app.begin_login(user, &client()).await.unwrap().challenge_id;
    let previous = app_code(&uri, clock.unix_secs() - 30);
    assert!(matches!(
        app.sign_in(&id, Answer::Totp(&previous), &client())
            .await
            .unwrap(),
        SignIn::Verified {
            method: Method::Totp,
            ..
        }
    ));

    // Regenerating (after a step-up) replaces the whole set.
    clock.advance(Duration::from_secs(30));
    let now_code = app_code(&uri, clock.unix_secs());
    let grant = app
        .step_up(user, Answer::Totp(&now_code), &client())
        .await
        .unwrap();
    let fresh = app.regenerate_backup_codes(user, &grant).await.unwrap();
    assert_eq!(fresh.len(), 10);
    let rows = stored_codes(&pool, &schema, user).await;
    assert_eq!(rows.len(), 10);
    let new_locators: HashSet<Vec<u8>> = rows.into_iter().map(|(l, _)| l).collect();
    assert!(
        new_locators.is_disjoint(&old_locators),
        "the old set is gone"
    );
    let id = app.begin_login(user, &client()).await.unwrap().challenge_id;
    assert!(matches!(
        app.sign_in(&id, Answer::BackupCode(&shown[0]), &client())
            .await
            .unwrap(),
        SignIn::WrongCode { .. }
    ));
    let id = app.begin_login(user, &client()).await.unwrap().challenge_id;
    let new_code = fresh.expose()[0].to_string();
    assert_eq!(
        app.sign_in(&id, Answer::BackupCode(&new_code), &client())
            .await
            .unwrap(),
        SignIn::Verified {
            method: Method::RecoveryCode,
            backup_codes_left: Some(9)
        }
    );
    // Regenerating needs a live grant of this user.
    assert!(matches!(
        app.regenerate_backup_codes(user, &forged).await,
        Err(Error::Mfa(mfa::Error::NotAuthorised))
    ));
}
