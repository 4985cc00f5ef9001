//! A reference store for the tests: counters kept in memory with the documented semantics
//! (bounded take before the attempt, lock, reset or refund on success), driven by explicit
//! times, one attempt at a time.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mfa_policy::{
    Context, Counter, CounterState, Decision, FactorRules, FailureOutcome, FailureState, OnSuccess,
};

/// 2023-11-14T22:13:20Z.
pub(crate) fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

pub(crate) fn at(secs: u64) -> SystemTime {
    t0() + Duration::from_secs(secs)
}

/// The counters one attempt sees: those of its account, its network and its recognised
/// context, as a store would keep them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sim {
    pub(crate) state: FailureState,
    pub(crate) context: Context,
}

impl Sim {
    pub(crate) fn recognised() -> Self {
        Self {
            context: Context::Recognised,
            ..Self::default()
        }
    }

    /// This simulation's counters seen from another context (same account counters).
    pub(crate) fn from(&self, context: Context) -> Self {
        Self {
            state: self.state,
            context,
        }
    }

    /// Takes a unit of every budget in order, as the facade does before evaluating; on a
    /// refusal returns its decision (the takes before it stay counted).
    pub(crate) fn take(&mut self, rules: &FactorRules, now: SystemTime) -> Result<(), Decision> {
        for budget in rules.budgets(self.context) {
            let counter = self.state.get_mut(budget.counter);
            let (next, taken) = counter.take(budget.window, budget.limit, now);
            *counter = next;
            if !taken {
                return Err(rules.refusal(&budget, &self.state, now));
            }
        }
        Ok(())
    }

    /// One attempt that fails: take, then the policy's decision with its locks applied.
    pub(crate) fn fail(
        &mut self,
        rules: &FactorRules,
        now: SystemTime,
    ) -> Result<FailureOutcome, Decision> {
        self.take(rules, now)?;
        let outcome = rules.after_failure(self.context, &self.state, now);
        for lock in &outcome.locks {
            let c = self.state.get_mut(lock.counter);
            *c = c.lock(lock.until, now);
        }
        Ok(outcome)
    }

    /// One attempt that succeeds: take, then reset or refund what the policy says.
    pub(crate) fn succeed(&mut self, rules: &FactorRules, now: SystemTime) -> Result<(), Decision> {
        self.take(rules, now)?;
        for budget in rules.budgets(self.context) {
            let c = self.state.get_mut(budget.counter);
            *c = match budget.counter.on_success() {
                OnSuccess::Reset => CounterState::default(),
                OnSuccess::Refund => c.refund(budget.window, now),
            };
        }
        Ok(())
    }

    /// An unlock: the account-wide counters and the consecutive count cleared.
    pub(crate) fn unlock(&mut self) {
        for counter in [Counter::Account, Counter::AccountLock, Counter::Consecutive] {
            *self.state.get_mut(counter) = CounterState::default();
        }
    }

    /// Counters of another network (same account): the per-network ones start empty.
    pub(crate) fn other_network(&self) -> Self {
        let mut next = self.clone();
        *next.state.get_mut(Counter::AccountClient) = CounterState::default();
        *next.state.get_mut(Counter::Client) = CounterState::default();
        *next.state.get_mut(Counter::Recognised) = CounterState::default();
        next
    }
}
