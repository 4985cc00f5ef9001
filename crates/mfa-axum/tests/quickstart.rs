//! The README's application, over real HTTP with a real facade (memory store, manual clock):
//! password, second factor, guarded page; the guards' answers to browsers and scripts; step-up;
//! trusted devices; magic links bound to the session that asked for them; and the mapping of the
//! facade's answers to HTTP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should stop the test with its message"
)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::CookieJar;
use mfa::core::{Secret, Totp, TotpParams};
use mfa::mail::MemoryOutbox;
use mfa::{
    Authority, Clock as _, EmailAddress, EnrollmentOutcome, MailSettings, ManualClock, Method, Mfa,
    Outcome, PasswordVerdict, Policy, Proof, TotpOptions, VerifyOptions,
};
use mfa_axum::tower_sessions::MemoryStore;
use mfa_axum::{
    AuthSession, Client, CsrfToken, DevelopmentOnly, EdgeConfig, FactorChange, Problem,
    SecondFactor, SignInStep, SignedIn, SteppedUp, Transport, TrustedDevice,
};

use common::{Reply, Req, serve};

const PASSWORD: &str = "correct horse battery staple";

#[derive(Clone)]
struct App {
    mfa: Mfa,
    edge: EdgeConfig,
    outbox: Arc<MemoryOutbox>,
}

impl axum::extract::FromRef<App> for Mfa {
    fn from_ref(app: &App) -> Mfa {
        app.mfa.clone()
    }
}

#[derive(serde::Deserialize)]
struct Login {
    user: String,
    password: String,
}

#[derive(serde::Deserialize)]
struct Code {
    code: String,
    #[serde(default)]
    trust: String,
}

fn page(csrf: &CsrfToken, what: &str) -> Html<String> {
    Html(format!("<p>{what}</p>{}", csrf.form_field()))
}

async fn login(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    TrustedDevice(device): TrustedDevice,
    jar: CookieJar,
    Form(form): Form<Login>,
) -> Result<Response, Problem> {
    let verdict = if form.password == PASSWORD {
        PasswordVerdict::Correct
    } else {
        PasswordVerdict::Wrong
    };
    let step = session
        .password_step(
            &app.mfa,
            &form.user,
            device.as_ref(),
            &client,
            || async move { verdict },
        )
        .await?;
    Ok(match step {
        SignInStep::SecondFactor { .. } => Redirect::to("/login/second-factor").into_response(),
        SignInStep::SignedIn {
            rotated_device: Some(token),
        } => (
            app.edge.cookies().remember_device(jar, &token),
            Redirect::to("/"),
        )
            .into_response(),
        _ => Redirect::to("/").into_response(),
    })
}

async fn second_factor(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    jar: CookieJar,
    Form(form): Form<Code>,
) -> Result<Response, Problem> {
    let options = if form.trust.is_empty() {
        VerifyOptions::new()
    } else {
        VerifyOptions::new().trust_device(form.trust)
    };
    let verified = session
        .second_factor(&app.mfa, Proof::Totp(&form.code), &client, options)
        .await?;
    Ok(match verified.trusted_device_token {
        Some(token) => (
            app.edge.cookies().remember_device(jar, &token),
            Redirect::to("/"),
        )
            .into_response(),
        None => Redirect::to("/").into_response(),
    })
}

async fn home(SecondFactor { user, .. }: SecondFactor) -> String {
    format!("Hello, {user}.")
}

async fn whoami(signed_in: SignedIn) -> String {
    format!(
        "{} {}",
        signed_in.user,
        signed_in.second_factor_at.is_some()
    )
}

async fn danger(SteppedUp { user, .. }: SteppedUp) -> String {
    format!("{user} may change factors")
}

async fn step_up_begin(
    State(app): State<App>,
    signed_in: SignedIn,
    session: AuthSession,
    Client(client): Client,
) -> Result<String, Problem> {
    let methods = session
        .begin_step_up(&app.mfa, &signed_in.user, &client)
        .await?;
    Ok(format!("{methods:?}"))
}

async fn step_up_finish(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    Form(form): Form<Code>,
) -> Result<&'static str, Problem> {
    session
        .finish_step_up(&app.mfa, Proof::Totp(&form.code), &client)
        .await?;
    Ok("stepped up")
}

#[derive(serde::Deserialize)]
struct Email {
    email: String,
}

