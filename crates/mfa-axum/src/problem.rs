//! [`Problem`]: the one mapping from the facade's outcomes and errors to HTTP answers.
//!
//! Every failure a client may see has a stable machine-readable code (`"code_mismatch"`,
//! `"expired_code"`, `"not_authorised"`, `"already_enabled"`, ...), a status, and a neutral
//! English sentence. As JSON (`IntoResponse`) the body is
//! `{"error": "<code>", "message": "<sentence>"}`, with `attempts_left` or `retry_after` (seconds)
//! where they apply, and a `Retry-After` header on 429 and 503. An HTML application renders
//! [`Problem::message`] with [`Problem::status`].
//!
//! Before the second factor the user is not known to be who they say, so a sign-in page answers
//! with [`Problem::public`]: one answer for a wrong code, an unknown address, an expired
//! challenge and a locked account, so the answers do not tell which accounts exist.

use core::fmt;
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use mfa::{EnrollmentOutcome, LoginStart, Outcome, SendOutcome};
use serde_json::{Map, Value};

/// A failure, as a client sees it. Build one from the facade's answers
/// ([`from_outcome`](Self::from_outcome), [`public`](Self::public),
/// [`from_enrollment`](Self::from_enrollment), [`from_send`](Self::from_send),
/// [`from_login_start`](Self::from_login_start)) or errors (`From<mfa::Error>`,
/// `From<mfa_axum::Error>`), and return it from a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The code did not match ("code mismatch"); `attempts_left` more tries on this challenge
    /// when the facade says.
    CodeMismatch {
        /// Tries left on this challenge, when known.
        attempts_left: Option<u32>,
    },
    /// The code, link or challenge expired, was used, or has no tries left ("expired code"):
    /// start again.
    ExpiredCode,
    /// The uniform failure of a sign-in step (see [`Problem::public`]).
    VerificationFailed,
    /// The password was wrong (or the user does not exist).
    WrongPassword,
    /// Too many attempts from this context, until `retry_after` from now.
    LockedOut {
        /// How long until the lock ends (rounded up to the second).
        retry_after: Duration,
    },
    /// Too soon, or too many messages: wait `retry_after`.
    TooManyMessages {
        /// How long to wait.
        retry_after: Duration,
    },
    /// A change of factors or a management call without a valid step-up ("not authorised").
    NotAuthorised,
    /// The factor is already enabled ("already enabled").
    AlreadyEnabled,
    /// The method is not enabled for this user (or the server cannot deliver it).
    MethodNotEnabled,
    /// There is no pending enrolment to confirm.
    NoPendingEnrollment,
    /// The request carried text that is not what it should be (an address, a handle, a code
    /// of the wrong shape).
    InvalidInput,
    /// The route needs a signed-in session.
    SignInRequired,
    /// The route needs the second factor passed in this session.
    SecondFactorRequired,
    /// The route needs a fresh second-factor verification (a live step-up grant).
    StepUpRequired,
    /// The user must set up a second factor before anything else.
    EnrollmentRequired,
    /// A store, the mailer or the session store failed; retry later. Nothing was granted.
    Unavailable,
    /// A server-side failure that retrying will not fix (logged; the client learns nothing).
    Internal,
}

