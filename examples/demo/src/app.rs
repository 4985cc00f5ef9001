//! [`Demo`]: the state every handler shares, the router, and serving.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use mfa::core::{PasswordHash, PasswordHasher};
use mfa::mail::{SmtpConfig, SmtpCredentials, SmtpMailer, SmtpSecurity};
use mfa::{
    Clock, EmailAddress, Keyring, MailSettings, Mailer, Mfa, Pepper, Policy, SealingKey, Store,
};
use mfa_store_redis::{Initialisation, KeyPrefix, RedisConfig, RedisStore};
use mfa_store_sql::sqlx::SqlitePool;
use mfa_store_sql::{MySqlStore, PgStore, SqlStoreConfig, SqliteStore};
use tokio::net::TcpListener;

use crate::config::{DemoConfig, SmtpSettings, StoreKind};
use crate::error::{Error, Result};
use crate::mailer::DevMailer;
use crate::{account, admin, auth, challenge, db, email, keys, manage};

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) mfa: Mfa,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) db: SqlitePool,
    pub(crate) inbox: Option<Arc<DevMailer>>,
    pub(crate) pepper: Pepper,
    pub(crate) hasher: PasswordHasher,
    /// Verified against when the user is unknown, so both cases cost one Argon2id.
    pub(crate) dummy_hash: PasswordHash,
    pub(crate) secure_cookies: bool,
    pub(crate) admins: Vec<String>,
    pub(crate) base_url: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) backend: &'static str,
}

impl AppState {
    /// Seconds since the Unix epoch by the demo's clock.
    pub(crate) fn unix_now(&self) -> i64 {
        i64::try_from(self.clock.unix_secs()).unwrap_or(i64::MAX)
    }

    /// The keyed digest a session id is stored as.
    pub(crate) fn session_digest(&self, id: &str) -> String {
        let digest = self.pepper.digest("mfa-demo/session", "", id.as_bytes());
        digest
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `user` may use the admin page: those named in `MFA_DEMO_ADMINS`, or when that
    /// is unset, the user called `admin`.
    pub(crate) fn is_admin(&self, user: &str) -> bool {
        if self.admins.is_empty() {
            user == "admin"
        } else {
            self.admins.iter().any(|a| a == user)
        }
    }
}

/// The demo web app, ready to serve.
pub struct Demo {
    state: Arc<AppState>,
}

impl core::fmt::Debug for Demo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Demo")
            .field("backend", &self.state.backend)
            .field("base_url", &self.state.base_url)
            .finish_non_exhaustive()
    }
}

impl Demo {
    /// Opens the state directory (keys, SQLite, outbox), connects the second-factor store and
    /// builds the facade. `base_url` is where browsers reach the app (magic links point there).
    ///
    /// # Errors
    /// Unreadable state, an unreachable store, an invalid SMTP configuration.
    pub async fn build(config: &DemoConfig, base_url: &str) -> Result<Self> {
        std::fs::create_dir_all(&config.state_dir)?;
        let keys = keys::load_or_create(&config.state_dir)?;
        let db = db::open(&config.state_dir.join("demo.db")).await?;
        let (store, backend): (Arc<dyn Store>, &'static str) = match &config.store {
            StoreKind::Sqlite => {
                let store = SqliteStore::from_pool(db.clone(), SqlStoreConfig::default());
                store.migrate().await.map_err(store_error)?;
                (Arc::new(store), "SQLite")
            }
            StoreKind::Postgres(url) => {
                let store = PgStore::connect(url, SqlStoreConfig::default())
                    .await
                    .map_err(store_error)?;
                store.migrate().await.map_err(store_error)?;
                (Arc::new(store), "PostgreSQL")
            }
            StoreKind::MySql(url) => {
                let store = MySqlStore::connect(url, SqlStoreConfig::default())
                    .await
                    .map_err(store_error)?;
                store.migrate().await.map_err(store_error)?;
                (Arc::new(store), "MariaDB/MySQL")
            }
            StoreKind::Redis(url) => {
                let store = RedisStore::connect(url, redis_config()?)
                    .await
                    .map_err(redis_error)?;
                (Arc::new(store), "Redis")
            }
        };
        let (mailer, inbox): (Arc<dyn Mailer>, _) = match &config.smtp {
            Some(smtp) => (Arc::new(smtp_mailer(smtp)?), None),
            None => {
                let dev = Arc::new(DevMailer::new(config.state_dir.join("outbox"))?);
                (dev.clone(), Some(dev))
            }
        };
        let from = config
            .smtp
            .as_ref()
            .map_or("no-reply@demo.test", |s| s.from.as_str());
        let from = EmailAddress::parse(from).map_err(|_| {
            Error::Config(format!(
                "MFA_DEMO_MAIL_FROM {from:?} is not an email address"
            ))
        })?;
        let mfa = Mfa::builder()
            .store(store.clone())
            .mailer(mailer)
            .clock(config.clock.clone())
            .keyring(Keyring::new(
                1,
                SealingKey::from_bytes(keys.sealing.as_slice())?,
            ))
            .pepper(Pepper::from_bytes(keys.pepper.as_slice())?)
            .policy(Policy::authenticator_setup())
            .mail_settings(MailSettings::new("mfa demo", from.clone(), from))
            .build()?;
        let hasher = PasswordHasher::default();
        let dummy_hash = hasher.hash_password(b"not a password of anyone")?;
        Ok(Self {
            state: Arc::new(AppState {
                mfa,
                store,
                db,
                inbox,
                pepper: Pepper::from_bytes(keys.pepper.as_slice())?,
                hasher,
                dummy_hash,
                secure_cookies: config.secure_cookies,
                admins: config.admins.clone(),
                base_url: base_url.trim_end_matches('/').to_owned(),
                clock: config.clock.clone(),
                backend,
            }),
        })
    }

