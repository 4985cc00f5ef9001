//! The routes: registration with the authenticator, password then TOTP, the signed-in page,
//! the self-service unlock and the administrator's unlock.

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use mfa::store::MfaSettings;
use mfa::{
    Authority, EmailAddress, EnrollmentOutcome, LinkInspection, Outcome, PasswordVerdict, Proof,
    TotpOptions, UnlockStart, UnlockToken, VerifyOptions,
};
use mfa_axum::tower_sessions::SessionStore;
use mfa_axum::{AuthSession, AuthState, Client, CsrfToken, Problem, SecondFactor, SignInStep};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::app::App;
use crate::html::{PageError, escape, form, page};

type Page = Result<Html<String>, PageError>;

pub(crate) fn router<S: SessionStore + Clone>(app: App, sessions: S) -> Router {
    let edge = app.inner.edge.clone();
    Router::new()
        .route("/", get(index))
        .route("/register", get(register_page).post(register))
        .route("/register/totp", get(totp_page).post(confirm_totp))
        .route("/login", get(login_page).post(login))
        .route("/login/totp", get(code_page).post(login_totp))
        .route("/login/recovery-code", post(login_recovery_code))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/admin", get(admin_page))
        .route("/admin/unlock", post(admin_unlock))
        .route("/unlock", get(unlock_landing).post(unlock))
        .route("/unlock/confirm", get(unlock_page))
        .layer(edge.csrf_layer())
        .layer(edge.session_layer(sessions))
        .layer(edge.layer())
        .with_state(app)
}

async fn index() -> Html<String> {
    page(
        "Acme",
        r#"<p><a href="/register">Register</a> or <a href="/login">sign in</a>.</p>"#,
    )
}

// ---------------------------------------------------------------------------------------------
// Registration: account, then the authenticator; no session until a login with both factors.

#[derive(Deserialize)]
struct Registration {
    user: String,
    email: String,
    password: String,
}

async fn register_page(csrf: CsrfToken) -> Html<String> {
    let fields = r#"<label>User name <input name="user" autocomplete="username" required></label>
<label>Email <input name="email" type="email" autocomplete="email" required></label>
<label>Password <input name="password" type="password" autocomplete="new-password" minlength="12" required></label>"#;
    page("Register", &form("/register", &csrf, fields, "Continue"))
}

/// A user name the service accepts: 1 to 64 of `a-z 0-9 . _ -`.
fn valid_user(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// `POST /register`: the account (password hashed with Argon2id, the email kept for security
/// notices), then the session waits for the authenticator: `303 /register/totp`.
async fn register(
    State(app): State<App>,
    session: AuthSession,
    Form(form): Form<Registration>,
) -> Result<Redirect, PageError> {
    let Ok(email) = EmailAddress::parse(&form.email) else {
        return Err(PageError::BAD_REGISTRATION);
    };
    let length = form.password.chars().count();
    if !valid_user(&form.user) || !(12..=1024).contains(&length) {
        return Err(PageError::BAD_REGISTRATION);
    }
    // A name the store knows (its user table lost in a restart: it lives in memory) stays
    // taken: registering it again must not reset that account's factors.
    let known = app
        .inner
        .store
        .settings(&form.user)
        .await
        .map_err(mfa::Error::from)?;
    if known.is_some() {
        return Err(PageError::USER_TAKEN);
    }
    let inner = app.inner.clone();
    let (user, password) = (form.user.clone(), Zeroizing::new(form.password));
    let added = tokio::task::spawn_blocking(move || inner.users.add(&user, &password))
        .await
        .map_err(|_| PageError::from(Problem::Internal))?;
    match added {
        Ok(()) => {}
        Err(crate::Error::UserExists) => return Err(PageError::USER_TAKEN),
        Err(_) => return Err(Problem::Internal.into()),
    }
    let mut settings = MfaSettings::new(&form.user);
    settings.email = Some(email);
    app.inner
        .store
        .put_settings(settings)
        .await
        .map_err(mfa::Error::from)?;
    session
        .set_state(AuthState::EnrolmentRequired { user: form.user })
        .await?;
    Ok(Redirect::to("/register/totp"))
}

/// A session that passed the password and must set up the authenticator (after `POST
/// /register`, or a login of a registration never completed). Anything else goes to `/login`.
struct Enrolling(String);

impl<S: Send + Sync> FromRequestParts<S> for Enrolling {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let session = AuthSession::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match session.state().await {
            Ok(Some(AuthState::EnrolmentRequired { user })) => Ok(Self(user)),
            Ok(_) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(PageError::from(e).into_response()),
        }
    }
}

