//! The errors of the facade: configuration errors at start-up, infrastructure errors at run time.

use mfa_mail::MailError;
use mfa_store::StoreError;

/// Result alias for this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// A failure of the facade at run time.
///
/// Verification outcomes (a wrong code, an expired challenge, a lockout) are *values*
/// ([`Outcome`](crate::Outcome)), never errors. An `Err` means the infrastructure failed (store,
/// mail, SMS, randomness) or a management call was not authorised; in every case nothing was
/// granted. No variant carries a code, token, secret or digest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed; nothing was granted. Retry if [`Error::is_transient`].
    #[error("the store failed")]
    Store(#[from] StoreError),
    /// Delivering a code or link by email or SMS failed; the code sent (if any) does not work.
    #[error("delivery failed")]
    Delivery(#[from] MailError),
    /// The cryptographic core failed (randomness unavailable, a sealed secret that does not
    /// open with any key of the keyring).
    #[error("cryptographic operation failed")]
    Crypto(#[source] mfa_core::Error),
    /// Text the application parsed at its edge is not what it should be: an email address, a
    /// phone number, a handle, a code, a Key URI. The source says which; it carries no part of
    /// the input.
    #[error("invalid input")]
    Input(#[source] mfa_core::Error),
    /// A change of factors without a valid step-up grant for this user while the user has an
    /// active factor, or a management call without one ("not authorised").
    #[error("a fresh second-factor verification (step-up) is required")]
    NotAuthorised,
    /// The factor is already enabled for this user.
    #[error("this second factor is already enabled")]
    AlreadyEnabled,
    /// The method is not enabled for this user, has no destination, or the facade was built
    /// without the mailer or SMS sender it needs.
    #[error("this method is not enabled for the user")]
    MethodNotEnabled,
    /// The application's password check answered
    /// [`PasswordVerdict::Unavailable`](crate::PasswordVerdict::Unavailable); the attempt
    /// was not counted and nothing was granted.
    #[error("the password could not be checked")]
    PasswordCheck,
    /// An argument the application passed is unusable (a magic-link base URL that is not
    /// https).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// `webauthn-rs` could not start a ceremony (the relying party or the credentials it was
    /// given are unusable); nothing was stored.
    #[cfg(feature = "webauthn")]
    #[error("the WebAuthn ceremony could not start")]
    WebAuthn(#[source] webauthn_rs::prelude::WebauthnError),
}

impl From<mfa_core::Error> for Error {
    /// Parse errors of user or application input become [`Error::Input`]; the rest (randomness,
    /// keys, sealed blobs, password hashing) [`Error::Crypto`].
    fn from(error: mfa_core::Error) -> Self {
        use mfa_core::Error as E;
        match error {
            E::InvalidBase32
            | E::InvalidHex
            | E::UriScheme
            | E::UriMissingType
            | E::UriUnknownType
            | E::UriMissingAccount
            | E::UriMissingSecret
            | E::UriInvalidSecret
            | E::UriInvalidPercentEncoding
            | E::UriNotUtf8
            | E::UriIssuerMismatch
            | E::UriInvalidParameter(_)
            | E::UriMissingCounter
            | E::MalformedCode { .. }
            | E::MalformedRecoveryCode
            | E::MalformedToken
            | E::InvalidEmailAddress
            | E::InvalidPhoneNumber
            | E::UnknownName(_) => Self::Input(error),
            _ => Self::Crypto(error),
        }
    }
}

impl Error {
    /// Whether retrying the same call later may succeed (a store or delivery outage).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Store(e) => e.is_transient(),
            Self::Delivery(e) => e.is_transient(),
            _ => false,
        }
    }
}

/// A configuration the facade refuses at [`MfaBuilder::build`](crate::MfaBuilder::build).
///
/// Every mistake that would otherwise surface at a user's login surfaces here, once, at start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No store was given.
    #[error("no store configured")]
    MissingStore,
    /// No sealing keyring was given (TOTP secrets are sealed at rest).
    #[error("no sealing keyring configured")]
    MissingKeyring,
    /// No pepper was given (digests of codes and tokens are keyed with it).
    #[error("no pepper configured")]
    MissingPepper,
    /// The pepper given as bytes is shorter or longer than mfa-core accepts (32..=64 bytes).
    #[error("the pepper has {bytes} bytes; 32 to 64 are required")]
    BadPepper {
        /// Length of the rejected pepper.
        bytes: usize,
    },
    /// A mailer was given without mail settings (or a composer) to write its messages.
    #[error("a mailer needs mail settings (product, sender, support address)")]
    MissingMailSettings,
    /// Neither an issuer nor mail settings name the product shown in authenticator apps.
    #[error("no issuer configured (set .issuer(..) or mail settings)")]
    MissingIssuer,
    /// The mail templates or settings were refused by mfa-mail.
    #[error("mail settings refused")]
    Mail(#[source] MailError),
    /// The policy could not be built.
    #[error("the policy is impossible")]
    Policy(#[source] mfa_policy::Error),
    /// A facade setting is outside its bounds.
    #[error("{setting} is out of range: {bounds}")]
    OutOfRange {
        /// Name of the setting.
        setting: &'static str,
        /// The accepted range, in words.
        bounds: &'static str,
    },
    /// The issuer name is empty, contains a colon or a control character.
    #[error("the issuer must be non-empty text without ':' or control characters")]
    BadIssuer,
    /// The unlock URL is not an https URL (or http on localhost) without a query string.
    #[error("the unlock URL must be an https:// URL without spaces, quotes or angle brackets")]
    BadUnlockUrl,
    /// The WebAuthn relying party is refused (the reason names the setting, never a value).
    #[error("the WebAuthn settings are refused: {0}")]
    BadWebAuthn(&'static str),
}
