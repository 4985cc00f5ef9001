//! The relying party: who the facade is to authenticators, checked once at start-up.

use core::fmt;

use webauthn_rs::prelude::{
    AttestationCaList, CreationChallengeResponse, Credential, CredentialID, Passkey,
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, SecurityKey, SecurityKeyAuthentication, SecurityKeyRegistration, Url,
    Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

use crate::error::{ConfigError, Error, Result};

/// Whether an authenticator must verify its user (PIN or biometric) at every ceremony.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UserVerification {
    /// Asked for where the authenticator can, not required: a security key as the *second*
    /// factor beside a password (the user has proven knowledge already). Registrations are
    /// `webauthn-rs` security keys.
    #[default]
    Preferred,
    /// Required at registration and at every assertion: an authenticator that cannot verify
    /// its user is refused. Registrations are `webauthn-rs` passkeys.
    Required,
}

/// Whether a registration must prove which make of authenticator it comes from.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Attestation {
    /// No attestation is asked for (the default): any authenticator may register, and no
    /// identifying certificate of the device is collected.
    #[default]
    None,
    /// Direct attestation, verified against these manufacturers' roots: only their
    /// authenticators register (with [`UserVerification::Preferred`] only).
    Verified(AttestationCaList),
}

impl fmt::Debug for Attestation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Verified(_) => f.write_str("Verified(..)"),
        }
    }
}

/// The WebAuthn settings of a facade: relying party id, origins, user verification and
/// attestation. Given to [`MfaBuilder::webauthn`](crate::MfaBuilder::webauthn), checked in
/// [`MfaBuilder::build`](crate::MfaBuilder::build).
#[derive(Debug, Clone)]
pub struct WebAuthnConfig {
    rp_id: String,
    origins: Vec<String>,
    rp_name: Option<String>,
    user_verification: UserVerification,
    attestation: Attestation,
}

impl WebAuthnConfig {
    /// A relying party `rp_id` ("example.com", the registrable domain the credentials are
    /// bound to) served at `origin` (`"https://login.example.com"`), which must be a host within
    /// `rp_id`; `https` is required except on `localhost`.
    pub fn new(rp_id: impl Into<String>, origin: impl Into<String>) -> Self {
        Self {
            rp_id: rp_id.into(),
            origins: vec![origin.into()],
            rp_name: None,
            user_verification: UserVerification::default(),
            attestation: Attestation::default(),
        }
    }

    /// Accepts assertions from another origin within the relying party id as well.
    #[must_use]
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.origins.push(origin.into());
        self
    }

    /// The name authenticators may show (default: the relying party id).
    #[must_use]
    pub fn rp_name(mut self, name: impl Into<String>) -> Self {
        self.rp_name = Some(name.into());
        self
    }

    /// The user verification policy (default [`UserVerification::Preferred`]).
    #[must_use]
    pub fn user_verification(mut self, policy: UserVerification) -> Self {
        self.user_verification = policy;
        self
    }

    /// The attestation policy (default [`Attestation::None`]).
    #[must_use]
    pub fn attestation(mut self, policy: Attestation) -> Self {
        self.attestation = policy;
        self
    }

    /// The relying party this configuration describes, or why it is refused.
    pub(crate) fn build(self) -> Result<RelyingParty, ConfigError> {
        let bad = ConfigError::BadWebAuthn;
        let mut origins = Vec::with_capacity(self.origins.len());
        for text in &self.origins {
            let url = Url::parse(text).map_err(|_| bad("an origin is not a URL"))?;
            let local = url.host_str() == Some("localhost");
            if url.scheme() != "https" && !(local && url.scheme() == "http") {
                return Err(bad(
                    "an origin must be https:// (http:// only on localhost)",
                ));
            }
            if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
                return Err(bad("an origin has no path, query or fragment"));
            }
            origins.push(url);
        }
        let [first, rest @ ..] = origins.as_slice() else {
            return Err(bad("no origin"));
        };
        let attestation = match self.attestation {
            Attestation::None => None,
            Attestation::Verified(_) if self.user_verification == UserVerification::Required => {
                return Err(bad(
                    "verified attestation is offered with preferred user verification only",
                ));
            }
            Attestation::Verified(list) if list.is_empty() => {
                return Err(bad("verified attestation needs at least one root"));
            }
            Attestation::Verified(list) => Some(list),
        };
        let mut builder = WebauthnBuilder::new(&self.rp_id, first)
            .map_err(|_| bad("the relying party id is not the origin's host or a suffix of it"))?;
        if let Some(name) = &self.rp_name {
            builder = builder.rp_name(name);
        }
        for origin in rest {
            builder = builder.append_allowed_origin(origin);
        }
        let webauthn = builder
            .build()
            .map_err(|_| bad("webauthn-rs refused the relying party"))?;
        // `WebauthnBuilder::new` checks the first origin only: every other one must lie within
        // the relying party id too, or its assertions could never verify.
        for origin in rest {
            let host = origin.host_str().unwrap_or_default();
            if host != self.rp_id && !host.ends_with(&format!(".{}", self.rp_id)) {
                return Err(bad("an origin is outside the relying party id"));
            }
        }
        Ok(RelyingParty {
            webauthn,
            rp_id: self.rp_id,
            user_verification: self.user_verification,
            attestation,
        })
    }
}