/// Passwordless: a magic link to the address, bound to this browser session.
async fn link_send(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    Form(form): Form<Email>,
) -> Result<&'static str, Problem> {
    let address: EmailAddress = form.email.parse().map_err(mfa::Error::from)?;
    let start = app.mfa.begin_email_login(&address, &client).await?;
    let mfa::LoginStart::ChallengeRequired { challenge_id, .. } = start else {
        return Err(Problem::Internal);
    };
    session
        .second_factor_pending(address.normalized().as_str(), &challenge_id)
        .await?;
    let _sent = session
        .send_magic_link(&app.mfa, "http://localhost/link", &client)
        .await?;
    Ok("sent if known")
}

#[derive(serde::Deserialize)]
struct LinkForm {
    token: String,
}

async fn link_confirm(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    Form(form): Form<LinkForm>,
) -> Result<&'static str, Problem> {
    let token = form.token.parse().map_err(mfa::Error::from)?;
    let _verified = session
        .confirm_magic_link(&app.mfa, &token, &client)
        .await?;
    Ok("signed in by link")
}

/// Step-up with an authenticator code in one call, then back to the page that asked for it.
async fn step_up_totp(
    State(app): State<App>,
    session: AuthSession,
    Client(client): Client,
    Form(form): Form<Code>,
) -> Result<Redirect, Problem> {
    session
        .step_up_with(&app.mfa, Proof::Totp(&form.code), &client)
        .await?;
    let back = session.take_return_to().await?;
    Ok(Redirect::to(back.as_deref().unwrap_or("/")))
}

async fn may_change(change: FactorChange) -> String {
    match change.authority() {
        Authority::FirstFactor => format!("{}: first factor", change.user),
        Authority::StepUp(_) => format!("{}: step-up", change.user),
    }
}

async fn dev_only(_: DevelopmentOnly) -> &'static str {
    "development tools"
}

fn router(app: App) -> Router {
    let edge = app.edge.clone();
    Router::new()
        .route("/", get(home))
        .route("/whoami", get(whoami))
        .route("/danger", get(danger))
        .route(
            "/login",
            get(|c: CsrfToken| async move { page(&c, "login") }).post(login),
        )
        .route(
            "/login/second-factor",
            get(|c: CsrfToken| async move { page(&c, "code") }).post(second_factor),
        )
        .route("/step-up", get(step_up_begin).post(step_up_finish))
        .route("/link", post(link_send))
        .route("/link/confirm", post(link_confirm))
        .route("/step-up/totp", post(step_up_totp))
        .route("/may-change", get(may_change))
        .route("/dev", get(dev_only))
        .layer(edge.csrf_layer())
        .layer(edge.session_layer(MemoryStore::default()))
        .layer(edge.layer())
        .with_state(app)
}

struct World {
    addr: SocketAddr,
    app: App,
    clock: ManualClock,
}

async fn world() -> World {
    let clock = ManualClock::at_unix_secs(1_800_000_000);
    let outbox = Arc::new(MemoryOutbox::new());
    let mail = MailSettings::new(
        "Acme",
        "no-reply@acme.test".parse().unwrap(),
        "help@acme.test".parse().unwrap(),
    );
    let mfa = Mfa::builder()
        .store(Arc::new(mfa::store::MemoryStore::new()))
        .mailer(outbox.clone())
        .mail_settings(mail)
        .keyring(mfa::Keyring::new(
            1,
            mfa::SealingKey::from_bytes(&[7; 32]).unwrap(),
        ))
        .pepper(mfa::Pepper::from_bytes(&[9; 32]).unwrap())
        .policy(Policy::authenticator_setup())
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let edge = EdgeConfig::builder(Transport::PlainHttpForDevelopment)
        .build()
        .unwrap();
    let app = App { mfa, edge, outbox };
    let addr = serve(router(app.clone())).await;
    World { addr, app, clock }
}

impl World {
    /// Enrols `user` with an authenticator; returns the generator of its codes.
    async fn enrol(&self, user: &str) -> Totp {
        let client = mfa::ClientInfo::new("192.0.2.1".parse().unwrap());
        let enrolment = self
            .app
            .mfa
            .start_totp_enrollment(
                user,
                Authority::FirstFactor,
                "Phone",
                TotpOptions::new(),
                &client,
            )
            .await
            .unwrap();
        let secret = Secret::from_base32(enrolment.secret_base32()).unwrap();
        let totp = Totp::new(&secret, TotpParams::default());
        let code = self.code(&totp);
        let done = self
            .app
            .mfa
            .finish_totp_enrollment(user, Authority::FirstFactor, &code, &client)
            .await
            .unwrap();
        assert!(matches!(done, EnrollmentOutcome::Confirmed { .. }));
        totp
    }

