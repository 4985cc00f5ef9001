//! [`Demo`]: the state every handler shares, the router with mfa-axum's layers, and serving.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use mfa::core::{PasswordHash, PasswordHasher};
use mfa::mail::{SmtpConfig, SmtpCredentials, SmtpMailer, SmtpSecurity};
use mfa::{
    Clock, EmailAddress, Keyring, MailSettings, Mailer, Mfa, Pepper, Policy, SealingKey, SmsSender,
    Store,
};
use mfa_axum::{EdgeConfig, SqlSessionStore};
use mfa_store_redis::{Initialisation, KeyPrefix, RedisConfig, RedisStore};
use mfa_store_sql::sqlx::SqlitePool;
use mfa_store_sql::{MySqlStore, PgStore, SqlStoreConfig, SqliteStore};
use tokio::net::TcpListener;

use crate::config::{DemoConfig, SmtpSettings, StoreKind};
use crate::error::{Error, Result};
use crate::outbox::{DevMailer, DevSms};
use crate::{account, admin, auth, challenge, contact, db, keys, manage, page, stepup, webauthn};

/// How often expired second-factor records and web sessions are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(10 * 60);

/// The table prefix of the web sessions (`mfa_demo_sessions`).
const SESSION_TABLE_PREFIX: &str = "mfa_demo_";

/// What every handler shares (cheap to clone).
#[derive(Clone)]
pub(crate) struct AppState(Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) mfa: Mfa,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) db: SqlitePool,
    pub(crate) edge: EdgeConfig,
    /// The development outboxes (development mode without SMTP only).
    pub(crate) inbox: Option<Arc<DevMailer>>,
    pub(crate) sms_inbox: Option<Arc<DevSms>>,
    pub(crate) hasher: PasswordHasher,
    /// Verified against when the user is unknown, so both cases cost one Argon2id.
    pub(crate) dummy_hash: PasswordHash,
    pub(crate) admins: Vec<String>,
    pub(crate) development: bool,
    pub(crate) base_url: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) backend: &'static str,
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl FromRef<AppState> for Mfa {
    fn from_ref(app: &AppState) -> Mfa {
        app.mfa.clone()
    }
}

impl Inner {
    /// Seconds since the Unix epoch by the demo's clock.
    pub(crate) fn unix_now(&self) -> i64 {
        i64::try_from(self.clock.unix_secs()).unwrap_or(i64::MAX)
    }

    /// Whether `user` may use the admin page.
    pub(crate) fn is_admin(&self, user: &str) -> bool {
        self.admins.iter().any(|a| a == user)
    }
}

