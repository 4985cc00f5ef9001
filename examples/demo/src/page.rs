//! What every page shares: the request context ([`Ctx`]: session, CSRF token, client, the
//! one-time message), the layout, and the HTML answers to mfa-axum's [`Problem`]s.

use std::time::SystemTime;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use mfa::ClientInfo;
use mfa_axum::{AuthSession, AuthState, Client, CsrfToken, Problem};
use mfa_mail::escape_html;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::time::{format_utc, format_wait};

/// The session key of the one-time message shown by the next page.
const FLASH_KEY: &str = "demo.flash";

/// A one-time message for the next page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Flash {
    ok: bool,
    text: String,
}

impl Flash {
    pub(crate) fn ok(text: impl Into<String>) -> Self {
        Self {
            ok: true,
            text: text.into(),
        }
    }

    pub(crate) fn error(text: impl Into<String>) -> Self {
        Self {
            ok: false,
            text: text.into(),
        }
    }

    fn html(&self) -> String {
        let class = if self.ok { "ok" } else { "error" };
        format!(
            "<p class=\"flash {class}\" id=\"flash\">{}</p>",
            escape_html(&self.text)
        )
    }
}

/// The request as a page sees it: the session (through mfa-axum), its CSRF token, the client
/// (the trusted address and user agent) and the message the previous step left.
pub(crate) struct Ctx {
    pub(crate) app: AppState,
    pub(crate) session: AuthSession,
    pub(crate) csrf: CsrfToken,
    pub(crate) client: ClientInfo,
    pub(crate) state: Option<AuthState>,
    flash: Option<Flash>,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Failure> {
        let session = AuthSession::from_request_parts(parts, app)
            .await
            .map_err(|_| Failure(Problem::Internal))?;
        let csrf = session.csrf_token().await?;
        let Client(client) = Client::from_request_parts(parts, app)
            .await
            .map_err(|_| Failure(Problem::Internal))?;
        let state = session.state().await?;
        let flash = session
            .session()
            .remove::<Flash>(FLASH_KEY)
            .await
            .map_err(mfa_axum::Error::from)?;
        Ok(Self {
            app: app.clone(),
            session,
            csrf,
            client,
            state,
            flash,
        })
    }
}

impl Ctx {
    /// The signed-in user, if any.
    pub(crate) fn user(&self) -> Option<&str> {
        self.state.as_ref().and_then(AuthState::signed_in_user)
    }

    /// `<input type="hidden" name="csrf_token" ...>` for this session's forms.
    pub(crate) fn csrf_field(&self) -> String {
        self.csrf.form_field()
    }

    /// A full page, 200.
    pub(crate) fn page(&self, title: &str, body: &str) -> Response {
        self.page_status(StatusCode::OK, title, body)
    }

    /// A full page with another status.
    pub(crate) fn page_status(&self, status: StatusCode, title: &str, body: &str) -> Response {
        let flash = self.flash.as_ref().map(Flash::html).unwrap_or_default();
        self.document(status, title, &format!("{flash}{body}"))
    }

    /// The document, without the one-time message (an error page shows its own).
    fn document(&self, status: StatusCode, title: &str, body: &str) -> Response {
        let nav = nav(&self.app, self.user(), Some(&self.csrf));
        let html = layout(&self.app, &nav, title, body);
        (status, Html(html)).into_response()
    }

    /// The page of a form that failed: `problem`'s status, its sentence above the form, and
    /// `Retry-After` when it has one.
    pub(crate) fn problem_page(&self, problem: Problem, title: &str, body: &str) -> Response {
        let now = self.app.mfa.now();
        let error = Flash::error(problem_text(problem, now)).html();
        let mut response = self.document(problem.status(), title, &format!("{error}{body}"));
        retry_after(&mut response, problem);
        response
    }

    /// The page of a form refused for a reason of the demo's own: `message` above `body`.
    pub(crate) fn error_page(
        &self,
        status: StatusCode,
        title: &str,
        message: &str,
        body: &str,
    ) -> Response {
        let error = Flash::error(message).html();
        self.document(status, title, &format!("{error}{body}"))
    }

    /// `303 See Other` to `to`, with a message for the page there.
    pub(crate) async fn redirect(
        &self,
        to: &str,
        flash: Option<Flash>,
    ) -> Result<Response, Failure> {
        if let Some(flash) = flash {
            self.session
                .session()
                .insert(FLASH_KEY, flash)
                .await
                .map_err(mfa_axum::Error::from)?;
        }
        Ok(Redirect::to(to).into_response())
    }
}

