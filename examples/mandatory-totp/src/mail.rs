//! Where security notices go: SMTP from the environment, or a development outbox folder.

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
