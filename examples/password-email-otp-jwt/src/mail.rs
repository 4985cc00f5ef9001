//! Where mail goes (SMTP from the environment, or a development outbox folder) and how the
//! demo and the tests read a code back out of a delivered message.

use std::path::Path;
use std::sync::Arc;

use mfa::Mailer;

use crate::error::Result;

pub use mfa::mail::ChosenMailer;

/// The mailer the binary uses: SMTP when `SMTP_HOST` is set (`SMTP_PORT`, `SMTP_SECURITY` =
/// `starttls` (default), `tls` or `plain`, `SMTP_USERNAME` and `SMTP_PASSWORD`), otherwise a
/// [`FileOutbox`](mfa::mail::FileOutbox) writing into `outbox_dir`
/// ([`mfa::mail::mailer_from_env`]).
///
/// # Errors
/// [`Error::Mail`](crate::error::Error::Mail) for an unusable setting, or when the mailer cannot be built or the folder
/// created.
pub fn mailer_from_env(outbox_dir: &Path) -> Result<(Arc<dyn Mailer>, ChosenMailer)> {
    Ok(mfa::mail::mailer_from_env("SMTP_", outbox_dir)?)
}

/// The newest message in a [`FileOutbox`](mfa::mail::FileOutbox) folder, as text with quoted-printable soft line
/// breaks joined (what a developer sees opening the file).
///
/// # Errors
/// An I/O error when the folder cannot be read.
pub fn newest_outbox_message(dir: &Path) -> std::io::Result<Option<String>> {
    mfa::mail::FileOutbox::newest_message(dir)
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
