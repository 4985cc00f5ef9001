//! Security keys and passkeys: registering one (`/account/webauthn`), signing in with one
//! (`/challenge/webauthn`). The server puts webauthn-rs's options in the page as JSON,
//! `/webauthn.js` asks the browser's authenticator and posts the answer back in an ordinary
//! form, so the CSRF token and the session work as for every other form.

use axum::Form;
use axum::http::header;
use axum::response::{IntoResponse as _, Response};
use mfa::webauthn::{PublicKeyCredential, RegisterPublicKeyCredential};
use mfa::{ChallengeId, Method, WebAuthnChallenge};
use mfa_axum::{AuthState, Problem, SignedIn};
use mfa_mail::escape_html;
use serde::Deserialize;

use crate::account::{Entitlement, enrolled, entitlement};
use crate::page::{Ctx, Flash, WebResult};
use crate::stepup::ask;

const SCRIPT: &str = include_str!("webauthn.js");

/// `GET /webauthn.js`.
pub(crate) async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// The element `/webauthn.js` reads (`create` or `get` options) and the form it posts.
fn ceremony_html(ctx: &Ctx, kind: &str, options: &str, action: &str, extra: &str) -> String {
    format!(
        "<p id=\"webauthn-status\">Touch your security key…</p>\
         <div id=\"webauthn-{kind}\" data-options=\"{options}\"></div>\
         <form id=\"webauthn-form\" method=\"post\" action=\"{action}\">{csrf}{extra}\
         <input type=\"hidden\" name=\"code\" value=\"\"></form>\
         <script src=\"/webauthn.js\"></script>",
        options = escape_html(options),
        csrf = ctx.csrf_field(),
    )
}

/// `GET /account/webauthn`: the label, then the browser's prompt.
pub(crate) async fn page(SignedIn { user, .. }: SignedIn, ctx: Ctx) -> WebResult {
    if let Entitlement::StepUpFirst = entitlement(&ctx, &user).await? {
        return ask(&ctx, "/account/webauthn").await;
    }
    let body = format!(
        "<p>A security key (YubiKey, Titan, ...) or a passkey signs in with a touch, and only on \
         this site: a look-alike page cannot use it.</p>\
         <form method=\"post\" action=\"/account/webauthn/start\">{}\
         <label>Name <input type=\"text\" name=\"label\" id=\"webauthn-label\" \
         value=\"Security key\" maxlength=\"64\" required></label>\
         <button id=\"webauthn-begin\">Register the key</button></form>",
        ctx.csrf_field()
    );
    Ok(ctx.page("Register a security key", &body))
}

#[derive(Deserialize)]
pub(crate) struct LabelForm {
    label: String,
}

/// `POST /account/webauthn/start`: the options, and the page that hands them to the browser.
pub(crate) async fn start(
    SignedIn { user, .. }: SignedIn,
    ctx: Ctx,
    Form(form): Form<LabelForm>,
) -> WebResult {
    let entitlement = entitlement(&ctx, &user).await?;
    let Some(authority) = entitlement.authority() else {
        return ask(&ctx, "/account/webauthn").await;
    };
    let registration = ctx
        .app
        .mfa
        .start_webauthn_registration(&user, authority, &user, &ctx.client)
        .await?;
    let options = serde_json::to_string(registration.options()).map_err(|_| Problem::Internal)?;
    let label = format!(
        "<input type=\"hidden\" name=\"label\" value=\"{}\">",
        escape_html(&form.label)
    );
    let body = ceremony_html(&ctx, "create", &options, "/account/webauthn/finish", &label);
    Ok(ctx.page("Register a security key", &body))
}

#[derive(Deserialize)]
pub(crate) struct FinishForm {
    label: String,
    code: String,
}

/// `POST /account/webauthn/finish`: the browser's answer.
pub(crate) async fn finish(
    SignedIn { user, .. }: SignedIn,
    ctx: Ctx,
    Form(form): Form<FinishForm>,
) -> WebResult {
    let entitlement = entitlement(&ctx, &user).await?;
    let Some(authority) = entitlement.authority() else {
        return ask(&ctx, "/account/webauthn").await;
    };
    let Ok(response) = serde_json::from_str::<RegisterPublicKeyCredential>(&form.code) else {
        let flash = Flash::error("The security key's answer was unreadable. Try again.");
        return ctx.redirect("/account/webauthn", Some(flash)).await;
    };
    let outcome = ctx
        .app
        .mfa
        .finish_webauthn_registration(&user, authority, &form.label, &response, &ctx.client)
        .await?;
    enrolled(&ctx, outcome, "Security key registered.", || {
        "<p><a id=\"webauthn-again\" href=\"/account/webauthn\">Try again</a></p>".to_owned()
    })
    .await
}

/// The section of the second-factor page that offers the key.
pub(crate) fn section(ctx: &Ctx, action: &str) -> String {
    format!(
        "<section><h2>Security key</h2><form method=\"post\" action=\"{action}\">{}\
         <button id=\"webauthn-use\">Use my security key</button></form></section>",
        ctx.csrf_field()
    )
}

/// The page that hands ticket `ticket`'s request options to the browser and posts the
/// assertion to `verify` (or back to `retry` with a message when the ticket is gone).
async fn assertion_page(ctx: &Ctx, ticket: &ChallengeId, verify: &str, retry: &str) -> WebResult {
    let options = match ctx.app.mfa.webauthn_challenge(ticket, &ctx.client).await? {
        WebAuthnChallenge::Options(options) => {
            serde_json::to_string(&options).map_err(|_| Problem::Internal)?
        }
        _ => {
            let flash = Flash::error(Problem::ExpiredCode.message());
            return ctx.redirect(retry, Some(flash)).await;
        }
    };
    let method = format!(
        "<input type=\"hidden\" name=\"method\" value=\"{}\">",
        Method::WebAuthn.as_str()
    );
    let body = ceremony_html(ctx, "get", &options, verify, &method);
    Ok(ctx.page("Touch your security key", &body))
}

/// `POST /challenge/webauthn`: the request options of this sign-in's ticket.
pub(crate) async fn challenge(ctx: Ctx) -> WebResult {
    let Some(AuthState::SecondFactorPending { ticket, .. }) = &ctx.state else {
        return ctx
            .redirect("/login", Some(Flash::error("Log in first.")))
            .await;
    };
    let Ok(ticket) = ticket.challenge_id() else {
        return ctx.redirect("/challenge", None).await;
    };
    assertion_page(&ctx, &ticket, "/challenge/verify", "/challenge").await
}

/// `POST /step-up/webauthn`: a fresh step-up ticket, answered with the key.
pub(crate) async fn step_up(SignedIn { user, .. }: SignedIn, ctx: Ctx) -> WebResult {
    let mfa = &ctx.app.mfa;
    if let Err(problem) = ctx.session.begin_step_up(mfa, &user, &ctx.client).await {
        return Err(problem.into());
    }
    let Some(ticket) = ctx.session.step_up_ticket().await? else {
        return Err(Problem::Internal.into());
    };
    assertion_page(&ctx, &ticket, "/step-up/verify", "/step-up").await
}

/// The assertion a form carries (`method=webauthn`, the browser's JSON in `code`).
pub(crate) fn assertion(code: &str) -> Result<PublicKeyCredential, Problem> {
    serde_json::from_str(code).map_err(|_| Problem::InvalidInput)
}
