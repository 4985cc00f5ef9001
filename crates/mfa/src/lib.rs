#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

// What the facade takes and gives (leaf modules: none of them imports a flow).
mod error;
mod events;
mod handles;
mod method;
mod outcome;
mod purpose;
mod settings;

// The facade and its builder.
mod builder;
mod facade;

// The one path each concern takes, used by every flow.
mod context;
mod limits;
mod notify;

// The flows, each an `impl Mfa` block.
mod devices;
mod enroll;
mod link;
mod login;
mod manage;
mod password;
mod recovery;
mod rotate;
mod send;
mod unlock;
mod verify;
#[cfg(feature = "webauthn")]
pub mod webauthn;

pub use crate::builder::MfaBuilder;
pub use crate::devices::DeviceInfo;
pub use crate::enroll::{TotpEnrollment, TotpOptions};
pub use crate::error::{ConfigError, Error, Result};
pub use crate::events::{AuditEvent, AuditHook, EventKind};
pub use crate::facade::Mfa;
pub use crate::handles::{ChallengeId, DeviceToken, MagicLinkToken, StepUpGrant, UnlockToken};
pub use crate::method::Method;
pub use crate::outcome::{
    Authority, EnrollmentOutcome, LinkInspection, LoginStart, Outcome, PasswordVerdict, Proof,
    PublicResponse, RecoveryCodes, SendOutcome, UnlockStart, VerifyOptions,
};
pub use crate::rotate::RotationReport;
#[cfg(feature = "webauthn")]
pub use crate::webauthn::{
    WebAuthnChallenge, WebAuthnConfig, WebAuthnCredentialInfo, WebAuthnRegistration,
};

// The building blocks an application names when it configures and calls the facade.
pub use mfa_core::{
    Channel, Clock, EmailAddress, FactorKind, Keyring, ManualClock, Pepper, PhoneNumber,
    SealingKey, SystemClock,
};
pub use mfa_mail::{MailSettings, Mailer, SmsSender};
pub use mfa_policy::{CounterRegression, Enrolment, Policy};
pub use mfa_store::{ClientInfo, Store};

/// The sibling crates, for everything else.
pub use {mfa_core as core, mfa_mail as mail, mfa_policy as policy, mfa_store as store};
