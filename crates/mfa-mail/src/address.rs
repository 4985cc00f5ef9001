//! Recipients: email addresses, named mailboxes and phone numbers.

use core::fmt;
use core::str::FromStr;

use crate::error::{MailError, Result};

/// An email address (`local@domain`), checked for shape at construction.
///
/// The check is deliberately simple (one `@`, a non-empty local part and domain, no spaces, no
/// control characters, no `<>`, at most 254 bytes); the SMTP layer checks again with lettre's
/// stricter parser before anything is sent.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses an address.
    ///
    /// # Errors
    /// [`MailError::InvalidAddress`] when the text is not of the form `local@domain`.
    pub fn parse(input: &str) -> Result<Self> {
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
            _ => Err(MailError::InvalidAddress),
        }
    }

    /// The address as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EmailAddress {
    type Err = MailError;
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

/// An email address with an optional display name, as in `Ada Lovelace <ada@example.com>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name, if any. It may contain any text: it is encoded in headers and escaped
    /// in HTML.
    pub name: Option<String>,
    /// The address.
    pub address: EmailAddress,
}

impl Mailbox {
    /// A mailbox with a display name.
    #[must_use]
    pub fn new(name: impl Into<String>, address: EmailAddress) -> Self {
        Self {
            name: Some(name.into()),
            address,
        }
    }

    /// A mailbox without a display name.
    #[must_use]
    pub fn address_only(address: EmailAddress) -> Self {
        Self {
            name: None,
            address,
        }
    }

    /// The display name or, when there is none, the address: what a greeting calls the person.
    #[must_use]
    pub fn greeting_name(&self) -> &str {
        match &self.name {
            Some(name) if !name.trim().is_empty() => name,
            _ => self.address.as_str(),
        }
    }
}

impl From<EmailAddress> for Mailbox {
    fn from(address: EmailAddress) -> Self {
        Self::address_only(address)
    }
}

/// A phone number in E.164 form: `+` then 8 to 15 digits, the first not zero.
///
/// Parsing accepts spaces, dashes, dots and parentheses between digits and removes them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses and normalises a number such as `+1 (415) 555-0100` to `+14155550100`.
    ///
    /// # Errors
    /// [`MailError::InvalidPhoneNumber`] when the number is not in international form.
    pub fn parse(input: &str) -> Result<Self> {
        let rest = input
            .trim()
            .strip_prefix('+')
            .ok_or(MailError::InvalidPhoneNumber)?;
        let mut digits = String::with_capacity(16);
        digits.push('+');
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(MailError::InvalidPhoneNumber),
            }
        }
        let count = digits.len().saturating_sub(1);
        if !(8..=15).contains(&count) || digits.starts_with("+0") {
            return Err(MailError::InvalidPhoneNumber);
        }
        Ok(Self(digits))
    }

    /// The number in E.164 form, e.g. `+14155550100`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for PhoneNumber {
    type Err = MailError;
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
    fn addresses() {
        assert!(EmailAddress::parse("ada@example.com").is_ok());
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
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(EmailAddress::parse(&long).is_err());
    }

    #[test]
    fn phone_numbers_normalise_to_e164() {
        assert_eq!(
            PhoneNumber::parse(" +1 (415) 555-0100 ").unwrap().as_str(),
            "+14155550100"
        );
        for bad in [
            "4155550100",
            "+0155550100",
            "+1234567",
            "+1234567890123456",
            "+1415555O100",
            "",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn greeting_name_falls_back_to_the_address() {
        let a = EmailAddress::parse("ada@example.com").unwrap();
        assert_eq!(Mailbox::from(a.clone()).greeting_name(), "ada@example.com");
        assert_eq!(
            Mailbox::new(" ", a.clone()).greeting_name(),
            "ada@example.com"
        );
        assert_eq!(Mailbox::new("Ada", a).greeting_name(), "Ada");
    }
}
