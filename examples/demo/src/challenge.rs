//! The second factor of a sign-in (mfa-axum's `AuthSession::second_factor`), sending codes and
//! links for it, and the magic-link page: a link signs in only the browser session that asked
//! for it (`AuthSession::link_binding`), and never grants a step-up.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use mfa::{
    Channel, ClientInfo, LinkInspection, MagicLinkToken, Method, Outcome, Proof, SendOutcome,
    VerifyOptions,
};
use mfa_axum::{AuthSession, AuthState, CookieJar, Problem};
use mfa_mail::escape_html;
use serde::Deserialize;

use crate::app::AppState;
use crate::page::{Ctx, Failure, Flash, WebResult, bare_page};
use crate::time::format_utc;

/// A form for one code: `action` is where it posts, `method` the proof's kind.
pub(crate) fn code_form(ctx: &Ctx, action: &str, method: &str, label: &str, trust: bool) -> String {
    let trust_box = if trust {
        format!(
            "<label><input type=\"checkbox\" name=\"trust\" value=\"1\" id=\"{method}-trust\"> \
             Trust this device for 30 days</label>"
        )
    } else {
        String::new()
    };
    format!(
        "<form method=\"post\" action=\"{action}\">{csrf}\
         <input type=\"hidden\" name=\"method\" value=\"{method}\">\
         <label>{label} <input type=\"text\" name=\"code\" id=\"{method}-code\" required \
         autocomplete=\"one-time-code\" autocapitalize=\"off\"></label>{trust_box}\
         <button id=\"{method}-submit\">Verify</button></form>",
        csrf = ctx.csrf_field(),
    )
}

/// A button that asks for a code or link (`what`: `email`, `sms`, `link`).
fn send_button(ctx: &Ctx, action: &str, what: &str, id: &str, label: &str) -> String {
    format!(
        "<form class=\"inline\" method=\"post\" action=\"{action}\">{}\
         <input type=\"hidden\" name=\"what\" value=\"{what}\">\
         <button id=\"{id}\">{label}</button></form> ",
        ctx.csrf_field()
    )
}

/// The sections of a page that asks for one of `methods`: the sign-in's second factor
/// (`step_up` false: with "trust this device" and magic links) or a step-up.
pub(crate) async fn methods_html(
    ctx: &Ctx,
    user: &str,
    methods: &[Method],
    step_up: bool,
) -> Result<String, Failure> {
    let (verify, send) = if step_up {
        ("/step-up/verify", "/step-up/send")
    } else {
        ("/challenge/verify", "/challenge/send")
    };
    let trust = !step_up;
    let settings = ctx
        .app
        .store
        .settings(user)
        .await
        .map_err(mfa::Error::from)?;
    let mut html = String::new();
    for method in methods {
        match method {
            Method::Totp => {
                html.push_str("<section><h2>Authenticator app</h2>");
                html.push_str(&code_form(ctx, verify, "totp", "Code from your app", trust));
                html.push_str("</section>");
            }
            Method::Email => {
                html.push_str("<section><h2>Email</h2>");
                html.push_str(&send_button(
                    ctx,
                    send,
                    "email",
                    "send-email-code",
                    "Email me a code",
                ));
                if !step_up {
                    html.push_str(&send_button(
                        ctx,
                        send,
                        "link",
                        "send-magic-link",
                        "Email me a sign-in link",
                    ));
                }
                html.push_str(&code_form(
                    ctx,
                    verify,
                    "email",
                    "Code from the email",
                    trust,
                ));
                html.push_str("</section>");
            }
            Method::Sms => {
                // The number is shown masked: whoever holds the password learns 4 digits only.
                let ending = settings
                    .as_ref()
                    .and_then(|s| s.phone.as_ref())
                    .map(|p| p.last_digits().to_owned())
                    .unwrap_or_default();
                html.push_str(&format!(
                    "<section><h2>Text message</h2><p id=\"sms-number\">To the phone number \
                     ending in <strong>{}</strong>.</p>",
                    escape_html(&ending)
                ));
                html.push_str(&send_button(
                    ctx,
                    send,
                    "sms",
                    "send-sms-code",
                    "Text me a code",
                ));
                html.push_str(&code_form(
                    ctx,
                    verify,
                    "sms",
                    "Code from the text message",
                    trust,
                ));
                html.push_str("</section>");
            }
            Method::WebAuthn => {
                let action = if step_up {
                    "/step-up/webauthn"
                } else {
                    "/challenge/webauthn"
                };
                html.push_str(&crate::webauthn::section(ctx, action));
            }
            Method::RecoveryCode => {
                html.push_str("<section><h2>Recovery code</h2>");
                html.push_str(&code_form(
                    ctx,
                    verify,
                    "recovery",
                    "One of your recovery codes",
                    trust,
                ));
                html.push_str("</section>");
            }
            _ => {}
        }
    }
    Ok(html)
}

