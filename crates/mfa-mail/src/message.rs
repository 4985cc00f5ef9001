//! Messages ready for delivery: an email with two alternatives, or a text message.

use core::fmt;

use zeroize::Zeroizing;

use crate::address::{Mailbox, PhoneNumber};

/// What a message is about; chooses its template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageKind {
    /// A one-time code to type in.
    OneTimeCode,
    /// A magic link to click, with the same challenge's code to type in instead.
    MagicLink,
    /// Security notice: a device was marked as trusted.
    NewDeviceTrusted,
    /// Security notice: the account was locked for a while after too many failures.
    AccountLocked,
    /// Security notice: as [`AccountLocked`](Self::AccountLocked), with an unlock link.
    AccountLockedWithLink,
    /// Security notice: the account was locked until an administrator unlocks it.
    AccountLockedUntilUnlock,
    /// Security notice: the account was locked until it is unlocked, with an unlock link.
    AccountLockedUntilUnlockWithLink,
    /// Security notice: a second factor was added.
    FactorAdded,
    /// Security notice: a second factor was removed.
    FactorRemoved,
    /// Security notice: the recovery codes were regenerated.
    RecoveryCodesRegenerated,
    /// Security notice: a recovery code was used to sign in.
    RecoveryCodeUsed,
    /// Security notice: a sign-in with a copy of a security key was refused.
    SecurityKeyCopied,
    /// A text message carrying a one-time code.
    SmsCode,
    /// A message built by the application with [`EmailMessage::new`] or [`SmsMessage::new`].
    Custom,
}

impl MessageKind {
    /// A short stable name (`one_time_code`, `magic_link`, ...), used in errors.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::OneTimeCode => "one_time_code",
            Self::MagicLink => "magic_link",
            Self::NewDeviceTrusted => "new_device_trusted",
            Self::AccountLocked => "account_locked",
            Self::AccountLockedWithLink => "account_locked_with_link",
            Self::AccountLockedUntilUnlock => "account_locked_until_unlock",
            Self::AccountLockedUntilUnlockWithLink => "account_locked_until_unlock_with_link",
            Self::FactorAdded => "factor_added",
            Self::FactorRemoved => "factor_removed",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::SecurityKeyCopied => "security_key_copied",
            Self::SmsCode => "sms_code",
            Self::Custom => "custom",
        }
    }
}

/// An email ready to send: sender, recipient, subject, a plain-text and an HTML alternative.
///
/// The bodies may hold a code or a link: `Debug` shows only their lengths, and shows the subject
/// only when it holds neither. The bodies are zeroized when the message is dropped (copies a
/// transport makes are out of our reach).
#[derive(Clone)]
pub struct EmailMessage {
    pub(crate) kind: MessageKind,
    pub(crate) from: Mailbox,
    pub(crate) reply_to: Option<Mailbox>,
    pub(crate) to: Mailbox,
    pub(crate) subject: String,
    pub(crate) subject_is_secret: bool,
    pub(crate) language: Option<String>,
    pub(crate) text: Zeroizing<String>,
    pub(crate) html: Zeroizing<String>,
}

impl EmailMessage {
    /// A message the application wrote itself (kind [`MessageKind::Custom`]).
    ///
    /// The HTML is sent as given: escape what you insert into it (see
    /// [`escape_html`](crate::escape_html)). Control characters in the subject become spaces.
    #[must_use]
    pub fn new(
        from: Mailbox,
        to: Mailbox,
        subject: &str,
        text: impl Into<String>,
        html: impl Into<String>,
    ) -> Self {
        Self {
            kind: MessageKind::Custom,
            from,
            reply_to: None,
            to,
            subject: subject
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
            subject_is_secret: false,
            language: None,
            text: Zeroizing::new(text.into()),
            html: Zeroizing::new(html.into()),
        }
    }

    /// Sets the `Reply-To` mailbox.
    #[must_use]
    pub fn with_reply_to(mut self, reply_to: Mailbox) -> Self {
        self.reply_to = Some(reply_to);
        self
    }

    /// What the message is about.
    #[must_use]
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The sender (`From`).
    #[must_use]
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// The `Reply-To` mailbox, if any (the support address for templated messages).
    #[must_use]
    pub fn reply_to(&self) -> Option<&Mailbox> {
        self.reply_to.as_ref()
    }

    /// The recipient (`To`).
    #[must_use]
    pub fn to(&self) -> &Mailbox {
        &self.to
    }

    /// The subject line.
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Whether the subject holds a code (only when the settings allow it): outboxes then keep
    /// it out of their console line.
    #[must_use]
    pub fn subject_is_secret(&self) -> bool {
        self.subject_is_secret
    }

    /// The language of the text (`Content-Language`), if known.
    #[must_use]
    pub fn language(&self) -> Option<&str> {
        self.language.as_deref()
    }

    /// The plain-text alternative. It may contain a code or a link: never log it.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The HTML alternative. It may contain a code or a link: never log it.
    #[must_use]
    pub fn html(&self) -> &str {
        &self.html
    }
}

impl fmt::Debug for EmailMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subject: &dyn fmt::Debug = if self.subject_is_secret {
            &"<redacted>"
        } else {
            &self.subject
        };
        f.debug_struct("EmailMessage")
            .field("kind", &self.kind)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("subject", subject)
            .field("text_len", &self.text.len())
            .field("html_len", &self.html.len())
            .finish_non_exhaustive()
    }
}

/// A text message ready to send. `Debug` shows the recipient and the body's length only.
#[derive(Clone)]
pub struct SmsMessage {
    pub(crate) kind: MessageKind,
    pub(crate) to: PhoneNumber,
    pub(crate) body: Zeroizing<String>,
}

impl SmsMessage {
    /// A text message the application wrote itself (kind [`MessageKind::Custom`]).
    #[must_use]
    pub fn new(to: PhoneNumber, body: impl Into<String>) -> Self {
        Self {
            kind: MessageKind::Custom,
            to,
            body: Zeroizing::new(body.into()),
        }
    }

    /// What the message is about.
    #[must_use]
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The recipient.
    #[must_use]
    pub fn to(&self) -> &PhoneNumber {
        &self.to
    }

    /// The text. It may contain a code: never log it.
    #[must_use]
    pub fn body(&self) -> &str {
        &self.body
    }
}

impl fmt::Debug for SmsMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsMessage")
            .field("kind", &self.kind)
            .field("to", &self.to)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}
