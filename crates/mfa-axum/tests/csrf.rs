//! CSRF protection over real HTTP: state-changing requests without this session's token, with a
//! wrong one, or sent by another site are refused with 403; the right token passes with the
//! form body intact; safe methods are never checked; the token changes at sign-in.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    reason = "test code: a failure should stop the test with its message"
)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::SystemTime;

use axum::Router;
use axum::extract::Form;
use axum::routing::{get, post};
use mfa_axum::tower_sessions::MemoryStore;
use mfa_axum::{
    AuthSession, AuthState, CSRF_FIELD, CSRF_HEADER, CsrfToken, EdgeConfig, EdgeConfigBuilder,
    Transport,
};

use common::{Req, serve};

async fn form_page(csrf: CsrfToken) -> String {
    csrf.form_field()
}

async fn submit(Form(fields): Form<HashMap<String, String>>) -> String {
    format!("ok:{}", fields.get("note").map_or("", String::as_str))
}

async fn sign_in(session: AuthSession) -> &'static str {
    let state = AuthState::SignedIn {
        user: "alice".into(),
        second_factor_at: Some(SystemTime::now()),
    };
    session.set_state(state).await.unwrap();
    "signed in"
}

async fn app_with(builder: EdgeConfigBuilder) -> SocketAddr {
    let edge = builder.build().unwrap();
    let router = Router::new()
        .route("/form", get(form_page))
        .route(
            "/submit",
            post(submit)
                .put(|| async { "ok" })
                .patch(|| async { "ok" })
                .delete(|| async { "ok" })
                .get(|| async { "ok" }),
        )
        .route(
            "/json",
            post(|body: String| async move { format!("ok:{body}") }),
        )
        .route("/sign-in", post(sign_in))
        .layer(edge.csrf_layer())
        .layer(edge.session_layer(MemoryStore::default()))
        .layer(edge.layer());
    serve(router).await
}

async fn app() -> SocketAddr {
    app_with(EdgeConfig::builder(Transport::PlainHttpForDevelopment)).await
}

