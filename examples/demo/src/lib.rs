#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod account;
mod admin;
mod app;
mod auth;
mod challenge;
mod config;
mod contact;
mod db;
mod error;
mod keys;
mod manage;
mod outbox;
mod page;
mod stepup;
mod time;
mod webauthn;

pub use crate::app::{Demo, REDIS_PREFIX, initialise_redis, local_url, run};
pub use crate::config::{
    DEFAULT_DEV_ADMIN, DemoConfig, SmtpSettings, StoreKind, redis_url_from_env,
};
pub use crate::error::{Error, Result};
pub use crate::outbox::{DevMailer, DevSms};
