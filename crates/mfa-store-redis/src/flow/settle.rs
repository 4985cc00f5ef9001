//! `settle`: the conditions (a TOTP step to advance, challenges to consume), then, only if all
//! held, the counters and the audit records (`flow_settle.lua`).
//!
//! A standalone server runs the whole settlement in one script: all or nothing. On a Cluster
//! the conditions live on the user's slot (the factor and the challenges are the user's, found
//! under the user's tag), so one script there checks them and applies what lives on that slot;
//! only if they held are the other slots' operations (client counters, another user's audit
//! record) sent, one script per slot, all at once. A settlement without conditions sends every
//! slot's script at once.

use std::collections::BTreeMap;
use std::time::SystemTime;

use futures_util::future::join_all;
use mfa_store::{Result, Settlement, StoreError};

use crate::RedisStore;
use crate::audit::encode;
use crate::codec::to_ms;
use crate::scripts::{FLOW_SETTLE, Invocation};
use crate::store::Op;

/// One operation of a settlement: the marker of its slot, its keys and its arguments (the
/// operation's name first).
struct Step {
    marker: String,
    keys: Vec<String>,
    args: Vec<Vec<u8>>,
    condition: bool,
}

impl RedisStore {
    /// The settlement's operations, in the order `flow_settle.lua` applies them (the order of
    /// the provided `FlowStore::settle`).
    fn steps(&self, settlement: &Settlement) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut push = |key: String, more: Vec<String>, args: Vec<Vec<u8>>, condition: bool| {
            let marker = self.keys.marker_for(&key);
            let mut keys = vec![key];
            keys.extend(more);
            steps.push(Step {
                marker,
                keys,
                args,
                condition,
            });
        };
        let user = &settlement.user;
        if let Some((factor, step)) = &settlement.advance {
            let key = format!("{}{factor}", self.keys.totp_base(user));
            push(key, Vec::new(), args(&["advance", &step.to_string()]), true);
        }
        for id in &settlement.consume {
            push(
                self.challenge_key(user, id),
                Vec::new(),
                args(&["consume"]),
                true,
            );
        }
        for key in &settlement.resets {
            push(self.keys.counter(key), Vec::new(), args(&["reset"]), false);
        }
        for key in &settlement.refunds {
            push(self.keys.counter(key), Vec::new(), args(&["refund"]), false);
        }
        for (key, until) in &settlement.locks {
            let until = to_ms(*until).to_string();
            push(
                self.keys.counter(key),
                Vec::new(),
                args(&["lock", &until]),
                false,
            );
        }
        for event in &settlement.audit {
            let at = to_ms(event.at).to_string();
            push(
                self.keys.audit(&event.user),
                vec![self.keys.audit_seq(&event.user)],
                args(&["audit", &at, &encode(event)]),
                false,
            );
        }
        steps
    }

    /// One `flow_settle.lua` call over `steps`: their slots' markers, then each operation.
    fn settle_invocation(&self, steps: &[&Step], now: SystemTime) -> Invocation<'static> {
        let mut markers: Vec<&str> = Vec::new();
        for step in steps {
            if !markers.contains(&step.marker.as_str()) {
                markers.push(&step.marker);
            }
        }
        let mut invocation = FLOW_SETTLE.prepare();
        invocation.arg(to_ms(now)).arg(markers.len());
        for marker in markers {
            invocation.key(marker);
        }
        for step in steps {
            invocation
                .key(step.keys.as_slice())
                .arg(step.args.as_slice());
        }
        invocation
    }

    pub(crate) async fn flow_settle(
        &self,
        settlement: &Settlement,
        now: SystemTime,
    ) -> Result<bool> {
        // The contract keeps a settlement inside its user (and so, on a Cluster, inside the
        // user's slot for its conditions): refused before anything is sent.
        if !settlement.is_own() {
            return Ok(false);
        }
        let steps = self.steps(settlement);
        if steps.is_empty() {
            return Ok(true);
        }
        if !self.is_cluster() {
            let all: Vec<&Step> = steps.iter().collect();
            return held(
                self.eval(&self.settle_invocation(&all, now), Op::Guard)
                    .await?,
            );
        }
        // By slot, in order within each; the conditions' slot (the user's) first.
        let mut by_slot: BTreeMap<&str, Vec<&Step>> = BTreeMap::new();
        for step in &steps {
            by_slot.entry(step.marker.as_str()).or_default().push(step);
        }
        let conditions = steps
            .iter()
            .find(|s| s.condition)
            .map(|s| s.marker.as_str());
        if let Some(marker) = conditions {
            let first = by_slot.remove(marker).unwrap_or_default();
            if !held(
                self.eval(&self.settle_invocation(&first, now), Op::Guard)
                    .await?,
            )? {
                return Ok(false);
            }
        }
        let rest: Vec<_> = by_slot
            .values()
            .map(|group| self.settle_invocation(group, now))
            .collect();
        for reply in join_all(rest.iter().map(|i| self.eval::<i64>(i, Op::Guard))).await {
            if reply? != 1 {
                return Err(StoreError::corrupt("settle reply"));
            }
        }
        Ok(true)
    }
}

fn args(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

fn held(reply: i64) -> Result<bool> {
    match reply {
        1 => Ok(true),
        0 => Ok(false),
        _ => Err(StoreError::corrupt("settle reply")),
    }
}
