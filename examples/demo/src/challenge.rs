//! The second-factor challenge page (login and step-up), sending codes and links, and the
//! magic-link confirmation page.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use mfa::{
    ChallengeId, Channel, LinkInspection, MagicLinkToken, Outcome, Proof, SendOutcome,
    VerifyOptions,
};
use mfa_mail::escape_html;
use serde::Deserialize;

use crate::auth::DEVICE_COOKIE_SECS;
use crate::db::Stage;
use crate::time::{format_utc, format_wait};
use crate::web::{CHALLENGE, Ctx, DEVICE, GRANT, Shared, WebResult};

/// How long the step-up grant cookie lives (the facade's default window).
pub(crate) const GRANT_COOKIE_SECS: u64 = 10 * 60;

/// Whether this session is answering a step-up (signed in, an action waiting).
fn step_up(ctx: &Ctx) -> bool {
    ctx.session.stage == Stage::SignedIn && ctx.session.pending_action.is_some()
}

/// The pending challenge of this browser (its cookie), if it is one.
fn challenge_cookie(ctx: &Ctx) -> Option<ChallengeId> {
    ctx.cookie(CHALLENGE).and_then(|id| id.parse().ok())
}

fn code_form(
    ctx: &Ctx,
    state: &crate::app::AppState,
    method: &str,
    label: &str,
    trust: bool,
) -> String {
    let trust_box = if trust {
        format!(
            "<label><input type=\"checkbox\" name=\"trust\" value=\"1\" id=\"{method}-trust\"> \
             Trust this device for 30 days</label>"
        )
    } else {
        String::new()
    };
    format!(
        "<form method=\"post\" action=\"/challenge/verify\">{csrf}\
         <input type=\"hidden\" name=\"method\" value=\"{method}\">\
         <label>{label} <input type=\"text\" name=\"code\" id=\"{method}-code\" required \
         autocomplete=\"one-time-code\" autocapitalize=\"off\"></label>{trust_box}\
         <button id=\"{method}-submit\">Verify</button></form>",
        csrf = ctx.csrf_field(state),
    )
}

pub(crate) async fn page(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    let stepping_up = step_up(&ctx);
    if ctx.session.stage != Stage::Password && !stepping_up {
        return Ok(ctx
            .redirect(&state, "/login", Some("error:Log in first.".into()))
            .await?);
    }
    let trust = !stepping_up;
    let mut body = if stepping_up {
        "<p>Confirm it is you before changing your security settings.</p>".to_owned()
    } else {
        "<p>Your password was right. Now prove the second factor.</p>".to_owned()
    };
    for method in ctx.session.methods.split(',') {
        match method {
            "totp" => {
                body.push_str("<section><h2>Authenticator app</h2>");
                body.push_str(&code_form(
                    &ctx,
                    &state,
                    "totp",
                    "Code from your app",
                    trust,
                ));
                body.push_str("</section>");
            }
            "email" => {
                body.push_str(&format!(
                    "<section><h2>Email</h2>\
                     <form class=\"inline\" method=\"post\" action=\"/challenge/send\">{csrf}\
                     <input type=\"hidden\" name=\"what\" value=\"code\">\
                     <button id=\"send-email-code\">Email me a code</button></form> \
                     <form class=\"inline\" method=\"post\" action=\"/challenge/send\">{csrf}\
                     <input type=\"hidden\" name=\"what\" value=\"link\">\
                     <button id=\"send-magic-link\">Email me a sign-in link</button></form>{form}\
                     </section>",
                    csrf = ctx.csrf_field(&state),
                    form = code_form(&ctx, &state, "email", "Code from the email", trust),
                ));
            }
            "recovery_code" => {
                body.push_str("<section><h2>Recovery code</h2>");
                body.push_str(&code_form(
                    &ctx,
                    &state,
                    "recovery",
                    "One of your recovery codes",
                    trust,
                ));
                body.push_str("</section>");
            }
            _ => {}
        }
    }
    let title = if stepping_up {
        "Confirm it is you"
    } else {
        "Second factor"
    };
    Ok(ctx.page(&state, title, &body))
}

#[derive(Deserialize)]
pub(crate) struct VerifyForm {
    csrf: String,
    method: String,
    code: String,
    trust: Option<String>,
}

fn device_label(ctx: &Ctx) -> String {
    let ua = ctx.client.user_agent.as_deref().unwrap_or("a browser");
    let name = if ua.contains("Firefox") {
        "Firefox"
    } else if ua.contains("Chrome") {
        "Chrome/Chromium"
    } else if ua.contains("Safari") {
        "Safari"
    } else {
        "a browser"
    };
    match ctx.client.ip {
        Some(ip) => format!("{name} from {ip}"),
        None => format!("{name} from ?"),
    }
}