    /// The code of the next time step (the clock moves 30 s first, so no code repeats).
    fn code(&self, totp: &Totp) -> String {
        self.clock.advance(Duration::from_secs(30));
        totp.generate_at(self.clock.unix_secs())
            .unwrap()
            .expose()
            .to_string()
    }
}

/// A browser: its cookies, and the CSRF token of the last page.
#[derive(Default)]
struct Browser {
    cookies: BTreeMap<String, String>,
    csrf: String,
}

impl Browser {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, reply: &Reply) {
        for set in reply.all("set-cookie") {
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        if let Some(at) = reply.body.find("name=\"csrf_token\" value=\"") {
            let rest = &reply.body[at + "name=\"csrf_token\" value=\"".len()..];
            self.csrf = rest.split('"').next().unwrap().to_owned();
        }
    }

    async fn get(&mut self, addr: SocketAddr, path: &str) -> Reply {
        let reply = Req::get(path)
            .header("Accept", "text/html")
            .cookie(&self.cookie_header())
            .send(addr)
            .await;
        self.keep(&reply);
        reply
    }

    async fn post(&mut self, addr: SocketAddr, path: &str, form: &str) -> Reply {
        let body = format!("csrf_token={}&{form}", self.csrf);
        let reply = Req::post(path)
            .cookie(&self.cookie_header())
            .header("Origin", format!("http://{addr}"))
            .form(&body)
            .send(addr)
            .await;
        self.keep(&reply);
        reply
    }

    /// Opens the login page and posts the password.
    async fn password(&mut self, addr: SocketAddr, user: &str, password: &str) -> Reply {
        self.get(addr, "/login").await;
        self.post(
            addr,
            "/login",
            &format!("user={user}&password={}", password.replace(' ', "+")),
        )
        .await
    }
}

fn json(reply: &Reply) -> serde_json::Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|_| panic!("not JSON: {}", reply.body))
}

#[tokio::test]
async fn password_then_code_then_the_guarded_page() {
    let w = world().await;
    let totp = w.enrol("alice").await;
    let mut b = Browser::default();

    // No session: a browser is sent to the sign-in page, a script gets JSON.
    let reply = b.get(w.addr, "/").await;
    assert_eq!(
        (reply.status, reply.only("location")),
        (303, Some("/login"))
    );
    let reply = Req::get("/").send(w.addr).await;
    assert_eq!(reply.status, 401);
    assert_eq!(json(&reply)["error"], "sign_in_required");

    // A wrong password: 401, wrong_password, no state.
    let reply = b.password(w.addr, "alice", "guess").await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(json(&reply)["error"], "wrong_password");

    // The right one: the second factor is pending, under a new session id.
    let before = b.cookies.get("mfa_session").cloned();
    let reply = b.password(w.addr, "alice", PASSWORD).await;
    assert_eq!(reply.only("location"), Some("/login/second-factor"));
    assert_ne!(b.cookies.get("mfa_session"), before.as_ref());
    let reply = b.get(w.addr, "/").await;
    assert_eq!(reply.only("location"), Some("/login/second-factor"));

    // A wrong code: the uniform failure.
    b.get(w.addr, "/login/second-factor").await;
    let reply = b.post(w.addr, "/login/second-factor", "code=000000").await;
    assert_eq!(reply.status, 401);
    assert_eq!(json(&reply)["error"], "verification_failed");

    // The right code: signed in, the guarded page answers.
    let code = w.code(&totp);
    let reply = b
        .post(w.addr, "/login/second-factor", &format!("code={code}"))
        .await;
    assert_eq!(reply.only("location"), Some("/"), "{}", reply.body);
    let reply = b.get(w.addr, "/").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "Hello, alice."));

    // The same code again in a second browser: refused (single use), nothing signed in.
    let mut other = Browser::default();
    other.password(w.addr, "alice", PASSWORD).await;
    other.get(w.addr, "/login/second-factor").await;
    let reply = other
        .post(w.addr, "/login/second-factor", &format!("code={code}"))
        .await;
    assert_eq!(json(&reply)["error"], "verification_failed");
    assert_eq!(other.get(w.addr, "/").await.status, 303);
}

