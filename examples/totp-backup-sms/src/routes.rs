//! The JSON endpoints. The user always comes from the session (`SignedIn`, `SecondFactor`,
//! `SteppedUp`), never from a request body.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mfa::{
    Authority, Channel, ClientInfo, EnrollmentOutcome, Method, PasswordVerdict, PhoneNumber, Proof,
    RecoveryCodes, SendOutcome, StepUpGrant, TotpOptions, VerifyOptions,
};
use mfa_axum::tower_sessions::SessionStore;
use mfa_axum::{
    AuthSession, AuthState, Client, Problem, SecondFactor, SignInStep, SignedIn, SteppedUp,
};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::app::App;

type Answer = Result<Response, Problem>;

pub(crate) fn router<S: SessionStore + Clone>(app: App, sessions: S) -> Router {
    let edge = app.inner.edge.clone();
    Router::new()
        .route("/session", get(session_state))
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/login/totp", post(login_totp))
        .route("/login/backup-code", post(login_backup_code))
        .route("/login/sms", post(login_sms))
        .route("/login/sms/verify", post(login_sms_verify))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/step-up", post(step_up))
        .route("/step-up/sms", post(step_up_sms))
        .route("/step-up/verify", post(step_up_verify))
        .route("/account/totp", post(enroll_totp))
        .route("/account/totp/confirm", post(confirm_totp))
        .route("/account/sms", post(enroll_sms))
        .route("/account/sms/confirm", post(confirm_sms))
        .route("/account/backup-codes", post(regenerate_backup_codes))
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

/// This API's name of a method: recovery codes are the seed's backup codes.
fn name(method: Method) -> &'static str {
    match method {
        Method::RecoveryCode => "backup_code",
        other => other.as_str(),
    }
}

fn names(methods: &[Method]) -> Vec<&'static str> {
    methods.iter().copied().map(name).collect()
}

fn codes(codes: &RecoveryCodes) -> Vec<String> {
    codes.expose().iter().map(|c| c.to_string()).collect()
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
        Some(AuthState::SignedIn { user, .. }) => ("signed_in", Some(user)),
        _ => ("anonymous", None),
    };
    let body = with_csrf(&session, json!({ "state": state, "user": user })).await?;
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
struct Credentials {
    user: String,
    password: String,
}

