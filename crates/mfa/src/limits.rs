//! The one path every attempt takes through the limits: take a unit of each budget of its
//! context before it is evaluated, then count the failure (write locks, audit and tell the
//! user once) or settle the success (reset the context's counters, refund the rest).
//!
//! Second factor (namespace `mfa`) and password (namespace `password`) are counted apart.

use std::time::{Duration, SystemTime};

use mfa_policy::{
    Budget, Counter, CounterState as PolicyState, Decision, Factor, FactorRules, FailureState,
    OnSuccess,
};
use mfa_store::{ClientInfo, CounterKey, CounterScope, CounterState, Take};

use crate::context::Attempt;
use crate::error::Result;
use crate::events::EventKind;
use crate::facade::Mfa;

fn namespace(factor: Factor) -> &'static str {
    match factor {
        Factor::Password => "password",
        Factor::SecondFactor => "mfa",
    }
}

/// The store key of one of `factor`'s counters for an attempt by `user` from `attempt`;
/// `None` when the attempt has nothing to key it on (no client address, no recognised
/// context), in which case that budget does not apply.
fn key(factor: Factor, counter: Counter, user: &str, attempt: &Attempt) -> Option<CounterKey> {
    let ns = namespace(factor);
    let account = || CounterScope::Account(user.to_owned());
    let (name, scope) = match counter {
        Counter::Account => ("account", account()),
        Counter::AccountLock => ("lock", account()),
        Counter::Consecutive => ("consecutive", account()),
        Counter::AccountClient => (
            "account-client",
            CounterScope::AccountClient {
                account: user.to_owned(),
                client: attempt.network.clone()?,
            },
        ),
        Counter::Client => ("client", CounterScope::Client(attempt.network.clone()?)),
        Counter::Recognised => (
            "recognised",
            CounterScope::AccountClient {
                account: user.to_owned(),
                client: attempt.tag.clone()?,
            },
        ),
    };
    Some(CounterKey::new(format!("{ns}.{name}"), scope))
}

/// The record of the last unlock (administrator or emailed link): its `window_start` is the
/// moment of the unlock. Per-context counters cannot be listed by account, so instead of
/// deleting them at the unlock, an attempt that finds one from before the unlock clears it.
fn unlock_key(factor: Factor, user: &str) -> CounterKey {
    CounterKey::new(
        format!("{}.unlocked", namespace(factor)),
        CounterScope::Account(user.to_owned()),
    )
}

fn to_policy(state: &CounterState) -> PolicyState {
    PolicyState {
        window_start: state.window_start,
        count: state.count,
        locked_until: state.locked_until,
    }
}

fn until(decision: Decision, now: SystemTime) -> Option<SystemTime> {
    decision
        .retry_after(now)
        .map(|d| now.checked_add(d).unwrap_or(now))
}

/// An attempt that took a unit of every budget of its context and may be evaluated.
#[derive(Debug)]
pub(crate) struct Admitted {
    factor: Factor,
    pub(crate) attempt: Attempt,
    slots: Vec<(Budget, CounterKey)>,
    states: FailureState,
}

/// Whether an attempt may be evaluated.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Yes: evaluate it, then call [`Mfa::attempt_failed`] or [`Mfa::attempt_succeeded`].
    Admitted(Box<Admitted>),
    /// No: a budget of its context is spent or locked until then.
    Refused(SystemTime),
}

/// What a counted failure led to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AfterFailure {
    /// More attempts may follow.
    Continue,
    /// The next attempt is refused until `until` (this failure locked or filled a budget).
    Blocked(SystemTime),
}

impl Mfa {
    fn rules(&self, factor: Factor) -> &FactorRules {
        self.inner.policy.rules(factor)
    }

    /// The budgets of `attempt`'s context, each with its store key (budgets without a key are
    /// skipped).
    fn slots(&self, factor: Factor, user: &str, attempt: &Attempt) -> Vec<(Budget, CounterKey)> {
        self.rules(factor)
            .budgets(attempt.class)
            .into_iter()
            .filter_map(|b| Some((b, key(factor, b.counter, user, attempt)?)))
            .collect()
    }

    /// Whether `state` of a per-context counter dates from before the user's last unlock.
    async fn before_unlock(
        &self,
        factor: Factor,
        user: &str,
        state: &CounterState,
        now: SystemTime,
    ) -> Result<bool> {
        let unlocked = self
            .inner
            .store
            .counter(&unlock_key(factor, user), now)
            .await?;
        Ok(unlocked.is_some_and(|u| state.window_start <= u.window_start))
    }

