//! Turning a code, a link or a security event into a message, with the settings and templates.

use core::time::Duration;

use mfa_core::Code;
use zeroize::Zeroizing;

use crate::address::{EmailAddress, Mailbox, PhoneNumber};
use crate::error::{MailError, Result};
use crate::escape::escape_html;
use crate::message::{EmailMessage, MessageKind, SmsMessage};
use crate::template::{Escape, Placeholder};
use crate::templates::Templates;

/// Whether a subject may carry the one-time code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SubjectCode {
    /// Subjects never contain `{code}` (the default): a code in a subject shows on lock
    /// screens and in mail logs.
    #[default]
    Forbid,
    /// Subjects may contain `{code}` (for users who want to read it from a notification).
    Allow,
}

/// What the product says about itself in every message.
#[derive(Clone, Debug)]
pub struct MailSettings {
    /// The product name, inserted as `{product}`.
    pub product: String,
    /// The sender of every email.
    pub from: Mailbox,
    /// The support address, inserted as `{support}` and sent as `Reply-To`.
    pub support: EmailAddress,
    /// Whether subject templates may contain `{code}`.
    pub subject_code: SubjectCode,
}

impl MailSettings {
    /// Settings with the product name as the sender's display name and codes kept out of
    /// subjects.
    #[must_use]
    pub fn new(product: impl Into<String>, from: EmailAddress, support: EmailAddress) -> Self {
        let product = product.into();
        Self {
            from: Mailbox::new(product.clone(), from),
            product,
            support,
            subject_code: SubjectCode::Forbid,
        }
    }
}

/// How long a lock lasts, as a notice tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockEnd {
    /// The lock ends by itself after this long.
    After(Duration),
    /// The lock holds until it is unlocked (by the emailed link or an administrator).
    Unlock,
}

/// A single-use link that unlocks a locked account, carried by a lock notice. It holds a
/// secret token: redacted in `Debug`, zeroized when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct UnlockLink(Zeroizing<String>);

impl UnlockLink {
    /// Wraps a link.
    ///
    /// # Errors
    /// [`MailError::Config`] unless `link` is an `https://` URL (or `http://` to `localhost`
    /// or `127.0.0.1` for development) without spaces, quotes or angle brackets.
    pub fn new(link: impl Into<String>) -> Result<Self> {
        let link = Zeroizing::new(link.into());
        check_link(&link)?;
        Ok(Self(link))
    }
}

impl core::fmt::Debug for UnlockLink {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UnlockLink").finish_non_exhaustive()
    }
}

/// A security event the account owner is told about.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// A device was marked as trusted (no second factor asked there any more).
    NewDeviceTrusted {
        /// The device's label, such as "Firefox on Linux".
        device: String,
    },
    /// The account was locked after too many failures from devices and networks the user has
    /// not used recently.
    AccountLocked {
        /// How long the lock lasts.
        end: LockEnd,
        /// A link that unlocks it (with the user's password or second factor), if the
        /// application serves one.
        unlock: Option<UnlockLink>,
    },
    /// A second factor was added.
    FactorAdded {
        /// The factor in words a user understands, such as "authenticator app" or "email
        /// address ...@example.com".
        factor: String,
    },
    /// A second factor was removed.
    FactorRemoved {
        /// The factor in words a user understands.
        factor: String,
    },
    /// The recovery codes were regenerated; the old ones no longer work.
    RecoveryCodesRegenerated,
    /// A recovery code was used to sign in.
    RecoveryCodeUsed {
        /// How many unused codes are left.
        remaining: u32,
    },
    /// A security key signed with a counter that did not move forward: a copy of it may
    /// exist, and that sign-in was refused.
    SecurityKeyCopied {
        /// The key in words a user understands, such as `security key "YubiKey"`.
        key: String,
    },
}

impl Notice {
    /// The message kind (and so the template) of this notice.
    #[must_use]
    pub fn kind(&self) -> MessageKind {
        match self {
            Self::NewDeviceTrusted { .. } => MessageKind::NewDeviceTrusted,
            Self::AccountLocked { end, unlock } => match (end, unlock.is_some()) {
                (LockEnd::After(_), false) => MessageKind::AccountLocked,
                (LockEnd::After(_), true) => MessageKind::AccountLockedWithLink,
                (LockEnd::Unlock, false) => MessageKind::AccountLockedUntilUnlock,
                (LockEnd::Unlock, true) => MessageKind::AccountLockedUntilUnlockWithLink,
            },
            Self::FactorAdded { .. } => MessageKind::FactorAdded,
            Self::FactorRemoved { .. } => MessageKind::FactorRemoved,
            Self::RecoveryCodesRegenerated => MessageKind::RecoveryCodesRegenerated,
            Self::RecoveryCodeUsed { .. } => MessageKind::RecoveryCodeUsed,
            Self::SecurityKeyCopied { .. } => MessageKind::SecurityKeyCopied,
        }
    }
}

