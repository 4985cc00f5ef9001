//! Step-up: a fresh second factor before every change of factors, recovery codes or the
//! preferred method (mfa-axum's `begin_step_up` / `finish_step_up` and the `SteppedUp` guard),
//! and the page a refused request returns to once it is confirmed.

use axum::Form;
use axum::extract::FromRequestParts;
use axum::http::Method as HttpMethod;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use mfa::StepUpGrant;
use mfa_axum::{AuthSession, Problem, SignedIn, SteppedUp};
use serde::Deserialize;

use crate::app::AppState;
use crate::challenge::{channel, methods_html, proof, sent_message};
use crate::page::{Ctx, Failure, Flash, WebResult};

/// The session key of the page to return to after a step-up.
const NEXT_KEY: &str = "demo.next";

/// The pages a step-up may return to (nothing else is followed, so the value cannot send a
/// browser elsewhere).
fn is_return_page(path: &str) -> bool {
    (path == "/account" || path.starts_with("/account/") || path == "/admin")
        && !path.contains("//")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.?=&%+".contains(&b))
}

/// A session holding a step-up grant the facade accepts now (mfa-axum's [`SteppedUp`]). When it
/// has none, the page asked for (a GET's own URL; the account page after a refused form) is
/// remembered, and the browser is sent to the step-up page, which returns there.
pub(crate) struct StepUp {
    pub(crate) user: String,
    pub(crate) grant: StepUpGrant,
}

impl FromRequestParts<AppState> for StepUp {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        match SteppedUp::from_request_parts(parts, app).await {
            Ok(SteppedUp { user, grant }) => Ok(Self { user, grant }),
            Err(rejection) if rejection.problem() == Problem::StepUpRequired => {
                let next = if parts.method == HttpMethod::GET {
                    parts
                        .uri
                        .path_and_query()
                        .map_or("/account", |p| p.as_str())
                        .to_owned()
                } else {
                    "/account".to_owned()
                };
                if let Ok(session) = AuthSession::from_request_parts(parts, app).await {
                    remember(&session, &next)
                        .await
                        .map_err(IntoResponse::into_response)?;
                }
                Err(rejection.into_response())
            }
            Err(rejection) => Err(rejection.into_response()),
        }
    }
}

async fn remember(session: &AuthSession, next: &str) -> Result<(), Failure> {
    if is_return_page(next) {
        session
            .session()
            .insert(NEXT_KEY, next.to_owned())
            .await
            .map_err(mfa_axum::Error::from)?;
    }
    Ok(())
}

/// Sends the browser to the step-up page, to come back to `next` once confirmed.
pub(crate) async fn ask(ctx: &Ctx, next: &str) -> WebResult {
    remember(&ctx.session, next).await?;
    ctx.redirect("/step-up", None).await
}

async fn step_up_page(ctx: &Ctx, user: &str, problem: Option<Problem>) -> WebResult {
    let methods = ctx.app.mfa.enabled_methods(user).await?;
    if methods.is_empty() {
        let flash = Flash::error("Set up a second factor first: the first one needs no step-up.");
        return ctx.redirect("/account", Some(flash)).await;
    }
    let body = format!(
        "<p>Confirm it is you before changing your security settings: a fresh second factor \
         allows changes for 10 minutes.</p>{}",
        methods_html(ctx, user, &methods, true).await?
    );
    Ok(match problem {
        Some(problem) => ctx.problem_page(problem, "Confirm it is you", &body),
        None => ctx.page("Confirm it is you", &body),
    })
}

pub(crate) async fn page(SignedIn { user, .. }: SignedIn, ctx: Ctx) -> WebResult {
    step_up_page(&ctx, &user, None).await
}

#[derive(Deserialize)]
pub(crate) struct VerifyForm {
    method: String,
    code: String,
}

pub(crate) async fn verify(
    SignedIn { user, .. }: SignedIn,
    ctx: Ctx,
    Form(form): Form<VerifyForm>,
) -> WebResult {
    let code = form.code.trim();
    let assertion: mfa::webauthn::PublicKeyCredential;
    let proof = if form.method == mfa::Method::WebAuthn.as_str() {
        // The key answered the ticket `/step-up/webauthn` opened: checked below like a sent code.
        match crate::webauthn::assertion(code) {
            Ok(parsed) => {
                assertion = parsed;
                mfa::Proof::WebAuthn(&assertion)
            }
            Err(problem) => return step_up_page(&ctx, &user, Some(problem)).await,
        }
    } else {
        match proof(&form.method, code) {
            Ok(proof) => proof,
            Err(problem) => return step_up_page(&ctx, &user, Some(problem)).await,
        }
    };
    let mfa = &ctx.app.mfa;
    if matches!(form.method.as_str(), "totp" | "recovery") {
        // A code the user holds needs no message: a fresh step-up ticket for this answer.
        if let Err(problem) = ctx.session.begin_step_up(mfa, &user, &ctx.client).await {
            return step_up_page(&ctx, &user, Some(problem)).await;
        }
    } else if ctx.session.step_up_ticket().await?.is_none() {
        // A code sent by email or SMS belongs to the ticket it was sent for.
        return step_up_page(&ctx, &user, Some(Problem::ExpiredCode)).await;
    }
    match ctx.session.finish_step_up(mfa, proof, &ctx.client).await {
        Ok(()) => {
            let next = ctx
                .session
                .session()
                .remove::<String>(NEXT_KEY)
                .await
                .map_err(mfa_axum::Error::from)?
                .filter(|next| is_return_page(next))
                .unwrap_or_else(|| "/account".to_owned());
            ctx.redirect(&next, Some(Flash::ok("Confirmed."))).await
        }
        Err(Problem::SignInRequired) => ctx.redirect("/login", None).await,
        Err(problem) => step_up_page(&ctx, &user, Some(problem)).await,
    }
}

#[derive(Deserialize)]
pub(crate) struct SendForm {
    what: String,
}

pub(crate) async fn send(
    SignedIn { user, .. }: SignedIn,
    ctx: Ctx,
    Form(form): Form<SendForm>,
) -> WebResult {
    let channel = match channel(&form.what) {
        Ok(channel) => channel,
        Err(problem) => return step_up_page(&ctx, &user, Some(problem)).await,
    };
    let mfa = &ctx.app.mfa;
    if let Err(problem) = ctx.session.begin_step_up(mfa, &user, &ctx.client).await {
        return step_up_page(&ctx, &user, Some(problem)).await;
    }
    let Some(ticket) = ctx.session.step_up_ticket().await? else {
        return Err(Problem::Internal.into());
    };
    let outcome = mfa.send_code(&ticket, channel, &ctx.client).await?;
    if let Some(problem) = Problem::from_send(&outcome, false) {
        return step_up_page(&ctx, &user, Some(problem)).await;
    }
    ctx.redirect("/step-up", Some(sent_message(&outcome, &form.what)))
        .await
}
