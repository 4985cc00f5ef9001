//! Messages built from the templates: escaping, alternatives, subjects, languages, redaction.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use mfa_core::{Code, Digits};
use mfa_mail::{
    Composer, EmailAddress, LockEnd, MailError, MailSettings, Mailbox, MessageKind, Notice,
    PhoneNumber, SubjectCode, TemplateText, Templates, UnlockLink,
};

const CODE: &str = "493027";
const LINK: &str = "https://acme.test/magic?token=Zm9vYmFyLXNlY3JldC10b2tlbg&x=1";

fn addr(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

fn settings(product: &str) -> MailSettings {
    MailSettings::new(
        product,
        addr("no-reply@acme.test"),
        addr("support@acme.test"),
    )
}

fn composer() -> Composer {
    Composer::new(settings("Acme"), Templates::english()).unwrap()
}

fn code() -> Code {
    Code::parse(CODE, Digits::SIX).unwrap()
}

fn hostile_to() -> Mailbox {
    Mailbox::new(
        "<script>alert('x')</script> \"Bob\" & Co",
        addr("bob@example.com"),
    )
}

fn all_messages(c: &Composer, to: &Mailbox) -> Vec<mfa_mail::EmailMessage> {
    let mut out = vec![
        c.one_time_code(to, &code(), Duration::from_secs(120)),
        c.magic_link(to, LINK, &code(), Duration::from_secs(120))
            .unwrap(),
    ];
    for notice in [
        Notice::NewDeviceTrusted {
            device: "<img src=x onerror=alert(1)>".into(),
        },
        Notice::AccountLocked {
            end: LockEnd::After(Duration::from_secs(3600)),
            unlock: None,
        },
        Notice::AccountLocked {
            end: LockEnd::After(Duration::from_secs(900)),
            unlock: Some(UnlockLink::new(UNLOCK).unwrap()),
        },
        Notice::AccountLocked {
            end: LockEnd::Unlock,
            unlock: None,
        },
        Notice::AccountLocked {
            end: LockEnd::Unlock,
            unlock: Some(UnlockLink::new(UNLOCK).unwrap()),
        },
        Notice::FactorAdded {
            factor: "authenticator app".into(),
        },
        Notice::FactorRemoved {
            factor: "SMS".into(),
        },
        Notice::RecoveryCodesRegenerated,
        Notice::RecoveryCodeUsed { remaining: 7 },
    ] {
        out.push(c.notice(to, &notice));
    }
    out
}

#[test]
fn hostile_names_and_products_are_escaped_in_html() {
    let c = Composer::new(
        settings("Acme <b>\"Secure\"</b> & 'Co'"),
        Templates::english(),
    )
    .unwrap();
    for m in all_messages(&c, &hostile_to()) {
        let html = m.html();
        assert!(!html.contains("<script>"), "{:?}: {html}", m.kind());
        assert!(!html.contains("<img"), "{:?}", m.kind());
        assert!(!html.contains("<b>\"Secure\""), "{:?}", m.kind());
        assert!(html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2F;script&gt;"));
        assert!(
            html.contains("Acme &lt;b&gt;&quot;Secure&quot;&lt;&#x2F;b&gt; &amp; &#x27;Co&#x27;")
        );
        // The plain text carries the values as they are.
        assert!(
            m.text()
                .contains("<script>alert('x')</script> \"Bob\" & Co")
        );
    }
}

#[test]
fn every_message_has_subject_text_and_html() {
    let c = composer();
    let msgs = all_messages(&c, &hostile_to());
    assert_eq!(msgs.len(), 11);
    for m in &msgs {
        assert!(!m.subject().is_empty(), "{:?}", m.kind());
        assert!(m.text().len() > 40, "{:?}", m.kind());
        assert!(m.html().starts_with("<!DOCTYPE html>"), "{:?}", m.kind());
        assert!(m.html().contains("<html lang=\"en\">"));
        assert_eq!(m.language(), Some("en"));
        assert_eq!(m.reply_to().unwrap().address.as_str(), "support@acme.test");
        assert_eq!(m.from().address.as_str(), "no-reply@acme.test");
        assert!(m.text().contains("support@acme.test"));
    }
    let code_msg = &msgs[0];
    assert_eq!(code_msg.kind(), MessageKind::OneTimeCode);
    assert_eq!(code_msg.text().matches(CODE).count(), 1);
    assert_eq!(code_msg.html().matches(CODE).count(), 1);
    assert!(code_msg.text().contains("expires in 2 min"));
    let link_msg = &msgs[1];
    assert!(link_msg.text().contains(LINK));
    // In HTML the link's `&` is written `&amp;` (and `/` as `&#x2F;`), as HTML requires.
    assert!(
        link_msg
            .html()
            .contains("token=Zm9vYmFyLXNlY3JldC10b2tlbg&amp;x=1")
    );
    assert!(link_msg.html().contains(CODE));
    assert!(msgs[3].text().contains("locked for 60 min"));
    assert!(msgs[10].text().contains("Codes left: 7"));
}

#[test]
fn codes_and_links_stay_out_of_subjects_by_default() {
    for m in all_messages(&composer(), &hostile_to()) {
        assert!(!m.subject().contains(CODE), "{:?}", m.kind());
        assert!(!m.subject().contains("token"), "{:?}", m.kind());
        assert!(!m.subject_is_secret());
    }
    // A subject with {code} is refused unless the settings allow it.
    let templates = Templates::english()
        .with(
            MessageKind::OneTimeCode,
            TemplateText::new("{code} is your {product} code", "{code}", "{code}"),
        )
        .unwrap();
    let err = Composer::new(settings("Acme"), templates.clone()).unwrap_err();
    assert!(matches!(err, MailError::Config(_)));
    let mut allowed = settings("Acme");
    allowed.subject_code = SubjectCode::Allow;
    let c = Composer::new(allowed, templates).unwrap();
    let m = c.one_time_code(&hostile_to(), &code(), Duration::from_secs(60));
    assert_eq!(m.subject(), format!("{CODE} is your Acme code"));
    assert!(m.subject_is_secret());
    // Debug then hides the subject too, and the HTML title does not repeat it.
    assert!(!format!("{m:?}").contains(CODE));
    assert_eq!(m.html().matches(CODE).count(), 1);
}

#[test]
fn debug_never_shows_codes_or_links() {
    let c = composer();
    for m in all_messages(&c, &hostile_to()) {
        let shown = format!("{m:?} {m:#?}");
        assert!(!shown.contains(CODE), "{shown}");
        assert!(!shown.contains("Zm9vYmFy"), "{shown}");
        assert!(shown.contains("bob@example.com"));
    }
    let sms = c.sms_code(
        &PhoneNumber::parse("+14155550100").unwrap(),
        &code(),
        Duration::from_secs(300),
    );
    assert_eq!(
        sms.body(),
        format!("{CODE} is your Acme code. It expires in 5 min.")
    );
    let shown = format!("{sms:?}");
    assert!(!shown.contains(CODE), "{shown}");
    assert!(shown.contains("+14155550100"));
}

#[test]
fn custom_language_and_texts() {
    let templates = Templates::english()
        .with_language("fr")
        .unwrap()
        .with(
            MessageKind::OneTimeCode,
            TemplateText::new(
                "Votre code {product}",
                "Bonjour {name},\nvotre code : {code} ({minutes} min). {{aide}} : {support}",
                "<p>Bonjour {name},</p><p>Votre code : <b>{code}</b></p>",
            ),
        )
        .unwrap()
        .with_sms_code("Code {product} : {code}")
        .unwrap();
    let c = Composer::new(settings("Acmé"), templates).unwrap();
    let m = c.one_time_code(
        &Mailbox::new("Zoë & Łukasz", addr("zoe@example.com")),
        &code(),
        Duration::from_secs(600),
    );
    assert_eq!(m.subject(), "Votre code Acmé");
    assert_eq!(
        m.text(),
        format!(
            "Bonjour Zoë & Łukasz,\nvotre code : {CODE} (10 min). {{aide}} : support@acme.test"
        )
    );
    assert!(
        m.html()
            .contains("<p>Bonjour Zoë &amp; Łukasz,</p><p>Votre code : <b>493027</b></p>")
    );
    assert!(m.html().contains("<html lang=\"fr\">"));
    assert_eq!(m.language(), Some("fr"));
    // Kinds not replaced keep their English text.
    let n = c.notice(&hostile_to(), &Notice::RecoveryCodesRegenerated);
    assert!(n.text().contains("New recovery codes"));
    let sms = c.sms_code(
        &PhoneNumber::parse("+33612345678").unwrap(),
        &code(),
        Duration::from_secs(60),
    );
    assert_eq!(sms.body(), format!("Code Acmé : {CODE}"));
}

#[test]
fn bad_settings_are_refused_at_construction() {
    assert!(Composer::new(settings(" "), Templates::english()).is_err());
    assert!(Composer::new(settings("Acme\r\nBcc: x@evil.test"), Templates::english()).is_err());
}

#[test]
fn line_breaks_in_names_never_reach_the_subject() {
    let templates = Templates::english()
        .with(
            MessageKind::FactorAdded,
            TemplateText::new("{name}: factor added", "{factor}", "{factor}"),
        )
        .unwrap();
    let c = Composer::new(settings("Acme"), templates).unwrap();
    let to = Mailbox::new("Eve\r\nBcc: all@example.com", addr("eve@example.com"));
    let m = c.notice(
        &to,
        &Notice::FactorAdded {
            factor: "SMS".into(),
        },
    );
    assert!(!m.subject().contains(['\r', '\n']));
    assert_eq!(m.subject(), "Eve  Bcc: all@example.com: factor added");
}

#[test]
fn magic_links_must_be_https() {
    let c = composer();
    let to = hostile_to();
    for bad in [
        "javascript:alert(1)",
        "http://acme.test/m",
        "https://acme.test/\"><script>",
    ] {
        assert!(
            c.magic_link(&to, bad, &code(), Duration::from_secs(60))
                .is_err(),
            "{bad}"
        );
    }
}

const UNLOCK: &str = "https://acme.test/unlock?token=dW5sb2NrLXNlY3JldA";

/// The four lock notices: timed or until unlocked, with or without the unlock link; an
/// indefinite lock says an administrator must act, never "locked for 5256000 min".
#[test]
fn lock_notices_say_how_the_lock_ends_and_carry_the_unlock_link() {
    let c = composer();
    let to = Mailbox::address_only(addr("ada@example.com"));
    let timed = c.notice(
        &to,
        &Notice::AccountLocked {
            end: LockEnd::After(Duration::from_secs(3600)),
            unlock: None,
        },
    );
    assert!(
        timed.text().contains("locked for 60 min"),
        "{}",
        timed.text()
    );
    assert!(!timed.text().contains("token="));
    let admin = c.notice(
        &to,
        &Notice::AccountLocked {
            end: LockEnd::Unlock,
            unlock: None,
        },
    );
    assert_eq!(admin.kind(), MessageKind::AccountLockedUntilUnlock);
    assert!(
        admin.text().contains("until an administrator unlocks it"),
        "{}",
        admin.text()
    );
    assert!(!admin.text().contains(" min"));
    let linked = c.notice(
        &to,
        &Notice::AccountLocked {
            end: LockEnd::Unlock,
            unlock: Some(UnlockLink::new(UNLOCK).unwrap()),
        },
    );
    assert_eq!(linked.text().matches(UNLOCK).count(), 1);
    assert!(linked.text().contains("the link alone unlocks nothing"));
    assert!(
        !format!("{linked:?}").contains("dW5sb2Nr"),
        "the link is redacted"
    );
    assert!(UnlockLink::new("http://evil.test/unlock").is_err());
    let notice = Notice::AccountLocked {
        end: LockEnd::Unlock,
        unlock: Some(UnlockLink::new(UNLOCK).unwrap()),
    };
    assert!(!format!("{notice:?}").contains("dW5sb2Nr"));
}

/// Factor changes go by SMS too, naming the factor; other notices do not.
#[test]
fn factor_change_notices_have_a_text_message() {
    let c = composer();
    let phone = mfa_mail::PhoneNumber::parse("+14155550100").unwrap();
    let sms = c
        .sms_notice(
            &phone,
            &Notice::FactorAdded {
                factor: "phone number ending 0199".into(),
            },
        )
        .unwrap();
    assert_eq!(sms.kind(), MessageKind::FactorAdded);
    assert!(
        sms.body().contains("phone number ending 0199"),
        "{}",
        sms.body()
    );
    assert!(sms.body().contains("support@acme.test"));
    assert!(
        c.sms_notice(&phone, &Notice::RecoveryCodesRegenerated)
            .is_none()
    );
}
