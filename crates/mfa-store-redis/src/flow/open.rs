//! `open_ticket`, and `create_challenge` (an opening without a budget or an audit record).
//!
//! One script on a standalone server: the budget's take, the id's claim with its route, the
//! challenge and the audit record (`flow_open.lua`). On a Cluster the parts live in three
//! slots: the claim (the id's slot) and a budget on another slot than the user's are sent
//! together, then the user's slot stores the challenge, with the budget when it lives there and
//! the audit record (the user's own): two round trips. A claim before the take is harmless when
//! the take is refused: a mapping that leads to no challenge, which a later claim takes over.

use std::time::SystemTime;

use mfa_store::{
    AuditEvent, Challenge, CounterStore, CounterTake, Result, StoreError, Take, window_end,
};
use redis::Value;

use crate::RedisStore;
use crate::audit::encode;
use crate::codec::to_ms;
use crate::counter::decode_take;
use crate::scripts::{FLOW_OPEN, Invocation};
use crate::slot::slot;
use crate::store::{Op, decode};

/// What `flow_open.lua` answered.
enum Opening {
    /// The budget refused: nothing else was done.
    Refused(CounterTake),
    /// The budget (if any) was taken, but another user's mapping holds the id: nothing else
    /// was done.
    Held(Option<CounterTake>),
    /// Done; the budget's take, if there was one.
    Opened(Option<CounterTake>),
}

fn parse(reply: Value) -> Result<Opening> {
    let corrupt = || StoreError::corrupt("open_ticket reply");
    let parts: Vec<Value> = decode(reply)?;
    let mut parts = parts.into_iter();
    let status: Vec<u8> = decode(parts.next().ok_or_else(corrupt)?)?;
    let take: Vec<Vec<u8>> = decode(parts.next().ok_or_else(corrupt)?)?;
    let take = if take.is_empty() {
        None
    } else {
        Some(decode_take(&take)?)
    };
    match (status.as_slice(), take) {
        (b"refused", Some(take)) => Ok(Opening::Refused(take)),
        (b"held", take) => Ok(Opening::Held(take)),
        (b"opened", take) => Ok(Opening::Opened(take)),
        _ => Err(corrupt()),
    }
}

impl RedisStore {
    /// Takes `budget` (if any) and, only if it counted, stores `ticket` as `create_challenge`
    /// does and appends `audit` (if any). Returns the take (`None` without a budget).
    pub(crate) async fn open(
        &self,
        ticket: &Challenge,
        budget: Option<&Take>,
        audit: Option<&AuditEvent>,
        now: SystemTime,
    ) -> Result<Option<CounterTake>> {
        if self.is_cluster() {
            return self.open_by_slot(ticket, budget, audit, now).await;
        }
        let mut invocation = FLOW_OPEN.prepare();
        invocation.arg(to_ms(now));
        if let Some(budget) = budget {
            self.budget_section(&mut invocation, budget, now);
        }
        self.claim_section(&mut invocation, ticket);
        self.store_section(&mut invocation, ticket);
        if let Some(audit) = audit {
            self.audit_section(&mut invocation, audit);
        }
        match parse(self.eval(&invocation, op(budget)).await?)? {
            Opening::Refused(take) => Ok(Some(take)),
            Opening::Opened(take) => Ok(take),
            Opening::Held(take) => {
                self.open_held_or_refund(ticket, budget, take.as_ref(), audit, now)
                    .await?;
                Ok(take)
            }
        }
    }

    /// `open_held`; on `Conflict` the unit `take` counted is given back first (the contract:
    /// a conflicting open changes nothing).
    async fn open_held_or_refund(
        &self,
        ticket: &Challenge,
        budget: Option<&Take>,
        take: Option<&CounterTake>,
        audit: Option<&AuditEvent>,
        now: SystemTime,
    ) -> Result<()> {
        match self.open_held(ticket, audit, now).await {
            Err(StoreError::Conflict(what)) => {
                if let (Some(budget), Some(take)) = (budget, take)
                    && take.is_taken()
                {
                    self.refund_counter(&budget.key, now).await?;
                }
                Err(StoreError::Conflict(what))
            }
            other => other,
        }
    }

