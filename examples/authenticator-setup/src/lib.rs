#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod app;
mod error;
mod routes;

pub use crate::app::{App, Backends, TRUSTED_DEVICE_DAYS, build_mfa, connect};
pub use crate::error::{Error, Result};
