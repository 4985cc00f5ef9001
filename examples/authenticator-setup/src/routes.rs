//! The JSON endpoints. The user always comes from the session (`SignedIn`, `SecondFactor`,
//! `SteppedUp`), never from a request body.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use mfa::{
    Authority, Channel, EnrollmentOutcome, Method, PasswordVerdict, PhoneNumber, Proof,
    SendOutcome, StepUpGrant, TotpOptions, VerifyOptions,
};
use mfa_axum::tower_sessions::SessionStore;
use mfa_axum::{
    AuthSession, AuthState, Client, CookieJar, Problem, SecondFactor, SignInStep, SignedIn,
    SteppedUp, TrustedDevice,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::App;

type Answer = Result<Response, Problem>;

pub(crate) fn router<S: SessionStore + Clone>(app: App, sessions: S) -> Router {
    let edge = app.inner.edge.clone();
    Router::new()
        .route("/session", get(session_state))
        .route("/login", post(login))
        .route("/login/sms", post(login_sms))
        .route("/login/verify", post(login_verify))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/enroll/totp", post(enroll_totp))
        .route("/enroll/totp/confirm", post(confirm_totp))
        .route("/enroll/sms", post(enroll_sms))
        .route("/enroll/sms/confirm", post(confirm_sms))
        .route("/step-up", post(step_up))
        .route("/step-up/sms", post(step_up_sms))
        .route("/step-up/verify", post(step_up_verify))
        .route("/preferred-method", put(preferred_method))
        .route("/devices", get(devices))
        .route("/devices/{id}", delete(revoke_device))
        .layer(edge.csrf_layer())
        .layer(edge.session_layer(sessions))
        .layer(edge.layer())
        .with_state(app)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `body` with the session's current CSRF token, which a script sends back in `X-CSRF-Token`
/// (it changes with every change of the sign-in state).
async fn with_csrf(session: &AuthSession, mut body: Value) -> Result<Value, Problem> {
    let token = session.csrf_token().await?;
    body["csrf_token"] = Value::from(token.expose().as_str());
    Ok(body)
}

/// A method name of a request: `totp`, `sms` or `recovery_code`.
fn proof<'a>(method: &str, code: &'a str) -> Result<Proof<'a>, Problem> {
    let code = code.trim();
    match method {
        "totp" => Ok(Proof::Totp(code)),
        "sms" => Ok(Proof::SmsCode(code)),
        "recovery_code" => Ok(Proof::RecoveryCode(code)),
        _ => Err(Problem::InvalidInput),
    }
}

fn names(methods: &[Method]) -> Vec<&'static str> {
    methods.iter().map(|m| m.as_str()).collect()
}

