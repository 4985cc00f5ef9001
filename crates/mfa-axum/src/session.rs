//! Sessions: the tower-sessions layer with this crate's cookie, the typed sign-in state kept in
//! the session ([`AuthState`]), and [`AuthSession`], which rotates the session id (and the CSRF
//! token) on every change of that state.

use core::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde::{Deserialize, Serialize};
use tower_sessions::cookie::{SameSite, time};
use tower_sessions::{Expiry, Session, SessionManagerLayer, SessionStore};
use zeroize::Zeroizing;

use crate::config::EdgeConfig;
use crate::cookie::CookieKind;
use crate::csrf::{self, CsrfToken, SessionRejection, session_of};
use crate::error::Result;

/// The session key the sign-in state is kept under.
const AUTH_KEY: &str = "mfa.auth";

impl EdgeConfig {
    /// The tower-sessions layer over `store`, with the session cookie of this configuration:
    /// `HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` over TLS, `__Host-` prefixed when secure,
    /// and a `Max-Age` of the session lifetime (renewed whenever the session changes).
    ///
    /// Use `SqlSessionStore` in production (features `sqlite`,
    /// `postgres`, `mysql`); tower-sessions' `MemoryStore` keeps every session until its
    /// expiry is checked on load, which suits tests and development only.
    pub fn session_layer<S: SessionStore>(&self, store: S) -> SessionManagerLayer<S> {
        let cookies = self.cookies();
        SessionManagerLayer::new(store)
            .with_name(cookies.name(CookieKind::Session))
            .with_secure(cookies.is_secure())
            .with_http_only(true)
            .with_same_site(SameSite::Strict)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(to_time(
                cookies.max_age(CookieKind::Session),
            )))
    }
}

fn to_time(duration: Duration) -> time::Duration {
    time::Duration::seconds(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX))
}

/// The opaque handle of a login challenge (the facade's login ticket), kept in the session
/// between the password step and the second factor. Zeroized on drop, redacted in `Debug`.
#[derive(Clone)]
pub struct LoginTicket(Zeroizing<String>);

impl LoginTicket {
    /// Wraps the handle's text.
    #[must_use]
    pub fn new(handle: &str) -> Self {
        Self(Zeroizing::new(handle.to_owned()))
    }

    /// The handle's text, to give back to the facade.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LoginTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginTicket").finish_non_exhaustive()
    }
}

/// Where a session stands in the sign-in. No state (`None` from [`AuthSession::state`]) means
/// anonymous.
#[derive(Clone)]
#[non_exhaustive]
pub enum AuthState {
    /// The password was right; the second factor is still to be passed for this login ticket.
    SecondFactorPending {
        /// The user whose password was checked.
        user: String,
        /// The login challenge to verify the second factor against.
        ticket: LoginTicket,
    },
    /// The password was right and the user must set up a second factor before anything else.
    EnrolmentRequired {
        /// The user who must enrol.
        user: String,
    },
    /// Signed in with both factors.
    SignedIn {
        /// The user.
        user: String,
        /// When the second factor was passed (for step-up: how fresh it is). Kept to the second.
        second_factor_at: SystemTime,
    },
}

impl AuthState {
    /// The user this state is about.
    #[must_use]
    pub fn user(&self) -> &str {
        match self {
            Self::SecondFactorPending { user, .. }
            | Self::EnrolmentRequired { user }
            | Self::SignedIn { user, .. } => user,
        }
    }

    /// The user, if signed in with both factors.
    #[must_use]
    pub fn signed_in_user(&self) -> Option<&str> {
        match self {
            Self::SignedIn { user, .. } => Some(user),
            _ => None,
        }
    }
}

impl fmt::Debug for AuthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecondFactorPending { user, .. } => f
                .debug_struct("SecondFactorPending")
                .field("user", user)
                .finish_non_exhaustive(),
            Self::EnrolmentRequired { user } => f
                .debug_struct("EnrolmentRequired")
                .field("user", user)
                .finish(),
            Self::SignedIn {
                user,
                second_factor_at,
            } => f
                .debug_struct("SignedIn")
                .field("user", user)
                .field("second_factor_at", second_factor_at)
                .finish(),
        }
    }
}

/// How [`AuthState`] is written into the session. Private, so the public type has no
/// `Serialize` that could put a ticket into a JSON answer or a log.
#[derive(Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum Stored {
    SecondFactorPending { user: String, ticket: String },
    EnrolmentRequired { user: String },
    SignedIn { user: String, second_factor_at: u64 },
}

