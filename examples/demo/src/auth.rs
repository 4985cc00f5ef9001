//! Home, registration, password login and logout.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use mfa::core::PasswordHash;
use mfa::{DeviceToken, LoginStart, Method, PasswordVerdict};
use serde::Deserialize;

use crate::db::{self, Stage};
use crate::time::format_utc;
use crate::web::{CHALLENGE, Ctx, DEVICE, Shared, WebResult};

/// How long the trusted-device cookie lives (the facade's default: 30 days).
pub(crate) const DEVICE_COOKIE_SECS: u64 = 30 * 24 * 60 * 60;

pub(crate) async fn home(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    if ctx.user().is_some() {
        return Ok(ctx.redirect(&state, "/account", None).await?);
    }
    let body = "<p>This demo shows every second-factor flow of the <code>mfa</code> crates: \
        authenticator apps (TOTP) with a QR code, email codes, magic links, recovery codes, \
        trusted devices, lockouts and an audit log.</p>\
        <p><a href=\"/register\">Create an account</a> or <a href=\"/login\">log in</a>. \
        Codes and links sent by email appear in the <a href=\"/dev/inbox\">development \
        inbox</a>.</p>";
    Ok(ctx.page(&state, "Welcome", body))
}

pub(crate) async fn register_page(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    let body = format!(
        "<form method=\"post\" action=\"/register\">{}\
         <label>User name <input type=\"text\" name=\"username\" id=\"username\" required \
         autocomplete=\"username\"></label>\
         <label>Password (at least 10 characters) <input type=\"password\" name=\"password\" \
         id=\"password\" required autocomplete=\"new-password\"></label>\
         <button id=\"register\">Create account</button></form>",
        ctx.csrf_field(&state)
    );
    Ok(ctx.page(&state, "Register", &body))
}

#[derive(Deserialize)]
pub(crate) struct Credentials {
    csrf: String,
    username: String,
    password: String,
}

