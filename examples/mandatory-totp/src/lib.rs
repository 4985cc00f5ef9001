#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod app;
mod backend;
mod error;
mod mail;
mod totp;
mod users;

pub use crate::app::{
    AppParts, FactorStep, MandatoryTotpApp, PasswordStep, PendingLogin, RegistrationStep,
    SecondFactor, Session,
};
pub use crate::backend::StoreHandle;
pub use crate::error::{Error, Result};
pub use crate::mail::{ChosenMailer, mailer_from_env};
pub use crate::totp::authenticator_code;
