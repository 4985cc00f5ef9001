//! The magic link: the page it opens (which consumes nothing, so mail scanners that follow
//! links do no harm) and the button on it, which signs in only the browser session that asked
//! for the link.

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use mfa::{LinkInspection, MagicLinkToken, Outcome, VerifyOptions};
use mfa_axum::{AuthSession, AuthState, Client, Problem};
use serde::Deserialize;

use crate::web::{AppState, LoginProgress};

/// The query of the link: `?token=…`.
#[derive(Debug, Deserialize)]
pub(crate) struct LinkQuery {
    token: Option<String>,
}

/// The form of the page's button.
#[derive(Debug, Deserialize)]
pub(crate) struct LinkForm {
    token: String,
}

/// `text` with the characters that mean something in HTML replaced.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// A small HTML page (`title` is plain text; `body` is HTML).
fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let title = escape(title);
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         </head><body><h1>{title}</h1>{body}</body></html>"
    );
    (status, Html(html)).into_response()
}

fn expired() -> Response {
    html(
        StatusCode::GONE,
        "This link has expired",
        "<p>The link has expired or was already used. Ask for a new one.</p>",
    )
}

fn problem_page(problem: Problem) -> Response {
    html(
        problem.status(),
        "Sign-in failed",
        &format!("<p>{}</p>", escape(problem.message())),
    )
}

/// `GET /auth/link?token=…`: `200`, a page with a "Sign in" button, for a live link; `410`
/// for an expired, used or malformed one. Consumes nothing and starts no session (the browser
/// sends no session cookie on a navigation from a mail; a new session here would replace the
/// one that asked for the link).
pub(crate) async fn page(
    State(app): State<AppState>,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Response {
    let token = query
        .ok()
        .and_then(|Query(q)| q.token)
        .and_then(|text| text.parse::<MagicLinkToken>().ok());
    let Some(token) = token else {
        return expired();
    };
    match app.mfa().inspect_magic_link(&token).await {
        Ok(LinkInspection::Valid { .. }) => html(
            StatusCode::OK,
            "Sign in to Acme",
            &format!(
                "<p>Sign in to Acme in this browser.</p>\
                 <form method=\"post\" action=\"/auth/link\">\
                 <input type=\"hidden\" name=\"token\" value=\"{}\">\
                 <button type=\"submit\">Sign in</button></form>",
                escape(token.expose().as_str())
            ),
        ),
        Ok(_) => expired(),
        Err(e) => problem_page(Problem::from(e)),
    }
}

/// Whether the browser says (or its `Origin` shows) that another site sent this request:
/// `Sec-Fetch-Site` other than `same-origin` or `none`, or an `Origin` that is not this host.
/// A request with neither (not a browser's cross-site form) passes: the link's binding to the
/// asking session decides.
fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return false;
    };
    let authority = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    !matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h.trim()))
}

/// `POST /auth/link` (the page's button, `token=…`): `200`, a page saying who is signed in,
/// when this browser session asked for the link and it is live (the session gets a new id);
/// `401` for any other session, a used or expired link, or a locked account; `403` for a
/// request from another site.
pub(crate) async fn confirm(
    State(app): State<AppState>,
    session: AuthSession,
    Client(client): Client,
    headers: HeaderMap,
    form: Result<Form<LinkForm>, FormRejection>,
) -> Response {
    if cross_site(&headers) {
        return html(
            StatusCode::FORBIDDEN,
            "Sign-in refused",
            "<p>This form did not come from this site.</p>",
        );
    }
    let Ok(Form(form)) = form else {
        return expired();
    };
    match redeem(&app, &session, &client, &form.token).await {
        Ok(user) => html(
            StatusCode::OK,
            "Signed in",
            &format!(
                "<p>You are signed in as {}. You can close this tab.</p>",
                escape(&user)
            ),
        ),
        Err(Problem::VerificationFailed) => html(
            StatusCode::UNAUTHORIZED,
            "Sign-in failed",
            "<p>The link is used, expired, or was asked for in another browser. \
             Open it in the browser where you asked for it, or ask for a new one.</p>",
        ),
        Err(problem) => problem_page(problem),
    }
}

/// Redeems the link for this session's pending login; the user signed in.
async fn redeem(
    app: &AppState,
    session: &AuthSession,
    client: &mfa::ClientInfo,
    token: &str,
) -> Result<String, Problem> {
    // Only a session that asked for a link holds a pending login (and the link's binding):
    // any other is refused before the session is touched.
    let Some(AuthState::SecondFactorPending { user, .. }) = session.state().await? else {
        return Err(Problem::VerificationFailed);
    };
    let token: MagicLinkToken = token.parse().map_err(|_| Problem::VerificationFailed)?;
    let binding = session.link_binding().await?;
    let outcome = app
        .mfa()
        .confirm_magic_link(&token, Some(binding.expose()), client, VerifyOptions::new())
        .await?;
    match outcome {
        Outcome::Verified { user: verified, .. } if verified == user => {
            session.sign_in(&user, Some(app.mfa().now())).await?;
            LoginProgress::forget(session).await?;
            Ok(user)
        }
        Outcome::Verified { .. } => {
            tracing::error!("a magic link verified for another user than the session's");
            Err(Problem::Internal)
        }
        _ => Err(Problem::VerificationFailed),
    }
}
