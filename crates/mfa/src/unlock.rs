//! Self-service unlock: the lock notice carries a single-use link; the link opens an unlock
//! ticket in that browser, which the user answers with their password or a second factor.
//! The link alone unlocks nothing, a GET consumes nothing, and a new lock replaces the link.

use std::future::Future;
use std::time::{Duration, SystemTime};

use mfa_core::{ChallengeKind, Token};
use mfa_mail::{LockEnd, Notice, UnlockLink};
use mfa_policy::Factor;
use mfa_store::{AttemptOutcome, Challenge, ClientInfo, Settlement};

use crate::context::Attempt;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::{self, ChallengeId, UnlockToken};
use crate::limits::{Admission, Admitted, AfterFailure};
use crate::notify::Recipients;
use crate::outcome::{LinkInspection, Outcome, PasswordVerdict, UnlockStart};
use crate::purpose::{Purpose, digest};
use crate::verify::{UnlockAnswer, refused};

/// Tickets one unlock link can open: each is answered with a few tries, so a mailbox thief
/// who lacks the password and the second factor gets a handful of guesses per lock.
const LINK_USES: u32 = 3;

/// The recognised-context tag of unlock attempts: a budget of their own.
const UNLOCK_TAG: &str = "unlock";

impl Mfa {
    /// Tells `user` that the account locked (once per lock): with a new unlock link, which
    /// replaces the link of any earlier lock, when the application serves an unlock page.
    pub(crate) async fn account_locked(
        &self,
        user: &str,
        lasts: Option<Duration>,
        now: SystemTime,
    ) -> Result<()> {
        let end = lasts.map_or(LockEnd::Unlock, LockEnd::After);
        let unlock = match &self.inner.settings.unlock_url {
            Some(url) => {
                let token = Token::generate()?;
                let pepper = &self.inner.pepper;
                let (id, _) = handles::store_id(pepper, digest::UNLOCK_ID, &token);
                self.inner
                    .store
                    .create_challenge(Challenge {
                        id,
                        user: user.to_owned(),
                        purpose: Purpose::UnlockLink.encode(),
                        kind: ChallengeKind::LoginTicket,
                        code_digest: None,
                        link_digest: Some(pepper.digest_token(digest::UNLOCK, user, &token)),
                        binding_digest: None,
                        created_at: now,
                        expires_at: now
                            .checked_add(self.inner.settings.unlock_lifetime)
                            .unwrap_or(now),
                        attempts_left: LINK_USES,
                        consumed: false,
                        plan: None,
                    })
                    .await?;
                let link = format!("{url}?token={}", token.expose().as_str());
                Some(UnlockLink::new(link)?)
            }
            None => None,
        };
        self.notify(
            user,
            Notice::AccountLocked { end, unlock },
            Recipients::default(),
        )
        .await;
        Ok(())
    }

    /// The live unlock link behind `token`: its store id, the digest whose hex that id is, and
    /// the challenge.
    async fn unlock_link(
        &self,
        token: &UnlockToken,
        now: SystemTime,
    ) -> Result<Option<(String, mfa_core::CodeDigest, Challenge)>> {
        let (id, id_digest) = handles::store_id(&self.inner.pepper, digest::UNLOCK_ID, &token.0);
        Ok(self
            .inner
            .store
            .challenge(&id, now)
            .await?
            .filter(|c| !c.consumed && Purpose::decode(&c.purpose) == Some(Purpose::UnlockLink))
            .map(|c| (id, id_digest, c)))
    }

    /// Looks at an unlock link without using it (what a GET of the link may do).
    ///
    /// # Errors
    /// Store failures.
    pub async fn inspect_unlock_link(&self, token: &UnlockToken) -> Result<LinkInspection> {
        let now = self.now();
        Ok(match self.unlock_link(token, now).await? {
            Some((_, _, c)) if c.attempts_left > 0 => LinkInspection::Valid {
                expires_at: c.expires_at,
            },
            _ => LinkInspection::Invalid,
        })
    }

    /// Opens an unlock ticket from an emailed unlock link (the explicit step: a POST from the
    /// page the link opened). The ticket is answered in this browser with the password
    /// ([`unlock_with_password`](Self::unlock_with_password)) or a second factor
    /// ([`verify`](Self::verify)); either unlocks the account once, and the link with it.
    ///
    /// # Errors
    /// Store failures.
    pub async fn begin_unlock(
        &self,
        token: &UnlockToken,
        client: &ClientInfo,
    ) -> Result<UnlockStart> {
        let now = self.now();
        let Some((id, id_digest, link)) = self.unlock_link(token, now).await? else {
            return Ok(UnlockStart::Invalid);
        };
        let user = link.user.clone();
        let expected = self
            .inner
            .pepper
            .digest_token(digest::UNLOCK, &user, &token.0);
        if !link.link_digest.is_some_and(|d| d.ct_eq(&expected)) {
            return Ok(UnlockStart::Invalid);
        }
        if !matches!(
            self.inner.store.spend_attempt(&id, now).await?,
            AttemptOutcome::Spent { .. }
        ) {
            return Ok(UnlockStart::Invalid);
        }
        let methods = self.enabled_methods(&user).await?;
        let ticket = Token::generate()?;
        let (ticket_id, _) = handles::store_id(&self.inner.pepper, digest::CHALLENGE_ID, &ticket);
        let expires_at = self
            .inner
            .policy
            .expires_at(ChallengeKind::LoginTicket, now);
        self.inner
            .store
            .create_challenge(Challenge {
                id: ticket_id,
                user: user.clone(),
                purpose: Purpose::Unlock.encode(),
                kind: ChallengeKind::LoginTicket,
                code_digest: None,
                // The link this ticket was opened from, consumed when the unlock succeeds.
                link_digest: Some(id_digest),
                binding_digest: None,
                created_at: now,
                expires_at,
                attempts_left: self.inner.policy.challenge_attempts().get(),
                consumed: false,
                // Its own budget and the consecutive count only: the unlock must work while
                // the account is locked for unrecognised contexts.
                plan: Some(self.own_budget_plan(Factor::SecondFactor, &user, UNLOCK_TAG)),
            })
            .await?;
        self.emit(
            &user,
            Some(client),
            EventKind::ChallengeIssued { method: None },
        )
        .await;
        Ok(UnlockStart::ProofRequired {
            challenge_id: ChallengeId(ticket),
            methods,
            expires_at,
        })
    }

