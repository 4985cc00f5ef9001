//! The JSON routes: registration, the sign-in by code, the session.
//!
//! Before the code is right the service does not know who is asking, so every answer of the
//! sign-in routes is the same for an address that has an account and one that has not: the
//! facade gives an unknown address a login of its own whose message it withholds, and the
//! tries and expiry shown come from this session (they equal the facade's).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use mfa::{Authority, EmailAddress, EnrollmentOutcome, LoginStart, Outcome, Proof, VerifyOptions};
use mfa_axum::{AuthSession, AuthState, Client, Problem, SignedIn};
use serde::Deserialize;
use serde_json::json;

use crate::link::escape;
use crate::web::{
    AppState, JsonBody, LoginProgress, PendingRegistration, accepted, unix, with_csrf,
};

/// `{"email": "..."}`.
#[derive(Debug, Deserialize)]
pub(crate) struct EmailBody {
    email: String,
}

/// `{"code": "123456"}`.
#[derive(Debug, Deserialize)]
pub(crate) struct CodeBody {
    code: String,
}

/// The address typed, or 400.
fn address(text: &str) -> Result<EmailAddress, Problem> {
    EmailAddress::parse(text.trim()).map_err(|_| Problem::InvalidInput)
}

/// A failure to send a message is logged and answered like a sent one: a failure for a known
/// address only must not tell that it is known. Other errors (the store) are answered.
fn unless_delivery(result: Result<mfa::SendOutcome, mfa::Error>) -> Result<(), Problem> {
    match result {
        Ok(_) => Ok(()),
        Err(mfa::Error::Delivery(e)) => {
            tracing::warn!(error = %e, "a message could not be delivered");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /`: a line saying who is signed in (for a person trying the service in a browser).
pub(crate) async fn index(session: AuthSession) -> Result<Html<String>, Problem> {
    let line = match session.state().await? {
        Some(AuthState::SignedIn { user, .. }) => format!("Signed in as {}.", escape(&user)),
        _ => "Not signed in. See the README for the API.".to_owned(),
    };
    Ok(Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Acme</title>\
         </head><body><p>{line}</p></body></html>"
    )))
}

/// `GET /auth/csrf`: `200 {"csrf_token"}`, the token every `POST` carries in `X-CSRF-Token`
/// (starts a session if there is none).
pub(crate) async fn csrf(session: AuthSession) -> Result<Json<serde_json::Value>, Problem> {
    let token = session.csrf_token().await?;
    Ok(Json(json!({ "csrf_token": token.expose().as_str() })))
}

/// `POST /auth/register {email}`: mails a code that proves the address. `202` for every
/// valid address, registered or not (a registered one gets nothing); `400` for an invalid one;
/// `429` within 30 seconds of this session's last message.
pub(crate) async fn register(
    State(app): State<AppState>,
    session: AuthSession,
    Client(client): Client,
    JsonBody(body): JsonBody<EmailBody>,
) -> Result<Response, Problem> {
    let address = address(&body.email)?;
    app.cooldown(&session).await?;
    let user = address.normalized();
    let started = app
        .mfa()
        .start_email_enrollment(&user, Authority::FirstFactor, &address, &client)
        .await;
    match started {
        // An address that is registered already: nothing to send, and nothing to say.
        Err(mfa::Error::NotAuthorised | mfa::Error::AlreadyEnabled) => {}
        other => unless_delivery(other)?,
    }
    PendingRegistration { email: user }.save(&session).await?;
    app.sent(&session).await?;
    accepted(&app, &session).await
}

/// `POST /auth/register/confirm {code}`: `201 {"email"}` when the code proves the address
/// (sign in next); `401` for a wrong code or an address registered already; `410` without a
/// registration in this session.
pub(crate) async fn confirm_registration(
    State(app): State<AppState>,
    session: AuthSession,
    Client(client): Client,
    JsonBody(body): JsonBody<CodeBody>,
) -> Result<Response, Problem> {
    let Some(pending) = PendingRegistration::load(&session).await? else {
        return Err(Problem::ExpiredCode);
    };
    let address = address(&pending.email)?;
    let done = app
        .mfa()
        .finish_email_enrollment(
            &pending.email,
            Authority::FirstFactor,
            &address,
            body.code.trim(),
            &client,
        )
        .await;
    match done {
        Ok(EnrollmentOutcome::Confirmed { .. }) => {
            PendingRegistration::forget(&session).await?;
            let body = json!({ "email": pending.email });
            Ok((StatusCode::CREATED, Json(body)).into_response())
        }
        Ok(_) | Err(mfa::Error::NotAuthorised | mfa::Error::AlreadyEnabled) => {
            Err(Problem::VerificationFailed)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /auth/email {email}`: starts a sign-in and mails a magic link with a 6-digit code
/// beside it. `202` for every valid address, whether it has an account or not; `400` for an
/// invalid one; `429` within 30 seconds of this session's last message.
///
/// The session moves to "second factor pending" (a new session id and CSRF token) and keeps
/// the login's ticket; the link is bound to this session.
pub(crate) async fn begin(
    State(app): State<AppState>,
    session: AuthSession,
    Client(client): Client,
    JsonBody(body): JsonBody<EmailBody>,
) -> Result<Response, Problem> {
    let address = address(&body.email)?;
    app.cooldown(&session).await?;
    let now = app.mfa().now();
    // Every address gets a ticket, known or not (the facade withholds an unknown address's
    // message). A locked address, or a network over its login budget, gets none: it is
    // answered alike, with a handle no ticket has, so this session's tries and expiry run as
    // for any other login and the lock does not show.
    let challenge_id = match app.mfa().begin_email_login(&address, &client).await? {
        LoginStart::ChallengeRequired { challenge_id, .. } => challenge_id,
        LoginStart::LockedOut { .. } => unmatched_handle()?,
        _ => return Err(Problem::Internal),
    };
    session
        .second_factor_pending(&address.normalized(), &challenge_id)
        .await?;
    let binding = session.link_binding().await?;
    unless_delivery(
        app.mfa()
            .send_magic_link(
                &challenge_id,
                app.link_base(),
                Some(binding.expose()),
                &client,
            )
            .await,
    )?;
    // A send the quotas refused is answered like a sent one, so its expiry is the same too.
    LoginProgress {
        wrong: 0,
        code_expires: unix(now).saturating_add(app.code_lifetime().as_secs()),
    }
    .save(&session)
    .await?;
    app.sent(&session).await?;
    accepted(&app, &session).await
}

/// A login handle that names no ticket: every call with it answers as for an expired login.
fn unmatched_handle() -> Result<mfa::ChallengeId, Problem> {
    let token = mfa::core::Token::generate().map_err(|_| Problem::Internal)?;
    token
        .expose()
        .parse()
        .map_err(|_: mfa::core::Error| Problem::Internal)
}

/// The pending login of this session and its progress, or `410` (none, expired, or no tries
/// left: start again).
async fn pending(
    app: &AppState,
    session: &AuthSession,
) -> Result<(String, mfa::ChallengeId, LoginProgress), Problem> {
    let Some(AuthState::SecondFactorPending { user, ticket }) = session.state().await? else {
        return Err(Problem::ExpiredCode);
    };
    let progress = LoginProgress::load(session).await?.unwrap_or_default();
    let now = unix(app.mfa().now());
    if progress.wrong >= app.tries() || now >= progress.code_expires {
        return Err(Problem::ExpiredCode);
    }
    let ticket = ticket.challenge_id().map_err(|_| Problem::ExpiredCode)?;
    Ok((user, ticket, progress))
}

/// `POST /auth/resend`: a new link and code for the pending login; the earlier ones stop
/// working, the tries left stay. `202`; `410` without a live login in this session; `429`
/// within 30 seconds of the last message.
pub(crate) async fn resend(
    State(app): State<AppState>,
    session: AuthSession,
    Client(client): Client,
) -> Result<Response, Problem> {
    let (_, ticket, mut progress) = pending(&app, &session).await?;
    app.cooldown(&session).await?;
    let now = app.mfa().now();
    let binding = session.link_binding().await?;
    unless_delivery(
        app.mfa()
            .send_magic_link(&ticket, app.link_base(), Some(binding.expose()), &client)
            .await,
    )?;
    progress.code_expires = unix(now).saturating_add(app.code_lifetime().as_secs());
    progress.save(&session).await?;
    app.sent(&session).await?;
    accepted(&app, &session).await
}

/// `POST /auth/verify {code}`: `200 {"email"}` and the session signed in (a new id and CSRF
/// token) for the right code; `401 {"error": "code_mismatch", "attempts_left": n}` for a wrong
/// one (n = 2, 1, 0); `410` once the code expired or no tries are left, or without a login.
///
/// The tries counted here are this session's: the facade counts the same for every address
/// and locks it against unrecognised networks on the third wrong code; the lock is not shown.
pub(crate) async fn verify(
    State(app): State<AppState>,
    session: AuthSession,
    Client(client): Client,
    JsonBody(body): JsonBody<CodeBody>,
) -> Result<Response, Problem> {
    let (user, ticket, mut progress) = pending(&app, &session).await?;
    let outcome = app
        .mfa()
        .verify(
            &ticket,
            Proof::EmailCode(body.code.trim()),
            &client,
            VerifyOptions::new(),
        )
        .await?;
    match outcome {
        Outcome::Verified { user: verified, .. } if verified == user => {
            session.sign_in(&user, Some(app.mfa().now())).await?;
            LoginProgress::forget(&session).await?;
            let body = Json(json!({ "email": user }));
            with_csrf(&session, body.into_response()).await
        }
        Outcome::Verified { .. } => {
            tracing::error!("a session's login ticket verified for another user");
            Err(Problem::Internal)
        }
        _ => {
            progress.wrong = progress.wrong.saturating_add(1);
            progress.save(&session).await?;
            Err(Problem::CodeMismatch {
                attempts_left: Some(app.tries().saturating_sub(progress.wrong)),
            })
        }
    }
}

/// `GET /me`: `200 {"email"}` for a signed-in session, `401` otherwise.
pub(crate) async fn me(signed_in: SignedIn) -> Json<serde_json::Value> {
    Json(json!({ "email": signed_in.user }))
}

/// `POST /auth/logout`: `204`; the session is anonymous again (a new id and CSRF token).
pub(crate) async fn logout(session: AuthSession) -> Result<Response, Problem> {
    session.sign_out().await?;
    LoginProgress::forget(&session).await?;
    with_csrf(&session, StatusCode::NO_CONTENT.into_response()).await
}
