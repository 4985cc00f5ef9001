//! The one path every attempt takes through the limits: take a unit of each budget of its
//! context before it is evaluated, then settle it: a failure writes its locks and audit (and
//! tells the user once), a success resets the context's counters and refunds the rest, each in
//! one store step ([`FlowStore::settle`](mfa_store::FlowStore::settle)).
//!
//! Second factor (namespace `mfa`) and password (namespace `password`) are counted apart.

use std::time::{Duration, SystemTime};

use mfa_policy::{
    Budget, Context, Counter, CounterState as PolicyState, Decision, Factor, FactorRules,
    FailureState, OnSuccess,
};
use mfa_store::{
    AttemptPlan, ClientInfo, CounterKey, CounterScope, CounterState, CounterTake, Settlement, Take,
};

use crate::context::Attempt;
use crate::error::Result;
use crate::events::{AuditEvent, EventKind};
use crate::facade::Mfa;

fn namespace(factor: Factor) -> &'static str {
    match factor {
        Factor::Password => "password",
        Factor::SecondFactor => "mfa",
    }
}

/// The name of a counter within its factor's namespace (the inverse of [`counter_named`]).
fn counter_name(counter: Counter) -> &'static str {
    match counter {
        Counter::Account => "account",
        Counter::AccountLock => "lock",
        Counter::Consecutive => "consecutive",
        Counter::AccountClient => "account-client",
        Counter::Client => "client",
        Counter::Recognised => "recognised",
    }
}

/// The factor and counter a key of ours names, from its namespace (`mfa.account`, ...).
fn counter_named(key: &CounterKey) -> Option<(Factor, Counter)> {
    let (ns, name) = key.namespace.split_once('.')?;
    let factor = match ns {
        "mfa" => Factor::SecondFactor,
        "password" => Factor::Password,
        _ => return None,
    };
    let counter = [
        Counter::Account,
        Counter::AccountLock,
        Counter::Consecutive,
        Counter::AccountClient,
        Counter::Client,
        Counter::Recognised,
    ]
    .into_iter()
    .find(|c| counter_name(*c) == name)?;
    Some((factor, counter))
}

/// The store key of one of `factor`'s counters for an attempt by `user` from `attempt`;
/// `None` when the attempt has nothing to key it on (no client address, no recognised
/// context), in which case that budget does not apply.
fn key(factor: Factor, counter: Counter, user: &str, attempt: &Attempt) -> Option<CounterKey> {
    let account = || CounterScope::Account(user.to_owned());
    let scope = match counter {
        Counter::Account | Counter::AccountLock | Counter::Consecutive => account(),
        Counter::AccountClient => CounterScope::AccountClient {
            account: user.to_owned(),
            client: attempt.network.clone()?,
        },
        Counter::Client => CounterScope::Client(attempt.network.clone()?),
        Counter::Recognised => CounterScope::AccountClient {
            account: user.to_owned(),
            client: attempt.tag.clone()?,
        },
    };
    let name = format!("{}.{}", namespace(factor), counter_name(counter));
    Some(CounterKey::new(name, scope))
}

