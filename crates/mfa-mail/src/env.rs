//! Choosing a mailer from environment variables: SMTP when configured, a development outbox
//! otherwise. For examples, demos and small deployments that configure by environment.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{MailError, Result};
use crate::mailer::Mailer;
use crate::outbox::FileOutbox;
use crate::smtp::{SmtpConfig, SmtpCredentials, SmtpMailer, SmtpSecurity};

/// Where [`mailer_from_env`] sends mail.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChosenMailer {
    /// Through the SMTP server named by `{prefix}HOST`.
    Smtp,
    /// Into `.eml` files in this folder (development only: the files hold codes and links).
    Outbox(PathBuf),
}

impl SmtpConfig {
    /// SMTP settings from environment variables named with `prefix`, or `None` when
    /// `{prefix}HOST` is unset: `{prefix}HOST`, `{prefix}PORT`, `{prefix}SECURITY`
    /// (`starttls`, the default, `tls` or `plain`), `{prefix}USERNAME` and `{prefix}PASSWORD`
    /// (both or neither). The timeout is 10 s.
    ///
    /// ```
    /// // With SMTP_HOST unset there is nothing to configure.
    /// assert!(mfa_mail::SmtpConfig::from_env("MFA_DOCTEST_UNSET_").unwrap().is_none());
    /// ```
    ///
    /// # Errors
    /// [`MailError::Config`] naming the variable whose value is unusable.
    pub fn from_env(prefix: &str) -> Result<Option<Self>> {
        Self::from_lookup(prefix, |name| std::env::var(name).ok())
    }

    /// [`SmtpConfig::from_env`] over any variable lookup (tests cannot set the environment
    /// safely).
    fn from_lookup(prefix: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        let var = |name: &str| lookup(&format!("{prefix}{name}"));
        let Some(host) = var("HOST") else {
            return Ok(None);
        };
        let security = match var("SECURITY").as_deref() {
            None | Some("starttls") => SmtpSecurity::StartTls,
            Some("tls") => SmtpSecurity::ImplicitTls,
            Some("plain") => SmtpSecurity::Plain,
            Some(_) => {
                return Err(MailError::Config(format!(
                    "{prefix}SECURITY must be starttls, tls or plain"
                )));
            }
        };
        let mut config = Self::new(host, security);
        config.timeout = Duration::from_secs(10);
        if let Some(port) = var("PORT") {
            let port = port
                .parse()
                .map_err(|_| MailError::Config(format!("{prefix}PORT must be a port number")))?;
            config = config.with_port(port);
        }
        match (var("USERNAME"), var("PASSWORD")) {
            (Some(user), Some(password)) => {
                config = config.with_credentials(SmtpCredentials::new(user, password));
            }
            (None, None) => {}
            _ => {
                return Err(MailError::Config(format!(
                    "{prefix}USERNAME and {prefix}PASSWORD go together"
                )));
            }
        }
        Ok(Some(config))
    }
}

/// SMTP when `{prefix}HOST` is set (see [`SmtpConfig::from_env`]), otherwise a [`FileOutbox`]
/// writing into `outbox_dir`; says which it chose.
///
/// # Errors
/// An unusable setting, an SMTP configuration the transport refuses, or a folder that cannot
/// be created.
pub fn mailer_from_env(prefix: &str, outbox_dir: &Path) -> Result<(Arc<dyn Mailer>, ChosenMailer)> {
    match SmtpConfig::from_env(prefix)? {
        Some(config) => Ok((Arc::new(SmtpMailer::new(config)?), ChosenMailer::Smtp)),
        None => Ok((
            Arc::new(FileOutbox::new(outbox_dir)?),
            ChosenMailer::Outbox(outbox_dir.to_path_buf()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Option<SmtpConfig>> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        SmtpConfig::from_lookup("SMTP_", |name| vars.get(name).cloned())
    }

    #[test]
    fn no_host_means_no_smtp() {
        assert!(config(&[("SMTP_PORT", "25")]).unwrap().is_none());
    }

    #[test]
    fn settings_are_read_and_checked() {
        let c = config(&[
            ("SMTP_HOST", "mail.example.com"),
            ("SMTP_PORT", "2525"),
            ("SMTP_SECURITY", "plain"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.security),
            ("mail.example.com", Some(2525), SmtpSecurity::Plain)
        );
        assert!(c.credentials.is_none());
        let secure = config(&[
            ("SMTP_HOST", "h"),
            ("SMTP_USERNAME", "u"),
            ("SMTP_PASSWORD", "p"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(secure.security, SmtpSecurity::StartTls);
        assert!(secure.credentials.is_some());
        for bad in [
            vec![("SMTP_HOST", "h"), ("SMTP_SECURITY", "ssl3")],
            vec![("SMTP_HOST", "h"), ("SMTP_PORT", "seventy")],
            vec![("SMTP_HOST", "h"), ("SMTP_USERNAME", "u")],
        ] {
            let err = config(&bad).unwrap_err();
            assert!(
                matches!(err, MailError::Config(ref m) if m.starts_with("SMTP_")),
                "{err}"
            );
        }
    }
}
