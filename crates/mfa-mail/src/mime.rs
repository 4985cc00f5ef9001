//! Conversion of an [`EmailMessage`] into a MIME message (lettre's builder).

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox as LettreMailbox, MultiPart, SinglePart};

use crate::address::Mailbox;
use crate::error::{MailError, Result};
use crate::message::EmailMessage;

/// The `Content-Language` header.
#[derive(Clone, Debug)]
struct ContentLanguage(String);

impl Header for ContentLanguage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Language")
    }

    fn parse(s: &str) -> core::result::Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

fn mailbox(m: &Mailbox) -> Result<LettreMailbox> {
    let address = m
        .address
        .as_str()
        .parse()
        .map_err(|_| MailError::InvalidAddress)?;
    Ok(LettreMailbox::new(m.name.clone(), address))
}

/// Builds the MIME message: `multipart/alternative` with the text first and the HTML last.
pub(crate) fn to_lettre(message: &EmailMessage) -> Result<lettre::Message> {
    let mut builder = lettre::Message::builder()
        .from(mailbox(&message.from)?)
        .to(mailbox(&message.to)?)
        .subject(message.subject.as_str());
    if let Some(reply_to) = &message.reply_to {
        builder = builder.reply_to(mailbox(reply_to)?);
    }
    if let Some(lang) = &message.language {
        builder = builder.header(ContentLanguage(lang.clone()));
    }
    let body = MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(message.text.to_string()),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(message.html.to_string()),
        );
    builder
        .multipart(body)
        .map_err(|e| MailError::Failed(Box::new(e)))
}
