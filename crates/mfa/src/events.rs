//! Audit events (to the store and an optional hook) and security notices by email.

use std::sync::Arc;
use std::time::SystemTime;

use mfa_mail::{EmailAddress, Mailbox, Notice};
use mfa_store::{AuditKind, AuditOutcome, ClientInfo};

use crate::facade::Mfa;
use crate::outcome::Method;

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
    /// A login or step-up challenge was issued, or a code or link sent for it.
    ChallengeIssued {
        /// The channel, when a code or link was sent (`None` for the challenge itself).
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
    /// An attempt was refused before evaluation (lock, throttle).
    VerificationDenied,
    /// The account was locked (on the attempt that locked it).
    LockedOut {
        /// Until when.
        until: SystemTime,
    },
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
    /// A password attempt failed (counted by the facade).
    PasswordFailed,
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
}

impl EventKind {
    /// The store's kind name and outcome of this event.
    #[must_use]
    pub fn store_kind(&self) -> (AuditKind, AuditOutcome) {
        use AuditOutcome::{Denied, Failure, Success};
        match self {
            Self::EnrollmentStarted {
                method: Method::Totp,
            } => (AuditKind::TOTP_ENROLLED, Success),
            Self::EnrollmentStarted { .. } => (AuditKind::from_static("factor.enrolled"), Success),
            Self::EnrollmentConfirmed {
                method: Method::Totp,
            } => (AuditKind::TOTP_CONFIRMED, Success),
            Self::EnrollmentConfirmed { .. } => {
                (AuditKind::from_static("factor.confirmed"), Success)
            }
            Self::ChallengeIssued { .. } => (AuditKind::CHALLENGE_SENT, Success),
            Self::VerificationSucceeded { .. } => (AuditKind::SECOND_FACTOR, Success),
            Self::VerificationFailed { .. } => (AuditKind::SECOND_FACTOR, Failure),
            Self::VerificationDenied => (AuditKind::SECOND_FACTOR, Denied),
            Self::LockedOut { .. } => (AuditKind::LOCKED, Success),
            Self::RecoveryCodeUsed { .. } => (AuditKind::RECOVERY_CODE_USED, Success),
            Self::RecoveryCodesRegenerated => (AuditKind::RECOVERY_CODES_REGENERATED, Success),
            Self::FactorDisabled {
                method: Method::Totp,
            } => (AuditKind::TOTP_REMOVED, Success),
            Self::FactorDisabled { .. } => (AuditKind::from_static("factor.removed"), Success),
            Self::PreferredMethodChanged { .. } => {
                (AuditKind::from_static("factor.preferred"), Success)
            }
            Self::DeviceTrusted { .. } => (AuditKind::DEVICE_TRUSTED, Success),
            Self::DevicesRevoked { .. } => (AuditKind::DEVICES_REVOKED, Success),
            Self::PasswordFailed => (AuditKind::from_static("password"), Failure),
            Self::AdminUnlock { .. } => (AuditKind::UNLOCKED, Success),
            Self::AdminReset { .. } => (AuditKind::from_static("admin.reset"), Success),
        }
    }
}

impl Mfa {
    /// Records `kind` for `user`: appended to the store's audit trail, passed to the hook, and
    /// logged (user and kind only). A failing audit write is logged and does not undo the
    /// action it records.
    pub(crate) async fn emit(&self, user: &str, client: Option<&ClientInfo>, kind: EventKind) {
        let event = AuditEvent {
            at: self.now(),
            user: user.to_owned(),
            client: client.cloned().unwrap_or_default(),
            kind,
        };
        let (store_kind, outcome) = event.kind.store_kind();
        tracing::info!(user = %event.user, event = %store_kind, outcome = %outcome, "mfa audit");
        let record = mfa_store::AuditEvent {
            at: event.at,
            user: event.user.clone(),
            kind: store_kind,
            outcome,
            client: event.client.clone(),
        };
        if let Err(e) = self.inner.store.append_audit(record).await {
            tracing::error!(user = %event.user, error = %e, "mfa audit write failed");
        }
        if let Some(hook) = &self.inner.hook {
            hook(&event);
        }
    }

    /// Sends a security notice to `user`'s confirmed email address, if any. A failure is
    /// logged (without the message) and does not undo the action.
    pub(crate) async fn notify(&self, user: &str, notice: Notice) {
        let address = match self.inner.store.settings(user).await {
            Ok(Some(s)) => s.email,
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(user = %user, error = %e, "mfa notice: settings unreadable");
                return;
            }
        };
        let Some(address) = address.and_then(|a| EmailAddress::parse(&a).ok()) else {
            return;
        };
        let message = self
            .inner
            .composer
            .notice(&Mailbox::address_only(address), &notice);
        if let Err(e) = self.inner.mailer.send(&message).await {
            tracing::warn!(
                user = %user,
                notice = message.kind().name(),
                error = %e,
                "mfa notice not delivered"
            );
        }
    }
}
