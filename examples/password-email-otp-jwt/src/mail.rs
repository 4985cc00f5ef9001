//! Where mail goes (SMTP from the environment, or a development outbox folder) and how the
//! demo and the tests read a code back out of a delivered message.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mfa::Mailer;
use mfa::mail::{FileOutbox, SmtpConfig, SmtpCredentials, SmtpMailer, SmtpSecurity};

use crate::error::{Error, Result};

/// How mail is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// Through the SMTP server named by `SMTP_HOST`.
    Smtp,
    /// Into `.eml` files in this folder (development only: the files hold the codes).
    Outbox(PathBuf),
}

/// The mailer the binary uses: SMTP when `SMTP_HOST` is set (`SMTP_PORT`, `SMTP_SECURITY` =
/// `starttls` (default), `tls` or `plain`, `SMTP_USERNAME` and `SMTP_PASSWORD`), otherwise a
/// [`FileOutbox`] writing into `outbox_dir`.
///
/// # Errors
/// [`Error::SmtpSetting`] for an unusable setting, [`Error::Mail`] when the mailer cannot be
/// built or the folder created.
pub fn mailer_from_env(outbox_dir: &Path) -> Result<(Arc<dyn Mailer>, Delivery)> {
    let Ok(host) = std::env::var("SMTP_HOST") else {
        let outbox = FileOutbox::new(outbox_dir)?;
        return Ok((Arc::new(outbox), Delivery::Outbox(outbox_dir.to_path_buf())));
    };
    let security = match std::env::var("SMTP_SECURITY").as_deref() {
        Err(_) | Ok("starttls") => SmtpSecurity::StartTls,
        Ok("tls") => SmtpSecurity::ImplicitTls,
        Ok("plain") => SmtpSecurity::Plain,
        Ok(_) => return Err(Error::SmtpSetting("SMTP_SECURITY: starttls, tls or plain")),
    };
    let mut config = SmtpConfig::new(host, security);
    config.timeout = Duration::from_secs(10);
    if let Ok(port) = std::env::var("SMTP_PORT") {
        let port = port
            .parse()
            .map_err(|_| Error::SmtpSetting("SMTP_PORT: a port number"))?;
        config = config.with_port(port);
    }
    if let (Ok(user), Ok(password)) = (
        std::env::var("SMTP_USERNAME"),
        std::env::var("SMTP_PASSWORD"),
    ) {
        config = config.with_credentials(SmtpCredentials::new(user, password));
    }
    Ok((Arc::new(SmtpMailer::new(config)?), Delivery::Smtp))
}

/// The newest message in a [`FileOutbox`] folder, as text with quoted-printable soft line
/// breaks joined (what a developer sees opening the file).
///
/// # Errors
/// An I/O error when the folder cannot be read.
pub fn newest_outbox_message(dir: &Path) -> std::io::Result<Option<String>> {
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
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
    match newest {
        Some((_, path)) => {
            let raw = std::fs::read(path)?;
            Ok(Some(
                String::from_utf8_lossy(&raw)
                    .replace("=\r\n", "")
                    .replace("=3D", "="),
            ))
        }
        None => Ok(None),
    }
}

/// The 6-digit code in a delivered message (after "code is:" or "this code:").
#[must_use]
pub fn code_in_message(text: &str) -> Option<String> {
    ["code is:", "this code:"].iter().find_map(|marker| {
        let start = text.find(marker)?.checked_add(marker.len())?;
        text.get(start..)?
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| !w.is_empty())
            .map(str::to_owned)
    })
}
