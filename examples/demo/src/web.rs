//! Per-request plumbing: the session cookie, CSRF tokens, replies and the page layout.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::header::{
    CONTENT_DISPOSITION, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE, USER_AGENT,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64ct::{Base64UrlUnpadded, Encoding as _};
use mfa::ClientInfo;
use mfa::core::Token;
use mfa_mail::escape_html;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::app::AppState;
use crate::db::{self, SessionRow, Stage};
use crate::error::Error;

/// The session cookie.
pub(crate) const SESSION: &str = "demo_session";
/// The pending challenge's handle.
pub(crate) const CHALLENGE: &str = "demo_challenge";
/// The trusted-device token.
pub(crate) const DEVICE: &str = "demo_device";
/// The step-up grant.
pub(crate) const GRANT: &str = "demo_grant";

const SESSION_SECS: i64 = 12 * 60 * 60;

/// A request's session, client and outgoing cookies.
pub(crate) struct Ctx {
    pub(crate) session: SessionRow,
    session_id: Zeroizing<String>,
    incoming: HashMap<String, String>,
    set_cookies: Vec<String>,
    pub(crate) client: ClientInfo,
    pub(crate) flash: Option<String>,
}

impl Ctx {
    /// Loads the session named by the cookie, or starts an anonymous one.
    pub(crate) async fn load(
        state: &AppState,
        headers: &HeaderMap,
        addr: SocketAddr,
    ) -> Result<Self, Error> {
        let incoming = parse_cookies(headers);
        let now = state.unix_now();
        let mut found = None;
        if let Some(id) = incoming.get(SESSION) {
            let digest = state.session_digest(id);
            if let Some(row) = db::load_session(&state.db, &digest, now).await? {
                found = Some((Zeroizing::new(id.clone()), row));
            }
        }
        let user_agent = headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(200).collect());
        let client = ClientInfo {
            ip: Some(addr.ip()),
            user_agent,
        };
        let mut ctx = match found {
            Some((session_id, session)) => Self {
                session,
                session_id,
                incoming,
                set_cookies: Vec::new(),
                client,
                flash: None,
            },
            None => {
                let session_id = Token::generate()?.expose();
                let session = SessionRow::anonymous(
                    state.session_digest(&session_id),
                    now.saturating_add(SESSION_SECS),
                );
                db::save_session(&state.db, &session).await?;
                let mut ctx = Self {
                    session,
                    session_id,
                    incoming,
                    set_cookies: Vec::new(),
                    client,
                    flash: None,
                };
                ctx.send_session_cookie(state);
                ctx
            }
        };
        if ctx.session.flash.is_some() {
            ctx.flash = ctx.session.flash.take();
            ctx.save(state).await?;
        }
        Ok(ctx)
    }

    fn send_session_cookie(&mut self, state: &AppState) {
        let value = self.session_id.clone();
        self.set_cookie(state, SESSION, &value, None);
    }

    /// The signed-in user, if the session has passed every factor.
    pub(crate) fn user(&self) -> Option<&str> {
        match self.session.stage {
            Stage::SignedIn => self.session.username.as_deref(),
            _ => None,
        }
    }

    /// A cookie the browser sent.
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.incoming.get(name).map(String::as_str)
    }

    /// This session's synchronizer token: a keyed digest of the session id, so it changes when
    /// the id rotates and is never stored.
    pub(crate) fn csrf(&self, state: &AppState) -> String {
        let digest = state
            .pepper
            .digest("mfa-demo/csrf", "", self.session_id.as_bytes());
        Base64UrlUnpadded::encode_string(digest.as_bytes())
    }

    /// Whether a submitted form's token is this session's (constant-time comparison).
    pub(crate) fn csrf_ok(&self, state: &AppState, submitted: &str) -> bool {
        let expected = self.csrf(state);
        bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
    }

    /// The hidden form field carrying the CSRF token.
    pub(crate) fn csrf_field(&self, state: &AppState) -> String {
        format!(
            r#"<input type="hidden" name="csrf" value="{}">"#,
            escape_html(&self.csrf(state))
        )
    }

    /// Replaces the session id (after a login step), keeping the session's data.
    pub(crate) async fn rotate(&mut self, state: &AppState) -> Result<(), Error> {
        let now = state.unix_now();
        db::delete_session(&state.db, &self.session.id_digest, now).await?;
        self.session_id = Token::generate()?.expose();
        self.session.id_digest = state.session_digest(&self.session_id);
        self.session.expires_at = now.saturating_add(SESSION_SECS);
        self.save(state).await?;
        self.send_session_cookie(state);
        Ok(())
    }

    /// Writes the session row.
    pub(crate) async fn save(&self, state: &AppState) -> Result<(), Error> {
        db::save_session(&state.db, &self.session).await
    }

    /// Sets a cookie: HttpOnly, SameSite=Lax, Secure behind TLS.
    pub(crate) fn set_cookie(
        &mut self,
        state: &AppState,
        name: &str,
        value: &str,
        max_age: Option<u64>,
    ) {
        let secure = if state.secure_cookies { "; Secure" } else { "" };
        let age = max_age
            .map(|s| format!("; Max-Age={s}"))
            .unwrap_or_default();
        self.set_cookies.push(format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}{age}"
        ));
    }

    /// Removes a cookie.
    pub(crate) fn clear_cookie(&mut self, state: &AppState, name: &str) {
        self.set_cookie(state, name, "", Some(0));
    }

    /// A full page.
    pub(crate) fn page(self, state: &AppState, title: &str, body: &str) -> Reply {
        let html = crate::page::layout(state, &self, title, body);
        Reply {
            status: StatusCode::OK,
            cookies: self.set_cookies,
            body: Body::Html(html),
        }
    }

    /// A page with another status (403 for a bad CSRF token).
    pub(crate) fn page_status(
        self,
        state: &AppState,
        status: StatusCode,
        title: &str,
        body: &str,
    ) -> Reply {
        let mut reply = self.page(state, title, body);
        reply.status = status;
        reply
    }

    /// A redirect (303 See Other) with a message for the next page.
    pub(crate) async fn redirect(
        mut self,
        state: &AppState,
        to: &str,
        flash: Option<String>,
    ) -> Result<Reply, Error> {
        if flash.is_some() {
            self.session.flash = flash;
            self.save(state).await?;
        }
        Ok(Reply {
            status: StatusCode::SEE_OTHER,
            cookies: self.set_cookies,
            body: Body::Redirect(to.to_owned()),
        })
    }

    /// A text file download.
    pub(crate) fn download(self, filename: &'static str, text: String) -> Reply {
        Reply {
            status: StatusCode::OK,
            cookies: self.set_cookies,
            body: Body::Download { filename, text },
        }
    }

    /// The refusal of a form without this session's CSRF token.
    pub(crate) fn csrf_refused(self, state: &AppState) -> Reply {
        self.page_status(
            state,
            StatusCode::FORBIDDEN,
            "Form expired",
            "<p class=\"error\">This form has expired or did not come from this site. \
             Go back, reload the page and try again.</p>",
        )
    }
}

