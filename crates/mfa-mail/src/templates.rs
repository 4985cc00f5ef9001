//! The texts of each message kind: English by default, replaceable by the application.

use crate::error::{MailError, Result};
use crate::message::MessageKind;
use crate::template::{Placeholder, Template};

/// The three format strings of one email: subject, plain text and HTML.
///
/// Placeholders are written `{name}` (see [`Placeholder`]); `{{` and `}}` write braces. Values are
/// inserted as they are into the text, with line breaks removed into the subject, and
/// HTML-escaped into the HTML. The HTML is a fragment: it is placed inside `<body>` of a
/// document whose `lang` is [`Templates::language`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateText {
    /// The subject line.
    pub subject: String,
    /// The plain-text alternative.
    pub text: String,
    /// The HTML alternative (a fragment of trusted markup with placeholders).
    pub html: String,
}

impl TemplateText {
    /// Three format strings.
    #[must_use]
    pub fn new(
        subject: impl Into<String>,
        text: impl Into<String>,
        html: impl Into<String>,
    ) -> Self {
        Self {
            subject: subject.into(),
            text: text.into(),
            html: html.into(),
        }
    }
}

/// One email template, parsed.
#[derive(Clone, Debug)]
pub(crate) struct Compiled {
    pub(crate) subject: Template,
    pub(crate) text: Template,
    pub(crate) html: Template,
}

const COMMON: [Placeholder; 3] = [
    Placeholder::Product,
    Placeholder::Support,
    Placeholder::Name,
];

/// The placeholders `kind` may use, and the one its bodies must use.
fn rules(kind: MessageKind) -> (Vec<Placeholder>, Option<Placeholder>) {
    use Placeholder as P;
    let (extra, required): (&[P], _) = match kind {
        MessageKind::OneTimeCode => (&[P::Code, P::Minutes], Some(P::Code)),
        MessageKind::MagicLink => (&[P::Link, P::Code, P::Minutes], Some(P::Link)),
        MessageKind::NewDeviceTrusted => (&[P::Device], None),
        MessageKind::AccountLocked => (&[P::Minutes], None),
        MessageKind::AccountLockedWithLink => (&[P::Minutes, P::Link], Some(P::Link)),
        MessageKind::AccountLockedUntilUnlock => (&[], None),
        MessageKind::AccountLockedUntilUnlockWithLink => (&[P::Link], Some(P::Link)),
        MessageKind::FactorAdded | MessageKind::FactorRemoved | MessageKind::SecurityKeyCopied => {
            (&[P::Factor], None)
        }
        MessageKind::RecoveryCodeUsed => (&[P::Remaining], None),
        MessageKind::SmsCode => (&[P::Code, P::Minutes], Some(P::Code)),
        MessageKind::RecoveryCodesRegenerated | MessageKind::Custom => (&[], None),
    };
    let mut allowed = COMMON.to_vec();
    allowed.extend_from_slice(extra);
    (allowed, required)
}

fn compile(kind: MessageKind, text: &TemplateText) -> Result<Compiled> {
    let name = kind.name();
    let (allowed, required) = rules(kind);
    // A link never goes in a subject: subjects show up in notifications and mail logs.
    let subject_allowed: Vec<Placeholder> = allowed
        .iter()
        .copied()
        .filter(|p| *p != Placeholder::Link)
        .collect();
    let compiled = Compiled {
        subject: Template::parse(name, &text.subject, &subject_allowed)?,
        text: Template::parse(name, &text.text, &allowed)?,
        html: Template::parse(name, &text.html, &allowed)?,
    };
    if compiled.subject.has_control_chars() {
        return Err(MailError::InvalidTemplate {
            kind: name,
            reason: "the subject contains a line break or control character".into(),
        });
    }
    if let Some(p) = required
        && (!compiled.text.uses(p) || !compiled.html.uses(p))
    {
        return Err(MailError::InvalidTemplate {
            kind: name,
            reason: format!("both the text and the HTML must contain {p}"),
        });
    }
    Ok(compiled)
}

/// Parses a built-in template; falls back to the raw text (never reached: a test parses them all).
fn builtin(kind: MessageKind, subject: &str, text: &str, html: &str) -> Compiled {
    let raw = TemplateText::new(subject, text, html);
    compile(kind, &raw).unwrap_or_else(|_| Compiled {
        subject: Template::empty(),
        text: Template::empty(),
        html: Template::empty(),
    })
}

