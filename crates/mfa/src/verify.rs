//! Verification: one proof against one ticket, with the ticket's try and a unit of every budget
//! of the attempt's context taken before anything is compared.

use std::time::SystemTime;

use mfa_core::{Channel, Code, CodeDigest, RecoveryCode, Totp, TotpParams};
use mfa_policy::{Context, Factor};
use mfa_store::{AttemptOutcome, Challenge, ClientInfo, FactorStatus};

use crate::context::Attempt;
use crate::error::Result;
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::{self, ChallengeId};
use crate::limits::{Admission, Admitted, AfterFailure};
use crate::method::Method;
use crate::outcome::{Outcome, Proof, VerifyOptions};
use crate::purpose::{Purpose, digest};

/// A live, unconsumed ticket, found by its handle.
pub(crate) struct Ticket {
    pub(crate) id: String,
    /// The digest whose hex is `id`: what a magic link refers to its ticket by.
    pub(crate) digest: CodeDigest,
    pub(crate) purpose: Purpose,
    pub(crate) challenge: Challenge,
}

/// What comparing a proof found.
pub(crate) enum Eval {
    Match { recovery_left: Option<usize> },
    NoMatch,
}

/// Maps a refused `spend_attempt` to its outcome.
pub(crate) fn refused(outcome: &AttemptOutcome) -> Outcome {
    match outcome {
        AttemptOutcome::Exhausted => Outcome::ChallengeExhausted,
        _ => Outcome::Expired,
    }
}

/// The attempt on an unlock ticket: a budget of its own (the recognised rule, keyed `unlock`)
/// and the consecutive count up to the whole cap, so that the unlock works while unrecognised
/// contexts are locked, and a mailbox thief still gets only a few guesses.
fn unlock_attempt(network: Option<String>) -> Attempt {
    Attempt {
        class: Context::Recognised,
        network,
        tag: Some("unlock".to_owned()),
    }
}

impl Mfa {
    /// The live, unconsumed ticket behind `handle`, if any (decoys and foreign challenges:
    /// none).
    pub(crate) async fn ticket(
        &self,
        handle: &ChallengeId,
        now: SystemTime,
    ) -> Result<Option<Ticket>> {
        let (id, id_digest) =
            handles::store_id(&self.inner.pepper, digest::CHALLENGE_ID, &handle.0);
        let Some(challenge) = self.inner.store.challenge(&id, now).await? else {
            return Ok(None);
        };
        let purpose = Purpose::decode(&challenge.purpose).filter(Purpose::is_ticket);
        Ok(match purpose {
            Some(purpose) if !challenge.consumed => Some(Ticket {
                id,
                digest: id_digest,
                purpose,
                challenge,
            }),
            _ => None,
        })
    }

    /// The context a proof against `ticket` is counted in.
    pub(crate) fn ticket_attempt(&self, ticket: &Ticket, client: &ClientInfo) -> Attempt {
        let network = self.network(client);
        match ticket.purpose.context() {
            Some(context) => Attempt::on_ticket(context, network),
            None => unlock_attempt(network),
        }
    }

    /// Verifies `proof` against challenge `challenge` (from
    /// [`begin_login`](Self::begin_login), [`password_step`](Self::password_step),
    /// [`begin_email_login`](Self::begin_email_login), [`begin_step_up`](Self::begin_step_up)
    /// or [`begin_unlock`](Self::begin_unlock)).
    ///
    /// Checks only the factor the proof names. A try of the ticket and a unit of every budget
    /// of the attempt's context are taken, atomically, before anything is compared;
    /// comparisons are constant-time; a TOTP step is accepted once; codes and the ticket are
    /// consumed once. A code guessed on a channel no code was sent through is refused without
    /// counting anywhere (it needs no secret). The attempt that reaches a lock returns
    /// [`Outcome::LockedOut`]. Show users [`Outcome::public_response`].
    ///
    /// # Errors
    /// Store, delivery or crypto failures only; nothing is granted then.
    pub async fn verify(
        &self,
        challenge: &ChallengeId,
        proof: Proof<'_>,
        client: &ClientInfo,
        options: VerifyOptions,
    ) -> Result<Outcome> {
        let now = self.now();
        if handles::is_decoy(&self.inner.pepper, &challenge.0) {
            let attempts = self.inner.policy.challenge_attempts().get();
            return Ok(Outcome::Rejected {
                attempts_left: attempts.saturating_sub(1),
            });
        }
        let Some(ticket) = self.ticket(challenge, now).await? else {
            return Ok(Outcome::Expired);
        };
        if let Proof::MagicLink(link) = proof {
            return self
                .redeem_link(link, None, Some(&ticket), client, options, now)
                .await;
        }
        let channel = match proof {
            Proof::EmailCode(_) => Some(Channel::Email),
            Proof::SmsCode(_) => Some(Channel::Sms),
            _ => None,
        };
        if let Some(channel) = channel
            && (ticket.challenge.kind.channel() != Some(channel)
                || ticket.challenge.code_digest.is_none())
        {
            return Ok(Outcome::Rejected {
                attempts_left: ticket.challenge.attempts_left,
            });
        }
        let user = ticket.challenge.user.clone();
        let spent = self.inner.store.spend_attempt(&ticket.id, now).await?;
        let AttemptOutcome::Spent {
            challenge: stored,
            attempts_left_after,
        } = spent
        else {
            return Ok(refused(&spent));
        };
        let attempt = self.ticket_attempt(&ticket, client);
        let admitted = match self
            .admit(Factor::SecondFactor, &user, attempt, now)
            .await?
        {
            Admission::Refused(until) => {
                self.emit(&user, Some(client), EventKind::VerificationDenied)
                    .await;
                return Ok(Outcome::LockedOut { until });
            }
            Admission::Admitted(admitted) => admitted,
        };
        let method = proof.method();
        let eval = match proof {
            Proof::Totp(input) => self.check_totp(&user, input, now).await?,
            Proof::EmailCode(input) | Proof::SmsCode(input) => {
                let code_purpose = match channel {
                    Some(Channel::Sms) => digest::SMS_CODE,
                    _ => digest::EMAIL_CODE,
                };
                self.check_code(&user, input, code_purpose, stored.code_digest.as_ref())
            }
            Proof::RecoveryCode(input) => self.check_recovery(&user, input).await?,
            Proof::MagicLink(_) => Eval::NoMatch,
        };
        match eval {
            Eval::Match { recovery_left } => {
                if !self.inner.store.consume_challenge(&ticket.id, now).await? {
                    return Ok(Outcome::Expired);
                }
                if ticket.purpose == Purpose::Unlock {
                    self.attempt_succeeded(&admitted, now).await?;
                    return self.unlocked(&ticket, client, now).await;
                }
                self.succeed(
                    &user,
                    &admitted,
                    method,
                    recovery_left,
                    client,
                    options,
                    now,
                )
                .await
            }
            Eval::NoMatch => {
                self.fail(&user, admitted, method, attempts_left_after, client, now)
                    .await
            }
        }
    }

