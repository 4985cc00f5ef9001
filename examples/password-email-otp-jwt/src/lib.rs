#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod app;
mod backend;
mod error;
mod mail;
mod session;
mod users;

pub use crate::app::{AppParts, CodeStep, PasswordEmailApp, PasswordStep, PendingLogin};
pub use crate::backend::{StoreHandle, StoreKind};
pub use crate::error::{Error, Result};
pub use crate::mail::{ChosenMailer, code_in_message, mailer_from_env, newest_outbox_message};
pub use crate::session::{Claims, SESSION_LIFETIME, SessionKey, SessionToken};
