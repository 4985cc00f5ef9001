//! Home, registration, password login and logout: the first factor is the demo's own (Argon2id
//! hashes in SQLite); mfa-axum's `AuthSession` moves the session with the facade's answer.

use axum::Form;
use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use mfa::PasswordVerdict;
use mfa::core::PasswordHash;
use mfa_axum::{CookieJar, Problem, SignInStep, TrustedDevice};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::app::AppState;
use crate::db;
use crate::page::{Ctx, Flash, WebResult};

pub(crate) async fn home(ctx: Ctx) -> WebResult {
    if ctx.user().is_some() {
        return ctx.redirect("/account", None).await;
    }
    let inbox = if ctx.app.development {
        " Codes and links sent by email or SMS appear in the <a href=\"/dev/inbox\">development \
         inbox</a>."
    } else {
        ""
    };
    let body = format!(
        "<p>This demo shows the second-factor flows of the <code>mfa</code> crates on \
         <code>mfa-axum</code>: authenticator apps (TOTP) with a QR code, email and SMS codes, \
         magic links bound to the browser that asked for them, recovery codes, trusted devices, \
         step-up before every change, lockouts and an audit log.</p>\
         <p><a href=\"/register\">Create an account</a> or <a href=\"/login\">log in</a>.{inbox}</p>"
    );
    Ok(ctx.page("Welcome", &body))
}

fn register_form(ctx: &Ctx) -> String {
    format!(
        "<form method=\"post\" action=\"/register\">{}\
         <label>User name <input type=\"text\" name=\"username\" id=\"username\" required \
         autocomplete=\"username\"></label>\
         <label>Password (at least 10 characters) <input type=\"password\" name=\"password\" \
         id=\"password\" required autocomplete=\"new-password\"></label>\
         <button id=\"register\">Create account</button></form>",
        ctx.csrf_field()
    )
}

pub(crate) async fn register_page(ctx: Ctx) -> WebResult {
    Ok(ctx.page("Register", &register_form(&ctx)))
}

#[derive(Deserialize)]
pub(crate) struct Credentials {
    username: String,
    password: String,
}

