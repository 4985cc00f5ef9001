//! The HTTP service: its state, its routes, and what it keeps in the browser's session beside
//! the sign-in state of `mfa-axum`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mfa::core::ChallengeKind;
use mfa::{Mfa, PublicResponse};
use mfa_axum::tower_sessions::SessionStore;
use mfa_axum::{AuthSession, CSRF_HEADER, EdgeConfig, Problem};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{Error, Result};
use crate::{auth, link};

/// The service's shared state: the facade and the numbers of its policy the answers use.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    mfa: Mfa,
    /// `<public URL>/auth/link`: the page a magic link opens.
    link_base: String,
    /// How long a code and a link live (2 minutes).
    code_lifetime: Duration,
    /// The least time between two messages one browser session asks for (30 seconds).
    cooldown: Duration,
    /// Tries per login (3).
    tries: u32,
}

impl core::fmt::Debug for AppState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AppState")
            .field("link_base", &self.0.link_base)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The state of a service reached at `public_url` (`https://login.example.com`, or
    /// `http://localhost:3000` in development): magic links point to `<public_url>/auth/link`.
    ///
    /// # Errors
    /// [`Error::Setting`] unless `public_url` is `https://…`, or `http://` to `localhost` or
    /// `127.0.0.1` (the facade sends no link to anything else).
    pub fn new(mfa: Mfa, public_url: &str) -> Result<Self> {
        let base = public_url.trim().trim_end_matches('/');
        let local = ["http://localhost", "http://127.0.0.1"]
            .iter()
            .any(|p| base == *p || base.starts_with(&format!("{p}:")));
        let https = base.len() > "https://".len() && base.starts_with("https://");
        if !(https || local) || base.contains(['?', '#', ' ']) {
            return Err(Error::Setting(
                "the public URL must be https://host (or http://localhost:port)",
            ));
        }
        let policy = mfa.policy();
        let inner = Inner {
            link_base: format!("{base}/auth/link"),
            code_lifetime: policy.lifetime(ChallengeKind::MagicLink),
            cooldown: policy.send_quota(mfa::Channel::Email).cooldown(),
            tries: policy.challenge_attempts().get(),
            mfa,
        };
        Ok(Self(Arc::new(inner)))
    }

    /// The facade.
    #[must_use]
    pub fn mfa(&self) -> &Mfa {
        &self.0.mfa
    }

    pub(crate) fn link_base(&self) -> &str {
        &self.0.link_base
    }

    pub(crate) fn code_lifetime(&self) -> Duration {
        self.0.code_lifetime
    }

    pub(crate) fn tries(&self) -> u32 {
        self.0.tries
    }

    /// Refuses a new message within the cooldown of the last one this session asked for. The
    /// answer depends on this session only, never on the address: it is the same for known
    /// and unknown addresses.
    pub(crate) async fn cooldown(&self, session: &AuthSession) -> Result<(), Problem> {
        let last: Option<u64> = session
            .session()
            .get(LAST_SEND_KEY)
            .await
            .map_err(session_problem)?;
        let now = unix(self.mfa().now());
        let ready = last.map_or(0, |at| at.saturating_add(self.0.cooldown.as_secs()));
        if now < ready {
            return Err(Problem::TooManyMessages {
                retry_after: Duration::from_secs(ready - now),
            });
        }
        Ok(())
    }

    /// Notes that this session asked for a message now.
    pub(crate) async fn sent(&self, session: &AuthSession) -> Result<(), Problem> {
        session
            .session()
            .insert(LAST_SEND_KEY, unix(self.mfa().now()))
            .await
            .map_err(session_problem)
    }
}

impl FromRef<AppState> for Mfa {
    fn from_ref(state: &AppState) -> Self {
        state.0.mfa.clone()
    }
}

