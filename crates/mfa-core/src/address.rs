//! Where codes and notices go: email addresses and phone numbers, checked once at the edge and
//! carried typed through the store, the facade and the mailer.

use core::fmt;
use core::str::FromStr;

use crate::error::{Error, Result};

/// An email address (`local@domain`), checked for shape at construction.
///
/// The check is deliberately simple (one `@`, a non-empty local part and domain, no spaces, no
/// control characters, no `<>`, at most 254 bytes); the SMTP layer checks again with its own
/// stricter parser before anything is sent. Surrounding whitespace is trimmed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses an address (surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`Error::InvalidEmailAddress`] when the text is not of the form `local@domain`.
    pub fn parse(input: &str) -> Result<Self> {
        let input = input.trim();
        let ok_char = |c: char| !c.is_control() && !c.is_whitespace() && !matches!(c, '<' | '>');
        match input.split_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && input.len() <= 254
                    && input.chars().all(ok_char) =>
            {
                Ok(Self(input.to_owned()))
            }
            _ => Err(Error::InvalidEmailAddress),
        }
    }

    /// The address as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address in lower case: the one form every limit and lookup keys on, so that
    /// `Victim@Example.com` and `victim@example.com` share one quota and one account.
    ///
    /// (RFC 5321 lets a server treat local parts case-sensitively; no mail provider in use
    /// does, and a limit must not be split by case.)
    #[must_use]
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }

    /// The address with its local part hidden, for notices and pages that name it to someone
    /// who may not own it: `...@example.com`.
    #[must_use]
    pub fn masked(&self) -> String {
        let domain = self.0.rsplit_once('@').map_or("", |(_, d)| d);
        format!("...@{domain}")
    }
}

impl FromStr for EmailAddress {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A phone number in E.164 form: `+` then 8 to 15 digits, the first not zero.
///
/// Parsing accepts spaces, dashes, dots and parentheses between digits and removes them.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses and normalises a number such as `+1 (415) 555-0100` to `+14155550100`.
    ///
    /// # Errors
    /// [`Error::InvalidPhoneNumber`] when the number is not in international form.
    pub fn parse(input: &str) -> Result<Self> {
        let rest = input
            .trim()
            .strip_prefix('+')
            .ok_or(Error::InvalidPhoneNumber)?;
        let mut digits = String::with_capacity(16);
        digits.push('+');
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(Error::InvalidPhoneNumber),
            }
        }
        let count = digits.len().saturating_sub(1);
        if !(8..=15).contains(&count) || digits.starts_with("+0") {
            return Err(Error::InvalidPhoneNumber);
        }
        Ok(Self(digits))
    }

    /// The number in E.164 form, e.g. `+14155550100`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last four digits, for notices and pages that name the number to someone who may not
    /// own it ("phone number ending 0100").
    #[must_use]
    pub fn last_digits(&self) -> &str {
        let start = self.0.len().saturating_sub(4);
        self.0.get(start..).unwrap_or_default()
    }
}

impl FromStr for PhoneNumber {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_writes_the_trimmed_text_and_debug_quotes_it() {
        let email = EmailAddress::parse("  Ada@Example.com\n").unwrap();
        assert_eq!(email.to_string(), "Ada@Example.com");
        assert_eq!(format!("{email:?}"), "\"Ada@Example.com\"");
        let phone = PhoneNumber::parse("+1 (415) 555-0100").unwrap();
        assert_eq!(phone.to_string(), "+14155550100");
        assert_eq!(format!("{phone:?}"), "\"+14155550100\"");
    }

    #[test]
    fn addresses() {
        assert!(EmailAddress::parse("ada@example.com").is_ok());
        assert_eq!(
            EmailAddress::parse("  ada@example.com\n").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "a@b@c",
            "ada @example.com",
            "ada@exa\r\nmple.com",
            "<ada@example.com>",
        ] {
            assert_eq!(
                EmailAddress::parse(bad),
                Err(Error::InvalidEmailAddress),
                "{bad:?}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(EmailAddress::parse(&long).is_err());
    }

    #[test]
    fn case_variants_normalise_to_one_form_and_masks_hide_the_local_part() {
        let forms = ["VICTIM@x.com", "Victim@X.com", "victim@x.COM"];
        for form in forms {
            let a = EmailAddress::parse(form).unwrap();
            assert_eq!(a.normalized(), "victim@x.com");
        }
        let a = EmailAddress::parse("ada.lovelace@example.com").unwrap();
        assert_eq!(a.masked(), "...@example.com");
        assert!(!a.masked().contains("ada"));
    }

    #[test]
    fn phone_numbers_normalise_to_e164() {
        let n = PhoneNumber::parse(" +1 (415) 555-0100 ").unwrap();
        assert_eq!(n.as_str(), "+14155550100");
        assert_eq!(n.last_digits(), "0100");
        for bad in [
            "4155550100",
            "+0155550100",
            "+1234567",
            "+1234567890123456",
            "+1415555O100",
            "",
        ] {
            assert_eq!(
                PhoneNumber::parse(bad),
                Err(Error::InvalidPhoneNumber),
                "{bad:?}"
            );
        }
    }
}