/// A ceremony state as stored: a tag for the kind of credential, then `webauthn-rs`'s JSON.
const KEY: u8 = b'k';
const PASSKEY: u8 = b'p';

fn tagged(tag: u8, value: &impl serde::Serialize) -> Result<Vec<u8>> {
    let mut bytes = vec![tag];
    serde_json::to_writer(&mut bytes, value)
        .map_err(|_| Error::Store(mfa_store::StoreError::corrupt("webauthn ceremony state")))?;
    Ok(bytes)
}

fn untagged<T: serde::de::DeserializeOwned>(bytes: &[u8], want: u8) -> Result<T> {
    match bytes.split_first() {
        Some((tag, json)) if *tag == want => serde_json::from_slice(json).ok(),
        _ => None,
    }
    .ok_or_else(|| Error::Store(mfa_store::StoreError::corrupt("webauthn ceremony state")))
}

/// A stored credential (`webauthn-rs`'s JSON of its `Credential`), decoded.
pub(crate) fn decode_credential(bytes: &[u8]) -> Result<Credential> {
    serde_json::from_slice(bytes)
        .map_err(|_| Error::Store(mfa_store::StoreError::corrupt("webauthn credential")))
}

/// A credential as the store keeps it.
pub(crate) fn encode_credential(credential: &Credential) -> Result<Vec<u8>> {
    serde_json::to_vec(credential)
        .map_err(|_| Error::Store(mfa_store::StoreError::corrupt("webauthn credential")))
}

/// The relying party the facade was built with.
pub(crate) struct RelyingParty {
    webauthn: Webauthn,
    pub(crate) rp_id: String,
    user_verification: UserVerification,
    attestation: Option<AttestationCaList>,
}

impl RelyingParty {
    /// Starts a registration; the options for the browser and the state to store.
    pub(crate) fn start_registration(
        &self,
        handle: Uuid,
        account: &str,
        exclude: Vec<CredentialID>,
    ) -> Result<(CreationChallengeResponse, Vec<u8>)> {
        let exclude = Some(exclude);
        match self.user_verification {
            UserVerification::Preferred => {
                let (options, state) = self
                    .webauthn
                    .start_securitykey_registration(
                        handle,
                        account,
                        account,
                        exclude,
                        self.attestation.clone(),
                        None,
                    )
                    .map_err(Error::WebAuthn)?;
                Ok((options, tagged(KEY, &state)?))
            }
            UserVerification::Required => {
                let (options, state) = self
                    .webauthn
                    .start_passkey_registration(handle, account, account, exclude)
                    .map_err(Error::WebAuthn)?;
                Ok((options, tagged(PASSKEY, &state)?))
            }
        }
    }

    /// Finishes a registration against its stored state: the new credential, or why the
    /// response is refused (`Ok(Err(..))`).
    pub(crate) fn finish_registration(
        &self,
        response: &RegisterPublicKeyCredential,
        state: &[u8],
    ) -> Result<Result<Credential, WebauthnError>> {
        Ok(match self.user_verification {
            UserVerification::Preferred => {
                let state: SecurityKeyRegistration = untagged(state, KEY)?;
                self.webauthn
                    .finish_securitykey_registration(response, &state)
                    .map(Credential::from)
            }
            UserVerification::Required => {
                let state: PasskeyRegistration = untagged(state, PASSKEY)?;
                self.webauthn
                    .finish_passkey_registration(response, &state)
                    .map(Credential::from)
            }
        })
    }

    /// Starts an assertion by any of `credentials`; the options and the state to store.
    pub(crate) fn start_authentication(
        &self,
        credentials: Vec<Credential>,
    ) -> Result<(RequestChallengeResponse, Vec<u8>)> {
        match self.user_verification {
            UserVerification::Preferred => {
                let keys: Vec<SecurityKey> =
                    credentials.into_iter().map(SecurityKey::from).collect();
                let (options, state) = self
                    .webauthn
                    .start_securitykey_authentication(&keys)
                    .map_err(Error::WebAuthn)?;
                Ok((options, tagged(KEY, &state)?))
            }
            UserVerification::Required => {
                let keys: Vec<Passkey> = credentials.into_iter().map(Passkey::from).collect();
                let (options, state) = self
                    .webauthn
                    .start_passkey_authentication(&keys)
                    .map_err(Error::WebAuthn)?;
                Ok((options, tagged(PASSKEY, &state)?))
            }
        }
    }

    /// Verifies an assertion against its stored state: what it proved, or why it is refused.
    pub(crate) fn finish_authentication(
        &self,
        assertion: &PublicKeyCredential,
        state: &[u8],
    ) -> Result<Result<webauthn_rs::prelude::AuthenticationResult, WebauthnError>> {
        Ok(match self.user_verification {
            UserVerification::Preferred => {
                let state: SecurityKeyAuthentication = untagged(state, KEY)?;
                self.webauthn
                    .finish_securitykey_authentication(assertion, &state)
            }
            UserVerification::Required => {
                let state: PasskeyAuthentication = untagged(state, PASSKEY)?;
                self.webauthn
                    .finish_passkey_authentication(assertion, &state)
            }
        })
    }
}

impl fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelyingParty")
            .field("rp_id", &self.rp_id)
            .field("user_verification", &self.user_verification)
            .finish_non_exhaustive()
    }
}
