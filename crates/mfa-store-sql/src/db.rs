//! The one place that talks to sqlx generically: binding the few value types the store uses,
//! running a statement on a pool or a transaction, and reading columns back by position.
//!
//! sqlx states what a database can do as trait bounds (`i64: Encode<DB>`, `&mut Connection:
//! Executor`, ...), and bounds like those are not implied by a type parameter. [`Db`] states them
//! once, in its blanket implementation, and offers the operations as methods, so the shared code
//! needs only `E: Engine` (which implies `E: Db`).

use std::future::Future;
use std::sync::Arc;

use mfa_store::StoreError;
use sqlx::{
    AssertSqlSafe, ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type,
};

use crate::convert::corrupt;

/// A statement's text, built once per store: sqlx prepares it once per connection and caches it
/// by its text.
pub(crate) type Sql = Arc<str>;

/// A value bound to a placeholder.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// `BIGINT`.
    Int(i64),
    /// `BIGINT` or `NULL`.
    OptInt(Option<i64>),
    /// Text (on MySQL also identifier columns, which are `VARBINARY`).
    Text(&'a str),
    /// Text or `NULL`.
    OptText(Option<&'a str>),
    /// Binary (digests, sealed secrets).
    Bytes(&'a [u8]),
    /// Binary or `NULL`.
    OptBytes(Option<&'a [u8]>),
    /// `BOOLEAN`.
    Bool(bool),
}

/// Where a statement runs: on a connection of the pool (autocommit), or inside a transaction.
pub enum On<'a, D: Database> {
    /// Any connection of the pool, in autocommit mode.
    Pool(&'a Pool<D>),
    /// The connection of an open transaction (`&mut *tx`).
    Tx(&'a mut D::Connection),
}

/// Rows a write changed: an inherent method of each driver's result type.
pub trait Affected {
    /// How many rows the statement changed (MySQL: found, as sqlx sets `CLIENT_FOUND_ROWS`).
    fn affected(&self) -> u64;
}

#[cfg(feature = "postgres")]
impl Affected for sqlx::postgres::PgQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

#[cfg(feature = "mysql")]
impl Affected for sqlx::mysql::MySqlQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

#[cfg(feature = "sqlite")]
impl Affected for sqlx::sqlite::SqliteQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// What the shared code needs of a sqlx database, as methods.
pub trait Db: Database {
    /// Runs a write; returns how many rows it changed.
    fn execute<'a>(
        on: On<'a, Self>,
        sql: &Sql,
        args: &[Arg<'_>],
    ) -> impl Future<Output = sqlx::Result<u64>> + Send + 'a;

    /// Runs statement text as it is, without arguments and unprepared (DDL, routines, which
    /// MySQL cannot prepare).
    fn execute_raw(
        conn: &mut Self::Connection,
        sql: String,
    ) -> impl Future<Output = sqlx::Result<()>> + Send + '_;

    /// Runs a statement and returns every row it produced (of every result set).
    fn fetch_all<'a>(
        on: On<'a, Self>,
        sql: &Sql,
        args: &[Arg<'_>],
    ) -> impl Future<Output = sqlx::Result<Vec<Self::Row>>> + Send + 'a;

    /// Runs a statement and returns its first row, if any.
    fn fetch_optional<'a>(
        on: On<'a, Self>,
        sql: &Sql,
        args: &[Arg<'_>],
    ) -> impl Future<Output = sqlx::Result<Option<Self::Row>>> + Send + 'a;

    /// Column `i` as an integer (`None` for `NULL`).
    ///
    /// # Errors
    /// A missing column or a value of another type.
    fn int(row: &Self::Row, i: usize) -> sqlx::Result<Option<i64>>;

    /// Column `i` as text.
    ///
    /// # Errors
    /// A missing column or a value of another type.
    fn text(row: &Self::Row, i: usize) -> sqlx::Result<Option<String>>;

    /// Column `i` as bytes.
    ///
    /// # Errors
    /// A missing column or a value of another type.
    fn bytes(row: &Self::Row, i: usize) -> sqlx::Result<Option<Vec<u8>>>;

    /// Column `i` as a boolean.
    ///
    /// # Errors
    /// A missing column or a value of another type.
    fn boolean(row: &Self::Row, i: usize) -> sqlx::Result<Option<bool>>;
}

impl<D> Db for D
where
    D: Database,
    D::QueryResult: Affected,
    D::Arguments: IntoArguments<D>,
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'q> i64: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> bool: Encode<'q, D> + Decode<'q, D> + Type<D>,
    for<'q> &'q str: Encode<'q, D> + Type<D>,
    for<'q> &'q [u8]: Encode<'q, D> + Type<D>,
    for<'q> Option<i64>: Encode<'q, D> + Type<D>,
    for<'q> Option<&'q str>: Encode<'q, D> + Type<D>,
    for<'q> Option<&'q [u8]>: Encode<'q, D> + Type<D>,
    for<'r> String: Decode<'r, D> + Type<D>,
    for<'r> Vec<u8>: Decode<'r, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
{
    fn execute<'a>(
        on: On<'a, Self>,
        sql: &Sql,
        args: &[Arg<'_>],
    ) -> impl Future<Output = sqlx::Result<u64>> + Send + 'a {
        let query = bind::<D>(sql, args);
        async move {
            let done = match on {
                On::Pool(pool) => query.execute(pool).await?,
                On::Tx(conn) => query.execute(conn).await?,
            };
            Ok(done.affected())
        }
    }

    async fn execute_raw(conn: &mut Self::Connection, sql: String) -> sqlx::Result<()> {
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(conn).await?;
        Ok(())
    }

    fn fetch_all<'a>(
        on: On<'a, Self>,
        sql: &Sql,
        args: &[Arg<'_>],
    ) -> impl Future<Output = sqlx::Result<Vec<Self::Row>>> + Send + 'a {
        let query = bind::<D>(sql, args);
        async move {
            match on {
                On::Pool(pool) => query.fetch_all(pool).await,
                On::Tx(conn) => query.fetch_all(conn).await,
            }
        }
    }

    fn fetch_optional<'a>(
        on: On<'a, Self>,
        sql: &Sql,
        args: &[Arg<'_>],
    ) -> impl Future<Output = sqlx::Result<Option<Self::Row>>> + Send + 'a {
        let query = bind::<D>(sql, args);
        async move {
            match on {
                On::Pool(pool) => query.fetch_optional(pool).await,
                On::Tx(conn) => query.fetch_optional(conn).await,
            }
        }
    }

    fn int(row: &Self::Row, i: usize) -> sqlx::Result<Option<i64>> {
        row.try_get(i)
    }

    fn text(row: &Self::Row, i: usize) -> sqlx::Result<Option<String>> {
        row.try_get(i)
    }

    fn bytes(row: &Self::Row, i: usize) -> sqlx::Result<Option<Vec<u8>>> {
        row.try_get(i)
    }

    fn boolean(row: &Self::Row, i: usize) -> sqlx::Result<Option<bool>> {
        row.try_get(i)
    }
}

/// The query of `sql` with `args` bound in order. The statement text is vouched for: only
/// validated names are spliced into it, and every value goes through a placeholder.
fn bind<'q, D>(sql: &Sql, args: &[Arg<'_>]) -> sqlx::query::Query<'q, D, D::Arguments>
where
    D: Database,
    for<'a> i64: Encode<'a, D> + Type<D>,
    for<'a> bool: Encode<'a, D> + Type<D>,
    for<'a> &'a str: Encode<'a, D> + Type<D>,
    for<'a> &'a [u8]: Encode<'a, D> + Type<D>,
    for<'a> Option<i64>: Encode<'a, D> + Type<D>,
    for<'a> Option<&'a str>: Encode<'a, D> + Type<D>,
    for<'a> Option<&'a [u8]>: Encode<'a, D> + Type<D>,
{
    let mut query = sqlx::query::<D>(AssertSqlSafe(Arc::clone(sql)));
    for arg in args {
        query = match *arg {
            Arg::Int(v) => query.bind(v),
            Arg::OptInt(v) => query.bind(v),
            Arg::Text(v) => query.bind(v),
            Arg::OptText(v) => query.bind(v),
            Arg::Bytes(v) => query.bind(v),
            Arg::OptBytes(v) => query.bind(v),
            Arg::Bool(v) => query.bind(v),
        };
    }
    query
}

