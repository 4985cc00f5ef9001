//! [`DevMailer`]: the development outbox, writing `.eml` files and keeping a list for the
//! `/dev/inbox` page.

use std::path::PathBuf;
use std::time::SystemTime;

use async_trait::async_trait;
use std::sync::{Mutex, PoisonError};

use mfa_mail::{EmailMessage, FileOutbox, Mailer};

/// A development [`Mailer`]: every message goes to a [`FileOutbox`] folder *and* to an
/// in-process list shown at `/dev/inbox`, so every flow can be finished without an SMTP server.
///
/// Messages hold codes and links in clear: this mailer is for development only.
#[derive(Debug)]
pub struct DevMailer {
    files: FileOutbox,
    caught: Mutex<Vec<(SystemTime, EmailMessage)>>,
}

impl DevMailer {
    /// A development mailer writing into `dir` (created if missing).
    ///
    /// # Errors
    /// [`mfa_mail::MailError::Io`] when the folder cannot be created.
    pub fn new(dir: impl Into<PathBuf>) -> mfa_mail::Result<Self> {
        Ok(Self {
            files: FileOutbox::new(dir)?,
            caught: Mutex::default(),
        })
    }

    /// Every message caught so far with the time it was sent, newest first.
    #[must_use]
    pub fn messages(&self) -> Vec<(SystemTime, EmailMessage)> {
        let mut all = self
            .caught
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        all.reverse();
        all
    }
}

#[async_trait]
impl Mailer for DevMailer {
    async fn send(&self, message: &EmailMessage) -> mfa_mail::Result<()> {
        self.files.send(message).await?;
        self.caught
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((SystemTime::now(), message.clone()));
        Ok(())
    }
}
