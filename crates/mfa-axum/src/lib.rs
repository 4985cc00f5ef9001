#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod client_ip;
mod config;
mod cookie;
mod csrf;
mod csrf_layer;
mod device;
mod error;
mod forwarded;
mod guard;
mod headers;
mod problem;
mod proxy;
mod session;
mod signin;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod sql_store;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use crate::client_ip::{ClientIp, ClientIpRejection};
pub use crate::config::{DEFAULT_CSRF_FORM_LIMIT, EdgeConfig, EdgeConfigBuilder, Transport};
pub use crate::cookie::{CookieKind, CookiePolicy, CookieValue, HostPrefix, MAX_COOKIE_AGE};
pub use crate::csrf::{CSRF_FIELD, CSRF_HEADER, CsrfToken, SessionRejection};
pub use crate::csrf_layer::{CsrfLayer, CsrfService};
pub use crate::device::TrustedDevice;
pub use crate::error::{Error, Result};
pub use crate::forwarded::ForwardedHeader;
pub use crate::guard::{
    Client, DevelopmentOnly, Enrolling, FactorChange, GuardRejection, SecondFactor, SignedIn,
    SteppedUp,
};
pub use crate::headers::{
    DEFAULT_CSP, DEFAULT_HSTS, EdgeFuture, EdgeLayer, EdgeService, SecurityHeaders,
};
pub use crate::problem::Problem;
pub use crate::proxy::{ClientIpSource, MAX_TRUSTED_HOPS, TrustedProxies};
pub use crate::session::{AuthSession, AuthState, LinkBinding, LoginTicket};
pub use crate::signin::{SignInStep, Verified};
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use crate::sql_store::SqlSessionStore;

/// The cookie jar handlers take and return (axum-extra's), re-exported so the versions match.
pub use axum_extra::extract::cookie::CookieJar;
/// The IP network type of [`TrustedProxies::networks`].
pub use ipnet::IpNet;
/// The sqlx this crate's session store is built with (features `sqlite`, `postgres`, `mysql`).
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use sqlx;
/// The session crate this one builds on (its `MemoryStore`, `Session`, `SessionStore`).
pub use tower_sessions;
