//! Sending one-time codes for a ticket, within the cooldowns and quotas of the request's
//! context: per destination and per user, once for every unrecognised context together and
//! once more for each recognised context on its own.

use std::time::{Duration, SystemTime};

use mfa_core::{Channel, Code, EmailAddress, PhoneNumber};
use mfa_mail::Mailbox;
use mfa_policy::{Context, SendQuota};
use mfa_store::{ClientInfo, CounterKey, CounterScope, MfaSettings, Take};

use crate::context::Attempt;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::{self, ChallengeId};
use crate::method::Method;
use crate::outcome::SendOutcome;
use crate::purpose::digest;

/// Where a code goes.
#[derive(Debug, Clone)]
pub(crate) enum Destination {
    Email(EmailAddress),
    Phone(PhoneNumber),
}

impl Destination {
    /// The one form quotas key on (an address in lower case).
    fn key(&self) -> String {
        match self {
            Self::Email(a) => a.normalized(),
            Self::Phone(p) => p.as_str().to_owned(),
        }
    }

    fn channel(&self) -> Channel {
        match self {
            Self::Email(_) => Channel::Email,
            Self::Phone(_) => Channel::Sms,
        }
    }
}

/// The confirmed destination of `channel` in `settings`, if the factor is enabled.
pub(crate) fn destination(settings: Option<&MfaSettings>, channel: Channel) -> Option<Destination> {
    let s = settings?;
    if !s.enabled.contains(&channel.factor()) {
        return None;
    }
    match channel {
        Channel::Email => s.email.clone().map(Destination::Email),
        Channel::Sms => s.phone.clone().map(Destination::Phone),
    }
}

/// The scope of a send counter of `subject` (a destination or a user) for `attempt`.
fn scope(subject: String, attempt: &Attempt) -> CounterScope {
    match &attempt.tag {
        Some(tag) if attempt.class == Context::Recognised => CounterScope::AccountClient {
            account: subject,
            client: tag.clone(),
        },
        _ => CounterScope::Account(subject),
    }
}

impl Mfa {
    /// Takes one send from every quota that applies to a message to `to` for `user` from
    /// `attempt`'s context: the destination's cooldown, hour and day, then the user's hour and
    /// day. Of concurrent resends exactly one passes the cooldown. `Some(refusal)` when one is
    /// spent.
    pub(crate) async fn send_allowed(
        &self,
        to: &Destination,
        user: &str,
        attempt: &Attempt,
        now: SystemTime,
    ) -> Result<Option<SendOutcome>> {
        let quota = self.inner.policy.send_quota(to.channel());
        let per_user = self.inner.policy.user_quota();
        let channel = to.channel().as_str();
        let dest = |what: &str| {
            CounterKey::new(format!("send.{channel}.{what}"), scope(to.key(), attempt))
        };
        let mine =
            |what: &str| CounterKey::new(format!("send.user.{what}"), scope(user.into(), attempt));
        let takes = [
            Take::new(dest("cooldown"), quota.cooldown(), 1),
            Take::new(dest("hour"), SendQuota::HOUR, quota.per_hour().get()),
            Take::new(dest("day"), SendQuota::DAY, quota.per_day().get()),
            Take::new(mine("hour"), SendQuota::HOUR, per_user.per_hour().get()),
            Take::new(mine("day"), SendQuota::DAY, per_user.per_day().get()),
        ];
        let results = self.inner.store.take_counters(&takes, now).await?;
        let Some(refused) = results.iter().position(|r| !r.is_taken()) else {
            return Ok(None);
        };
        let retry_after = results.get(refused).map_or(Duration::ZERO, |r| {
            r.state().window_end.duration_since(now).unwrap_or_default()
        });
        Ok(Some(if refused == 0 {
            SendOutcome::Cooldown { retry_after }
        } else {
            SendOutcome::QuotaExceeded { retry_after }
        }))
    }

    /// Delivers `code` to `to`.
    pub(crate) async fn deliver_code(
        &self,
        to: &Destination,
        code: &Code,
        ttl: Duration,
    ) -> Result<()> {
        let composer = self
            .inner
            .composer
            .as_ref()
            .ok_or(Error::MethodNotEnabled)?;
        match to {
            Destination::Email(address) => {
                let mailer = self.inner.mailer.as_ref().ok_or(Error::MethodNotEnabled)?;
                let to = Mailbox::address_only(address.clone());
                let message = composer.one_time_code(&to, code, ttl);
                mailer.send(&message).await?;
            }
            Destination::Phone(number) => {
                let sms = self.inner.sms.as_ref().ok_or(Error::MethodNotEnabled)?;
                let message = composer.sms_code(number, code, ttl);
                sms.send_sms(&message).await?;
            }
        }
        Ok(())
    }

    /// Whether the facade can deliver through `channel` (it was built with the sender).
    pub(crate) fn can_deliver(&self, channel: Channel) -> bool {
        self.inner.composer.is_some()
            && match channel {
                Channel::Email => self.inner.mailer.is_some(),
                Channel::Sms => self.inner.sms.is_some(),
            }
    }

    /// Sends a one-time code for `challenge` by email or SMS, replacing any code sent before
    /// for this ticket (the tries left are kept: a resend gives no new guesses). Tickets
    /// started from other contexts keep their own codes.
    ///
    /// The code is delivered first and stored after: if delivery fails the call fails and the
    /// code sent works nowhere. For a decoy challenge (unknown address) it answers
    /// [`SendOutcome::Sent`] and sends nothing. `client` decides which quotas the send counts
    /// against: a recognised context has its own, which strangers cannot spend.
    ///
    /// # Errors
    /// Delivery failures ([`Error::Delivery`]), store failures.
    pub async fn send_code(
        &self,
        challenge: &ChallengeId,
        channel: Channel,
        client: &ClientInfo,
    ) -> Result<SendOutcome> {
        let now = self.now();
        let lifetime = self.inner.policy.lifetime(channel.code_challenge());
        let expires_at = now.checked_add(lifetime).unwrap_or(now);
        if handles::is_decoy(&self.inner.pepper, &challenge.0) {
            return Ok(SendOutcome::Sent { expires_at });
        }
        let Some(ticket) = self.ticket(challenge, now).await? else {
            return Ok(SendOutcome::NoChallenge);
        };
        let user = ticket.challenge.user.clone();
        let settings = self.inner.store.settings(&user).await?;
        let Some(to) =
            destination(settings.as_ref(), channel).filter(|_| self.can_deliver(channel))
        else {
            return Ok(SendOutcome::MethodUnavailable);
        };
        let attempt = self.ticket_attempt(&ticket, client);
        if let Some(refused) = self.send_allowed(&to, &user, &attempt, now).await? {
            return Ok(refused);
        }
        let code = Code::generate(self.inner.policy.code_digits())?;
        let code_purpose = match channel {
            Channel::Email => digest::EMAIL_CODE,
            Channel::Sms => digest::SMS_CODE,
        };
        let digest = self.inner.pepper.digest_code(code_purpose, &user, &code);
        self.deliver_code(&to, &code, lifetime).await?;
        if !self
            .inner
            .store
            .replace_challenge_code(
                &ticket.id,
                channel.code_challenge(),
                digest,
                expires_at,
                now,
            )
            .await?
        {
            return Ok(SendOutcome::NoChallenge);
        }
        self.emit(
            &user,
            Some(client),
            EventKind::ChallengeIssued {
                method: Some(Method::from(channel.factor())),
            },
        )
        .await;
        Ok(SendOutcome::Sent { expires_at })
    }
}
