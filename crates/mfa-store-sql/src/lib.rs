#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
#![cfg_attr(
    not(any(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code, unused_macros, unused_imports)
)]

mod common;
mod config;
mod convert;
mod dialect;
mod error;
mod impls;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod returning;
mod rows;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use crate::common::DEFAULT_PURGE_BATCH;
pub use crate::config::{MAX_PREFIX_LEN, SqlStoreConfig};
pub use crate::error::{Error, Result};
#[cfg(feature = "mysql")]
pub use crate::mysql::MySqlStore;
#[cfg(feature = "postgres")]
pub use crate::postgres::PgStore;
#[cfg(feature = "sqlite")]
pub use crate::sqlite::{SQLITE_BUSY_TIMEOUT, SqliteStore};

/// The driver crate, re-exported so applications build pools with the same version.
pub use sqlx;
