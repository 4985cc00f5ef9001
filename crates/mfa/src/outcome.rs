//! What the facade's calls return: login starts, proofs, verification outcomes, send results.

use core::fmt;
use std::time::{Duration, SystemTime};

use mfa_store::FactorKind;

use crate::handles::{ChallengeId, DeviceToken, StepUpGrant};
use crate::recovery::RecoveryCodes;

/// A second-factor method a user can be challenged with.
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
}

impl Method {
    /// The stable lower-case name ("totp", "email", "sms", "recovery_code").
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Email => "email",
            Self::Sms => "sms",
            Self::RecoveryCode => "recovery_code",
        }
    }

    /// The store's factor kind of a method that is a factor (not recovery codes).
    pub(crate) fn factor_kind(self) -> Option<FactorKind> {
        match self {
            Self::Totp => Some(FactorKind::Totp),
            Self::Email => Some(FactorKind::Email),
            Self::Sms => Some(FactorKind::Sms),
            Self::RecoveryCode => None,
        }
    }

    pub(crate) fn from_kind(kind: FactorKind) -> Option<Self> {
        match kind {
            FactorKind::Totp => Some(Self::Totp),
            FactorKind::Email => Some(Self::Email),
            FactorKind::Sms => Some(Self::Sms),
            _ => None,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a one-time code goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Channel {
    /// By email, to the user's confirmed address.
    Email,
    /// By SMS, to the user's confirmed number.
    Sms,
}

/// What [`Mfa::begin_login`](crate::Mfa::begin_login) decided after the password was checked.
#[must_use]
#[derive(Debug)]
#[non_exhaustive]
pub enum LoginStart {
    /// The user has no second factor: the application may open the session.
    NotRequired,
    /// The device is trusted by this user: open the session and replace the device token
    /// (cookie) with `rotated_token`; the old one no longer works.
    TrustedDevice {
        /// The new device token.
        rotated_token: DeviceToken,
    },
    /// A second factor is required: carry `challenge_id` to the next request and ask for one of
    /// `methods` (preferred first). No session may be opened yet.
    ChallengeRequired {
        /// The opaque id of the pending login.
        challenge_id: ChallengeId,
        /// The methods the user can answer with, preferred first.
        methods: Vec<Method>,
        /// When the pending login expires.
        expires_at: SystemTime,
    },
    /// Too many failures: no second factor is asked for until `until`.
    LockedOut {
        /// When the lock ends (ten years for locks that need an administrator).
        until: SystemTime,
    },
}

/// The answer a user gave to a challenge. Only the factor named is checked.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum Proof<'a> {
    /// A code from the authenticator app.
    Totp(&'a str),
    /// A code received by email.
    EmailCode(&'a str),
    /// A code received by SMS.
    SmsCode(&'a str),
    /// The token of a magic link sent for this challenge.
    MagicLink(&'a str),
    /// A recovery code.
    RecoveryCode(&'a str),
}

impl Proof<'_> {
    /// The method this proof answers with.
    #[must_use]
    pub const fn method(&self) -> Method {
        match self {
            Self::Totp(_) => Method::Totp,
            Self::EmailCode(_) | Self::MagicLink(_) => Method::Email,
            Self::SmsCode(_) => Method::Sms,
            Self::RecoveryCode(_) => Method::RecoveryCode,
        }
    }
}

impl fmt::Debug for Proof<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::Totp(_) => "Totp",
            Self::EmailCode(_) => "EmailCode",
            Self::SmsCode(_) => "SmsCode",
            Self::MagicLink(_) => "MagicLink",
            Self::RecoveryCode(_) => "RecoveryCode",
        };
        f.debug_struct("Proof")
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

/// What a successful verification should also do.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    pub(crate) trust_device: Option<String>,
    pub(crate) step_up: bool,
}

impl VerifyOptions {
    /// Nothing extra.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// On success, remember this device for the configured number of days under `label`
    /// ("Firefox on Linux"); the token comes back in [`Outcome::Verified`].
    #[must_use]
    pub fn trust_device(mut self, label: impl Into<String>) -> Self {
        self.trust_device = Some(label.into());
        self
    }

    /// On success, also issue a step-up grant for the management calls.
    #[must_use]
    pub fn grant_step_up(mut self) -> Self {
        self.step_up = true;
        self
    }
}

/// The outcome of one verification.
///
/// Show users [`Outcome::public_response`], not the variant: it answers the same for a wrong
/// code, an unknown address, an expired challenge and a locked account.
#[must_use]
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The proof was right: open the session for `user`.
    Verified {
        /// The user verified.
        user: String,
        /// The method that verified.
        method: Method,
        /// The new trusted-device token, if [`VerifyOptions::trust_device`] asked for one.
        trusted_device_token: Option<DeviceToken>,
        /// Recovery codes left, when a recovery code was used.
        recovery_codes_left: Option<usize>,
        /// A step-up grant, if [`VerifyOptions::grant_step_up`] asked for one.
        step_up: Option<StepUpGrant>,
    },
    /// The proof was wrong; `attempts_left` more tries on this challenge.
    Rejected {
        /// Tries left on this challenge.
        attempts_left: u32,
    },
    /// The challenge has no tries left: start a new login.
    ChallengeExhausted,
    /// The challenge is unknown, expired or already used: start a new login.
    Expired,
    /// Too many failures; returned on the attempt that locks.
    LockedOut {
        /// When the lock ends (ten years for locks that need an administrator).
        until: SystemTime,
    },
}

impl Outcome {
    /// Whether this is [`Outcome::Verified`].
    #[must_use]
    pub fn is_verified(&self) -> bool {
        matches!(self, Self::Verified { .. })
    }

    /// The one response to show a user, identical for every failure (enumeration resistance).
    pub fn public_response(&self) -> PublicResponse {
        if self.is_verified() {
            PublicResponse::Verified
        } else {
            PublicResponse::Failed
        }
    }
}

/// The uniform answer to show a user.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicResponse {
    /// Signed in.
    Verified,
    /// Any failure: "The code is wrong or has expired. Try again or request a new one."
    Failed,
    /// Any answer to a send request: "If the address is known, we sent a code."
    SentIfKnown,
}

impl PublicResponse {
    /// A neutral English sentence for this response.
    #[must_use]
    pub const fn message(self) -> &'static str {
        match self {
            Self::Verified => "Verified.",
            Self::Failed => "The code is wrong or has expired. Try again or request a new one.",
            Self::SentIfKnown => "If this address is registered, we sent a message to it.",
        }
    }
}

