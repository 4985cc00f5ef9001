//! Verification: one proof against one challenge, with the try spent before the comparison.

use std::time::SystemTime;

use mfa_core::{Code, CodeDigest, RecoveryCode, Token, Totp, TotpParams};
use mfa_policy::{Device, Factor};
use mfa_store::{AttemptOutcome, ClientInfo, FactorStatus};

use crate::error::Result;
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::{self, purpose};
use crate::limits::AfterFailure;
use crate::outcome::{Method, Outcome, Proof, VerifyOptions};
use crate::send::LINK;

/// What comparing a proof found.
enum Eval {
    Match { recovery_left: Option<usize> },
    NoMatch,
}

/// Maps a refused `spend_attempt` to its outcome.
fn refused(outcome: &AttemptOutcome) -> Outcome {
    match outcome {
        AttemptOutcome::Exhausted => Outcome::ChallengeExhausted,
        _ => Outcome::Expired,
    }
}

impl Mfa {
    /// Verifies `proof` against challenge `challenge_id` (from
    /// [`begin_login`](Self::begin_login), [`begin_email_login`](Self::begin_email_login) or
    /// [`begin_step_up`](Self::begin_step_up)).
    ///
    /// Checks only the factor the proof names. The attempt is counted (a try of the challenge
    /// spent, atomically) before anything is compared; comparisons are constant-time; a TOTP
    /// step is accepted once; codes and the challenge are consumed once. A failure counts
    /// against the account, client and consecutive-failure limits, and the attempt that reaches
    /// a lock returns [`Outcome::LockedOut`]. Show users [`Outcome::public_response`].
    ///
    /// # Errors
    /// Store, delivery or crypto failures only; nothing is granted then.
    pub async fn verify(
        &self,
        challenge_id: &str,
        proof: Proof<'_>,
        client: &ClientInfo,
        options: VerifyOptions,
    ) -> Result<Outcome> {
        let now = self.now();
        let Ok(handle) = Token::parse(challenge_id) else {
            return Ok(Outcome::Expired);
        };
        if handles::is_decoy(&self.inner.pepper, &handle) {
            let attempts = self.inner.policy.challenge_attempts().get();
            return Ok(Outcome::Rejected {
                attempts_left: attempts.saturating_sub(1),
            });
        }
        let Some(ticket) = self.ticket(&handle, now).await? else {
            return Ok(Outcome::Expired);
        };
        let user = ticket.challenge.user.clone();
        if let Proof::MagicLink(link) = proof {
            let (_, ticket_ref) =
                handles::store_id(&self.inner.pepper, purpose::CHALLENGE_ID, &handle);
            return self
                .redeem_link(link, None, Some(&ticket_ref), client, options)
                .await;
        }
        if let Some(until) = self
            .limit_check(Factor::SecondFactor, &user, client, Device::Unknown, now)
            .await?
        {
            self.emit(&user, Some(client), EventKind::VerificationDenied)
                .await;
            return Ok(Outcome::LockedOut { until });
        }
        let spent = self.inner.store.spend_attempt(&ticket.id, now).await?;
        let AttemptOutcome::Spent {
            challenge,
            attempts_left_after,
        } = spent
        else {
            return Ok(refused(&spent));
        };
        let method = proof.method();
        let eval = match proof {
            Proof::Totp(input) => self.check_totp(&user, input, now).await?,
            Proof::EmailCode(input) => self.check_code(
                &user,
                input,
                purpose::EMAIL_CODE,
                challenge.code_digest.as_ref(),
            ),
            Proof::SmsCode(input) => self.check_code(
                &user,
                input,
                purpose::SMS_CODE,
                challenge.code_digest.as_ref(),
            ),
            Proof::RecoveryCode(input) => self.check_recovery(&user, input).await?,
            Proof::MagicLink(_) => Eval::NoMatch,
        };
        match eval {
            Eval::Match { recovery_left } => {
                if !self.inner.store.consume_challenge(&ticket.id, now).await? {
                    return Ok(Outcome::Expired);
                }
                self.succeed(&user, method, recovery_left, client, options, now)
                    .await
            }
            Eval::NoMatch => {
                self.fail(&user, method, attempts_left_after, client, now)
                    .await
            }
        }
    }

