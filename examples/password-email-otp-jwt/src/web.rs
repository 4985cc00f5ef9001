//! The JSON API: registration, the two login steps, and the route the session token opens.
//!
//! No cookies: the pending login is an opaque handle the client sends back with the code, and
//! the session is a bearer token in the `Authorization` header. Nothing is sent by a browser on
//! its own, so there is nothing to forge across sites and no CSRF token to carry.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{FromRequest, Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mfa::{
    Authority, ChallengeId, Channel, EmailAddress, LoginStart, Outcome, Proof, SendOutcome,
    VerifyOptions,
};
use mfa_axum::{Client, EdgeConfig, Problem};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::net::TcpListener;

use crate::app::AppState;
use crate::error::Error;
use crate::session::SESSION_LIFETIME;

/// The longest user name accepted.
const MAX_USER: usize = 64;
/// The longest password accepted (Argon2id hashes anything, but a megabyte costs).
const MAX_PASSWORD: usize = 1024;

/// The service's routes behind `edge` (see the README for each).
pub fn router(state: AppState, edge: &EdgeConfig) -> Router {
    Router::new()
        .route("/register", post(register))
        .route("/register/confirm", post(confirm_registration))
        .route("/login", post(login))
        .route("/login/code", post(login_code))
        .route("/login/resend", post(resend))
        .route("/me", get(me))
        .layer(edge.layer())
        .with_state(state)
}

/// Serves the routes on `listener` until the task is dropped, with expired codes, challenges
/// and counters purged every `purge_every` ([`Mfa::purge_task`](mfa::Mfa::purge_task)).
///
/// # Errors
/// [`Error::Io`] when serving fails.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    edge: &EdgeConfig,
    purge_every: Duration,
) -> Result<(), Error> {
    let purge = tokio::spawn(state.mfa().purge_task(purge_every));
    let app = router(state, edge);
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await;
    purge.abort();
    Ok(served?)
}

/// A JSON body; anything else is [`Problem::InvalidInput`], as JSON like every failure.
struct JsonBody<T>(T);

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

/// `{"username", "password"}`, and `email` to register.
#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
    #[serde(default)]
    email: Option<String>,
}

impl Credentials {
    /// The user name, or 400 for one that is empty, too long or holds control characters;
    /// 400 too for a password beyond [`MAX_PASSWORD`] bytes.
    fn checked(&self) -> Result<&str, Problem> {
        let user = self.username.trim();
        let plain =
            !user.is_empty() && user.len() <= MAX_USER && !user.chars().any(char::is_control);
        if !plain || self.password.len() > MAX_PASSWORD {
            return Err(Problem::InvalidInput);
        }
        Ok(user)
    }
}

/// `{"username", "code"}`.
#[derive(Deserialize)]
struct RegistrationCode {
    username: String,
    code: String,
}

/// `{"login", "code"}`; `code` is absent for a resend.
#[derive(Deserialize)]
struct LoginCode {
    login: String,
    #[serde(default)]
    code: String,
}

/// The pending login a request names; a malformed handle is answered like an expired login.
fn login_handle(text: &str) -> Result<ChallengeId, Problem> {
    text.parse().map_err(|_| Problem::ExpiredCode)
}