/// A user name the service accepts: 1 to 64 of `a-z 0-9 . _ -`.
fn valid_user(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// `POST /register {user, password}`: the account, signed in on its password; the
/// authenticator comes next (`POST /account/totp`).
async fn register(
    State(app): State<App>,
    session: AuthSession,
    Json(body): Json<Credentials>,
) -> Answer {
    let length = body.password.chars().count();
    if !valid_user(&body.user) || !(12..=1024).contains(&length) {
        return Err(Problem::InvalidInput);
    }
    let inner = app.inner.clone();
    let (user, password) = (body.user.clone(), Zeroizing::new(body.password));
    let added = tokio::task::spawn_blocking(move || inner.users.add(&user, &password))
        .await
        .map_err(|_| Problem::Internal)?;
    match added {
        Ok(()) => {}
        Err(crate::Error::UserExists) => {
            let body = json!({ "error": "user_taken", "message": "This user name is taken." });
            return Ok((StatusCode::CONFLICT, Json(body)).into_response());
        }
        Err(_) => return Err(Problem::Internal),
    }
    session.sign_in(&body.user, None).await?;
    let answer = with_csrf(
        &session,
        json!({ "status": "registered", "user": body.user }),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `POST /login {user, password}`: the methods of the second factor (preferred first), or
/// signed in for a user without a factor.
async fn login(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    Json(body): Json<Credentials>,
) -> Answer {
    let inner = app.inner.clone();
    let (user, password) = (body.user.clone(), Zeroizing::new(body.password));
    // Argon2id is slow on purpose: off the async workers, and only when the budgets allow it.
    let check = move || async move {
        let checked = tokio::task::spawn_blocking(move || inner.users.check(&user, &password));
        match checked.await {
            Ok(Ok(true)) => PasswordVerdict::Correct,
            Ok(Ok(false)) => PasswordVerdict::Wrong,
            _ => PasswordVerdict::Unavailable,
        }
    };
    let step = session
        .password_step(&app.inner.mfa, &body.user, None, &client, check)
        .await?;
    let answer = match step {
        SignInStep::SecondFactor { methods } => {
            json!({ "status": "second_factor", "methods": names(&methods) })
        }
        _ => json!({ "status": "signed_in" }),
    };
    Ok(Json(with_csrf(&session, answer).await?).into_response())
}

#[derive(Deserialize)]
struct Code {
    code: String,
}

/// The second factor of the pending sign-in; every failure is the same
/// `401 verification_failed`.
async fn second_factor(
    app: &App,
    session: &AuthSession,
    client: &ClientInfo,
    proof: Proof<'_>,
) -> Answer {
    let verified = session
        .second_factor(&app.inner.mfa, proof, client, VerifyOptions::new())
        .await?;
    let mut answer = json!({
        "status": "signed_in",
        "user": verified.user,
        "method": name(verified.method),
    });
    if let Some(left) = verified.recovery_codes_left {
        answer["backup_codes_left"] = Value::from(left);
    }
    Ok(Json(with_csrf(session, answer).await?).into_response())
}

/// `POST /login/totp {code}`.
async fn login_totp(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    Json(body): Json<Code>,
) -> Answer {
    second_factor(&app, &session, &client, Proof::Totp(body.code.trim())).await
}

/// `POST /login/backup-code {code}`: each backup code works once (any case, with or without
/// dashes or spaces).
async fn login_backup_code(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    Json(body): Json<Code>,
) -> Answer {
    let proof = Proof::RecoveryCode(body.code.trim());
    second_factor(&app, &session, &client, proof).await
}

/// `POST /login/sms`: sends the SMS code of the pending sign-in (valid 5 minutes).
async fn login_sms(State(app): State<App>, session: AuthSession, Client(client): Client) -> Answer {
    let Some(AuthState::SecondFactorPending { ticket, .. }) = session.state().await? else {
        return Err(Problem::SignInRequired);
    };
    let ticket = ticket.challenge_id().map_err(|_| Problem::ExpiredCode)?;
    sent(
        &app.inner
            .mfa
            .send_code(&ticket, Channel::Sms, &client)
            .await?,
    )
}

/// `POST /login/sms/verify {code}`.
async fn login_sms_verify(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    Json(body): Json<Code>,
) -> Answer {
    second_factor(&app, &session, &client, Proof::SmsCode(body.code.trim())).await
}

/// `POST /logout`.
async fn logout(session: AuthSession) -> Answer {
    session.sign_out().await?;
    let body = with_csrf(&session, json!({ "status": "signed_out" })).await?;
    Ok(Json(body).into_response())
}

/// `GET /me`: only a session past the second factor reaches it.
async fn me(State(app): State<App>, SecondFactor { user, .. }: SecondFactor) -> Answer {
    let mfa = &app.inner.mfa;
    let methods = mfa.enabled_methods(&user).await?;
    let left = mfa.recovery_codes_left(&user).await?;
    let body = json!({ "user": user, "methods": names(&methods), "backup_codes_left": left });
    Ok(Json(body).into_response())
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

/// `POST /step-up/verify {method: "totp"|"sms"|"backup_code", code}`: right: the session
/// holds a step-up grant (10 minutes). The user is known here, so failures are detailed
/// (`code_mismatch` with the tries left, `expired_code`).
async fn step_up_verify(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    Json(body): Json<MethodCode>,
) -> Answer {
    let code = body.code.trim();
    let proof = match body.method.as_str() {
        "totp" => Proof::Totp(code),
        "sms" => Proof::SmsCode(code),
        "backup_code" => Proof::RecoveryCode(code),
        _ => return Err(Problem::InvalidInput),
    };
    session
        .finish_step_up(&app.inner.mfa, proof, &client)
        .await?;
    let window = app.inner.mfa.step_up_window().as_secs();
    Ok(Json(json!({ "status": "stepped_up", "valid_for": window })).into_response())
}

/// The signed-in user and what entitles setting up the authenticator: the session's step-up
/// grant, or none ([`Authority::FirstFactor`], which the facade accepts only while the user
/// has no active factor; `403 not_authorised` after).
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

/// `POST /account/totp`: a new authenticator secret for the session's user.
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
        "key_uri": e.key_uri(),
        "secret": e.secret_base32(),
        "qr_svg": e.qr_svg(),
        "qr_png_data_url": e.qr_png_data_url(),
    }))
    .into_response())
}