pub(crate) async fn verify(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<VerifyForm>,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    if !ctx.csrf_ok(&state, &form.csrf) {
        return Ok(ctx.csrf_refused(&state));
    }
    let stepping_up = step_up(&ctx);
    if ctx.session.stage != Stage::Password && !stepping_up {
        return Ok(ctx
            .redirect(&state, "/login", Some("error:Log in first.".into()))
            .await?);
    }
    let Some(challenge) = challenge_cookie(&ctx) else {
        let msg = "error:This sign-in has expired. Log in again.";
        return Ok(ctx.redirect(&state, "/login", Some(msg.into())).await?);
    };
    let code = form.code.trim();
    let proof = match form.method.as_str() {
        "totp" => Proof::Totp(code),
        "email" => Proof::EmailCode(code),
        _ => Proof::RecoveryCode(code),
    };
    // Every successful login also gets a step-up grant, so settings can be changed right after.
    let mut options = VerifyOptions::new().grant_step_up();
    if form.trust.is_some() && !stepping_up {
        options = options.trust_device(device_label(&ctx));
    }
    let outcome = state
        .mfa
        .verify(&challenge, proof, &ctx.client, options)
        .await?;
    finish(state, ctx, outcome, stepping_up).await
}

/// Applies a verification outcome: opens the session, or says what went wrong.
async fn finish(state: Shared, mut ctx: Ctx, outcome: Outcome, stepping_up: bool) -> WebResult {
    match outcome {
        Outcome::Verified {
            user,
            trusted_device_token,
            recovery_codes_left,
            step_up,
            ..
        } => {
            if ctx.session.username.as_deref() != Some(user.as_str()) {
                let msg = "error:That proof belongs to another sign-in. Log in again.";
                return Ok(ctx.redirect(&state, "/login", Some(msg.into())).await?);
            }
            ctx.clear_cookie(&state, CHALLENGE);
            if let Some(token) = trusted_device_token {
                ctx.set_cookie(&state, DEVICE, &token.expose(), Some(DEVICE_COOKIE_SECS));
            }
            if let Some(grant) = &step_up {
                ctx.set_cookie(&state, GRANT, &grant.expose(), Some(GRANT_COOKIE_SECS));
            }
            let mut msg = if stepping_up {
                "Confirmed.".to_owned()
            } else {
                ctx.session.stage = Stage::SignedIn;
                ctx.session.methods.clear();
                ctx.rotate(&state).await?;
                "Signed in.".to_owned()
            };
            if let Some(left) = recovery_codes_left {
                msg.push_str(&format!(
                    " You have {left} recovery codes left; generate new ones when you run low."
                ));
            }
            let mut to = "/account".to_owned();
            if let (Some(action), Some(grant)) = (ctx.session.pending_action.take(), &step_up) {
                ctx.save(&state).await?;
                let (page, note) =
                    crate::manage::apply_action(&state, &user, &action, grant).await?;
                to = page;
                msg.push(' ');
                msg.push_str(&note);
            }
            Ok(ctx.redirect(&state, &to, Some(msg)).await?)
        }
        Outcome::Rejected { attempts_left } => {
            let msg = format!(
                "error:{} ({attempts_left} more tries for this sign-in.)",
                outcome_message(&Outcome::Rejected { attempts_left })
            );
            Ok(ctx.redirect(&state, "/challenge", Some(msg)).await?)
        }
        Outcome::ChallengeExhausted => {
            let msg = "error:Too many wrong codes for this sign-in. Log in again.";
            abandon(state, ctx, msg).await
        }
        Outcome::Expired => {
            let msg = "error:This sign-in has expired or was already used. Log in again.";
            abandon(state, ctx, msg).await
        }
        Outcome::LockedOut { until } => {
            let msg = format!(
                "error:Too many failed attempts: sign-in is locked until {}.",
                format_utc(until)
            );
            abandon(state, ctx, &msg).await
        }
        _ => abandon(state, ctx, "error:Log in again.").await,
    }
}

/// The uniform message (the user already proved the password; detail follows separately).
fn outcome_message(outcome: &Outcome) -> &'static str {
    outcome.public_response().message()
}

async fn abandon(state: Shared, mut ctx: Ctx, msg: &str) -> WebResult {
    ctx.clear_cookie(&state, CHALLENGE);
    if ctx.session.stage == Stage::Password {
        ctx.session.stage = Stage::Anonymous;
        ctx.session.username = None;
    }
    ctx.session.pending_action = None;
    ctx.save(&state).await?;
    let to = if ctx.session.stage == Stage::SignedIn {
        "/account"
    } else {
        "/login"
    };
    Ok(ctx.redirect(&state, to, Some(msg.to_owned())).await?)
}