/// The outcome of a request to send a code or link.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendOutcome {
    /// Sent (or, for an unknown address, answered as if sent); the code expires at `expires_at`.
    Sent {
        /// When the code (and the challenge) expires.
        expires_at: SystemTime,
    },
    /// Too soon after the last message to this destination.
    Cooldown {
        /// How long to wait.
        retry_after: Duration,
    },
    /// The hourly or daily quota of this destination is used up.
    QuotaExceeded {
        /// How long to wait.
        retry_after: Duration,
    },
    /// The challenge is unknown, expired or used: start again.
    NoChallenge,
    /// The user has not enabled this channel.
    MethodUnavailable,
}

impl SendOutcome {
    /// The one response to show a user, identical for known and unknown addresses.
    pub fn public_response(&self) -> PublicResponse {
        PublicResponse::SentIfKnown
    }
}

/// The outcome of confirming a new factor with its first code.
#[must_use]
#[non_exhaustive]
pub enum EnrollmentOutcome {
    /// The factor is active. `recovery_codes` holds the user's new recovery codes when this was
    /// the first factor confirmed (show them once).
    Confirmed {
        /// The new recovery codes, shown once.
        recovery_codes: Option<RecoveryCodes>,
    },
    /// The code did not match ("code mismatch").
    Rejected {
        /// Tries left (for email and SMS enrolment; TOTP enrolment is bounded by the account
        /// counters only).
        attempts_left: Option<u32>,
    },
    /// The pending enrolment or its code has expired ("expired code").
    Expired,
    /// The factor is already enabled ("already enabled").
    AlreadyEnabled,
    /// There is no pending enrolment to confirm.
    NoPendingEnrollment,
    /// Too many failures.
    LockedOut {
        /// When the lock ends.
        until: SystemTime,
    },
}

impl fmt::Debug for EnrollmentOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Confirmed { recovery_codes } => f
                .debug_struct("Confirmed")
                .field("recovery_codes", recovery_codes)
                .finish(),
            Self::Rejected { attempts_left } => f
                .debug_struct("Rejected")
                .field("attempts_left", attempts_left)
                .finish(),
            Self::Expired => f.write_str("Expired"),
            Self::AlreadyEnabled => f.write_str("AlreadyEnabled"),
            Self::NoPendingEnrollment => f.write_str("NoPendingEnrollment"),
            Self::LockedOut { until } => f.debug_struct("LockedOut").field("until", until).finish(),
        }
    }
}

/// Whether a password attempt may proceed (see [`Mfa::check_password_attempt`](crate::Mfa::check_password_attempt)).
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordCheck {
    /// Check the password.
    Allowed,
    /// Refuse without checking the password until `until`.
    LockedOut {
        /// When the lock ends.
        until: SystemTime,
    },
}

/// What opening a magic link (a GET, possibly by a mail scanner) found; nothing is consumed.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkInspection {
    /// The link is live: show a page with a button that posts to
    /// [`Mfa::confirm_magic_link`](crate::Mfa::confirm_magic_link).
    Valid {
        /// When the link expires.
        expires_at: SystemTime,
    },
    /// Unknown, expired or used.
    Invalid,
}
