//! Delivery through any SMTP server (Amazon SES's SMTP interface included), with lettre.

use core::fmt;
use core::time::Duration;

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use zeroize::Zeroizing;

use crate::error::{MailError, Result};
use crate::mailer::Mailer;
use crate::message::EmailMessage;
use crate::mime::to_lettre;

/// How the connection to the SMTP server is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// TLS from the first byte ("SMTPS", port 465 by default).
    ImplicitTls,
    /// Plain connection upgraded with `STARTTLS` before anything else is sent; the upgrade is
    /// required, never optional (port 587 by default).
    StartTls,
    /// No encryption (port 25 by default): only for a relay on the same host or a private
    /// network you control. Credentials and codes cross the wire in clear.
    Plain,
}

impl SmtpSecurity {
    /// The usual port for this kind of connection: 465, 587 or 25.
    #[must_use]
    pub fn default_port(self) -> u16 {
        match self {
            Self::ImplicitTls => 465,
            Self::StartTls => 587,
            Self::Plain => 25,
        }
    }
}

/// SMTP user name and password. `Debug` shows the user name only.
#[derive(Clone)]
pub struct SmtpCredentials {
    username: String,
    password: Zeroizing<String>,
}

impl SmtpCredentials {
    /// A user name and password (for Amazon SES: the SMTP credentials created in the SES
    /// console, not the IAM access key).
    #[must_use]
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: Zeroizing::new(password.into()),
        }
    }

    /// The user name.
    #[must_use]
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpCredentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Where and how [`SmtpMailer`] connects.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// The server's host name (also the name its TLS certificate must carry).
    pub host: String,
    /// The port; `None` means [`SmtpSecurity::default_port`].
    pub port: Option<u16>,
    /// How the connection is secured.
    pub security: SmtpSecurity,
    /// Credentials for `AUTH`, if the server wants them.
    pub credentials: Option<SmtpCredentials>,
    /// The limit on each network step (connect, each command's reply).
    pub timeout: Duration,
    /// The limit on one whole delivery, from connect to the reply to `DATA`.
    pub total_timeout: Duration,
    /// The name sent in `EHLO`; `None` means this machine's host name.
    pub hello_name: Option<String>,
}

impl SmtpConfig {
    /// A configuration with 10 s per network step, 60 s per delivery, no credentials and the
    /// default port for `security`.
    #[must_use]
    pub fn new(host: impl Into<String>, security: SmtpSecurity) -> Self {
        Self {
            host: host.into(),
            port: None,
            security,
            credentials: None,
            timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(60),
            hello_name: None,
        }
    }

    /// Amazon SES's SMTP interface in `region` (such as `eu-west-1`): host
    /// `email-smtp.{region}.amazonaws.com`, port 587 with STARTTLS, and the SES SMTP
    /// credentials.
    ///
    /// # Errors
    /// [`MailError::Config`] when `region` is not made of lowercase letters, digits and dashes.
    pub fn amazon_ses(region: &str, credentials: SmtpCredentials) -> Result<Self> {
        let ok = !region.is_empty()
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(MailError::Config(format!("invalid AWS region {region:?}")));
        }
        let mut config = Self::new(
            format!("email-smtp.{region}.amazonaws.com"),
            SmtpSecurity::StartTls,
        );
        config.credentials = Some(credentials);
        Ok(config)
    }

    /// Sets the port.
    #[must_use]
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Sets the credentials.
    #[must_use]
    pub fn with_credentials(mut self, credentials: SmtpCredentials) -> Self {
        self.credentials = Some(credentials);
        self
    }
}

/// A [`Mailer`] that delivers through an SMTP server.
///
/// One connection per message (no pool): a verification email is rare and a stale pooled
/// connection would only add failure modes.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    config: SmtpConfig,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for `config`. Nothing is sent and no connection is opened yet.
    ///
    /// # Errors
    /// [`MailError::Config`] when the host is empty or the TLS settings cannot be built.
    pub fn new(config: SmtpConfig) -> Result<Self> {
        if config.host.trim().is_empty() {
            return Err(MailError::Config("the SMTP host is empty".into()));
        }
        let tls_error = |e: lettre::transport::smtp::Error| {
            MailError::Config(format!("cannot set up TLS for {}: {e}", config.host))
        };
        let mut builder = match config.security {
            SmtpSecurity::ImplicitTls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host).map_err(tls_error)?
            }
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                    .map_err(tls_error)?
            }
            SmtpSecurity::Plain => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
            }
        };
        builder = builder
            .port(config.port.unwrap_or(config.security.default_port()))
            .timeout(Some(config.timeout));
        if let Some(c) = &config.credentials {
            builder =
                builder.credentials(Credentials::new(c.username.clone(), c.password.to_string()));
        }
        if let Some(name) = &config.hello_name {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            config,
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SmtpConfig {
        &self.config
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, message: &EmailMessage) -> Result<()> {
        let mime = to_lettre(message)?;
        match tokio::time::timeout(self.config.total_timeout, self.transport.send(mime)).await {
            Err(_elapsed) => Err(MailError::Timeout),
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(e)) => Err(map_error(e)),
        }
    }
}

/// Sorts lettre's error into permanent and transient.
fn map_error(e: lettre::transport::smtp::Error) -> MailError {
    let status = e
        .status()
        .and_then(|code| code.to_string().parse::<u16>().ok())
        .unwrap_or(0);
    if e.is_permanent() {
        MailError::Refused {
            status,
            message: e.to_string(),
        }
    } else if e.is_transient() {
        MailError::Deferred {
            status,
            message: e.to_string(),
        }
    } else if e.is_timeout() {
        MailError::Timeout
    } else if e.is_tls() || e.is_client() {
        MailError::Failed(Box::new(e))
    } else {
        // Connection refused or reset, network error, server closed the session.
        MailError::Unavailable(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ses_settings() {
        let c = SmtpConfig::amazon_ses("eu-west-1", SmtpCredentials::new("AKIA", "pw")).unwrap();
        assert_eq!(c.host, "email-smtp.eu-west-1.amazonaws.com");
        assert_eq!(c.security, SmtpSecurity::StartTls);
        assert_eq!(c.security.default_port(), 587);
        assert!(
            SmtpConfig::amazon_ses("eu-west-1.evil.test/", SmtpCredentials::new("a", "b")).is_err()
        );
    }

    #[test]
    fn debug_hides_the_password() {
        let c = SmtpConfig::new("smtp.example.com", SmtpSecurity::ImplicitTls)
            .with_credentials(SmtpCredentials::new("user", "hunter2-secret"));
        let mailer = SmtpMailer::new(c).unwrap();
        let shown = format!("{mailer:?}");
        assert!(shown.contains("user"));
        assert!(!shown.contains("hunter2-secret"), "{shown}");
    }

    #[test]
    fn empty_host_is_refused() {
        assert!(SmtpMailer::new(SmtpConfig::new(" ", SmtpSecurity::Plain)).is_err());
    }
}
