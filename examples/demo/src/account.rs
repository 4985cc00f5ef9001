//! The account overview, authenticator-app enrolment, and the changes behind a step-up:
//! recovery codes (regenerate, shown once), turning a factor off, the preferred method.

use axum::Form;
use axum::extract::Query;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse as _, Response};
use mfa::store::FactorKind;
use mfa::{Authority, EnrollmentOutcome, Method, RecoveryCodes, StepUpGrant, TotpOptions};
use mfa_axum::{Problem, SignedIn};
use mfa_mail::escape_html;
use serde::Deserialize;

use crate::page::{Ctx, Failure, Flash, WebResult};
use crate::stepup::{StepUp, ask};

/// What entitles an enrolment now.
pub(crate) enum Entitlement {
    /// The user's first factor: the session is enough.
    FirstFactor,
    /// A live step-up grant of this session.
    Grant(StepUpGrant),
    /// A factor is active and the session holds no live grant: step up first.
    StepUpFirst,
}

impl Entitlement {
    pub(crate) fn authority(&self) -> Option<Authority<'_>> {
        match self {
            Self::FirstFactor => Some(Authority::FirstFactor),
            Self::Grant(grant) => Some(Authority::StepUp(grant)),
            Self::StepUpFirst => None,
        }
    }
}

/// Whether `user` may enrol now, and with what.
pub(crate) async fn entitlement(ctx: &Ctx, user: &str) -> Result<Entitlement, Failure> {
    let mfa = &ctx.app.mfa;
    if mfa.enabled_methods(user).await?.is_empty() {
        return Ok(Entitlement::FirstFactor);
    }
    match ctx.session.step_up().await? {
        Some(grant) if mfa.step_up_valid(user, &grant).await? => Ok(Entitlement::Grant(grant)),
        _ => Ok(Entitlement::StepUpFirst),
    }
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Totp => "Authenticator app",
        Method::Email => "Email codes",
        Method::Sms => "Text messages",
        Method::WebAuthn => "Security keys",
        _ => "Recovery codes",
    }
}

pub(crate) async fn overview(SignedIn { user, .. }: SignedIn, ctx: Ctx) -> WebResult {
    let settings = ctx
        .app
        .store
        .settings(&user)
        .await
        .map_err(mfa::Error::from)?;
    let enabled = settings
        .as_ref()
        .map(|s| s.enabled.clone())
        .unwrap_or_default();
    let preferred = settings.as_ref().and_then(|s| s.preferred);
    let left = ctx.app.mfa.recovery_codes_left(&user).await?;
    let mut factors = String::new();
    for (kind, id, enrol) in [
        (FactorKind::Totp, "totp", "/account/totp"),
        (FactorKind::Email, "email", "/account/email"),
        (FactorKind::Sms, "sms", "/account/sms"),
        (FactorKind::WebAuthn, "webauthn", "/account/webauthn"),
    ] {
        let method = Method::from(kind);
        let name = method_name(method);
        let detail = match kind {
            FactorKind::Email => settings
                .as_ref()
                .and_then(|s| s.email.as_ref())
                .map(|a| format!(" ({})", escape_html(a.as_str()))),
            FactorKind::Sms => settings
                .as_ref()
                .and_then(|s| s.phone.as_ref())
                .map(|p| format!(" (number ending in {})", escape_html(p.last_digits()))),
            _ => None,
        }
        .unwrap_or_default();
        if enabled.contains(&kind) {
            let first = if preferred == Some(kind) {
                " · asked first"
            } else {
                ""
            };
            factors.push_str(&format!(
                "<p id=\"{id}-status\">{name}: <strong>enabled</strong>{detail}{first} · \
                 <a id=\"disable-{id}\" href=\"/account/disable?method={id}\">Turn off</a></p>"
            ));
        } else {
            factors.push_str(&format!(
                "<p id=\"{id}-status\">{name}: not set up · \
                 <a id=\"enrol-{id}\" href=\"{enrol}\">Set up</a></p>"
            ));
        }
    }
    let preferred_link = if enabled.len() > 1 {
        "<p><a id=\"change-preferred\" href=\"/account/preferred\">Change the method asked \
         first</a></p>"
    } else {
        ""
    };
    let codes = if enabled.is_empty() {
        String::new()
    } else {
        format!(
            "<p id=\"recovery-status\">Recovery codes left: {left} · \
             <a id=\"regenerate\" href=\"/account/recovery-codes\">Generate new ones</a></p>"
        )
    };
    let admin = if ctx.app.is_admin(&user) {
        "<li><a id=\"admin\" href=\"/admin\">Administration</a></li>"
    } else {
        ""
    };
    let body = format!(
        "<section><h2>Second factors</h2>{factors}{preferred_link}{codes}\
         <p class=\"note\">Every change once a factor is active asks for a fresh second factor \
         first.</p></section>\
         <ul><li><a id=\"devices\" href=\"/account/devices\">Trusted devices</a></li>\
         <li><a href=\"/account/log\">Security log</a></li>{admin}</ul>"
    );
    Ok(ctx.page("Your account", &body))
}