    /// Confirms a magic link: the explicit step (a POST from the page the link opened) that
    /// signs in. `binding` must be the value given to
    /// [`send_magic_link`](Self::send_magic_link), if one was.
    ///
    /// # Errors
    /// Store failures; nothing is granted then.
    pub async fn confirm_magic_link(
        &self,
        token: &str,
        binding: Option<&str>,
        client: &ClientInfo,
        options: VerifyOptions,
    ) -> Result<Outcome> {
        self.redeem_link(token, binding, None, client, options)
            .await
    }

    async fn redeem_link(
        &self,
        token: &str,
        binding: Option<&str>,
        expected_ticket: Option<&CodeDigest>,
        client: &ClientInfo,
        options: VerifyOptions,
    ) -> Result<Outcome> {
        let now = self.now();
        let pepper = &self.inner.pepper;
        let Ok(token) = Token::parse(token) else {
            return Ok(Outcome::Expired);
        };
        let (link_id, _) = handles::store_id(pepper, purpose::LINK_ID, &token);
        let Some(link) = self.inner.store.challenge(&link_id, now).await? else {
            return Ok(Outcome::Expired);
        };
        if link.purpose != LINK {
            return Ok(Outcome::Expired);
        }
        let user = link.user.clone();
        if let Some(until) = self
            .limit_check(Factor::SecondFactor, &user, client, Device::Unknown, now)
            .await?
        {
            self.emit(&user, Some(client), EventKind::VerificationDenied)
                .await;
            return Ok(Outcome::LockedOut { until });
        }
        let spent = self.inner.store.spend_attempt(&link_id, now).await?;
        let AttemptOutcome::Spent {
            challenge,
            attempts_left_after,
        } = spent
        else {
            return Ok(refused(&spent));
        };
        let link_ok = challenge
            .link_digest
            .as_ref()
            .is_some_and(|d| d.ct_eq(&pepper.digest_token(purpose::LINK, &user, &token)));
        let binding_ok = match (&challenge.binding_digest, binding) {
            (None, _) => true,
            (Some(stored), Some(given)) => {
                stored.ct_eq(&pepper.digest(purpose::LINK_BINDING, &user, given.as_bytes()))
            }
            (Some(_), None) => expected_ticket.is_some(),
        };
        let ticket_ref = challenge.code_digest.clone();
        let ticket_ok = match (expected_ticket, &ticket_ref) {
            (Some(expected), Some(stored)) => expected.ct_eq(stored),
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if !(link_ok && binding_ok && ticket_ok) {
            return self
                .fail(&user, Method::Email, attempts_left_after, client, now)
                .await;
        }
        if !self.inner.store.consume_challenge(&link_id, now).await? {
            return Ok(Outcome::Expired);
        }
        let Some(ticket_ref) = ticket_ref else {
            return Ok(Outcome::Expired);
        };
        if !self
            .inner
            .store
            .consume_challenge(&handles::hex(&ticket_ref), now)
            .await?
        {
            return Ok(Outcome::Expired);
        }
        self.succeed(&user, Method::Email, None, client, options, now)
            .await
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
        let unix = self.inner.clock.unix_secs();
        let _ = now;
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

    async fn fail(
        &self,
        user: &str,
        method: Method,
        attempts_left: u32,
        client: &ClientInfo,
        now: SystemTime,
    ) -> Result<Outcome> {
        let after = self
            .limit_failure(Factor::SecondFactor, user, client, now)
            .await?;
        self.emit(user, Some(client), EventKind::VerificationFailed { method })
            .await;
        Ok(match after {
            AfterFailure::Continue => Outcome::Rejected { attempts_left },
            AfterFailure::Blocked { until, locked } => {
                if locked {
                    self.emit(user, Some(client), EventKind::LockedOut { until })
                        .await;
                    let duration = until.duration_since(now).unwrap_or_default();
                    self.notify(user, mfa_mail::Notice::AccountLocked { duration })
                        .await;
                }
                Outcome::LockedOut { until }
            }
        })
    }

    async fn succeed(
        &self,
        user: &str,
        method: Method,
        recovery_left: Option<usize>,
        client: &ClientInfo,
        options: VerifyOptions,
        now: SystemTime,
    ) -> Result<Outcome> {
        self.limit_success(Factor::SecondFactor, user, client)
            .await?;
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
            self.notify(
                user,
                mfa_mail::Notice::RecoveryCodeUsed {
                    remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
                },
            )
            .await;
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
