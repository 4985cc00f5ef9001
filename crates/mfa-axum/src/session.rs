//! Sessions: the tower-sessions layer with this crate's cookie, the typed sign-in state kept in
//! the session ([`AuthState`]), and [`AuthSession`], which rotates the session id (and the CSRF
//! token) on every change of that state.

use core::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use http::request::Parts;
use mfa::{ChallengeId, StepUpGrant};
use mfa_core::Token;
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

/// The session key of the step-up grant.
const STEP_UP_KEY: &str = "mfa.step_up";

/// The session key of the magic-link binding.
const LINK_BINDING_KEY: &str = "mfa.link_binding";

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

    /// The facade's handle. A session's ticket always parses (it was written from one), so an
    /// error here means a tampered session store: answer it like an expired login.
    ///
    /// # Errors
    /// [`mfa::core::Error::MalformedToken`] when the text is not a handle.
    pub fn challenge_id(&self) -> Result<ChallengeId, mfa::core::Error> {
        self.0.parse()
    }
}

impl From<&ChallengeId> for LoginTicket {
    fn from(id: &ChallengeId) -> Self {
        Self(id.expose())
    }
}

impl fmt::Debug for LoginTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginTicket").finish_non_exhaustive()
    }
}

/// A session's magic-link binding ([`AuthSession::link_binding`]): zeroized on drop, redacted
/// in `Debug`.
pub struct LinkBinding(Zeroizing<String>);

impl LinkBinding {
    /// The value, for [`Mfa::send_magic_link`](mfa::Mfa::send_magic_link) and
    /// [`Mfa::confirm_magic_link`](mfa::Mfa::confirm_magic_link).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LinkBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkBinding").finish_non_exhaustive()
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
    /// Signed in.
    SignedIn {
        /// The user.
        user: String,
        /// When the second factor was passed, kept to the second; `None` when the user has no
        /// second factor and the policy let them in on the password alone
        /// ([`LoginStart::NotRequired`](mfa::LoginStart::NotRequired)). Routes that need the
        /// second factor check this ([`SecondFactor`](crate::SecondFactor)).
        second_factor_at: Option<SystemTime>,
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
    SecondFactorPending {
        user: String,
        ticket: String,
    },
    EnrolmentRequired {
        user: String,
    },
    SignedIn {
        user: String,
        second_factor_at: Option<u64>,
    },
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
                    .map(|at| at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())),
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
                second_factor_at: second_factor_at.map(|secs| {
                    UNIX_EPOCH
                        .checked_add(Duration::from_secs(secs))
                        .unwrap_or(UNIX_EPOCH)
                }),
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
    /// A step-up grant and a magic-link binding belong to the sign-in they were made in: both
    /// are forgotten.
    pub async fn set_state(&self, state: AuthState) -> Result<()> {
        let stored = serde_json::to_value(Stored::from(&state))
            .map_err(|e| crate::Error::Session(tower_sessions::session::Error::SerdeJson(e)))?;
        self.session.cycle_id().await?;
        csrf::issue(&self.session).await?;
        self.forget_grants().await?;
        self.session.insert_value(AUTH_KEY, stored).await?;
        Ok(())
    }

    async fn forget_grants(&self) -> Result<()> {
        self.session.remove_value(STEP_UP_KEY).await?;
        self.session.remove_value(LINK_BINDING_KEY).await?;
        Ok(())
    }

    /// The password was right and a second factor is asked for: keeps `user` and the login
    /// ticket (`challenge`) in the session, which gets a new id.
    ///
    /// # Errors
    /// As [`set_state`](Self::set_state).
    pub async fn second_factor_pending(&self, user: &str, challenge: &ChallengeId) -> Result<()> {
        self.set_state(AuthState::SecondFactorPending {
            user: user.to_owned(),
            ticket: LoginTicket::from(challenge),
        })
        .await
    }

    /// Signs `user` in; `second_factor_at` is when the second factor was passed (`None` for a
    /// user the policy lets in on the password alone). The session gets a new id.
    ///
    /// # Errors
    /// As [`set_state`](Self::set_state).
    pub async fn sign_in(&self, user: &str, second_factor_at: Option<SystemTime>) -> Result<()> {
        self.set_state(AuthState::SignedIn {
            user: user.to_owned(),
            second_factor_at,
        })
        .await
    }

    /// Keeps a step-up grant (from [`VerifyOptions::grant_step_up`](mfa::VerifyOptions)) for
    /// the account-management routes behind [`SteppedUp`](crate::SteppedUp). The session gets a
    /// new id: its privilege grew. The grant is checked with the facade at every use (it ends
    /// with its window, or earlier when a factor is removed or the password changes) and
    /// forgotten at the next change of the sign-in state.
    ///
    /// # Errors
    /// [`Error::Session`](crate::Error::Session).
    pub async fn keep_step_up(&self, grant: &StepUpGrant) -> Result<()> {
        self.session.cycle_id().await?;
        self.session
            .insert_value(
                STEP_UP_KEY,
                serde_json::Value::from(grant.expose().as_str()),
            )
            .await?;
        Ok(())
    }

    /// The step-up grant kept in this session, if any (not checked: [`SteppedUp`](crate::SteppedUp)
    /// checks it with the facade).
    ///
    /// # Errors
    /// [`Error::Session`](crate::Error::Session).
    pub async fn step_up(&self) -> Result<Option<StepUpGrant>> {
        let value = self.session.get_value(STEP_UP_KEY).await?;
        Ok(value
            .as_ref()
            .and_then(serde_json::Value::as_str)
            .and_then(|text| text.parse().ok()))
    }

    /// Forgets the step-up grant (after the management call it was asked for, if the
    /// application wants one grant per change).
    ///
    /// # Errors
    /// [`Error::Session`](crate::Error::Session).
    pub async fn forget_step_up(&self) -> Result<()> {
        self.session.remove_value(STEP_UP_KEY).await?;
        Ok(())
    }

    /// This session's magic-link binding: a 256-bit random value, created on first use and
    /// kept until the sign-in state changes. Give it to
    /// [`Mfa::send_magic_link`](mfa::Mfa::send_magic_link) and to
    /// [`Mfa::confirm_magic_link`](mfa::Mfa::confirm_magic_link): a link then signs in only in
    /// the browser session that asked for it, not in whoever else's hands it lands.
    ///
    /// # Errors
    /// [`Error::Session`](crate::Error::Session), [`Error::Rng`](crate::Error::Rng).
    pub async fn link_binding(&self) -> Result<LinkBinding> {
        let kept = self.session.get_value(LINK_BINDING_KEY).await?;
        if let Some(text) = kept.as_ref().and_then(serde_json::Value::as_str)
            && let Ok(token) = Token::parse(text)
        {
            return Ok(LinkBinding(token.expose()));
        }
        let token = Token::generate().map_err(|_| crate::Error::Rng)?;
        let text = token.expose();
        self.session
            .insert_value(LINK_BINDING_KEY, serde_json::Value::from(text.as_str()))
            .await?;
        Ok(LinkBinding(text))
    }

    /// Signs out: forgets the state, and gives the now anonymous session a new id and a new
    /// CSRF token (so the page after sign-out can still post a form).
    ///
    /// # Errors
    /// As [`set_state`](Self::set_state).
    pub async fn sign_out(&self) -> Result<()> {
        self.session.cycle_id().await?;
        self.session.remove_value(AUTH_KEY).await?;
        self.forget_grants().await?;
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
