#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod app;
mod backend;
mod error;
mod html;
mod mail;
mod routes;
mod users;

pub use crate::app::{App, AppParts, Settings};
pub use crate::backend::{
    DEFAULT_REDIS_PREFIX, connect_redis, initialise_redis, redis_url_from_env,
};
pub use crate::error::{Error, Result};
pub use crate::mail::{ChosenMailer, mailer_from_env};
