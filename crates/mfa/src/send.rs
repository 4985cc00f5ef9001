//! Sending codes and magic links for a challenge, within the policy's cooldown and quotas.

use std::time::{Duration, SystemTime};

use mfa_core::{Code, Token};
use mfa_mail::{EmailAddress, Mailbox, PhoneNumber};
use mfa_policy::{Channel as Lifetime, Delivery, SendQuota, SendState};
use mfa_store::{Challenge, ChallengeKind, CounterKey, CounterScope, CounterState};

use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::{self, purpose};
use crate::login::{LOGIN, REAUTH};
use crate::outcome::{Channel, LinkInspection, Method, SendOutcome};

/// Store purpose of a magic-link challenge (one live link per user).
pub(crate) const LINK: &str = "login-link";

fn to_policy(s: &CounterState) -> mfa_policy::CounterState {
    mfa_policy::CounterState {
        window_start: s.window_start,
        // The hit being judged is not counted against itself.
        count: s.count.saturating_sub(1),
        locked_until: s.locked_until,
    }
}

fn delivery_name(delivery: Delivery) -> &'static str {
    match delivery {
        Delivery::Email => "email",
        Delivery::Sms => "sms",
    }
}

/// A live, unconsumed ticket and its user, found by handle.
pub(crate) struct Ticket {
    pub(crate) id: String,
    pub(crate) challenge: Challenge,
}

impl Mfa {
    /// The live, unconsumed ticket behind `handle`, if any (decoys and malformed handles: none).
    pub(crate) async fn ticket(&self, handle: &Token, now: SystemTime) -> Result<Option<Ticket>> {
        let (id, _) = handles::store_id(&self.inner.pepper, purpose::CHALLENGE_ID, handle);
        Ok(self
            .inner
            .store
            .challenge(&id, now)
            .await?
            .filter(|c| !c.consumed && (c.purpose == LOGIN || c.purpose == REAUTH))
            .map(|challenge| Ticket { id, challenge }))
    }

    /// Counts one send to `destination` and says whether it may go: the cooldown counter is hit
    /// first (of concurrent resends exactly one passes it), then the hourly and daily quotas.
    pub(crate) async fn send_allowed(
        &self,
        delivery: Delivery,
        destination: &str,
        now: SystemTime,
    ) -> Result<Option<SendOutcome>> {
        let quota = self.inner.policy.send_quota(delivery);
        let name = delivery_name(delivery);
        let key = |what: &str| {
            CounterKey::new(
                format!("send.{name}.{what}"),
                CounterScope::Account(destination.to_owned()),
            )
        };
        let cooldown = self
            .inner
            .store
            .hit_counter(&key("cooldown"), quota.cooldown(), now)
            .await?;
        let mut state = SendState {
            last_sent: (cooldown.count > 1).then_some(cooldown.window_start),
            ..SendState::default()
        };
        if state.last_sent.is_none() {
            let hits = [(key("hour"), SendQuota::HOUR), (key("day"), SendQuota::DAY)];
            let states = self.inner.store.hit_counters(&hits, now).await?;
            if let [hour, day] = states.as_slice() {
                state.hour = to_policy(hour);
                state.day = to_policy(day);
            }
        }
        Ok(match self.inner.policy.check_send(delivery, &state, now) {
            mfa_policy::Decision::Allow => None,
            decision => {
                let retry_after = decision.retry_after(now).unwrap_or(Duration::ZERO);
                Some(match decision.reason() {
                    Some(mfa_policy::Reason::ResendCooldown) => {
                        SendOutcome::Cooldown { retry_after }
                    }
                    _ => SendOutcome::QuotaExceeded { retry_after },
                })
            }
        })
    }