fn valid_username(name: &str) -> bool {
    (3..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// Why an account was not created.
pub(crate) enum Refusal {
    /// The name or password is not acceptable (the sentence says why).
    Invalid(&'static str),
    /// The database or the hasher failed.
    Failed(crate::Error),
}

/// Creates `username` with `password` (Argon2id off the async threads); `false` if taken.
pub(crate) async fn create_user(
    app: &AppState,
    username: &str,
    password: String,
) -> Result<bool, Refusal> {
    if !valid_username(username) {
        return Err(Refusal::Invalid(
            "User names have 3 to 32 characters: a-z, 0-9, '.', '_' or '-'.",
        ));
    }
    if password.chars().count() < 10 {
        return Err(Refusal::Invalid(
            "Choose a password of at least 10 characters.",
        ));
    }
    let hasher = app.hasher;
    let password = Zeroizing::new(password);
    let hash = tokio::task::spawn_blocking(move || hasher.hash_password(password.as_bytes()))
        .await
        .map_err(|_| Refusal::Failed(crate::Error::Config("password hashing failed".into())))?
        .map_err(|e| Refusal::Failed(e.into()))?;
    db::create_user(&app.db, username, hash.as_str(), app.unix_now())
        .await
        .map_err(Refusal::Failed)
}

pub(crate) async fn register(ctx: Ctx, Form(form): Form<Credentials>) -> WebResult {
    let username = form.username.trim().to_ascii_lowercase();
    // An administrator's name is registered only by the operator: in development from this
    // machine, otherwise with `mfa-demo add-user`. Anyone else is told it is taken, like any
    // other name that exists, so the answer does not say who the administrators are.
    let from_this_machine = ctx.client.ip.is_some_and(|ip| ip.is_loopback());
    let reserved = ctx.app.is_admin(&username) && !(ctx.app.development && from_this_machine);
    let created = if reserved {
        Ok(false)
    } else {
        create_user(&ctx.app, &username, form.password).await
    };
    match created {
        Ok(true) => {}
        Ok(false) => {
            let taken = "This user name is taken; choose another.";
            let form = register_form(&ctx);
            return Ok(ctx.error_page(StatusCode::CONFLICT, "Register", taken, &form));
        }
        Err(Refusal::Invalid(why)) => {
            let form = register_form(&ctx);
            return Ok(ctx.error_page(StatusCode::BAD_REQUEST, "Register", why, &form));
        }
        Err(Refusal::Failed(e)) => return Err(e.into()),
    }
    // The password was just set: the facade decides what the new user may do (with no factor
    // and an optional second factor, sign in; the session gets a new id).
    let step = ctx
        .session
        .begin_login(&ctx.app.mfa, &username, None, &ctx.client)
        .await?;
    let flash = match step {
        SignInStep::Enrol => "Welcome! Set up a second factor before anything else.",
        _ => "Welcome! Protect your account: set up an authenticator app below.",
    };
    ctx.redirect("/account", Some(Flash::ok(flash))).await
}

fn login_form(ctx: &Ctx) -> String {
    format!(
        "<form method=\"post\" action=\"/login\">{}\
         <label>User name <input type=\"text\" name=\"username\" id=\"username\" required \
         autocomplete=\"username\"></label>\
         <label>Password <input type=\"password\" name=\"password\" id=\"password\" required \
         autocomplete=\"current-password\"></label>\
         <button id=\"login\">Log in</button></form>",
        ctx.csrf_field()
    )
}

pub(crate) async fn login_page(ctx: Ctx) -> WebResult {
    Ok(ctx.page("Log in", &login_form(&ctx)))
}

pub(crate) async fn login(
    ctx: Ctx,
    TrustedDevice(device): TrustedDevice,
    jar: CookieJar,
    Form(form): Form<Credentials>,
) -> WebResult {
    let username = form.username.trim().to_ascii_lowercase();
    let stored = db::password_hash(&ctx.app.db, &username).await?;
    let known = stored.is_some();
    let hash = match stored.as_deref().map(PasswordHash::parse) {
        Some(Ok(hash)) => hash,
        _ => ctx.app.dummy_hash.clone(),
    };
    // The password is checked (one Argon2id, off the async threads) only when the attempt's
    // budgets allow it; a failure of the check itself ends the step without a session.
    let hasher = ctx.app.hasher;
    let password = Zeroizing::new(form.password);
    let check = move || async move {
        let verified =
            tokio::task::spawn_blocking(move || hasher.verify_password(password.as_bytes(), &hash))
                .await;
        match verified {
            Ok(Ok(matches)) if known && matches => PasswordVerdict::Correct,
            Ok(Ok(_)) => PasswordVerdict::Wrong,
            Ok(Err(_)) | Err(_) => {
                tracing::error!("the password hasher failed");
                PasswordVerdict::Unavailable
            }
        }
    };
    let step = ctx
        .session
        .password_step(&ctx.app.mfa, &username, device.as_ref(), &ctx.client, check)
        .await;
    match step {
        Ok(SignInStep::SecondFactor { .. }) => ctx.redirect("/challenge", None).await,
        Ok(SignInStep::SignedIn {
            rotated_device: Some(token),
        }) => {
            let jar = ctx.app.edge.cookies().remember_device(jar, &token);
            let flash = Flash::ok("Signed in without a code: this device is trusted.");
            let to = ctx.redirect("/account", Some(flash)).await?;
            Ok((jar, to).into_response())
        }
        Ok(SignInStep::SignedIn { .. }) => {
            let flash = Flash::ok("Signed in. You have no second factor yet: set one up below.");
            ctx.redirect("/account", Some(flash)).await
        }
        Ok(SignInStep::Enrol) => {
            let flash = Flash::ok("Set up a second factor before anything else.");
            ctx.redirect("/account", Some(flash)).await
        }
        Ok(_) => ctx.redirect("/login", None).await,
        // A wrong password (401), a lock (429 with its end), an outage (503): on the form.
        Err(problem @ (Problem::WrongPassword | Problem::LockedOut { .. })) => {
            Ok(ctx.problem_page(problem, "Log in", &login_form(&ctx)))
        }
        Err(problem) => Err(problem.into()),
    }
}

pub(crate) async fn logout(ctx: Ctx) -> WebResult {
    ctx.session.sign_out().await?;
    ctx.redirect("/login", Some(Flash::ok("Signed out."))).await
}