/// Whole minutes, rounded up, at least 1.
fn minutes(d: Duration) -> String {
    d.as_secs().div_ceil(60).max(1).to_string()
}

/// The values one message inserts. Secrets are held zeroizing.
#[derive(Default)]
struct Values {
    code: Option<Zeroizing<String>>,
    link: Option<Zeroizing<String>>,
    minutes: Option<String>,
    device: Option<String>,
    factor: Option<String>,
    remaining: Option<String>,
}

/// Builds messages from [`MailSettings`] and [`Templates`]; checks both once, at construction.
///
/// ```
/// use std::time::Duration;
/// use mfa_core::{Code, Digits};
/// use mfa_mail::{Composer, EmailAddress, MailSettings, Mailbox, Templates};
///
/// let settings = MailSettings::new(
///     "Acme",
///     EmailAddress::parse("no-reply@acme.test")?,
///     EmailAddress::parse("support@acme.test")?,
/// );
/// let composer = Composer::new(settings, Templates::english())?;
/// let code = Code::parse("123456", Digits::SIX).expect("six digits");
/// let to = Mailbox::new("Ada", EmailAddress::parse("ada@example.com")?);
/// let message = composer.one_time_code(&to, &code, Duration::from_secs(600));
/// assert_eq!(message.subject(), "Your Acme verification code");
/// assert!(message.text().contains("123456"));
/// assert!(!format!("{message:?}").contains("123456"));
/// # Ok::<(), mfa_mail::MailError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Composer {
    settings: MailSettings,
    templates: Templates,
}

