#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod config;
mod devices;
mod enroll;
mod error;
mod events;
mod facade;
mod handles;
mod limits;
mod login;
mod manage;
mod outcome;
mod recovery;
mod send;
mod verify;

pub use crate::config::MfaBuilder;
pub use crate::devices::DeviceInfo;
pub use crate::enroll::{TotpEnrollment, TotpOptions};
pub use crate::error::{ConfigError, Error, Result};
pub use crate::events::{AuditEvent, AuditHook, EventKind};
pub use crate::facade::Mfa;
pub use crate::handles::{ChallengeId, DeviceToken, StepUpGrant};
pub use crate::login::normalize_email;
pub use crate::manage::RotationReport;
pub use crate::outcome::{
    Channel, EnrollmentOutcome, LinkInspection, LoginStart, Method, Outcome, PasswordCheck, Proof,
    PublicResponse, SendOutcome, VerifyOptions,
};
pub use crate::recovery::RecoveryCodes;

// The building blocks an application names when it configures the facade.
pub use mfa_core::{Clock, Keyring, ManualClock, Pepper, SealingKey, SystemClock};
pub use mfa_mail::{MailSettings, Mailer, SmsSender};
pub use mfa_policy::Policy;
pub use mfa_store::{ClientInfo, Store};

/// The sibling crates, for everything else.
pub use {mfa_core as core, mfa_mail as mail, mfa_policy as policy, mfa_store as store};