/// The demo web app, ready to serve.
pub struct Demo {
    state: AppState,
    sessions: SqlSessionStore,
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
    /// Checks the configuration, opens the state directory (keys, SQLite, outbox), connects the
    /// second-factor store and the session table, and builds the facade. `base_url` is where
    /// browsers reach the app (magic links point there; its origin is accepted for forms).
    ///
    /// # Errors
    /// A configuration the demo refuses (no trusted proxies behind a proxy, no administrator
    /// outside development, ...), unreadable state, an unreachable store, invalid SMTP settings.
    pub async fn build(config: &DemoConfig, base_url: &str) -> Result<Self> {
        let base_url = base_url.trim_end_matches('/').to_owned();
        let edge = config.edge(&base_url)?;
        let admins = config.effective_admins()?;
        let development = config.is_development();
        std::fs::create_dir_all(&config.state_dir)?;
        let keys = keys::load_or_create(&config.state_dir)?;
        let db = db::open(&config.state_dir.join("demo.db")).await?;
        let (store, sessions, backend): (Arc<dyn Store>, SqlSessionStore, &'static str) =
            match &config.store {
                StoreKind::Sqlite => {
                    let store = SqliteStore::from_pool(db.clone(), SqlStoreConfig::default());
                    store.migrate().await.map_err(store_error)?;
                    let sessions = SqlSessionStore::sqlite(db.clone(), SESSION_TABLE_PREFIX)?;
                    (Arc::new(store), sessions, "SQLite")
                }
                StoreKind::Postgres(url) => {
                    let store = PgStore::connect(url, SqlStoreConfig::default())
                        .await
                        .map_err(store_error)?;
                    store.migrate().await.map_err(store_error)?;
                    postgres(store)?
                }
                StoreKind::PostgresStore(store) => postgres(store.clone())?,
                StoreKind::MySql(url) => {
                    let store = MySqlStore::connect(url, SqlStoreConfig::default())
                        .await
                        .map_err(store_error)?;
                    store.migrate().await.map_err(store_error)?;
                    mysql(store)?
                }
                StoreKind::MySqlStore(store) => mysql(store.clone())?,
                StoreKind::Redis(url) => {
                    let store = RedisStore::connect(url, redis_config()?)
                        .await
                        .map_err(redis_error)?;
                    // The web sessions stay in the demo's SQLite file, beside the users.
                    let sessions = SqlSessionStore::sqlite(db.clone(), SESSION_TABLE_PREFIX)?;
                    (Arc::new(store), sessions, "Redis")
                }
            };
        sessions.migrate().await?;
        let mut inbox = None;
        let mut sms_inbox = None;
        let mailer: Option<Arc<dyn Mailer>> = match &config.smtp {
            Some(smtp) => Some(Arc::new(smtp_mailer(smtp)?)),
            // Codes and links in files and on a page: development only.
            None if development => {
                let dev = Arc::new(DevMailer::new(config.state_dir.join("outbox"))?);
                inbox = Some(dev.clone());
                Some(dev)
            }
            None => {
                tracing::warn!("no SMTP server (MFA_DEMO_SMTP_HOST): the email factor is off");
                None
            }
        };
        let sms: Option<Arc<dyn SmsSender>> = if development {
            let dev = Arc::new(DevSms::new(config.state_dir.join("outbox"))?);
            sms_inbox = Some(dev.clone());
            Some(dev)
        } else {
            None
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
        let mut builder = Mfa::builder()
            .store(store.clone())
            .clock(config.clock.clone())
            .keyring(Keyring::new(
                1,
                SealingKey::from_bytes(keys.sealing.as_slice())?,
            ))
            .pepper(Pepper::from_bytes(keys.pepper.as_slice())?)
            .policy(Policy::authenticator_setup())
            .webauthn(webauthn_config(&base_url)?)
            .mail_settings(MailSettings::new("mfa demo", from.clone(), from));
        if let Some(mailer) = mailer {
            builder = builder.mailer(mailer);
        }
        if let Some(sms) = sms {
            builder = builder.sms(sms);
        }
        let mfa = builder.build()?;
        let hasher = PasswordHasher::default();
        let dummy_hash = hasher.hash_password(b"not a password of anyone")?;
        Ok(Self {
            state: AppState(Arc::new(Inner {
                mfa,
                store,
                db,
                edge,
                inbox,
                sms_inbox,
                hasher,
                dummy_hash,
                admins,
                development,
                base_url,
                clock: config.clock.clone(),
                backend,
            })),
            sessions,
        })
    }

    /// The routes of every page, inside mfa-axum's CSRF, session and edge layers.
    pub fn router(&self) -> Router {
        let edge = &self.state.edge;
        Router::new()
            .route("/", get(auth::home))
            .route("/style.css", get(page::stylesheet))
            .route("/register", get(auth::register_page).post(auth::register))
            .route("/login", get(auth::login_page).post(auth::login))
            .route("/logout", post(auth::logout))
            .route("/challenge", get(challenge::page))
            .route("/challenge/verify", post(challenge::verify))
            .route("/challenge/send", post(challenge::send))
            .route("/challenge/webauthn", post(webauthn::challenge))
            .route("/webauthn.js", get(webauthn::script))
            .route("/account/webauthn", get(webauthn::page))
            .route("/account/webauthn/start", post(webauthn::start))
            .route("/account/webauthn/finish", post(webauthn::finish))
            .route(
                "/magic",
                get(challenge::magic_page).post(challenge::magic_confirm),
            )
            .route("/step-up", get(stepup::page))
            .route("/step-up/verify", post(stepup::verify))
            .route("/step-up/send", post(stepup::send))
            .route("/step-up/webauthn", post(webauthn::step_up))
            .route("/account", get(account::overview))
            .route("/account/totp", get(account::totp_page))
            .route("/account/totp/start", post(account::totp_start))
            .route("/account/totp/confirm", post(account::totp_confirm))
            .route(
                "/account/email",
                get(contact::email_page).post(contact::email_start),
            )
            .route(
                "/account/email/confirm",
                get(contact::email_confirm_page).post(contact::email_confirm),
            )
            .route(
                "/account/sms",
                get(contact::sms_page).post(contact::sms_start),
            )
            .route(
                "/account/sms/confirm",
                get(contact::sms_confirm_page).post(contact::sms_confirm),
            )
            .route(
                "/account/preferred",
                get(account::preferred_page).post(account::preferred),
            )
            .route(
                "/account/recovery-codes",
                get(account::recovery_page).post(account::regenerate_codes),
            )
            .route("/account/recovery-codes.txt", post(account::download_codes))
            .route(
                "/account/disable",
                get(account::disable_page).post(account::disable),
            )
            .route("/account/devices", get(manage::devices))
            .route("/account/devices/revoke", post(manage::revoke_device))
            .route("/account/log", get(manage::security_log))
            .route("/admin", get(admin::page))
            .route("/admin/unlock", post(admin::unlock))
            .route("/dev/inbox", get(admin::inbox))
            .fallback(page::not_found)
            .layer(edge.csrf_layer())
            .layer(edge.session_layer(self.sessions.clone()))
            .layer(edge.layer())
            .with_state(self.state.clone())
    }

    /// The facade (for tests and tools that look at the second-factor state).
    #[must_use]
    pub fn mfa(&self) -> &Mfa {
        &self.state.mfa
    }

    /// Adds a user with `password` (what `mfa-demo add-user` does: the way to create an
    /// administrator's account outside development). Returns `false` if the name is taken.
    ///
    /// # Errors
    /// [`Error::Config`] for a name or password the demo does not accept; database failures.
    pub async fn add_user(&self, username: &str, password: &str) -> Result<bool> {
        auth::create_user(&self.state, username, password.to_owned())
            .await
            .map_err(|refusal| match refusal {
                auth::Refusal::Invalid(why) => Error::Config(why.to_owned()),
                auth::Refusal::Failed(e) => e,
            })
    }

    /// Spawns the periodic purge of expired second-factor records (`Mfa::purge_task`) and web
    /// sessions, on the current tokio runtime.
    pub fn spawn_purge_tasks(&self) {
        tokio::spawn(self.state.mfa.purge_task(PURGE_EVERY));
        let sessions = self.sessions.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(PURGE_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(e) = sessions.purge_expired().await {
                    tracing::warn!(error = %e, "session purge failed; retried next tick");
                }
            }
        });
    }