    /// Sends a one-time code for challenge `challenge_id` by email or SMS, replacing any code
    /// sent before (the tries left are kept: a resend gives no new guesses).
    ///
    /// The code is delivered first and stored after: if delivery fails the call fails and the
    /// code sent works nowhere. For a decoy challenge (unknown address) it answers
    /// [`SendOutcome::Sent`] and sends nothing.
    ///
    /// # Errors
    /// Delivery failures ([`Error::Delivery`]), store failures.
    pub async fn send_code(&self, challenge_id: &str, channel: Channel) -> Result<SendOutcome> {
        let now = self.now();
        let (lifetime, delivery, method) = match channel {
            Channel::Email => (Lifetime::EmailCode, Delivery::Email, Method::Email),
            Channel::Sms => (Lifetime::SmsCode, Delivery::Sms, Method::Sms),
        };
        let expires_at = self.inner.policy.expires_at(lifetime, now);
        let Ok(handle) = Token::parse(challenge_id) else {
            return Ok(SendOutcome::NoChallenge);
        };
        if handles::is_decoy(&self.inner.pepper, &handle) {
            return Ok(SendOutcome::Sent { expires_at });
        }
        let Some(ticket) = self.ticket(&handle, now).await? else {
            return Ok(SendOutcome::NoChallenge);
        };
        let user = ticket.challenge.user.clone();
        let Some(destination) = self.destination(&user, method).await? else {
            return Ok(SendOutcome::MethodUnavailable);
        };
        if let Some(refused) = self.send_allowed(delivery, &destination, now).await? {
            return Ok(refused);
        }
        let code = Code::generate(self.inner.policy.code_digits())?;
        let code_purpose = match channel {
            Channel::Email => purpose::EMAIL_CODE,
            Channel::Sms => purpose::SMS_CODE,
        };
        let digest = self.inner.pepper.digest_code(code_purpose, &user, &code);
        let ttl = self.inner.policy.lifetime(lifetime);
        self.deliver_code(channel, &destination, &code, ttl).await?;
        if !self
            .inner
            .store
            .replace_challenge_code(&ticket.id, digest, expires_at, now)
            .await?
        {
            return Ok(SendOutcome::NoChallenge);
        }
        self.emit(
            &user,
            None,
            EventKind::ChallengeIssued {
                method: Some(method),
            },
        )
        .await;
        Ok(SendOutcome::Sent { expires_at })
    }

    /// Delivers `code` to `destination` by `channel`.
    pub(crate) async fn deliver_code(
        &self,
        channel: Channel,
        destination: &str,
        code: &Code,
        ttl: Duration,
    ) -> Result<()> {
        match channel {
            Channel::Email => {
                let to = Mailbox::address_only(EmailAddress::parse(destination)?);
                let message = self.inner.composer.one_time_code(&to, code, ttl);
                self.inner.mailer.send(&message).await?;
            }
            Channel::Sms => {
                let sms = self.inner.sms.as_ref().ok_or(Error::MethodNotEnabled)?;
                let to = PhoneNumber::parse(destination)?;
                let message = self.inner.composer.sms_code(&to, code, ttl);
                sms.send_sms(&message).await?;
            }
        }
        Ok(())
    }

    /// The confirmed destination of `method` for `user`, if the method is enabled.
    async fn destination(&self, user: &str, method: Method) -> Result<Option<String>> {
        let Some(settings) = self.inner.store.settings(user).await? else {
            return Ok(None);
        };
        let Some(kind) = method.factor_kind() else {
            return Ok(None);
        };
        if !settings.enabled.contains(&kind) {
            return Ok(None);
        }
        Ok(match method {
            Method::Email => settings.email,
            Method::Sms if self.inner.sms.is_some() => settings.phone,
            _ => None,
        })
    }

