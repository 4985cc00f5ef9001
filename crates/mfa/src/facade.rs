//! [`Mfa`]: the facade, and the state it is built from (no state of its own beyond
//! configuration: every count lives in the store).

use core::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use mfa_core::{Clock, Keyring, Pepper};
use mfa_mail::{Composer, Mailer, SmsSender};
use mfa_policy::Policy;
use mfa_store::Store;

use crate::events::AuditHook;
use crate::settings::Settings;

/// The second-factor facade: enrolment, login challenges, verification, recovery codes, trusted
/// devices, step-up management, limits, unlocks and audit.
///
/// Cheap to clone (one `Arc`); every instance of an application may hold its own, sharing one
/// store. Build one with [`Mfa::builder`]. See the crate documentation for a complete login.
#[derive(Clone)]
pub struct Mfa {
    pub(crate) inner: Arc<Inner>,
}

/// Everything the facade was built with.
pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) mailer: Option<Arc<dyn Mailer>>,
    pub(crate) sms: Option<Arc<dyn SmsSender>>,
    pub(crate) composer: Option<Composer>,
    pub(crate) keyring: Keyring,
    pub(crate) pepper: Pepper,
    pub(crate) policy: Policy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) issuer: String,
    pub(crate) settings: Settings,
    pub(crate) hook: Option<AuditHook>,
    /// The WebAuthn relying party, when the application configured one.
    #[cfg(feature = "webauthn")]
    pub(crate) webauthn: Option<crate::webauthn::RelyingParty>,
}

impl fmt::Debug for Mfa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mfa")
            .field("issuer", &self.inner.issuer)
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl Mfa {
    /// The policy in force.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The current time by the configured clock (each facade call reads it once, so that every
    /// decision of one call sees the same instant). An application that records when a second
    /// factor was passed, or turns a lock's end into a wait, reads the same clock here.
    #[must_use]
    pub fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// How long a step-up grant is accepted after the verification that granted it.
    #[must_use]
    pub fn step_up_window(&self) -> std::time::Duration {
        self.inner.settings.step_up_window
    }

    /// How long a trusted device stays trusted (the cookie that carries its token should live
    /// as long).
    #[must_use]
    pub fn trusted_device_lifetime(&self) -> std::time::Duration {
        self.inner.settings.trusted_device_lifetime
    }

    /// Deletes expired challenges, counters and trusted devices (the purge call a SQL
    /// deployment schedules); returns how many records went.
    ///
    /// # Errors
    /// Store failures.
    pub async fn purge_expired(&self) -> crate::Result<u64> {
        Ok(self.inner.store.purge_expired(self.now()).await?)
    }

    /// A task that calls [`purge_expired`](Self::purge_expired) every `every` (at least one
    /// second), for as long as it runs: spawn it once per application instance at start-up,
    /// `tokio::spawn(mfa.purge_task(Duration::from_secs(600)))`. A failed purge is logged and
    /// retried at the next tick; expired records never grant anything, the purge only keeps
    /// the tables small. Redis expires records by itself, so there the purge finds little.
    #[cfg(feature = "tokio")]
    pub fn purge_task(
        &self,
        every: std::time::Duration,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mfa = self.clone();
        let every = every.max(std::time::Duration::from_secs(1));
        async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match mfa.purge_expired().await {
                    Ok(purged) => tracing::debug!(purged, "mfa purge"),
                    Err(e) => tracing::warn!(error = %e, "mfa purge failed; retried next tick"),
                }
            }
        }
    }
}