// --- authenticator app ---------------------------------------------------------------------

pub(crate) async fn totp_page(SignedIn { user, .. }: SignedIn, ctx: Ctx) -> WebResult {
    if let Entitlement::StepUpFirst = entitlement(&ctx, &user).await? {
        return ask(&ctx, "/account/totp").await;
    }
    let body = format!(
        "<p>An authenticator app (Google Authenticator, Aegis, 1Password, ...) shows a new \
         6-digit code every 30 seconds. Starting shows a QR code to scan.</p>\
         <form method=\"post\" action=\"/account/totp/start\">{}\
         <button id=\"totp-begin\">Show the QR code</button></form>",
        ctx.csrf_field()
    );
    Ok(ctx.page("Set up an authenticator app", &body))
}

fn totp_confirm_form(ctx: &Ctx) -> String {
    format!(
        "<form method=\"post\" action=\"/account/totp/confirm\">{}\
         <label>First code <input type=\"text\" name=\"code\" id=\"totp-code\" required \
         autocomplete=\"one-time-code\" inputmode=\"numeric\"></label>\
         <button id=\"totp-activate\">Activate</button></form>",
        ctx.csrf_field()
    )
}

pub(crate) async fn totp_start(SignedIn { user, .. }: SignedIn, ctx: Ctx) -> WebResult {
    let entitlement = entitlement(&ctx, &user).await?;
    let Some(authority) = entitlement.authority() else {
        return ask(&ctx, "/account/totp").await;
    };
    let started = ctx
        .app
        .mfa
        .start_totp_enrollment(
            &user,
            authority,
            "Authenticator app",
            TotpOptions::new().account_name(&user),
            &ctx.client,
        )
        .await;
    let enrollment = match started {
        Ok(enrollment) => enrollment,
        Err(mfa::Error::AlreadyEnabled) => {
            let flash = Flash::error(Problem::AlreadyEnabled.message());
            return ctx.redirect("/account", Some(flash)).await;
        }
        Err(mfa::Error::NotAuthorised) => return ask(&ctx, "/account/totp").await,
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
        form = totp_confirm_form(&ctx),
    );
    Ok(ctx.page("Set up an authenticator app", &body))
}

#[derive(Deserialize)]
pub(crate) struct CodeForm {
    code: String,
}

pub(crate) async fn totp_confirm(
    SignedIn { user, .. }: SignedIn,
    ctx: Ctx,
    Form(form): Form<CodeForm>,
) -> WebResult {
    let entitlement = entitlement(&ctx, &user).await?;
    let Some(authority) = entitlement.authority() else {
        return ask(&ctx, "/account/totp").await;
    };
    let outcome = ctx
        .app
        .mfa
        .finish_totp_enrollment(&user, authority, form.code.trim(), &ctx.client)
        .await?;
    enrolled(&ctx, outcome, "Authenticator app enabled.", || {
        totp_confirm_form(&ctx)
    })
    .await
}

/// The page after a confirmation: the recovery codes (once), the account page, or the form
/// again with mfa-axum's answer ("code mismatch", "expired code", "already enabled", ...).
pub(crate) async fn enrolled(
    ctx: &Ctx,
    outcome: EnrollmentOutcome,
    done: &str,
    form: impl FnOnce() -> String,
) -> WebResult {
    match outcome {
        EnrollmentOutcome::Confirmed {
            recovery_codes: Some(codes),
        } => Ok(codes_page(ctx, done, &codes)),
        EnrollmentOutcome::Confirmed { .. } => {
            ctx.redirect("/account", Some(Flash::ok(done))).await
        }
        other => {
            let problem =
                Problem::from_enrollment(&other, ctx.app.mfa.now()).unwrap_or(Problem::Internal);
            let title = "Confirm the new factor";
            Ok(ctx.problem_page(problem, title, &form()))
        }
    }
}

// --- recovery codes ------------------------------------------------------------------------

/// The recovery codes, shown once, with a text-file download.
pub(crate) fn codes_page(ctx: &Ctx, done: &str, codes: &RecoveryCodes) -> Response {
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
    let joined = exposed
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
        csrf = ctx.csrf_field(),
        codes = escape_html(&joined),
    );
    ctx.page("Your recovery codes", &body)
}

