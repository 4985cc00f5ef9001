//! Sending one-time codes for a ticket, within the cooldowns and quotas of the request's
//! context: per destination and per user, once for every unrecognised context together and
//! once more for each recognised context on its own.

use std::time::{Duration, SystemTime};

use mfa_core::{Channel, Code, EmailAddress, FactorKind, PhoneNumber};
use mfa_mail::Mailbox;
use mfa_policy::{Context, SendQuota};
use mfa_store::{ClientInfo, CounterKey, CounterScope, MfaSettings, Take};

use crate::context::Attempt;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::ChallengeId;
use crate::method::Method;
use crate::outcome::SendOutcome;
use crate::purpose::{Purpose, digest};
use crate::verify::Ticket;

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

/// Whether `settings` has a confirmed email factor at `address` (normalised).
fn email_factor_matches(settings: &MfaSettings, address: &str) -> bool {
    settings.enabled.contains(&FactorKind::Email)
        && settings
            .email
            .as_ref()
            .is_some_and(|e| e.normalized() == address)
}

/// Whether a composed message leaves the facade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// To the mailer or SMS sender.
    Send,
    /// Nowhere: the ticket is an unknown address's, whose code must exist (so that guesses
    /// are counted as for any address) and never be delivered.
    Withhold,
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

    /// Composes the message carrying `code` to `to`, and sends it when `delivery` says so.
    /// A withheld message (an unknown address's ticket) is composed all the same, so the work
    /// done does not depend on whether the address has an account.
    pub(crate) async fn deliver_code(
        &self,
        to: &Destination,
        code: &Code,
        ttl: Duration,
        delivery: Delivery,
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
                if delivery == Delivery::Send {
                    mailer.send(&message).await?;
                }
            }
            Destination::Phone(number) => {
                let sms = self.inner.sms.as_ref().ok_or(Error::MethodNotEnabled)?;
                let message = composer.sms_code(number, code, ttl);
                if delivery == Delivery::Send {
                    sms.send_sms(&message).await?;
                }
            }
        }
        Ok(())
    }

    /// Where a message for `ticket` through `channel` goes, and whether it is delivered.
    /// `None` when the method is not available for this ticket.
    ///
    /// A passwordless ticket ([`Purpose::EmailLogin`]) takes only email, for every address:
    /// to the account's confirmed address when the ticket's address has one, and otherwise to
    /// the ticket's own address, withheld. Every other ticket goes to the user's confirmed
    /// destination of the channel.
    pub(crate) fn route(
        &self,
        ticket: &Ticket,
        settings: Option<&MfaSettings>,
        channel: Channel,
    ) -> Option<(Destination, Delivery)> {
        if !self.can_deliver(channel) {
            return None;
        }
        if !matches!(ticket.purpose, Purpose::EmailLogin(_)) {
            return destination(settings, channel).map(|to| (to, Delivery::Send));
        }
        if channel != Channel::Email {
            return None;
        }
        // The ticket's address is parsed for every address, known or not, so that the work
        // done does not tell them apart.
        let user = &ticket.challenge.user;
        let own = EmailAddress::parse(user).ok()?;
        match settings.filter(|s| email_factor_matches(s, user)) {
            Some(s) => destination(Some(s), channel).map(|to| (to, Delivery::Send)),
            None => Some((Destination::Email(own), Delivery::Withhold)),
        }
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
    /// code sent works nowhere. For the ticket of an address no account has (see
    /// [`begin_email_login`](Self::begin_email_login)) the code is made, counted against the
    /// same quotas and stored as for any other, and not delivered: the answer is the same.
    /// `client` decides which quotas the send counts against: a recognised context has its
    /// own, which strangers cannot spend.
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
        let Some(ticket) = self.ticket(challenge, now).await? else {
            return Ok(SendOutcome::NoChallenge);
        };
        let user = ticket.challenge.user.clone();
        let settings = self.inner.store.settings(&user).await?;
        let Some((to, delivery)) = self.route(&ticket, settings.as_ref(), channel) else {
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
        self.deliver_code(&to, &code, lifetime, delivery).await?;
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