/// The proof a form carries.
pub(crate) fn proof<'a>(method: &str, code: &'a str) -> Result<Proof<'a>, Problem> {
    Ok(match method {
        "totp" => Proof::Totp(code),
        "email" => Proof::EmailCode(code),
        "sms" => Proof::SmsCode(code),
        "recovery" => Proof::RecoveryCode(code),
        _ => return Err(Problem::InvalidInput),
    })
}

/// The channel a send button names.
pub(crate) fn channel(what: &str) -> Result<Channel, Problem> {
    match what {
        "email" => Ok(Channel::Email),
        "sms" => Ok(Channel::Sms),
        _ => Err(Problem::InvalidInput),
    }
}

/// The message after a code or link went out.
pub(crate) fn sent_message(outcome: &SendOutcome, what: &str) -> Flash {
    let thing = match what {
        "link" => "emailed you a sign-in link (and a code)",
        "sms" => "sent you a code by text message",
        _ => "emailed you a code",
    };
    match outcome {
        SendOutcome::Sent { expires_at } => Flash::ok(format!(
            "We {thing}. It works until {}.",
            format_utc(*expires_at)
        )),
        _ => Flash::ok(outcome.public_response().message()),
    }
}

/// The user whose sign-in waits for a second factor in this session.
fn pending(ctx: &Ctx) -> Option<(&str, &mfa_axum::LoginTicket)> {
    match &ctx.state {
        Some(AuthState::SecondFactorPending { user, ticket }) => Some((user, ticket)),
        _ => None,
    }
}

async fn challenge_page(ctx: &Ctx, problem: Option<Problem>) -> WebResult {
    let Some((user, _)) = pending(ctx) else {
        return ctx
            .redirect("/login", Some(Flash::error("Log in first.")))
            .await;
    };
    let methods = ctx.app.mfa.enabled_methods(user).await?;
    let body = format!(
        "<p>Your password was right. Now prove the second factor.</p>{}\
         <p><a href=\"/login\" id=\"start-again\">Start the sign-in again</a></p>",
        methods_html(ctx, user, &methods, false).await?
    );
    Ok(match problem {
        Some(problem) => ctx.problem_page(problem, "Second factor", &body),
        None => ctx.page("Second factor", &body),
    })
}

pub(crate) async fn page(ctx: Ctx) -> WebResult {
    challenge_page(&ctx, None).await
}

#[derive(Deserialize)]
pub(crate) struct VerifyForm {
    method: String,
    code: String,
    trust: Option<String>,
}

/// "Chrome/Chromium from 192.0.2.7": the label of a trusted device.
pub(crate) fn device_label(client: &ClientInfo) -> String {
    let ua = client.user_agent.as_deref().unwrap_or("a browser");
    let name = if ua.contains("Firefox") {
        "Firefox"
    } else if ua.contains("Chrome") {
        "Chrome/Chromium"
    } else if ua.contains("Safari") {
        "Safari"
    } else {
        "a browser"
    };
    match client.ip {
        Some(ip) => format!("{name} from {ip}"),
        None => name.to_owned(),
    }
}