/// The texts of every message kind, in one language.
///
/// [`Templates::english`] (also `Default`) has all of them; replace any with
/// [`Templates::with`], and set the language with [`Templates::with_language`]. Each replacement
/// is checked when it is given: unknown placeholders, placeholders the kind does not provide,
/// unbalanced braces, a line break in a subject, a `{link}` in a subject, and a code template
/// whose text or HTML lacks `{code}` (a magic link's lacks `{link}`) are refused.
///
/// ```
/// use mfa_mail::{MessageKind, TemplateText, Templates};
///
/// let templates = Templates::english()
///     .with_language("fr")?
///     .with(MessageKind::OneTimeCode, TemplateText::new(
///         "Votre code {product}",
///         "Bonjour {name},\n\nVotre code : {code} (valable {minutes} min).",
///         "<p>Bonjour {name},</p><p>Votre code : <b>{code}</b> (valable {minutes} min).</p>",
///     ))?;
/// assert_eq!(templates.language(), "fr");
/// # Ok::<(), mfa_mail::MailError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Templates {
    language: String,
    entries: Vec<(MessageKind, Compiled)>,
    sms_code: Template,
    sms_notices: Vec<(MessageKind, Template)>,
}

impl Templates {
    /// The built-in English texts.
    #[must_use]
    pub fn english() -> Self {
        let entries = crate::english::TEXTS
            .iter()
            .map(|(kind, s, t, h)| (*kind, builtin(*kind, s, t, h)))
            .collect();
        let (allowed, _) = rules(MessageKind::SmsCode);
        let sms_code = Template::parse("sms_code", crate::english::SMS_CODE, &allowed)
            .unwrap_or_else(|_| Template::empty());
        let sms_notices = crate::english::SMS_NOTICES
            .iter()
            .map(|(kind, text)| {
                let (allowed, _) = rules(*kind);
                let template = Template::parse(kind.name(), text, &allowed)
                    .unwrap_or_else(|_| Template::empty());
                (*kind, template)
            })
            .collect();
        Self {
            language: "en".into(),
            entries,
            sms_code,
            sms_notices,
        }
    }

