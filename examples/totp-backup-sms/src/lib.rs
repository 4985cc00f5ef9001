#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod authenticator;
mod error;
mod flow;
mod setup;

pub use crate::authenticator::TotpAccount;
pub use crate::error::{Error, Result};
pub use crate::flow::{Answer, PendingLogin, SignIn, TotpBackupSms};
pub use crate::setup::{
    BACKUP_CODES, Backends, SMS_CODE_LIFETIME, TwilioAccount, build_mfa, connect_postgres,
    twilio_sms,
};