    /// The Cluster's opening: the claim and a budget of another slot at once, then the
    /// user's slot, then an audit record of another user's slot.
    async fn open_by_slot(
        &self,
        ticket: &Challenge,
        budget: Option<&Take>,
        audit: Option<&AuditEvent>,
        now: SystemTime,
    ) -> Result<Option<CounterTake>> {
        let user_slot = slot(self.keys.user(&ticket.user).as_bytes());
        let apart = budget.filter(|b| slot(self.keys.counter(&b.key).as_bytes()) != user_slot);
        let audit_apart = audit.filter(|a| slot(self.keys.audit(&a.user).as_bytes()) != user_slot);

        let mut claim = FLOW_OPEN.prepare();
        claim.arg(to_ms(now));
        self.claim_section(&mut claim, ticket);
        let claim = async { parse(self.eval(&claim, Op::Write).await?) };
        let take_apart = async {
            match apart {
                Some(budget) => self.take_one(budget, now).await.map(Some),
                None => Ok(None),
            }
        };
        let (claimed, taken_apart) = futures_util::future::join(claim, take_apart).await;
        let taken_apart = taken_apart?;
        if let Some(take) = &taken_apart
            && !take.is_taken()
        {
            return Ok(taken_apart);
        }
        let here = budget.filter(|_| apart.is_none());
        if let Opening::Held(_) = claimed? {
            // Another user's mapping holds the id: as create_challenge, after the take.
            let take = match here {
                Some(budget) => Some(self.take_one(budget, now).await?),
                None => taken_apart,
            };
            if take.as_ref().is_some_and(|t| !t.is_taken()) {
                return Ok(take);
            }
            self.open_held_or_refund(ticket, budget, take.as_ref(), audit, now)
                .await?;
            return Ok(take);
        }

        let mut store = FLOW_OPEN.prepare();
        store.arg(to_ms(now));
        if let Some(budget) = here {
            self.budget_section(&mut store, budget, now);
        }
        self.store_section(&mut store, ticket);
        if let Some(audit) = audit.filter(|_| audit_apart.is_none()) {
            self.audit_section(&mut store, audit);
        }
        let take = match parse(self.eval(&store, op(here)).await?)? {
            Opening::Refused(take) => return Ok(Some(take)),
            Opening::Opened(take) => take.or(taken_apart),
            Opening::Held(_) => return Err(StoreError::corrupt("open_ticket reply")),
        };
        if let Some(audit) = audit_apart {
            self.append_one(audit, now).await?;
        }
        Ok(take)
    }

    /// After a refused claim (the budget, if any, taken): `create_challenge`'s way to the id
    /// (`Conflict` while another user's challenge holds it, else taking the stale mapping
    /// over), then the challenge and the audit record.
    async fn open_held(
        &self,
        ticket: &Challenge,
        audit: Option<&AuditEvent>,
        now: SystemTime,
    ) -> Result<()> {
        self.claim_challenge_id(&ticket.id, &ticket.user, to_ms(ticket.expires_at))
            .await?;
        let mut store = FLOW_OPEN.prepare();
        store.arg(to_ms(now));
        self.store_section(&mut store, ticket);
        let user_slot = slot(self.keys.user(&ticket.user).as_bytes());
        let (together, apart) = match audit {
            Some(a)
                if !self.is_cluster() || slot(self.keys.audit(&a.user).as_bytes()) == user_slot =>
            {
                (Some(a), None)
            }
            other => (None, other),
        };
        if let Some(audit) = together {
            self.audit_section(&mut store, audit);
        }
        parse(self.eval(&store, Op::Write).await?)?;
        if let Some(audit) = apart {
            self.append_one(audit, now).await?;
        }
        Ok(())
    }

    /// One take, in a script of its own.
    async fn take_one(&self, budget: &Take, now: SystemTime) -> Result<CounterTake> {
        let mut taken = self
            .take_group(std::slice::from_ref(budget), &[0], now)
            .await?;
        taken
            .pop()
            .ok_or_else(|| StoreError::corrupt("counter take reply"))
    }

    /// One audit record, in a script of its own.
    async fn append_one(&self, audit: &AuditEvent, now: SystemTime) -> Result<()> {
        let mut invocation = FLOW_OPEN.prepare();
        invocation.arg(to_ms(now));
        self.audit_section(&mut invocation, audit);
        parse(self.eval(&invocation, Op::Write).await?).map(drop)
    }

    fn budget_section(&self, invocation: &mut Invocation<'_>, budget: &Take, now: SystemTime) {
        invocation.arg("budget");
        self.push_counter(invocation, &budget.key);
        invocation
            .arg(to_ms(window_end(now, budget.window)))
            .arg(budget.limit);
    }

    fn claim_section(&self, invocation: &mut Invocation<'_>, ticket: &Challenge) {
        let mapping = self.keys.challenge_owner(&ticket.id);
        let route = self.route_fields(&ticket.user, &ticket.id);
        invocation
            .arg("claim")
            .key(self.keys.marker_for(&mapping))
            .key(mapping)
            .key(self.keys.challenge_route(&ticket.id))
            .arg(&ticket.user)
            .arg(to_ms(ticket.expires_at))
            .arg(route.len())
            .arg(route.as_slice());
    }

    fn store_section(&self, invocation: &mut Invocation<'_>, ticket: &Challenge) {
        let base = self.keys.challenge_base(&ticket.user);
        let key = format!("{base}{}", ticket.id);
        let fields = self.challenge_fields(ticket);
        invocation
            .arg("store")
            .key(self.keys.marker_for(&key))
            .key(key)
            .key(format!(
                "{}{}",
                self.keys.purpose_base(&ticket.user),
                ticket.purpose
            ))
            .key(self.keys.challenge_index(&ticket.user))
            .arg(base)
            .arg(&ticket.id)
            .arg(&ticket.purpose)
            .arg(to_ms(ticket.expires_at))
            .arg(fields.len())
            .arg(fields.as_slice());
    }

    fn audit_section(&self, invocation: &mut Invocation<'_>, audit: &AuditEvent) {
        let zset = self.keys.audit(&audit.user);
        invocation
            .arg("audit")
            .key(self.keys.marker_for(&zset))
            .key(zset)
            .key(self.keys.audit_seq(&audit.user))
            .arg(to_ms(audit.at))
            .arg(encode(audit));
    }
}

/// A take is a single-use write (it waits for replicas); a plain opening is a write.
fn op(budget: Option<&Take>) -> Op {
    if budget.is_some() {
        Op::Guard
    } else {
        Op::Write
    }
}