#[tokio::test]
async fn a_user_without_a_factor_is_signed_in_but_not_past_a_second_factor() {
    let w = world().await;
    let mut b = Browser::default();
    let reply = b.password(w.addr, "newbie", PASSWORD).await;
    assert_eq!(reply.only("location"), Some("/"));
    let reply = b.get(w.addr, "/whoami").await;
    assert_eq!(reply.body, "newbie false");
    // The page that needs the second factor sends the browser to enrol.
    let reply = b.get(w.addr, "/").await;
    assert_eq!(reply.only("location"), Some("/enroll"));
}

#[tokio::test]
async fn management_needs_a_live_step_up() {
    let w = world().await;
    let totp = w.enrol("bob").await;
    let mut b = Browser::default();
    b.password(w.addr, "bob", PASSWORD).await;
    b.get(w.addr, "/login/second-factor").await;
    let code = w.code(&totp);
    b.post(w.addr, "/login/second-factor", &format!("code={code}"))
        .await;

    // Signed in, but no step-up: the browser goes to the step-up page; a script gets 403.
    let reply = b.get(w.addr, "/danger").await;
    assert_eq!(reply.only("location"), Some("/step-up"));
    let reply = Req::get("/danger")
        .cookie(&b.cookie_header())
        .send(w.addr)
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(json(&reply)["error"], "step_up_required");

    // A wrong code is answered in detail (the user is known here).
    let reply = b.get(w.addr, "/step-up").await;
    assert_eq!(
        reply.body,
        format!("{:?}", [Method::Totp, Method::RecoveryCode])
    );
    b.get(w.addr, "/login").await; // a page with the (unchanged) CSRF token
    let reply = b.post(w.addr, "/step-up", "code=000000").await;
    assert_eq!(reply.status, 401);
    assert_eq!(json(&reply)["error"], "code_mismatch");
    assert!(json(&reply)["attempts_left"].is_u64());

    let code = w.code(&totp);
    let reply = b.post(w.addr, "/step-up", &format!("code={code}")).await;
    assert_eq!(reply.body, "stepped up");
    let reply = b.get(w.addr, "/danger").await;
    assert_eq!(reply.body, "bob may change factors");

    // The grant ends with its window.
    w.clock
        .advance(w.app.mfa.step_up_window() + Duration::from_secs(1));
    let reply = b.get(w.addr, "/danger").await;
    assert_eq!(reply.only("location"), Some("/step-up"));
}

