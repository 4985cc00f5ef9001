//! The API's typed errors: one JSON `error` code and one HTTP status each.

use std::time::{Duration, SystemTime};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Result alias of this example.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// An error of the API (answered as JSON `{"error": code, "message": ...}`) or of start-up.
///
/// No variant carries a code, token, secret or password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The code does not match (`422 code_mismatch`).
    #[error("the code does not match")]
    CodeMismatch {
        /// Tries left on this challenge, when known.
        attempts_left: Option<u32>,
    },
    /// The code, the enrolment or the challenge expired or was used (`410 expired_code`).
    #[error("the code has expired; start again")]
    ExpiredCode,
    /// An enrolment once the user has an active factor, or a management call, without a valid
    /// step-up grant of this user (`403 not_authorised`).
    #[error("a fresh second-factor verification (step-up) is required")]
    NotAuthorised,
    /// The factor is already enabled (`409 already_enabled`).
    #[error("this second factor is already enabled")]
    AlreadyEnabled,
    /// There is no pending enrolment to confirm (`404 no_pending_enrollment`).
    #[error("there is no pending enrolment to confirm")]
    NoPendingEnrollment,
    /// The challenge has no tries left (`410 challenge_exhausted`).
    #[error("no tries left on this challenge; start again")]
    ChallengeExhausted,
    /// The method is not enabled for this user (`400 method_not_enabled`).
    #[error("this method is not enabled for the user")]
    MethodNotEnabled,
    /// The user name or password is wrong (`401 invalid_credentials`).
    #[error("wrong user name or password")]
    InvalidCredentials,
    /// Too many failures (`429 locked_out`, with `Retry-After`).
    #[error("too many failures; try again later")]
    LockedOut {
        /// When the lock ends.
        until: SystemTime,
    },
    /// Too soon after the last SMS, or over the SMS quota (`429 retry_later`).
    #[error("too many messages; try again later")]
    RetryLater {
        /// How long to wait.
        retry_after: Duration,
    },
    /// The request is malformed (`400 bad_request`).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The facade's infrastructure failed (`500 internal`); nothing was granted.
    #[error("the second-factor service failed")]
    Mfa(#[source] mfa::Error),
    /// The facade refused its configuration at start-up.
    #[error("the facade configuration was refused")]
    Config(#[from] mfa::ConfigError),
    /// The SQL store could not be opened or migrated at start-up.
    #[error("the store could not be opened")]
    Store(#[from] mfa_store_sql::Error),
    /// An I/O failure at start-up (binding the listener, reading the key file).
    #[error("I/O failure")]
    Io(#[from] std::io::Error),
}

impl From<mfa::Error> for Error {
    fn from(e: mfa::Error) -> Self {
        match e {
            mfa::Error::NotAuthorised => Self::NotAuthorised,
            mfa::Error::AlreadyEnabled => Self::AlreadyEnabled,
            mfa::Error::MethodNotEnabled => Self::MethodNotEnabled,
            mfa::Error::InvalidArgument(what) => Self::BadRequest(what),
            other => Self::Mfa(other),
        }
    }
}

impl Error {
    /// The stable JSON `error` code ("code_mismatch", "expired_code", ...).
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::CodeMismatch { .. } => "code_mismatch",
            Self::ExpiredCode => "expired_code",
            Self::NotAuthorised => "not_authorised",
            Self::AlreadyEnabled => "already_enabled",
            Self::NoPendingEnrollment => "no_pending_enrollment",
            Self::ChallengeExhausted => "challenge_exhausted",
            Self::MethodNotEnabled => "method_not_enabled",
            Self::InvalidCredentials => "invalid_credentials",
            Self::LockedOut { .. } => "locked_out",
            Self::RetryLater { .. } => "retry_later",
            Self::BadRequest(_) => "bad_request",
            Self::Mfa(_) | Self::Config(_) | Self::Store(_) | Self::Io(_) => "internal",
        }
    }

    /// The HTTP status of this error.
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        match self {
            Self::CodeMismatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::ExpiredCode | Self::ChallengeExhausted => StatusCode::GONE,
            Self::NotAuthorised => StatusCode::FORBIDDEN,
            Self::AlreadyEnabled => StatusCode::CONFLICT,
            Self::NoPendingEnrollment => StatusCode::NOT_FOUND,
            Self::MethodNotEnabled | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::LockedOut { .. } | Self::RetryLater { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Mfa(_) | Self::Config(_) | Self::Store(_) | Self::Io(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Seconds to wait, for the errors that say when to retry.
    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::LockedOut { until } => Some(
                until
                    .duration_since(SystemTime::now())
                    .unwrap_or_default()
                    .as_secs(),
            ),
            Self::RetryLater { retry_after } => Some(retry_after.as_secs()),
            _ => None,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.code(), "message": self.to_string() });
        if let Self::CodeMismatch {
            attempts_left: Some(n),
        } = &self
        {
            body["attempts_left"] = json!(n);
        }
        let retry = self.retry_after();
        if let Some(secs) = retry {
            body["retry_after"] = json!(secs);
        }
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(secs) = retry {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}
