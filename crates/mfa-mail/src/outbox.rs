//! Outboxes for development and tests: a folder of `.eml` files and an in-memory list.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::error::Result;
use crate::mailer::Mailer;
use crate::message::EmailMessage;
use crate::mime::to_lettre;

/// A development [`Mailer`] that writes each message as an `.eml` file into a folder and prints
/// one line (recipient, subject, file) to standard error.
///
/// Open the files with any mail client. They hold codes and links, so on Unix they are created
/// readable by their owner only; do not use this outbox in production. The console line never
/// shows a body, and shows the subject only when it holds no code.
#[derive(Debug)]
pub struct FileOutbox {
    dir: PathBuf,
    counter: AtomicU64,
}

impl FileOutbox {
    /// An outbox writing into `dir`, created if missing.
    ///
    /// # Errors
    /// [`MailError::Io`](crate::MailError::Io) when the folder cannot be created.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            counter: AtomicU64::new(0),
        })
    }

    /// The folder the files go to.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The newest `.eml` message in an outbox folder, as text with quoted-printable soft line
    /// breaks joined (what a developer sees opening the file), or `None` for an empty folder.
    /// Files written within one tick of the file system's clock are ordered by name, which
    /// starts with the time they were written in nanoseconds.
    /// For development tools and tests that read a code back out of the outbox.
    ///
    /// # Errors
    /// An I/O error when the folder or the file cannot be read.
    pub fn newest_message(dir: &Path) -> std::io::Result<Option<String>> {
        let mut newest: Option<(SystemTime, PathBuf)> = None;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "eml") {
                let modified = entry.metadata()?.modified()?;
                if newest
                    .as_ref()
                    .is_none_or(|(t, p)| (modified, &path) > (*t, p))
                {
                    newest = Some((modified, path));
                }
            }
        }
        let Some((_, path)) = newest else {
            return Ok(None);
        };
        let raw = std::fs::read(path)?;
        Ok(Some(
            String::from_utf8_lossy(&raw)
                .replace("=\r\n", "")
                .replace("=3D", "="),
        ))
    }

    fn next_path(&self) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        self.dir
            .join(format!("{nanos}-{}-{n}.eml", std::process::id()))
    }
}

#[async_trait]
impl Mailer for FileOutbox {
    async fn send(&self, message: &EmailMessage) -> Result<()> {
        let bytes = to_lettre(message)?.formatted();
        let path = self.next_path();
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        let subject = if message.subject_is_secret() {
            "<withheld: contains a code>"
        } else {
            message.subject()
        };
        #[allow(
            clippy::print_stderr,
            reason = "printing one line per message is this development outbox's documented purpose"
        )]
        {
            eprintln!(
                "mfa-mail outbox: to={} subject={subject:?} file={}",
                message.to().address,
                path.display()
            );
        }
        Ok(())
    }
}

/// A [`Mailer`] for tests: keeps every message in memory and returns them on demand.
#[derive(Debug, Default)]
pub struct MemoryOutbox {
    sent: Mutex<Vec<EmailMessage>>,
}

impl MemoryOutbox {
    /// An empty outbox.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message sent so far, oldest first.
    #[must_use]
    pub fn sent(&self) -> Vec<EmailMessage> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The newest message, if any.
    #[must_use]
    pub fn last(&self) -> Option<EmailMessage> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last()
            .cloned()
    }

    /// Removes and returns every message sent so far.
    pub fn take(&self) -> Vec<EmailMessage> {
        core::mem::take(&mut *self.sent.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait]
impl Mailer for MemoryOutbox {
    async fn send(&self, message: &EmailMessage) -> Result<()> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(message.clone());
        Ok(())
    }
}