    /// Answers an unlock ticket with the password: `check` is given the user the ticket (and so
    /// the emailed link) belongs to, and verifies the password typed *for that user* (as in
    /// [`password_step`](Self::password_step)); it runs only within the unlock's own budget.
    /// The application never learns the user from the link otherwise, so it cannot check the
    /// wrong account's password: someone holding a victim's link and their own password gains
    /// nothing. Returns [`Outcome::Unlocked`] on success: the user then signs in from the
    /// start.
    ///
    /// # Errors
    /// Store failures; [`Error::PasswordCheck`] when `check` answers
    /// [`PasswordVerdict::Unavailable`] (the ticket's try is spent, the budgets are given back).
    pub async fn unlock_with_password<F, Fut>(
        &self,
        challenge: &ChallengeId,
        client: &ClientInfo,
        check: F,
    ) -> Result<Outcome>
    where
        F: FnOnce(String) -> Fut + Send,
        Fut: Future<Output = PasswordVerdict> + Send,
    {
        let now = self.now();
        let Some(ticket) = self.ticket(challenge, now).await? else {
            return Ok(Outcome::Expired);
        };
        if ticket.purpose != Purpose::Unlock {
            return Ok(Outcome::Expired);
        }
        let user = ticket.challenge.user.clone();
        let spent = self.inner.store.spend_attempt(&ticket.id, now).await?;
        let AttemptOutcome::Spent {
            attempts_left_after,
            ..
        } = spent
        else {
            return Ok(refused(&spent));
        };
        let attempt = Attempt {
            class: mfa_policy::Context::Recognised,
            network: self.network(client),
            tag: Some(UNLOCK_TAG.to_owned()),
        };
        let admitted = match self.admit(Factor::Password, &user, &attempt, now).await? {
            Admission::Refused(until) => {
                self.emit(&user, Some(client), EventKind::PasswordDenied)
                    .await;
                return Ok(Outcome::LockedOut { until });
            }
            Admission::Admitted(admitted) => admitted,
        };
        match check(user.clone()).await {
            PasswordVerdict::Wrong => {
                let failed = self.event(&user, Some(client), EventKind::PasswordFailed, now);
                Ok(
                    match self
                        .attempt_failed(admitted, &user, client, vec![failed], now)
                        .await?
                    {
                        AfterFailure::Continue => Outcome::Rejected {
                            attempts_left: attempts_left_after,
                        },
                        AfterFailure::Blocked(until) => Outcome::LockedOut { until },
                    },
                )
            }
            PasswordVerdict::Unavailable => {
                self.attempt_given_back(&admitted, &user, now).await?;
                Err(Error::PasswordCheck)
            }
            PasswordVerdict::Correct => {
                let answer = UnlockAnswer {
                    user: &user,
                    ticket_id: &ticket.id,
                    link: ticket.challenge.link_digest.as_ref(),
                    step: None,
                };
                self.unlocked(answer, &admitted, client, now).await
            }
        }
    }

    /// A proof answered an unlock ticket: in one step the ticket and the link it was opened
    /// from are consumed (once: a second use, or the link of an earlier lock, finds nothing),
    /// the TOTP step of a code used up (so the code that unlocked cannot also sign in), and the
    /// proof's budgets settled; then the account is unlocked and the unlock audited.
    pub(crate) async fn unlocked(
        &self,
        answer: UnlockAnswer<'_>,
        admitted: &Admitted,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<Outcome> {
        let UnlockAnswer {
            user,
            ticket_id,
            link,
            step,
        } = answer;
        let Some(link) = link else {
            return Ok(Outcome::Expired);
        };
        let mut settlement = Settlement {
            user: user.to_owned(),
            advance: step,
            consume: vec![ticket_id.to_owned(), handles::hex(link)],
            ..Settlement::default()
        };
        Self::success(admitted, &mut settlement);
        let unlocked = self.event(user, Some(client), EventKind::Unlocked, now);
        if !self.settle_told(settlement, vec![unlocked], now).await? {
            return Ok(Outcome::Expired);
        }
        self.limit_unlock(user, now).await?;
        Ok(Outcome::Unlocked {
            user: user.to_owned(),
        })
    }
}
