//! Trusted devices (list, revoke) and the security log: pages of a user past the second factor.

use axum::Form;
use mfa_axum::SecondFactor;
use mfa_mail::escape_html;
use serde::Deserialize;

use crate::page::{Ctx, Flash, WebResult};
use crate::time::format_utc;

pub(crate) async fn devices(SecondFactor { user, .. }: SecondFactor, ctx: Ctx) -> WebResult {
    let devices = ctx.app.mfa.trusted_devices(&user).await?;
    let mut rows = String::new();
    for d in &devices {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>\
             <form class=\"inline\" method=\"post\" action=\"/account/devices/revoke\">{}\
             <input type=\"hidden\" name=\"id\" value=\"{}\"><button class=\"revoke\">Revoke</button>\
             </form></td></tr>",
            escape_html(&d.label),
            format_utc(d.created_at),
            format_utc(d.last_seen),
            format_utc(d.expires_at),
            ctx.csrf_field(),
            escape_html(&d.id),
        ));
    }
    let body = if devices.is_empty() {
        "<p id=\"no-devices\">No trusted devices. Tick “Trust this device” when you sign in \
         with a code to skip the code for 30 days.</p>"
            .to_owned()
    } else {
        format!(
            "<table id=\"devices\"><tr><th>Device</th><th>Trusted since</th><th>Last seen</th>\
             <th>Expires</th><th></th></tr>{rows}</table>"
        )
    };
    Ok(ctx.page("Trusted devices", &body))
}

#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    id: String,
}

pub(crate) async fn revoke_device(
    SecondFactor { user, .. }: SecondFactor,
    ctx: Ctx,
    Form(form): Form<RevokeForm>,
) -> WebResult {
    let flash = if ctx.app.mfa.revoke_trusted_device(&user, &form.id).await? {
        Flash::ok("Device revoked: it will be asked for a code next time.")
    } else {
        Flash::error("That device was already gone.")
    };
    ctx.redirect("/account/devices", Some(flash)).await
}

pub(crate) async fn security_log(SecondFactor { user, .. }: SecondFactor, ctx: Ctx) -> WebResult {
    let events = ctx
        .app
        .store
        .audit_events(&user, 100)
        .await
        .map_err(mfa::Error::from)?;
    let rows: String = events
        .iter()
        .map(|e| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                format_utc(e.at),
                escape_html(e.kind.as_str()),
                escape_html(e.outcome.as_str()),
                escape_html(&e.client.ip.map(|ip| ip.to_string()).unwrap_or_default()),
                escape_html(e.client.user_agent.as_deref().unwrap_or("")),
            )
        })
        .collect();
    let body = format!(
        "<p>The latest events of your second factors (newest first).</p>\
         <table id=\"security-log\"><tr><th>When</th><th>What</th><th>Outcome</th><th>IP</th>\
         <th>Browser</th></tr>{rows}</table>"
    );
    Ok(ctx.page("Security log", &body))
}