/// Reads a row's columns in select-list order, each named for the error a bad value gives.
pub(crate) struct Cols<'r, D: Db> {
    row: &'r D::Row,
    next: usize,
}

impl<'r, D: Db> Cols<'r, D> {
    /// A reader at the first column of `row`.
    pub(crate) fn new(row: &'r D::Row) -> Self {
        Self::at(row, 0)
    }

    /// A reader at column `first` of `row` (a row that holds several parts side by side).
    pub(crate) fn at(row: &'r D::Row, first: usize) -> Self {
        Self { row, next: first }
    }

    fn read<T>(
        &mut self,
        column: &str,
        get: fn(&D::Row, usize) -> sqlx::Result<Option<T>>,
    ) -> Result<Option<T>, StoreError> {
        let i = self.next;
        self.next = i.saturating_add(1);
        get(self.row, i).map_err(|_| corrupt(column))
    }

    fn required<T>(
        &mut self,
        column: &str,
        get: fn(&D::Row, usize) -> sqlx::Result<Option<T>>,
    ) -> Result<T, StoreError> {
        self.read(column, get)?.ok_or_else(|| corrupt(column))
    }

    /// The next column, a `BIGINT NOT NULL`.
    pub(crate) fn int(&mut self, column: &str) -> Result<i64, StoreError> {
        self.required(column, D::int)
    }

    /// The next column, a nullable `BIGINT`.
    pub(crate) fn opt_int(&mut self, column: &str) -> Result<Option<i64>, StoreError> {
        self.read(column, D::int)
    }

    /// The next column, text `NOT NULL`.
    pub(crate) fn text(&mut self, column: &str) -> Result<String, StoreError> {
        self.required(column, D::text)
    }

    /// The next column, nullable text.
    pub(crate) fn opt_text(&mut self, column: &str) -> Result<Option<String>, StoreError> {
        self.read(column, D::text)
    }

    /// The next column, binary `NOT NULL`.
    pub(crate) fn bytes(&mut self, column: &str) -> Result<Vec<u8>, StoreError> {
        self.required(column, D::bytes)
    }

    /// The next column, nullable binary.
    pub(crate) fn opt_bytes(&mut self, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(column, D::bytes)
    }

    /// The next column, a `BOOLEAN NOT NULL`.
    pub(crate) fn boolean(&mut self, column: &str) -> Result<bool, StoreError> {
        self.required(column, D::boolean)
    }
}
