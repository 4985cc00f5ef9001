//! `attempt`: spend a try, take the plan's list for the attempt's tag, read the factors.
//!
//! On a standalone server one script from the id (`flow_attempt.lua`, mode `id`): the mapping
//! and its route lead to the challenge, whose stored plan names the counters; nothing is built
//! in Lua. A mapping without a route (written before routes existed) is followed by the user
//! instead: the same script in mode `keys`, one round trip more.
//!
//! On a Cluster: the mapping (the id's slot), then the user's slot spends the try and takes the
//! leading run of takes that live there (the plan's takes in the user's slot), then each
//! further run of same-slot takes in order, the last one on the user's slot reading the factors
//! with it (`flow_takes.lua`). The try and the takes are then separate steps: a try is spent
//! before any take, every take is counted before the factors are read, and a refusal stops the
//! rest, but another client may act between two of them.

use std::time::SystemTime;

use mfa_store::{
    AttemptOutcome, AttemptView, CounterTake, Result, StoreError, Take, TotpFactor,
    TotpFactorStore, window_end,
};
use redis::Value;

use crate::RedisStore;
use crate::challenge::{RECORD, decode as decode_challenge, refusal, spent};
use crate::codec::{Fields, to_ms};
use crate::counter::{Grouping, decode_take, groups};
use crate::scripts::{FLOW_ATTEMPT, FLOW_TAKES};
use crate::slot::slot;
use crate::store::{Op, decode};
use crate::totp::decode_rows;

/// The factors as a script read them.
enum Factors {
    /// Not read (not asked, or not every take counted yet).
    None,
    /// Read.
    Read(Vec<Vec<Vec<u8>>>),
    /// A listed factor is gone: data loss.
    Lost,
}

impl Factors {
    fn parse(value: Value) -> Result<Self> {
        let corrupt = || StoreError::corrupt("attempt reply: factors");
        let parts: Vec<Value> = decode(value)?;
        let mut parts = parts.into_iter();
        let status: Vec<u8> = decode(parts.next().ok_or_else(corrupt)?)?;
        match status.as_slice() {
            b"none" => Ok(Self::None),
            b"lost" => Ok(Self::Lost),
            b"read" => Ok(Self::Read(decode(parts.next().ok_or_else(corrupt)?)?)),
            _ => Err(corrupt()),
        }
    }

    fn decode(self, user: &str) -> Result<Vec<TotpFactor>> {
        match self {
            Self::None => Ok(Vec::new()),
            Self::Read(rows) => decode_rows(user, rows),
            Self::Lost => Err(StoreError::data_loss(
                "a TOTP factor was written and is gone",
            )),
        }
    }
}

fn parse_takes(value: Value) -> Result<Vec<CounterTake>> {
    let entries: Vec<Vec<Vec<u8>>> = decode(value)?;
    entries.iter().map(|entry| decode_take(entry)).collect()
}

/// What `flow_attempt.lua` answered.
enum Reply {
    /// A mapping without a usable route: go by its user.
    NoRoute(String),
    /// The view, and the factors as read.
    View(AttemptView, Factors),
}

fn parse(id: &str, tag: Option<&str>, reply: Value) -> Result<Reply> {
    let corrupt = || StoreError::corrupt("attempt reply");
    let parts: Vec<Value> = decode(reply)?;
    let mut parts = parts.into_iter();
    let status: Vec<u8> = decode(parts.next().ok_or_else(corrupt)?)?;
    let mut next = || parts.next().ok_or_else(corrupt);
    match status.as_slice() {
        b"spent" => {}
        b"no_route" => return Ok(Reply::NoRoute(decode(next()?)?)),
        b"corrupt" => return Err(StoreError::corrupt("challenge field `ptr` or `ptu`")),
        other => {
            let view = AttemptView {
                outcome: refusal(other)?,
                recognised: false,
                takes: Vec::new(),
                factors: Vec::new(),
            };
            return Ok(Reply::View(view, Factors::None));
        }
    }
    let fields: Vec<Vec<u8>> = decode(next()?)?;
    let challenge = decode_challenge(id, &Fields::from_flat(RECORD, fields)?)?;
    let chosen: Vec<u8> = decode(next()?)?;
    let takes = parse_takes(next()?)?;
    let factors = Factors::parse(next()?)?;
    // The script chose the list from the stored tag; the plan read back must agree.
    let (recognised, list_len) = challenge.plan.as_ref().map_or((false, 0), |p| {
        let (recognised, list) = p.takes_for(tag);
        (recognised, list.len())
    });
    if chosen.as_slice() != if recognised { b"1" } else { b"0" } || takes.len() > list_len {
        return Err(StoreError::corrupt("challenge plan fields"));
    }
    let view = AttemptView {
        outcome: spent(challenge),
        recognised,
        takes,
        factors: Vec::new(),
    };
    Ok(Reply::View(view, factors))
}

impl RedisStore {
    pub(crate) async fn flow_attempt(
        &self,
        id: &str,
        tag: Option<&str>,
        factors: bool,
        now: SystemTime,
    ) -> Result<AttemptView> {
        if self.is_cluster() {
            let Some(user) = self.challenge_user(id).await? else {
                return Ok(not_found());
            };
            return self.attempt_as(&user, id, tag, factors, now).await;
        }
        let mut invocation = FLOW_ATTEMPT.on(&self.keys, self.keys.challenge_owner(id));
        invocation
            .key(self.keys.challenge_route(id))
            .arg("id")
            .arg(to_ms(now))
            .arg(tag_arg(tag))
            .arg(flag(factors))
            .arg("all");
        match parse(id, tag, self.eval(&invocation, Op::Guard).await?)? {
            Reply::NoRoute(user) => self.attempt_as(&user, id, tag, factors, now).await,
            Reply::View(view, read) => self.finish(view, read, factors, now).await,
        }
    }

