//! [`ChallengeStore`] on Redis.
//!
//! A challenge lives under its user's hash tag (`<user tag>:ch:<id>`), beside the pointer
//! `<user tag>:chp:<purpose> -> id` that keeps one challenge per user and purpose, so creating
//! (and replacing) is one script on one slot. Lookups come by id only, so an id -> user mapping
//! `{<prefix>:c:<id>}` (its own tag, same expiry as the challenge) leads to the user's slot:
//! operations by id are one script on the mapping's slot, then one on the user's. A set of the
//! user's challenge ids (`<user tag>:chs`) lets `revoke_user_challenges` find them all in one
//! script.
//!
//! Beside the mapping, its route `{<prefix>:c:<id>}:route` names the challenge hash, the
//! data-loss marker of its slot and the user's factor keys (built here, from the key schema), so
//! that `FlowStore::attempt` on a standalone server goes from the id to all of them in one
//! script. A challenge with an attempt plan also stores the plan's takes as counter key and
//! marker names (`ptag`, `ptr`, `ptu`, see `flow::plan`), for the same script.

use std::time::SystemTime;

use async_trait::async_trait;
use mfa_core::{ChallengeKind, CodeDigest};
use mfa_store::{AttemptOutcome, AttemptPlan, Challenge, ChallengeStore, Result, StoreError};

use crate::RedisStore;
use crate::codec::{Fields, to_ms};
use crate::scripts::{
    CHALLENGE_CLAIM, CHALLENGE_CONSUME, CHALLENGE_DELETE, CHALLENGE_GET, CHALLENGE_REPLACE,
    CHALLENGE_REVOKE_USER, CHALLENGE_SPEND, CHALLENGE_TAKEOVER, MAPPING_DELETE, MAPPING_EXTEND,
    MAPPING_GET,
};
use crate::store::Op;

pub(crate) const RECORD: &str = "challenge";

/// How often `create_challenge` re-reads an id mapping that changed under it.
const CLAIM_ATTEMPTS: usize = 3;

pub(crate) fn decode(id: &str, f: &Fields) -> Result<Challenge> {
    let attempts_left =
        u32::try_from(f.u64("left")?).map_err(|_| StoreError::corrupt("challenge field `left`"))?;
    Ok(Challenge {
        id: id.to_owned(),
        user: f.text("user")?,
        purpose: f.text("purpose")?,
        kind: f.text("kind")?.parse()?,
        code_digest: f.opt_digest("code")?,
        link_digest: f.opt_digest("link")?,
        binding_digest: f.opt_digest("bind")?,
        created_at: f.time("created")?,
        expires_at: f.time("expires")?,
        attempts_left,
        consumed: f.bytes("consumed")? == b"1",
        // A plan that does not decode is `Corrupt` (from `AttemptPlan::decode`), never "no plan":
        // the plan is what bounds the attempts on the challenge.
        plan: f
            .opt_text("plan")?
            .map(|text| AttemptPlan::decode(&text))
            .transpose()?,
    })
}

/// The outcome a script's refusal status names (`challenge_refusal` in Lua).
pub(crate) fn refusal(status: &[u8]) -> Result<AttemptOutcome> {
    match status {
        b"not_found" => Ok(AttemptOutcome::NotFound),
        b"expired" => Ok(AttemptOutcome::Expired),
        b"consumed" => Ok(AttemptOutcome::Consumed),
        b"exhausted" => Ok(AttemptOutcome::Exhausted),
        _ => Err(StoreError::corrupt("an unknown attempt status")),
    }
}

/// The outcome of a spent try: the challenge as it is after the try.
pub(crate) fn spent(challenge: Challenge) -> AttemptOutcome {
    AttemptOutcome::Spent {
        attempts_left_after: challenge.attempts_left,
        challenge: Box::new(challenge),
    }
}

impl RedisStore {
    /// The route written with the mapping of challenge `id` of `user`: the names of the
    /// challenge hash, of the data-loss marker of the user's slot and of the user's factor
    /// keys, as a flat field, value list.
    pub(crate) fn route_fields(&self, user: &str, id: &str) -> [String; 10] {
        let challenge = self.challenge_key(user, id);
        let marker = self.keys.marker_for(&challenge);
        [
            "u".to_owned(),
            user.to_owned(),
            "ch".to_owned(),
            challenge,
            "m".to_owned(),
            marker,
            "ti".to_owned(),
            self.keys.totp_index(user),
            "tb".to_owned(),
            self.keys.totp_base(user),
        ]
    }

