//! [`FlowStore`] on Redis: the coarse operations of a login.
//!
//! For now the provided compositions of the entity operations.

use mfa_store::FlowStore;

use crate::RedisStore;

impl FlowStore for RedisStore {}
