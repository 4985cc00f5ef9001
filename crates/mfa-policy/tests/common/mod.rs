//! A reference store for the tests: counters kept in memory with the documented semantics
//! (hit, lock, reset on success), driven by explicit times.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mfa_policy::{
    Counter, CounterState, Decision, Device, FactorRules, FailureOutcome, FailureState,
};

/// 2023-11-14T22:13:20Z.
pub(crate) fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

pub(crate) fn at(secs: u64) -> SystemTime {
    t0() + Duration::from_secs(secs)
}

/// The counters of one (account, client) pair, as a store would keep them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sim {
    pub(crate) state: FailureState,
}

impl Sim {
    pub(crate) fn device(mut self, device: Device) -> Self {
        self.state.device = device;
        self
    }

    /// Pre-check; when allowed, records a failure and returns the outcome (locks applied).
    pub(crate) fn fail(
        &mut self,
        rules: &FactorRules,
        now: SystemTime,
    ) -> Result<FailureOutcome, Decision> {
        let pre = rules.check(&self.state, now);
        if !pre.is_allowed() {
            return Err(pre);
        }
        self.record_failure(rules, now);
        let outcome = rules.after_failure(&self.state, now);
        for lock in &outcome.locks {
            let c = self.state.get_mut(lock.counter);
            *c = c.lock(lock.until, now);
        }
        Ok(outcome)
    }

    /// The store's hits for one failure: every counter that is on, and the consecutive count.
    pub(crate) fn record_failure(&mut self, rules: &FactorRules, now: SystemTime) {
        for counter in Counter::ALL {
            if let Some(window) = rules.window(counter) {
                let c = self.state.get_mut(counter);
                *c = c.hit(window, now);
            }
        }
        self.state.consecutive_failures = self.state.consecutive_failures.saturating_add(1);
    }

    /// A success: resets what the policy says a success resets.
    pub(crate) fn succeed(&mut self, now: SystemTime) {
        for counter in Counter::ALL {
            if counter.resets_on_success() {
                *self.state.get_mut(counter) = CounterState::fresh(now);
            }
        }
        self.state.consecutive_failures = 0;
    }

    /// An administrator unlock: every account counter and the consecutive count cleared.
    pub(crate) fn admin_unlock(&mut self, now: SystemTime) {
        self.succeed(now);
    }
}
