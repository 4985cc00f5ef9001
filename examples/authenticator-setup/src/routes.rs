//! The JSON endpoints.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, State};
use axum::http::header::{CACHE_CONTROL, SET_COOKIE, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use mfa::{
    ChallengeId, Channel, ClientInfo, DeviceToken, LoginStart, Method, Outcome, PasswordVerdict,
    Proof, SendOutcome, StepUpGrant, VerifyOptions,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::cookie::{device_token, set_device_cookie};
use crate::enroll::{confirm_sms, confirm_totp, enroll_sms, enroll_totp};
use crate::error::{Error, Result};

pub(crate) type Shared = State<Arc<App>>;
pub(crate) type Peer = ConnectInfo<SocketAddr>;

/// The API's routes (see the crate documentation for each).
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/enroll/totp", post(enroll_totp))
        .route("/enroll/totp/confirm", post(confirm_totp))
        .route("/enroll/sms", post(enroll_sms))
        .route("/enroll/sms/confirm", post(confirm_sms))
        .route("/login", post(login))
        .route("/step-up", post(step_up))
        .route("/challenge/sms", post(challenge_sms))
        .route("/verify", post(verify))
        .route("/preferred-method", put(preferred_method))
        .with_state(app)
}

pub(crate) fn client(peer: SocketAddr, headers: &HeaderMap) -> ClientInfo {
    let client = ClientInfo::new(peer.ip());
    match headers.get(USER_AGENT).and_then(|v| v.to_str().ok()) {
        Some(agent) => client.with_user_agent(agent),
        None => client,
    }
}

/// The challenge id a request names; a malformed one is answered like an expired challenge.
fn challenge_id(text: &str) -> Result<ChallengeId> {
    text.parse().map_err(|_| Error::ExpiredCode)
}

/// The step-up grant a request carries; a malformed one authorises nothing.
pub(crate) fn step_up_grant(text: &str) -> Result<StepUpGrant> {
    text.parse().map_err(|_| Error::NotAuthorised)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// A JSON answer that no cache may keep (it may hold a secret shown once).
pub(crate) fn no_store(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn parse_method(name: &str) -> Result<Method> {
    match name {
        "totp" => Ok(Method::Totp),
        "sms" => Ok(Method::Sms),
        "recovery_code" => Ok(Method::RecoveryCode),
        _ => Err(Error::BadRequest(
            "method must be totp, sms or recovery_code",
        )),
    }
}

pub(crate) fn sent(outcome: SendOutcome) -> Result<Response> {
    match outcome {
        SendOutcome::Sent { expires_at } => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "status": "sent", "expires_at": unix(expires_at) })),
        )
            .into_response()),
        SendOutcome::Cooldown { retry_after } | SendOutcome::QuotaExceeded { retry_after } => {
            Err(Error::RetryLater { retry_after })
        }
        SendOutcome::MethodUnavailable => Err(Error::MethodNotEnabled),
        _ => Err(Error::ExpiredCode),
    }
}

#[derive(Deserialize)]
pub(crate) struct UserBody {
    pub(crate) user: String,
}

#[derive(Deserialize)]
struct Login {
    user: String,
    password: String,
}

fn challenge(start: LoginStart) -> Result<Value> {
    match start {
        LoginStart::ChallengeRequired {
            challenge_id,
            methods,
            expires_at,
        } => Ok(json!({
            "status": "challenge_required",
            "challenge_id": challenge_id.expose().as_str(),
            "methods": methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
            "expires_at": unix(expires_at),
        })),
        LoginStart::LockedOut { until } => Err(Error::LockedOut { until }),
        LoginStart::PasswordRejected => Err(Error::InvalidCredentials),
        LoginStart::EnrollmentRequired => Ok(json!({ "status": "enrollment_required" })),
        _ => Ok(json!({ "status": "signed_in" })),
    }
}