pub(crate) async fn recovery_page(StepUp { user, .. }: StepUp, ctx: Ctx) -> WebResult {
    let left = ctx.app.mfa.recovery_codes_left(&user).await?;
    let body = format!(
        "<p>You have <strong id=\"codes-left\">{left}</strong> unused recovery codes. New codes \
         replace every old one: the old ones stop working at once.</p>\
         <form method=\"post\" action=\"/account/recovery-codes\">{}\
         <button id=\"regenerate-codes\">Generate new recovery codes</button></form>",
        ctx.csrf_field()
    );
    Ok(ctx.page("Recovery codes", &body))
}

pub(crate) async fn regenerate_codes(StepUp { user, grant }: StepUp, ctx: Ctx) -> WebResult {
    let codes = ctx.app.mfa.regenerate_recovery_codes(&user, &grant).await?;
    Ok(codes_page(
        &ctx,
        "New recovery codes: the old ones no longer work.",
        &codes,
    ))
}

#[derive(Deserialize)]
pub(crate) struct CodesForm {
    codes: String,
}

pub(crate) async fn download_codes(
    SignedIn { .. }: SignedIn,
    Form(form): Form<CodesForm>,
) -> Response {
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
    (
        [
            (CONTENT_TYPE, "text/plain; charset=utf-8"),
            (
                CONTENT_DISPOSITION,
                "attachment; filename=\"mfa-demo-recovery-codes.txt\"",
            ),
        ],
        text,
    )
        .into_response()
}

// --- turning a factor off, the preferred method ----------------------------------------------

fn parse_method(name: &str) -> Result<Method, Problem> {
    match name {
        "totp" => Ok(Method::Totp),
        "email" => Ok(Method::Email),
        "sms" => Ok(Method::Sms),
        "webauthn" => Ok(Method::WebAuthn),
        _ => Err(Problem::InvalidInput),
    }
}

#[derive(Deserialize)]
pub(crate) struct MethodForm {
    #[serde(default)]
    method: String,
}

pub(crate) async fn disable_page(
    StepUp { user, .. }: StepUp,
    ctx: Ctx,
    Query(query): Query<MethodForm>,
) -> WebResult {
    let method = parse_method(&query.method)?;
    if !ctx.app.mfa.enabled_methods(&user).await?.contains(&method) {
        return Err(Problem::MethodNotEnabled.into());
    }
    let body = format!(
        "<p>Turn off <strong>{name}</strong>? Every trusted device is forgotten and pending \
         codes end; when no factor is left, your recovery codes go too.</p>\
         <form method=\"post\" action=\"/account/disable\">{csrf}\
         <input type=\"hidden\" name=\"method\" value=\"{id}\">\
         <button id=\"disable-confirm\">Turn it off</button></form>\
         <p><a href=\"/account\">Keep it</a></p>",
        name = method_name(method),
        csrf = ctx.csrf_field(),
        id = method.as_str(),
    );
    Ok(ctx.page("Turn off a second factor", &body))
}

pub(crate) async fn disable(
    StepUp { user, grant }: StepUp,
    ctx: Ctx,
    Form(form): Form<MethodForm>,
) -> WebResult {
    let method = parse_method(&form.method)?;
    ctx.app
        .mfa
        .disable_factor(&user, method, &grant, &ctx.client)
        .await?;
    // The facade ended every grant, this one included.
    ctx.session.forget_step_up().await?;
    let flash = Flash::ok(format!("{} turned off.", method_name(method)));
    ctx.redirect("/account", Some(flash)).await
}

pub(crate) async fn preferred_page(StepUp { user, .. }: StepUp, ctx: Ctx) -> WebResult {
    let options: String = ctx
        .app
        .mfa
        .enabled_methods(&user)
        .await?
        .into_iter()
        .filter(|m| m.factor().is_some())
        .map(|m| {
            format!(
                "<option value=\"{}\">{}</option>",
                m.as_str(),
                method_name(m)
            )
        })
        .collect();
    let body = format!(
        "<form method=\"post\" action=\"/account/preferred\">{}\
         <label>Method asked for first <select name=\"method\" id=\"preferred\">{options}\
         </select></label><button id=\"set-preferred\">Save</button></form>",
        ctx.csrf_field()
    );
    Ok(ctx.page("Method asked first", &body))
}

pub(crate) async fn preferred(
    StepUp { user, grant }: StepUp,
    ctx: Ctx,
    Form(form): Form<MethodForm>,
) -> WebResult {
    let method = parse_method(&form.method)?;
    ctx.app
        .mfa
        .set_preferred_method(&user, method, &grant)
        .await?;
    let flash = Flash::ok(format!("Preferred method set to {method}."));
    ctx.redirect("/account", Some(flash)).await
}