    /// Sends a magic link (with a code beside it) for challenge `challenge_id` to the user's
    /// email address. The link is `base_url` with `token=<43 characters>` appended as a query
    /// parameter.
    ///
    /// Opening the link must only [inspect](Self::inspect_magic_link) it; signing in takes an
    /// explicit [confirmation](Self::confirm_magic_link) (a POST), so mail scanners that
    /// follow links consume nothing. With `binding` (for example a random value in a cookie of
    /// the browser that started the login), only a confirmation presenting the same value
    /// succeeds. A new link replaces the previous one.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a base URL that is not https (or http on localhost);
    /// delivery and store failures.
    pub async fn send_magic_link(
        &self,
        challenge_id: &str,
        base_url: &str,
        binding: Option<&str>,
    ) -> Result<SendOutcome> {
        let now = self.now();
        let expires_at = self.inner.policy.expires_at(Lifetime::MagicLink, now);
        let Ok(handle) = Token::parse(challenge_id) else {
            return Ok(SendOutcome::NoChallenge);
        };
        if handles::is_decoy(&self.inner.pepper, &handle) {
            return Ok(SendOutcome::Sent { expires_at });
        }
        let Some(ticket) = self.ticket(&handle, now).await? else {
            return Ok(SendOutcome::NoChallenge);
        };
        let user = ticket.challenge.user.clone();
        let Some(destination) = self.destination(&user, Method::Email).await? else {
            return Ok(SendOutcome::MethodUnavailable);
        };
        if let Some(refused) = self
            .send_allowed(Delivery::Email, &destination, now)
            .await?
        {
            return Ok(refused);
        }
        let pepper = &self.inner.pepper;
        let link_token = Token::generate()?;
        let code = Code::generate(self.inner.policy.code_digits())?;
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let link = zeroize::Zeroizing::new(format!(
            "{base_url}{separator}token={}",
            link_token.expose().as_str()
        ));
        let ttl = self.inner.policy.lifetime(Lifetime::MagicLink);
        let to = Mailbox::address_only(EmailAddress::parse(&destination)?);
        let message = self
            .inner
            .composer
            .magic_link(&to, &link, &code, ttl)
            .map_err(|_| Error::InvalidArgument("the magic-link base URL must be https"))?;
        self.inner.mailer.send(&message).await?;

        let (link_id, _) = handles::store_id(pepper, purpose::LINK_ID, &link_token);
        let (_, ticket_ref) = handles::store_id(pepper, purpose::CHALLENGE_ID, &handle);
        self.inner
            .store
            .create_challenge(Challenge {
                id: link_id,
                user: user.clone(),
                purpose: LINK.to_owned(),
                kind: ChallengeKind::MagicLink,
                // The link challenge has no code; this slot holds the digest of the ticket
                // handle it redeems (mfa-store's Challenge has no reference field).
                code_digest: Some(ticket_ref),
                link_digest: Some(pepper.digest_token(purpose::LINK, &user, &link_token)),
                binding_digest: binding
                    .map(|b| pepper.digest(purpose::LINK_BINDING, &user, b.as_bytes())),
                created_at: now,
                expires_at,
                attempts_left: self.inner.policy.challenge_attempts().get(),
                consumed: false,
            })
            .await?;
        let digest = pepper.digest_code(purpose::EMAIL_CODE, &user, &code);
        if !self
            .inner
            .store
            .replace_challenge_code(&ticket.id, digest, expires_at, now)
            .await?
        {
            return Ok(SendOutcome::NoChallenge);
        }
        self.emit(
            &user,
            None,
            EventKind::ChallengeIssued {
                method: Some(Method::Email),
            },
        )
        .await;
        Ok(SendOutcome::Sent { expires_at })
    }

    /// Looks at a magic link without using it (what a GET of the link may do): whether it is
    /// live. Mail scanners that open links therefore consume nothing.
    ///
    /// # Errors
    /// Store failures.
    pub async fn inspect_magic_link(&self, token: &str) -> Result<LinkInspection> {
        let now = self.now();
        let Ok(token) = Token::parse(token) else {
            return Ok(LinkInspection::Invalid);
        };
        let (id, _) = handles::store_id(&self.inner.pepper, purpose::LINK_ID, &token);
        Ok(match self.inner.store.challenge(&id, now).await? {
            Some(c) if !c.consumed && c.attempts_left > 0 && c.purpose == LINK => {
                LinkInspection::Valid {
                    expires_at: c.expires_at,
                }
            }
            _ => LinkInspection::Invalid,
        })
    }
}