impl Composer {
    /// Checks the settings against the templates.
    ///
    /// # Errors
    /// [`MailError::Config`] when the product name is empty or holds a control character, or
    /// when a subject template inserts `{code}` while [`MailSettings::subject_code`] is
    /// [`SubjectCode::Forbid`].
    pub fn new(settings: MailSettings, templates: Templates) -> Result<Self> {
        let product = settings.product.trim();
        if product.is_empty() || settings.product.chars().any(char::is_control) {
            return Err(MailError::Config(
                "the product name must be non-empty text without line breaks".into(),
            ));
        }
        if settings.subject_code == SubjectCode::Forbid
            && templates.subjects().any(|s| s.uses(Placeholder::Code))
        {
            return Err(MailError::Config(
                "a subject template contains {code}; set SubjectCode::Allow to permit it".into(),
            ));
        }
        Ok(Self {
            settings,
            templates,
        })
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &MailSettings {
        &self.settings
    }

    /// An email carrying a one-time code valid for `lifetime`.
    #[must_use]
    pub fn one_time_code(&self, to: &Mailbox, code: &Code, lifetime: Duration) -> EmailMessage {
        let values = Values {
            code: Some(code.expose()),
            minutes: Some(minutes(lifetime)),
            ..Values::default()
        };
        self.email(MessageKind::OneTimeCode, to, &values)
    }

    /// An email carrying a magic link and the same challenge's code, both valid for `lifetime`.
    ///
    /// # Errors
    /// [`MailError::Config`] unless `link` is an `https://` URL (or `http://` to `localhost`
    /// or `127.0.0.1` for development) without spaces, quotes or angle brackets.
    pub fn magic_link(
        &self,
        to: &Mailbox,
        link: &str,
        code: &Code,
        lifetime: Duration,
    ) -> Result<EmailMessage> {
        check_link(link)?;
        let values = Values {
            code: Some(code.expose()),
            link: Some(Zeroizing::new(link.to_owned())),
            minutes: Some(minutes(lifetime)),
            ..Values::default()
        };
        Ok(self.email(MessageKind::MagicLink, to, &values))
    }

    /// An email telling the account owner about a security event.
    #[must_use]
    pub fn notice(&self, to: &Mailbox, notice: &Notice) -> EmailMessage {
        let mut values = Values::default();
        match notice {
            Notice::NewDeviceTrusted { device } => values.device = Some(device.clone()),
            Notice::AccountLocked { end, unlock } => {
                if let LockEnd::After(duration) = end {
                    values.minutes = Some(minutes(*duration));
                }
                values.link = unlock.as_ref().map(|l| l.0.clone());
            }
            Notice::FactorAdded { factor }
            | Notice::FactorRemoved { factor }
            | Notice::SecurityKeyCopied { key: factor } => {
                values.factor = Some(factor.clone());
            }
            Notice::RecoveryCodesRegenerated => {}
            Notice::RecoveryCodeUsed { remaining } => {
                values.remaining = Some(remaining.to_string());
            }
        }
        self.email(notice.kind(), to, &values)
    }

    /// A text message telling the owner of `to` about a change of second factors, so that a
    /// factor replaced by someone else is announced on the old phone as well; `None` for the
    /// notices that go by email only.
    #[must_use]
    pub fn sms_notice(&self, to: &PhoneNumber, notice: &Notice) -> Option<SmsMessage> {
        let (kind, factor) = match notice {
            Notice::FactorAdded { factor } => (MessageKind::FactorAdded, factor),
            Notice::FactorRemoved { factor } => (MessageKind::FactorRemoved, factor),
            _ => return None,
        };
        let values = Values {
            factor: Some(factor.clone()),
            ..Values::default()
        };
        let body = self
            .templates
            .sms_notice(kind)?
            .render(Escape::Text, &|p| self.value(p, "", &values));
        Some(SmsMessage {
            kind,
            to: to.clone(),
            body: Zeroizing::new(body),
        })
    }

    /// A text message carrying a one-time code valid for `lifetime`.
    #[must_use]
    pub fn sms_code(&self, to: &PhoneNumber, code: &Code, lifetime: Duration) -> SmsMessage {
        let values = Values {
            code: Some(code.expose()),
            minutes: Some(minutes(lifetime)),
            ..Values::default()
        };
        let body = self
            .templates
            .sms_code()
            .render(Escape::Text, &|p| self.value(p, "", &values));
        SmsMessage {
            kind: MessageKind::SmsCode,
            to: to.clone(),
            body: Zeroizing::new(body),
        }
    }

    fn value(&self, p: Placeholder, name: &str, v: &Values) -> String {
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        let z =
            |o: &Option<Zeroizing<String>>| o.as_ref().map(|z| z.to_string()).unwrap_or_default();
        match p {
            Placeholder::Product => self.settings.product.clone(),
            Placeholder::Support => self.settings.support.to_string(),
            Placeholder::Name => name.to_owned(),
            Placeholder::Code => z(&v.code),
            Placeholder::Link => z(&v.link),
            Placeholder::Minutes => s(&v.minutes),
            Placeholder::Device => s(&v.device),
            Placeholder::Factor => s(&v.factor),
            Placeholder::Remaining => s(&v.remaining),
        }
    }

    fn email(&self, kind: MessageKind, to: &Mailbox, values: &Values) -> EmailMessage {
        let name = to.greeting_name();
        let value = |p: Placeholder| self.value(p, name, values);
        let (subject, text, fragment, subject_is_secret) = match self.templates.get(kind) {
            Some(t) => (
                t.subject.render(Escape::Header, &value),
                t.text.render(Escape::Text, &value),
                Zeroizing::new(t.html.render(Escape::Html, &value)),
                t.subject.uses(Placeholder::Code),
            ),
            None => (
                String::new(),
                String::new(),
                Zeroizing::new(String::new()),
                false,
            ),
        };
        let lang = self.templates.language();
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
             <title>{}</title></head><body>{}</body></html>\n",
            if subject_is_secret {
                escape_html(&self.settings.product)
            } else {
                escape_html(&subject)
            },
            fragment.as_str()
        );
        EmailMessage {
            kind,
            from: self.settings.from.clone(),
            reply_to: Some(Mailbox::address_only(self.settings.support.clone())),
            to: to.clone(),
            subject,
            subject_is_secret,
            language: Some(lang.to_owned()),
            text: Zeroizing::new(text),
            html: Zeroizing::new(html),
        }
    }
}

fn check_link(link: &str) -> Result<()> {
    let lower = link.to_ascii_lowercase();
    let scheme_ok = lower.starts_with("https://")
        || ["http://localhost", "http://127.0.0.1"].iter().any(|p| {
            lower
                .strip_prefix(p)
                .is_some_and(|r| r.is_empty() || r.starts_with([':', '/']))
        });
    let chars_ok = !link
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>'));
    if scheme_ok && chars_ok {
        Ok(())
    } else {
        Err(MailError::Config(
            "a magic link must be an https:// URL without spaces, quotes or angle brackets".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_round_up() {
        assert_eq!(minutes(Duration::from_secs(0)), "1");
        assert_eq!(minutes(Duration::from_secs(60)), "1");
        assert_eq!(minutes(Duration::from_secs(61)), "2");
        assert_eq!(minutes(Duration::from_secs(600)), "10");
    }

    #[test]
    fn links() {
        assert!(check_link("https://acme.test/magic?t=abc").is_ok());
        assert!(check_link("http://localhost:8080/m?t=x").is_ok());
        assert!(check_link("http://127.0.0.1/m").is_ok());
        for bad in [
            "javascript:alert(1)",
            "http://acme.test/m",
            "http://localhost.evil.test/",
            "https://acme.test/\"onmouseover=x",
            "https://acme.test/a b",
            "",
        ] {
            assert!(check_link(bad).is_err(), "{bad:?}");
        }
    }
}
