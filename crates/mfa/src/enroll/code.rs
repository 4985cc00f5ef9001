//! Enrolling an email address or a phone number: a code sent to it, which activates it.

use mfa_core::{Code, EmailAddress, FactorKind, PhoneNumber};
use mfa_policy::Factor;
use mfa_store::{AttemptOutcome, Challenge, ClientInfo};

use crate::enroll::Authorised;
use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::handles;
use crate::limits::{Admission, AfterFailure};
use crate::method::Method;
use crate::outcome::{Authority, EnrollmentOutcome, SendOutcome};
use crate::purpose::{Purpose, digest};
use crate::send::{Delivery, Destination};

/// The `user` field of an enrolment code digest: the code is bound to user and destination.
fn bound(user: &str, to: &Destination) -> String {
    let key = match to {
        Destination::Email(a) => a.normalized(),
        Destination::Phone(p) => p.as_str().to_owned(),
    };
    format!("{user}\u{0}{key}")
}

fn kind_of(to: &Destination) -> FactorKind {
    match to {
        Destination::Email(_) => FactorKind::Email,
        Destination::Phone(_) => FactorKind::Sms,
    }
}

impl Mfa {
    /// Starts enrolling `email` as `user`'s email factor (or replacing the address of the
    /// active one): sends a code to it. Confirm with
    /// [`finish_email_enrollment`](Self::finish_email_enrollment).
    ///
    /// # Errors
    /// [`Error::NotAuthorised`]; [`Error::AlreadyEnabled`] for the address already enabled;
    /// [`Error::MethodNotEnabled`] without a mailer; delivery and store failures.
    pub async fn start_email_enrollment(
        &self,
        user: &str,
        authority: Authority<'_>,
        email: &EmailAddress,
        client: &ClientInfo,
    ) -> Result<SendOutcome> {
        let to = Destination::Email(email.clone());
        self.start_code_enrollment(user, authority, to, client)
            .await
    }

    /// Confirms `user`'s email factor at `email` with the code sent to it.
    ///
    /// # Errors
    /// [`Error::NotAuthorised`]; store failures.
    pub async fn finish_email_enrollment(
        &self,
        user: &str,
        authority: Authority<'_>,
        email: &EmailAddress,
        code: &str,
        client: &ClientInfo,
    ) -> Result<EnrollmentOutcome> {
        let to = Destination::Email(email.clone());
        self.finish_code_enrollment(user, authority, to, code, client)
            .await
    }

    /// Starts enrolling `phone` as `user`'s SMS factor (or replacing the number of the active
    /// one): sends a code.
    ///
    /// # Errors
    /// [`Error::NotAuthorised`]; [`Error::AlreadyEnabled`]; [`Error::MethodNotEnabled`]
    /// without an SMS sender; delivery and store failures.
    pub async fn start_sms_enrollment(
        &self,
        user: &str,
        authority: Authority<'_>,
        phone: &PhoneNumber,
        client: &ClientInfo,
    ) -> Result<SendOutcome> {
        let to = Destination::Phone(phone.clone());
        self.start_code_enrollment(user, authority, to, client)
            .await
    }

    /// Confirms `user`'s SMS factor at `phone` with the code sent to it.
    ///
    /// # Errors
    /// [`Error::NotAuthorised`]; store failures.
    pub async fn finish_sms_enrollment(
        &self,
        user: &str,
        authority: Authority<'_>,
        phone: &PhoneNumber,
        code: &str,
        client: &ClientInfo,
    ) -> Result<EnrollmentOutcome> {
        let to = Destination::Phone(phone.clone());
        self.finish_code_enrollment(user, authority, to, code, client)
            .await
    }

    /// The store id of `user`'s pending enrolment of `kind` (one per user and kind).
    fn enrol_id(&self, user: &str, kind: FactorKind) -> String {
        let tag = kind.as_str().as_bytes();
        handles::hex(&self.inner.pepper.digest(digest::ENROL_ID, user, tag))
    }

