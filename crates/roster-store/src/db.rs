//! The two backends behind one `Store`, and the helpers every query module uses.
//!
//! Queries are written once: [`on_db!`] expands a block for each backend's pool, so the same SQL (positional `$n`
//! parameters, `ON CONFLICT … DO UPDATE`, `RETURNING`, which both SQLite and PostgreSQL accept) is type-checked
//! against both.

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::{Postgres, Sqlite, Transaction};

/// An open pool of either backend.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    /// SQLite (a file, or memory).
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool (a `&SqlitePool` or a `&PgPool`).
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_db;

/// Opening a transaction that will write.
pub(crate) trait WritePool {
    /// The backend.
    type Database: sqlx::Database;
    /// Whether this is PostgreSQL.
    const POSTGRES: bool;
    /// Begins a transaction that takes the write lock at once on SQLite (`BEGIN IMMEDIATE`, so that a transaction
    /// that reads before it writes cannot fail to upgrade its lock), and a plain one on PostgreSQL.
    fn begin_write(&self) -> impl Future<Output = Result<Transaction<'static, Self::Database>, sqlx::Error>> + Send;
    /// Begins a read-only transaction whose reads all see one snapshot (SQLite's WAL read transactions do; on
    /// PostgreSQL it is `REPEATABLE READ`).
    fn begin_snapshot(&self) -> impl Future<Output = Result<Transaction<'static, Self::Database>, sqlx::Error>> + Send;
}

impl WritePool for SqlitePool {
    type Database = Sqlite;
    const POSTGRES: bool = false;
    fn begin_write(&self) -> impl Future<Output = Result<Transaction<'static, Sqlite>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
    fn begin_snapshot(&self) -> impl Future<Output = Result<Transaction<'static, Sqlite>, sqlx::Error>> + Send {
        self.begin()
    }
}

impl WritePool for PgPool {
    type Database = Postgres;
    const POSTGRES: bool = true;
    fn begin_write(&self) -> impl Future<Output = Result<Transaction<'static, Postgres>, sqlx::Error>> + Send {
        self.begin()
    }
    fn begin_snapshot(&self) -> impl Future<Output = Result<Transaction<'static, Postgres>, sqlx::Error>> + Send {
        self.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    }
}

/// Whether `pool` is PostgreSQL (for the few statements that differ).
pub(crate) fn is_postgres<P: WritePool>(_pool: &P) -> bool {
    P::POSTGRES
}

/// A count as stored (`BIGINT`).
pub(crate) fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored count.
pub(crate) fn to_usize(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}
