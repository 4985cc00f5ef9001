//! Audit events: what the facade records (to the store and an optional hook) for every
//! security-relevant action.

use std::sync::Arc;
use std::time::SystemTime;

use mfa_policy::Factor;
use mfa_store::{AuditKind, AuditOutcome, ClientInfo};

use crate::method::Method;

/// A function the application registers to see every audit event.
pub type AuditHook = Arc<dyn Fn(&AuditEvent) + Send + Sync>;

/// One security-relevant action. Holds no code, token, secret or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When it happened (by the facade's clock).
    pub at: SystemTime,
    /// The user concerned.
    pub user: String,
    /// Who asked, when known.
    pub client: ClientInfo,
    /// What happened.
    pub kind: EventKind,
}

/// What happened, with its details.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// A factor enrolment began (pending until its first code).
    EnrollmentStarted {
        /// The factor.
        method: Method,
    },
    /// A factor was confirmed by its first code and is active.
    EnrollmentConfirmed {
        /// The factor.
        method: Method,
    },
    /// A code given to confirm an enrolment was wrong.
    EnrollmentFailed {
        /// The factor.
        method: Method,
    },
    /// A login, step-up or unlock ticket was issued, or a code or link sent for it.
    ChallengeIssued {
        /// The channel, when a code or link was sent (`None` for the ticket itself).
        method: Option<Method>,
    },
    /// A second-factor verification succeeded.
    VerificationSucceeded {
        /// The method that verified.
        method: Method,
    },
    /// A second-factor verification failed (evaluated and wrong).
    VerificationFailed {
        /// The method tried.
        method: Method,
    },
    /// An attempt was refused before evaluation (a lock, a full budget, the consecutive cap).
    VerificationDenied,
    /// A login was completed by a trusted device instead of a second factor.
    TrustedDeviceUsed {
        /// The device id.
        device_id: String,
    },
    /// A password attempt failed (counted by the facade).
    PasswordFailed,
    /// A password attempt was refused before the password was checked.
    PasswordDenied,
    /// A lock was written (on the attempt that wrote it; once per lock).
    LockedOut {
        /// Which factor's budgets locked.
        factor: Factor,
        /// Until when (ten years for locks that need an unlock).
        until: SystemTime,
        /// Whether the lock shuts the account out of every unrecognised context (told to the
        /// user) rather than one network.
        account: bool,
    },
    /// The account was unlocked through the emailed unlock link and a proof.
    Unlocked,
    /// A recovery code was used.
    RecoveryCodeUsed {
        /// Codes left.
        remaining: usize,
    },
    /// A new set of recovery codes replaced the old one.
    RecoveryCodesRegenerated,
    /// A factor was disabled.
    FactorDisabled {
        /// The factor.
        method: Method,
    },
    /// The preferred method changed.
    PreferredMethodChanged {
        /// The new preferred method.
        method: Method,
    },
    /// A device was trusted.
    DeviceTrusted {
        /// The device id.
        device_id: String,
    },
    /// Trusted devices were revoked (`None`: all of them).
    DevicesRevoked {
        /// The device revoked, or `None` for all.
        device_id: Option<String>,
        /// How many went.
        count: u64,
    },
    /// The password changed: trusted devices, tickets, codes sent and step-up grants ended.
    PasswordChanged,
    /// An administrator unlocked the account.
    AdminUnlock {
        /// The administrator.
        admin: String,
    },
    /// An administrator removed every factor, code and device of the account.
    AdminReset {
        /// The administrator.
        admin: String,
    },
    /// A WebAuthn assertion was refused because its signature counter did not move forward
    /// (a cloned or restored authenticator).
    WebAuthnCounterRegressed {
        /// The credential's record id (not its credential id).
        credential: String,
        /// Whether the policy removed the credential.
        removed: bool,
    },
}

impl EventKind {
    /// The store's kind name and outcome of this event.
    #[must_use]
    pub fn store_kind(&self) -> (AuditKind, AuditOutcome) {
        use AuditOutcome::{Denied, Failure, Success};
        let named = AuditKind::from_static;
        match self {
            Self::EnrollmentStarted {
                method: Method::Totp,
            } => (AuditKind::TOTP_ENROLLED, Success),
            Self::EnrollmentStarted { .. } => (named("factor.enrolled"), Success),
            Self::EnrollmentConfirmed {
                method: Method::Totp,
            } => (AuditKind::TOTP_CONFIRMED, Success),
            Self::EnrollmentConfirmed { .. } => (named("factor.confirmed"), Success),
            Self::EnrollmentFailed { .. } => (named("factor.confirmed"), Failure),
            Self::ChallengeIssued { .. } => (AuditKind::CHALLENGE_SENT, Success),
            Self::VerificationSucceeded { .. } => (AuditKind::SECOND_FACTOR, Success),
            Self::VerificationFailed { .. } => (AuditKind::SECOND_FACTOR, Failure),
            Self::VerificationDenied => (AuditKind::SECOND_FACTOR, Denied),
            Self::TrustedDeviceUsed { .. } => (named("device.used"), Success),
            Self::PasswordFailed => (named("password"), Failure),
            Self::PasswordDenied => (named("password"), Denied),
            Self::LockedOut { .. } => (AuditKind::LOCKED, Success),
            Self::Unlocked => (AuditKind::UNLOCKED, Success),
            Self::RecoveryCodeUsed { .. } => (AuditKind::RECOVERY_CODE_USED, Success),
            Self::RecoveryCodesRegenerated => (AuditKind::RECOVERY_CODES_REGENERATED, Success),
            Self::FactorDisabled {
                method: Method::Totp,
            } => (AuditKind::TOTP_REMOVED, Success),
            Self::FactorDisabled { .. } => (named("factor.removed"), Success),
            Self::PreferredMethodChanged { .. } => (named("factor.preferred"), Success),
            Self::DeviceTrusted { .. } => (AuditKind::DEVICE_TRUSTED, Success),
            Self::DevicesRevoked { .. } => (AuditKind::DEVICES_REVOKED, Success),
            Self::PasswordChanged => (named("password.changed"), Success),
            Self::AdminUnlock { .. } => (AuditKind::UNLOCKED, Success),
            Self::AdminReset { .. } => (named("admin.reset"), Success),
            Self::WebAuthnCounterRegressed { .. } => (named("webauthn.counter_regressed"), Denied),
        }
    }

    /// Who acted, when it was not the user: the administrator of an unlock or a reset.
    #[must_use]
    pub fn actor(&self) -> Option<&str> {
        match self {
            Self::AdminUnlock { admin } | Self::AdminReset { admin } => Some(admin),
            _ => None,
        }
    }
}
