//! Attempt limits: store counters mapped into `mfa-policy`'s `FailureState`, for the second
//! factor (namespace `mfa`) and the password (namespace `password`), kept apart.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use mfa_policy::{Counter, Decision, Device, Factor, FactorRules, FailureState};
use mfa_store::{ClientInfo, CounterKey, CounterScope, CounterState};

use crate::error::Result;
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::outcome::PasswordCheck;

/// The window of the consecutive-failure counter: long enough that only a success or an unlock
/// forgets it in practice (the NIST cap counts consecutive failures).
const CONSECUTIVE_WINDOW: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// What a counted failure led to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AfterFailure {
    /// More attempts may follow.
    Continue,
    /// Refused until `until`; `locked` when a lock was written (send the notice).
    Blocked { until: SystemTime, locked: bool },
}

fn namespace(factor: Factor) -> &'static str {
    match factor {
        Factor::Password => "password",
        Factor::SecondFactor => "mfa",
    }
}

fn counter_name(counter: Counter) -> &'static str {
    match counter {
        Counter::Account => "account",
        Counter::AccountLock => "lock",
        Counter::AccountClient => "account-client",
        Counter::Client => "client",
    }
}

/// The client key of a request: the policy's network of its IP address, if it has one.
pub(crate) fn client_key(mfa: &Mfa, client: &ClientInfo) -> Option<String> {
    let ip: IpAddr = client.ip.as_deref()?.trim().parse().ok()?;
    Some(mfa.inner.policy.client_key(ip).to_string())
}

fn key(factor: Factor, counter: Counter, user: &str, client: Option<&str>) -> Option<CounterKey> {
    let ns = format!("{}.{}", namespace(factor), counter_name(counter));
    let scope = match counter {
        Counter::Account | Counter::AccountLock => CounterScope::Account(user.to_owned()),
        Counter::AccountClient => CounterScope::AccountClient {
            account: user.to_owned(),
            client: client?.to_owned(),
        },
        Counter::Client => CounterScope::Client(client?.to_owned()),
    };
    Some(CounterKey::new(ns, scope))
}

fn consecutive_key(factor: Factor, user: &str) -> CounterKey {
    CounterKey::new(
        format!("{}.consecutive", namespace(factor)),
        CounterScope::Account(user.to_owned()),
    )
}

/// The record of an administrator's unlock: its `window_start` is the moment of the unlock.
/// Account+client counters cannot be listed by account, so instead of deleting them at the
/// unlock, the next check on that network finds one older than the unlock and deletes it.
fn unlock_key(factor: Factor, user: &str) -> CounterKey {
    CounterKey::new(
        format!("{}.unlocked", namespace(factor)),
        CounterScope::Account(user.to_owned()),
    )
}

/// Whether an account+client counter state dates from before the last unlock (or from its
/// very millisecond: a lock and an unlock can share one).
fn before_unlock(state: &CounterState, unlocked: Option<&CounterState>) -> bool {
    unlocked.is_some_and(|u| state.window_start <= u.window_start)
}

fn to_policy(state: Option<&CounterState>) -> mfa_policy::CounterState {
    state.map_or_else(mfa_policy::CounterState::default, |s| {
        mfa_policy::CounterState {
            window_start: s.window_start,
            count: s.count,
            locked_until: s.locked_until,
        }
    })
}

/// The counters a factor's rules use for this request, with their windows.
fn active(
    rules: &FactorRules,
    factor: Factor,
    user: &str,
    client: Option<&str>,
    device: Device,
) -> Vec<(Counter, CounterKey, Duration)> {
    Counter::ALL
        .into_iter()
        .filter(|c| !(c.is_client_level() && device == Device::Trusted))
        .filter_map(|c| {
            let window = rules.window(c)?;
            Some((c, key(factor, c, user, client)?, window))
        })
        .collect()
}

fn until(decision: Decision, now: SystemTime) -> Option<SystemTime> {
    match decision {
        Decision::Allow => None,
        Decision::Deny { retry_after, .. } => Some(now.checked_add(retry_after).unwrap_or(now)),
        Decision::Lock { until, .. } => Some(until),
    }
}

impl Mfa {
    fn rules(&self, factor: Factor) -> &FactorRules {
        self.inner.policy.rules(factor)
    }

    /// Reads the counters and asks the policy whether an attempt may proceed; `Some(until)`
    /// when it may not.
    pub(crate) async fn limit_check(
        &self,
        factor: Factor,
        user: &str,
        client: &ClientInfo,
        device: Device,
        now: SystemTime,
    ) -> Result<Option<SystemTime>> {
        let client = client_key(self, client);
        let rules = self.rules(factor);
        let counters = active(rules, factor, user, client.as_deref(), device);
        let mut keys: Vec<CounterKey> = counters.iter().map(|(_, k, _)| k.clone()).collect();
        keys.push(consecutive_key(factor, user));
        keys.push(unlock_key(factor, user));
        let mut states = self.inner.store.counters(&keys, now).await?;
        let unlocked = states.pop().flatten();
        let consecutive = states.pop().flatten();
        let mut state = FailureState {
            device,
            ..FailureState::default()
        };
        for ((counter, key, _), s) in counters.iter().zip(&states) {
            let mut s = s.as_ref();
            if *counter == Counter::AccountClient
                && s.is_some_and(|s| before_unlock(s, unlocked.as_ref()))
            {
                // From before an administrator's unlock: forget it (once; the next failure
                // then starts a fresh count instead of inheriting the old window or lock).
                self.inner.store.reset_counter(key).await?;
                s = None;
            }
            *state.get_mut(*counter) = to_policy(s);
        }
        state.consecutive_failures = consecutive.map_or(0, |s| s.count);
        Ok(until(rules.check(&state, now), now))
    }

