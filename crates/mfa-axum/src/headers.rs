//! [`EdgeLayer`]: puts the [`EdgeConfig`] where extractors find it and adds the security headers
//! to every response.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::sync::Arc;

use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderName, HeaderValue, Request, Response};
use tower::{Layer, Service};

use crate::config::EdgeConfig;

/// The default `Content-Security-Policy`: resources from this origin only, no framing, forms
/// post only here, no `<base>` and no plug-ins. Inline scripts and styles are refused; serve
/// them as files, or replace the policy (for example to allow `img-src data:` for a QR code
/// given as a data URL).
pub const DEFAULT_CSP: &str = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; \
                               base-uri 'none'; object-src 'none'";

/// The default `Strict-Transport-Security` (one year), sent only over TLS. Add
/// `includeSubDomains` yourself once every subdomain serves HTTPS.
pub const DEFAULT_HSTS: &str = "max-age=31536000";

/// The headers [`EdgeLayer`] adds to every response that does not set them itself:
/// `Content-Security-Policy`, `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`
/// (pages carry tokens in links and forms), `X-Frame-Options: DENY` (for browsers without
/// `frame-ancestors`), `Cache-Control: no-store` (authenticated and token-bearing pages must not
/// be kept by shared or browser caches) and, over TLS, `Strict-Transport-Security`.
///
/// A handler that sets one of these headers keeps its own value: a static file can say
/// `Cache-Control: max-age=3600`, a page with an inline QR image its own CSP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityHeaders(Arc<[(HeaderName, HeaderValue)]>);

impl SecurityHeaders {
    pub(crate) fn new(csp: HeaderValue, hsts: Option<HeaderValue>) -> Self {
        let mut list = vec![
            (CONTENT_SECURITY_POLICY, csp),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ];
        if let Some(hsts) = hsts {
            list.push((STRICT_TRANSPORT_SECURITY, hsts));
        }
        Self(list.into())
    }

    /// The headers, in the order they are added.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.0.iter().map(|(n, v)| (n, v))
    }

    fn apply<B>(&self, response: &mut Response<B>) {
        let headers = response.headers_mut();
        for (name, value) in self.0.iter() {
            if !headers.contains_key(name) {
                headers.insert(name.clone(), value.clone());
            }
        }
    }
}

/// The outermost layer of an application on this crate: it makes the [`EdgeConfig`] available
/// to extractors such as [`ClientIp`](crate::ClientIp) (as a request extension) and adds the
/// [`SecurityHeaders`] to every response, refusals of inner layers included.
///
/// Made by [`EdgeConfig::layer`]; add it last (outermost) with `Router::layer`.
#[derive(Debug, Clone)]
pub struct EdgeLayer {
    config: EdgeConfig,
}

impl EdgeConfig {
    /// The layer that carries this configuration and adds the security headers.
    #[must_use]
    pub fn layer(&self) -> EdgeLayer {
        EdgeLayer {
            config: self.clone(),
        }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = EdgeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EdgeService {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service of [`EdgeLayer`].
#[derive(Debug, Clone)]
pub struct EdgeService<S> {
    inner: S,
    config: EdgeConfig,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for EdgeService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqB>) -> Self::Future {
        request.extensions_mut().insert(self.config.clone());
        EdgeFuture {
            inner: self.inner.call(request),
            headers: self.config.security_headers().clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`EdgeService`].
    pub struct EdgeFuture<F> {
        #[pin]
        inner: F,
        headers: SecurityHeaders,
    }
}

impl<F, ResB, E> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response<ResB>, E>>,
{
    type Output = Result<Response<ResB>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        this.headers.apply(&mut response);
        Poll::Ready(Ok(response))
    }
}
