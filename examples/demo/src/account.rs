//! The account overview, authenticator-app enrolment and the recovery codes shown once.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use mfa::store::FactorKind;
use mfa::{Authority, EnrollmentOutcome, RecoveryCodes, TotpOptions};
use mfa_mail::escape_html;
use serde::Deserialize;

use crate::app::AppState;
use crate::manage::{live_grant, step_up_for};
use crate::time::format_utc;
use crate::web::{Ctx, Reply, Shared, WebResult};

/// The signed-in user, or a redirect to the login page.
macro_rules! signed_in {
    ($state:expr, $ctx:expr) => {
        match $ctx.user().map(ToOwned::to_owned) {
            Some(user) => user,
            None => {
                let msg = "error:Log in first.".to_owned();
                return Ok($ctx.redirect(&$state, "/login", Some(msg)).await?);
            }
        }
    };
}

pub(crate) async fn overview(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    let user = signed_in!(state, ctx);
    let settings = state
        .store
        .settings(&user)
        .await
        .map_err(mfa::Error::from)?;
    let enabled = settings
        .as_ref()
        .map(|s| s.enabled.clone())
        .unwrap_or_default();
    let preferred = settings.as_ref().and_then(|s| s.preferred);
    let left = state.mfa.recovery_codes_left(&user).await?;
    let totp = if enabled.contains(&FactorKind::Totp) {
        "<p id=\"totp-status\">Authenticator app: <strong>enabled</strong></p>".to_owned()
    } else {
        "<p id=\"totp-status\">Authenticator app: not set up. \
         <a id=\"enrol-totp\" href=\"/account/totp\">Set up an authenticator app</a></p>"
            .to_owned()
    };
    let email = match settings.as_ref().and_then(|s| s.email.clone()) {
        Some(address) if enabled.contains(&FactorKind::Email) => format!(
            "<p id=\"email-status\">Email codes: <strong>enabled</strong> ({})</p>",
            escape_html(address.as_str())
        ),
        _ => "<p id=\"email-status\">Email codes: not set up. \
              <a id=\"enrol-email\" href=\"/account/email\">Add an email address</a></p>"
            .to_owned(),
    };
    let mut options = String::new();
    for (kind, name) in [(FactorKind::Totp, "totp"), (FactorKind::Email, "email")] {
        if enabled.contains(&kind) {
            let selected = if preferred == Some(kind) {
                " selected"
            } else {
                ""
            };
            options.push_str(&format!(
                "<option value=\"{name}\"{selected}>{name}</option>"
            ));
        }
    }
    let preferred_form = if options.is_empty() {
        String::new()
    } else {
        format!(
            "<form method=\"post\" action=\"/account/preferred\">{}\
             <label>Method asked for first <select name=\"method\" id=\"preferred\">{options}\
             </select></label><button id=\"set-preferred\">Save</button></form>",
            ctx.csrf_field(&state)
        )
    };
    let admin = if state.is_admin(&user) {
        "<li><a href=\"/admin\">Administration</a></li>"
    } else {
        ""
    };
    let body = format!(
        "<section><h2>Second factors</h2>{totp}{email}{preferred_form}\
         <p id=\"recovery-status\">Recovery codes left: {left}</p></section>\
         <ul><li><a href=\"/account/devices\">Trusted devices</a></li>\
         <li><a href=\"/account/log\">Security log</a></li>{admin}</ul>"
    );
    Ok(ctx.page(&state, "Your account", &body))
}

pub(crate) async fn totp_start(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    let user = signed_in!(state, ctx);
    // The first factor needs nothing more than the session; any later one a step-up grant.
    let grant = live_grant(&state, &ctx, &user).await?;
    let authority = grant
        .as_ref()
        .map_or(Authority::FirstFactor, Authority::StepUp);
    let enrollment = match state
        .mfa
        .start_totp_enrollment(
            &user,
            authority,
            "Authenticator app",
            TotpOptions::new().account_name(&user),
            &ctx.client,
        )
        .await
    {
        Ok(e) => e,
        Err(mfa::Error::AlreadyEnabled) => {
            let msg = "error:An authenticator app is already enabled.".to_owned();
            return Ok(ctx.redirect(&state, "/account", Some(msg)).await?);
        }
        Err(mfa::Error::NotAuthorised) => {
            return step_up_for(&state, ctx, &user, "enrol:totp".to_owned()).await;
        }
        Err(e) => return Err(e.into()),
    };
    let body = format!(
        "<ol><li>Scan this QR code with your authenticator app:<br>\
         <img id=\"qr\" alt=\"QR code of the key URI\" width=\"240\" height=\"240\" src=\"{qr}\"></li>\
         <li>Or type this secret by hand: <code id=\"totp-secret\">{secret}</code> \
         (time-based, 6 digits, 30 seconds).</li>\
         <li>Enter the first code the app shows to activate it.</li></ol>{form}",
        qr = escape_html(enrollment.qr_png_data_url()),
        secret = escape_html(enrollment.secret_base32()),
        form = confirm_form(&ctx, &state),
    );
    Ok(ctx.page(&state, "Set up an authenticator app", &body))
}