    /// The attempt on challenge `id` of `user`, from the user's slot.
    async fn attempt_as(
        &self,
        user: &str,
        id: &str,
        tag: Option<&str>,
        factors: bool,
        now: SystemTime,
    ) -> Result<AttemptView> {
        let mut invocation = FLOW_ATTEMPT.on(&self.keys, self.challenge_key(user, id));
        invocation
            .key(self.keys.totp_index(user))
            .arg("keys")
            .arg(to_ms(now))
            .arg(tag_arg(tag))
            .arg(flag(factors))
            .arg(if self.is_cluster() { "slot" } else { "all" })
            .arg(self.keys.totp_base(user));
        match parse(id, tag, self.eval(&invocation, Op::Guard).await?)? {
            Reply::NoRoute(_) => Err(StoreError::corrupt("attempt reply")),
            Reply::View(view, read) => self.finish(view, read, factors, now).await,
        }
    }

    /// Takes what the script left to take (a Cluster's takes on other slots), and reads the
    /// factors if they are asked for, every take counted and no script read them.
    async fn finish(
        &self,
        mut view: AttemptView,
        mut read: Factors,
        factors: bool,
        now: SystemTime,
    ) -> Result<AttemptView> {
        let AttemptOutcome::Spent { challenge, .. } = &view.outcome else {
            return Ok(view);
        };
        let user = challenge.user.clone();
        if let Some(plan) = &challenge.plan {
            let list = if view.recognised {
                &plan.recognised
            } else {
                &plan.unrecognised
            };
            let rest = list.get(view.takes.len()..).unwrap_or_default();
            if !rest.is_empty() && view.takes.iter().all(CounterTake::is_taken) {
                let (more, more_read) = self.take_rest(&user, rest, factors, now).await?;
                view.takes.extend(more);
                read = more_read;
            }
        }
        let admitted = view.takes.iter().all(CounterTake::is_taken);
        view.factors = match read {
            Factors::None if factors && admitted => self.totp_factors(&user).await?,
            read if admitted => read.decode(&user)?,
            _ => Vec::new(),
        };
        Ok(view)
    }
}

impl RedisStore {
    /// The takes of `rest` (a Cluster's, after the user's slot took its leading run), one
    /// script per run of consecutive same-slot takes, stopping at the first refusal; the last
    /// run reads the factors with it when it is on the user's slot and they are asked for.
    async fn take_rest(
        &self,
        user: &str,
        rest: &[Take],
        factors: bool,
        now: SystemTime,
    ) -> Result<(Vec<CounterTake>, Factors)> {
        let slot_of = |i: usize| {
            rest.get(i)
                .map(|t| slot(self.keys.counter(&t.key).as_bytes()))
        };
        let runs = groups(rest.len(), slot_of, Grouping::Runs);
        let user_slot = slot(self.keys.user(user).as_bytes());
        let mut taken = Vec::with_capacity(rest.len());
        for (n, members) in runs.iter().enumerate() {
            let last = n + 1 == runs.len();
            let here = members.first().and_then(|&i| slot_of(i)) == Some(user_slot);
            if last && here && factors {
                let (run, read) = self.take_and_read(user, rest, members, now).await?;
                taken.extend(run);
                return Ok((taken, read));
            }
            let run = self.take_group(rest, members, now).await?;
            let refused = run.len() < members.len() || run.iter().any(|t| !t.is_taken());
            taken.extend(run);
            if refused {
                break;
            }
        }
        Ok((taken, Factors::None))
    }

    /// `flow_takes.lua`: the takes `rest[members]` on the user's slot, then the factors.
    async fn take_and_read(
        &self,
        user: &str,
        rest: &[Take],
        members: &[usize],
        now: SystemTime,
    ) -> Result<(Vec<CounterTake>, Factors)> {
        let mut invocation = FLOW_TAKES.prepare();
        invocation
            .arg(to_ms(now))
            .arg("1")
            .arg(self.keys.totp_base(user));
        for take in members.iter().filter_map(|&i| rest.get(i)) {
            self.push_counter(&mut invocation, &take.key);
            invocation
                .arg(to_ms(window_end(now, take.window)))
                .arg(take.limit);
        }
        invocation.key(self.keys.totp_index(user));
        let reply: Vec<Value> = self.eval(&invocation, Op::Guard).await?;
        let mut reply = reply.into_iter();
        let corrupt = || StoreError::corrupt("attempt reply");
        let taken = parse_takes(reply.next().ok_or_else(corrupt)?)?;
        if taken.len() > members.len() {
            return Err(corrupt());
        }
        Ok((taken, Factors::parse(reply.next().ok_or_else(corrupt)?)?))
    }
}

/// An attempt on a challenge that does not exist.
fn not_found() -> AttemptView {
    AttemptView {
        outcome: AttemptOutcome::NotFound,
        recognised: false,
        takes: Vec::new(),
        factors: Vec::new(),
    }
}

/// The attempt's tag as the script reads it: `-` for none, `+` and the tag otherwise.
fn tag_arg(tag: Option<&str>) -> String {
    tag.map_or_else(|| "-".to_owned(), |tag| format!("+{tag}"))
}

fn flag(on: bool) -> &'static str {
    if on { "1" } else { "0" }
}
