//! [`DemoConfig`]: where the demo keeps its state, which backends it uses, how browsers reach it
//! and who administers it, read from the environment and checked before anything is served.

use core::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use mfa::{Clock, SystemClock};
use mfa_axum::{EdgeConfig, ForwardedHeader, Transport, TrustedProxies};
use mfa_store_sql::{MySqlStore, PgStore};

use crate::error::{Error, Result};

/// The administrator of a development set-up that names none (`MFA_DEMO_ADMINS` unset).
pub const DEFAULT_DEV_ADMIN: &str = "admin";

/// Where the second-factor state (factors, challenges, counters, devices, audit) and the web
/// sessions live.
#[derive(Clone)]
#[non_exhaustive]
pub enum StoreKind {
    /// SQLite, in `demo.db` of the state directory (the default).
    Sqlite,
    /// PostgreSQL at this URL.
    Postgres(String),
    /// MariaDB or MySQL at this URL.
    MySql(String),
    /// Redis at this URL (web sessions then live in the SQLite file).
    Redis(String),
    /// An already migrated PostgreSQL store (the tests' throwaway schemas).
    PostgresStore(PgStore),
    /// An already migrated MariaDB/MySQL store (the tests' throwaway databases).
    MySqlStore(MySqlStore),
}

impl fmt::Debug for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // URLs may carry a password: only the kind is shown.
        f.write_str(match self {
            Self::Sqlite => "Sqlite",
            Self::Postgres(_) | Self::PostgresStore(_) => "Postgres",
            Self::MySql(_) | Self::MySqlStore(_) => "MySql",
            Self::Redis(_) => "Redis",
        })
    }
}

/// SMTP settings (`MFA_DEMO_SMTP_*`); without them mail goes to the development outbox (in
/// development mode) or nowhere (the email factor is then unavailable).
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
    /// How browsers reach the demo (`MFA_DEMO_TRANSPORT`: `development`, the default, is plain
    /// HTTP on this machine; `tls-behind-proxy` is HTTPS ended by a reverse proxy).
    pub transport: Transport,
    /// The reverse proxies whose forwarding header is believed (`MFA_DEMO_TRUSTED_PROXIES`, a
    /// count or networks; `MFA_DEMO_FORWARDED_HEADER`, `x-forwarded-for` or `forwarded`).
    /// Required behind a proxy: without it every client would share the proxy's address.
    pub trusted_proxies: Option<(ForwardedHeader, TrustedProxies)>,
    /// Users allowed on the admin page (`MFA_DEMO_ADMINS`, comma-separated). Required outside
    /// development; in development, empty means [`DEFAULT_DEV_ADMIN`].
    pub admins: Vec<String>,
    /// The URL users reach the demo at, for magic links and the accepted `Origin`
    /// (`MFA_DEMO_PUBLIC_URL`; default `http://localhost:<port>` in development, required
    /// otherwise).
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
            .field("transport", &self.transport)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("admins", &self.admins)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl DemoConfig {
    /// The zero-configuration development set-up: plain HTTP on `127.0.0.1:3000` (reached as
    /// `http://localhost:3000`), SQLite and the development outbox in `state_dir`, the
    /// administrator [`DEFAULT_DEV_ADMIN`].
    #[must_use]
    pub fn development(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            state_dir: state_dir.into(),
            store: StoreKind::Sqlite,
            smtp: None,
            transport: Transport::PlainHttpForDevelopment,
            trusted_proxies: None,
            admins: Vec::new(),
            public_url: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Whether this is the development mode (plain HTTP): the only mode with the development
    /// outbox, the `/dev/inbox` page and a default administrator.
    #[must_use]
    pub fn is_development(&self) -> bool {
        self.transport == Transport::PlainHttpForDevelopment
    }

    /// The administrators: those configured, or in development [`DEFAULT_DEV_ADMIN`].
    ///
    /// # Errors
    /// [`Error::Config`] outside development without any.
    pub fn effective_admins(&self) -> Result<Vec<String>> {
        if !self.admins.is_empty() {
            return Ok(self.admins.clone());
        }
        if self.is_development() {
            return Ok(vec![DEFAULT_DEV_ADMIN.to_owned()]);
        }
        Err(Error::Config(
            "MFA_DEMO_ADMINS is required outside development mode: name the administrators \
             (comma-separated user names) and create their accounts with `mfa-demo add-user`"
                .into(),
        ))
    }

    /// The web edge of this configuration (`mfa-axum`): refuses a proxy set-up without trusted
    /// proxies, a transport the demo cannot serve, and a public URL that is not an origin.
    ///
    /// # Errors
    /// [`Error::Config`] or [`Error::Edge`] saying what to change.
    pub fn edge(&self, public_url: &str) -> Result<EdgeConfig> {
        if self.transport == Transport::Tls {
            return Err(Error::Config(
                "the demo does not end TLS itself: serve it behind a TLS-terminating proxy with \
                 MFA_DEMO_TRANSPORT=tls-behind-proxy"
                    .into(),
            ));
        }
        if self.transport.is_tls() && !public_url.starts_with("https://") {
            return Err(Error::Config(
                "MFA_DEMO_PUBLIC_URL must be the https:// URL browsers use outside development"
                    .into(),
            ));
        }
        let mut builder = EdgeConfig::builder(self.transport)
            .pages("/login", "/challenge", "/step-up", "/account")
            // The QR code of TOTP enrolment is a PNG data URL.
            .content_security_policy(
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; \
                 form-action 'self'; base-uri 'none'; object-src 'none'",
            )
            .trusted_origin(public_url);
        if let Some((header, trust)) = &self.trusted_proxies {
            builder = builder.trusted_proxies(*header, trust.clone());
        }
        Ok(builder.build()?)
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
        if let Some(transport) = var("MFA_DEMO_TRANSPORT") {
            config.transport = parse_transport(&transport)?;
        }
        if let Some(proxies) = var("MFA_DEMO_TRUSTED_PROXIES") {
            let trust = proxies
                .parse::<TrustedProxies>()
                .map_err(|e| Error::Config(format!("MFA_DEMO_TRUSTED_PROXIES {proxies:?}: {e}")))?;
            let header = match var("MFA_DEMO_FORWARDED_HEADER")
                .map(|h| h.to_ascii_lowercase())
                .as_deref()
            {
                None | Some("x-forwarded-for") => ForwardedHeader::XForwardedFor,
                Some("forwarded") => ForwardedHeader::Forwarded,
                Some(other) => {
                    return Err(Error::Config(format!(
                        "MFA_DEMO_FORWARDED_HEADER {other:?}: use x-forwarded-for or forwarded"
                    )));
                }
            };
            config.trusted_proxies = Some((header, trust));
        }
        config.admins = var("MFA_DEMO_ADMINS")
            .map(|list| {
                list.split(',')
                    .map(|a| a.trim().to_ascii_lowercase())
                    .filter(|a| !a.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        config.public_url = var("MFA_DEMO_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned());
        Ok(config)
    }
}

/// `MFA_DEMO_TRANSPORT`'s value.
fn parse_transport(text: &str) -> Result<Transport> {
    match text.trim().to_ascii_lowercase().as_str() {
        "development" | "dev" | "plain-http" => Ok(Transport::PlainHttpForDevelopment),
        "tls-behind-proxy" => Ok(Transport::TlsBehindProxy),
        "tls" => Ok(Transport::Tls),
        other => Err(Error::Config(format!(
            "MFA_DEMO_TRANSPORT {other:?}: use development or tls-behind-proxy"
        ))),
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
