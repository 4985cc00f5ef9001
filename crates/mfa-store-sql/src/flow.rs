//! [`FlowStore`] on every engine: for now the provided compositions of the entity operations
//! (each coarse operation costs the round trips of the operations it stands for).

use mfa_store::FlowStore;

use crate::engine::Engine;
use crate::store::SqlStore;

impl<E: Engine> FlowStore for SqlStore<E> {}
