#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod app;
mod backend;
mod edge;
mod error;
mod mail;
mod session;
mod users;
mod web;

pub use crate::app::{AppParts, AppState};
pub use crate::backend::{StoreHandle, StoreKind};
pub use crate::edge::edge_from_env;
pub use crate::error::{Error, Result};
pub use crate::mail::{ChosenMailer, code_in_message, mailer_from_env, newest_outbox_message};
pub use crate::session::{Claims, SESSION_LIFETIME, SessionKey, SessionToken};
pub use crate::web::{router, serve};
