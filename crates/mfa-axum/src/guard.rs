//! Guards: extractors that let a handler run only for a signed-in session ([`SignedIn`]), one
//! that passed the second factor ([`SecondFactor`]), or one holding a live step-up grant
//! ([`SteppedUp`]); and [`Client`], the request's [`mfa::ClientInfo`].
//!
//! A refused request gets a [`GuardRejection`]: a browser (a request that accepts HTML) is sent
//! to the configured page with `303 See Other`, anything else gets the JSON
//! [`Problem`](crate::Problem) (401 or 403).

use std::time::SystemTime;

use axum::extract::{FromRef, FromRequestParts};
use axum::response::{IntoResponse, Redirect, Response};
use http::header;
use http::request::Parts;
use mfa::{ClientInfo, Mfa, StepUpGrant};

use crate::client_ip::{ClientIp, ClientIpRejection};
use crate::config::EdgeConfig;
use crate::csrf::session_of;
use crate::problem::Problem;
use crate::session::{AuthSession, AuthState};

/// Longest `User-Agent` kept in the audit trail.
const MAX_USER_AGENT: usize = 256;

/// Why a guard refused: the problem, and where a browser is sent.
#[derive(Debug)]
pub struct GuardRejection {
    problem: Problem,
    page: Option<String>,
}

impl GuardRejection {
    fn new(problem: Problem, parts: &Parts) -> Self {
        let wants_html = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
        let page = parts
            .extensions
            .get::<EdgeConfig>()
            .filter(|_| wants_html)
            .and_then(|config| {
                let pages = &config.0.pages;
                match problem {
                    Problem::SignInRequired => Some(pages.sign_in.clone()),
                    Problem::SecondFactorRequired => Some(pages.second_factor.clone()),
                    Problem::StepUpRequired => Some(pages.step_up.clone()),
                    Problem::EnrollmentRequired => Some(pages.enrolment.clone()),
                    _ => None,
                }
            });
        Self { problem, page }
    }

    /// The problem (for an application that answers refusals itself).
    #[must_use]
    pub fn problem(&self) -> Problem {
        self.problem
    }
}

impl IntoResponse for GuardRejection {
    fn into_response(self) -> Response {
        match self.page {
            Some(page) => Redirect::to(&page).into_response(),
            None => self.problem.into_response(),
        }
    }
}

/// The session key of the page a guard refused, to return to after the step it asked for.
pub(crate) const RETURN_TO_KEY: &str = "mfa.return_to";

/// Whether `path` is a path on this site that is safe to redirect to: `/...`, not `//...` or
/// `/\...` (which browsers read as another host), no control characters, at most 2 KiB.
pub(crate) fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= 2048
        && !path.bytes().any(|b| b.is_ascii_control() || b == b'\\')
}

/// A refusal; for a browser's GET, the page asked for is kept in the session so that the step
/// the refusal leads to can come back to it ([`AuthSession::take_return_to`]).
async fn refuse(problem: Problem, parts: &Parts) -> GuardRejection {
    let rejection = GuardRejection::new(problem, parts);
    if rejection.page.is_some()
        && parts.method == http::Method::GET
        && let Some(path) = parts
            .uri
            .path_and_query()
            .map(http::uri::PathAndQuery::as_str)
        && is_local_path(path)
        && let Ok(session) = session_of(parts)
        && let Err(e) = session
            .insert_value(RETURN_TO_KEY, serde_json::Value::from(path))
            .await
    {
        tracing::warn!(error = %e, "could not keep the page to return to");
    }
    rejection
}

async fn auth_state(parts: &Parts) -> Result<Option<AuthState>, GuardRejection> {
    let session = session_of(parts).map_err(|_| {
        tracing::error!("a guard needs EdgeConfig::session_layer on the router");
        GuardRejection::new(Problem::Internal, parts)
    })?;
    AuthSession::new(session)
        .state()
        .await
        .map_err(|e| GuardRejection::new(Problem::from(e), parts))
}

/// A signed-in session, with or without a second factor (a user the policy lets in on the
/// password alone). Most routes want [`SecondFactor`] instead.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The user.
    pub user: String,
    /// When the second factor was passed, if it was.
    pub second_factor_at: Option<SystemTime>,
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = GuardRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match auth_state(parts).await? {
            Some(AuthState::SignedIn {
                user,
                second_factor_at,
            }) => Ok(Self {
                user,
                second_factor_at,
            }),
            Some(AuthState::SecondFactorPending { .. }) => {
                Err(GuardRejection::new(Problem::SecondFactorRequired, parts))
            }
            Some(AuthState::EnrolmentRequired { .. }) => {
                Err(GuardRejection::new(Problem::EnrollmentRequired, parts))
            }
            None => Err(GuardRejection::new(Problem::SignInRequired, parts)),
        }
    }
}

/// A session signed in with the second factor passed: the guard for every route of a signed-in
/// user when second factors are mandatory, and for routes that must not be reached on the
/// password alone.
#[derive(Debug, Clone)]
pub struct SecondFactor {
    /// The user.
    pub user: String,
    /// When the second factor was passed.
    pub at: SystemTime,
}

impl<S: Send + Sync> FromRequestParts<S> for SecondFactor {
    type Rejection = GuardRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        match signed_in.second_factor_at {
            Some(at) => Ok(Self {
                user: signed_in.user,
                at,
            }),
            None => Err(refuse(Problem::EnrollmentRequired, parts).await),
        }
    }
}

