#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod codec;
mod config;
mod conn;
mod deployment;
mod durability;
mod error;
mod keys;
mod nodes;
mod scripts;
mod slot;
mod store;

// -- one module per entity: its trait implementation ----------------------------------------
mod audit;
mod challenge;
mod counter;
mod device;
mod flow;
mod recovery;
mod settings;
mod totp;
mod webauthn;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use crate::config::{EvictionCheck, KeyPrefix, RedisConfig};
pub use crate::deployment::{Initialisation, InitialisationReport, NodeSettings};
pub use crate::durability::{Durability, NotDurable};
pub use crate::error::{Error, Result};
pub use crate::store::RedisStore;
