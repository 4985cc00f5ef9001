//! [`ClientIp`]: the extractor for the client's address.

use core::fmt;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::config::EdgeConfig;

/// The client's address, as the [`EdgeConfig`]'s [`ClientIpSource`](crate::ClientIpSource)
/// reads it: the TCP peer, or the trusted part of the proxy chain. IPv4-mapped IPv6 addresses
/// come out as IPv4.
///
/// Needs [`EdgeConfig::layer`] on the router and the server started with
/// `into_make_service_with_connect_info::<SocketAddr>()`; without either, extraction answers
/// 500 (a deployment mistake, logged) rather than guess.
///
/// ```
/// use mfa_axum::ClientIp;
///
/// async fn handler(ClientIp(ip): ClientIp) -> String {
///     format!("you are {ip}")
/// }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::get(handler));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

/// Why [`ClientIp`] could not be extracted: the application is set up incompletely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientIpRejection {
    /// No [`EdgeConfig`] in the request: add [`EdgeConfig::layer`] to the router.
    MissingEdgeLayer,
    /// No `ConnectInfo<SocketAddr>`: serve with `into_make_service_with_connect_info`.
    MissingConnectInfo,
}

impl fmt::Display for ClientIpRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MissingEdgeLayer => "ClientIp needs EdgeConfig::layer() on the router",
            Self::MissingConnectInfo => {
                "ClientIp needs the server started with into_make_service_with_connect_info"
            }
        })
    }
}

impl std::error::Error for ClientIpRejection {}

impl IntoResponse for ClientIpRejection {
    fn into_response(self) -> Response {
        tracing::error!(problem = %self, "cannot tell the client's address");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ClientIpRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let config = parts
            .extensions
            .get::<EdgeConfig>()
            .ok_or(ClientIpRejection::MissingEdgeLayer)?;
        let ConnectInfo(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .ok_or(ClientIpRejection::MissingConnectInfo)?;
        Ok(Self(config.client_ip().resolve(&parts.headers, peer.ip())))
    }
}
