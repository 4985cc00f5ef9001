//! The delivery traits a backend implements.

use core::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use crate::message::{EmailMessage, SmsMessage};

/// Something that delivers email: an SMTP relay, an API, a development outbox.
///
/// Delivery only: cooldowns and quotas are decided before (by `mfa-policy`).
#[async_trait]
pub trait Mailer: Send + Sync + Debug {
    /// Hands `message` to the next hop.
    ///
    /// Contract: `Ok(())` means the next hop accepted the whole message (for SMTP, the server
    /// answered 250 to the end of DATA). An error says whether a retry may help through
    /// [`MailError::is_transient`](crate::MailError::is_transient). The message's bodies
    /// (which hold codes and links) must not appear in any log line, error or `Debug` output
    /// of the implementation.
    ///
    /// # Errors
    /// Permanent errors ([`MailError::Refused`](crate::MailError::Refused),
    /// [`MailError::InvalidAddress`](crate::MailError::InvalidAddress), ...) when the message
    /// cannot be delivered as it is; transient ones when the server is down, busy or slow.
    async fn send(&self, message: &EmailMessage) -> Result<()>;
}

/// Something that delivers text messages: an SMS provider, a development console.
#[async_trait]
pub trait SmsSender: Send + Sync + Debug {
    /// Hands `message` to the provider.
    ///
    /// Contract: `Ok(())` means the provider accepted the message for delivery. The body
    /// (which holds a code) must not appear in any log line, error or `Debug` output of the
    /// implementation.
    ///
    /// # Errors
    /// Permanent errors ([`MailError::Refused`](crate::MailError::Refused) for an invalid or
    /// unreachable number) or transient ones (provider unavailable, rate limited, timeout).
    async fn send_sms(&self, message: &SmsMessage) -> Result<()>;
}

#[async_trait]
impl<T: Mailer + ?Sized> Mailer for Arc<T> {
    async fn send(&self, message: &EmailMessage) -> Result<()> {
        (**self).send(message).await
    }
}

#[async_trait]
impl<T: Mailer + ?Sized> Mailer for Box<T> {
    async fn send(&self, message: &EmailMessage) -> Result<()> {
        (**self).send(message).await
    }
}

#[async_trait]
impl<T: SmsSender + ?Sized> SmsSender for Arc<T> {
    async fn send_sms(&self, message: &SmsMessage) -> Result<()> {
        (**self).send_sms(message).await
    }
}

#[async_trait]
impl<T: SmsSender + ?Sized> SmsSender for Box<T> {
    async fn send_sms(&self, message: &SmsMessage) -> Result<()> {
        (**self).send_sms(message).await
    }
}
