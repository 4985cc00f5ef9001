//! [`Method`]: what a user can answer a challenge with.

use core::fmt;

use mfa_core::FactorKind;

/// A way to answer a second-factor challenge: one of the user's factors, or a recovery code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Method {
    /// A code from an authenticator app.
    Totp,
    /// A code (or magic link) sent by email.
    Email,
    /// A code sent by SMS.
    Sms,
    /// One of the user's recovery codes.
    RecoveryCode,
    /// A WebAuthn credential (security key or passkey), answered with an assertion.
    WebAuthn,
}

impl Method {
    /// The stable lower-case name ("totp", "email", "sms", "recovery_code", "webauthn").
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Email => "email",
            Self::Sms => "sms",
            Self::RecoveryCode => "recovery_code",
            Self::WebAuthn => "webauthn",
        }
    }

    /// The factor this method answers with; `None` for recovery codes (not a factor).
    #[must_use]
    pub const fn factor(self) -> Option<FactorKind> {
        match self {
            Self::Totp => Some(FactorKind::Totp),
            Self::Email => Some(FactorKind::Email),
            Self::Sms => Some(FactorKind::Sms),
            Self::RecoveryCode => None,
            Self::WebAuthn => Some(FactorKind::WebAuthn),
        }
    }
}

impl From<FactorKind> for Method {
    fn from(kind: FactorKind) -> Self {
        match kind {
            FactorKind::Totp => Self::Totp,
            FactorKind::Email => Self::Email,
            FactorKind::Sms => Self::Sms,
            FactorKind::WebAuthn => Self::WebAuthn,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