    fn enrol_digest_purpose(kind: FactorKind) -> &'static str {
        match kind {
            FactorKind::Sms => digest::ENROL_SMS,
            _ => digest::ENROL_EMAIL,
        }
    }

    /// Whether `to` is already `user`'s enabled destination of its kind.
    fn already_enabled(authorised: &Authorised, to: &Destination) -> bool {
        authorised.previous.as_ref().is_some_and(|s| match to {
            Destination::Email(a) => {
                s.enabled.contains(&FactorKind::Email)
                    && s.email
                        .as_ref()
                        .is_some_and(|e| e.normalized() == a.normalized())
            }
            Destination::Phone(p) => {
                s.enabled.contains(&FactorKind::Sms) && s.phone.as_ref() == Some(p)
            }
        })
    }

    async fn start_code_enrollment(
        &self,
        user: &str,
        authority: Authority<'_>,
        to: Destination,
        client: &ClientInfo,
    ) -> Result<SendOutcome> {
        let now = self.now();
        let authorised = self.authorise(user, authority).await?;
        if Self::already_enabled(&authorised, &to) {
            return Err(Error::AlreadyEnabled);
        }
        let kind = kind_of(&to);
        let Some(channel) = kind.channel().filter(|c| self.can_deliver(*c)) else {
            return Err(Error::MethodNotEnabled);
        };
        let attempt = self.classify_network(user, client, now).await?;
        if let Some(refused) = self.send_allowed(&to, user, &attempt, now).await? {
            return Ok(refused);
        }
        let code = Code::generate(self.inner.policy.code_digits())?;
        let digest = self.inner.pepper.digest_code(
            Self::enrol_digest_purpose(kind),
            &bound(user, &to),
            &code,
        );
        let challenge_kind = channel.code_challenge();
        let lifetime = self.inner.policy.lifetime(challenge_kind);
        let expires_at = now.checked_add(lifetime).unwrap_or(now);
        self.deliver_code(&to, &code, lifetime, Delivery::Send)
            .await?;
        self.inner
            .store
            .create_challenge(Challenge {
                id: self.enrol_id(user, kind),
                user: user.to_owned(),
                purpose: Purpose::Enrol(kind).encode(),
                kind: challenge_kind,
                code_digest: Some(digest),
                link_digest: None,
                binding_digest: None,
                created_at: now,
                expires_at,
                attempts_left: self.inner.policy.challenge_attempts().get(),
                consumed: false,
                plan: None,
            })
            .await?;
        self.emit(
            user,
            Some(client),
            EventKind::EnrollmentStarted {
                method: Method::from(kind),
            },
        )
        .await;
        Ok(SendOutcome::Sent { expires_at })
    }

    async fn finish_code_enrollment(
        &self,
        user: &str,
        authority: Authority<'_>,
        to: Destination,
        code: &str,
        client: &ClientInfo,
    ) -> Result<EnrollmentOutcome> {
        let now = self.now();
        let authorised = self.authorise(user, authority).await?;
        if Self::already_enabled(&authorised, &to) {
            return Ok(EnrollmentOutcome::AlreadyEnabled);
        }
        let kind = kind_of(&to);
        let id = self.enrol_id(user, kind);
        let (challenge, attempts_left) = match self.inner.store.spend_attempt(&id, now).await? {
            AttemptOutcome::Spent {
                challenge,
                attempts_left_after,
            } => (challenge, attempts_left_after),
            AttemptOutcome::NotFound => return Ok(EnrollmentOutcome::NoPendingEnrollment),
            _ => return Ok(EnrollmentOutcome::Expired),
        };
        let attempt = self.classify_network(user, client, now).await?;
        let admitted = match self
            .admit(Factor::SecondFactor, user, &attempt, now)
            .await?
        {
            Admission::Refused(until) => return Ok(EnrollmentOutcome::LockedOut { until }),
            Admission::Admitted(admitted) => admitted,
        };
        let purpose = Self::enrol_digest_purpose(kind);
        let typed = Code::parse(code, self.inner.policy.code_digits())
            .ok()
            .map(|c| {
                self.inner
                    .pepper
                    .digest_code(purpose, &bound(user, &to), &c)
            });
        let matched = matches!(
            (&challenge.code_digest, &typed),
            (Some(stored), Some(typed)) if stored.ct_eq(typed)
        );
        if !matched {
            let failed = self.event(
                user,
                Some(client),
                EventKind::EnrollmentFailed {
                    method: Method::from(kind),
                },
                now,
            );
            return Ok(
                match self
                    .attempt_failed(admitted, user, client, vec![failed], now)
                    .await?
                {
                    AfterFailure::Continue => EnrollmentOutcome::Rejected {
                        attempts_left: Some(attempts_left),
                    },
                    AfterFailure::Blocked(until) => EnrollmentOutcome::LockedOut { until },
                },
            );
        }
        if !self.inner.store.consume_challenge(&id, now).await? {
            return Ok(EnrollmentOutcome::Expired);
        }
        self.attempt_succeeded(&admitted, user, Vec::new(), now)
            .await?;
        self.activated(user, kind, Some(to), authorised, client)
            .await
    }
}
