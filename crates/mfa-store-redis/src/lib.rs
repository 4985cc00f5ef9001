#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod codec;
mod config;
mod error;
mod keys;
mod scripts;
mod store;

// -- one module per entity: its trait implementation ----------------------------------------
mod audit;
mod challenge;
mod counter;
mod device;
mod recovery;
mod settings;
mod totp;

pub use crate::config::{KeyPrefix, RedisConfig};
pub use crate::error::{Error, Result};
pub use crate::store::RedisStore;
