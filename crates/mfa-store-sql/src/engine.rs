//! [`Engine`]: what one database engine adds to the shared code, implemented by sqlx's database
//! types (`sqlx::Postgres`, `sqlx::MySql`, `sqlx::Sqlite`) in `postgres/`, `mysql/` and
//! `sqlite/`.
//!
//! Everything else is written once: each entity's statements, the decoding of its rows and its
//! `mfa-store` trait live in the entity's file (`totp.rs`, `challenge.rs`, ...) and run on every
//! engine. An engine supplies its [`Syntax`] (placeholders, types, upsert spelling), how it
//! connects, migrates and begins a read-modify-write transaction, and the few operations whose
//! *shape* differs: those that return the row they changed (PostgreSQL and SQLite have
//! `RETURNING`, MySQL needs a transaction or a routine), the batch take, and the coarse
//! operations of a login (`FlowStore`: one statement around the engine's functions on
//! PostgreSQL, one routine call on MySQL, one transaction on SQLite).

use std::fmt::Debug;
use std::future::Future;

use mfa_core::CodeDigest;
use mfa_store::{
    AttemptView, AuditEvent, Challenge, CounterState, CounterTake, Result as SResult, Settlement,
    TrustedDevice,
};
use sqlx::{Pool, Transaction};

use crate::counter::KeyTake;
use crate::db::Db;
use crate::dialect::{Dialect, Syntax};
use crate::store::SqlStore;

/// One database engine. Private: only this crate's three engines implement it.
pub trait Engine: Db + Sized {
    /// How this engine spells what engines spell differently.
    const SYNTAX: &'static Syntax;

    /// The statements only this engine runs, built once per store.
    type Sql: Debug + Send + Sync + 'static;

    /// Builds [`Sql`](Self::Sql) for a store.
    fn sql(dialect: &Dialect) -> Self::Sql;

    /// A pool on `url` with this engine's defaults.
    fn connect(url: &str) -> impl Future<Output = sqlx::Result<Pool<Self>>> + Send;

    /// Applies the pending migrations with [`crate::migrate::apply`], safely against concurrent
    /// callers (the engine's lock and transaction).
    fn migrate(store: &SqlStore<Self>) -> impl Future<Output = crate::Result<()>> + Send;

    /// Begins a read-modify-write transaction.
    fn begin_write(
        pool: &Pool<Self>,
    ) -> impl Future<Output = sqlx::Result<Transaction<'static, Self>>> + Send;

    /// Serialises read-modify-write transactions on one user's rows of one kind where no row
    /// exists yet to lock (PostgreSQL: a transaction-scoped advisory lock). Nothing by default:
    /// MySQL's next-key locks and SQLite's single writer already serialise them.
    fn serialize_user(
        _store: &SqlStore<Self>,
        _tx: &mut Self::Connection,
        _scope: &str,
        _user: &str,
    ) -> impl Future<Output = sqlx::Result<()>> + Send {
        std::future::ready(Ok(()))
    }

    /// Stores `challenge` as `ChallengeStore::create_challenge` says (replacing the user's
    /// challenge of that purpose; another user's id is a `Conflict`, changing nothing).
    fn create_challenge(
        store: &SqlStore<Self>,
        challenge: &Challenge,
    ) -> impl Future<Output = SResult<()>> + Send;

    /// Spends one try of live, unconsumed challenge `id` with a try left, in one atomic step,
    /// and returns it as it is after the decrement; `None` if nothing was spent.
    fn spend(
        store: &SqlStore<Self>,
        id: &str,
        now: i64,
    ) -> impl Future<Output = SResult<Option<Challenge>>> + Send;

    /// Sets `last_seen = now` on `user`'s live device holding `token` and returns it as
    /// updated, in one atomic step.
    fn touch_device(
        store: &SqlStore<Self>,
        user: &str,
        token: &CodeDigest,
        now: i64,
    ) -> impl Future<Output = SResult<Option<TrustedDevice>>> + Send;

    /// The takes of `CounterStore::take_counters`, in order, stopping after the first refusal,
    /// in one round trip (one statement or routine call) or one transaction.
    fn take(
        store: &SqlStore<Self>,
        takes: &[KeyTake],
        now: i64,
    ) -> impl Future<Output = SResult<Vec<CounterTake>>> + Send;

    /// `CounterStore::lock_counter`, in one atomic step.
    fn lock_counter(
        store: &SqlStore<Self>,
        key: &str,
        until: i64,
        now: i64,
    ) -> impl Future<Output = SResult<CounterState>> + Send;

    /// `FlowStore::open_ticket` in one atomic step: the take of `budget` and, only if it was
    /// counted, `ticket` stored as [`create_challenge`](Self::create_challenge) stores it and
    /// `audit` appended. A conflict (another user's ticket id) changes nothing, the take
    /// included.
    fn open_ticket(
        store: &SqlStore<Self>,
        ticket: &Challenge,
        budget: &KeyTake,
        audit: &AuditEvent,
        now: i64,
    ) -> impl Future<Output = SResult<CounterTake>> + Send;

    /// `FlowStore::attempt` in one atomic step: the try, the takes of the plan's list for
    /// `tag` and the read of the factors. `None` if no try was spent and the read that names
    /// the refusal found the challenge changed since (nothing was done: the caller tries
    /// again).
    fn attempt(
        store: &SqlStore<Self>,
        id: &str,
        tag: Option<&str>,
        factors: bool,
        now: i64,
    ) -> impl Future<Output = SResult<Option<AttemptView>>> + Send;

    /// `FlowStore::settle` in one atomic step, all or nothing; `step` is the settlement's step
    /// to advance to (checked to fit the column by the caller).
    fn settle(
        store: &SqlStore<Self>,
        settlement: &Settlement,
        step: Option<i64>,
        now: i64,
    ) -> impl Future<Output = SResult<bool>> + Send;
}