    /// The fields of a challenge hash, as a flat field, value list.
    pub(crate) fn challenge_fields(&self, challenge: &Challenge) -> Vec<Vec<u8>> {
        let mut fields: Vec<Vec<u8>> = Vec::with_capacity(24);
        let mut push = |field: &str, value: &[u8]| {
            fields.push(field.as_bytes().to_vec());
            fields.push(value.to_vec());
        };
        push("user", challenge.user.as_bytes());
        push("purpose", challenge.purpose.as_bytes());
        push("kind", challenge.kind.as_str().as_bytes());
        push(
            "created",
            to_ms(challenge.created_at).to_string().as_bytes(),
        );
        push(
            "expires",
            to_ms(challenge.expires_at).to_string().as_bytes(),
        );
        push("left", challenge.attempts_left.to_string().as_bytes());
        push("consumed", if challenge.consumed { b"1" } else { b"0" });
        for (field, digest) in [
            ("code", &challenge.code_digest),
            ("link", &challenge.link_digest),
            ("bind", &challenge.binding_digest),
        ] {
            if let Some(digest) = digest {
                push(field, digest.as_bytes().as_slice());
            }
        }
        if let Some(plan) = &challenge.plan {
            for (field, value) in self.plan_fields(plan) {
                push(field, value.as_bytes());
            }
        }
        fields
    }

    /// The user a challenge id belongs to, from the id mapping.
    pub(crate) async fn challenge_user(&self, id: &str) -> Result<Option<String>> {
        self.eval(
            &MAPPING_GET.on(&self.keys, self.keys.challenge_owner(id)),
            Op::Read,
        )
        .await
    }

    /// The key of challenge `id` of `user`.
    pub(crate) fn challenge_key(&self, user: &str, id: &str) -> String {
        format!("{}{id}", self.keys.challenge_base(user))
    }

    /// Claims the id mapping for `user`, or fails with a conflict if another user's challenge
    /// holds the id.
    pub(crate) async fn claim_challenge_id(
        &self,
        id: &str,
        user: &str,
        expires_ms: u64,
    ) -> Result<()> {
        let owner_key = self.keys.challenge_owner(id);
        for _ in 0..CLAIM_ATTEMPTS {
            let other: Option<String> = self
                .eval(
                    CHALLENGE_CLAIM
                        .on(&self.keys, owner_key.as_str())
                        .key(self.keys.challenge_route(id))
                        .arg(user)
                        .arg(expires_ms)
                        .arg(self.route_fields(user, id).as_slice()),
                    Op::Write,
                )
                .await?;
            let Some(other) = other else {
                return Ok(());
            };
            let held = self.challenge_key(&other, id);
            let exists: bool = self
                .command(redis::cmd("EXISTS").arg(held), Op::Read)
                .await?;
            if exists {
                return Err(StoreError::conflict("another user's challenge has this id"));
            }
            // The other user's challenge is gone (replaced or deleted): the mapping is stale.
            let taken: i64 = self
                .eval(
                    CHALLENGE_TAKEOVER
                        .on(&self.keys, owner_key.as_str())
                        .key(self.keys.challenge_route(id))
                        .arg(&other)
                        .arg(user)
                        .arg(expires_ms)
                        .arg(self.route_fields(user, id).as_slice()),
                    Op::Write,
                )
                .await?;
            if taken == 1 {
                return Ok(());
            }
        }
        Err(StoreError::conflict("the challenge id is contended"))
    }
}

#[async_trait]
impl ChallengeStore for RedisStore {
    /// `open_ticket` without a budget or an audit record: on a standalone server one script
    /// claims the id and stores the challenge; on a Cluster the claim, then the user's slot.
    async fn create_challenge(&self, challenge: Challenge) -> Result<()> {
        let now = challenge.created_at;
        self.open(&challenge, None, None, now).await.map(drop)
    }

