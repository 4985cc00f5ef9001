//! WebAuthn (security keys and passkeys) as a second factor, through `webauthn-rs`.
//!
//! A credential is registered behind the same authority as every other factor, answered
//! through [`Mfa::verify`](crate::Mfa::verify) with [`Proof::WebAuthn`](crate::Proof), and
//! removed behind a step-up grant. The state of each ceremony is stored single use; each
//! accepted assertion is recorded by compare-and-set, so two assertions verified against one
//! read of the credential cannot both sign in.

use core::fmt;
use std::time::SystemTime;

use mfa_store::WebAuthnCredential;

mod assert;
mod config;
mod manage;
mod register;

pub(crate) use self::config::RelyingParty;
pub use self::config::{Attestation, UserVerification, WebAuthnConfig};

/// What the browser needs and sends, as `webauthn-rs` models them (serde JSON for
/// `navigator.credentials.create` / `get` and back).
pub use webauthn_rs::prelude::{
    AttestationCaList, CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse,
};

/// The options a registration page passes to `navigator.credentials.create()`, from
/// [`Mfa::start_webauthn_registration`](crate::Mfa::start_webauthn_registration).
///
/// `Debug` shows none of the options: they list the user's credential ids (to exclude them).
#[derive(Clone)]
pub struct WebAuthnRegistration {
    options: CreationChallengeResponse,
}

impl WebAuthnRegistration {
    /// The options, to serialize to JSON for the browser.
    #[must_use]
    pub fn options(&self) -> &CreationChallengeResponse {
        &self.options
    }
}

/// What [`Mfa::webauthn_challenge`](crate::Mfa::webauthn_challenge) found.
///
/// `Debug` shows none of the options: they list the user's credential ids.
#[must_use]
#[derive(Clone)]
#[non_exhaustive]
pub enum WebAuthnChallenge {
    /// Pass these options to `navigator.credentials.get()` and answer the challenge with
    /// [`Proof::WebAuthn`](crate::Proof) and the assertion the browser returns.
    Options(Box<RequestChallengeResponse>),
    /// The challenge is unknown, expired or used: start again.
    NoChallenge,
    /// The user has no WebAuthn credential (or the facade has no relying party).
    MethodUnavailable,
}

impl fmt::Debug for WebAuthnRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebAuthnRegistration")
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for WebAuthnChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Options(_) => f.write_str("Options(..)"),
            Self::NoChallenge => f.write_str("NoChallenge"),
            Self::MethodUnavailable => f.write_str("MethodUnavailable"),
        }
    }
}

/// A registered credential as a settings page lists it: no credential id, no public key.
#[derive(Clone, PartialEq, Eq)]
pub struct WebAuthnCredentialInfo {
    /// The handle to rename or remove it by.
    pub id: String,
    /// The user's label for it.
    pub label: String,
    /// When it was registered.
    pub created_at: SystemTime,
    /// When it last signed in (`None`: never).
    pub last_used_at: Option<SystemTime>,
    /// Whether it is synchronised between devices (a passkey in a password manager or a
    /// platform account) rather than bound to one authenticator.
    pub backed_up: bool,
}

impl fmt::Debug for WebAuthnCredentialInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebAuthnCredentialInfo")
            .field("id", &self.id)
            .field("label", &self.label)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .field("backed_up", &self.backed_up)
            .finish()
    }
}

impl From<&WebAuthnCredential> for WebAuthnCredentialInfo {
    fn from(c: &WebAuthnCredential) -> Self {
        Self {
            id: c.id.clone(),
            label: c.label.clone(),
            created_at: c.created_at,
            last_used_at: c.last_used_at,
            backed_up: c.backup_state,
        }
    }
}

/// A credential in words for a notice: `security key "YubiKey"`.
pub(crate) fn describe(label: &str) -> String {
    format!("security key \"{label}\"")
}