/// A session: its cookie and its token, as a browser gets them from a form page.
async fn session(addr: SocketAddr) -> (String, String) {
    let reply = Req::get("/form").send(addr).await;
    assert_eq!(reply.status, 200);
    let cookie = reply.cookie_pair("mfa_session");
    let token = reply
        .body
        .split("value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert_eq!(token.len(), 43, "256 bits as base64url");
    (cookie, token)
}

fn form_with(token: &str) -> String {
    format!("note=hello&{CSRF_FIELD}={token}")
}

#[tokio::test]
async fn the_right_token_passes_and_the_form_arrives_whole() {
    let addr = app().await;
    let (cookie, token) = session(addr).await;
    let reply = Req::post("/submit")
        .cookie(&cookie)
        .form(&form_with(&token))
        .send(addr)
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok:hello"));
    // The field may come first, last or percent-encoded (base64url needs none, but a client
    // may encode anyway).
    let encoded = token.replace('-', "%2D");
    let reply = Req::post("/submit")
        .cookie(&cookie)
        .form(&format!("{CSRF_FIELD}={encoded}&note=again"))
        .send(addr)
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok:again"));
    // From a script: the header, any body.
    let reply = Req::post("/json")
        .cookie(&cookie)
        .header(CSRF_HEADER, &token)
        .body("application/json", br#"{"a":1}"#)
        .send(addr)
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, r#"ok:{"a":1}"#));
}

#[tokio::test]
async fn missing_wrong_or_foreign_tokens_are_refused() {
    let addr = app().await;
    let (cookie, token) = session(addr).await;
    let (_, other_sessions_token) = session(addr).await;
    let mut wrong = token.clone().into_bytes();
    wrong[10] = if wrong[10] == b'A' { b'B' } else { b'A' };
    let wrong = String::from_utf8(wrong).unwrap();
    let cases: Vec<(&str, Req)> = vec![
        ("no token", Req::post("/submit").cookie(&cookie).form("note=hello")),
        ("empty token", Req::post("/submit").cookie(&cookie).form(&form_with(""))),
        ("one character off", Req::post("/submit").cookie(&cookie).form(&form_with(&wrong))),
        ("truncated", Req::post("/submit").cookie(&cookie).form(&form_with(&token[..42]))),
        (
            "another session's token",
            Req::post("/submit")
                .cookie(&cookie)
                .form(&form_with(&other_sessions_token)),
        ),
        ("no session at all", Req::post("/submit").form(&form_with(&token))),
        (
            "a wrong header wins over a right field",
            Req::post("/submit")
                .cookie(&cookie)
                .header(CSRF_HEADER, &wrong)
                .form(&form_with(&token)),
        ),
        (
            "a non-ASCII header",
            Req::post("/json").cookie(&cookie).header(CSRF_HEADER, b"\xff\xfe"),
        ),
        (
            "JSON body without the header",
            Req::post("/json")
                .cookie(&cookie)
                .body("application/json", format!(r#"{{"{CSRF_FIELD}":"{token}"}}"#).as_bytes()),
        ),
        (
            "multipart without the header",
            Req::post("/submit").cookie(&cookie).body(
                "multipart/form-data; boundary=x",
                format!("--x\r\nContent-Disposition: form-data; name=\"{CSRF_FIELD}\"\r\n\r\n{token}\r\n--x--\r\n").as_bytes(),
            ),
        ),
        ("PUT without token", Req::new("PUT", "/submit").cookie(&cookie)),
        ("PATCH without token", Req::new("PATCH", "/submit").cookie(&cookie)),
        ("DELETE without token", Req::new("DELETE", "/submit").cookie(&cookie)),
    ];
    let total = cases.len();
    for (what, request) in cases {
        let reply = request.send(addr).await;
        assert_eq!(reply.status, 403, "{what}: {}", reply.body);
        assert!(reply.body.contains("did not come from this site"), "{what}");
    }
    for method in ["PUT", "PATCH", "DELETE"] {
        let reply = Req::new(method, "/submit")
            .cookie(&cookie)
            .header(CSRF_HEADER, &token)
            .send(addr)
            .await;
        assert_eq!(reply.status, 200, "{method} with the token");
    }
    println!("{total} forged requests refused with 403");
}

#[tokio::test]
async fn cross_site_requests_are_refused_even_with_the_token() {
    let addr = app().await;
    let (cookie, token) = session(addr).await;
    let post = |name: &'static str, value: String| {
        Req::post("/submit")
            .cookie(&cookie)
            .header(name, value)
            .form(&form_with(&token))
    };
    for (name, value, want) in [
        ("Sec-Fetch-Site", "cross-site".to_owned(), 403),
        ("Sec-Fetch-Site", "same-site".to_owned(), 403),
        ("Sec-Fetch-Site", "Same-Origin".to_owned(), 403),
        ("Sec-Fetch-Site", "garbage".to_owned(), 403),
        ("Sec-Fetch-Site", "same-origin".to_owned(), 200),
        ("Sec-Fetch-Site", "none".to_owned(), 200),
        ("Origin", "https://evil.example".to_owned(), 403),
        ("Origin", "null".to_owned(), 403),
        ("Origin", "not an origin".to_owned(), 403),
        (
            "Origin",
            format!("http://127.0.0.1:{}", addr.port() + 1),
            403,
        ),
        ("Origin", format!("http://{addr}"), 200),
        ("Origin", format!("HTTP://{addr}/"), 200),
    ] {
        let reply = post(name, value.clone()).send(addr).await;
        assert_eq!(reply.status, want, "{name}: {value}");
    }
    // Sec-Fetch-Site decides when both are present.
    let reply = Req::post("/submit")
        .cookie(&cookie)
        .header("Sec-Fetch-Site", "cross-site")
        .header("Origin", format!("http://{addr}"))
        .form(&form_with(&token))
        .send(addr)
        .await;
    assert_eq!(reply.status, 403);
}

#[tokio::test]
async fn a_trusted_origin_passes() {
    let addr = app_with(
        EdgeConfig::builder(Transport::PlainHttpForDevelopment)
            .trusted_origin("https://App.Example.com/"),
    )
    .await;
    let (cookie, token) = session(addr).await;
    let reply = Req::post("/submit")
        .cookie(&cookie)
        .header("Origin", "https://app.example.com")
        .form(&form_with(&token))
        .send(addr)
        .await;
    assert_eq!(reply.status, 200);
    let bad = EdgeConfig::builder(Transport::Tls)
        .trusted_origin("https://app.example.com/path")
        .build();
    assert!(matches!(bad, Err(mfa_axum::Error::InvalidOrigin(_))));
}

#[tokio::test]
async fn safe_methods_are_not_checked() {
    let addr = app().await;
    for method in ["GET", "HEAD", "OPTIONS"] {
        let reply = Req::new(method, "/submit")
            .header("Sec-Fetch-Site", "cross-site")
            .send(addr)
            .await;
        assert_ne!(reply.status, 403, "{method}");
    }
    let reply = Req::get("/submit")
        .header("Sec-Fetch-Site", "cross-site")
        .send(addr)
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok"));
}

#[tokio::test]
async fn a_form_beyond_the_limit_is_refused_unread() {
    let addr =
        app_with(EdgeConfig::builder(Transport::PlainHttpForDevelopment).csrf_form_limit(1024))
            .await;
    let (cookie, token) = session(addr).await;
    let big = format!("{}&note={}", form_with(&token), "x".repeat(2048));
    let reply = Req::post("/submit")
        .cookie(&cookie)
        .form(&big)
        .send(addr)
        .await;
    assert_eq!(reply.status, 413);
    // With the token in the header, the body is not the layer's business.
    let reply = Req::post("/submit")
        .cookie(&cookie)
        .header(CSRF_HEADER, &token)
        .form(&big)
        .send(addr)
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn the_token_changes_at_sign_in() {
    let addr = app().await;
    let (cookie, token) = session(addr).await;
    let reply = Req::post("/sign-in")
        .cookie(&cookie)
        .header(CSRF_HEADER, &token)
        .send(addr)
        .await;
    assert_eq!(reply.status, 200);
    let signed_in = reply.cookie_pair("mfa_session");
    assert_ne!(signed_in, cookie);
    // The token from before the sign-in is worthless with the new session.
    let reply = Req::post("/submit")
        .cookie(&signed_in)
        .form(&form_with(&token))
        .send(addr)
        .await;
    assert_eq!(reply.status, 403);
    let reply = Req::get("/form").cookie(&signed_in).send(addr).await;
    let fresh = reply
        .body
        .split("value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_ne!(fresh, token);
    let reply = Req::post("/submit")
        .cookie(&signed_in)
        .form(&form_with(fresh))
        .send(addr)
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn without_the_session_layer_nothing_passes() {
    let edge = EdgeConfig::builder(Transport::Tls).build().unwrap();
    let router = Router::new()
        .route("/form", get(form_page))
        .route("/submit", post(|| async { "ok" }))
        .layer(edge.csrf_layer())
        .layer(edge.layer());
    let addr = serve(router).await;
    assert_eq!(Req::get("/form").send(addr).await.status, 500);
    let reply = Req::post("/submit").form("a=b").send(addr).await;
    assert_eq!(reply.status, 500);
}

#[tokio::test]
async fn the_token_is_redacted_and_compared_exactly() {
    let store = std::sync::Arc::new(MemoryStore::default());
    let session = AuthSession::new(mfa_axum::tower_sessions::Session::new(None, store, None));
    let token = session.csrf_token().await.unwrap();
    let text = token.expose();
    assert_eq!(format!("{token:?}"), "CsrfToken { .. }");
    assert_eq!(
        token.form_field(),
        format!(
            r#"<input type="hidden" name="csrf_token" value="{}">"#,
            text.as_str()
        )
    );
    assert!(token.matches(&text));
    assert!(token.matches(&format!(" {}\n", text.as_str())));
    assert!(!token.matches(&text[1..]));
    assert!(!token.matches(&format!("{}A", text.as_str())));
    assert!(!token.matches(""));
    // The same session keeps its token until its sign-in state changes.
    assert!(session.csrf_token().await.unwrap().matches(&text));
}