fn confirm_form(ctx: &Ctx, state: &AppState) -> String {
    format!(
        "<form method=\"post\" action=\"/account/totp\">{}\
         <label>First code <input type=\"text\" name=\"code\" id=\"totp-code\" required \
         autocomplete=\"one-time-code\" inputmode=\"numeric\"></label>\
         <button id=\"totp-activate\">Activate</button></form>",
        ctx.csrf_field(state)
    )
}

#[derive(Deserialize)]
pub(crate) struct CodeForm {
    csrf: String,
    code: String,
}

pub(crate) async fn totp_confirm(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    if !ctx.csrf_ok(&state, &form.csrf) {
        return Ok(ctx.csrf_refused(&state));
    }
    let user = signed_in!(state, ctx);
    let grant = live_grant(&state, &ctx, &user).await?;
    let authority = grant
        .as_ref()
        .map_or(Authority::FirstFactor, Authority::StepUp);
    let outcome = match state
        .mfa
        .finish_totp_enrollment(&user, authority, form.code.trim(), &ctx.client)
        .await
    {
        Ok(outcome) => outcome,
        // The grant ended meanwhile: confirm it is you, then set the app up again.
        Err(mfa::Error::NotAuthorised) => {
            return step_up_for(&state, ctx, &user, "enrol:totp".to_owned()).await;
        }
        Err(e) => return Err(e.into()),
    };
    if let EnrollmentOutcome::Rejected { .. } = outcome {
        let body = format!(
            "<p class=\"flash error\">That code is not right. Check that your phone's clock is \
             correct and enter the code the app shows now.</p>{}",
            confirm_form(&ctx, &state)
        );
        return Ok(ctx.page(&state, "Set up an authenticator app", &body));
    }
    enrolled(state, ctx, outcome, "Authenticator app enabled.").await
}

/// The page after a confirmation: the recovery codes (once), or the account page.
pub(crate) async fn enrolled(
    state: Shared,
    ctx: Ctx,
    outcome: EnrollmentOutcome,
    done: &str,
) -> WebResult {
    let msg = match outcome {
        EnrollmentOutcome::Confirmed {
            recovery_codes: Some(codes),
        } => return Ok(recovery_page(&state, ctx, done, &codes)),
        EnrollmentOutcome::Confirmed { .. } => done.to_owned(),
        EnrollmentOutcome::Rejected { .. } => "error:That code is not right.".to_owned(),
        EnrollmentOutcome::Expired => "error:The set-up expired; start again.".to_owned(),
        EnrollmentOutcome::AlreadyEnabled => "error:This is already enabled.".to_owned(),
        EnrollmentOutcome::NoPendingEnrollment => "error:Start the set-up first.".to_owned(),
        EnrollmentOutcome::LockedOut { until } => format!(
            "error:Too many wrong codes: try again after {}.",
            format_utc(until)
        ),
        _ => "error:Try again.".to_owned(),
    };
    Ok(ctx.redirect(&state, "/account", Some(msg)).await?)
}

fn recovery_page(state: &AppState, ctx: Ctx, done: &str, codes: &RecoveryCodes) -> Reply {
    let exposed = codes.expose();
    let items: String = exposed
        .iter()
        .map(|c| {
            format!(
                "<li><code class=\"recovery-code\">{}</code></li>",
                escape_html(c)
            )
        })
        .collect();
    let joined: String = exposed
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let body = format!(
        "<p class=\"flash ok\">{done}</p>\
         <p class=\"warn\">These recovery codes are shown <strong>once</strong>. Each signs you \
         in one time if you lose your phone. Save them somewhere safe now.</p>\
         <ol id=\"recovery-codes\">{items}</ol>\
         <form method=\"post\" action=\"/account/recovery-codes.txt\">{csrf}\
         <input type=\"hidden\" name=\"codes\" value=\"{codes}\">\
         <button id=\"download-codes\">Download as a text file</button></form>\
         <p><a id=\"continue\" href=\"/account\">I saved them: continue</a></p>",
        done = escape_html(done),
        csrf = ctx.csrf_field(state),
        codes = escape_html(&joined),
    );
    ctx.page(state, "Your recovery codes", &body)
}

#[derive(Deserialize)]
pub(crate) struct CodesForm {
    csrf: String,
    codes: String,
}

pub(crate) async fn download_codes(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<CodesForm>,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    if !ctx.csrf_ok(&state, &form.csrf) {
        return Ok(ctx.csrf_refused(&state));
    }
    let _user = signed_in!(state, ctx);
    // The codes come back from the page that showed them (nothing keeps them server-side);
    // only the recovery-code alphabet is echoed.
    let codes: Vec<&str> = form
        .codes
        .lines()
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .take(100)
        .collect();
    let text = format!(
        "mfa demo recovery codes (each works once)\n\n{}\n",
        codes.join("\n")
    );
    Ok(ctx.download("mfa-demo-recovery-codes.txt", text))
}
