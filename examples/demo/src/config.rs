//! [`DemoConfig`]: where the demo keeps its state, which backends it uses, read from the
//! environment.

use core::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use mfa::{Clock, SystemClock};

use crate::error::{Error, Result};

/// Where the second-factor state (factors, challenges, counters, devices, audit) lives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreKind {
    /// SQLite, in `demo.db` of the state directory (the default).
    Sqlite,
    /// PostgreSQL at this URL.
    Postgres(String),
    /// MariaDB or MySQL at this URL.
    MySql(String),
    /// Redis at this URL.
    Redis(String),
}

/// SMTP settings (`MFA_DEMO_SMTP_*`); without them mail goes to the development outbox.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Server host name.
    pub host: String,
    /// Port (default: the security mode's port).
    pub port: Option<u16>,
    /// `starttls` (default), `tls` or `plain` (loopback testing only).
    pub security: String,
    /// User name and password, if the server wants them.
    pub credentials: Option<(String, String)>,
    /// The sender address (default `no-reply@demo.test`).
    pub from: String,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

/// Everything the demo needs to start.
#[derive(Clone)]
pub struct DemoConfig {
    /// The address to listen on (`MFA_DEMO_ADDR`, default `127.0.0.1:3000`).
    pub addr: SocketAddr,
    /// The folder for the SQLite file, the development keys and the outbox (`MFA_DEMO_DIR`,
    /// default `./.mfa-dev`).
    pub state_dir: PathBuf,
    /// The second-factor store (`MFA_DEMO_STORE`).
    pub store: StoreKind,
    /// SMTP instead of the development outbox (`MFA_DEMO_SMTP_HOST`).
    pub smtp: Option<SmtpSettings>,
    /// Mark cookies `Secure` (`MFA_DEMO_SECURE_COOKIES=1`, when served behind TLS).
    pub secure_cookies: bool,
    /// Users allowed on the admin page (`MFA_DEMO_ADMINS`, comma-separated); when empty, the
    /// user called `admin`.
    pub admins: Vec<String>,
    /// The URL users reach the demo at, for magic links (`MFA_DEMO_PUBLIC_URL`, default
    /// `http://` + the bound address).
    pub public_url: Option<String>,
    /// The clock (the system clock; the browser test moves a manual one).
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for DemoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoConfig")
            .field("addr", &self.addr)
            .field("state_dir", &self.state_dir)
            .field("store", &self.store)
            .field("smtp", &self.smtp)
            .field("secure_cookies", &self.secure_cookies)
            .field("admins", &self.admins)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl DemoConfig {
    /// The zero-configuration development set-up: SQLite and the development outbox in
    /// `state_dir`, listening on `127.0.0.1:3000`.
    #[must_use]
    pub fn development(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            state_dir: state_dir.into(),
            store: StoreKind::Sqlite,
            smtp: None,
            secure_cookies: false,
            admins: Vec::new(),
            public_url: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The configuration from the environment variables listed in the README.
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable that is invalid.
    pub fn from_env() -> Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut config =
            Self::development(var("MFA_DEMO_DIR").unwrap_or_else(|| ".mfa-dev".into()));
        if let Some(addr) = var("MFA_DEMO_ADDR") {
            config.addr = addr
                .parse()
                .map_err(|_| Error::Config(format!("MFA_DEMO_ADDR {addr:?} is not ip:port")))?;
        }
        config.store = match var("MFA_DEMO_STORE")
            .as_deref()
            .map(str::to_ascii_lowercase)
        {
            None => StoreKind::Sqlite,
            Some(kind) => match kind.as_str() {
                "sqlite" => StoreKind::Sqlite,
                "postgres" | "postgresql" => StoreKind::Postgres(
                    var("MFA_POSTGRES_URL")
                        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into()),
                ),
                "mysql" | "mariadb" => StoreKind::MySql(
                    var("MFA_MYSQL_URL")
                        .unwrap_or_else(|| "mysql://root@127.0.0.1:3306/test".into()),
                ),
                "redis" => StoreKind::Redis(redis_url_from_env()),
                other => {
                    return Err(Error::Config(format!(
                        "MFA_DEMO_STORE {other:?}: use sqlite, postgres, mariadb or redis"
                    )));
                }
            },
        };
        if let Some(host) = var("MFA_DEMO_SMTP_HOST") {
            let port = match var("MFA_DEMO_SMTP_PORT") {
                None => None,
                Some(p) => Some(p.parse().map_err(|_| {
                    Error::Config(format!("MFA_DEMO_SMTP_PORT {p:?} is not a port"))
                })?),
            };
            let credentials = var("MFA_DEMO_SMTP_USER")
                .map(|user| (user, var("MFA_DEMO_SMTP_PASSWORD").unwrap_or_default()));
            config.smtp = Some(SmtpSettings {
                host,
                port,
                security: var("MFA_DEMO_SMTP_SECURITY").unwrap_or_else(|| "starttls".into()),
                credentials,
                from: var("MFA_DEMO_MAIL_FROM").unwrap_or_else(|| "no-reply@demo.test".into()),
            });
        }
        config.secure_cookies = var("MFA_DEMO_SECURE_COOKIES").as_deref() == Some("1");
        config.admins = var("MFA_DEMO_ADMINS")
            .map(|list| {
                list.split(',')
                    .map(|a| a.trim().to_owned())
                    .filter(|a| !a.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        config.public_url = var("MFA_DEMO_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned());
        Ok(config)
    }
}

/// The Redis server of `MFA_REDIS_URL` (default `redis://127.0.0.1:6379`).
#[must_use]
pub fn redis_url_from_env() -> String {
    std::env::var("MFA_REDIS_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into())
}