fn valid_username(name: &str) -> bool {
    (3..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

pub(crate) async fn register(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> WebResult {
    let mut ctx = Ctx::load(&state, &headers, addr).await?;
    if !ctx.csrf_ok(&state, &form.csrf) {
        return Ok(ctx.csrf_refused(&state));
    }
    let username = form.username.trim().to_ascii_lowercase();
    if !valid_username(&username) {
        let msg = "error:User names have 3 to 32 characters: a-z, 0-9, '.', '_' or '-'.";
        return Ok(ctx.redirect(&state, "/register", Some(msg.into())).await?);
    }
    if form.password.chars().count() < 10 {
        let msg = "error:Choose a password of at least 10 characters.";
        return Ok(ctx.redirect(&state, "/register", Some(msg.into())).await?);
    }
    let hasher = state.hasher;
    let password = zeroize::Zeroizing::new(form.password);
    let hash = tokio::task::spawn_blocking(move || hasher.hash_password(password.as_bytes()))
        .await
        .map_err(|_| crate::Error::Config("password hashing task failed".into()))??;
    if !db::create_user(&state.db, &username, hash.as_str(), state.unix_now()).await? {
        let msg = "error:This user name is taken; choose another.";
        return Ok(ctx.redirect(&state, "/register", Some(msg.into())).await?);
    }
    ctx.session.username = Some(username);
    ctx.session.stage = Stage::SignedIn;
    ctx.rotate(&state).await?;
    let msg = "Welcome! Protect your account: set up an authenticator app below.";
    Ok(ctx.redirect(&state, "/account", Some(msg.into())).await?)
}

pub(crate) async fn login_page(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> WebResult {
    let ctx = Ctx::load(&state, &headers, addr).await?;
    let body = format!(
        "<form method=\"post\" action=\"/login\">{}\
         <label>User name <input type=\"text\" name=\"username\" id=\"username\" required \
         autocomplete=\"username\"></label>\
         <label>Password <input type=\"password\" name=\"password\" id=\"password\" required \
         autocomplete=\"current-password\"></label>\
         <button id=\"login\">Log in</button></form>",
        ctx.csrf_field(&state)
    );
    Ok(ctx.page(&state, "Log in", &body))
}

pub(crate) async fn login(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> WebResult {
    let mut ctx = Ctx::load(&state, &headers, addr).await?;
    if !ctx.csrf_ok(&state, &form.csrf) {
        return Ok(ctx.csrf_refused(&state));
    }
    let username = form.username.trim().to_ascii_lowercase();
    let stored = db::password_hash(&state.db, &username).await?;
    let known = stored.is_some();
    let hash = match stored.as_deref().map(PasswordHash::parse) {
        Some(Ok(hash)) => hash,
        _ => state.dummy_hash.clone(),
    };
    // A cookie that is not a device token is no device.
    let device = ctx
        .cookie(DEVICE)
        .and_then(|token| token.parse::<DeviceToken>().ok());
    // The password is checked (one Argon2id, off the async threads) only when the attempt's
    // budgets allow it; a failure of the check itself is returned after the step, which counted
    // it as a wrong password.
    let hasher = state.hasher;
    let password = zeroize::Zeroizing::new(form.password);
    let mut failure = None;
    let slot = &mut failure;
    let start = state
        .mfa
        .password_step(
            &username,
            device.as_ref(),
            &ctx.client,
            move || async move {
                let verified = tokio::task::spawn_blocking(move || {
                    hasher.verify_password(password.as_bytes(), &hash)
                })
                .await;
                match verified {
                    Ok(Ok(matches)) if known && matches => PasswordVerdict::Correct,
                    Ok(Ok(_)) => PasswordVerdict::Wrong,
                    Ok(Err(e)) => {
                        *slot = Some(crate::Error::from(e));
                        PasswordVerdict::Unavailable
                    }
                    Err(_) => {
                        *slot = Some(crate::Error::Config("password hashing task failed".into()));
                        PasswordVerdict::Unavailable
                    }
                }
            },
        )
        .await;
    if let Some(e) = failure {
        return Err(e.into());
    }
    let start = start?;
    if let LoginStart::PasswordRejected = start {
        let msg = "error:Wrong user name or password.".to_owned();
        return Ok(ctx.redirect(&state, "/login", Some(msg)).await?);
    }
    ctx.session.username = Some(username);
    match start {
        LoginStart::NotRequired => {
            ctx.session.stage = Stage::SignedIn;
            ctx.rotate(&state).await?;
            let msg = "Signed in. You have no second factor yet: set one up below.";
            Ok(ctx.redirect(&state, "/account", Some(msg.into())).await?)
        }
        LoginStart::TrustedDevice { rotated_token } => {
            ctx.session.stage = Stage::SignedIn;
            ctx.rotate(&state).await?;
            ctx.set_cookie(
                &state,
                DEVICE,
                &rotated_token.expose(),
                Some(DEVICE_COOKIE_SECS),
            );
            let msg = "Signed in without a code: this device is trusted.";
            Ok(ctx.redirect(&state, "/account", Some(msg.into())).await?)
        }
        LoginStart::ChallengeRequired {
            challenge_id,
            methods,
            ..
        } => {
            ctx.session.stage = Stage::Password;
            ctx.session.methods = join_methods(&methods);
            ctx.session.pending_action = None;
            ctx.rotate(&state).await?;
            ctx.set_cookie(&state, CHALLENGE, &challenge_id.expose(), None);
            Ok(ctx.redirect(&state, "/challenge", None).await?)
        }
        LoginStart::LockedOut { until } => {
            ctx.session.username = None;
            ctx.save(&state).await?;
            let msg = format!(
                "error:Too many failed attempts: sign-in is locked until {}.",
                format_utc(until)
            );
            Ok(ctx.redirect(&state, "/login", Some(msg)).await?)
        }
        _ => Ok(ctx.redirect(&state, "/login", None).await?),
    }
}

/// The methods offered, as stored in the session.
pub(crate) fn join_methods(methods: &[Method]) -> String {
    methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    pub(crate) csrf: String,
}

pub(crate) async fn logout(
    State(state): State<Shared>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> WebResult {
    let mut ctx = Ctx::load(&state, &headers, addr).await?;
    if !ctx.csrf_ok(&state, &form.csrf) {
        return Ok(ctx.csrf_refused(&state));
    }
    ctx.session = db::SessionRow::anonymous(ctx.session.id_digest.clone(), 0);
    ctx.rotate(&state).await?;
    ctx.clear_cookie(&state, CHALLENGE);
    ctx.clear_cookie(&state, crate::web::GRANT);
    Ok(ctx
        .redirect(&state, "/login", Some("Signed out.".into()))
        .await?)
}
