#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod app;
mod cookie;
mod enroll;
mod error;
mod routes;

pub use crate::app::{App, Backends, build_mfa, connect_store};
pub use crate::cookie::{CookieSecurity, DEVICE_COOKIE, TRUSTED_DEVICE_DAYS};
pub use crate::error::{Error, Result};
