//! Sessions over real HTTP: the session cookie's attributes, a new id (and the old one dead) at
//! every change of sign-in state, no adoption of an id the client made up, the typed states, and
//! nothing secret in `Debug`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    reason = "test code: a failure should stop the test with its message"
)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use axum::Router;
use axum::routing::{get, post};
use mfa_axum::tower_sessions::session::{Id, Record};
use mfa_axum::tower_sessions::session_store::{self, SessionStore};
use mfa_axum::tower_sessions::{MemoryStore, Session};
use mfa_axum::{
    AuthSession, AuthState, CsrfToken, EdgeConfig, ForwardedHeader, LoginTicket, Transport,
    TrustedProxies,
};

use common::{Req, serve};

const TICKET: &str = "c3VwZXItc2VjcmV0LWxvZ2luLXRpY2tldC1oYW5kbGU";
const NAME: &str = "__Host-mfa_session";

async fn describe(session: AuthSession) -> String {
    match session.state().await.unwrap() {
        None => "anonymous".to_owned(),
        Some(AuthState::SecondFactorPending { user, ticket }) => {
            format!("pending {user} {}", ticket.expose())
        }
        Some(AuthState::EnrolmentRequired { user }) => format!("enrol {user}"),
        Some(AuthState::SignedIn {
            user,
            second_factor_at,
        }) => format!(
            "signed in {user} at {}",
            second_factor_at
                .unwrap()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
        ),
        Some(_) => "other".to_owned(),
    }
}

async fn app() -> SocketAddr {
    let edge = EdgeConfig::builder(Transport::TlsBehindProxy)
        .trusted_proxies(
            ForwardedHeader::XForwardedFor,
            TrustedProxies::count(1).unwrap(),
        )
        .build()
        .unwrap();
    let router = Router::new()
        .route("/state", get(describe))
        .route(
            "/csrf",
            get(|t: CsrfToken| async move { t.expose().to_string() }),
        )
        .route(
            "/password",
            post(|s: AuthSession| async move {
                let ticket = LoginTicket::new(TICKET);
                let state = AuthState::SecondFactorPending {
                    user: "alice".into(),
                    ticket,
                };
                s.set_state(state).await.unwrap();
            }),
        )
        .route(
            "/enrol",
            post(|s: AuthSession| async move {
                s.set_state(AuthState::EnrolmentRequired { user: "bob".into() })
                    .await
                    .unwrap();
            }),
        )
        .route(
            "/second-factor",
            post(|s: AuthSession| async move {
                let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
                let user = s.state().await.unwrap().unwrap().user().to_owned();
                s.set_state(AuthState::SignedIn {
                    user,
                    second_factor_at: Some(at),
                })
                .await
                .unwrap();
            }),
        )
        .route(
            "/logout",
            post(|s: AuthSession| async move { s.sign_out().await.unwrap() }),
        )
        .route(
            "/corrupt",
            post(|s: AuthSession| async move {
                let value = serde_json::json!({ "state": "signed_in", "user": 7 });
                s.session().insert_value("mfa.auth", value).await.unwrap();
            }),
        )
        .layer(edge.session_layer(MemoryStore::default()))
        .layer(edge.layer());
    serve(router).await
}

async fn state(addr: SocketAddr, cookie: &str) -> String {
    Req::get("/state").cookie(cookie).send(addr).await.body
}

/// Posts to `path` with `cookie` and returns the rotated cookie the answer sets.
async fn step(addr: SocketAddr, path: &str, cookie: &str) -> String {
    let reply = Req::post(path).cookie(cookie).send(addr).await;
    assert_eq!(reply.status, 200, "{path}");
    // A full cookie every time (a `__Host-` cookie without `Secure` would be ignored).
    let set = reply.set_cookie(NAME).unwrap();
    assert!(
        set.contains("; Secure") && set.contains("Max-Age=43200"),
        "{path}: {set}"
    );
    reply.cookie_pair(NAME)
}

#[tokio::test]
async fn the_session_cookie_has_every_attribute() {
    let addr = app().await;
    let reply = Req::get("/csrf").send(addr).await;
    let set = reply.set_cookie(NAME).unwrap();
    let mut attrs: Vec<String> = set
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    attrs.sort();
    assert_eq!(
        attrs,
        [
            "httponly",
            "max-age=43200",
            "path=/",
            "samesite=strict",
            "secure"
        ],
        "{set}"
    );
    // Reading pages without a session starts none.
    let reply = Req::get("/state").send(addr).await;
    assert_eq!(reply.body, "anonymous");
    assert!(reply.all("set-cookie").is_empty());
}