#[derive(Deserialize)]
pub(crate) struct SendForm {
    csrf: String,
    what: String,
}

pub(crate) async fn send(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SendForm>,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    if !ctx.csrf_ok(&state, &form.csrf) {
        return Ok(ctx.csrf_refused(&state));
    }
    let Some(challenge) = challenge_cookie(&ctx) else {
        let msg = "error:This sign-in has expired. Log in again.";
        return Ok(ctx.redirect(&state, "/login", Some(msg.into())).await?);
    };
    let outcome = if form.what == "link" {
        let base = format!("{}/magic", state.base_url);
        state
            .mfa
            .send_magic_link(&challenge, &base, None, &ctx.client)
            .await?
    } else {
        state
            .mfa
            .send_code(&challenge, Channel::Email, &ctx.client)
            .await?
    };
    let msg = send_message(&outcome, form.what == "link");
    Ok(ctx.redirect(&state, "/challenge", Some(msg)).await?)
}

/// The message for a send request.
pub(crate) fn send_message(outcome: &SendOutcome, link: bool) -> String {
    match outcome {
        SendOutcome::Sent { expires_at } => format!(
            "We emailed you a {}. It works until {}.",
            if link {
                "sign-in link (and a code)"
            } else {
                "code"
            },
            format_utc(*expires_at)
        ),
        SendOutcome::Cooldown { retry_after } => format!(
            "error:Too many requests: wait {} before asking for another message.",
            format_wait(*retry_after)
        ),
        SendOutcome::QuotaExceeded { retry_after } => format!(
            "error:Too many messages to this address: try again in {}.",
            format_wait(*retry_after)
        ),
        SendOutcome::NoChallenge => "error:This sign-in has expired. Log in again.".to_owned(),
        SendOutcome::MethodUnavailable => "error:Email is not set up for this account.".to_owned(),
        _ => outcome.public_response().message().to_owned(),
    }
}

#[derive(Deserialize)]
pub(crate) struct LinkQuery {
    #[serde(default)]
    token: String,
}

pub(crate) async fn magic_page(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<LinkQuery>,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    // Opening the link consumes nothing (mail scanners open links too): only the button does.
    let inspection = match query.token.parse::<MagicLinkToken>() {
        Ok(token) => state.mfa.inspect_magic_link(&token).await?,
        Err(_) => LinkInspection::Invalid,
    };
    let body = match inspection {
        LinkInspection::Valid { expires_at } => format!(
            "<p>Sign in to the mfa demo in this browser? The link works until {}.</p>\
             <form method=\"post\" action=\"/magic\">{}\
             <input type=\"hidden\" name=\"token\" value=\"{}\">\
             <button id=\"confirm-magic-link\">Sign in</button></form>",
            format_utc(expires_at),
            ctx.csrf_field(&state),
            escape_html(&query.token)
        ),
        _ => "<p class=\"error\">This link is invalid, expired or already used. \
              Log in again to get a new one.</p>"
            .to_owned(),
    };
    Ok(ctx.page(&state, "Sign-in link", &body))
}

#[derive(Deserialize)]
pub(crate) struct MagicForm {
    csrf: String,
    token: String,
}

pub(crate) async fn magic_confirm(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<MagicForm>,
) -> WebResult {
    let mut ctx = Ctx::load(&state, &headers, addr).await?;
    if !ctx.csrf_ok(&state, &form.csrf) {
        return Ok(ctx.csrf_refused(&state));
    }
    let outcome = match form.token.parse::<MagicLinkToken>() {
        Ok(token) => {
            state
                .mfa
                .confirm_magic_link(
                    &token,
                    None,
                    &ctx.client,
                    VerifyOptions::new().grant_step_up(),
                )
                .await?
        }
        // Not a link token: answered like an unknown or used link.
        Err(_) => Outcome::Expired,
    };
    match outcome {
        Outcome::Verified { user, step_up, .. } => {
            ctx.session.username = Some(user);
            ctx.session.stage = Stage::SignedIn;
            ctx.session.methods.clear();
            ctx.session.pending_action = None;
            ctx.rotate(&state).await?;
            ctx.clear_cookie(&state, CHALLENGE);
            if let Some(grant) = step_up {
                ctx.set_cookie(&state, GRANT, &grant.expose(), Some(GRANT_COOKIE_SECS));
            }
            let msg = "Signed in with the emailed link.";
            Ok(ctx.redirect(&state, "/account", Some(msg.into())).await?)
        }
        // The link alone names no account: answer every failure the same way.
        failed => {
            let msg = format!("error:{}", failed.public_response().message());
            Ok(ctx.redirect(&state, "/login", Some(msg)).await?)
        }
    }
}
