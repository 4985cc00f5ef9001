#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod address;
mod compose;
mod english;
mod env;
mod error;
mod escape;
mod mailer;
mod message;
mod mime;
mod outbox;
mod sms;
mod smtp;
mod template;
mod templates;
#[cfg(feature = "twilio")]
mod twilio;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use crate::address::{EmailAddress, Mailbox, PhoneNumber};
pub use crate::compose::{Composer, LockEnd, MailSettings, Notice, SubjectCode, UnlockLink};
pub use crate::env::{ChosenMailer, mailer_from_env};
pub use crate::error::{BoxError, MailError, Result};
pub use crate::escape::escape_html;
pub use crate::mailer::{Mailer, SmsSender};
pub use crate::message::{EmailMessage, MessageKind, SmsMessage};
pub use crate::outbox::{FileOutbox, MemoryOutbox};
pub use crate::sms::{ConsoleSms, MemorySms};
pub use crate::smtp::{SmtpConfig, SmtpCredentials, SmtpMailer, SmtpSecurity};
pub use crate::template::Placeholder;
pub use crate::templates::{TemplateText, Templates};
#[cfg(feature = "twilio")]
pub use crate::twilio::{TWILIO_API_BASE, TwilioConfig, TwilioSender, TwilioSms};