/// The record of the last unlock (administrator or emailed link): its `window_start` is the
/// moment of the unlock. Per-context counters cannot be listed by account, so instead of
/// deleting them at the unlock, an attempt that finds one from before the unlock clears it.
pub(crate) fn unlock_key(factor: Factor, user: &str) -> CounterKey {
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

/// Whether a per-context counter (network or recognised context) dates from before the last
/// unlock, and so no longer counts.
fn stale(counter: Counter, state: &CounterState, unlocked: Option<&CounterState>) -> bool {
    matches!(counter, Counter::AccountClient | Counter::Recognised)
        && unlocked.is_some_and(|u| state.window_start <= u.window_start)
}

/// A budget with its store key.
pub(crate) type Slot = (Budget, CounterKey);

/// An attempt that took a unit of every budget of its context and may be evaluated.
#[derive(Debug)]
pub(crate) struct Admitted {
    factor: Factor,
    class: Context,
    slots: Vec<Slot>,
    states: FailureState,
}

/// Whether an attempt may be evaluated.
#[derive(Debug)]
pub(crate) enum Admission {
    /// Yes: evaluate it, then settle its success or its failure.
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

/// A failure's consequences, to settle in one store step.
pub(crate) struct Failure {
    pub(crate) settlement: Settlement,
    pub(crate) events: Vec<AuditEvent>,
    pub(crate) after: AfterFailure,
    /// How long an account-wide lock lasts (`Some(None)`: until an unlock); `None`: no
    /// account-wide lock, nothing to tell the user.
    account_lock: Option<Option<Duration>>,
}

impl Mfa {
    fn rules(&self, factor: Factor) -> &FactorRules {
        self.inner.policy.rules(factor)
    }

    /// The budgets of `attempt`'s context, each with its store key (budgets without a key are
    /// skipped).
    pub(crate) fn slots(&self, factor: Factor, user: &str, attempt: &Attempt) -> Vec<Slot> {
        self.rules(factor)
            .budgets(attempt.class)
            .into_iter()
            .filter_map(|b| Some((b, key(factor, b.counter, user, attempt)?)))
            .collect()
    }

    /// The slots of a plan's list of takes (keys we made, so each names its counter).
    fn slots_of(takes: &[Take]) -> Vec<Slot> {
        takes
            .iter()
            .filter_map(|t| {
                let (_, counter) = counter_named(&t.key)?;
                let budget = Budget {
                    counter,
                    window: t.window,
                    limit: t.limit,
                };
                Some((budget, t.key.clone()))
            })
            .collect()
    }

    /// How attempts on a ticket of `user` made from `attempt` are charged: the recognised
    /// context's budgets when it comes back from the same network, the unrecognised budgets of
    /// the network it was made from otherwise.
    pub(crate) fn plan(&self, factor: Factor, user: &str, attempt: &Attempt) -> AttemptPlan {
        let takes = |slots: Vec<Slot>| {
            slots
                .into_iter()
                .map(|(b, key)| Take::new(key, b.window, b.limit))
                .collect()
        };
        let unrecognised = Attempt::unrecognised(attempt.network.clone());
        let ticket = attempt.ticket_context();
        AttemptPlan {
            tag: ticket.network.clone().filter(|_| ticket.recognised),
            recognised: if ticket.recognised {
                takes(self.slots(factor, user, attempt))
            } else {
                Vec::new()
            },
            unrecognised: takes(self.slots(factor, user, &unrecognised)),
        }
    }

    /// The plan of a ticket that only its own budget and the consecutive count bound (an unlock
    /// ticket: it must work while the account is locked for unrecognised contexts).
    pub(crate) fn own_budget_plan(&self, factor: Factor, user: &str, tag: &str) -> AttemptPlan {
        let own = Attempt {
            class: Context::Recognised,
            network: None,
            tag: Some(tag.to_owned()),
        };
        let takes = self
            .slots(factor, user, &own)
            .into_iter()
            .map(|(b, key)| Take::new(key, b.window, b.limit))
            .collect();
        AttemptPlan {
            tag: None,
            recognised: Vec::new(),
            unrecognised: takes,
        }
    }

    /// Judges the takes an attempt made (from [`FlowStore::attempt`](mfa_store::FlowStore::attempt)
    /// or [`admit`](Self::admit)): admitted when every take counted; else the refusal's end. A
    /// per-context counter refused only because of a lock from before the last unlock is
    /// cleared and the rest of the takes made again, once.
    pub(crate) async fn judge(
        &self,
        factor: Factor,
        user: &str,
        class: Context,
        slots: Vec<Slot>,
        mut results: Vec<CounterTake>,
        now: SystemTime,
    ) -> Result<Admission> {
        let mut retried = false;
        while let Some(refused) = results.iter().position(|r| !r.is_taken()) {
            let (Some((budget, key)), Some(result)) = (slots.get(refused), results.get(refused))
            else {
                break;
            };
            let state = *result.state();
            if !retried {
                let marker = unlock_key(factor, user);
                let unlocked = self.inner.store.counter(&marker, now).await?;
                if stale(budget.counter, &state, unlocked.as_ref()) {
                    retried = true;
                    self.inner.store.reset_counter(key).await?;
                    let rest: Vec<Take> = slots
                        .get(refused..)
                        .unwrap_or_default()
                        .iter()
                        .map(|(b, k)| Take::new(k.clone(), b.window, b.limit))
                        .collect();
                    let again = self.inner.store.take_counters(&rest, now).await?;
                    results.truncate(refused);
                    results.extend(again);
                    continue;
                }
            }
            let states = FailureState::default().with(budget.counter, to_policy(&state));
            let decision = self.rules(factor).refusal(budget, &states, now);
            return Ok(Admission::Refused(until(decision, now).unwrap_or(now)));
        }
        let mut states = FailureState::default();
        for ((budget, _), result) in slots.iter().zip(&results) {
            *states.get_mut(budget.counter) = to_policy(result.state());
        }
        Ok(Admission::Admitted(Box::new(Admitted {
            factor,
            class,
            slots,
            states,
        })))
    }

    /// Judges the takes of a ticket's plan.
    pub(crate) async fn judge_plan(
        &self,
        factor: Factor,
        user: &str,
        plan: Option<&AttemptPlan>,
        recognised: bool,
        results: Vec<CounterTake>,
        now: SystemTime,
    ) -> Result<Admission> {
        let (class, takes) = match (plan, recognised) {
            (Some(p), true) => (Context::Recognised, p.recognised.as_slice()),
            (Some(p), false) => (Context::Unrecognised, p.unrecognised.as_slice()),
            (None, _) => (Context::Unrecognised, &[][..]),
        };
        let slots = Self::slots_of(takes);
        self.judge(factor, user, class, slots, results, now).await
    }

    /// Takes a unit of every budget of `attempt`'s context, atomically per budget, before the
    /// attempt is evaluated: of any number of concurrent attempts, no more are admitted than
    /// the tightest budget allows.
    pub(crate) async fn admit(
        &self,
        factor: Factor,
        user: &str,
        attempt: &Attempt,
        now: SystemTime,
    ) -> Result<Admission> {
        let slots = self.slots(factor, user, attempt);
        let takes: Vec<Take> = slots
            .iter()
            .map(|(b, k)| Take::new(k.clone(), b.window, b.limit))
            .collect();
        let results = self.inner.store.take_counters(&takes, now).await?;
        self.judge(factor, user, attempt.class, slots, results, now)
            .await
    }

    /// The keys [`limit_verdict`](Self::limit_verdict) needs read for `attempt`.
    pub(crate) fn limit_keys(
        &self,
        factor: Factor,
        user: &str,
        attempt: &Attempt,
    ) -> Vec<CounterKey> {
        let mut keys: Vec<CounterKey> = self
            .slots(factor, user, attempt)
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        keys.push(unlock_key(factor, user));
        keys
    }

    /// Until when an attempt from `attempt` would be refused, if it would, from the counters
    /// as read (`read` answers the state of a key): the answer a login start gives before it
    /// creates anything.
    pub(crate) fn limit_verdict(
        &self,
        factor: Factor,
        user: &str,
        attempt: &Attempt,
        read: &dyn Fn(&CounterKey) -> Option<CounterState>,
        now: SystemTime,
    ) -> Option<SystemTime> {
        let unlocked = read(&unlock_key(factor, user));
        let mut states = FailureState::default();
        for (budget, key) in self.slots(factor, user, attempt) {
            if let Some(state) = read(&key)
                && !stale(budget.counter, &state, unlocked.as_ref())
            {
                *states.get_mut(budget.counter) = to_policy(&state);
            }
        }
        until(self.rules(factor).check(attempt.class, &states, now), now)
    }

    /// The consequences of a failed admitted attempt: the locks the policy asks for and the
    /// audit of a lock, to settle in one step with the attempt's own audit records.
    pub(crate) fn failure(
        &self,
        admitted: &Admitted,
        user: &str,
        client: &ClientInfo,
        mut events: Vec<AuditEvent>,
        now: SystemTime,
    ) -> Failure {
        let rules = self.rules(admitted.factor);
        let outcome = rules.after_failure(admitted.class, &admitted.states, now);
        let locks = outcome
            .locks
            .iter()
            .filter_map(|lock| {
                let (_, key) = admitted
                    .slots
                    .iter()
                    .find(|(b, _)| b.counter == lock.counter)?;
                Some((key.clone(), lock.until))
            })
            .collect();
        let blocked = until(outcome.decision, now);
        let mut account_lock = None;
        if let Some(end) = blocked
            && outcome.locked_out()
        {
            let account = FactorRules::locks_account(&outcome);
            let kind = EventKind::LockedOut {
                factor: admitted.factor,
                until: end,
                account,
            };
            events.push(self.event(user, Some(client), kind, now));
            if account {
                let indefinite = outcome
                    .decision
                    .reason()
                    .is_some_and(mfa_policy::Reason::requires_unlock);
                account_lock =
                    Some((!indefinite).then(|| end.duration_since(now).unwrap_or(Duration::ZERO)));
            }
        }
        Failure {
            settlement: Settlement {
                user: user.to_owned(),
                locks,
                ..Settlement::default()
            },
            events,
            after: blocked.map_or(AfterFailure::Continue, AfterFailure::Blocked),
            account_lock,
        }
    }

    /// Settles a failure in one store step and, for a lock of the whole account against
    /// unrecognised contexts, tells the user (once: only the failure that filled the budget
    /// gets here).
    pub(crate) async fn settle_failure(
        &self,
        failure: Failure,
        user: &str,
        now: SystemTime,
    ) -> Result<AfterFailure> {
        self.settle_told(failure.settlement, failure.events, now)
            .await?;
        if let Some(lasts) = failure.account_lock {
            self.account_locked(user, lasts, now).await?;
        }
        Ok(failure.after)
    }

    /// Counts a failed admitted attempt: its audit records, its locks, the notice.
    pub(crate) async fn attempt_failed(
        &self,
        admitted: Box<Admitted>,
        user: &str,
        client: &ClientInfo,
        events: Vec<AuditEvent>,
        now: SystemTime,
    ) -> Result<AfterFailure> {
        let failure = self.failure(&admitted, user, client, events, now);
        self.settle_failure(failure, user, now).await
    }

    /// What a success of an admitted attempt does to its budgets: the context's own counters
    /// and the consecutive count reset, the account-wide and per-network budgets refunded the
    /// one unit this attempt took.
    pub(crate) fn success(admitted: &Admitted, settlement: &mut Settlement) {
        for (budget, key) in &admitted.slots {
            match budget.counter.on_success() {
                OnSuccess::Reset => settlement.resets.push(key.clone()),
                OnSuccess::Refund => settlement.refunds.push(key.clone()),
            }
        }
    }

    /// Gives back every unit an admitted attempt took: for an attempt refused because it needs
    /// no secret (a guess at a code never sent), which must count nowhere.
    pub(crate) fn undo_into(admitted: &Admitted, settlement: &mut Settlement) {
        settlement
            .refunds
            .extend(admitted.slots.iter().map(|(_, k)| k.clone()));
    }

    /// Gives back, in one store step, every unit an admitted attempt took: nothing was
    /// evaluated (the application's password check was unavailable).
    pub(crate) async fn attempt_given_back(
        &self,
        admitted: &Admitted,
        user: &str,
        now: SystemTime,
    ) -> Result<()> {
        let mut settlement = Settlement {
            user: user.to_owned(),
            ..Settlement::default()
        };
        Self::undo_into(admitted, &mut settlement);
        self.inner.store.settle(settlement, now).await?;
        Ok(())
    }

    /// Settles a success of an admitted attempt in one store step.
    pub(crate) async fn attempt_succeeded(
        &self,
        admitted: &Admitted,
        user: &str,
        events: Vec<AuditEvent>,
        now: SystemTime,
    ) -> Result<bool> {
        let mut settlement = Settlement {
            user: user.to_owned(),
            ..Settlement::default()
        };
        Self::success(admitted, &mut settlement);
        self.settle_told(settlement, events, now).await
    }

    /// Lifts `user`'s account-wide locks and failure counts of both factors, and marks the
    /// moment so that per-context locks from before it are forgotten at their next use.
    pub(crate) async fn limit_unlock(&self, user: &str, now: SystemTime) -> Result<()> {
        let none = Attempt::unrecognised(None);
        let mut settlement = Settlement {
            user: user.to_owned(),
            ..Settlement::default()
        };
        let forever = now.checked_add(mfa_policy::INDEFINITE).unwrap_or(now);
        for factor in [Factor::SecondFactor, Factor::Password] {
            for counter in [Counter::Account, Counter::AccountLock, Counter::Consecutive] {
                settlement.resets.extend(key(factor, counter, user, &none));
            }
            settlement.locks.push((unlock_key(factor, user), forever));
        }
        self.inner.store.settle(settlement, now).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_names_its_counter() {
        let attempt = Attempt {
            class: Context::Recognised,
            network: Some("203.0.113.7/32".into()),
            tag: Some("net:203.0.113.7/32".into()),
        };
        for factor in [Factor::Password, Factor::SecondFactor] {
            for counter in Counter::ALL {
                let k = key(factor, counter, "u", &attempt).unwrap();
                assert_eq!(counter_named(&k), Some((factor, counter)));
            }
        }
        assert_eq!(counter_named(&unlock_key(Factor::Password, "u")), None);
    }
}
