//! The web edge from the environment: how clients reach the service.

use mfa_axum::{EdgeConfig, ForwardedHeader, Transport};

use crate::error::{Error, Result};

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The web edge from the environment:
///
/// - `EXAMPLE_TRANSPORT`: `http` (default: plain HTTP on this machine, for development) or
///   `proxy` (TLS ends at a reverse proxy in front: secure `__Host-` cookies, HSTS;
///   `TRUSTED_PROXIES` is then required, and the service refuses to start without it);
/// - `TRUSTED_PROXIES`: how many proxies stand in front (`1`), or their networks
///   (`10.0.0.0/8, fd00::/8`); client addresses then come from the header they write;
/// - `FORWARDED_HEADER`: `x-forwarded-for` (default) or `forwarded` (RFC 7239).
///
/// # Errors
/// [`Error::Setting`] for an unknown value, [`Error::Edge`] for a configuration the web edge
/// refuses (a proxy without trusted proxies, a bad network).
pub fn edge_from_env() -> Result<EdgeConfig> {
    let transport = match var("EXAMPLE_TRANSPORT").as_deref().map(str::trim) {
        None | Some("http") => Transport::PlainHttpForDevelopment,
        Some("proxy") => Transport::TlsBehindProxy,
        Some(_) => return Err(Error::Setting("EXAMPLE_TRANSPORT must be http or proxy")),
    };
    let mut builder = EdgeConfig::builder(transport).pages("/", "/", "/", "/");
    if let Some(proxies) = var("TRUSTED_PROXIES") {
        let header = match var("FORWARDED_HEADER").as_deref().map(str::trim) {
            None | Some("x-forwarded-for") => ForwardedHeader::XForwardedFor,
            Some("forwarded") => ForwardedHeader::Forwarded,
            Some(_) => {
                return Err(Error::Setting(
                    "FORWARDED_HEADER must be x-forwarded-for or forwarded",
                ));
            }
        };
        builder = builder.trusted_proxies(header, proxies.parse()?);
    }
    Ok(builder.build()?)
}
