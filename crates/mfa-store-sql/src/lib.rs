#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
#![cfg_attr(
    not(any(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code, unused_imports)
)]

// -- the shared machinery: configuration, conversions, the generic sqlx layer, SQL text --------
mod config;
mod convert;
mod db;
mod dialect;
mod engine;
mod error;
mod migrate;
mod routines;
mod store;

// -- one module per entity: its statements, its rows and its mfa-store trait ---------------
mod audit;
mod challenge;
mod counter;
mod device;
mod flow;
mod recovery;
mod settings;
mod totp;
mod webauthn;

// -- one module per engine: its `Engine` implementation and its store alias ----------------
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod returning;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use crate::config::{MAX_PREFIX_LEN, SqlStoreConfig};
pub use crate::error::{Error, Result};
#[cfg(feature = "mysql")]
pub use crate::mysql::MySqlStore;
#[cfg(feature = "postgres")]
pub use crate::postgres::PgStore;
#[cfg(feature = "sqlite")]
pub use crate::sqlite::{SQLITE_BUSY_TIMEOUT, SqliteStore};
pub use crate::store::{DEFAULT_PURGE_BATCH, PING_IDLE_AFTER, SqlStore};

/// The driver crate, re-exported so applications build pools with the same version.
pub use sqlx;
