//! Adding an email factor: send a code to the address, confirm it with that code.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use mfa_mail::escape_html;
use serde::Deserialize;

use crate::account::enrolled;
use crate::challenge::send_message;
use crate::web::{Ctx, Shared, WebResult};

pub(crate) async fn email_page(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    let _user = signed_in!(state, ctx);
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
    let outcome = match state.mfa.start_email_enrollment(&user, &form.email).await {
        Ok(o) => o,
        Err(mfa::Error::InvalidArgument(_)) => {
            let msg = "error:That is not a valid email address.".to_owned();
            return Ok(ctx.redirect(&state, "/account/email", Some(msg)).await?);
        }
        Err(mfa::Error::AlreadyEnabled) => {
            let msg = "error:Email codes are already enabled.".to_owned();
            return Ok(ctx.redirect(&state, "/account", Some(msg)).await?);
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
    let outcome = state
        .mfa
        .finish_email_enrollment(&user, &form.email, form.code.trim(), &ctx.client)
        .await?;
    enrolled(state, ctx, outcome, "Email codes enabled.").await
}
