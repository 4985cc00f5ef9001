//! The facade's own settings (those that are not part of the [`Policy`](mfa_policy::Policy)),
//! validated by the builder.

use std::time::Duration;

use mfa_core::{RecoveryCode, RecoveryHardening};

/// Facade settings that are not part of the policy.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) trusted_device_lifetime: Duration,
    pub(crate) step_up_window: Duration,
    pub(crate) recovery_codes: usize,
    pub(crate) recovery_hardening: RecoveryHardening,
    pub(crate) enrollment_lifetime: Duration,
    /// The page unlock links point to (`?token=` is appended); none: lock notices carry no
    /// link.
    pub(crate) unlock_url: Option<String>,
    pub(crate) unlock_lifetime: Duration,
}

pub(crate) const DAY: u64 = 24 * 60 * 60;

impl Default for Settings {
    fn default() -> Self {
        Self {
            trusted_device_lifetime: Duration::from_secs(30 * DAY),
            step_up_window: Duration::from_secs(10 * 60),
            recovery_codes: RecoveryCode::DEFAULT_COUNT,
            recovery_hardening: RecoveryHardening::Peppered,
            enrollment_lifetime: Duration::from_secs(15 * 60),
            unlock_url: None,
            unlock_lifetime: Duration::from_secs(DAY),
        }
    }
}
