//! Recipients: named mailboxes. Email addresses and phone numbers themselves are
//! [`mfa_core::EmailAddress`] and [`mfa_core::PhoneNumber`], re-exported here.

pub use mfa_core::{EmailAddress, PhoneNumber};

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

#[cfg(test)]
mod tests {
    use super::*;

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