/// `GET /register/totp`: a new authenticator secret (replacing one not yet confirmed), as a QR
/// code (inline SVG) and as text for typing in by hand.
async fn totp_page(
    State(app): State<App>,
    Enrolling(user): Enrolling,
    csrf: CsrfToken,
    Client(client): Client,
) -> Page {
    let enrolment = app
        .inner
        .mfa
        .start_totp_enrollment(
            &user,
            Authority::FirstFactor,
            "Authenticator",
            TotpOptions::new(),
            &client,
        )
        .await?;
    let svg = enrolment.qr_svg();
    let svg = svg
        .find("<svg")
        .and_then(|at| svg.get(at..))
        .unwrap_or_default();
    let body = format!(
        "<p>Scan this code with your authenticator app, <a id=\"key-uri\" href=\"{}\">open \
         it in the app</a> on this device, or type the key by hand.</p>\n\
         <figure>{svg}</figure>\n<p>Key: <code id=\"secret\">{}</code></p>\n{}",
        escape(enrolment.key_uri()),
        escape(enrolment.secret_base32()),
        form(
            "/register/totp",
            &csrf,
            r#"<label>The 8-digit code it shows <input name="code" inputmode="numeric" autocomplete="one-time-code" required></label>"#,
            "Activate",
        )
    );
    Ok(page("Set up your authenticator", &body))
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

/// `POST /register/totp`: the first code activates the authenticator; the 10 recovery codes
/// are shown this once, and the session ends (sign in with both factors next).
async fn confirm_totp(
    State(app): State<App>,
    session: AuthSession,
    Enrolling(user): Enrolling,
    Client(client): Client,
    Form(form): Form<CodeForm>,
) -> Page {
    let mfa = &app.inner.mfa;
    let outcome = mfa
        .finish_totp_enrollment(&user, Authority::FirstFactor, form.code.trim(), &client)
        .await?;
    let EnrollmentOutcome::Confirmed { recovery_codes } = outcome else {
        return Err(Problem::from_enrollment(&outcome, mfa.now())
            .unwrap_or(Problem::Internal)
            .into());
    };
    session.sign_out().await?;
    let codes: String = recovery_codes
        .map(|codes| {
            codes
                .expose()
                .iter()
                .map(|code| {
                    format!(
                        "<li class=\"recovery-code\"><code>{}</code></li>",
                        code.as_str()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let body = format!(
        "<p>Your authenticator is active. Keep these recovery codes somewhere safe: each signs \
         in once instead of a code, and they are not shown again.</p>\n<ol>{codes}</ol>\n\
         <p><a href=\"/login\">Sign in</a></p>"
    );
    Ok(page("Registration complete", &body))
}

// ---------------------------------------------------------------------------------------------
// Login: password, then the authenticator's code (or a recovery code), then the session.

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
}

async fn login_page(csrf: CsrfToken) -> Html<String> {
    let fields = r#"<label>User name <input name="user" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>"#;
    page("Sign in", &form("/login", &csrf, fields, "Continue"))
}

/// `POST /login`: the password step. Right: `303 /login/totp` (the session holds the login
/// ticket, nothing more); a registration never completed: `303 /register/totp`.
async fn login(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    Form(form): Form<LoginForm>,
) -> Result<Redirect, PageError> {
    let inner = app.inner.clone();
    let (user, password) = (form.user.clone(), Zeroizing::new(form.password));
    // Argon2id is slow on purpose: off the async workers, and only when the budgets allow it.
    let check = move || async move {
        let checked = tokio::task::spawn_blocking(move || inner.users.check(&user, &password));
        match checked.await {
            Ok(Ok(true)) => PasswordVerdict::Correct,
            Ok(Ok(false)) => PasswordVerdict::Wrong,
            _ => PasswordVerdict::Unavailable,
        }
    };
    let step = session
        .password_step(&app.inner.mfa, &form.user, None, &client, check)
        .await?;
    Ok(match step {
        SignInStep::SecondFactor { .. } => Redirect::to("/login/totp"),
        SignInStep::Enrol => Redirect::to("/register/totp"),
        _ => Redirect::to("/me"),
    })
}

async fn code_page(csrf: CsrfToken) -> Html<String> {
    let totp = form(
        "/login/totp",
        &csrf,
        r#"<label>Authenticator code <input name="code" inputmode="numeric" autocomplete="one-time-code" required></label>"#,
        "Sign in",
    );
    let recovery = form(
        "/login/recovery-code",
        &csrf,
        r#"<label>Or a recovery code <input name="code" autocomplete="off" required></label>"#,
        "Use recovery code",
    );
    page("Enter your code", &format!("{totp}\n{recovery}"))
}

/// `POST /login/totp`: the second factor; right: the session, `303 /me`. Every failure is the
/// same `401 verification_failed` (a wrong code, an expired login, a locked account).
async fn login_totp(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    Form(form): Form<CodeForm>,
) -> Result<Redirect, PageError> {
    let proof = Proof::Totp(form.code.trim());
    let _verified = session
        .second_factor(&app.inner.mfa, proof, &client, VerifyOptions::new())
        .await?;
    Ok(Redirect::to("/me"))
}

/// `POST /login/recovery-code`: a recovery code instead of the authenticator's (each works
/// once).
async fn login_recovery_code(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    Form(form): Form<CodeForm>,
) -> Result<Redirect, PageError> {
    let proof = Proof::RecoveryCode(form.code.trim());
    let _verified = session
        .second_factor(&app.inner.mfa, proof, &client, VerifyOptions::new())
        .await?;
    Ok(Redirect::to("/me"))
}

/// `GET /me`: only a session with both factors reaches it.
async fn me(State(app): State<App>, signed_in: SecondFactor, csrf: CsrfToken) -> Page {
    let left = app.inner.mfa.recovery_codes_left(&signed_in.user).await?;
    let admin = if app.inner.admins.contains(&signed_in.user) {
        r#"<p><a href="/admin">Administration</a></p>"#
    } else {
        ""
    };
    let body = format!(
        "<p>Signed in as <strong id=\"user\">{}</strong>.</p>\n\
         <p>Recovery codes left: <span id=\"recovery-codes-left\">{left}</span></p>\n{admin}\n{}",
        escape(&signed_in.user),
        form("/logout", &csrf, "", "Sign out")
    );
    Ok(page("Your account", &body))
}

async fn logout(session: AuthSession) -> Result<Redirect, PageError> {
    session.sign_out().await?;
    Ok(Redirect::to("/"))
}

// ---------------------------------------------------------------------------------------------
// Administration: configured administrators, signed in with both factors.

/// The signed-in user, if the configuration names them an administrator.
fn admin(app: &App, signed_in: &SecondFactor) -> Result<(), PageError> {
    if app.inner.admins.contains(&signed_in.user) {
        Ok(())
    } else {
        Err(Problem::NotAuthorised.into())
    }
}

async fn admin_page(State(app): State<App>, signed_in: SecondFactor, csrf: CsrfToken) -> Page {
    admin(&app, &signed_in)?;
    let fields = r#"<label>Unlock the account of <input name="user" required></label>"#;
    Ok(page(
        "Administration",
        &form("/admin/unlock", &csrf, fields, "Unlock"),
    ))
}

#[derive(Deserialize)]
struct UserForm {
    user: String,
}

/// `POST /admin/unlock`: lifts the account's locks (the audit record names the administrator).
async fn admin_unlock(
    State(app): State<App>,
    signed_in: SecondFactor,
    Form(form): Form<UserForm>,
) -> Page {
    admin(&app, &signed_in)?;
    app.inner
        .mfa
        .admin_unlock(&form.user, &signed_in.user)
        .await?;
    Ok(page(
        "Unlocked",
        &format!(
            "<p id=\"unlocked\">The account {} is unlocked.</p>",
            escape(&form.user)
        ),
    ))
}

// ---------------------------------------------------------------------------------------------
// Self-service unlock: the link in the lock notice, then a second factor in this browser.

#[derive(Deserialize)]
struct TokenQuery {
    token: String,
}

/// The live unlock link of `text`, or the page that says it is not.
async fn live_link(app: &App, text: &str) -> Result<UnlockToken, PageError> {
    let token: UnlockToken = text.parse().map_err(|_| Problem::ExpiredCode)?;
    match app.inner.mfa.inspect_unlock_link(&token).await? {
        LinkInspection::Valid { .. } => Ok(token),
        _ => Err(Problem::ExpiredCode.into()),
    }
}

/// `GET /unlock?token=`: the page the emailed link opens. It only looks at the link (a mail
/// scanner consumes nothing) and starts no session: the session cookie is `SameSite=Strict`,
/// so this first navigation from the mail carries none. The button leads to a same-site page.
async fn unlock_landing(State(app): State<App>, Query(query): Query<TokenQuery>) -> Page {
    let token = live_link(&app, &query.token).await?;
    let body = format!(
        "<p>Your account was locked after too many wrong codes from devices you had not used \
         before. Continue to unlock it with a code from your authenticator app.</p>\n\
         <p><a id=\"continue\" href=\"/unlock/confirm?token={}\">Continue</a></p>",
        escape(token.expose().as_str())
    );
    Ok(page("Unlock your account", &body))
}

/// `GET /unlock/confirm?token=`: the form that asks for a code from the authenticator app or
/// a recovery code.
async fn unlock_page(
    State(app): State<App>,
    Query(query): Query<TokenQuery>,
    csrf: CsrfToken,
) -> Page {
    let token = live_link(&app, &query.token).await?;
    let fields = format!(
        "<input type=\"hidden\" name=\"token\" value=\"{}\">\
         <label>Authenticator code or recovery code <input name=\"code\" autocomplete=\"one-time-code\" required></label>",
        escape(token.expose().as_str())
    );
    Ok(page(
        "Unlock your account",
        &form("/unlock", &csrf, &fields, "Unlock"),
    ))
}

#[derive(Deserialize)]
struct UnlockForm {
    token: String,
    code: String,
}

/// `POST /unlock`: opens an unlock ticket from the link (each link opens three) and answers it
/// with the code; right: the account is unlocked and the user signs in from the start (no
/// session is opened here).
async fn unlock(
    State(app): State<App>,
    Client(client): Client,
    Form(form): Form<UnlockForm>,
) -> Page {
    let mfa = &app.inner.mfa;
    let token: UnlockToken = form.token.parse().map_err(|_| Problem::ExpiredCode)?;
    let UnlockStart::ProofRequired { challenge_id, .. } = mfa.begin_unlock(&token, &client).await?
    else {
        return Err(Problem::ExpiredCode.into());
    };
    let code = form.code.trim();
    let proof = if code.bytes().all(|b| b.is_ascii_digit()) {
        Proof::Totp(code)
    } else {
        Proof::RecoveryCode(code)
    };
    match mfa
        .verify(&challenge_id, proof, &client, VerifyOptions::new())
        .await?
    {
        Outcome::Unlocked { .. } => Ok(page(
            "Account unlocked",
            r#"<p id="unlocked">Your account is unlocked. <a href="/login">Sign in</a> again.</p>"#,
        )),
        Outcome::Rejected { .. } => Err(PageError::WRONG_UNLOCK_CODE),
        other => Err(Problem::from_outcome(&other, mfa.now())
            .unwrap_or(Problem::Internal)
            .into()),
    }
}