impl Problem {
    /// The stable machine-readable code of the JSON body.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::CodeMismatch { .. } => "code_mismatch",
            Self::ExpiredCode => "expired_code",
            Self::VerificationFailed => "verification_failed",
            Self::WrongPassword => "wrong_password",
            Self::LockedOut { .. } => "locked_out",
            Self::TooManyMessages { .. } => "too_many_messages",
            Self::NotAuthorised => "not_authorised",
            Self::AlreadyEnabled => "already_enabled",
            Self::MethodNotEnabled => "method_not_enabled",
            Self::NoPendingEnrollment => "no_pending_enrollment",
            Self::InvalidInput => "invalid_input",
            Self::SignInRequired => "sign_in_required",
            Self::SecondFactorRequired => "second_factor_required",
            Self::StepUpRequired => "step_up_required",
            Self::EnrollmentRequired => "enrollment_required",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status.
    #[must_use]
    pub const fn status(self) -> StatusCode {
        match self {
            Self::CodeMismatch { .. }
            | Self::VerificationFailed
            | Self::WrongPassword
            | Self::SignInRequired
            | Self::SecondFactorRequired => StatusCode::UNAUTHORIZED,
            Self::ExpiredCode => StatusCode::GONE,
            Self::LockedOut { .. } | Self::TooManyMessages { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotAuthorised | Self::StepUpRequired | Self::EnrollmentRequired => {
                StatusCode::FORBIDDEN
            }
            Self::AlreadyEnabled | Self::MethodNotEnabled | Self::NoPendingEnrollment => {
                StatusCode::CONFLICT
            }
            Self::InvalidInput => StatusCode::BAD_REQUEST,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A neutral English sentence to show the user.
    #[must_use]
    pub const fn message(self) -> &'static str {
        match self {
            Self::CodeMismatch { .. } => "The code is wrong. Try again.",
            Self::ExpiredCode => "The code has expired or was already used. Start again.",
            Self::VerificationFailed => {
                "The code is wrong or has expired. Try again or request a new one."
            }
            Self::WrongPassword => "Wrong user name or password.",
            Self::LockedOut { .. } => "Too many attempts. Try again later.",
            Self::TooManyMessages { .. } => "Too many messages. Wait a moment, then try again.",
            Self::NotAuthorised => "Confirm it is you with your second factor first.",
            Self::AlreadyEnabled => "This second factor is already enabled.",
            Self::MethodNotEnabled => "This method is not available for this account.",
            Self::NoPendingEnrollment => "There is nothing to confirm. Start the set-up again.",
            Self::InvalidInput => "The request is not valid.",
            Self::SignInRequired => "Sign in first.",
            Self::SecondFactorRequired => "Complete the second step of the sign-in first.",
            Self::StepUpRequired => "Confirm it is you with your second factor first.",
            Self::EnrollmentRequired => "Set up a second factor first.",
            Self::Unavailable => "The service is unavailable. Try again in a moment.",
            Self::Internal => "Something went wrong on our side.",
        }
    }

    /// How long the client should wait, for the `Retry-After` header.
    #[must_use]
    pub const fn retry_after(self) -> Option<Duration> {
        match self {
            Self::LockedOut { retry_after } | Self::TooManyMessages { retry_after } => {
                Some(retry_after)
            }
            _ => None,
        }
    }

    /// The answer to a verification before the user is known (a sign-in step): one failure
    /// for every kind of failure, so the answer does not say whether an account exists, is
    /// locked, or whether the challenge was ever real. `None` when verified or unlocked.
    #[must_use]
    pub fn public(outcome: &Outcome) -> Option<Self> {
        match outcome.public_response() {
            mfa::PublicResponse::Failed => Some(Self::VerificationFailed),
            _ => None,
        }
    }

    /// The detailed answer to a verification, for a user who is already known (a step-up, a
    /// page after sign-in): `None` when verified or unlocked. `now` turns a lock's end into a
    /// wait.
    #[must_use]
    pub fn from_outcome(outcome: &Outcome, now: SystemTime) -> Option<Self> {
        Some(match outcome {
            Outcome::Rejected { attempts_left } => Self::CodeMismatch {
                attempts_left: Some(*attempts_left),
            },
            Outcome::ChallengeExhausted | Outcome::Expired => Self::ExpiredCode,
            Outcome::LockedOut { until } => Self::LockedOut {
                retry_after: wait(*until, now),
            },
            _ => return None,
        })
    }

    /// The answer to a login start that opens no session and asks nothing: the password was
    /// wrong, the context is locked, or enrolment comes first. `None` otherwise (a session, a
    /// trusted device, a challenge).
    #[must_use]
    pub fn from_login_start(start: &LoginStart, now: SystemTime) -> Option<Self> {
        Some(match start {
            LoginStart::PasswordRejected => Self::WrongPassword,
            LoginStart::LockedOut { until } => Self::LockedOut {
                retry_after: wait(*until, now),
            },
            LoginStart::EnrollmentRequired => Self::EnrollmentRequired,
            _ => return None,
        })
    }

    /// The answer to an enrolment's confirmation: seed 3's typed errors ("code mismatch",
    /// "expired code", "already enabled"). `None` when confirmed.
    #[must_use]
    pub fn from_enrollment(outcome: &EnrollmentOutcome, now: SystemTime) -> Option<Self> {
        Some(match outcome {
            EnrollmentOutcome::Rejected { attempts_left } => Self::CodeMismatch {
                attempts_left: *attempts_left,
            },
            EnrollmentOutcome::Expired => Self::ExpiredCode,
            EnrollmentOutcome::AlreadyEnabled => Self::AlreadyEnabled,
            EnrollmentOutcome::NoPendingEnrollment => Self::NoPendingEnrollment,
            EnrollmentOutcome::LockedOut { until } => Self::LockedOut {
                retry_after: wait(*until, now),
            },
            _ => return None,
        })
    }

    /// The answer to a send request. With `public` (a sign-in, where the address may be
    /// unknown), every answer but a wait is `None` ("if the address is known, we sent a
    /// code"); a wait is answered for known and unknown addresses alike, since the facade
    /// gives decoys the same quotas. Without it (a known user), a missing challenge or method
    /// is answered too.
    #[must_use]
    pub fn from_send(outcome: &SendOutcome, public: bool) -> Option<Self> {
        match outcome {
            SendOutcome::Cooldown { retry_after } | SendOutcome::QuotaExceeded { retry_after } => {
                Some(Self::TooManyMessages {
                    retry_after: *retry_after,
                })
            }
            _ if public => None,
            SendOutcome::NoChallenge => Some(Self::ExpiredCode),
            SendOutcome::MethodUnavailable => Some(Self::MethodNotEnabled),
            _ => None,
        }
    }

    /// The JSON body.
    #[must_use]
    pub fn body(self) -> Value {
        let mut body = Map::new();
        body.insert("error".into(), Value::from(self.code()));
        body.insert("message".into(), Value::from(self.message()));
        if let Self::CodeMismatch {
            attempts_left: Some(left),
        } = self
        {
            body.insert("attempts_left".into(), Value::from(left));
        }
        if let Some(wait) = self.retry_after() {
            body.insert("retry_after".into(), Value::from(seconds(wait)));
        }
        Value::Object(body)
    }
}

/// Seconds, rounded up, at least 1.
fn seconds(wait: Duration) -> u64 {
    let whole = wait.as_secs();
    let up = if wait.subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    };
    up.max(1)
}

fn wait(until: SystemTime, now: SystemTime) -> Duration {
    until.duration_since(now).unwrap_or(Duration::ZERO)
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Problem {}

impl Problem {
    /// The `Retry-After` value in whole seconds (rounded up), where the problem has one: a lock,
    /// a send quota, or an outage (5 s).
    #[must_use]
    pub fn retry_after_secs(self) -> Option<u64> {
        match self {
            Self::Unavailable => Some(5),
            other => other.retry_after().map(seconds),
        }
    }

    /// The problem's status and `Retry-After` with a body of the application's own (an HTML
    /// page that shows [`message`](Self::message) in its layout); `IntoResponse` gives JSON.
    pub fn with_body(self, body: impl IntoResponse) -> Response {
        let mut response = (self.status(), body).into_response();
        if let Some(wait) = self.retry_after_secs()
            && let Ok(value) = HeaderValue::from_str(&wait.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        self.with_body(Json(self.body()))
    }
}

impl From<mfa::Error> for Problem {
    /// Management errors keep their meaning; infrastructure errors become
    /// [`Problem::Unavailable`] (transient) or [`Problem::Internal`] (logged without detail
    /// that could carry a secret: the facade's errors carry none).
    fn from(error: mfa::Error) -> Self {
        match error {
            mfa::Error::NotAuthorised => Self::NotAuthorised,
            mfa::Error::AlreadyEnabled => Self::AlreadyEnabled,
            mfa::Error::MethodNotEnabled => Self::MethodNotEnabled,
            mfa::Error::Input(_) => Self::InvalidInput,
            mfa::Error::PasswordCheck => Self::Unavailable,
            e if e.is_transient() => {
                tracing::warn!(error = %e, "mfa: transient failure");
                Self::Unavailable
            }
            e => {
                tracing::error!(error = %e, "mfa: failure");
                Self::Internal
            }
        }
    }
}

impl From<crate::Error> for Problem {
    fn from(error: crate::Error) -> Self {
        if error.is_transient() {
            tracing::warn!(error = %error, "mfa-axum: transient failure");
            Self::Unavailable
        } else {
            tracing::error!(error = %error, "mfa-axum: failure");
            Self::Internal
        }
    }
}