/// `POST /login {user, password}` (+ the device cookie): signed in on a remembered device
/// (with a rotated cookie), or the second-factor challenge and its methods.
async fn login(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Json(body): Json<Login>,
) -> Result<Response> {
    let client = client(peer, &headers);
    // A cookie that is not a device token is no device.
    let device = device_token(&headers).and_then(|token| token.parse::<DeviceToken>().ok());
    // The (simulated) password check runs only when the attempt's budgets allow it.
    let (checker, password) = (&*app, body.password.as_str());
    let start = app
        .mfa
        .password_step(&body.user, device.as_ref(), &client, move || async move {
            if checker.password_ok(password) {
                PasswordVerdict::Correct
            } else {
                PasswordVerdict::Wrong
            }
        })
        .await?;
    if let LoginStart::TrustedDevice { rotated_token } = start {
        let mut response =
            Json(json!({ "status": "signed_in", "user": body.user, "via": "remembered_device" }))
                .into_response();
        if let Some(value) = set_device_cookie(&rotated_token.expose(), app.cookies) {
            response.headers_mut().insert(SET_COOKIE, value);
        }
        return Ok(response);
    }
    Ok(Json(challenge(start)?).into_response())
}

/// `POST /step-up {user}` (the signed-in user, from the session in a real application): a
/// challenge whose verification with `"step_up": true` returns a step-up grant.
async fn step_up(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Json(body): Json<UserBody>,
) -> Result<Response> {
    let start = app
        .mfa
        .begin_step_up(&body.user, &client(peer, &headers))
        .await?;
    Ok(Json(challenge(start)?).into_response())
}

#[derive(Deserialize)]
struct ChallengeSms {
    challenge_id: String,
}

/// `POST /challenge/sms {challenge_id}`: sends the SMS code for a pending challenge.
async fn challenge_sms(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Json(body): Json<ChallengeSms>,
) -> Result<Response> {
    let id = challenge_id(&body.challenge_id)?;
    let client = client(peer, &headers);
    sent(app.mfa.send_code(&id, Channel::Sms, &client).await?)
}

#[derive(Deserialize)]
struct Verify {
    challenge_id: String,
    method: String,
    code: String,
    #[serde(default)]
    remember_device: bool,
    #[serde(default)]
    step_up: bool,
}

/// `POST /verify {challenge_id, method, code, remember_device?, step_up?}`.
async fn verify(
    State(app): Shared,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Json(body): Json<Verify>,
) -> Result<Response> {
    let client = client(peer, &headers);
    let proof = match parse_method(&body.method)? {
        Method::Totp => Proof::Totp(&body.code),
        Method::Sms => Proof::SmsCode(&body.code),
        _ => Proof::RecoveryCode(&body.code),
    };
    let mut options = VerifyOptions::new();
    if body.remember_device {
        let label = client
            .user_agent
            .clone()
            .unwrap_or_else(|| "Browser".into());
        options = options.trust_device(label);
    }
    if body.step_up {
        options = options.grant_step_up();
    }
    let id = challenge_id(&body.challenge_id)?;
    match app.mfa.verify(&id, proof, &client, options).await? {
        Outcome::Verified {
            user,
            method,
            trusted_device_token,
            recovery_codes_left,
            step_up,
        } => {
            let mut json =
                json!({ "status": "signed_in", "user": user, "method": method.as_str() });
            if let Some(left) = recovery_codes_left {
                json["recovery_codes_left"] = json!(left);
            }
            if let Some(grant) = step_up {
                json["step_up_grant"] = json!(grant.expose().as_str());
            }
            let mut response = no_store(StatusCode::OK, json);
            if let Some(value) = trusted_device_token
                .and_then(|token| set_device_cookie(&token.expose(), app.cookies))
            {
                response.headers_mut().insert(SET_COOKIE, value);
            }
            Ok(response)
        }
        Outcome::Rejected { attempts_left } => Err(Error::CodeMismatch {
            attempts_left: Some(attempts_left),
        }),
        Outcome::ChallengeExhausted => Err(Error::ChallengeExhausted),
        Outcome::LockedOut { until } => Err(Error::LockedOut { until }),
        _ => Err(Error::ExpiredCode),
    }
}

#[derive(Deserialize)]
struct Preferred {
    user: String,
    method: String,
    step_up_grant: String,
}

/// `PUT /preferred-method {user, method, step_up_grant}`: needs a live step-up grant.
async fn preferred_method(State(app): Shared, Json(body): Json<Preferred>) -> Result<Response> {
    let method = parse_method(&body.method)?;
    let grant = step_up_grant(&body.step_up_grant)?;
    app.mfa
        .set_preferred_method(&body.user, method, &grant)
        .await?;
    Ok(Json(json!({ "status": "updated", "preferred_method": method.as_str() })).into_response())
}