pub(crate) async fn verify(ctx: Ctx, jar: CookieJar, Form(form): Form<VerifyForm>) -> WebResult {
    if pending(&ctx).is_none() {
        return ctx
            .redirect("/login", Some(Flash::error("Log in first.")))
            .await;
    }
    let code = form.code.trim();
    let assertion: mfa::webauthn::PublicKeyCredential;
    let proof = if form.method == Method::WebAuthn.as_str() {
        match crate::webauthn::assertion(code) {
            Ok(parsed) => {
                assertion = parsed;
                Proof::WebAuthn(&assertion)
            }
            Err(problem) => return challenge_page(&ctx, Some(problem)).await,
        }
    } else {
        match proof(&form.method, code) {
            Ok(proof) => proof,
            Err(problem) => return challenge_page(&ctx, Some(problem)).await,
        }
    };
    // A code signs in with a step-up grant, so settings can be changed right after; a trusted
    // device or a magic link never brings one.
    let mut options = VerifyOptions::new().grant_step_up();
    if form.trust.is_some() {
        options = options.trust_device(device_label(&ctx.client));
    }
    let verified = ctx
        .session
        .second_factor(&ctx.app.mfa, proof, &ctx.client, options)
        .await;
    match verified {
        Ok(verified) => {
            let mut msg = "Signed in.".to_owned();
            if let Some(left) = verified.recovery_codes_left {
                msg.push_str(&format!(
                    " You have {left} recovery codes left; generate new ones when you run low."
                ));
            }
            let to = ctx.redirect("/account", Some(Flash::ok(msg))).await?;
            let jar = match &verified.trusted_device_token {
                Some(token) => ctx.app.edge.cookies().remember_device(jar, token),
                None => jar,
            };
            Ok((jar, to).into_response())
        }
        Err(Problem::SignInRequired) => {
            ctx.redirect("/login", Some(Flash::error("Log in first.")))
                .await
        }
        // One answer for a wrong code, an expired sign-in and a lock (mfa-axum's
        // `Problem::public`): the page stays, with a link to start again.
        Err(problem) => challenge_page(&ctx, Some(problem)).await,
    }
}

#[derive(Deserialize)]
pub(crate) struct SendForm {
    what: String,
}

pub(crate) async fn send(ctx: Ctx, Form(form): Form<SendForm>) -> WebResult {
    let Some((_, ticket)) = pending(&ctx) else {
        return ctx
            .redirect("/login", Some(Flash::error("Log in first.")))
            .await;
    };
    let Ok(ticket) = ticket.challenge_id() else {
        return challenge_page(&ctx, Some(Problem::ExpiredCode)).await;
    };
    let mfa = &ctx.app.mfa;
    let outcome = if form.what == "link" {
        // The link works only with this session's binding: opened anywhere else, it is refused.
        let binding = ctx.session.link_binding().await?;
        let base = format!("{}/magic", ctx.app.base_url);
        mfa.send_magic_link(&ticket, &base, Some(binding.expose()), &ctx.client)
            .await?
    } else {
        let channel = match channel(&form.what) {
            Ok(channel) => channel,
            Err(problem) => return challenge_page(&ctx, Some(problem)).await,
        };
        mfa.send_code(&ticket, channel, &ctx.client).await?
    };
    if let Some(problem) = Problem::from_send(&outcome, false) {
        return challenge_page(&ctx, Some(problem)).await;
    }
    let flash = sent_message(&outcome, &form.what);
    ctx.redirect("/challenge", Some(flash)).await
}

#[derive(Deserialize)]
pub(crate) struct LinkQuery {
    #[serde(default)]
    token: String,
    /// Set by the page's own "Continue" link: a same-site navigation, which carries the
    /// session cookie if the browser has one.
    #[serde(default)]
    here: Option<String>,
}