    /// Serves on `listener` until the process ends (with the purge tasks running).
    ///
    /// # Errors
    /// I/O errors of the listener.
    pub async fn serve(self, listener: TcpListener) -> Result<()> {
        self.spawn_purge_tasks();
        let app = self
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).await?;
        Ok(())
    }
}

/// The facade's store and the session table on one PostgreSQL pool.
fn postgres(store: PgStore) -> Result<(Arc<dyn Store>, SqlSessionStore, &'static str)> {
    let sessions = SqlSessionStore::postgres(store.pool().clone(), SESSION_TABLE_PREFIX)?;
    Ok((Arc::new(store), sessions, "PostgreSQL"))
}

/// The facade's store and the session table on one MariaDB/MySQL pool.
fn mysql(store: MySqlStore) -> Result<(Arc<dyn Store>, SqlSessionStore, &'static str)> {
    let sessions = SqlSessionStore::mysql(store.pool().clone(), SESSION_TABLE_PREFIX)?;
    Ok((Arc::new(store), sessions, "MariaDB/MySQL"))
}

/// The URL browsers use when none is configured: `http://localhost:<port>` (a name, not an
/// address: WebAuthn and browsers' secure-context rules treat `localhost` specially).
#[must_use]
pub fn local_url(bound: SocketAddr) -> String {
    format!("http://localhost:{}", bound.port())
}

/// Binds `config.addr`, builds the demo and serves it (what `cargo run -p mfa-demo` does).
///
/// # Errors
/// See [`Demo::build`]; binding failures.
pub async fn run(config: DemoConfig) -> Result<()> {
    // Check what needs no I/O before binding: a refused configuration serves nothing.
    let base = match &config.public_url {
        Some(url) => url.clone(),
        None if config.is_development() => local_url(config.addr),
        None => {
            return Err(Error::Config(
                "MFA_DEMO_PUBLIC_URL is required outside development mode (the https:// URL \
                 browsers use)"
                    .into(),
            ));
        }
    };
    config.edge(&base)?;
    config.effective_admins()?;
    if config.is_development() && !config.addr.ip().is_loopback() {
        tracing::warn!(
            addr = %config.addr,
            "development mode (plain HTTP) on a non-loopback address: other machines reach it \
             without TLS; the development inbox stays loopback-only"
        );
    }
    let listener = TcpListener::bind(config.addr).await?;
    let bound = listener.local_addr()?;
    let base = match &config.public_url {
        Some(url) => url.clone(),
        None => local_url(bound),
    };
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

/// The relying party of the demo: the host it is reached at, and that origin.
fn webauthn_config(base_url: &str) -> Result<mfa::WebAuthnConfig> {
    let host = base_url
        .split_once("://")
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.split(['/', ':']).next())
        .filter(|host| !host.is_empty())
        .ok_or_else(|| Error::Config(format!("the public URL {base_url:?} has no host")))?;
    Ok(mfa::WebAuthnConfig::new(host, base_url).rp_name("mfa demo"))
}
