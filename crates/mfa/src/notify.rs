//! Telling: audit events (to the store and the hook) and security notices (by email, and by
//! SMS for factor changes). Neither undoes the action it reports when it fails.

use std::collections::BTreeSet;

use mfa_core::{EmailAddress, PhoneNumber};
use mfa_mail::{Mailbox, Notice};
use mfa_store::ClientInfo;

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
    /// Records `kind` for `user`: appended to the store's audit trail, passed to the hook, and
    /// logged (user and kind only). A failing audit write is logged and does not undo the
    /// action it records.
    pub(crate) async fn emit(&self, user: &str, client: Option<&ClientInfo>, kind: EventKind) {
        let event = AuditEvent {
            at: self.now(),
            user: user.to_owned(),
            client: client.cloned().unwrap_or_default(),
            kind,
        };
        let (store_kind, outcome) = event.kind.store_kind();
        tracing::info!(user = %event.user, event = %store_kind, outcome = %outcome, "mfa audit");
        let record = mfa_store::AuditEvent {
            at: event.at,
            user: event.user.clone(),
            kind: store_kind,
            outcome,
            client: event.client.clone(),
            actor: event.kind.actor().map(str::to_owned),
        };
        if let Err(e) = self.inner.store.append_audit(record).await {
            tracing::error!(user = %event.user, error = %e, "mfa audit write failed");
        }
        if let Some(hook) = &self.inner.hook {
            hook(&event);
        }
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
