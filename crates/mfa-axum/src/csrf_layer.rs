//! [`CsrfLayer`]: refuses state-changing requests that did not come from the application's own
//! pages.
//!
//! Two independent checks, both on every request whose method is not GET, HEAD, OPTIONS or
//! TRACE:
//! 1. **Where the request comes from.** A browser's `Sec-Fetch-Site` must be `same-origin` (or
//!    `none`, a request the user started); without it, an `Origin` must name this host or a
//!    trusted origin. A request with neither (a non-browser client) goes on to the token check.
//! 2. **The session's token**, from the [`CSRF_HEADER`] header or else from the [`CSRF_FIELD`]
//!    field of an `application/x-www-form-urlencoded` body, compared in constant time. Other
//!    bodies (multipart, JSON) must use the header.
//!
//! A refusal is `403 Forbidden` with the same short text for every reason; the reason goes to
//! the log at `info` level (never a token).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use axum::body::{Body, to_bytes};
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, HOST, ORIGIN};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use tower::{Layer, Service};
use tower_sessions::Session;

use crate::config::{EdgeConfig, normalise_origin};
use crate::csrf::{CSRF_FIELD, CSRF_HEADER, current};

/// Made by [`EdgeConfig::csrf_layer`]; add it inside (before, in `Router::layer` order) the
/// session layer, whose session it reads.
#[derive(Debug, Clone)]
pub struct CsrfLayer {
    config: EdgeConfig,
}

impl EdgeConfig {
    /// The layer that refuses cross-site and token-less state-changing requests.
    #[must_use]
    pub fn csrf_layer(&self) -> CsrfLayer {
        CsrfLayer {
            config: self.clone(),
        }
    }
}

impl<S> Layer<S> for CsrfLayer {
    type Service = CsrfService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CsrfService {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service of [`CsrfLayer`].
#[derive(Debug, Clone)]
pub struct CsrfService<S> {
    inner: S,
    config: EdgeConfig,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<Request<Body>> for CsrfService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // Call the instance that was polled ready; keep a fresh clone for the next request.
        let clone = self.inner.clone();
        let mut inner = core::mem::replace(&mut self.inner, clone);
        let config = self.config.clone();
        Box::pin(async move {
            match check(&config, request).await {
                Ok(request) => inner.call(request).await,
                Err(refusal) => Ok(refusal.into_response()),
            }
        })
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    CrossSite,
    NoSessionToken,
    NoSubmittedToken,
    WrongToken,
    FormTooLarge,
    NoSessionLayer,
    SessionFailed,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, text) = match self {
            Self::CrossSite | Self::NoSessionToken | Self::NoSubmittedToken | Self::WrongToken => {
                tracing::info!(reason = ?self, "CSRF check refused a request");
                (
                    StatusCode::FORBIDDEN,
                    "This form has expired or did not come from this site. Go back, reload the \
                     page and try again.",
                )
            }
            Self::FormTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large."),
            Self::NoSessionLayer | Self::SessionFailed => {
                tracing::error!(reason = ?self, "CSRF check could not read the session");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The server could not check this form; nothing was changed. Try again.",
                )
            }
        };
        (status, text).into_response()
    }
}

/// The methods that must not change state (RFC 9110 section 9.2.1).
fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Lets `request` through (with its body restored if it was read) or says why not.
async fn check(config: &EdgeConfig, request: Request<Body>) -> Result<Request<Body>, Refusal> {
    if is_safe(request.method()) {
        return Ok(request);
    }
    if is_cross_site(config, request.headers(), request.uri()) {
        return Err(Refusal::CrossSite);
    }
    let session = request
        .extensions()
        .get::<Session>()
        .cloned()
        .ok_or(Refusal::NoSessionLayer)?;
    let expected = current(&session)
        .await
        .map_err(|_| Refusal::SessionFailed)?
        .ok_or(Refusal::NoSessionToken)?;
    if let Some(header) = request.headers().get(CSRF_HEADER) {
        let submitted = header.to_str().map_err(|_| Refusal::WrongToken)?;
        return if expected.matches(submitted) {
            Ok(request)
        } else {
            Err(Refusal::WrongToken)
        };
    }
    if !is_urlencoded_form(request.headers()) {
        return Err(Refusal::NoSubmittedToken);
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, config.0.csrf_form_limit)
        .await
        .map_err(|_| Refusal::FormTooLarge)?;
    let submitted = form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == CSRF_FIELD)
        .map(|(_, value)| zeroize::Zeroizing::new(value.into_owned()))
        .ok_or(Refusal::NoSubmittedToken)?;
    if !expected.matches(&submitted) {
        return Err(Refusal::WrongToken);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

fn is_urlencoded_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Whether the browser says (or its `Origin` shows) that another site sent this request.
///
/// `Sec-Fetch-Site` wins when present: only `same-origin` and `none` pass (`same-site` is
/// refused too: a sibling subdomain may belong to someone else). Without it, an `Origin` must be
/// a trusted origin or name the request's host (`Host`, or the URI's authority in HTTP/2); an
/// `Origin` of `null` or anything unparseable is refused. With neither header, the request is
/// not a browser's cross-site form post, and only the token decides.
pub(crate) fn is_cross_site(config: &EdgeConfig, headers: &HeaderMap, uri: &Uri) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return false;
    };
    let Some(origin) = origin.to_str().ok().and_then(normalise_origin) else {
        return true;
    };
    if config.0.trusted_origins.contains(&origin) {
        return false;
    }
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    let authority = origin.split_once("://").map_or("", |(_, a)| a);
    !host.is_some_and(|h| h.trim().eq_ignore_ascii_case(authority))
}
