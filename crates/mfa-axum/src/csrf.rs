//! [`CsrfToken`]: the session's synchronizer token, for forms and for scripts' request headers.
//!
//! One token per session, 256 random bits (`mfa_core::Token`), kept in the session under
//! [`CSRF_KEY`]. It is replaced whenever the session's sign-in state changes
//! ([`AuthSession::set_state`](crate::AuthSession::set_state)), so a token seen before a sign-in
//! is worthless after it.

use core::fmt;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use mfa_core::Token;
use tower_sessions::Session;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The name of the hidden form field that carries the token.
pub const CSRF_FIELD: &str = "csrf_token";

/// The request header that carries the token (for `fetch` and other scripted requests).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session key the token is kept under.
pub(crate) const CSRF_KEY: &str = "mfa.csrf";

/// The session's CSRF token. Extracting it creates one if the session has none yet (which
/// starts a session for an anonymous visitor); render it into every form that posts with
/// [`form_field`](Self::form_field), or send it in the [`CSRF_HEADER`] header.
///
/// Redacted in `Debug`; the text comes out only through [`expose`](Self::expose) and
/// [`form_field`](Self::form_field).
pub struct CsrfToken(Token);

impl CsrfToken {
    /// The token's text (43 base64url characters).
    #[must_use]
    pub fn expose(&self) -> Zeroizing<String> {
        self.0.expose()
    }

    /// `<input type="hidden" name="csrf_token" value="…">`, ready to put inside a `<form>`. The
    /// token is base64url, so it needs no escaping.
    #[must_use]
    pub fn form_field(&self) -> String {
        format!(
            r#"<input type="hidden" name="{CSRF_FIELD}" value="{}">"#,
            self.0.expose().as_str()
        )
    }

    /// Whether `submitted` is this token, compared in constant time. Surrounding whitespace is
    /// ignored; anything that is not exactly a token's text does not match.
    #[must_use]
    pub fn matches(&self, submitted: &str) -> bool {
        Token::parse(submitted).is_ok_and(|t| t.ct_eq(&self.0))
    }
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfToken").finish_non_exhaustive()
    }
}

/// The session's current token, if it has one that parses.
pub(crate) async fn current(session: &Session) -> Result<Option<CsrfToken>> {
    let value = session.get_value(CSRF_KEY).await?;
    Ok(value
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .and_then(|text| Token::parse(text).ok())
        .map(CsrfToken))
}

/// Replaces the session's token with a fresh one.
pub(crate) async fn issue(session: &Session) -> Result<CsrfToken> {
    let token = Token::generate().map_err(|_| Error::Rng)?;
    session
        .insert_value(
            CSRF_KEY,
            serde_json::Value::String(token.expose().to_string()),
        )
        .await?;
    Ok(CsrfToken(token))
}

/// The session's token, created if it has none.
pub(crate) async fn current_or_issue(session: &Session) -> Result<CsrfToken> {
    match current(session).await? {
        Some(token) => Ok(token),
        None => issue(session).await,
    }
}

/// Why a [`CsrfToken`] or an [`AuthSession`](crate::AuthSession) could not be extracted.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionRejection {
    /// No session in the request: add [`EdgeConfig::session_layer`](crate::EdgeConfig::session_layer)
    /// to the router.
    MissingSessionLayer,
    /// The session store failed, or no randomness was available.
    Failed(Error),
}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingSessionLayer => f.write_str("no session: add EdgeConfig::session_layer"),
            Self::Failed(e) => write!(f, "session unavailable: {e}"),
        }
    }
}

impl std::error::Error for SessionRejection {}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        tracing::error!(problem = %self, "cannot use the session");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    }
}

pub(crate) fn session_of(parts: &Parts) -> Result<Session, SessionRejection> {
    parts
        .extensions
        .get::<Session>()
        .cloned()
        .ok_or(SessionRejection::MissingSessionLayer)
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = session_of(parts)?;
        current_or_issue(&session)
            .await
            .map_err(SessionRejection::Failed)
    }
}
