//! Connecting to SQLite or PostgreSQL, migrating, and paging through a list by its ids.
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use secrecy::ExposeSecret;

use crate::config::Settings;

/// Rows sqlx's SQLite thread may hand back ahead of the task reading them (sqlx's default is
/// 50). The delivery worker's statements return up to 256 rows at once (a claim, a recorded
/// batch); with room for them the database thread runs each statement through instead of
/// stopping every 50 rows until the reading task, on a busy runtime, has caught up — and
/// being woken again (bench/README.md).
const SQLITE_ROW_BUFFER: usize = 512;

/// How long a PostgreSQL connection may sit idle in the pool before its next use is preceded by a ping.
const PG_PING_IF_IDLE_FOR: Duration = Duration::from_secs(10);

pub async fn connect(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let url = settings.database_url.expose_secret();
    let mut options = ConnectOptions::new(url.to_owned());
    if settings.is_sqlite() {
        // sqlx pings a connection as it leaves the pool and again as it goes back. On SQLite a
        // ping is a round trip to sqlx's database thread in this process, which cannot have
        // hung up: the ping on the way out only delays each use (bench/README.md).
        options.test_before_acquire(false);
    } else {
        // A PostgreSQL connection in use was pinged as it went back to the pool; one idle
        // longer than this may have been dropped by the server or a proxy, and is pinged first.
        options.test_before_acquire_if_idle_for(PG_PING_IF_IDLE_FOR);
    }
    options
        .max_connections(settings.db_max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        // No JIT compilation on PostgreSQL. Its planner compiles a query whose estimated cost
        // passes `jit_above_cost` (100,000 by default), and the outbox claim's estimate grows with
        // the number of pending rows although its work does not (it stops after the first
        // LIMIT rows): with 30,000 pending rows a claim of 64 did 1 ms of work and spent 14.5 ms
        // compiling (EXPLAIN ANALYZE, bench/README.md). Nothing this server runs is a long
        // analytic query that compilation would pay back.
        .map_sqlx_postgres_opts(|o| o.options([("jit", "off")]))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .row_buffer_size(SQLITE_ROW_BUFFER)
                // Deleted and overwritten content is zeroed in the file rather than left in free
                // space, so that an erased candidate's bytes are gone once the WAL is
                // checkpointed (`assessment::personal_data`).
                .pragma("secure_delete", "on")
        });
    let db = Database::connect(options).await.map_err(|e| {
        anyhow::anyhow!(
            "DATABASE_URL: cannot connect ({}): {e}",
            if settings.is_sqlite() { "SQLite" } else { "PostgreSQL" }
        )
    })?;
    Ok(db)
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .map_err(|e| anyhow::anyhow!("migrating the database failed: {e}"))
}

/// Begins a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: the write lock is
/// taken at the start, so two processes (or connections) on one file wait for each other
/// (`busy_timeout`) instead of failing with "database is locked" when a read lock cannot be
/// upgraded. PostgreSQL ignores the mode.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Writes another task asked to have made in a transaction of this one's, just before it
/// commits: group commit across kinds of write (`recruitment::writer` takes the delivery
/// worker's attempt records into its order batches this way).
pub trait RideAlong: Send {
    /// Writes into `txn`; an error rolls the whole transaction back.
    fn write_into<'c>(
        &'c mut self,
        txn: &'c DatabaseTransaction,
    ) -> Pin<Box<dyn Future<Output = Result<(), DbErr>> + Send + 'c>>;
}

/// Nothing rides along.
impl RideAlong for () {
    fn write_into<'c>(
        &'c mut self,
        _txn: &'c DatabaseTransaction,
    ) -> Pin<Box<dyn Future<Output = Result<(), DbErr>> + Send + 'c>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Runs `work` in a write transaction (see [`begin_write`]): committed when it returns `Ok`,
/// rolled back when it returns `Err`.
pub async fn write_transaction<T, E, F>(db: &DatabaseConnection, work: F) -> Result<T, E>
where
    F: for<'c> FnOnce(&'c DatabaseTransaction) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>,
    E: From<DbErr>,
{
    let txn = begin_write(db).await?;
    match work(&txn).await {
        Ok(value) => {
            txn.commit().await?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = txn.rollback().await {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}

/// Where a page of a list starts: the list's order (by id, which is a UUIDv7 and so follows
/// the time a row was written) and the id of the last row of the page before it. The admin API
/// pages oldest first, so that a client walking the list sees what is added at its end; the
/// console opens newest first, as an operator looking at what is happening expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub newest_first: bool,
    /// The last row of the page before; `None` for the first page.
    pub past: Option<uuid::Uuid>,
}

impl Cursor {
    pub fn oldest_first(past: Option<uuid::Uuid>) -> Self {
        Self {
            newest_first: false,
            past,
        }
    }

    pub fn newest_first(past: Option<uuid::Uuid>) -> Self {
        Self {
            newest_first: true,
            past,
        }
    }

    /// `query` in this order, past this cursor's row.
    pub fn apply<E, C>(self, query: sea_orm::Select<E>, id: C) -> sea_orm::Select<E>
    where
        E: sea_orm::EntityTrait,
        C: sea_orm::ColumnTrait,
    {
        use sea_orm::{QueryFilter, QueryOrder};
        match (self.newest_first, self.past) {
            (false, None) => query.order_by_asc(id),
            (false, Some(past)) => query.filter(id.gt(past)).order_by_asc(id),
            (true, None) => query.order_by_desc(id),
            (true, Some(past)) => query.filter(id.lt(past)).order_by_desc(id),
        }
    }
}