#[tokio::test]
async fn a_trusted_device_skips_the_second_factor_and_its_cookie_rotates() {
    let w = world().await;
    let totp = w.enrol("carol").await;
    let mut b = Browser::default();
    b.password(w.addr, "carol", PASSWORD).await;
    b.get(w.addr, "/login/second-factor").await;
    let code = w.code(&totp);
    let reply = b
        .post(
            w.addr,
            "/login/second-factor",
            &format!("code={code}&trust=Laptop"),
        )
        .await;
    let set = reply.set_cookie("mfa_device").expect("a device cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    let first = b.cookies["mfa_device"].clone();

    // A new session (signed out), same browser: the password alone signs in.
    b.cookies.remove("mfa_session");
    let reply = b.password(w.addr, "carol", PASSWORD).await;
    assert_eq!(reply.only("location"), Some("/"));
    assert_ne!(b.cookies["mfa_device"], first, "the token rotated");
    assert_eq!(b.get(w.addr, "/").await.body, "Hello, carol.");

    // The old token is worthless: a second factor is asked for.
    let mut thief = Browser::default();
    thief.cookies.insert("mfa_device".into(), first);
    let reply = thief.password(w.addr, "carol", PASSWORD).await;
    assert_eq!(reply.only("location"), Some("/login/second-factor"));
}

#[tokio::test]
async fn a_magic_link_signs_in_only_the_session_that_asked_for_it() {
    let w = world().await;
    // An address enrolled as a factor: begin_email_login finds the user by it.
    let client = mfa::ClientInfo::new("192.0.2.1".parse().unwrap());
    let address: EmailAddress = "dora@example.com".parse().unwrap();
    let sent = w
        .app
        .mfa
        .start_email_enrollment(
            "dora@example.com",
            Authority::FirstFactor,
            &address,
            &client,
        )
        .await
        .unwrap();
    assert!(matches!(sent, mfa::SendOutcome::Sent { .. }));
    let code = six_digits(&w.app.outbox.last_text());
    let done = w
        .app
        .mfa
        .finish_email_enrollment(
            "dora@example.com",
            Authority::FirstFactor,
            &address,
            &code,
            &client,
        )
        .await
        .unwrap();
    assert!(matches!(done, EnrollmentOutcome::Confirmed { .. }));

    // Past the address's resend cooldown.
    w.clock.advance(Duration::from_secs(60));
    let mut asker = Browser::default();
    asker.get(w.addr, "/login").await;
    let reply = asker
        .post(w.addr, "/link", "email=dora%40example.com")
        .await;
    assert_eq!(reply.body, "sent if known");
    let mail = w.app.outbox.last_text();
    let token = mail
        .split("token=")
        .nth(1)
        .unwrap()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .next()
        .unwrap()
        .to_owned();

    // Whoever else gets the link, in their own browser: refused, and not signed in.
    let mut other = Browser::default();
    other.get(w.addr, "/login").await;
    let reply = other
        .post(w.addr, "/link/confirm", &format!("token={token}"))
        .await;
    assert_eq!(json(&reply)["error"], "verification_failed");
    assert_eq!(other.get(w.addr, "/whoami").await.status, 303);

    // The browser that asked (the link's page carries its form): signed in.
    asker.get(w.addr, "/login").await;
    let reply = asker
        .post(w.addr, "/link/confirm", &format!("token={token}"))
        .await;
    assert_eq!(reply.body, "signed in by link");
    assert_eq!(
        asker.get(w.addr, "/whoami").await.body,
        "dora@example.com true"
    );
}

/// The six-digit code in `text`.
fn six_digits(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned()
}

trait LastText {
    fn last_text(&self) -> String;
}

impl LastText for Arc<MemoryOutbox> {
    fn last_text(&self) -> String {
        self.last().unwrap().text().to_owned()
    }
}

#[tokio::test]
async fn problems_map_to_status_code_and_sentence() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    let cases = [
        (
            Problem::from_outcome(&Outcome::Rejected { attempts_left: 2 }, now).unwrap(),
            401,
            "code_mismatch",
        ),
        (
            Problem::from_outcome(&Outcome::Expired, now).unwrap(),
            410,
            "expired_code",
        ),
        (
            Problem::from(mfa::Error::NotAuthorised),
            403,
            "not_authorised",
        ),
        (
            Problem::from(mfa::Error::AlreadyEnabled),
            409,
            "already_enabled",
        ),
        (
            Problem::from(mfa::Error::from("x".parse::<EmailAddress>().unwrap_err())),
            400,
            "invalid_input",
        ),
    ];
    for (problem, status, code) in cases {
        let response = problem.into_response();
        assert_eq!(response.status().as_u16(), status, "{code}");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], code);
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // A lock says how long, in the body and in Retry-After (rounded up).
    let locked = Problem::from_outcome(
        &Outcome::LockedOut {
            until: now + Duration::from_millis(90_500),
        },
        now,
    )
    .unwrap();
    let response = locked.into_response();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "91");
    // Before the second factor every failure is the same answer.
    for outcome in [
        Outcome::Rejected { attempts_left: 2 },
        Outcome::Expired,
        Outcome::ChallengeExhausted,
        Outcome::LockedOut { until: now },
    ] {
        assert_eq!(Problem::public(&outcome), Some(Problem::VerificationFailed));
    }
    // A send is answered the same for known and unknown addresses, except a wait.
    assert_eq!(
        Problem::from_send(&mfa::SendOutcome::MethodUnavailable, true),
        None
    );
    assert_eq!(
        Problem::from_send(&mfa::SendOutcome::NoChallenge, false),
        Some(Problem::ExpiredCode)
    );
}

#[tokio::test]
async fn the_client_is_the_peer_with_a_bounded_user_agent() {
    let edge = EdgeConfig::builder(Transport::PlainHttpForDevelopment)
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/",
            get(|Client(client): Client| async move {
                format!(
                    "{:?} {}",
                    client.ip,
                    client.user_agent.as_deref().unwrap_or("-").len()
                )
            }),
        )
        .layer(edge.layer());
    let addr = serve(app).await;
    let long = "a".repeat(400);
    let reply = Req::get("/")
        .header("User-Agent", &long)
        .header("X-Forwarded-For", "203.0.113.9")
        .send(addr)
        .await;
    assert_eq!(
        reply.body, "Some(127.0.0.1) 256",
        "the peer (no proxies trusted), the agent cut to 256 bytes"
    );
    // An agent that is not visible ASCII is left out rather than mangled.
    let reply = Req::get("/")
        .header("User-Agent", "caf\u{e9}")
        .send(addr)
        .await;
    assert_eq!(reply.body, "Some(127.0.0.1) 1");
}