impl From<&AuthState> for Stored {
    fn from(state: &AuthState) -> Self {
        match state {
            AuthState::SecondFactorPending { user, ticket } => Self::SecondFactorPending {
                user: user.clone(),
                ticket: ticket.expose().to_owned(),
            },
            AuthState::EnrolmentRequired { user } => Self::EnrolmentRequired { user: user.clone() },
            AuthState::SignedIn {
                user,
                second_factor_at,
            } => Self::SignedIn {
                user: user.clone(),
                second_factor_at: second_factor_at
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            },
        }
    }
}

impl From<Stored> for AuthState {
    fn from(stored: Stored) -> Self {
        match stored {
            Stored::SecondFactorPending { user, ticket } => Self::SecondFactorPending {
                user,
                ticket: LoginTicket(Zeroizing::new(ticket)),
            },
            Stored::EnrolmentRequired { user } => Self::EnrolmentRequired { user },
            Stored::SignedIn {
                user,
                second_factor_at,
            } => Self::SignedIn {
                user,
                second_factor_at: UNIX_EPOCH
                    .checked_add(Duration::from_secs(second_factor_at))
                    .unwrap_or(UNIX_EPOCH),
            },
        }
    }
}

/// The request's session, seen through its sign-in state. Every change of that state is a
/// change of privilege, so [`set_state`](Self::set_state) and [`sign_out`](Self::sign_out) give
/// the session a new id (the old one is deleted from the store at once, so a fixated or stolen
/// pre-login id is worthless) and a new CSRF token.
///
/// Extract it in a handler (needs [`EdgeConfig::session_layer`]); redacted in `Debug`.
#[derive(Clone)]
pub struct AuthSession {
    session: Session,
}

impl AuthSession {
    /// Wraps a tower-sessions session.
    #[must_use]
    pub fn new(session: Session) -> Self {
        Self { session }
    }

    /// The sign-in state, or `None` for an anonymous session. A state that cannot be read
    /// (written by another version, or tampered with in the store) counts as anonymous, which
    /// grants nothing.
    ///
    /// # Errors
    /// [`Error::Session`](crate::Error::Session) when the store fails.
    pub async fn state(&self) -> Result<Option<AuthState>> {
        let Some(value) = self.session.get_value(AUTH_KEY).await? else {
            return Ok(None);
        };
        match serde_json::from_value::<Stored>(value) {
            Ok(stored) => Ok(Some(stored.into())),
            Err(_) => {
                tracing::warn!("unreadable sign-in state in a session: treated as signed out");
                Ok(None)
            }
        }
    }

    /// Moves the session to `state`: a new session id, a new CSRF token, then the state.
    ///
    /// # Errors
    /// [`Error::Session`](crate::Error::Session) when the store fails (the state is then not
    /// changed in the store: the response is not saved), [`Error::Rng`](crate::Error::Rng).
    pub async fn set_state(&self, state: AuthState) -> Result<()> {
        let stored = serde_json::to_value(Stored::from(&state))
            .map_err(|e| crate::Error::Session(tower_sessions::session::Error::SerdeJson(e)))?;
        self.session.cycle_id().await?;
        csrf::issue(&self.session).await?;
        self.session.insert_value(AUTH_KEY, stored).await?;
        Ok(())
    }

    /// Signs out: forgets the state, and gives the now anonymous session a new id and a new
    /// CSRF token (so the page after sign-out can still post a form).
    ///
    /// # Errors
    /// As [`set_state`](Self::set_state).
    pub async fn sign_out(&self) -> Result<()> {
        self.session.cycle_id().await?;
        self.session.remove_value(AUTH_KEY).await?;
        csrf::issue(&self.session).await?;
        Ok(())
    }

    /// The session's CSRF token, created if it has none.
    ///
    /// # Errors
    /// [`Error::Session`](crate::Error::Session), [`Error::Rng`](crate::Error::Rng).
    pub async fn csrf_token(&self) -> Result<CsrfToken> {
        csrf::current_or_issue(&self.session).await
    }

    /// The underlying tower-sessions session, for the application's own data. Its `Debug`
    /// prints the session's data (the CSRF token and the login ticket included): do not log it.
    /// End a sign-in with [`sign_out`](Self::sign_out), not `Session::flush`: tower-sessions
    /// answers a flush with a removal cookie without `Secure`, which browsers ignore for a
    /// `__Host-` cookie.
    #[must_use]
    pub fn session(&self) -> &Session {
        &self.session
    }
}

impl fmt::Debug for AuthSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSession").finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        session_of(parts).map(Self::new)
    }
}