    /// Counts one failure on every counter of the factor, writes the locks the policy asks for
    /// and says whether more attempts may follow. The decision arrives on this very attempt.
    pub(crate) async fn limit_failure(
        &self,
        factor: Factor,
        user: &str,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<AfterFailure> {
        let client = client_key(self, client);
        let rules = self.rules(factor);
        let counters = active(rules, factor, user, client.as_deref(), Device::Unknown);
        let mut hits: Vec<(CounterKey, Duration)> =
            counters.iter().map(|(_, k, w)| (k.clone(), *w)).collect();
        hits.push((consecutive_key(factor, user), CONSECUTIVE_WINDOW));
        let states = self.inner.store.hit_counters(&hits, now).await?;
        let mut state = FailureState::default();
        for ((counter, _, _), s) in counters.iter().zip(&states) {
            *state.get_mut(*counter) = to_policy(Some(s));
        }
        state.consecutive_failures = states.last().map_or(0, |s| s.count);
        let outcome = rules.after_failure(&state, now);
        let mut locked = false;
        for lock in &outcome.locks {
            if let Some((_, key, _)) = counters.iter().find(|(c, _, _)| *c == lock.counter) {
                // One atomic step: the lock starts an empty window, as the policy expects.
                self.inner.store.lock_counter(key, lock.until, now).await?;
                locked = true;
            }
        }
        let locked = locked || matches!(outcome.decision, Decision::Lock { .. });
        Ok(match until(outcome.decision, now) {
            None => AfterFailure::Continue,
            Some(until) => AfterFailure::Blocked { until, locked },
        })
    }

    /// Resets the counters a success resets (all but the per-client one).
    ///
    /// Reads them first in one batch and resets only those that exist: after a clean login
    /// (the common case) that is one round trip instead of one per counter. A failure counted
    /// by a concurrent attempt between the read and the resets stays counted, which errs on
    /// the side of counting.
    pub(crate) async fn limit_success(
        &self,
        factor: Factor,
        user: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        let client = client_key(self, client);
        let mut keys: Vec<CounterKey> = Counter::ALL
            .into_iter()
            .filter(|c| c.resets_on_success())
            .filter_map(|c| key(factor, c, user, client.as_deref()))
            .collect();
        keys.push(consecutive_key(factor, user));
        let states = self.inner.store.counters(&keys, self.now()).await?;
        for (key, state) in keys.iter().zip(&states) {
            if state.is_some() {
                self.inner.store.reset_counter(key).await?;
            }
        }
        Ok(())
    }

    /// Resets the account-wide counters of both factors (administrator unlock).
    pub(crate) async fn limit_unlock(&self, user: &str) -> Result<()> {
        for factor in [Factor::SecondFactor, Factor::Password] {
            for counter in [Counter::Account, Counter::AccountLock] {
                if let Some(key) = key(factor, counter, user, None) {
                    self.inner.store.reset_counter(&key).await?;
                }
            }
            self.inner
                .store
                .reset_counter(&consecutive_key(factor, user))
                .await?;
            // Marks the moment: account+client counters older than it count as empty.
            let now = self.now();
            let until = now.checked_add(mfa_policy::INDEFINITE).unwrap_or(now);
            self.inner
                .store
                .lock_counter(&unlock_key(factor, user), until, now)
                .await?;
        }
        Ok(())
    }

    /// Whether a password attempt for `user` from `client` may be checked at all. Call before
    /// checking the password; on `LockedOut`, refuse without checking it.
    ///
    /// # Errors
    /// Store failures (refuse the attempt).
    pub async fn check_password_attempt(
        &self,
        user: &str,
        client: &ClientInfo,
    ) -> Result<PasswordCheck> {
        let now = self.now();
        Ok(
            match self
                .limit_check(Factor::Password, user, client, Device::Unknown, now)
                .await?
            {
                None => PasswordCheck::Allowed,
                Some(until) => PasswordCheck::LockedOut { until },
            },
        )
    }

    /// Counts a wrong password. Returns `LockedOut` on the attempt that reaches a limit.
    /// Password counters are separate from the second factor's.
    ///
    /// # Errors
    /// Store failures.
    pub async fn record_password_failure(
        &self,
        user: &str,
        client: &ClientInfo,
    ) -> Result<PasswordCheck> {
        let now = self.now();
        let after = self
            .limit_failure(Factor::Password, user, client, now)
            .await?;
        self.emit(user, Some(client), EventKind::PasswordFailed)
            .await;
        Ok(match after {
            AfterFailure::Continue => PasswordCheck::Allowed,
            AfterFailure::Blocked { until, locked } => {
                if locked {
                    self.emit(user, Some(client), EventKind::LockedOut { until })
                        .await;
                }
                PasswordCheck::LockedOut { until }
            }
        })
    }

    /// Records a correct password: resets the password counters only. The second-factor
    /// counters are never reset by a password.
    ///
    /// # Errors
    /// Store failures.
    pub async fn record_password_success(&self, user: &str, client: &ClientInfo) -> Result<()> {
        self.limit_success(Factor::Password, user, client).await
    }
}
