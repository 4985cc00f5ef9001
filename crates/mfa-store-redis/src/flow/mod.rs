//! [`FlowStore`] on Redis: the coarse operations of a login, one script each on a standalone
//! server (four round trips for a full TOTP login), split by hash slot on a Cluster.
//!
//! Each script runs the same Lua library functions as the entity operations it stands for
//! (`src/lua/lib/`), checks the data-loss marker of every slot it touches before its first
//! write, and waits for replicas behind it when it makes a single-use write
//! ([`Durability`](crate::Durability)). On a standalone server a script may touch keys of any
//! slot, and every key it is given is in `KEYS`; the one exception is `attempt`, which gets only
//! an id and so finds the challenge, its plan's counters and the user's factors by the names
//! the store wrote beside the id mapping and into the challenge when it made it. On a Cluster a
//! script only touches one slot: see each module for how an operation is split and what that
//! costs.

mod attempt;
mod open;
mod plan;
mod settle;
mod view;

use std::time::SystemTime;

use async_trait::async_trait;
use mfa_store::{
    AttemptView, AuditEvent, Challenge, CounterKey, CounterTake, FlowStore, LoginView, Result,
    Settlement, StoreError, Take,
};

use crate::RedisStore;

#[async_trait]
impl FlowStore for RedisStore {
    /// One script (`flow_view.lua`); on a Cluster one per slot of the counters, at once.
    async fn login_view(
        &self,
        user: &str,
        keys: &[CounterKey],
        now: SystemTime,
    ) -> Result<LoginView> {
        self.flow_login_view(user, keys, now).await
    }

    /// One script (`flow_open.lua`); on a Cluster two round trips (see `open`).
    async fn open_ticket(
        &self,
        ticket: Challenge,
        budget: &Take,
        audit: AuditEvent,
        now: SystemTime,
    ) -> Result<CounterTake> {
        self.open(&ticket, Some(budget), Some(&audit), now)
            .await?
            .ok_or_else(|| StoreError::corrupt("open_ticket reply without the budget's take"))
    }

    /// One script (`flow_attempt.lua`); on a Cluster the mapping, the user's slot, then one
    /// script per further run of same-slot takes (see `attempt`).
    async fn attempt(
        &self,
        id: &str,
        tag: Option<&str>,
        factors: bool,
        now: SystemTime,
    ) -> Result<AttemptView> {
        self.flow_attempt(id, tag, factors, now).await
    }

    /// One script (`flow_settle.lua`): all or nothing; on a Cluster the user's slot decides,
    /// then the other slots (see `settle`).
    async fn settle(&self, settlement: Settlement, now: SystemTime) -> Result<bool> {
        self.flow_settle(&settlement, now).await
    }
}