/// A signed-in session holding a step-up grant the facade accepts now
/// ([`Mfa::step_up_valid`]): the guard for account management (changing factors, recovery
/// codes, trusted devices). The grant is checked with the store at every use, so it ends with
/// its window, or earlier when a factor is removed, the password changes or an administrator
/// resets the account (adding a factor keeps it, so one step-up covers a set-up). Needs
/// `Mfa: FromRef<S>` (the facade in the router's state).
#[derive(Debug)]
pub struct SteppedUp {
    /// The user.
    pub user: String,
    /// The grant, for the facade's management calls.
    pub grant: StepUpGrant,
}

impl<S> FromRequestParts<S> for SteppedUp
where
    S: Send + Sync,
    Mfa: FromRef<S>,
{
    type Rejection = GuardRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        let session = session_of(parts)
            .map(AuthSession::new)
            .map_err(|_| GuardRejection::new(Problem::Internal, parts))?;
        let grant = session
            .step_up()
            .await
            .map_err(|e| GuardRejection::new(Problem::from(e), parts))?;
        let Some(grant) = grant else {
            return Err(refuse(Problem::StepUpRequired, parts).await);
        };
        let mfa = Mfa::from_ref(state);
        match mfa.step_up_valid(&signed_in.user, &grant).await {
            Ok(true) => Ok(Self {
                user: signed_in.user,
                grant,
            }),
            Ok(false) => Err(refuse(Problem::StepUpRequired, parts).await),
            Err(e) => Err(GuardRejection::new(Problem::from(e), parts)),
        }
    }
}

/// A session whose password step ended in "enrol first"
/// ([`AuthState::EnrolmentRequired`], under [`Enrolment::Required`](mfa::Enrolment)): the
/// guard of the enrolment pages that such a user may reach before any other page. Enrol with
/// [`Authority::FirstFactor`](mfa::Authority::FirstFactor), then sign in again (or move the
/// session on with [`AuthSession::sign_in`]).
#[derive(Debug, Clone)]
pub struct Enrolling {
    /// The user who must enrol.
    pub user: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Enrolling {
    type Rejection = GuardRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match auth_state(parts).await? {
            Some(AuthState::EnrolmentRequired { user }) => Ok(Self { user }),
            _ => Err(refuse(Problem::SignInRequired, parts).await),
        }
    }
}

/// A signed-in session that may change its user's factors now: either the user has no active
/// factor yet (the first enrolment needs nothing more than the session), or the session holds a
/// step-up grant the facade accepts. Otherwise the request is refused as
/// [`Problem::StepUpRequired`] (a browser is sent to the step-up page). Pass
/// [`authority`](Self::authority) to the enrolment calls. Needs `Mfa: FromRef<S>`.
#[derive(Debug)]
pub struct FactorChange {
    /// The user.
    pub user: String,
    /// The step-up grant, when the user already has a factor.
    pub grant: Option<StepUpGrant>,
}

impl FactorChange {
    /// The authority for the facade's enrolment calls.
    #[must_use]
    pub fn authority(&self) -> mfa::Authority<'_> {
        match &self.grant {
            Some(grant) => mfa::Authority::StepUp(grant),
            None => mfa::Authority::FirstFactor,
        }
    }
}

impl<S> FromRequestParts<S> for FactorChange
where
    S: Send + Sync,
    Mfa: FromRef<S>,
{
    type Rejection = GuardRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        let mfa = Mfa::from_ref(state);
        let methods = mfa
            .enabled_methods(&signed_in.user)
            .await
            .map_err(|e| GuardRejection::new(Problem::from(e), parts))?;
        if methods.is_empty() {
            return Ok(Self {
                user: signed_in.user,
                grant: None,
            });
        }
        let stepped = SteppedUp::from_request_parts(parts, state).await?;
        Ok(Self {
            user: stepped.user,
            grant: Some(stepped.grant),
        })
    }
}

/// Lets a handler run only in development (an [`EdgeConfig`] on
/// [`Transport::PlainHttpForDevelopment`](crate::Transport::PlainHttpForDevelopment)) for a
/// client on a loopback address; everything else gets a plain 404, as for a page that does not
/// exist. For development tools such as an inbox of the codes sent.
#[derive(Debug, Clone, Copy)]
pub struct DevelopmentOnly;

impl<S: Send + Sync> FromRequestParts<S> for DevelopmentOnly {
    type Rejection = http::StatusCode;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let development = parts
            .extensions
            .get::<EdgeConfig>()
            .is_some_and(|c| !c.transport().is_tls());
        let loopback = ClientIp::from_request_parts(parts, state)
            .await
            .is_ok_and(|ClientIp(ip)| ip.is_loopback());
        if development && loopback {
            Ok(Self)
        } else {
            Err(http::StatusCode::NOT_FOUND)
        }
    }
}

/// The request's client as the facade sees it: the address [`ClientIp`] reads (trusted proxies
/// included) and the `User-Agent` (at most 256 bytes, for the audit trail). Pass `&client.0` to
/// every facade call.
#[derive(Debug, Clone)]
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = ClientIpRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        let mut info = ClientInfo::new(ip);
        if let Some(agent) = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
        {
            let mut end = agent.len().min(MAX_USER_AGENT);
            while !agent.is_char_boundary(end) {
                end = end.saturating_sub(1);
            }
            info = info.with_user_agent(agent.get(..end).unwrap_or_default());
        }
        Ok(Self(info))
    }
}
