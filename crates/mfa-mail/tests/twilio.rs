//! `TwilioSms` against a loopback HTTP/1.1 server written here.
#![cfg(feature = "twilio")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mfa_core::{Code, Digits};
use mfa_mail::{
    Composer, EmailAddress, MailError, MailSettings, PhoneNumber, SmsSender, Templates,
    TwilioConfig, TwilioSender, TwilioSms,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as the server read it.
#[derive(Clone, Debug, Default)]
struct Request {
    head: String,
    body: String,
}

/// Serves one canned answer per connection, recording each request.
async fn start(status: u16, reason: &str, body: &str) -> (String, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head, then Content-Length bytes of body.
            let (head, body) = loop {
                let n = sock.read(&mut chunk).await.unwrap();
                assert!(n > 0, "client closed early");
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if rest.len() >= len {
                        break (head.to_owned(), rest.to_owned());
                    }
                }
            };
            seen2.lock().unwrap().push(Request { head, body });
            sock.write_all(answer.as_bytes()).await.unwrap();
            sock.shutdown().await.unwrap();
        }
    });
    (base, seen)
}

fn sender(base: &str) -> TwilioSms {
    let config = TwilioConfig::new(
        "AC0123456789abcdef",
        "auth-token-xyz",
        TwilioSender::From(PhoneNumber::parse("+15005550006").unwrap()),
    )
    .with_base_url(base);
    TwilioSms::new(config).unwrap()
}

fn message() -> mfa_mail::SmsMessage {
    let composer = Composer::new(
        MailSettings::new(
            "Acme & Co",
            EmailAddress::parse("no-reply@acme.test").unwrap(),
            EmailAddress::parse("support@acme.test").unwrap(),
        ),
        Templates::english(),
    )
    .unwrap();
    composer.sms_code(
        &PhoneNumber::parse("+14155550100").unwrap(),
        &Code::parse("735190", Digits::SIX).unwrap(),
        Duration::from_secs(300),
    )
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
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (decode(k), decode(v))
        })
        .collect()
}

#[tokio::test]
async fn sends_the_request_twilio_expects() {
    let (base, seen) = start(
        201,
        "Created",
        r#"{"sid": "SM1234567890abcdef", "status": "queued"}"#,
    )
    .await;
    sender(&base).send_sms(&message()).await.unwrap();

    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    let request_line = r.head.lines().next().unwrap();
    assert_eq!(
        request_line,
        "POST /2010-04-01/Accounts/AC0123456789abcdef/Messages.json HTTP/1.1"
    );
    // RFC 7617: base64("AC0123456789abcdef:auth-token-xyz"), computed independently.
    let auth = r
        .head
        .lines()
        .find_map(|l| l.strip_prefix("authorization: "))
        .unwrap();
    assert_eq!(auth, "Basic QUMwMTIzNDU2Nzg5YWJjZGVmOmF1dGgtdG9rZW4teHl6");
    assert!(
        r.head
            .to_ascii_lowercase()
            .contains("content-type: application/x-www-form-urlencoded")
    );
    assert_eq!(
        form(&r.body),
        vec![
            ("To".to_owned(), "+14155550100".to_owned()),
            ("From".to_owned(), "+15005550006".to_owned()),
            (
                "Body".to_owned(),
                "735190 is your Acme & Co code. It expires in 5 min.".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn messaging_service_sid_replaces_from() {
    let (base, seen) = start(201, "Created", r#"{"sid": "SM1"}"#).await;
    let config = TwilioConfig::new("AC1", "t", TwilioSender::MessagingService("MG0123".into()))
        .with_base_url(base);
    TwilioSms::new(config)
        .unwrap()
        .send_sms(&message())
        .await
        .unwrap();
    let body = form(&seen.lock().unwrap()[0].body);
    assert!(body.contains(&("MessagingServiceSid".to_owned(), "MG0123".to_owned())));
    assert!(!body.iter().any(|(k, _)| k == "From"));
}

#[tokio::test]
async fn invalid_number_is_permanent() {
    let (base, _) = start(
        400,
        "Bad Request",
        r#"{"code": 21211, "message": "The 'To' number +14155550100 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#,
    )
    .await;
    let err = sender(&base).send_sms(&message()).await.unwrap_err();
    assert!(!err.is_transient());
    match &err {
        MailError::Refused { status, message } => {
            assert_eq!(*status, 21211);
            assert!(message.contains("not a valid phone number"));
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert!(!format!("{err} {err:?}").contains("735190"));
    assert!(!format!("{err} {err:?}").contains("auth-token-xyz"));
}

#[tokio::test]
async fn unavailable_and_rate_limited_are_transient() {
    let (base, _) = start(
        503,
        "Service Unavailable",
        r#"{"code": 20503, "message": "Service unavailable", "status": 503}"#,
    )
    .await;
    let err = sender(&base).send_sms(&message()).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(matches!(err, MailError::Deferred { status: 503, .. }));

    let (base, _) = start(
        429,
        "Too Many Requests",
        r#"{"code": 20429, "message": "Too Many Requests"}"#,
    )
    .await;
    let err = sender(&base).send_sms(&message()).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn connection_refused_is_transient() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = sender(&format!("http://127.0.0.1:{port}"))
        .send_sms(&message())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(matches!(err, MailError::Unavailable(_)), "{err:?}");
}
