#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
// Decisions run on attacker-influenced counts and times: no slicing that can go out of range,
// no arithmetic that can overflow. Checked or saturating operations only.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
#![cfg_attr(test, allow(clippy::arithmetic_side_effects))]

mod client;
mod counter;
mod decision;
mod error;
mod factor;
mod lifetime;
mod policy;
mod presets;
mod rule;
mod send;
mod time;

pub use crate::client::{ClientKey, ClientPrefixes};
pub use crate::counter::{Context, Counter, CounterState, FailureState, OnSuccess};
pub use crate::decision::{Decision, Reason};
pub use crate::error::{Error, Result};
pub use crate::factor::{
    Budget, CONSECUTIVE_WINDOW, CounterLock, Factor, FactorRules, FailureOutcome,
    MAX_CONSECUTIVE_CAP,
};
pub use crate::lifetime::{
    ChallengeState, Lifetimes, MAX_CHALLENGE_ATTEMPTS, MAX_LIFETIME, MIN_LIFETIME,
};
pub use crate::policy::{
    CounterRegression, Enrolment, MAX_RECOGNITION, MAX_TOTP_SKEW, MIN_RECOGNITION, Policy,
    PolicyBuilder,
};
pub use crate::rule::{FailureRule, Lockout, MAX_WINDOW, MIN_WINDOW};
pub use crate::send::{SendQuota, SendState};
pub use crate::time::INDEFINITE;
