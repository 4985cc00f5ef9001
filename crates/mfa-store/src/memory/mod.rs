//! [`MemoryStore`]: every entity in process memory, behind one mutex.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use mfa_core::RecoveryVerifier;

use crate::{
    AuditEvent, Challenge, CounterState, MfaSettings, TotpFactor, TrustedDevice, WebAuthnCeremony,
    WebAuthnCredential,
};

mod auth;
mod challenges;
mod guards;
mod webauthn;

/// An in-memory [`Store`](crate::Store) for tests, examples and single-process applications.
///
/// One mutex guards every map, so each operation is trivially atomic, also on a multi-threaded
/// runtime; it is never held across an `.await`. Expiry follows the `now` arguments exactly as
/// the SQL and Redis backends do (nothing reads a clock). Cloning gives another handle to the
/// same data. State is lost when the process ends, and nothing bounds its size except the purge
/// calls and counters expiring, so use a real backend in production.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use mfa_store::{CounterKey, CounterScope, CounterStore, MemoryStore};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let key = CounterKey::new("totp", CounterScope::Account("alice".into()));
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let state = store.hit_counter(&key, Duration::from_secs(900), now).await?;
/// assert_eq!(state.count, 1);
/// # Ok::<(), mfa_store::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` on the state under the lock.
    ///
    /// No code path panics while holding the lock, so a poisoned lock (a panic elsewhere in the
    /// same critical section is impossible) still guards consistent data.
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut state)
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

/// Everything the store holds. Keys on digests use their bytes (digests have no `Hash`).
#[derive(Default)]
struct State {
    /// TOTP factors by user.
    totp: HashMap<String, Vec<TotpFactor>>,
    /// Challenges by id.
    challenges: HashMap<String, Challenge>,
    /// The id of each user's challenge per purpose: `(user, purpose) -> id`.
    challenge_by_purpose: HashMap<(String, String), String>,
    /// Unused recovery codes by user, by locator bytes.
    recovery: HashMap<String, HashMap<[u8; 32], RecoveryVerifier>>,
    /// Counters by [`CounterKey::storage_key`](crate::CounterKey::storage_key).
    counters: HashMap<String, CounterState>,
    /// Trusted devices by user.
    devices: HashMap<String, Vec<TrustedDevice>>,
    /// Audit events by user, each with its append sequence number.
    audit: HashMap<String, Vec<(u64, AuditEvent)>>,
    /// The next audit sequence number.
    audit_seq: u64,
    /// Settings by user.
    settings: HashMap<String, MfaSettings>,
    /// WebAuthn credentials by user.
    webauthn: HashMap<String, Vec<WebAuthnCredential>>,
    /// WebAuthn ceremonies by `(user, id)`.
    ceremonies: HashMap<(String, String), WebAuthnCeremony>,
}

/// The coarse operations as their provided compositions: every operation is one critical
/// section already, and nothing here crosses a network.
impl crate::FlowStore for MemoryStore {}

/// Converts a count to the `u64` the purge methods return.
fn count_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
