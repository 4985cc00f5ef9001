//! Account management: the step-up that changes of factors and the preferred method need, trusted
//! devices and the security log.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use mfa::{LoginStart, Method, StepUpGrant};
use mfa_mail::escape_html;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::join_methods;
use crate::time::format_utc;
use crate::web::{CHALLENGE, Ctx, GRANT, Shared, WebResult};

/// This browser's step-up grant (its cookie), if it still authorises `user`'s management calls.
pub(crate) async fn live_grant(
    state: &AppState,
    ctx: &Ctx,
    user: &str,
) -> crate::Result<Option<StepUpGrant>> {
    let Some(grant) = ctx
        .cookie(GRANT)
        .and_then(|g| g.parse::<StepUpGrant>().ok())
    else {
        return Ok(None);
    };
    Ok(state
        .mfa
        .step_up_valid(user, &grant)
        .await?
        .then_some(grant))
}

/// Asks `user` for a fresh second factor before `action` (run by
/// [`apply_action`] once the step-up verifies).
pub(crate) async fn step_up_for(
    state: &AppState,
    mut ctx: Ctx,
    user: &str,
    action: String,
) -> WebResult {
    match state.mfa.begin_step_up(user, &ctx.client).await? {
        LoginStart::ChallengeRequired {
            challenge_id,
            methods,
            ..
        } => {
            ctx.session.pending_action = Some(action);
            ctx.session.methods = join_methods(&methods);
            ctx.save(state).await?;
            ctx.set_cookie(state, CHALLENGE, &challenge_id.expose(), None);
            Ok(ctx.redirect(state, "/challenge", None).await?)
        }
        LoginStart::LockedOut { until } => {
            let msg = format!("error:Locked until {}.", format_utc(until));
            Ok(ctx.redirect(state, "/account", Some(msg)).await?)
        }
        _ => {
            let msg = "error:Set up a second factor first.".to_owned();
            Ok(ctx.redirect(state, "/account", Some(msg)).await?)
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct PreferredForm {
    csrf: String,
    method: String,
}

pub(crate) async fn preferred(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<PreferredForm>,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    if !ctx.csrf_ok(&state, &form.csrf) {
        return Ok(ctx.csrf_refused(&state));
    }
    let user = signed_in!(state, ctx);
    let action = format!("preferred:{}", form.method);
    if let Some(grant) = live_grant(&state, &ctx, &user).await? {
        let (to, msg) = apply_action(&state, &user, &action, &grant).await?;
        if !msg.starts_with("error:") {
            return Ok(ctx.redirect(&state, &to, Some(msg)).await?);
        }
    }
    // No fresh grant: confirm with a second factor first (step-up).
    step_up_for(&state, ctx, &user, action).await
}

/// Runs a management action that needed a step-up grant; returns the page to go to and the
/// message to show there. An enrolment (`enrol:totp`, `enrol:email`) goes back to its page,
/// which now finds the grant.
pub(crate) async fn apply_action(
    state: &AppState,
    user: &str,
    action: &str,
    grant: &StepUpGrant,
) -> crate::Result<(String, String)> {
    let method = match action {
        "enrol:totp" => {
            let msg = "Now set up your authenticator app.".to_owned();
            return Ok(("/account/totp".to_owned(), msg));
        }
        "enrol:email" => {
            let msg = "Now add your email address.".to_owned();
            return Ok(("/account/email".to_owned(), msg));
        }
        "preferred:totp" => Method::Totp,
        "preferred:email" => Method::Email,
        _ => return Ok(("/account".to_owned(), "error:Unknown method.".to_owned())),
    };
    let msg = match state.mfa.set_preferred_method(user, method, grant).await {
        Ok(()) => format!("Preferred method set to {method}."),
        Err(mfa::Error::NotAuthorised) => "error:Confirm it is you first.".to_owned(),
        Err(mfa::Error::MethodNotEnabled) => "error:That method is not enabled.".to_owned(),
        Err(e) => return Err(e.into()),
    };
    Ok(("/account".to_owned(), msg))
}

pub(crate) async fn devices(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    let user = signed_in!(state, ctx);
    let devices = state.mfa.trusted_devices(&user).await?;
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
            ctx.csrf_field(&state),
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
    Ok(ctx.page(&state, "Trusted devices", &body))
}

#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    csrf: String,
    id: String,
}

pub(crate) async fn revoke_device(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    if !ctx.csrf_ok(&state, &form.csrf) {
        return Ok(ctx.csrf_refused(&state));
    }
    let user = signed_in!(state, ctx);
    let msg = if state.mfa.revoke_trusted_device(&user, &form.id).await? {
        "Device revoked: it will be asked for a code next time.".to_owned()
    } else {
        "error:That device was already gone.".to_owned()
    };
    Ok(ctx.redirect(&state, "/account/devices", Some(msg)).await?)
}

pub(crate) async fn security_log(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    let user = signed_in!(state, ctx);
    let events = state
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
    Ok(ctx.page(&state, "Security log", &body))
}
