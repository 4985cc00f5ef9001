//! The admin page (unlock an account) and the development inbox.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use mfa_mail::escape_html;
use serde::Deserialize;

use crate::db;
use crate::time::format_utc;
use crate::web::{Ctx, Shared, WebResult};

pub(crate) async fn page(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    let Some(admin) = ctx
        .user()
        .filter(|u| state.is_admin(u))
        .map(ToOwned::to_owned)
    else {
        return Ok(ctx.page_status(
            &state,
            StatusCode::FORBIDDEN,
            "Administration",
            "<p class=\"error\">Only administrators (those named in <code>MFA_DEMO_ADMINS</code>, \
             or when it is unset the user <code>admin</code>) may open this page.</p>",
        ));
    };
    let users: String = db::usernames(&state.db)
        .await?
        .iter()
        .map(|u| format!("<option value=\"{0}\">{0}</option>", escape_html(u)))
        .collect();
    let body = format!(
        "<p>Signed in as administrator {}. Unlocking lifts the account's second-factor and \
         password locks and failure counts; it is written to the user's security log.</p>\
         <form method=\"post\" action=\"/admin\">{}\
         <label>User <select name=\"username\" id=\"unlock-user\">{users}</select></label>\
         <button id=\"unlock\">Unlock account</button></form>",
        escape_html(&admin),
        ctx.csrf_field(&state)
    );
    Ok(ctx.page(&state, "Administration", &body))
}

#[derive(Deserialize)]
pub(crate) struct UnlockForm {
    csrf: String,
    username: String,
}

pub(crate) async fn unlock(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<UnlockForm>,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    if !ctx.csrf_ok(&state, &form.csrf) {
        return Ok(ctx.csrf_refused(&state));
    }
    let Some(admin) = ctx
        .user()
        .filter(|u| state.is_admin(u))
        .map(ToOwned::to_owned)
    else {
        return Ok(ctx.csrf_refused(&state));
    };
    state.mfa.admin_unlock(&form.username, &admin).await?;
    let msg = format!("Unlocked {}.", form.username);
    Ok(ctx.redirect(&state, "/admin", Some(msg)).await?)
}

pub(crate) async fn inbox(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    let warning = "<p class=\"warn\"><strong>Development only.</strong> This page shows every \
        message the development outbox caught, codes and links included, to anyone. It exists \
        only while no SMTP server is configured (<code>MFA_DEMO_SMTP_HOST</code>).</p>";
    let Some(dev) = &state.inbox else {
        let body = format!("{warning}<p>Mail goes through SMTP: nothing is caught here.</p>");
        return Ok(ctx.page(&state, "Development inbox", &body));
    };
    let mut body = warning.to_owned();
    let messages = dev.messages();
    if messages.is_empty() {
        body.push_str("<p id=\"inbox-empty\">No messages yet.</p>");
    }
    for (at, message) in messages {
        let links: String = message
            .text()
            .split_whitespace()
            .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
            .map(|l| {
                format!(
                    "<li><a class=\"mail-link\" href=\"{0}\">{0}</a></li>",
                    escape_html(l)
                )
            })
            .collect();
        body.push_str(&format!(
            "<section class=\"mail\"><p><strong>To:</strong> {}<br><strong>Subject:</strong> \
             {}<br><strong>Sent:</strong> {}</p><pre class=\"mail-text\">{}</pre>{}</section>",
            escape_html(&message.to().address.to_string()),
            escape_html(message.subject()),
            format_utc(at),
            escape_html(message.text()),
            if links.is_empty() {
                String::new()
            } else {
                format!("<ul>{links}</ul>")
            }
        ));
    }
    Ok(ctx.page(&state, "Development inbox", &body))
}
