//! Adding an email factor: send a code to the address, confirm it with that code.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use mfa::{Authority, EmailAddress};
use mfa_mail::escape_html;
use serde::Deserialize;

use crate::account::enrolled;
use crate::app::AppState;
use crate::challenge::send_message;
use crate::manage::{live_grant, step_up_for};
use crate::web::{Ctx, Shared, WebResult};

/// Whether `user` has an active second factor: adding one more is then a change of factors,
/// which needs a step-up grant.
async fn has_factor(state: &AppState, user: &str) -> crate::Result<bool> {
    Ok(!state.mfa.enabled_methods(user).await?.is_empty())
}

pub(crate) async fn email_page(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    let user = signed_in!(state, ctx);
    // Confirm it is you first when this adds a factor to an active one.
    if has_factor(&state, &user).await? && live_grant(&state, &ctx, &user).await?.is_none() {
        return step_up_for(&state, ctx, &user, "enrol:email".to_owned()).await;
    }
    let body = format!(
        "<form method=\"post\" action=\"/account/email\">{}\
         <label>Email address <input type=\"email\" name=\"email\" id=\"email\" required></label>\
         <button id=\"email-send\">Send a code</button></form>",
        ctx.csrf_field(&state)
    );
    Ok(ctx.page(&state, "Add an email address", &body))
}

#[derive(Deserialize)]
pub(crate) struct EmailForm {
    csrf: String,
    email: String,
    #[serde(default)]
    code: String,
}

pub(crate) async fn email_start(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<EmailForm>,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    if !ctx.csrf_ok(&state, &form.csrf) {
        return Ok(ctx.csrf_refused(&state));
    }
    let user = signed_in!(state, ctx);
    let Ok(address) = EmailAddress::parse(form.email.trim()) else {
        let msg = "error:That is not a valid email address.".to_owned();
        return Ok(ctx.redirect(&state, "/account/email", Some(msg)).await?);
    };
    let grant = live_grant(&state, &ctx, &user).await?;
    let authority = grant
        .as_ref()
        .map_or(Authority::FirstFactor, Authority::StepUp);
    let outcome = match state
        .mfa
        .start_email_enrollment(&user, authority, &address, &ctx.client)
        .await
    {
        Ok(o) => o,
        Err(mfa::Error::AlreadyEnabled) => {
            let msg = "error:Email codes are already enabled.".to_owned();
            return Ok(ctx.redirect(&state, "/account", Some(msg)).await?);
        }
        Err(mfa::Error::NotAuthorised) => {
            return step_up_for(&state, ctx, &user, "enrol:email".to_owned()).await;
        }
        Err(e) => return Err(e.into()),
    };
    let note = send_message(&outcome, false);
    let to = format!(
        "/account/email/confirm?email={}",
        percent_encoding::utf8_percent_encode(
            form.email.trim(),
            percent_encoding::NON_ALPHANUMERIC
        )
    );
    Ok(ctx.redirect(&state, &to, Some(note)).await?)
}

#[derive(Deserialize)]
pub(crate) struct EmailQuery {
    #[serde(default)]
    email: String,
}

pub(crate) async fn email_confirm_page(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<EmailQuery>,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    let _user = signed_in!(state, ctx);
    let body = format!(
        "<p>We sent a code to {email}. The <a href=\"/dev/inbox\">development inbox</a> \
         shows it when no SMTP server is configured.</p>\
         <form method=\"post\" action=\"/account/email/confirm\">{csrf}\
         <input type=\"hidden\" name=\"email\" value=\"{email}\">\
         <label>Code from the email <input type=\"text\" name=\"code\" id=\"email-code\" required \
         autocomplete=\"one-time-code\"></label><button id=\"email-activate\">Confirm</button></form>",
        csrf = ctx.csrf_field(&state),
        email = escape_html(query.email.trim()),
    );
    Ok(ctx.page(&state, "Confirm your email address", &body))
}

pub(crate) async fn email_confirm(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<EmailForm>,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    if !ctx.csrf_ok(&state, &form.csrf) {
        return Ok(ctx.csrf_refused(&state));
    }
    let user = signed_in!(state, ctx);
    let Ok(address) = EmailAddress::parse(form.email.trim()) else {
        let msg = "error:That is not a valid email address.".to_owned();
        return Ok(ctx.redirect(&state, "/account/email", Some(msg)).await?);
    };
    let grant = live_grant(&state, &ctx, &user).await?;
    let authority = grant
        .as_ref()
        .map_or(Authority::FirstFactor, Authority::StepUp);
    let outcome = match state
        .mfa
        .finish_email_enrollment(&user, authority, &address, form.code.trim(), &ctx.client)
        .await
    {
        Ok(outcome) => outcome,
        // The grant ended meanwhile: confirm it is you, then send a new code.
        Err(mfa::Error::NotAuthorised) => {
            return step_up_for(&state, ctx, &user, "enrol:email".to_owned()).await;
        }
        Err(e) => return Err(e.into()),
    };
    enrolled(state, ctx, outcome, "Email codes enabled.").await
}
