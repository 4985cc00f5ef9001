//! Challenges: email and SMS codes, magic links and login tickets, with their try budget.

use std::fmt::Debug;
use std::time::SystemTime;

use async_trait::async_trait;
use mfa_core::{ChallengeKind, CodeDigest};

use crate::{AttemptPlan, Result};

/// A stored challenge. Only digests are stored; the code and the link token never are.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// Opaque random id chosen by the caller (globally unique).
    pub id: String,
    /// The user challenged.
    pub user: String,
    /// What the challenge is for ("login", "enrol-email", ...). A user has at most one
    /// challenge per purpose.
    pub purpose: String,
    /// What the challenge is and its channel.
    pub kind: ChallengeKind,
    /// Digest of the code the user must type, if any.
    pub code_digest: Option<CodeDigest>,
    /// Digest of the magic-link token, if any.
    pub link_digest: Option<CodeDigest>,
    /// Digest binding a magic link to the browser that asked for it, if any.
    pub binding_digest: Option<CodeDigest>,
    /// When the challenge was created.
    pub created_at: SystemTime,
    /// The first instant at which the challenge is expired (live while `now < expires_at`).
    pub expires_at: SystemTime,
    /// Comparisons still allowed.
    pub attempts_left: u32,
    /// Whether the challenge has been consumed (redeemed).
    pub consumed: bool,
    /// How each attempt on the challenge is charged ([`FlowStore::attempt`](crate::FlowStore::attempt)
    /// takes it in the same step as the try); stored and read back as given, its windows to the
    /// millisecond (the precision of [`AttemptPlan::encode`](crate::AttemptPlan::encode)).
    pub plan: Option<AttemptPlan>,
}

impl Challenge {
    /// Whether the challenge is expired at `now` (`now >= expires_at`).
    #[must_use]
    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.expires_at
    }
}

/// What [`ChallengeStore::spend_attempt`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// One try was spent; compare against `challenge`'s digests now. `challenge.attempts_left`
    /// already holds the value after this try.
    Spent {
        /// The challenge after the decrement (boxed: it is much larger than the refusals).
        challenge: Box<Challenge>,
        /// Tries left after this one (equal to `challenge.attempts_left`).
        attempts_left_after: u32,
    },
    /// No try was left: refuse without comparing.
    Exhausted,
    /// The challenge has expired: refuse without comparing.
    Expired,
    /// The challenge was already consumed: refuse without comparing.
    Consumed,
    /// No challenge has this id.
    NotFound,
}

/// Storage of challenges.
#[async_trait]
pub trait ChallengeStore: Send + Sync + Debug {
    /// Stores `challenge` as given, deleting every other challenge of the same user and purpose
    /// (one active code per email: a new code replaces the old one).
    ///
    /// Atomic: after any number of concurrent creates for one user and purpose, exactly one of
    /// them is stored (SQL: a unique index on `(user, purpose)` and `INSERT .. ON CONFLICT
    /// (user, purpose) DO UPDATE`, or delete + insert in one serialisable transaction).
    ///
    /// # Errors
    /// [`StoreError::Conflict`](crate::StoreError::Conflict) if another user's challenge has
    /// this id (nothing is changed); backend failures.
    async fn create_challenge(&self, challenge: Challenge) -> Result<()>;

    /// The challenge `id` as stored, `None` if absent or expired at `now`. A consumed challenge
    /// is returned with `consumed == true` until it expires.
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`](crate::StoreError::Corrupt) for undecodable rows.
    async fn challenge(&self, id: &str, now: SystemTime) -> Result<Option<Challenge>>;

    /// Spends one try of challenge `id` *before* the caller compares anything, and returns the
    /// digests to compare only if a try was available.
    ///
    /// Checks in this order: absent → [`AttemptOutcome::NotFound`]; expired at `now` →
    /// [`AttemptOutcome::Expired`]; consumed → [`AttemptOutcome::Consumed`]; no try left →
    /// [`AttemptOutcome::Exhausted`]; otherwise decrements `attempts_left` and returns
    /// [`AttemptOutcome::Spent`]. Only `Spent` changes the record.
    ///
    /// Atomic, fail closed: with `n` tries left, of any number of concurrent calls at most `n`
    /// return `Spent` (SQL: `UPDATE .. SET attempts_left = attempts_left - 1 WHERE id = $id AND
    /// NOT consumed AND expires_at > $now AND attempts_left > 0 RETURNING *`, then a plain read
    /// to tell the refusals apart; Redis: one Lua script).
    ///
    /// # Errors
    /// Backend failures. On an error the caller must refuse the attempt.
    async fn spend_attempt(&self, id: &str, now: SystemTime) -> Result<AttemptOutcome>;

    /// Marks challenge `id` consumed; `true` only for the one call that did so.
    ///
    /// Returns `false` for an absent, expired or already consumed challenge. Atomic: of any
    /// number of concurrent calls exactly one returns `true` (SQL: `UPDATE .. SET consumed =
    /// true WHERE id = $id AND NOT consumed AND expires_at > $now`).
    ///
    /// # Errors
    /// Backend failures. On an error the caller must not grant what the challenge guards.
    async fn consume_challenge(&self, id: &str, now: SystemTime) -> Result<bool>;

    /// Replaces the kind, code digest and expiry of a live, unconsumed challenge, keeping its
    /// id and its remaining tries (a resend does not grant new guesses); returns whether it did.
    ///
    /// The kind records the channel the code went through (a login ticket becomes an
    /// [`ChallengeKind::EmailCode`] or [`ChallengeKind::SmsCode`] when a code is sent for it),
    /// so that a guess on a channel no code went through can be refused without counting.
    ///
    /// # Errors
    /// Backend failures.
    async fn replace_challenge_code(
        &self,
        id: &str,
        kind: ChallengeKind,
        code_digest: CodeDigest,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<bool>;

    /// Deletes every challenge of `user`, whatever its purpose (login tickets, codes sent,
    /// magic links, enrolment codes, step-up grants); returns how many went.
    ///
    /// Called when a factor is disabled, an administrator resets the account or the password
    /// changes: afterwards no challenge issued before the call can be spent, consumed or
    /// redeemed. Atomic per challenge: a concurrent `spend_attempt` or `consume_challenge` of a
    /// deleted challenge either completed before the deletion or finds nothing.
    ///
    /// # Errors
    /// Backend failures. On an error the caller must report the change as incomplete.
    async fn revoke_user_challenges(&self, user: &str) -> Result<u64>;

    /// Deletes challenge `id`; returns whether it existed.
    ///
    /// # Errors
    /// Backend failures.
    async fn delete_challenge(&self, id: &str) -> Result<bool>;

    /// Deletes every challenge expired at `now`; returns how many were deleted (a backend whose
    /// records expire by themselves, like Redis with TTLs, may return 0).
    ///
    /// # Errors
    /// Backend failures.
    async fn purge_expired_challenges(&self, now: SystemTime) -> Result<u64>;
}