/// The service's routes, over `sessions`, behind `edge` (see the README for each route).
///
/// Every `POST` but the magic link's confirmation needs the session's CSRF token in the
/// `X-CSRF-Token` header (`GET /auth/csrf` gives it; answers that change the sign-in state
/// carry the new one in the same header). The link's page is opened from a mail, another site:
/// the browser sends no `SameSite=Strict` session cookie with it, so it cannot hold a token
/// without starting a new session, which would replace the session that asked for the link.
/// Its form is checked instead by where it comes from (`Sec-Fetch-Site`, `Origin`) and by the
/// link's binding to the session that asked, which a forged request cannot present.
pub fn router<S>(state: AppState, edge: &EdgeConfig, sessions: S) -> Router
where
    S: SessionStore + Clone,
{
    let api = Router::new()
        .route("/", get(auth::index))
        .route("/auth/csrf", get(auth::csrf))
        .route("/auth/register", post(auth::register))
        .route("/auth/register/confirm", post(auth::confirm_registration))
        .route("/auth/email", post(auth::begin))
        .route("/auth/resend", post(auth::resend))
        .route("/auth/verify", post(auth::verify))
        .route("/auth/logout", post(auth::logout))
        .route("/me", get(auth::me))
        .layer(edge.csrf_layer());
    let link = Router::new().route("/auth/link", get(link::page).post(link::confirm));
    api.merge(link)
        .layer(edge.session_layer(sessions))
        .layer(edge.layer())
        .with_state(state)
}

/// The session key of the last time this session asked for a message (Unix seconds).
const LAST_SEND_KEY: &str = "email_link.last_send";

/// The session key of the pending login's progress.
const LOGIN_KEY: &str = "email_link.login";

/// The session key of a pending registration.
const REGISTRATION_KEY: &str = "email_link.registration";

/// What this session did with its pending login: how many wrong answers it gave, and when the
/// last code it asked for expires. Kept in the session rather than taken from the facade, so
/// that the answers are the same for an unknown address (a decoy login, which counts nothing
/// and never expires) and a known one.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(crate) struct LoginProgress {
    /// Wrong codes given for this login.
    pub(crate) wrong: u32,
    /// When the last code sent expires (Unix seconds).
    pub(crate) code_expires: u64,
}

impl LoginProgress {
    pub(crate) async fn load(session: &AuthSession) -> Result<Option<Self>, Problem> {
        session
            .session()
            .get(LOGIN_KEY)
            .await
            .map_err(session_problem)
    }

    pub(crate) async fn save(self, session: &AuthSession) -> Result<(), Problem> {
        session
            .session()
            .insert(LOGIN_KEY, self)
            .await
            .map_err(session_problem)
    }

    pub(crate) async fn forget(session: &AuthSession) -> Result<(), Problem> {
        session
            .session()
            .remove_value(LOGIN_KEY)
            .await
            .map(drop)
            .map_err(session_problem)
    }
}

/// A registration this session started: the address a code was sent to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PendingRegistration {
    /// The address, in lower case (the user id).
    pub(crate) email: String,
}

impl PendingRegistration {
    pub(crate) async fn load(session: &AuthSession) -> Result<Option<Self>, Problem> {
        session
            .session()
            .get(REGISTRATION_KEY)
            .await
            .map_err(session_problem)
    }

    pub(crate) async fn save(&self, session: &AuthSession) -> Result<(), Problem> {
        session
            .session()
            .insert(REGISTRATION_KEY, self)
            .await
            .map_err(session_problem)
    }

    pub(crate) async fn forget(session: &AuthSession) -> Result<(), Problem> {
        session
            .session()
            .remove_value(REGISTRATION_KEY)
            .await
            .map(drop)
            .map_err(session_problem)
    }
}

/// A session store failure, answered as the unavailable service it is.
pub(crate) fn session_problem(error: mfa_axum::tower_sessions::session::Error) -> Problem {
    Problem::from(mfa_axum::Error::from(error))
}

/// Unix seconds.
pub(crate) fn unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A JSON body; anything else (not JSON, wrong fields, wrong type) is
/// [`Problem::InvalidInput`], as JSON like every other failure.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(request, state)
            .await
            .map(|Json(value)| Self(value))
            .map_err(|_| Problem::InvalidInput)
    }
}

/// `response` with the session's current CSRF token in the `X-CSRF-Token` header (it changes
/// whenever the sign-in state does).
pub(crate) async fn with_csrf(
    session: &AuthSession,
    mut response: Response,
) -> Result<Response, Problem> {
    let token = session.csrf_token().await?;
    if let Ok(value) = HeaderValue::from_str(token.expose().as_str()) {
        response.headers_mut().insert(CSRF_HEADER, value);
    }
    Ok(response)
}

/// `202 Accepted`: "if this address is registered, we sent a message to it", and how long the
/// code lives. The same for every address.
pub(crate) async fn accepted(state: &AppState, session: &AuthSession) -> Result<Response, Problem> {
    let body = json!({
        "message": PublicResponse::SentIfKnown.message(),
        "expires_in": state.code_lifetime().as_secs(),
    });
    with_csrf(session, (StatusCode::ACCEPTED, Json(body)).into_response()).await
}
