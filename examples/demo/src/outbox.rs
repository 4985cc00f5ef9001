//! The development outboxes: [`DevMailer`] (`.eml` files and a list) and [`DevSms`] (text
//! files and a list), both shown at `/dev/inbox` in development mode only.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;
use mfa_mail::{EmailMessage, FileOutbox, Mailer, SmsMessage, SmsSender};

/// A development [`Mailer`]: every message goes to a [`FileOutbox`] folder *and* to an
/// in-process list shown at `/dev/inbox`, so every flow can be finished without an SMTP server.
///
/// Messages hold codes and links in clear: the demo uses this mailer in development mode only.
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
        tracing::info!("development outbox caught an email: see /dev/inbox");
        Ok(())
    }
}

/// A development [`SmsSender`]: every text message is appended to `sms.txt` in the outbox
/// folder and kept in a list shown at `/dev/inbox` (mfa-mail has a console sender and an
/// in-memory one, but no file outbox for text messages).
///
/// Messages hold codes in clear: the demo uses this sender in development mode only.
#[derive(Debug)]
pub struct DevSms {
    file: PathBuf,
    caught: Mutex<Vec<(SystemTime, SmsMessage)>>,
}

impl DevSms {
    /// A development SMS sender appending to `dir/sms.txt` (the folder is created if missing).
    ///
    /// # Errors
    /// [`std::io::Error`] when the folder cannot be created.
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            file: dir.join("sms.txt"),
            caught: Mutex::default(),
        })
    }

    /// Every text message caught so far with the time it was sent, newest first.
    #[must_use]
    pub fn messages(&self) -> Vec<(SystemTime, SmsMessage)> {
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
impl SmsSender for DevSms {
    async fn send_sms(&self, message: &SmsMessage) -> mfa_mail::Result<()> {
        let line = format!("to {}: {}\n", message.to(), message.body());
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(file)?
                .write_all(line.as_bytes())
        })
        .await
        .map_err(|_| mfa_mail::MailError::Io(std::io::Error::other("outbox task failed")))?
        .map_err(mfa_mail::MailError::Io)?;
        self.caught
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((SystemTime::now(), message.clone()));
        tracing::info!("development outbox caught a text message: see /dev/inbox");
        Ok(())
    }
}