    /// Sets the language tag (BCP 47, such as `fr` or `pt-BR`) sent as `Content-Language` and
    /// as the HTML `lang`.
    ///
    /// # Errors
    /// [`MailError::Config`] unless the tag is 1 to 35 ASCII letters, digits and dashes.
    pub fn with_language(mut self, tag: &str) -> Result<Self> {
        let ok = !tag.is_empty()
            && tag.len() <= 35
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(MailError::Config(format!("invalid language tag {tag:?}")));
        }
        self.language = tag.to_owned();
        Ok(self)
    }

    /// Replaces the texts of one email kind.
    ///
    /// # Errors
    /// [`MailError::InvalidTemplate`] when a format string breaks a rule listed on
    /// [`Templates`]; [`MailError::Config`] for [`MessageKind::SmsCode`] (use
    /// [`Templates::with_sms_code`]) and [`MessageKind::Custom`].
    pub fn with(mut self, kind: MessageKind, text: TemplateText) -> Result<Self> {
        if matches!(kind, MessageKind::SmsCode | MessageKind::Custom) {
            return Err(MailError::Config(format!(
                "`{}` has no email template",
                kind.name()
            )));
        }
        let compiled = compile(kind, &text)?;
        self.entries.retain(|(k, _)| *k != kind);
        self.entries.push((kind, compiled));
        Ok(self)
    }

    /// Replaces the text message carrying a code (placeholders `{product}`, `{support}`,
    /// `{name}`, `{code}` (required), `{minutes}`).
    ///
    /// # Errors
    /// [`MailError::InvalidTemplate`] when the format string is malformed or lacks `{code}`.
    pub fn with_sms_code(mut self, text: &str) -> Result<Self> {
        let (allowed, _) = rules(MessageKind::SmsCode);
        let template = Template::parse("sms_code", text, &allowed)?;
        if !template.uses(Placeholder::Code) {
            return Err(MailError::InvalidTemplate {
                kind: "sms_code",
                reason: "the text must contain {code}".into(),
            });
        }
        self.sms_code = template;
        Ok(self)
    }

    /// Replaces the text message of a factor-change notice ([`MessageKind::FactorAdded`] or
    /// [`MessageKind::FactorRemoved`]; placeholders `{product}`, `{support}`, `{factor}`).
    ///
    /// # Errors
    /// [`MailError::Config`] for another kind; [`MailError::InvalidTemplate`] when the format
    /// string is malformed.
    pub fn with_sms_notice(mut self, kind: MessageKind, text: &str) -> Result<Self> {
        if !matches!(kind, MessageKind::FactorAdded | MessageKind::FactorRemoved) {
            return Err(MailError::Config(format!(
                "`{}` has no text-message notice",
                kind.name()
            )));
        }
        let (allowed, _) = rules(kind);
        let template = Template::parse(kind.name(), text, &allowed)?;
        self.sms_notices.retain(|(k, _)| *k != kind);
        self.sms_notices.push((kind, template));
        Ok(self)
    }

    /// The language tag.
    #[must_use]
    pub fn language(&self) -> &str {
        &self.language
    }

    pub(crate) fn get(&self, kind: MessageKind) -> Option<&Compiled> {
        self.entries
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, c)| c)
    }

    pub(crate) fn sms_code(&self) -> &Template {
        &self.sms_code
    }

    pub(crate) fn sms_notice(&self, kind: MessageKind) -> Option<&Template> {
        self.sms_notices
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, t)| t)
    }

    pub(crate) fn subjects(&self) -> impl Iterator<Item = &Template> {
        self.entries.iter().map(|(_, c)| &c.subject)
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::english()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_template_parses() {
        for (kind, s, t, h) in crate::english::TEXTS {
            compile(*kind, &TemplateText::new(*s, *t, *h)).unwrap();
        }
        let (allowed, _) = rules(MessageKind::SmsCode);
        assert!(
            Template::parse("sms", crate::english::SMS_CODE, &allowed)
                .unwrap()
                .uses(Placeholder::Code)
        );
        assert_eq!(Templates::english().entries.len(), 12);
        for (kind, text) in crate::english::SMS_NOTICES {
            let (allowed, _) = rules(*kind);
            assert!(
                Template::parse("sms", text, &allowed)
                    .unwrap()
                    .uses(Placeholder::Factor)
            );
        }
        assert_eq!(Templates::english().sms_notices.len(), 2);
    }

    #[test]
    fn code_templates_must_show_the_code_in_both_bodies() {
        let err = Templates::english()
            .with(
                MessageKind::OneTimeCode,
                TemplateText::new("s", "{code}", "<p>no code</p>"),
            )
            .unwrap_err();
        assert!(matches!(err, MailError::InvalidTemplate { .. }));
        let err = Templates::english()
            .with(
                MessageKind::MagicLink,
                TemplateText::new("s", "{code}", "{code}"),
            )
            .unwrap_err();
        assert!(err.to_string().contains("{link}"), "{err}");
    }

    #[test]
    fn links_and_line_breaks_never_go_in_subjects() {
        let t = TemplateText::new("{link}", "{link}", "{link}");
        assert!(
            Templates::english()
                .with(MessageKind::MagicLink, t)
                .is_err()
        );
        let t = TemplateText::new("a\r\nBcc: x", "{code}", "{code}");
        assert!(
            Templates::english()
                .with(MessageKind::OneTimeCode, t)
                .is_err()
        );
    }

    #[test]
    fn notices_cannot_insert_codes() {
        let t = TemplateText::new("s", "{code}", "x");
        assert!(
            Templates::english()
                .with(MessageKind::FactorAdded, t)
                .is_err()
        );
    }

    #[test]
    fn language_tags_are_checked() {
        assert!(Templates::english().with_language("pt-BR").is_ok());
        assert!(Templates::english().with_language("").is_err());
        assert!(Templates::english().with_language("en\"><script>").is_err());
    }

    #[test]
    fn sms_template_needs_the_code() {
        assert!(Templates::english().with_sms_code("{product}").is_err());
        assert!(
            Templates::english()
                .with_sms_code("{code} {product}")
                .is_ok()
        );
    }
}
