//! Telling: audit events (to the store and the hook) and security notices (by email, and by
//! SMS for factor changes). Neither undoes the action it reports when it fails.

use std::collections::BTreeSet;
use std::time::SystemTime;

use mfa_core::{EmailAddress, PhoneNumber};
use mfa_mail::{Mailbox, Notice};
use mfa_store::{ClientInfo, Settlement};

use crate::error::Result;

use crate::events::{AuditEvent, EventKind};
use crate::facade::Mfa;

/// Who a notice goes to besides the user's current address and number: the previous ones of a
/// factor change, so that a factor replaced by someone else is announced where the owner
/// still reads.
#[derive(Debug, Default)]
pub(crate) struct Recipients {
    pub(crate) emails: BTreeSet<EmailAddress>,
    pub(crate) phones: BTreeSet<PhoneNumber>,
}

impl Recipients {
    /// Adds an address and a number, if there are any.
    pub(crate) fn add(&mut self, email: Option<&EmailAddress>, phone: Option<&PhoneNumber>) {
        self.emails.extend(email.cloned());
        self.phones.extend(phone.cloned());
    }
}

impl Mfa {
    /// An audit event of `kind` for `user` at `now`.
    pub(crate) fn event(
        &self,
        user: &str,
        client: Option<&ClientInfo>,
        kind: EventKind,
        now: SystemTime,
    ) -> AuditEvent {
        AuditEvent {
            at: now,
            user: user.to_owned(),
            client: client.cloned().unwrap_or_default(),
            kind,
        }
    }

    /// The store's record of `event`.
    pub(crate) fn record_of(event: &AuditEvent) -> mfa_store::AuditEvent {
        let (kind, outcome) = event.kind.store_kind();
        mfa_store::AuditEvent {
            at: event.at,
            user: event.user.clone(),
            kind,
            outcome,
            client: event.client.clone(),
            actor: event.kind.actor().map(str::to_owned),
        }
    }

    /// Logs `events` (user and kind only) and passes them to the hook: done once they are
    /// written.
    pub(crate) fn announce(&self, events: &[AuditEvent]) {
        for event in events {
            let (kind, outcome) = event.kind.store_kind();
            tracing::info!(user = %event.user, event = %kind, outcome = %outcome, "mfa audit");
            if let Some(hook) = &self.inner.hook {
                hook(event);
            }
        }
    }

    /// Applies `settlement` with `events` as its audit records, in one store step; the events
    /// are announced once written (a refused settlement writes and announces nothing).
    pub(crate) async fn settle_told(
        &self,
        mut settlement: Settlement,
        events: Vec<AuditEvent>,
        now: SystemTime,
    ) -> Result<bool> {
        settlement.audit = events.iter().map(Self::record_of).collect();
        let done = self.inner.store.settle(settlement, now).await?;
        if done {
            self.announce(&events);
        }
        Ok(done)
    }

    /// Records `kind` for `user` on its own: appended to the store's audit trail, passed to the
    /// hook, and logged (user and kind only). A failing audit write is logged and does not undo
    /// the action it records.
    pub(crate) async fn emit(&self, user: &str, client: Option<&ClientInfo>, kind: EventKind) {
        let event = self.event(user, client, kind, self.now());
        if let Err(e) = self.inner.store.append_audit(Self::record_of(&event)).await {
            tracing::error!(user = %event.user, error = %e, "mfa audit write failed");
        }
        self.announce(&[event]);
    }

    /// Sends a security notice to `user`'s current email address (and, for a factor change, to
    /// their phone), and to `also`. A failure is logged (without the message) and does not
    /// undo the action.
    pub(crate) async fn notify(&self, user: &str, notice: Notice, also: Recipients) {
        let mut to = also;
        match self.inner.store.settings(user).await {
            Ok(Some(s)) => to.add(s.email.as_ref(), s.phone.as_ref()),
            Ok(None) => {}
            Err(e) => tracing::warn!(user = %user, error = %e, "mfa notice: settings unreadable"),
        }
        let Some(composer) = &self.inner.composer else {
            return;
        };
        if let Some(mailer) = &self.inner.mailer {
            for address in to.emails {
                let message = composer.notice(&Mailbox::address_only(address), &notice);
                if let Err(e) = mailer.send(&message).await {
                    tracing::warn!(
                        user = %user,
                        notice = message.kind().name(),
                        error = %e,
                        "mfa notice not delivered"
                    );
                }
            }
        }
        if let Some(sms) = &self.inner.sms {
            for phone in to.phones {
                let Some(message) = composer.sms_notice(&phone, &notice) else {
                    continue;
                };
                if let Err(e) = sms.send_sms(&message).await {
                    tracing::warn!(user = %user, error = %e, "mfa SMS notice not delivered");
                }
            }
        }
    }
}