fn parse_cookies(headers: &HeaderMap) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for value in headers.get_all(COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                out.entry(k.to_owned()).or_insert_with(|| v.to_owned());
            }
        }
    }
    out
}

/// What a handler answers.
pub(crate) struct Reply {
    status: StatusCode,
    cookies: Vec<String>,
    body: Body,
}

enum Body {
    Html(String),
    Redirect(String),
    Download {
        filename: &'static str,
        text: String,
    },
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Body::Html(html) => (
                self.status,
                [(CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response(),
            Body::Redirect(to) => {
                let mut r = StatusCode::SEE_OTHER.into_response();
                if let Ok(v) = HeaderValue::from_str(&to) {
                    r.headers_mut().insert(LOCATION, v);
                }
                r
            }
            Body::Download { filename, text } => (
                self.status,
                [
                    (CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
                    (
                        CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{filename}\""),
                    ),
                ],
                text,
            )
                .into_response(),
        };
        let headers = response.headers_mut();
        headers.insert("cache-control", HeaderValue::from_static("no-store"));
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        headers.insert(
            "content-security-policy",
            HeaderValue::from_static(
                "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'self'",
            ),
        );
        for cookie in self.cookies {
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                headers.append(SET_COOKIE, v);
            }
        }
        response
    }
}

/// A failed request: logged, answered with a generic 500 page.
pub(crate) struct Failure(Error);

impl<E: Into<Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.0, "request failed");
        let html = format!(
            "<!doctype html><title>Error</title><h1>Something went wrong</h1>\
             <p>{}</p><p><a href=\"/\">Home</a></p>",
            escape_html(
                "The server could not complete this request; nothing was changed. Try again."
            )
        );
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response()
    }
}

/// What handlers return.
pub(crate) type WebResult = Result<Reply, Failure>;

/// The shared state, as handlers receive it.
pub(crate) type Shared = Arc<AppState>;