/// The page a magic link opens. It consumes nothing (mail scanners open links too): only its
/// button, a POST, signs in. The session cookie is `SameSite=Strict`, so a link followed from a
/// mail client arrives without it: the page then starts no session (that would replace the
/// browser's own) and offers a same-site "Continue" link, which carries the cookie.
pub(crate) async fn magic_page(
    State(app): State<AppState>,
    session: AuthSession,
    Query(query): Query<LinkQuery>,
) -> WebResult {
    let inspection = match query.token.parse::<MagicLinkToken>() {
        Ok(token) => app.mfa.inspect_magic_link(&token).await?,
        Err(_) => LinkInspection::Invalid,
    };
    let LinkInspection::Valid { expires_at } = inspection else {
        let body = "<p class=\"flash error\" id=\"flash\">This link is invalid, expired or \
                    already used. Log in again to get a new one.</p>";
        return Ok(bare_page(
            &app,
            Problem::ExpiredCode.status(),
            "Sign-in link",
            body,
        ));
    };
    // Loads the session named by the cookie, if the request carried one.
    let _ = session.state().await?;
    let has_session = session.session().id().is_some();
    let token = escape_html(&query.token);
    let body = if has_session || query.here.is_some() {
        let csrf = session.csrf_token().await?;
        format!(
            "<p>Sign in to the mfa demo in this browser? The link works until {}, and only in \
             the browser where you asked for it.</p>\
             <form method=\"post\" action=\"/magic\">{}\
             <input type=\"hidden\" name=\"token\" value=\"{token}\">\
             <button id=\"confirm-magic-link\">Sign in</button></form>",
            format_utc(expires_at),
            csrf.form_field(),
        )
    } else {
        format!(
            "<p>Continue to sign in to the mfa demo in this browser.</p>\
             <p><a id=\"continue-magic-link\" href=\"/magic?token={token}&amp;here=1\">\
             Continue</a></p>"
        )
    };
    Ok(bare_page(&app, StatusCode::OK, "Sign-in link", &body))
}

#[derive(Deserialize)]
pub(crate) struct MagicForm {
    token: String,
}

pub(crate) async fn magic_confirm(ctx: Ctx, Form(form): Form<MagicForm>) -> WebResult {
    let binding = ctx.session.link_binding().await?;
    let mfa = &ctx.app.mfa;
    let outcome = match form.token.parse::<MagicLinkToken>() {
        // No step-up grant: a link signs in, it does not authorise changes.
        Ok(token) => {
            mfa.confirm_magic_link(
                &token,
                Some(binding.expose()),
                &ctx.client,
                VerifyOptions::new(),
            )
            .await?
        }
        // Not a link token: answered like an unknown or used link.
        Err(_) => Outcome::Expired,
    };
    match outcome {
        Outcome::Verified { user, .. } => {
            // The binding matched, so this is the session that asked; it still waits for the
            // second factor of this very user (a change of state forgets the binding).
            if pending(&ctx).map(|(u, _)| u) != Some(user.as_str()) {
                tracing::error!("a bound magic link verified in a session not waiting for it");
                return Err(Problem::Internal.into());
            }
            ctx.session.sign_in(&user, Some(mfa.now())).await?;
            let flash = Flash::ok("Signed in with the emailed link.");
            ctx.redirect("/account", Some(flash)).await
        }
        // The link alone names no account: every failure gets the same answer.
        failed => {
            let problem = Problem::public(&failed).unwrap_or(Problem::VerificationFailed);
            let message = "This link cannot sign in here: it is invalid, expired or used, or it \
                           was asked for in another browser. Open it in the browser where you \
                           asked for it, or log in again.";
            let body = "<p><a href=\"/login\">Log in</a></p>";
            Ok(ctx.error_page(problem.status(), "Sign-in link", message, body))
        }
    }
}
