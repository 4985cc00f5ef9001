#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

#[macro_use]
mod account;
mod admin;
mod app;
mod auth;
mod challenge;
mod config;
mod db;
mod email;
mod error;
mod keys;
mod mailer;
mod manage;
mod page;
mod time;
mod web;

pub use crate::app::{Demo, REDIS_PREFIX, initialise_redis, run};
pub use crate::config::{DemoConfig, SmtpSettings, StoreKind, redis_url_from_env};
pub use crate::error::{Error, Result};
pub use crate::mailer::DevMailer;
