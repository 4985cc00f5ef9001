#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod error;
mod text;

// -- one module per entity: its records and its trait --------------------------------------
mod audit;
mod challenge;
mod counter;
mod device;
mod recovery;
mod settings;
mod totp;
mod webauthn;

mod flow;
mod plan;

mod memory;
mod store;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use crate::audit::{AuditEvent, AuditKind, AuditOutcome, AuditStore, ClientInfo};
pub use crate::challenge::{AttemptOutcome, Challenge, ChallengeStore};
pub use crate::counter::{
    CounterKey, CounterScope, CounterState, CounterStore, CounterTake, Take, window_end,
};
pub use crate::device::{TrustedDevice, TrustedDeviceStore};
pub use crate::error::{Result, StoreError};
pub use crate::flow::{AttemptView, FlowStore, LoginView, Settlement};
pub use crate::memory::MemoryStore;
pub use crate::plan::AttemptPlan;
pub use crate::recovery::{RecoveryCodeRecord, RecoveryCodeStore};
pub use crate::settings::{MfaSettings, SettingsStore};
pub use crate::store::Store;
pub use crate::totp::{FactorStatus, NewTotpFactor, TotpFactor, TotpFactorStore};
pub use crate::webauthn::{
    CeremonyKind, WebAuthnCeremony, WebAuthnCredential, WebAuthnStore, WebAuthnUse,
};

// The shared vocabulary, re-exported so that a backend names one crate.
pub use mfa_core::{ChallengeKind, EmailAddress, FactorKind, PhoneNumber};