#[tokio::test]
async fn every_sign_in_step_rotates_the_id_and_kills_the_old_one() {
    let addr = app().await;
    let first = Req::get("/csrf").send(addr).await;
    let c0 = first.cookie_pair(NAME);
    let t0 = first.body;

    let c1 = step(addr, "/password", &c0).await;
    assert_ne!(c1, c0);
    assert_eq!(state(addr, &c0).await, "anonymous", "pre-login id is dead");
    assert_eq!(state(addr, &c1).await, format!("pending alice {TICKET}"));
    let t1 = Req::get("/csrf").cookie(&c1).send(addr).await.body;
    assert_ne!(t1, t0, "new CSRF token with the new id");

    let c2 = step(addr, "/second-factor", &c1).await;
    assert_ne!(c2, c1);
    assert_eq!(state(addr, &c1).await, "anonymous", "pending id is dead");
    assert_eq!(state(addr, &c2).await, "signed in alice at 1700000000");

    let c3 = step(addr, "/logout", &c2).await;
    assert_ne!(c3, c2);
    assert_eq!(state(addr, &c2).await, "anonymous", "signed-in id is dead");
    assert_eq!(state(addr, &c3).await, "anonymous");
    let t3 = Req::get("/csrf").cookie(&c3).send(addr).await.body;
    assert_eq!(t3.len(), 43, "the signed-out session can still post a form");
    assert_ne!(t3, t1);
    println!("4 session ids, each dead after the next step");
}

#[tokio::test]
async fn a_made_up_session_id_is_never_adopted() {
    let addr = app().await;
    let chosen = format!("{NAME}=AAAAAAAAAAAAAAAAAAAAAA");
    let reply = Req::post("/password").cookie(&chosen).send(addr).await;
    let issued = reply.cookie_pair(NAME);
    assert_ne!(issued, chosen);
    assert_eq!(state(addr, &chosen).await, "anonymous");
    assert_eq!(
        state(addr, &issued).await,
        format!("pending alice {TICKET}")
    );
    // Garbage ids are ignored the same way.
    for junk in ["x", "\"\"", &"A".repeat(5000)] {
        let reply = Req::get("/state")
            .cookie(&format!("{NAME}={junk}"))
            .send(addr)
            .await;
        assert_eq!((reply.status, reply.body.as_str()), (200, "anonymous"));
    }
}

#[tokio::test]
async fn enrolment_and_an_unreadable_state() {
    let addr = app().await;
    let c0 = Req::get("/csrf").send(addr).await.cookie_pair(NAME);
    let c1 = step(addr, "/enrol", &c0).await;
    assert_eq!(state(addr, &c1).await, "enrol bob");
    // A state this version cannot read grants nothing.
    let reply = Req::post("/corrupt").cookie(&c1).send(addr).await;
    assert_eq!(reply.status, 200);
    assert_eq!(state(addr, &c1).await, "anonymous");
}

#[test]
fn debug_shows_no_ticket() {
    let state = AuthState::SecondFactorPending {
        user: "alice".into(),
        ticket: LoginTicket::new(TICKET),
    };
    let debug = format!("{state:?}");
    assert_eq!(debug, r#"SecondFactorPending { user: "alice", .. }"#);
    assert_eq!(
        format!("{:?}", LoginTicket::new(TICKET)),
        "LoginTicket { .. }"
    );
    let signed_in = AuthState::SignedIn {
        user: "alice".into(),
        second_factor_at: Some(SystemTime::UNIX_EPOCH),
    };
    assert_eq!(signed_in.signed_in_user(), Some("alice"));
    assert_eq!(state.signed_in_user(), None);
    assert_eq!(state.user(), "alice");
}

#[tokio::test]
async fn the_session_handle_prints_nothing_of_the_session() {
    let store = Arc::new(MemoryStore::default());
    let session = AuthSession::new(Session::new(None, store, None));
    session
        .set_state(AuthState::SecondFactorPending {
            user: "alice".into(),
            ticket: LoginTicket::new(TICKET),
        })
        .await
        .unwrap();
    let token = session.csrf_token().await.unwrap().expose();
    let debug = format!("{session:?} {:?}", session.state().await.unwrap());
    assert!(!debug.contains(TICKET), "{debug}");
    assert!(!debug.contains(token.as_str()), "{debug}");
}

/// A store that is down.
#[derive(Debug)]
struct DownStore;

#[async_trait]
impl SessionStore for DownStore {
    async fn save(&self, _: &Record) -> session_store::Result<()> {
        Err(session_store::Error::Backend("down".into()))
    }
    async fn load(&self, _: &Id) -> session_store::Result<Option<Record>> {
        Err(session_store::Error::Backend("down".into()))
    }
    async fn delete(&self, _: &Id) -> session_store::Result<()> {
        Err(session_store::Error::Backend("down".into()))
    }
}

#[tokio::test]
async fn a_failing_store_grants_nothing() {
    let session = AuthSession::new(Session::new(Some(Id(7)), Arc::new(DownStore), None));
    let error = session.state().await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(
        session
            .set_state(AuthState::EnrolmentRequired { user: "bob".into() })
            .await
            .is_err()
    );
    assert!(session.csrf_token().await.is_err());
}