#[test]
fn guard_pages_must_be_local_paths() {
    for bad in ["https://evil.test/login", "//evil.test", "login", "/\\evil"] {
        let built = EdgeConfig::builder(Transport::PlainHttpForDevelopment)
            .pages(bad, "/2fa", "/step-up", "/enroll")
            .build();
        assert!(
            matches!(built, Err(mfa_axum::Error::InvalidPagePath(_))),
            "{bad}"
        );
    }
    assert!(
        EdgeConfig::builder(Transport::PlainHttpForDevelopment)
            .pages("/sign-in", "/2fa", "/step-up", "/enroll")
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn a_refused_page_is_the_page_a_step_up_returns_to() {
    let w = world().await;
    let totp = w.enrol("erin").await;
    let mut b = Browser::default();
    b.password(w.addr, "erin", PASSWORD).await;
    b.get(w.addr, "/login/second-factor").await;
    let code = w.code(&totp);
    b.post(w.addr, "/login/second-factor", &format!("code={code}"))
        .await;
    // A user with a factor may change factors only after a step-up.
    let reply = b.get(w.addr, "/may-change").await;
    assert_eq!(reply.only("location"), Some("/step-up"));
    let reply = b.get(w.addr, "/danger?tab=factors").await;
    assert_eq!(reply.only("location"), Some("/step-up"));
    b.get(w.addr, "/login").await;
    let code = w.code(&totp);
    let reply = b
        .post(w.addr, "/step-up/totp", &format!("code={code}"))
        .await;
    assert_eq!(
        reply.only("location"),
        Some("/danger?tab=factors"),
        "back to the last page refused"
    );
    assert_eq!(b.get(w.addr, "/may-change").await.body, "erin: step-up");
    // Taken once: the next step-up goes home.
    b.get(w.addr, "/login").await;
    let code = w.code(&totp);
    let reply = b
        .post(w.addr, "/step-up/totp", &format!("code={code}"))
        .await;
    assert_eq!(reply.only("location"), Some("/"));
}

#[tokio::test]
async fn a_first_factor_needs_no_step_up() {
    let w = world().await;
    let mut b = Browser::default();
    b.password(w.addr, "fresh", PASSWORD).await;
    assert_eq!(
        b.get(w.addr, "/may-change").await.body,
        "fresh: first factor"
    );
}

#[tokio::test]
async fn development_tools_answer_only_in_development_on_loopback() {
    let w = world().await;
    let mut b = Browser::default();
    assert_eq!(b.get(w.addr, "/dev").await.body, "development tools");
    // The same route behind a TLS proxy, even from loopback: 404.
    let edge = EdgeConfig::builder(Transport::TlsBehindProxy)
        .trusted_proxies(
            mfa_axum::ForwardedHeader::XForwardedFor,
            mfa_axum::TrustedProxies::count(1).unwrap(),
        )
        .build()
        .unwrap();
    let app = Router::new()
        .route("/dev", get(dev_only))
        .layer(edge.layer());
    let addr = serve(app).await;
    let reply = Req::get("/dev")
        .header("X-Forwarded-For", "127.0.0.1")
        .send(addr)
        .await;
    assert_eq!(reply.status, 404);
}

#[test]
fn settings_parse_from_text() {
    assert_eq!(
        "tls-behind-proxy".parse::<Transport>().unwrap(),
        Transport::TlsBehindProxy
    );
    assert_eq!(
        "Development".parse::<Transport>().unwrap(),
        Transport::PlainHttpForDevelopment
    );
    assert!("http".parse::<Transport>().is_err());
    assert_eq!(
        "X-Forwarded-For"
            .parse::<mfa_axum::ForwardedHeader>()
            .unwrap(),
        mfa_axum::ForwardedHeader::XForwardedFor
    );
    assert!("x-real-ip".parse::<mfa_axum::ForwardedHeader>().is_err());
}

#[test]
fn a_problem_renders_in_the_application_s_own_page() {
    let locked = Problem::LockedOut {
        retry_after: Duration::from_millis(1500),
    };
    assert_eq!(locked.retry_after_secs(), Some(2));
    let response = locked.with_body(Html("<p>Too many attempts.</p>"));
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(Problem::NotAuthorised.retry_after_secs(), None);
}
