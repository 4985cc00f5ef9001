#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod app;
mod auth;
mod backend;
mod edge;
mod error;
mod link;
mod mail;
mod web;

pub use crate::app::{Parts, build_mfa};
pub use crate::backend::{
    SESSION_TABLE_PREFIX, Sessions, StoreHandle, StoreKind, postgres_sessions,
};
pub use crate::edge::edge_from_env;
pub use crate::error::{Error, Result};
pub use crate::mail::{
    ChosenMailer, code_in_message, link_token_in_message, mailer_from_env, newest_outbox_message,
};
pub use crate::web::{AppState, router};
