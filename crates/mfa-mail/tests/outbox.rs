//! The development and test outboxes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use mail_parser::{MessageParser, PartType};
use mfa_core::{Code, Digits};
use mfa_mail::{
    Composer, ConsoleSms, EmailAddress, FileOutbox, MailSettings, Mailbox, Mailer, MemoryOutbox,
    MemorySms, PhoneNumber, SmsMessage, SmsSender, Templates,
};

fn composer() -> Composer {
    Composer::new(
        MailSettings::new(
            "Acme",
            EmailAddress::parse("no-reply@acme.test").unwrap(),
            EmailAddress::parse("support@acme.test").unwrap(),
        ),
        Templates::english(),
    )
    .unwrap()
}

#[tokio::test]
async fn file_outbox_writes_a_parseable_eml() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = FileOutbox::new(dir.path().join("outbox")).unwrap();
    let to = Mailbox::new(
        "Ada Lovelace",
        EmailAddress::parse("ada@example.com").unwrap(),
    );
    let code = Code::parse("802114", Digits::SIX).unwrap();
    let message = composer().one_time_code(&to, &code, Duration::from_secs(600));
    outbox.send(&message).await.unwrap();
    outbox.send(&message).await.unwrap();

    let mut files: Vec<_> = std::fs::read_dir(outbox.dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "one file per message");
    let path = &files[0];
    assert_eq!(path.extension().unwrap(), "eml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "only the owner may read a file holding a code"
        );
    }
    let raw = std::fs::read(path).unwrap();
    let parsed = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(parsed.subject(), Some("Your Acme verification code"));
    let to_addr = parsed.to().unwrap().first().unwrap();
    assert_eq!(to_addr.address(), Some("ada@example.com"));
    assert_eq!(to_addr.name(), Some("Ada Lovelace"));
    assert!(parsed.body_text(0).unwrap().contains("802114"));
    assert!(parsed.body_html(0).unwrap().contains("802114"));
    assert!(
        parsed
            .parts
            .iter()
            .any(|p| matches!(p.body, PartType::Html(_)))
    );
}

#[tokio::test]
async fn file_outbox_reads_back_its_newest_message() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(FileOutbox::newest_message(dir.path()).unwrap(), None);
    let outbox = FileOutbox::new(dir.path()).unwrap();
    let to = Mailbox::address_only(EmailAddress::parse("ada@example.com").unwrap());
    for code in ["111111", "222222"] {
        let code = Code::parse(code, Digits::SIX).unwrap();
        outbox
            .send(&composer().one_time_code(&to, &code, Duration::from_secs(600)))
            .await
            .unwrap();
    }
    let newest = FileOutbox::newest_message(dir.path()).unwrap().unwrap();
    assert!(newest.contains("222222") && !newest.contains("111111"));
    assert!(FileOutbox::newest_message(&dir.path().join("missing")).is_err());
}

#[tokio::test]
async fn memory_outbox_returns_what_was_sent() {
    let outbox = MemoryOutbox::new();
    assert!(outbox.sent().is_empty());
    let c = composer();
    let to: Mailbox = EmailAddress::parse("ada@example.com").unwrap().into();
    let first = c.one_time_code(
        &to,
        &Code::parse("111111", Digits::SIX).unwrap(),
        Duration::from_secs(60),
    );
    let second = c.one_time_code(
        &to,
        &Code::parse("222222", Digits::SIX).unwrap(),
        Duration::from_secs(60),
    );
    outbox.send(&first).await.unwrap();
    outbox.send(&second).await.unwrap();
    let sent = outbox.sent();
    assert_eq!(sent.len(), 2);
    assert!(sent[0].text().contains("111111"));
    assert!(outbox.last().unwrap().text().contains("222222"));
    assert_eq!(outbox.take().len(), 2);
    assert!(outbox.sent().is_empty());
    // Through a trait object, as an application holds it.
    let shared: std::sync::Arc<dyn Mailer> = std::sync::Arc::new(MemoryOutbox::new());
    shared.send(&first).await.unwrap();
}

#[tokio::test]
async fn memory_and_console_sms() {
    let sms = MemorySms::new();
    let to = PhoneNumber::parse("+14155550100").unwrap();
    let msg = composer().sms_code(
        &to,
        &Code::parse("123987", Digits::SIX).unwrap(),
        Duration::from_secs(300),
    );
    sms.send_sms(&msg).await.unwrap();
    sms.send_sms(&SmsMessage::new(to.clone(), "hello"))
        .await
        .unwrap();
    assert_eq!(sms.sent().len(), 2);
    assert!(sms.sent()[0].body().starts_with("123987 is your Acme code"));
    assert_eq!(sms.last().unwrap().body(), "hello");
    assert_eq!(sms.take().len(), 2);
    ConsoleSms::new().send_sms(&msg).await.unwrap();
}
