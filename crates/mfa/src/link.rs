//! Magic links: sent beside a code for a ticket, inspected by a GET (which consumes nothing,
//! so mail scanners cannot use them), redeemed by an explicit confirmation.

use std::time::SystemTime;

use mfa_core::{ChallengeKind, Channel, Code, CodeDigest, Token};
use mfa_mail::Mailbox;
use mfa_policy::Factor;
use mfa_store::{AttemptOutcome, Challenge, ClientInfo};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles::{self, ChallengeId, MagicLinkToken};
use crate::limits::Admission;
use crate::method::Method;
use crate::outcome::{LinkInspection, Outcome, SendOutcome, VerifyOptions};
use crate::purpose::{Purpose, digest};
use crate::send::{Delivery, Destination};
use crate::verify::{Success, Ticket, refused};

impl Mfa {
    /// Sends a magic link (with a code beside it) for `challenge` to the user's email address.
    /// The link is `base_url` with `token=<43 characters>` appended as a query parameter.
    ///
    /// Opening the link must only [inspect](Self::inspect_magic_link) it; signing in takes an
    /// explicit [confirmation](Self::confirm_magic_link) (a POST), so mail scanners that
    /// follow links consume nothing. With `binding` (a random value in a cookie of the browser
    /// that started the login), only a confirmation presenting the same value succeeds, so
    /// whoever else gets the link cannot sign in with it in their own browser. A new link for
    /// the same ticket replaces the previous one; links of tickets started elsewhere stay.
    /// For the ticket of an address no account has, the link and code are made, counted and
    /// stored as for any other and not delivered (see
    /// [`begin_email_login`](Self::begin_email_login)).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a base URL that is not https (or http on localhost);
    /// delivery and store failures.
    pub async fn send_magic_link(
        &self,
        challenge: &ChallengeId,
        base_url: &str,
        binding: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SendOutcome> {
        let now = self.now();
        let expires_at = self.inner.policy.expires_at(ChallengeKind::MagicLink, now);
        let Some(ticket) = self.ticket(challenge, now).await? else {
            return Ok(SendOutcome::NoChallenge);
        };
        let Some(context) = ticket.purpose.context().cloned() else {
            return Ok(SendOutcome::NoChallenge);
        };
        let user = ticket.challenge.user.clone();
        let settings = self.inner.store.settings(&user).await?;
        let Some((Destination::Email(address), delivery)) =
            self.route(&ticket, settings.as_ref(), Channel::Email)
        else {
            return Ok(SendOutcome::MethodUnavailable);
        };
        let to = Destination::Email(address.clone());
        let attempt = self.ticket_attempt(&ticket, client);
        if let Some(refused) = self.send_allowed(&to, &user, &attempt, now).await? {
            return Ok(refused);
        }
        let link_token = Token::generate()?;
        let code = Code::generate(self.inner.policy.code_digits())?;
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let link = Zeroizing::new(format!(
            "{base_url}{separator}token={}",
            link_token.expose().as_str()
        ));
        let ttl = self.inner.policy.lifetime(ChallengeKind::MagicLink);
        let (Some(composer), Some(mailer)) = (&self.inner.composer, &self.inner.mailer) else {
            return Ok(SendOutcome::MethodUnavailable);
        };
        let message = composer
            .magic_link(&Mailbox::address_only(address), &link, &code, ttl)
            .map_err(|_| Error::InvalidArgument("the magic-link base URL must be https"))?;
        if delivery == Delivery::Send {
            mailer.send(&message).await?;
        }
        self.store_link(
            &ticket,
            context,
            &link_token,
            binding,
            &code,
            expires_at,
            now,
        )
        .await?;
        self.emit(
            &user,
            Some(client),
            EventKind::ChallengeIssued {
                method: Some(Method::Email),
            },
        )
        .await;
        Ok(SendOutcome::Sent { expires_at })
    }

    /// Stores a sent link (as its own challenge, referring to the ticket) and the code beside
    /// it (on the ticket).
    #[allow(clippy::too_many_arguments)]
    async fn store_link(
        &self,
        ticket: &Ticket,
        context: crate::purpose::TicketContext,
        link_token: &Token,
        binding: Option<&str>,
        code: &Code,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<()> {
        let pepper = &self.inner.pepper;
        let user = &ticket.challenge.user;
        let (link_id, _) = handles::store_id(pepper, digest::LINK_ID, link_token);
        let ticket_ref = ticket.digest.clone();
        self.inner
            .store
            .create_challenge(Challenge {
                id: link_id,
                user: user.clone(),
                purpose: Purpose::Link(context).encode(),
                kind: ChallengeKind::MagicLink,
                // The link challenge has no code; this slot holds the digest whose hex is the
                // store id of the ticket it redeems (mfa-store's Challenge has no reference
                // field).
                code_digest: Some(ticket_ref),
                link_digest: Some(pepper.digest_token(digest::LINK, user, link_token)),
                binding_digest: binding
                    .map(|b| pepper.digest(digest::LINK_BINDING, user, b.as_bytes())),
                created_at: now,
                expires_at,
                attempts_left: self.inner.policy.challenge_attempts().get(),
                consumed: false,
                // A link is charged as the ticket it redeems.
                plan: ticket.challenge.plan.clone(),
            })
            .await?;
        let code_digest = pepper.digest_code(digest::EMAIL_CODE, user, code);
        self.inner
            .store
            .replace_challenge_code(
                &ticket.id,
                ChallengeKind::EmailCode,
                code_digest,
                expires_at,
                now,
            )
            .await?;
        Ok(())
    }

    /// Looks at a magic link without using it (what a GET of the link may do): whether it is
    /// live. Mail scanners that open links therefore consume nothing.
    ///
    /// # Errors
    /// Store failures.
    pub async fn inspect_magic_link(&self, token: &MagicLinkToken) -> Result<LinkInspection> {
        let now = self.now();
        let (id, _) = handles::store_id(&self.inner.pepper, digest::LINK_ID, &token.0);
        Ok(match self.inner.store.challenge(&id, now).await? {
            Some(c)
                if !c.consumed
                    && c.attempts_left > 0
                    && matches!(Purpose::decode(&c.purpose), Some(Purpose::Link(_))) =>
            {
                LinkInspection::Valid {
                    expires_at: c.expires_at,
                }
            }
            _ => LinkInspection::Invalid,
        })
    }

    /// Confirms a magic link: the explicit step (a POST from the page the link opened) that
    /// signs in. `binding` must be the value given to
    /// [`send_magic_link`](Self::send_magic_link), if one was.
    ///
    /// # Errors
    /// Store failures; nothing is granted then.
    pub async fn confirm_magic_link(
        &self,
        token: &MagicLinkToken,
        binding: Option<&str>,
        client: &ClientInfo,
        options: VerifyOptions,
    ) -> Result<Outcome> {
        let now = self.now();
        self.redeem_link(token, binding, None, client, options, now)
            .await
    }

    /// Redeems a link: directly (`via` none: the link's binding must match), or as the proof of
    /// the ticket whose store id is the hex of `via` (the browser holding the ticket needs no
    /// binding). One store step takes the link's try and budgets, one more settles.
    pub(crate) async fn redeem_link(
        &self,
        token: &MagicLinkToken,
        binding: Option<&str>,
        via: Option<&CodeDigest>,
        client: &ClientInfo,
        options: VerifyOptions,
        now: SystemTime,
    ) -> Result<Outcome> {
        let pepper = &self.inner.pepper;
        let (link_id, _) = handles::store_id(pepper, digest::LINK_ID, &token.0);
        let tag = self.network(client);
        let view = self
            .inner
            .store
            .attempt(&link_id, tag.as_deref(), false, now)
            .await?;
        let AttemptOutcome::Spent {
            challenge,
            attempts_left_after,
        } = view.outcome
        else {
            return Ok(refused(&view.outcome));
        };
        let user = challenge.user.clone();
        let admitted = match self
            .judge_plan(
                Factor::SecondFactor,
                &user,
                challenge.plan.as_ref(),
                view.recognised,
                view.takes,
                now,
            )
            .await?
        {
            Admission::Refused(until) => {
                self.emit(&user, Some(client), EventKind::VerificationDenied)
                    .await;
                return Ok(Outcome::LockedOut { until });
            }
            Admission::Admitted(admitted) => admitted,
        };
        let link_purpose = Purpose::decode(&challenge.purpose);
        let is_link = matches!(link_purpose, Some(Purpose::Link(_)));
        let link_ok = is_link
            && challenge
                .link_digest
                .as_ref()
                .is_some_and(|d| d.ct_eq(&pepper.digest_token(digest::LINK, &user, &token.0)));
        let binding_ok = match (&challenge.binding_digest, binding) {
            (None, _) => true,
            (Some(stored), Some(given)) => {
                stored.ct_eq(&pepper.digest(digest::LINK_BINDING, &user, given.as_bytes()))
            }
            (Some(_), None) => via.is_some(),
        };
        let ticket_ref = challenge.code_digest.clone();
        let ticket_ok = match (via, &ticket_ref) {
            (Some(expected), Some(stored)) => stored.ct_eq(expected),
            (None, Some(_)) => true,
            (_, None) => false,
        };
        let (true, Some(ticket_ref)) = (link_ok && binding_ok && ticket_ok, ticket_ref) else {
            return self
                .fail(
                    &user,
                    admitted,
                    Method::Email,
                    attempts_left_after,
                    client,
                    now,
                )
                .await;
        };
        let success = Success {
            user: &user,
            method: Method::Email,
            step: None,
            consume: vec![link_id, handles::hex(&ticket_ref)],
            recovery_left: None,
            opened_from: link_purpose.as_ref().and_then(Purpose::context).cloned(),
        };
        self.succeed(success, admitted, attempts_left_after, client, options, now)
            .await
    }
}
