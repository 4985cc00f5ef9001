#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod app;
mod error;
mod routes;
mod setup;
mod users;

pub use crate::app::App;
pub use crate::error::{Error, Result};
pub use crate::setup::{
    BACKUP_CODES, Backends, SMS_CODE_LIFETIME, TwilioAccount, build_mfa, connect, session_store,
    twilio_sms,
};