    /// The routes of every page.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(auth::home))
            .route("/register", get(auth::register_page).post(auth::register))
            .route("/login", get(auth::login_page).post(auth::login))
            .route("/logout", post(auth::logout))
            .route("/challenge", get(challenge::page))
            .route("/challenge/verify", post(challenge::verify))
            .route("/challenge/send", post(challenge::send))
            .route(
                "/magic",
                get(challenge::magic_page).post(challenge::magic_confirm),
            )
            .route("/account", get(account::overview))
            .route(
                "/account/totp",
                get(account::totp_start).post(account::totp_confirm),
            )
            .route(
                "/account/email",
                get(email::email_page).post(email::email_start),
            )
            .route(
                "/account/email/confirm",
                get(email::email_confirm_page).post(email::email_confirm),
            )
            .route("/account/preferred", post(manage::preferred))
            .route("/account/recovery-codes.txt", post(account::download_codes))
            .route("/account/devices", get(manage::devices))
            .route("/account/devices/revoke", post(manage::revoke_device))
            .route("/account/log", get(manage::security_log))
            .route("/admin", get(admin::page).post(admin::unlock))
            .route("/dev/inbox", get(admin::inbox))
            .with_state(self.state.clone())
    }

    /// Serves on `listener` until the process ends.
    ///
    /// # Errors
    /// I/O errors of the listener.
    pub async fn serve(self, listener: TcpListener) -> Result<()> {
        let app = self
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).await?;
        Ok(())
    }
}

/// Binds `config.addr`, builds the demo and serves it (what `cargo run -p mfa-demo` does).
///
/// # Errors
/// See [`Demo::build`]; binding failures.
pub async fn run(config: DemoConfig) -> Result<()> {
    let listener = TcpListener::bind(config.addr).await?;
    let bound = listener.local_addr()?;
    let base = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    let demo = Demo::build(&config, &base).await?;
    tracing::info!(%base, backend = demo.state.backend, "mfa demo listening");
    demo.serve(listener).await
}

fn store_error(e: impl core::fmt::Display) -> Error {
    Error::Store(e.to_string())
}

/// The key prefix the demo keeps its Redis data under.
pub const REDIS_PREFIX: &str = "mfa-demo";

fn redis_config() -> Result<RedisConfig> {
    let prefix = KeyPrefix::new(REDIS_PREFIX).map_err(store_error)?;
    Ok(RedisConfig::with_prefix(prefix))
}

/// A Redis store the demo cannot start on, said with what to do about it.
fn redis_error(e: mfa_store_redis::Error) -> Error {
    match e {
        mfa_store_redis::Error::NotInitialised { .. } => Error::Store(format!(
            "{e} (the demo's initialisation step: `cargo run -p mfa-demo -- init-redis`)"
        )),
        other => store_error(other),
    }
}

/// Initialises the demo's Redis prefix at `url` as a new deployment (writes its data-loss
/// markers; see `docs/store-redis.md`): the one-time provisioning step
/// `cargo run -p mfa-demo -- init-redis`, never run at start-up. Returns how many markers it
/// wrote (0: the prefix was initialised already).
///
/// # Errors
/// [`Error::Store`] when Redis is unreachable or unsuitable, or the prefix holds keys but no
/// markers (data that was lost: restore it).
pub async fn initialise_redis(url: &str) -> Result<u64> {
    let store = RedisStore::connect_lazy(url, redis_config()?).map_err(store_error)?;
    let report = store
        .initialise(Initialisation::NewDeployment)
        .await
        .map_err(store_error)?;
    store.verify_deployment().await.map_err(store_error)?;
    Ok(report.markers_created)
}

fn smtp_mailer(smtp: &SmtpSettings) -> Result<SmtpMailer> {
    let security = match smtp.security.to_ascii_lowercase().as_str() {
        "starttls" => SmtpSecurity::StartTls,
        "tls" => SmtpSecurity::ImplicitTls,
        "plain" => SmtpSecurity::Plain,
        other => {
            return Err(Error::Config(format!(
                "MFA_DEMO_SMTP_SECURITY {other:?}: use starttls, tls or plain"
            )));
        }
    };
    let mut config = SmtpConfig::new(smtp.host.clone(), security);
    if let Some(port) = smtp.port {
        config = config.with_port(port);
    }
    if let Some((user, password)) = &smtp.credentials {
        config = config.with_credentials(SmtpCredentials::new(user.clone(), password.clone()));
    }
    Ok(SmtpMailer::new(config)?)
}