/// `POST /account/totp/confirm {code}`: the first code activates the authenticator; the 10
/// backup codes of a first factor are in the answer, once (stored only as digests). The
/// session, signed in on the password, counts as past the second factor: it was just proven.
async fn confirm_totp(
    State(app): State<App>,
    session: AuthSession,
    change: FactorChange,
    Client(client): Client,
    Json(body): Json<Code>,
) -> Answer {
    let mfa = &app.inner.mfa;
    let outcome = mfa
        .finish_totp_enrollment(&change.user, change.authority(), body.code.trim(), &client)
        .await?;
    let EnrollmentOutcome::Confirmed { recovery_codes } = outcome else {
        return Err(Problem::from_enrollment(&outcome, mfa.now()).unwrap_or(Problem::Internal));
    };
    let backup = recovery_codes.as_ref().map(codes).unwrap_or_default();
    if recovery_codes.is_some() {
        session.sign_in(&change.user, Some(mfa.now())).await?;
    }
    let answer = json!({ "status": "enabled", "backup_codes": backup });
    Ok(Json(with_csrf(&session, answer).await?).into_response())
}

#[derive(Deserialize)]
struct Phone {
    phone: String,
}

fn phone(text: &str) -> Result<PhoneNumber, Problem> {
    PhoneNumber::parse(text).map_err(|_| Problem::InvalidInput)
}

/// `POST /account/sms {phone}`: adding the SMS fallback changes the factors, so it needs the
/// session's step-up grant; sends a code to confirm the number.
async fn enroll_sms(
    State(app): State<App>,
    SteppedUp { user, grant }: SteppedUp,
    Client(client): Client,
    Json(body): Json<Phone>,
) -> Answer {
    let number = phone(&body.phone)?;
    sent(
        &app.inner
            .mfa
            .start_sms_enrollment(&user, Authority::StepUp(&grant), &number, &client)
            .await?,
    )
}

#[derive(Deserialize)]
struct PhoneCode {
    phone: String,
    code: String,
}

/// `POST /account/sms/confirm {phone, code}`: behind the same step-up grant.
async fn confirm_sms(
    State(app): State<App>,
    SteppedUp { user, grant }: SteppedUp,
    Client(client): Client,
    Json(body): Json<PhoneCode>,
) -> Answer {
    let number = phone(&body.phone)?;
    let mfa = &app.inner.mfa;
    let outcome = mfa
        .finish_sms_enrollment(
            &user,
            Authority::StepUp(&grant),
            &number,
            body.code.trim(),
            &client,
        )
        .await?;
    match outcome {
        EnrollmentOutcome::Confirmed { .. } => {
            Ok(Json(json!({ "status": "enabled" })).into_response())
        }
        other => Err(Problem::from_enrollment(&other, mfa.now()).unwrap_or(Problem::Internal)),
    }
}

/// `POST /account/backup-codes`: ten new backup codes (shown once); the old set stops
/// working. Behind a step-up grant.
async fn regenerate_backup_codes(
    State(app): State<App>,
    SteppedUp { user, grant }: SteppedUp,
) -> Answer {
    let fresh = app
        .inner
        .mfa
        .regenerate_recovery_codes(&user, &grant)
        .await?;
    Ok(Json(json!({ "status": "regenerated", "backup_codes": codes(&fresh) })).into_response())
}