fn sent(outcome: &SendOutcome) -> Answer {
    if let Some(problem) = Problem::from_send(outcome, false) {
        return Err(problem);
    }
    let mut body = json!({ "status": "sent" });
    if let SendOutcome::Sent { expires_at } = outcome {
        body["expires_at"] = Value::from(unix(*expires_at));
    }
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// `GET /session`: the sign-in state and the CSRF token (this starts a session).
async fn session_state(session: AuthSession) -> Answer {
    let (state, user) = match session.state().await? {
        Some(AuthState::SecondFactorPending { user, .. }) => ("second_factor", Some(user)),
        Some(AuthState::EnrolmentRequired { user }) => ("enrolment_required", Some(user)),
        Some(AuthState::SignedIn { user, .. }) => ("signed_in", Some(user)),
        _ => ("anonymous", None),
    };
    let body = with_csrf(&session, json!({ "state": state, "user": user })).await?;
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
struct Login {
    user: String,
    password: String,
}

/// `POST /login {user, password}` (+ the remembered-device cookie): signed in on a remembered
/// device (its cookie rotated) or for a user without a factor; else the second factor's
/// methods, preferred first.
async fn login(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    TrustedDevice(device): TrustedDevice,
    jar: CookieJar,
    Json(body): Json<Login>,
) -> Answer {
    // The (simulated) check runs only when the attempt's budgets allow it.
    let checker = app.clone();
    let check = move || async move {
        if checker.password_ok(&body.password) {
            PasswordVerdict::Correct
        } else {
            PasswordVerdict::Wrong
        }
    };
    let step = session
        .password_step(&app.inner.mfa, &body.user, device.as_ref(), &client, check)
        .await?;
    let (jar, answer) = match step {
        SignInStep::SecondFactor { methods } => (
            jar,
            json!({ "status": "second_factor", "methods": names(&methods) }),
        ),
        SignInStep::SignedIn { rotated_device } => {
            let remembered = rotated_device.is_some();
            let jar = match rotated_device {
                Some(token) => app.inner.edge.cookies().remember_device(jar, &token),
                None => jar,
            };
            let answer = json!({ "status": "signed_in", "remembered_device": remembered });
            (jar, answer)
        }
        _ => (jar, json!({ "status": "enrolment_required" })),
    };
    Ok((jar, Json(with_csrf(&session, answer).await?)).into_response())
}

/// The login ticket of the session's pending sign-in.
async fn pending_ticket(session: &AuthSession) -> Result<mfa::ChallengeId, Problem> {
    match session.state().await? {
        Some(AuthState::SecondFactorPending { ticket, .. }) => {
            ticket.challenge_id().map_err(|_| Problem::ExpiredCode)
        }
        _ => Err(Problem::SignInRequired),
    }
}

/// `POST /login/sms`: sends the SMS code of the pending sign-in (60 s apart, 5 minutes valid).
async fn login_sms(State(app): State<App>, session: AuthSession, Client(client): Client) -> Answer {
    let ticket = pending_ticket(&session).await?;
    sent(
        &app.inner
            .mfa
            .send_code(&ticket, Channel::Sms, &client)
            .await?,
    )
}

#[derive(Deserialize)]
struct Verify {
    method: String,
    code: String,
    #[serde(default)]
    remember_device: bool,
}

/// `POST /login/verify {method, code, remember_device?}`: the second factor of the pending
/// sign-in; right: the session is signed in (and the device remembered if asked). Every
/// failure is the same `401 verification_failed`.
async fn login_verify(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    jar: CookieJar,
    Json(body): Json<Verify>,
) -> Answer {
    let proof = proof(&body.method, &body.code)?;
    let mut options = VerifyOptions::new();
    if body.remember_device {
        let label = client
            .user_agent
            .clone()
            .unwrap_or_else(|| "Browser".into());
        options = options.trust_device(label);
    }
    let verified = session
        .second_factor(&app.inner.mfa, proof, &client, options)
        .await?;
    let jar = match &verified.trusted_device_token {
        Some(token) => app.inner.edge.cookies().remember_device(jar, token),
        None => jar,
    };
    let mut answer = json!({
        "status": "signed_in",
        "user": verified.user,
        "method": verified.method.as_str(),
    });
    if let Some(left) = verified.recovery_codes_left {
        answer["recovery_codes_left"] = Value::from(left);
    }
    Ok((jar, Json(with_csrf(&session, answer).await?)).into_response())
}

/// `POST /logout`.
async fn logout(session: AuthSession) -> Answer {
    session.sign_out().await?;
    let body = with_csrf(&session, json!({ "status": "signed_out" })).await?;
    Ok(Json(body).into_response())
}

/// `GET /me`: only a session past the second factor reaches it.
async fn me(State(app): State<App>, SecondFactor { user, .. }: SecondFactor) -> Answer {
    let methods = app.inner.mfa.enabled_methods(&user).await?;
    Ok(Json(json!({ "user": user, "methods": names(&methods) })).into_response())
}

/// The signed-in user of the session, and what entitles a change of their factors: the
/// session's step-up grant ([`Authority::StepUp`]), or none ([`Authority::FirstFactor`],
/// which the facade accepts only while the user has no active factor). The facade checks the
/// grant; a stale one, or none once a factor is active, is `403 not_authorised`.
struct FactorChange {
    user: String,
    grant: Option<StepUpGrant>,
}

impl FactorChange {
    fn authority(&self) -> Authority<'_> {
        self.grant
            .as_ref()
            .map_or(Authority::FirstFactor, Authority::StepUp)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for FactorChange {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let SignedIn { user, .. } = SignedIn::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let session = AuthSession::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let grant = session
            .step_up()
            .await
            .map_err(|e| Problem::from(e).into_response())?;
        Ok(Self { user, grant })
    }
}

/// `POST /enroll/totp`: a new authenticator secret for the session's user: the Key URI, the
/// secret for typing in, the QR code as SVG and as a PNG data URL.
async fn enroll_totp(
    State(app): State<App>,
    change: FactorChange,
    Client(client): Client,
) -> Answer {
    let e = app
        .inner
        .mfa
        .start_totp_enrollment(
            &change.user,
            change.authority(),
            "Authenticator",
            TotpOptions::new(),
            &client,
        )
        .await?;
    Ok(Json(json!({
        "factor_id": e.factor_id(),
        "key_uri": e.key_uri(),
        "secret": e.secret_base32(),
        "qr_svg": e.qr_svg(),
        "qr_png_data_url": e.qr_png_data_url(),
    }))
    .into_response())
}

#[derive(Deserialize)]
struct Code {
    code: String,
}

/// A confirmed enrolment: the recovery codes (shown once) of a first factor; the session of a
/// user who signed in without a factor and just proved one counts as past the second factor.
async fn enabled(
    app: &App,
    session: &AuthSession,
    user: &str,
    outcome: EnrollmentOutcome,
) -> Answer {
    let EnrollmentOutcome::Confirmed { recovery_codes } = outcome else {
        return Err(
            Problem::from_enrollment(&outcome, app.inner.mfa.now()).unwrap_or(Problem::Internal)
        );
    };
    let codes: Vec<String> = match &recovery_codes {
        Some(codes) => codes.expose().iter().map(|c| c.to_string()).collect(),
        None => Vec::new(),
    };
    if recovery_codes.is_some() {
        session.sign_in(user, Some(app.inner.mfa.now())).await?;
    }
    let body = with_csrf(
        session,
        json!({ "status": "enabled", "recovery_codes": codes }),
    )
    .await?;
    Ok(Json(body).into_response())
}

/// `POST /enroll/totp/confirm {code}`: the first code activates the authenticator.
async fn confirm_totp(
    State(app): State<App>,
    session: AuthSession,
    change: FactorChange,
    Client(client): Client,
    Json(body): Json<Code>,
) -> Answer {
    let outcome = app
        .inner
        .mfa
        .finish_totp_enrollment(&change.user, change.authority(), body.code.trim(), &client)
        .await?;
    enabled(&app, &session, &change.user, outcome).await
}

#[derive(Deserialize)]
struct Phone {
    phone: String,
}

fn phone(text: &str) -> Result<PhoneNumber, Problem> {
    PhoneNumber::parse(text).map_err(|_| Problem::InvalidInput)
}

/// `POST /enroll/sms {phone}`: sends a code to confirm the number.
async fn enroll_sms(
    State(app): State<App>,
    change: FactorChange,
    Client(client): Client,
    Json(body): Json<Phone>,
) -> Answer {
    let number = phone(&body.phone)?;
    sent(
        &app.inner
            .mfa
            .start_sms_enrollment(&change.user, change.authority(), &number, &client)
            .await?,
    )
}

#[derive(Deserialize)]
struct PhoneCode {
    phone: String,
    code: String,
}

/// `POST /enroll/sms/confirm {phone, code}`.
async fn confirm_sms(
    State(app): State<App>,
    session: AuthSession,
    change: FactorChange,
    Client(client): Client,
    Json(body): Json<PhoneCode>,
) -> Answer {
    let number = phone(&body.phone)?;
    let outcome = app
        .inner
        .mfa
        .finish_sms_enrollment(
            &change.user,
            change.authority(),
            &number,
            body.code.trim(),
            &client,
        )
        .await?;
    enabled(&app, &session, &change.user, outcome).await
}

/// `POST /step-up`: a fresh verification of the signed-in user; answers the methods.
async fn step_up(
    State(app): State<App>,
    SignedIn { user, .. }: SignedIn,
    session: AuthSession,
    Client(client): Client,
) -> Answer {
    let methods = session
        .begin_step_up(&app.inner.mfa, &user, &client)
        .await?;
    Ok(Json(json!({ "status": "step_up", "methods": names(&methods) })).into_response())
}

/// `POST /step-up/sms`: sends the SMS code of the pending step-up.
async fn step_up_sms(
    State(app): State<App>,
    _signed_in: SignedIn,
    session: AuthSession,
    Client(client): Client,
) -> Answer {
    let ticket = session
        .step_up_ticket()
        .await?
        .ok_or(Problem::ExpiredCode)?;
    sent(
        &app.inner
            .mfa
            .send_code(&ticket, Channel::Sms, &client)
            .await?,
    )
}

#[derive(Deserialize)]
struct MethodCode {
    method: String,
    code: String,
}

/// `POST /step-up/verify {method, code}`: right: the session holds a step-up grant (10
/// minutes) for the management routes. The user is known here, so failures are detailed
/// (`code_mismatch` with the tries left, `expired_code`).
async fn step_up_verify(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    Json(body): Json<MethodCode>,
) -> Answer {
    let proof = proof(&body.method, &body.code)?;
    session
        .finish_step_up(&app.inner.mfa, proof, &client)
        .await?;
    let window = app.inner.mfa.step_up_window().as_secs();
    Ok(Json(json!({ "status": "stepped_up", "valid_for": window })).into_response())
}

#[derive(Deserialize)]
struct Preferred {
    method: String,
}

/// `PUT /preferred-method {method}`: behind a live step-up grant.
async fn preferred_method(
    State(app): State<App>,
    SteppedUp { user, grant }: SteppedUp,
    Json(body): Json<Preferred>,
) -> Answer {
    let method = match body.method.as_str() {
        "totp" => Method::Totp,
        "sms" => Method::Sms,
        _ => return Err(Problem::InvalidInput),
    };
    app.inner
        .mfa
        .set_preferred_method(&user, method, &grant)
        .await?;
    Ok(Json(json!({ "status": "updated", "preferred_method": method.as_str() })).into_response())
}

/// `GET /devices`: the remembered devices of the signed-in user.
async fn devices(State(app): State<App>, SecondFactor { user, .. }: SecondFactor) -> Answer {
    let devices: Vec<Value> = app
        .inner
        .mfa
        .trusted_devices(&user)
        .await?
        .into_iter()
        .map(|d| {
            json!({
                "id": d.id,
                "label": d.label,
                "created_at": unix(d.created_at),
                "last_seen": unix(d.last_seen),
                "expires_at": unix(d.expires_at),
            })
        })
        .collect();
    Ok(Json(json!({ "devices": devices })).into_response())
}

/// `DELETE /devices/{id}`: forgets a remembered device (behind a live step-up grant).
async fn revoke_device(
    State(app): State<App>,
    SteppedUp { user, .. }: SteppedUp,
    Path(id): Path<String>,
) -> Answer {
    if app.inner.mfa.revoke_trusted_device(&user, &id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        let body = json!({ "error": "not_found", "message": "There is no such device." });
        Ok((StatusCode::NOT_FOUND, Json(body)).into_response())
    }
}
