//! The supertrait the `mfa` facade takes: every entity store in one object.

use std::time::SystemTime;

use async_trait::async_trait;

use crate::{
    AuditStore, ChallengeStore, CounterStore, FlowStore, RecoveryCodeStore, Result, SettingsStore,
    TotpFactorStore, TrustedDeviceStore, WebAuthnStore,
};

/// Every entity store in one trait, so an application passes one `Arc<dyn Store>`.
///
/// Implemented automatically for every type that implements all seven entity traits,
/// [`FlowStore`] and [`WebAuthnStore`] (whose methods are all provided: `impl FlowStore for
/// MyStore {}` and `impl WebAuthnStore for MyStore {}` are enough); implement those, not this.
#[async_trait]
pub trait Store:
    TotpFactorStore
    + ChallengeStore
    + RecoveryCodeStore
    + CounterStore
    + TrustedDeviceStore
    + AuditStore
    + SettingsStore
    + FlowStore
    + WebAuthnStore
{
    /// Deletes every challenge, counter, trusted device and WebAuthn ceremony expired at `now` (the one purge call
    /// a SQL deployment schedules); returns how many records went.
    ///
    /// # Errors
    /// The first backend failure; the purges before it stay done.
    async fn purge_expired(&self, now: SystemTime) -> Result<u64> {
        let challenges = self.purge_expired_challenges(now).await?;
        let counters = self.purge_expired_counters(now).await?;
        let devices = self.purge_expired_devices(now).await?;
        let ceremonies = self.purge_expired_webauthn_ceremonies(now).await?;
        Ok(challenges
            .saturating_add(counters)
            .saturating_add(devices)
            .saturating_add(ceremonies))
    }
}

impl<T> Store for T where
    T: TotpFactorStore
        + ChallengeStore
        + RecoveryCodeStore
        + CounterStore
        + TrustedDeviceStore
        + AuditStore
        + SettingsStore
        + FlowStore
        + WebAuthnStore
        + ?Sized
{
}