    /// Takes a unit of every budget of `attempt`'s context, atomically per budget, before the
    /// attempt is evaluated: of any number of concurrent attempts, no more are admitted than
    /// the tightest budget allows.
    pub(crate) async fn admit(
        &self,
        factor: Factor,
        user: &str,
        attempt: Attempt,
        now: SystemTime,
    ) -> Result<Admission> {
        let slots = self.slots(factor, user, &attempt);
        let takes: Vec<Take> = slots
            .iter()
            .map(|(b, k)| Take::new(k.clone(), b.window, b.limit))
            .collect();
        let mut results = self.inner.store.take_counters(&takes, now).await?;
        let mut retried = false;
        while let Some(refused) = results.iter().position(|r| !r.is_taken()) {
            let (Some((budget, key)), Some(result)) = (slots.get(refused), results.get(refused))
            else {
                break;
            };
            let per_context =
                matches!(budget.counter, Counter::AccountClient | Counter::Recognised);
            let state = *result.state();
            if !retried && per_context && self.before_unlock(factor, user, &state, now).await? {
                // A lock from before an unlock: forget it once, and take again from here.
                retried = true;
                self.inner.store.reset_counter(key).await?;
                let rest = takes.get(refused..).unwrap_or_default();
                let again = self.inner.store.take_counters(rest, now).await?;
                results.truncate(refused);
                results.extend(again);
                continue;
            }
            let mut states = FailureState::default();
            *states.get_mut(budget.counter) = to_policy(&state);
            let decision = self.rules(factor).refusal(budget, &states, now);
            return Ok(Admission::Refused(until(decision, now).unwrap_or(now)));
        }
        let mut states = FailureState::default();
        for ((budget, _), result) in slots.iter().zip(&results) {
            *states.get_mut(budget.counter) = to_policy(result.state());
        }
        Ok(Admission::Admitted(Box::new(Admitted {
            factor,
            attempt,
            slots,
            states,
        })))
    }

    /// Reads the budgets of `attempt`'s context and says until when an attempt would be
    /// refused, if it would: the answer a login start gives before it creates anything.
    pub(crate) async fn limit_check(
        &self,
        factor: Factor,
        user: &str,
        attempt: &Attempt,
        now: SystemTime,
    ) -> Result<Option<SystemTime>> {
        let slots = self.slots(factor, user, attempt);
        let mut keys: Vec<CounterKey> = slots.iter().map(|(_, k)| k.clone()).collect();
        keys.push(unlock_key(factor, user));
        let mut read = self.inner.store.counters(&keys, now).await?;
        let unlocked = read.pop().flatten();
        let mut states = FailureState::default();
        for ((budget, _), state) in slots.iter().zip(&read) {
            let Some(state) = state else { continue };
            let stale = matches!(budget.counter, Counter::AccountClient | Counter::Recognised)
                && unlocked.is_some_and(|u| state.window_start <= u.window_start);
            if !stale {
                *states.get_mut(budget.counter) = to_policy(state);
            }
        }
        let decision = self.rules(factor).check(attempt.class, &states, now);
        Ok(until(decision, now))
    }

    /// Counts a failure of an admitted attempt: writes the locks the policy asks for and, on
    /// the one attempt that locked, audits the lock and (for a lock of the whole account
    /// against unrecognised contexts) tells the user, with an unlock link.
    pub(crate) async fn attempt_failed(
        &self,
        admitted: Box<Admitted>,
        user: &str,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<AfterFailure> {
        let rules = self.rules(admitted.factor);
        let outcome = rules.after_failure(admitted.attempt.class, &admitted.states, now);
        for lock in &outcome.locks {
            if let Some((_, key)) = admitted
                .slots
                .iter()
                .find(|(b, _)| b.counter == lock.counter)
            {
                // One atomic step: the lock starts an empty window, as the policy expects.
                self.inner.store.lock_counter(key, lock.until, now).await?;
            }
        }
        let Some(blocked_until) = until(outcome.decision, now) else {
            return Ok(AfterFailure::Continue);
        };
        if outcome.locked_out() {
            let account = FactorRules::locks_account(&outcome);
            self.emit(
                user,
                Some(client),
                EventKind::LockedOut {
                    factor: admitted.factor,
                    until: blocked_until,
                    account,
                },
            )
            .await;
            if account {
                let indefinite = outcome
                    .decision
                    .reason()
                    .is_some_and(mfa_policy::Reason::requires_unlock);
                let lasts = (!indefinite)
                    .then(|| blocked_until.duration_since(now).unwrap_or(Duration::ZERO));
                self.account_locked(user, lasts, now).await?;
            }
        }
        Ok(AfterFailure::Blocked(blocked_until))
    }

    /// Settles a success of an admitted attempt: the context's own counters and the
    /// consecutive count are reset, the account-wide and per-network budgets get back the one
    /// unit this attempt took.
    pub(crate) async fn attempt_succeeded(
        &self,
        admitted: &Admitted,
        now: SystemTime,
    ) -> Result<()> {
        for (budget, key) in &admitted.slots {
            match budget.counter.on_success() {
                OnSuccess::Reset => self.inner.store.reset_counter(key).await?,
                OnSuccess::Refund => self.inner.store.refund_counter(key, now).await?,
            }
        }
        Ok(())
    }

    /// Lifts `user`'s account-wide locks and failure counts of both factors, and marks the
    /// moment so that per-context locks from before it are forgotten at their next use.
    pub(crate) async fn limit_unlock(&self, user: &str, now: SystemTime) -> Result<()> {
        let none = Attempt::unrecognised(None);
        for factor in [Factor::SecondFactor, Factor::Password] {
            for counter in [Counter::Account, Counter::AccountLock, Counter::Consecutive] {
                if let Some(key) = key(factor, counter, user, &none) {
                    self.inner.store.reset_counter(&key).await?;
                }
            }
            let forever = now.checked_add(mfa_policy::INDEFINITE).unwrap_or(now);
            self.inner
                .store
                .lock_counter(&unlock_key(factor, user), forever, now)
                .await?;
        }
        Ok(())
    }
}