/// The sentence for `problem`: mfa-axum's, with the end of a lock or the tries left.
pub(crate) fn problem_text(problem: Problem, now: SystemTime) -> String {
    match problem {
        Problem::LockedOut { retry_after } => format!(
            "Too many failed attempts: locked until {} (in {}).",
            format_utc(now + retry_after),
            format_wait(retry_after)
        ),
        Problem::TooManyMessages { retry_after } => {
            format!("{} (Wait {}.)", problem.message(), format_wait(retry_after))
        }
        Problem::CodeMismatch {
            attempts_left: Some(left),
        } => format!("{} ({left} more tries.)", problem.message()),
        other => other.message().to_owned(),
    }
}

fn retry_after(response: &mut Response, problem: Problem) {
    if let Some(wait) = problem.retry_after()
        && let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
}

/// The navigation bar: who is signed in, and the links that apply.
fn nav(app: &AppState, user: Option<&str>, csrf: Option<&CsrfToken>) -> String {
    let inbox = if app.development {
        " <a href=\"/dev/inbox\">Dev inbox</a>"
    } else {
        ""
    };
    match (user, csrf) {
        (Some(user), Some(csrf)) => format!(
            "<span>Signed in as <strong id=\"whoami\">{}</strong></span> \
             <a href=\"/account\">Account</a>{inbox} \
             <form class=\"inline\" method=\"post\" action=\"/logout\">{}\
             <button id=\"logout\">Log out</button></form>",
            escape_html(user),
            csrf.form_field()
        ),
        _ => format!("<a href=\"/login\">Log in</a> <a href=\"/register\">Register</a>{inbox}"),
    }
}

/// The whole HTML document around `body` (already escaped by its maker).
fn layout(app: &AppState, nav: &str, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · mfa demo</title><link rel=\"stylesheet\" href=\"/style.css\"></head>\
         <body><header><a class=\"brand\" href=\"/\">mfa demo</a> <nav>{nav}</nav>\
         <small class=\"backend\">second-factor store: {backend}</small></header>\
         <main><h1>{title}</h1>{body}</main></body></html>",
        title = escape_html(title),
        backend = escape_html(app.backend),
    )
}

/// A page for a request without a session of its own (the magic-link page opened from an
/// email, which must not start a session): no navigation forms.
pub(crate) fn bare_page(app: &AppState, status: StatusCode, title: &str, body: &str) -> Response {
    let html = layout(app, &nav(app, None, None), title, body);
    (status, Html(html)).into_response()
}

/// A failed request: mfa-axum's [`Problem`] as an HTML page (the sentence and the status; a
/// `Retry-After` where it applies). Infrastructure failures were logged where they were mapped.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) Problem);

impl From<Problem> for Failure {
    fn from(problem: Problem) -> Self {
        Self(problem)
    }
}

impl From<mfa::Error> for Failure {
    fn from(e: mfa::Error) -> Self {
        Self(Problem::from(e))
    }
}

impl From<mfa_axum::Error> for Failure {
    fn from(e: mfa_axum::Error) -> Self {
        Self(Problem::from(e))
    }
}

impl From<crate::Error> for Failure {
    fn from(e: crate::Error) -> Self {
        tracing::error!(error = %e, "request failed");
        Self(Problem::Internal)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let problem = self.0;
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{status} · \
             mfa demo</title><link rel=\"stylesheet\" href=\"/style.css\"></head><body><main>\
             <h1>{status}</h1><p class=\"flash error\" id=\"flash\">{message}</p>\
             <p><a href=\"/\">Home</a></p></main></body></html>",
            status = problem.status(),
            message = escape_html(problem.message()),
        );
        let mut response = (problem.status(), Html(html)).into_response();
        retry_after(&mut response, problem);
        response
    }
}

/// What handlers return.
pub(crate) type WebResult = Result<Response, Failure>;

/// `404 Not Found` for every path the demo does not serve.
pub(crate) async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html><title>Not found</title><h1>Not found</h1>"),
    )
        .into_response()
}

/// The stylesheet (a file, since the Content-Security-Policy refuses inline styles).
pub(crate) async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:46rem;margin:0 auto;padding:1rem;color:#222}\n\
header{display:flex;gap:1rem;align-items:center;flex-wrap:wrap;border-bottom:1px solid #ccc;padding-bottom:.5rem}\n\
.brand{font-weight:bold;text-decoration:none}.backend{color:#666;margin-left:auto}\n\
form{margin:.6rem 0}form.inline{display:inline}label{display:block;margin:.3rem 0}\n\
input[type=text],input[type=password],input[type=email],input[type=tel]{padding:.3rem;font-size:1rem}\n\
button{padding:.3rem .8rem;font-size:1rem}.flash{padding:.5rem;border-radius:4px}\n\
.ok{background:#e6f4e6}.error{background:#fbe4e4}.warn{background:#fff4d6;padding:.5rem}\n\
code,pre{background:#f4f4f4;padding:.1rem .3rem}pre{white-space:pre-wrap;padding:.5rem}\n\
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .4rem;text-align:left}\n\
section{border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}\n";
