//! The pages: a minimal HTML layout, escaping, and failures as pages with the status and the
//! stable code of [`Problem`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use mfa_axum::Problem;

/// `text` with the five HTML-significant characters escaped.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole document around `body` (already HTML).
pub(crate) fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{} - Acme</title></head><body><h1>{}</h1>\n{body}\n</body></html>\n",
        escape(title),
        escape(title)
    ))
}

/// A failed request, as a page: the status and the stable code of a [`Problem`] (in the
/// `data-error` attribute, for scripts and tests) with its neutral sentence, and `Retry-After`
/// on 429 and 503.
#[derive(Debug)]
pub(crate) struct PageError {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    retry_after: Option<u64>,
}

impl PageError {
    /// The user name is taken (registration only: a registration form says so).
    pub(crate) const USER_TAKEN: Self = Self {
        status: StatusCode::CONFLICT,
        code: "user_taken",
        message: "This user name is taken. Choose another one.",
        retry_after: None,
    };

    /// The registration form is incomplete or malformed (and says what a valid one holds).
    pub(crate) const BAD_REGISTRATION: Self = Self {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_input",
        message: "Choose a user name of 1 to 64 lower-case letters, digits, '.', '_' or '-', \
                  give a valid email address and a password of 12 to 1024 characters.",
        retry_after: None,
    };

    /// The unlock answer was refused: a wrong code (the link allows a few tries).
    pub(crate) const WRONG_UNLOCK_CODE: Self = Self {
        status: StatusCode::UNAUTHORIZED,
        code: "code_mismatch",
        message: "The code is wrong. Open the link from the email again to retry.",
        retry_after: None,
    };
}

impl From<Problem> for PageError {
    fn from(problem: Problem) -> Self {
        Self {
            status: problem.status(),
            code: problem.code(),
            message: problem.message(),
            retry_after: problem
                .body()
                .get("retry_after")
                .and_then(serde_json::Value::as_u64)
                .or_else(|| (problem == Problem::Unavailable).then_some(5)),
        }
    }
}

impl From<mfa::Error> for PageError {
    fn from(error: mfa::Error) -> Self {
        Problem::from(error).into()
    }
}

impl From<mfa_axum::Error> for PageError {
    fn from(error: mfa_axum::Error) -> Self {
        Problem::from(error).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body = format!(
            "<p class=\"error\" data-error=\"{}\">{}</p>\n<p><a href=\"/\">Start again</a></p>",
            self.code,
            escape(self.message)
        );
        let mut response = (self.status, page("Something went wrong", &body)).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// A form that posts `fields` (HTML) to `action`, with the session's CSRF field.
pub(crate) fn form(action: &str, csrf: &mfa_axum::CsrfToken, fields: &str, button: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\">{}{fields}<button>{}</button></form>",
        escape(action),
        csrf.form_field(),
        escape(button)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn a_problem_keeps_its_status_code_and_wait() {
        let locked = PageError::from(Problem::LockedOut {
            retry_after: std::time::Duration::from_millis(1500),
        });
        let response = locked.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }
}
