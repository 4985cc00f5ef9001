//! Text-message senders for development and tests.

use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use crate::error::Result;
use crate::mailer::SmsSender;
use crate::message::SmsMessage;

/// A development [`SmsSender`] that prints each text message, body included, to standard error.
///
/// Printing the body (and so the code) is the point of this sender: it lets a developer sign in
/// without a phone. Never use it in production.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConsoleSms;

impl ConsoleSms {
    /// A console sender.
    #[must_use]
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl SmsSender for ConsoleSms {
    async fn send_sms(&self, message: &SmsMessage) -> Result<()> {
        #[allow(
            clippy::print_stderr,
            reason = "showing development text messages on the console is this sender's documented purpose"
        )]
        {
            eprintln!("mfa-mail SMS to {}: {}", message.to(), message.body());
        }
        Ok(())
    }
}

/// An [`SmsSender`] for tests: keeps every message in memory and returns them on demand.
#[derive(Debug, Default)]
pub struct MemorySms {
    sent: Mutex<Vec<SmsMessage>>,
}

impl MemorySms {
    /// An empty list.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message sent so far, oldest first.
    #[must_use]
    pub fn sent(&self) -> Vec<SmsMessage> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The newest message, if any.
    #[must_use]
    pub fn last(&self) -> Option<SmsMessage> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last()
            .cloned()
    }

    /// Removes and returns every message sent so far.
    pub fn take(&self) -> Vec<SmsMessage> {
        core::mem::take(&mut *self.sent.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait]
impl SmsSender for MemorySms {
    async fn send_sms(&self, message: &SmsMessage) -> Result<()> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message.clone());
        Ok(())
    }
}
