//! The supertrait the `mfa` facade takes: every entity store in one object.

use std::time::SystemTime;

use async_trait::async_trait;

use crate::{
    AuditStore, ChallengeStore, CounterStore, FlowStore, RecoveryCodeStore, Result, SettingsStore,
    TotpFactorStore, TrustedDeviceStore,
};

/// Every entity store in one trait, so an application passes one `Arc<dyn Store>`.
///
/// Implemented automatically for every type that implements all seven entity traits and
/// [`FlowStore`] (whose methods are all provided: `impl FlowStore for MyStore {}` is enough);
/// implement those, not this.
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
{
    /// Deletes every challenge, counter and trusted device expired at `now` (the one purge call
    /// a SQL deployment schedules); returns how many records went.
    ///
    /// # Errors
    /// The first backend failure; the purges before it stay done.
    async fn purge_expired(&self, now: SystemTime) -> Result<u64> {
        let challenges = self.purge_expired_challenges(now).await?;
        let counters = self.purge_expired_counters(now).await?;
        let devices = self.purge_expired_devices(now).await?;
        Ok(challenges.saturating_add(counters).saturating_add(devices))
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
        + ?Sized
{
}