/// `POST /register {username, email, password}`: stores the Argon2id hash and mails a code to
/// the address. `202`; `400 invalid_input`; `409 username_taken`.
async fn register(
    State(app): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Response, Problem> {
    let user = body.checked()?;
    let email = body.email.as_deref().unwrap_or_default();
    let address = EmailAddress::parse(email.trim()).map_err(|_| Problem::InvalidInput)?;
    if body.password.is_empty() {
        return Err(Problem::InvalidInput);
    }
    match app.add_user(user, &address, &body.password).await {
        Ok(()) => {}
        Err(Error::UserExists) => {
            let body = json!({ "error": "username_taken", "message": "This user name is taken." });
            return Ok((StatusCode::CONFLICT, Json(body)).into_response());
        }
        Err(e) => {
            tracing::error!(error = %e, "registration failed");
            return Err(Problem::Unavailable);
        }
    }
    let sent = app
        .mfa()
        .start_email_enrollment(user, Authority::FirstFactor, &address, &client)
        .await;
    let expires_at = match sent {
        Ok(SendOutcome::Sent { expires_at }) => expires_at,
        other => {
            // No code went out: the name is free again, to register once more.
            app.remove_user(user);
            return Err(match other {
                Ok(refused) => Problem::from_send(&refused, false).unwrap_or(Problem::Internal),
                Err(e) => e.into(),
            });
        }
    };
    // Whole seconds, rounded up (the code was sent a moment ago).
    let left = expires_at
        .duration_since(app.mfa().now())
        .unwrap_or_default();
    let expires_in = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    let body = json!({ "message": "A code was sent to the address.", "expires_in": expires_in });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// `POST /register/confirm {username, code}`: `201 {"username"}` when the code proves the
/// address; `401 code_mismatch` (with `attempts_left`), `410 expired_code`, `409` when there is
/// nothing to confirm, `429 locked_out`.
async fn confirm_registration(
    State(app): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<RegistrationCode>,
) -> Result<Response, Problem> {
    let user = body.username.trim();
    let Some(address) = app.email_of(user) else {
        return Err(Problem::NoPendingEnrollment);
    };
    let done = app
        .mfa()
        .finish_email_enrollment(
            user,
            Authority::FirstFactor,
            &address,
            body.code.trim(),
            &client,
        )
        .await?;
    if let Some(problem) = Problem::from_enrollment(&done, app.mfa().now()) {
        return Err(problem);
    }
    let body = json!({ "username": user });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /login {username, password}`: `202 {"step": "code", "login", "expires_in": 600}` and a
/// code mailed for the right password; `401 wrong_password` (unknown users alike); `429
/// locked_out` with `Retry-After` (3 failures lock the account for 10 s against unrecognised
/// networks; 10 failures from one network in 15 min refuse that network); `429
/// too_many_messages` with the `login` handle within 30 s of the last code (resend after the
/// wait); `503` when the password cannot be checked.
async fn login(
    State(app): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Response, Problem> {
    let user = body.checked()?;
    let password = body.password.as_str();
    let checker = app.clone();
    let start = app
        .mfa()
        .password_step(user, None, &client, || async move {
            checker.check_password(user, password).await
        })
        .await?;
    let LoginStart::ChallengeRequired { challenge_id, .. } = start else {
        // No confirmed address yet (`NotRequired`): never a session on the password alone.
        return Err(
            Problem::from_login_start(&start, app.mfa().now()).unwrap_or(Problem::WrongPassword)
        );
    };
    let sent = app
        .mfa()
        .send_code(&challenge_id, Channel::Email, &client)
        .await?;
    if let Err(problem) = sent_or_problem(&sent) {
        // The login is open (it replaced an earlier one from this network) but its code has to
        // wait: give its handle with the wait, for a resend then.
        let mut body = problem.body();
        body["step"] = json!("code");
        body["login"] = json!(challenge_id.expose().as_str());
        let mut response = (problem.status(), Json(body)).into_response();
        if let Some(wait) = problem.retry_after()
            && let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        return Ok(response);
    }
    let body = json!({
        "step": "code",
        "login": challenge_id.expose().as_str(),
        "expires_in": app.code_lifetime().as_secs(),
    });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

fn sent_or_problem(sent: &SendOutcome) -> Result<(), Problem> {
    match Problem::from_send(sent, false) {
        Some(problem) => Err(problem),
        None if matches!(sent, SendOutcome::Sent { .. }) => Ok(()),
        None => Err(Problem::ExpiredCode),
    }
}

/// `POST /login/resend {login}`: a new code for the pending login; the earlier one stops
/// working, the tries left stay. `202 {"expires_in"}`; `410 expired_code`; `429
/// too_many_messages`.
async fn resend(
    State(app): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<LoginCode>,
) -> Result<Response, Problem> {
    let login = login_handle(&body.login)?;
    let sent = app.mfa().send_code(&login, Channel::Email, &client).await?;
    sent_or_problem(&sent)?;
    let body = json!({ "expires_in": app.code_lifetime().as_secs() });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// `POST /login/code {login, code}`: `200 {"token", "token_type": "Bearer", "expires_in":
/// 300}` for the right code; `401 code_mismatch` with `attempts_left`; `410 expired_code`
/// (expired, used, no tries left); `429 locked_out`.
async fn login_code(
    State(app): State<AppState>,
    Client(client): Client,
    JsonBody(body): JsonBody<LoginCode>,
) -> Result<Response, Problem> {
    let login = login_handle(&body.login)?;
    let outcome = app
        .mfa()
        .verify(
            &login,
            Proof::EmailCode(body.code.trim()),
            &client,
            VerifyOptions::new(),
        )
        .await?;
    let Outcome::Verified { user, .. } = outcome else {
        return Err(Problem::from_outcome(&outcome, app.mfa().now()).unwrap_or(Problem::Internal));
    };
    let token = app.issue(&user).map_err(|e| {
        tracing::error!(error = %e, "session token not signed");
        Problem::Internal
    })?;
    let body = json!({
        "token": token.expose(),
        "token_type": "Bearer",
        "expires_in": SESSION_LIFETIME.as_secs(),
    });
    Ok(Json(body).into_response())
}

/// `GET /me` with `Authorization: Bearer <token>`: `200 {"username", "amr", "expires_at"}`;
/// `401` with `WWW-Authenticate: Bearer` for a missing, forged or expired token.
async fn me(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let claims = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .and_then(|token| app.validate_session(token.trim()));
    let Some(claims) = claims else {
        let mut response = Problem::SignInRequired.into_response();
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    };
    Json(json!({
        "username": claims.sub,
        "amr": claims.amr,
        "expires_at": claims.exp,
    }))
    .into_response()
}
