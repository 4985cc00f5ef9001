//! Challenges of [`MemoryStore`].

use std::time::SystemTime;

use async_trait::async_trait;
use mfa_core::{ChallengeKind, CodeDigest};

use super::{MemoryStore, State, count_u64};
use crate::{AttemptOutcome, Challenge, ChallengeStore, Result, StoreError};

impl State {
    /// Removes challenge `id` and its purpose index entry.
    fn remove_challenge(&mut self, id: &str) -> Option<Challenge> {
        let removed = self.challenges.remove(id)?;
        let key = (removed.user.clone(), removed.purpose.clone());
        if self
            .challenge_by_purpose
            .get(&key)
            .is_some_and(|indexed| indexed == id)
        {
            self.challenge_by_purpose.remove(&key);
        }
        Some(removed)
    }

    /// Challenge `id` if it is live at `now`.
    fn live_challenge(&mut self, id: &str, now: SystemTime) -> Option<&mut Challenge> {
        self.challenges.get_mut(id).filter(|c| !c.is_expired(now))
    }
}

#[async_trait]
impl ChallengeStore for MemoryStore {
    async fn create_challenge(&self, challenge: Challenge) -> Result<()> {
        self.with(|state| {
            if state
                .challenges
                .get(&challenge.id)
                .is_some_and(|c| c.user != challenge.user)
            {
                return Err(StoreError::conflict("another user's challenge has this id"));
            }
            state.remove_challenge(&challenge.id);
            let key = (challenge.user.clone(), challenge.purpose.clone());
            if let Some(previous) = state.challenge_by_purpose.get(&key).cloned() {
                state.remove_challenge(&previous);
            }
            state.challenge_by_purpose.insert(key, challenge.id.clone());
            state.challenges.insert(challenge.id.clone(), challenge);
            Ok(())
        })
    }

    async fn challenge(&self, id: &str, now: SystemTime) -> Result<Option<Challenge>> {
        Ok(self.with(|state| state.live_challenge(id, now).map(|c| c.clone())))
    }

    async fn spend_attempt(&self, id: &str, now: SystemTime) -> Result<AttemptOutcome> {
        Ok(self.with(|state| {
            let Some(challenge) = state.challenges.get_mut(id) else {
                return AttemptOutcome::NotFound;
            };
            if challenge.is_expired(now) {
                return AttemptOutcome::Expired;
            }
            if challenge.consumed {
                return AttemptOutcome::Consumed;
            }
            let Some(left) = challenge.attempts_left.checked_sub(1) else {
                return AttemptOutcome::Exhausted;
            };
            challenge.attempts_left = left;
            AttemptOutcome::Spent {
                challenge: Box::new(challenge.clone()),
                attempts_left_after: left,
            }
        }))
    }

    async fn consume_challenge(&self, id: &str, now: SystemTime) -> Result<bool> {
        Ok(self.with(|state| match state.live_challenge(id, now) {
            Some(challenge) if !challenge.consumed => {
                challenge.consumed = true;
                true
            }
            _ => false,
        }))
    }

    async fn replace_challenge_code(
        &self,
        id: &str,
        kind: ChallengeKind,
        code_digest: CodeDigest,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<bool> {
        Ok(self.with(|state| match state.live_challenge(id, now) {
            Some(challenge) if !challenge.consumed => {
                challenge.kind = kind;
                challenge.code_digest = Some(code_digest);
                challenge.expires_at = expires_at;
                true
            }
            _ => false,
        }))
    }

    async fn delete_challenge(&self, id: &str) -> Result<bool> {
        Ok(self.with(|state| state.remove_challenge(id).is_some()))
    }

    async fn revoke_user_challenges(&self, user: &str) -> Result<u64> {
        Ok(self.with(|state| {
            let ids: Vec<String> = state
                .challenges
                .values()
                .filter(|c| c.user == user)
                .map(|c| c.id.clone())
                .collect();
            for id in &ids {
                state.remove_challenge(id);
            }
            count_u64(ids.len())
        }))
    }

    async fn purge_expired_challenges(&self, now: SystemTime) -> Result<u64> {
        Ok(self.with(|state| {
            let expired: Vec<String> = state
                .challenges
                .values()
                .filter(|c| c.is_expired(now))
                .map(|c| c.id.clone())
                .collect();
            for id in &expired {
                state.remove_challenge(id);
            }
            count_u64(expired.len())
        }))
    }
}
