//! The facade this service is built on: `Policy::email_link_login()` and the mail it sends.

use std::sync::Arc;

use mfa::{Clock, EmailAddress, Keyring, MailSettings, Mailer, Mfa, Pepper, Policy, Store};

use crate::error::Result;

/// What the facade is built from.
pub struct Parts {
    /// Where challenges, counters and factors live (PostgreSQL or Redis).
    pub store: Arc<dyn Store>,
    /// Where the links and codes go (SMTP, or a development outbox).
    pub mailer: Arc<dyn Mailer>,
    /// The time source (tests move a manual clock).
    pub clock: Arc<dyn Clock>,
    /// Seals TOTP secrets (unused by this flow, required by the facade).
    pub keyring: Keyring,
    /// Keys the digests codes and link tokens are stored as.
    pub pepper: Pepper,
}

impl core::fmt::Debug for Parts {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Parts").finish_non_exhaustive()
    }
}

/// The facade with [`Policy::email_link_login`]: code and link live 2 minutes; 3 wrong tries
/// from unrecognised networks lock the account against them for 1 hour; 3 tries per login;
/// one active code per login (a resend replaces it); codes and link tokens kept only as keyed
/// digests. Mail comes from `no-reply@acme.test` for "Acme".
///
/// # Errors
/// [`Error::Config`](crate::Error::Config) if the facade refuses the parts,
/// [`Error::Address`](crate::Error::Address) never (the sender addresses are constants).
pub fn build_mfa(parts: Parts) -> Result<Mfa> {
    let settings = MailSettings::new(
        "Acme",
        EmailAddress::parse("no-reply@acme.test")?,
        EmailAddress::parse("help@acme.test")?,
    );
    Ok(Mfa::builder()
        .store(parts.store)
        .mailer(parts.mailer)
        .clock(parts.clock)
        .keyring(parts.keyring)
        .pepper(parts.pepper)
        .policy(Policy::email_link_login())
        .mail_settings(settings)
        .build()?)
}
