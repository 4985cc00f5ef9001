#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod app;
mod backend;
mod error;
mod mail;

pub use crate::app::{EmailLinkApp, PendingLogin, Registration, SignIn};
pub use crate::backend::{StoreHandle, StoreKind};
pub use crate::error::{Error, Result};
pub use crate::mail::{
    ChosenMailer, code_in_message, link_token_in_message, mailer_from_env, newest_outbox_message,
};
