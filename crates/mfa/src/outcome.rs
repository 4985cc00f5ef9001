//! What the facade's calls take and return: login starts, proofs, verification outcomes, send
//! results, enrolment results, and the recovery codes shown once.

use core::fmt;
use std::time::{Duration, SystemTime};

use mfa_core::RecoveryCode;
use zeroize::Zeroizing;

use crate::handles::{ChallengeId, DeviceToken, MagicLinkToken, StepUpGrant};
use crate::method::Method;

/// What [`Mfa::begin_login`](crate::Mfa::begin_login) or
/// [`Mfa::password_step`](crate::Mfa::password_step) decided.
#[must_use]
#[derive(Debug)]
#[non_exhaustive]
pub enum LoginStart {
    /// The user has no active second factor and the policy does not require one: the
    /// application may open the session.
    NotRequired,
    /// The policy requires a second factor and the user has no active one (none enrolled, only
    /// pending or disabled ones, or no settings at all): open **no** session; let the user
    /// enrol (the first enrolment needs no step-up grant), then start the login again.
    EnrollmentRequired,
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
    /// Too many attempts from this context: nothing is asked for until `until`.
    LockedOut {
        /// When the lock ends (ten years for locks that need an unlock).
        until: SystemTime,
    },
    /// The password was wrong (only from [`password_step`](crate::Mfa::password_step)).
    PasswordRejected,
}

/// What the application's password check found, for
/// [`Mfa::password_step`](crate::Mfa::password_step) and
/// [`Mfa::unlock_with_password`](crate::Mfa::unlock_with_password).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordVerdict {
    /// The password is the user's.
    Correct,
    /// It is not (or the user does not exist).
    Wrong,
    /// The check could not be made: the user directory or the hasher failed. Nothing was
    /// evaluated, so the attempt counts nowhere, and
    /// [`password_step`](crate::Mfa::password_step) fails with
    /// [`Error::PasswordCheck`](crate::Error::PasswordCheck): open no session.
    Unavailable,
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
    MagicLink(&'a MagicLinkToken),
    /// A recovery code.
    RecoveryCode(&'a str),
    /// A WebAuthn assertion (the JSON `navigator.credentials.get()` returned, deserialized),
    /// answering the options of [`Mfa::webauthn_challenge`](crate::Mfa::webauthn_challenge).
    #[cfg(feature = "webauthn")]
    WebAuthn(&'a crate::webauthn::PublicKeyCredential),
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
            #[cfg(feature = "webauthn")]
            Self::WebAuthn(_) => Method::WebAuthn,
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
            #[cfg(feature = "webauthn")]
            Self::WebAuthn(_) => "WebAuthn",
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
    /// The proof answered an unlock ticket: the account of `user` is unlocked. Open **no**
    /// session: the user signs in again, from the start.
    Unlocked {
        /// The user unlocked.
        user: String,
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
    /// Too many failures; returned on the attempt that locks and on those refused after.
    LockedOut {
        /// When the lock ends (ten years for locks that need an unlock).
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
        match self {
            Self::Verified { .. } => PublicResponse::Verified,
            Self::Unlocked { .. } => PublicResponse::Unlocked,
            _ => PublicResponse::Failed,
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
    /// The account is unlocked; sign in again.
    Unlocked,
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
            Self::Unlocked => "Your account is unlocked. Sign in again.",
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
    /// Too soon after the last message to this destination from this context.
    Cooldown {
        /// How long to wait.
        retry_after: Duration,
    },
    /// The hourly or daily quota of this destination (or of this user) is used up for this
    /// context.
    QuotaExceeded {
        /// How long to wait.
        retry_after: Duration,
    },
    /// The challenge is unknown, expired or used: start again.
    NoChallenge,
    /// The user has not enabled this channel (or the facade has no sender for it).
    MethodUnavailable,
}

impl SendOutcome {
    /// The one response to show a user, identical for known and unknown addresses.
    pub fn public_response(&self) -> PublicResponse {
        PublicResponse::SentIfKnown
    }
}

/// What entitles a change of the user's factors (an enrolment).
#[derive(Debug, Clone, Copy)]
pub enum Authority<'a> {
    /// The user has no active factor yet: the first enrolment (at registration, or after the
    /// last factor was removed) needs nothing more than the application's session. Refused
    /// with [`Error::NotAuthorised`](crate::Error::NotAuthorised) once a factor is active.
    FirstFactor,
    /// A step-up grant from a fresh second-factor verification: required for every change once
    /// a factor is active.
    StepUp(&'a StepUpGrant),
}

/// The outcome of confirming a new factor with its first code.
#[must_use]
#[non_exhaustive]
pub enum EnrollmentOutcome {
    /// The factor is active. `recovery_codes` holds the user's first recovery codes when this
    /// was the user's first factor (show them once); a later factor mints none (regenerate
    /// them behind a step-up grant instead).
    Confirmed {
        /// The new recovery codes, shown once.
        recovery_codes: Option<RecoveryCodes>,
    },
    /// The code did not match ("code mismatch").
    Rejected {
        /// Tries left (for email and SMS enrolment; TOTP enrolment is bounded by the account's
        /// budgets only).
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

/// What opening an emailed link (a GET, possibly by a mail scanner) found; nothing is consumed.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkInspection {
    /// The link is live: show a page with a button that posts back (the explicit step).
    Valid {
        /// When the link expires.
        expires_at: SystemTime,
    },
    /// Unknown, expired or used.
    Invalid,
}

/// What [`Mfa::begin_unlock`](crate::Mfa::begin_unlock) found.
#[must_use]
#[derive(Debug)]
#[non_exhaustive]
pub enum UnlockStart {
    /// The link is live: ask this browser for the password (answer with
    /// [`Mfa::unlock_with_password`](crate::Mfa::unlock_with_password)) or one of `methods`
    /// (answer with [`Mfa::verify`](crate::Mfa::verify)), against `challenge_id`.
    ProofRequired {
        /// The unlock ticket.
        challenge_id: ChallengeId,
        /// The second-factor methods the user can answer with, besides the password.
        methods: Vec<Method>,
        /// When the ticket expires.
        expires_at: SystemTime,
    },
    /// Unknown, expired, used, out of tries, or replaced by a newer lock's link.
    Invalid,
}

/// A fresh set of recovery codes, to show the user once (they are stored only as verifiers).
///
/// Redacted in `Debug`; the codes come out only through [`RecoveryCodes::expose`].
pub struct RecoveryCodes(pub(crate) Vec<RecoveryCode>);

impl RecoveryCodes {
    /// The codes as `XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`, each zeroized when dropped.
    #[must_use]
    pub fn expose(&self) -> Vec<Zeroizing<String>> {
        self.0.iter().map(RecoveryCode::expose).collect()
    }

    /// How many codes the set holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty (never, for a set the facade made).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryCodes")
            .field("len", &self.0.len())
            .finish_non_exhaustive()
    }
}
