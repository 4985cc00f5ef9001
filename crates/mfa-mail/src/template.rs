//! Format strings with named placeholders, parsed and checked once.

use core::fmt;

use crate::error::{MailError, Result};
use crate::escape::escape_html;

/// A value a template can insert, written `{name}` in a format string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Placeholder {
    /// `{product}`: the product name from the settings.
    Product,
    /// `{support}`: the support address from the settings.
    Support,
    /// `{name}`: the recipient's display name, or their address when there is none.
    Name,
    /// `{code}`: the one-time code.
    Code,
    /// `{link}`: the magic link.
    Link,
    /// `{minutes}`: a duration in whole minutes (code lifetime, lockout length), rounded up.
    Minutes,
    /// `{device}`: the label of a trusted device.
    Device,
    /// `{factor}`: the name of a second factor ("authenticator app", "SMS").
    Factor,
    /// `{remaining}`: how many recovery codes are left.
    Remaining,
}

impl Placeholder {
    const ALL: [Self; 9] = [
        Self::Product,
        Self::Support,
        Self::Name,
        Self::Code,
        Self::Link,
        Self::Minutes,
        Self::Device,
        Self::Factor,
        Self::Remaining,
    ];

    /// The name written between braces.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Product => "product",
            Self::Support => "support",
            Self::Name => "name",
            Self::Code => "code",
            Self::Link => "link",
            Self::Minutes => "minutes",
            Self::Device => "device",
            Self::Factor => "factor",
            Self::Remaining => "remaining",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Value(Placeholder),
}

/// How inserted values are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Escape {
    /// Plain text: values as they are.
    Text,
    /// A header line: control characters (CR, LF, ...) become spaces.
    Header,
    /// HTML: values through [`escape_html`].
    Html,
}

/// A parsed format string: literal text and `{placeholder}`s, with `{{` and `}}` for braces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Parses `source`, accepting only placeholders in `allowed`.
    pub(crate) fn parse(kind: &'static str, source: &str, allowed: &[Placeholder]) -> Result<Self> {
        let err = |reason: String| MailError::InvalidTemplate { kind, reason };
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut chars = source.chars();
        while let Some(c) = chars.next() {
            match c {
                '{' => {
                    if chars.clone().next() == Some('{') {
                        chars.next();
                        literal.push('{');
                        continue;
                    }
                    let mut name = String::new();
                    let mut closed = false;
                    for n in chars.by_ref() {
                        if n == '}' {
                            closed = true;
                            break;
                        }
                        name.push(n);
                    }
                    if !closed {
                        return Err(err("unclosed `{`".into()));
                    }
                    let Some(p) = Placeholder::from_name(&name) else {
                        return Err(err(format!("unknown placeholder `{{{name}}}`")));
                    };
                    if !allowed.contains(&p) {
                        return Err(err(format!("placeholder {p} is not available here")));
                    }
                    if !literal.is_empty() {
                        segments.push(Segment::Literal(core::mem::take(&mut literal)));
                    }
                    segments.push(Segment::Value(p));
                }
                '}' => {
                    if chars.clone().next() == Some('}') {
                        chars.next();
                        literal.push('}');
                    } else {
                        return Err(err("unmatched `}` (write `}}` for a brace)".into()));
                    }
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(Self { segments })
    }

    /// A template that writes nothing.
    pub(crate) fn empty() -> Self {
        Self {
            segments: Vec::new(),
        }
    }

    /// Whether the template inserts `p`.
    pub(crate) fn uses(&self, p: Placeholder) -> bool {
        self.segments.contains(&Segment::Value(p))
    }

    /// Whether any literal text contains a control character (forbidden in a subject).
    pub(crate) fn has_control_chars(&self) -> bool {
        self.segments.iter().any(|s| match s {
            Segment::Literal(text) => text.chars().any(char::is_control),
            Segment::Value(_) => false,
        })
    }

    /// Writes the template with `value` supplying each placeholder.
    pub(crate) fn render(&self, escape: Escape, value: &dyn Fn(Placeholder) -> String) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Value(p) => {
                    let v = value(*p);
                    match escape {
                        Escape::Text => out.push_str(&v),
                        Escape::Html => out.push_str(&escape_html(&v)),
                        Escape::Header => {
                            out.extend(v.chars().map(|c| if c.is_control() { ' ' } else { c }))
                        }
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[Placeholder] = &Placeholder::ALL;

    fn render(src: &str, escape: Escape) -> String {
        Template::parse("test", src, ALL)
            .unwrap()
            .render(escape, &|p| format!("<{}>", p.name()))
    }

    #[test]
    fn placeholders_and_escaped_braces() {
        assert_eq!(
            render("Hi {name}, {{x}} {code}.", Escape::Text),
            "Hi <name>, {x} <code>."
        );
        assert_eq!(render("{code}", Escape::Html), "&lt;code&gt;");
        assert_eq!(render("no values", Escape::Text), "no values");
    }

    #[test]
    fn header_values_lose_line_breaks() {
        let t = Template::parse("t", "Hello {name}", ALL).unwrap();
        assert_eq!(
            t.render(Escape::Header, &|_| "a\r\nBcc: x".into()),
            "Hello a  Bcc: x"
        );
    }

    #[test]
    fn malformed_templates_are_refused() {
        for bad in ["{", "{code", "}", "a } b", "{}", "{nope}", "{Code}"] {
            assert!(
                matches!(
                    Template::parse("t", bad, ALL),
                    Err(MailError::InvalidTemplate { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn placeholders_outside_the_allowed_set_are_refused() {
        let err = Template::parse("notice", "{code}", &[Placeholder::Product]).unwrap_err();
        assert!(err.to_string().contains("{code}"), "{err}");
    }

    #[test]
    fn uses_reports_inserted_values() {
        let t = Template::parse("t", "{product} {{code}}", ALL).unwrap();
        assert!(t.uses(Placeholder::Product));
        assert!(!t.uses(Placeholder::Code));
    }
}
