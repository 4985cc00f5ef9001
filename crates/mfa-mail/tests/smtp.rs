//! `SmtpMailer` against a real SMTP server (mailin-embedded) on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mail_parser::{MessageParser, PartType};
use mailin_embedded::{Handler, Response, Server, response};
use mfa_core::{Code, Digits};
use mfa_mail::{
    Composer, EmailAddress, MailError, MailSettings, Mailbox, Mailer, SmtpConfig, SmtpMailer,
    SmtpSecurity, Templates,
};

/// What the server saw in one transaction.
#[derive(Clone, Debug, Default)]
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: Vec<u8>,
}

#[derive(Clone, Default)]
struct Recorder {
    current: Received,
    done: Arc<Mutex<Vec<Received>>>,
}

impl Handler for Recorder {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.current = Received {
            mail_from: from.to_owned(),
            ..Received::default()
        };
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        if to.starts_with("nobody@") {
            return response::NO_MAILBOX; // 550
        }
        self.current.rcpt_to.push(to.to_owned());
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.done.lock().unwrap().push(self.current.clone());
        response::OK
    }
}

/// Starts a server on a free loopback port; it lives until the test process ends.
fn start_server() -> (u16, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let recorder = Recorder::default();
    let done = recorder.done.clone();
    let mut server = Server::new(recorder);
    server
        .with_name("mx.test")
        .with_num_threads(2)
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (port, done)
}

fn mailer(port: u16) -> SmtpMailer {
    let mut config = SmtpConfig::new("127.0.0.1", SmtpSecurity::Plain).with_port(port);
    config.timeout = Duration::from_secs(5);
    config.hello_name = Some("client.test".into());
    SmtpMailer::new(config).unwrap()
}

fn composer() -> Composer {
    Composer::new(
        MailSettings::new(
            "Ünïcode Bänk ✓",
            EmailAddress::parse("no-reply@bank.test").unwrap(),
            EmailAddress::parse("help@bank.test").unwrap(),
        ),
        Templates::english(),
    )
    .unwrap()
}

const CODE: &str = "58203417";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_a_code_over_real_smtp() {
    let (port, done) = start_server();
    let to = Mailbox::new("Zoë", EmailAddress::parse("zoe@example.com").unwrap());
    let code = Code::parse(CODE, Digits::EIGHT).unwrap();
    let message = composer().one_time_code(&to, &code, Duration::from_secs(120));
    mailer(port).send(&message).await.unwrap();

    let received = done.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.mail_from, "no-reply@bank.test");
    assert_eq!(r.rcpt_to, vec!["zoe@example.com".to_owned()]);

    let raw = String::from_utf8(r.data.clone()).unwrap();
    // The subject is not ASCII, so it travels RFC 2047-encoded, and decodes back.
    let subject_line = raw
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("subject:"))
        .unwrap();
    assert!(subject_line.contains("=?utf-8?"), "{subject_line}");
    assert!(raw.is_ascii(), "headers and bodies are transfer-encoded");
    assert!(!subject_line.contains(CODE));

    let parsed = MessageParser::default().parse(raw.as_bytes()).unwrap();
    assert_eq!(
        parsed.subject(),
        Some("Your Ünïcode Bänk ✓ verification code")
    );
    assert!(
        parsed
            .header_raw("Content-Type")
            .unwrap()
            .contains("multipart/alternative")
    );
    assert_eq!(
        parsed.header_raw("Content-Language").map(str::trim),
        Some("en")
    );
    let reply_to = parsed.reply_to().unwrap().first().unwrap();
    assert_eq!(reply_to.address(), Some("help@bank.test"));
    assert_eq!(
        parsed.to().unwrap().first().unwrap().address(),
        Some("zoe@example.com")
    );

    // Exactly one text and one HTML alternative, each with the code exactly once.
    let texts: Vec<&str> = parsed
        .parts
        .iter()
        .filter_map(|p| match &p.body {
            PartType::Text(t) => Some(t.as_ref()),
            _ => None,
        })
        .collect();
    let htmls: Vec<&str> = parsed
        .parts
        .iter()
        .filter_map(|p| match &p.body {
            PartType::Html(t) => Some(t.as_ref()),
            _ => None,
        })
        .collect();
    assert_eq!(texts.len(), 1);
    assert_eq!(htmls.len(), 1);
    assert_eq!(texts[0].matches(CODE).count(), 1, "{}", texts[0]);
    assert_eq!(htmls[0].matches(CODE).count(), 1, "{}", htmls[0]);
    assert!(texts[0].contains("Hello Zoë,"));
    assert!(htmls[0].contains("<p>Hello Zoë,</p>"));
    assert!(!parsed.subject().unwrap().contains(CODE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_recipient_is_permanent() {
    let (port, done) = start_server();
    let to = Mailbox::address_only(EmailAddress::parse("nobody@example.com").unwrap());
    let code = Code::parse(CODE, Digits::EIGHT).unwrap();
    let message = composer().one_time_code(&to, &code, Duration::from_secs(120));
    let err = mailer(port).send(&message).await.unwrap_err();
    assert!(!err.is_transient(), "{err:?}");
    match &err {
        MailError::Refused { status, .. } => assert_eq!(*status, 550),
        other => panic!("expected Refused, got {other:?}"),
    }
    // Nothing was delivered, and the error text does not carry the code.
    assert!(done.lock().unwrap().is_empty());
    assert!(!format!("{err} {err:?}").contains(CODE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_is_transient() {
    // Bind then drop a listener: the port is free and nothing answers on it.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let to = Mailbox::address_only(EmailAddress::parse("zoe@example.com").unwrap());
    let code = Code::parse(CODE, Digits::EIGHT).unwrap();
    let message = composer().one_time_code(&to, &code, Duration::from_secs(120));
    let err = mailer(port).send(&message).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(matches!(err, MailError::Unavailable(_)), "{err:?}");
    assert!(!format!("{err:?}").contains(CODE));
}
