//! The admin page (unlock an account), for the administrators the configuration names and only
//! past their second factor; and the development inbox, served only in development mode and
//! only to this machine.

use axum::Form;
use axum::extract::{FromRequestParts as _, Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use mfa_axum::{ClientIp, SecondFactor};
use mfa_mail::escape_html;
use serde::Deserialize;

use crate::app::AppState;
use crate::db;
use crate::page::{Ctx, Flash, WebResult, not_found};
use crate::time::format_utc;

/// The refusal page (403) for a user who is not an administrator, `None` for an administrator.
fn refusal(ctx: &Ctx, user: &str) -> Option<axum::response::Response> {
    if ctx.app.is_admin(user) {
        return None;
    }
    Some(ctx.error_page(
        StatusCode::FORBIDDEN,
        "Administration",
        "Only administrators may open this page (those MFA_DEMO_ADMINS names).",
        "",
    ))
}

pub(crate) async fn page(SecondFactor { user, .. }: SecondFactor, ctx: Ctx) -> WebResult {
    if let Some(refused) = refusal(&ctx, &user) {
        return Ok(refused);
    }
    let users: String = db::usernames(&ctx.app.db)
        .await?
        .iter()
        .map(|u| format!("<option value=\"{0}\">{0}</option>", escape_html(u)))
        .collect();
    let body = format!(
        "<p>Signed in as administrator {}. Unlocking lifts the account's second-factor and \
         password locks and failure counts; it is written to the user's security log.</p>\
         <form method=\"post\" action=\"/admin/unlock\">{}\
         <label>User <select name=\"username\" id=\"unlock-user\">{users}</select></label>\
         <button id=\"unlock\">Unlock account</button></form>",
        escape_html(&user),
        ctx.csrf_field()
    );
    Ok(ctx.page("Administration", &body))
}

#[derive(Deserialize)]
pub(crate) struct UnlockForm {
    username: String,
}

pub(crate) async fn unlock(
    SecondFactor { user, .. }: SecondFactor,
    ctx: Ctx,
    Form(form): Form<UnlockForm>,
) -> WebResult {
    if let Some(refused) = refusal(&ctx, &user) {
        return Ok(refused);
    }
    let target = form.username.trim().to_ascii_lowercase();
    ctx.app.mfa.admin_unlock(&target, &user).await?;
    let flash = Flash::ok(format!("Unlocked {target}."));
    ctx.redirect("/admin", Some(flash)).await
}

/// Every message the development outboxes caught, codes and links included: served only in
/// development mode and only to a client on this machine (the address mfa-axum trusts, so a
/// tunnel or proxy in front does not make it public). Anything else gets 404.
pub(crate) async fn inbox(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    request: Request,
) -> WebResult {
    // Checked before the session is touched: a refused client gets exactly the 404 of a path
    // that does not exist, without a session cookie.
    if !app.development || !ip.is_loopback() {
        return Ok(not_found().await);
    }
    let (mut parts, _) = request.into_parts();
    let ctx = Ctx::from_request_parts(&mut parts, &app).await?;
    let warning = "<p class=\"warn\"><strong>Development only.</strong> This page shows every \
        message the development outboxes caught, codes and links included. It exists only in \
        development mode, for clients on this machine.</p>";
    let mut body = warning.to_owned();
    let mail = app.inbox.as_ref().map(|d| d.messages()).unwrap_or_default();
    let sms = app
        .sms_inbox
        .as_ref()
        .map(|d| d.messages())
        .unwrap_or_default();
    if app.inbox.is_none() {
        body.push_str("<p>Mail goes through SMTP: no email is caught here.</p>");
    }
    if mail.is_empty() && sms.is_empty() {
        body.push_str("<p id=\"inbox-empty\">No messages yet.</p>");
    }
    for (at, message) in sms {
        body.push_str(&format!(
            "<section class=\"sms\"><p><strong>Text message to:</strong> {}<br>\
             <strong>Sent:</strong> {}</p><pre class=\"sms-text\">{}</pre></section>",
            escape_html(&message.to().to_string()),
            format_utc(at),
            escape_html(message.body()),
        ));
    }
    for (at, message) in mail {
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
    Ok(ctx.page("Development inbox", &body).into_response())
}