    async fn challenge(&self, id: &str, now: SystemTime) -> Result<Option<Challenge>> {
        let Some(user) = self.challenge_user(id).await? else {
            return Ok(None);
        };
        let flat: Vec<Vec<u8>> = self
            .eval(
                &CHALLENGE_GET.on(&self.keys, self.challenge_key(&user, id)),
                Op::Read,
            )
            .await?;
        let fields = Fields::from_flat(RECORD, flat)?;
        if fields.is_empty() {
            return Ok(None);
        }
        let challenge = decode(id, &fields)?;
        Ok((!challenge.is_expired(now)).then_some(challenge))
    }

    async fn spend_attempt(&self, id: &str, now: SystemTime) -> Result<AttemptOutcome> {
        let Some(user) = self.challenge_user(id).await? else {
            return Ok(AttemptOutcome::NotFound);
        };
        let reply: Vec<Vec<u8>> = self
            .eval(
                CHALLENGE_SPEND
                    .on(&self.keys, self.challenge_key(&user, id))
                    .arg(to_ms(now)),
                Op::Guard,
            )
            .await?;
        let mut reply = reply.into_iter();
        let status = reply.next().unwrap_or_default();
        if status.as_slice() == b"spent" {
            return Ok(spent(decode(id, &Fields::from_flat(RECORD, reply)?)?));
        }
        refusal(&status)
    }

    async fn consume_challenge(&self, id: &str, now: SystemTime) -> Result<bool> {
        let Some(user) = self.challenge_user(id).await? else {
            return Ok(false);
        };
        let done: i64 = self
            .eval(
                CHALLENGE_CONSUME
                    .on(&self.keys, self.challenge_key(&user, id))
                    .arg(to_ms(now)),
                Op::Guard,
            )
            .await?;
        Ok(done == 1)
    }

    async fn replace_challenge_code(
        &self,
        id: &str,
        kind: ChallengeKind,
        code_digest: CodeDigest,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<bool> {
        let Some(user) = self.challenge_user(id).await? else {
            return Ok(false);
        };
        let expires_ms = to_ms(expires_at);
        let done: i64 = self
            .eval(
                CHALLENGE_REPLACE
                    .on(&self.keys, self.challenge_key(&user, id))
                    .key(self.keys.challenge_index(&user))
                    .arg(to_ms(now))
                    .arg(kind.as_str())
                    .arg(code_digest.as_bytes().as_slice())
                    .arg(expires_ms)
                    .arg(self.keys.purpose_base(&user))
                    .arg(id),
                Op::Write,
            )
            .await?;
        if done == 1 {
            // Housekeeping only: the mapping and its route must outlive the challenge.
            let _: i64 = self
                .eval(
                    MAPPING_EXTEND
                        .on(&self.keys, self.keys.challenge_owner(id))
                        .key(self.keys.challenge_route(id))
                        .arg(expires_ms),
                    Op::Read,
                )
                .await?;
        }
        Ok(done == 1)
    }

    async fn delete_challenge(&self, id: &str) -> Result<bool> {
        let Some(user) = self.challenge_user(id).await? else {
            return Ok(false);
        };
        let existed: i64 = self
            .eval(
                CHALLENGE_DELETE
                    .on(&self.keys, self.challenge_key(&user, id))
                    .key(self.keys.challenge_index(&user))
                    .arg(self.keys.purpose_base(&user))
                    .arg(id),
                Op::Guard,
            )
            .await?;
        let _: i64 = self
            .eval(
                MAPPING_DELETE
                    .on(&self.keys, self.keys.challenge_owner(id))
                    .key(self.keys.challenge_route(id))
                    .arg(&user),
                Op::Read,
            )
            .await?;
        Ok(existed == 1)
    }

    /// One script on the user's slot deletes every challenge in the user's id set with its
    /// purpose pointer. The id mappings stay until their TTL: they lead to nothing, and a new
    /// challenge with the same id takes them over.
    async fn revoke_user_challenges(&self, user: &str) -> Result<u64> {
        self.eval(
            CHALLENGE_REVOKE_USER
                .on(&self.keys, self.keys.challenge_index(user))
                .arg(self.keys.challenge_base(user))
                .arg(self.keys.purpose_base(user)),
            Op::Guard,
        )
        .await
    }

    /// Challenges expire by TTL (`PEXPIREAT` at `expires_at`): nothing to purge, returns 0.
    async fn purge_expired_challenges(&self, _now: SystemTime) -> Result<u64> {
        Ok(0)
    }
}