    fn check_code(
        &self,
        user: &str,
        input: &str,
        code_purpose: &str,
        stored: Option<&CodeDigest>,
    ) -> Eval {
        let Ok(code) = Code::parse(input, self.inner.policy.code_digits()) else {
            return Eval::NoMatch;
        };
        let typed = self.inner.pepper.digest_code(code_purpose, user, &code);
        if stored.is_some_and(|s| s.ct_eq(&typed)) {
            Eval::Match {
                recovery_left: None,
            }
        } else {
            Eval::NoMatch
        }
    }

    async fn check_totp(&self, user: &str, input: &str, now: SystemTime) -> Result<Eval> {
        let unix = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let skew = self.inner.policy.totp_skew();
        for factor in self.inner.store.totp_factors(user).await? {
            if factor.status != FactorStatus::Confirmed {
                continue;
            }
            let Ok(code) = Code::parse(input, factor.digits) else {
                continue;
            };
            let secret = self
                .inner
                .keyring
                .open(&factor.sealed_secret, user, &factor.id)?;
            let totp = Totp::new(
                &secret,
                TotpParams {
                    algorithm: factor.algorithm,
                    digits: factor.digits,
                    period: factor.period,
                    ..TotpParams::default()
                },
            );
            if let Some(step) = totp.verify_after(&code, unix, skew, factor.last_used_step)
                && self
                    .inner
                    .store
                    .advance_totp_step(user, &factor.id, step)
                    .await?
            {
                return Ok(Eval::Match {
                    recovery_left: None,
                });
            }
        }
        Ok(Eval::NoMatch)
    }

    async fn check_recovery(&self, user: &str, input: &str) -> Result<Eval> {
        let Ok(code) = RecoveryCode::parse(input) else {
            return Ok(Eval::NoMatch);
        };
        let store = &self.inner.store;
        let locator = code.locator(&self.inner.pepper, user);
        let Some(verifier) = store.find_recovery_code(user, &locator).await? else {
            return Ok(Eval::NoMatch);
        };
        if !code.matches(&verifier, &self.inner.pepper, user)? {
            return Ok(Eval::NoMatch);
        }
        if !store.consume_recovery_code(user, &locator).await? {
            return Ok(Eval::NoMatch);
        }
        Ok(Eval::Match {
            recovery_left: Some(store.remaining_recovery_codes(user).await?),
        })
    }

    /// A wrong proof: audited, counted (locks written, the user told once), answered.
    pub(crate) async fn fail(
        &self,
        user: &str,
        admitted: Box<Admitted>,
        method: Method,
        attempts_left: u32,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<Outcome> {
        self.emit(user, Some(client), EventKind::VerificationFailed { method })
            .await;
        Ok(
            match self.attempt_failed(admitted, user, client, now).await? {
                AfterFailure::Continue => Outcome::Rejected { attempts_left },
                AfterFailure::Blocked(until) => Outcome::LockedOut { until },
            },
        )
    }

    /// A right proof of a login or step-up: the budgets settled, the network remembered, the
    /// success audited, and what the options asked for.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn succeed(
        &self,
        user: &str,
        admitted: &Admitted,
        method: Method,
        recovery_left: Option<usize>,
        client: &ClientInfo,
        options: VerifyOptions,
        now: SystemTime,
    ) -> Result<Outcome> {
        self.attempt_succeeded(admitted, now).await?;
        self.remember_network(user, client, now).await?;
        self.emit(
            user,
            Some(client),
            EventKind::VerificationSucceeded { method },
        )
        .await;
        if let Some(remaining) = recovery_left {
            self.emit(
                user,
                Some(client),
                EventKind::RecoveryCodeUsed { remaining },
            )
            .await;
            let notice = mfa_mail::Notice::RecoveryCodeUsed {
                remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            };
            self.notify(user, notice, Default::default()).await;
        }
        let trusted_device_token = match options.trust_device {
            Some(label) => Some(self.trust_device(user, &label, client, now).await?),
            None => None,
        };
        let step_up = if options.step_up {
            Some(self.grant_step_up(user, now).await?)
        } else {
            None
        };
        Ok(Outcome::Verified {
            user: user.to_owned(),
            method,
            trusted_device_token,
            recovery_codes_left: recovery_left,
            step_up,
        })
    }
}
