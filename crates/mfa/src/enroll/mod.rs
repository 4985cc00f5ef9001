//! Enrolment: a factor is pending until the user proves it with a first code, and every change
//! of factors once one is active needs a step-up grant.

use mfa_core::FactorKind;
use mfa_store::{ClientInfo, MfaSettings};

use crate::error::{Error, Result};
use crate::events::EventKind;
use crate::facade::Mfa;
use crate::login::active_factors;
use crate::method::Method;
use crate::notify::Recipients;
use crate::outcome::{Authority, EnrollmentOutcome};
use crate::send::Destination;

mod code;
mod totp;

pub use self::totp::{TotpEnrollment, TotpOptions};

/// An enrolment the authority allowed, with the settings as they were before it.
pub(crate) struct Authorised {
    /// The user's settings before the change.
    pub(crate) previous: Option<MfaSettings>,
    /// Whether the user had no active factor: the first factor mints the recovery codes.
    pub(crate) first: bool,
}

/// A factor in words a user understands, for notices: "authenticator app", "email address
/// ...@example.com", "phone number ending 0100".
pub(crate) fn describe(kind: FactorKind, settings: Option<&MfaSettings>) -> String {
    match kind {
        FactorKind::Totp => "authenticator app".to_owned(),
        FactorKind::WebAuthn => "security key or passkey".to_owned(),
        FactorKind::Email => match settings.and_then(|s| s.email.as_ref()) {
            Some(address) => format!("email address {}", address.masked()),
            None => "email address".to_owned(),
        },
        FactorKind::Sms => match settings.and_then(|s| s.phone.as_ref()) {
            Some(phone) => format!("phone number ending {}", phone.last_digits()),
            None => "phone number".to_owned(),
        },
    }
}

impl Mfa {
    /// Checks that `authority` entitles a change of `user`'s factors now: a live step-up grant
    /// of the user, or [`Authority::FirstFactor`] while the user has no active factor.
    pub(crate) async fn authorise(
        &self,
        user: &str,
        authority: Authority<'_>,
    ) -> Result<Authorised> {
        let previous = self.inner.store.settings(user).await?;
        let first = active_factors(previous.as_ref()).is_empty();
        match authority {
            Authority::StepUp(grant) => self.require_step_up(user, grant).await?,
            Authority::FirstFactor if !first => return Err(Error::NotAuthorised),
            Authority::FirstFactor => {}
        }
        Ok(Authorised { previous, first })
    }

    /// A factor was proven: enable it, hand out recovery codes if it is the first, revoke
    /// trusted devices (a factor change), audit, and tell the addresses and numbers on the
    /// account before *and* after the change.
    pub(crate) async fn activated(
        &self,
        user: &str,
        kind: FactorKind,
        destination: Option<Destination>,
        authorised: Authorised,
        client: &ClientInfo,
    ) -> Result<EnrollmentOutcome> {
        self.activate(user, kind, destination, None, authorised, client)
            .await
    }

    /// As [`activated`](Self::activated), for a factor the notice names in `factor` (a
    /// security key by its label).
    #[cfg(feature = "webauthn")]
    pub(crate) async fn activated_as(
        &self,
        user: &str,
        kind: FactorKind,
        factor: String,
        authorised: Authorised,
        client: &ClientInfo,
    ) -> Result<EnrollmentOutcome> {
        self.activate(user, kind, None, Some(factor), authorised, client)
            .await
    }

    async fn activate(
        &self,
        user: &str,
        kind: FactorKind,
        destination: Option<Destination>,
        described: Option<String>,
        authorised: Authorised,
        client: &ClientInfo,
    ) -> Result<EnrollmentOutcome> {
        let store = &self.inner.store;
        let previous = authorised.previous;
        let mut also = Recipients::default();
        if let Some(p) = &previous {
            also.add(p.email.as_ref(), p.phone.as_ref());
        }
        let mut settings = previous.unwrap_or_else(|| MfaSettings::new(user));
        settings.enabled.insert(kind);
        if settings.preferred.is_none() {
            settings.preferred = Some(kind);
        }
        match destination {
            Some(Destination::Email(address)) => settings.email = Some(address),
            Some(Destination::Phone(number)) => settings.phone = Some(number),
            None => {}
        }
        let factor = described.unwrap_or_else(|| describe(kind, Some(&settings)));
        store.put_settings(settings).await?;
        let recovery_codes = if authorised.first {
            Some(self.new_recovery_set(user).await?)
        } else {
            None
        };
        store.revoke_all_devices(user).await?;
        let method = Method::from(kind);
        self.emit(
            user,
            Some(client),
            EventKind::EnrollmentConfirmed { method },
        )
        .await;
        self.notify(user, mfa_mail::Notice::FactorAdded { factor }, also)
            .await;
        Ok(EnrollmentOutcome::Confirmed { recovery_codes })
    }
}
