//! The SQL plumbing the guss stores share. One SQL text serves both
//! engines:
//!
//! - the embedded default keeps one SQLite file per tenant (WAL,
//!   `synchronous=FULL`), so that isolation, export and deletion of a tenant
//!   are file operations;
//! - PostgreSQL keeps every tenant in one database, with `tenant_id` on
//!   every row and a row-level security policy on every table as a second
//!   wall: [`in_tx!`] declares the tenant before the first statement.
//!
//! Table definitions use `{uuid}` and `{bytes}` for the two types the
//! engines spell differently.
//!
//! ```
//! use guss_sql::{Schema, TenantPools, in_tx};
//!
//! static SCHEMA: Schema = Schema {
//!     file_name: "notes.sqlite",
//!     migration_lock: 42,
//!     tables: &[("notes", "CREATE TABLE IF NOT EXISTS notes (tenant_id {uuid} NOT NULL, body TEXT NOT NULL)")],
//!     indexes: &[],
//! };
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let dir = tempfile_dir();
//! let pools = TenantPools::open(dir.to_str().unwrap(), &SCHEMA).await?;
//! let tenant = guss_core::TenantId::new();
//! let pool = pools.pool(tenant).await?;
//! let count: i64 = in_tx!(&pool, tenant, |tx| {
//!     sqlx::query("INSERT INTO notes (tenant_id, body) VALUES ($1, $2)")
//!         .bind(tenant.as_uuid()).bind("Akte 17").execute(&mut *tx).await?;
//!     sqlx::query_scalar("SELECT COUNT(*) FROM notes").fetch_one(&mut *tx).await?
//! });
//! assert_eq!(count, 1);
//! # Ok::<(), sqlx::Error>(())
//! # })?;
//! # fn tempfile_dir() -> std::path::PathBuf {
//! #     let dir = std::env::temp_dir().join(format!("guss-sql-doc-{}", guss_core::TenantId::new()));
//! #     std::fs::create_dir_all(&dir).unwrap(); dir
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use guss_core::TenantId;
use sqlx::Executor as _;

pub use sqlx;

/// The tables of one store.
#[derive(Debug)]
pub struct Schema {
    /// The SQLite file in each tenant's directory, e.g. `storage.sqlite`.
    pub file_name: &'static str,
    /// The PostgreSQL advisory lock taken while migrating, unique per store.
    pub migration_lock: i64,
    /// `(name, CREATE TABLE IF NOT EXISTS …)`; each gets row-level security
    /// on PostgreSQL, so each must have a `tenant_id {uuid}` column.
    pub tables: &'static [(&'static str, &'static str)],
    /// `CREATE INDEX IF NOT EXISTS …` statements.
    pub indexes: &'static [&'static str],
}

/// A connection pool on one of the two engines.
#[derive(Clone, Debug)]
pub enum Pool {
    /// One tenant's SQLite file.
    Sqlite(sqlx::SqlitePool),
    /// The shared PostgreSQL database, and the tenant's turn in the store.
    Postgres(sqlx::PgPool, Turn),
}

/// A tenant's turn in one store on PostgreSQL (see [`enter_tenant`]):
/// the store's tables, and the queue this process's transactions for the
/// tenant wait in.
#[derive(Clone, Debug)]
pub struct Turn {
    /// The store's tables.
    pub schema: &'static Schema,
    /// The tenant's queue in this process.
    pub queue: Queue,
}

/// Where one tenant's transactions in this process wait for their turn in
/// a store on PostgreSQL, before they take a connection: so waiting holds
/// no pooled connection, and one busy tenant cannot take every connection
/// from the others.
#[derive(Clone, Debug, Default)]
pub struct Queue(Arc<tokio::sync::Mutex<()>>);

impl Queue {
    /// Waits for the front of the queue, at most [`TURN_TIMEOUT`]; the turn
    /// lasts as long as the guard.
    pub async fn wait(&self) -> Result<tokio::sync::MutexGuard<'_, ()>, sqlx::Error> {
        tokio::time::timeout(TURN_TIMEOUT, self.0.lock())
            .await
            .map_err(|_| {
                sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the tenant's other transactions took too long",
                ))
            })
    }
}

/// Each tenant's [`Queue`] in one store.
#[derive(Debug, Default)]
pub struct Queues(Mutex<HashMap<TenantId, Queue>>);

impl Queues {
    /// `tenant`'s queue.
    pub fn of(&self, tenant: TenantId) -> Queue {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(tenant)
            .or_default()
            .clone()
    }
}

/// How long a transaction waits for its tenant's turn before it fails:
/// SQLite's busy timeout, and on PostgreSQL the wait in the process and
/// then the lock's (`lock_timeout`), each.
pub const TURN_TIMEOUT: Duration = Duration::from_secs(10);

/// How to connect to PostgreSQL at `url` for tenant transactions: waiting
/// for a lock ends after [`TURN_TIMEOUT`], and a transaction left idle (a
/// process that hung while it held a tenant's turn) ends after a minute.
pub fn postgres_options(url: &str) -> Result<sqlx::postgres::PgConnectOptions, sqlx::Error> {
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    Ok(options.options([
        ("lock_timeout", format!("{}s", TURN_TIMEOUT.as_secs())),
        ("idle_in_transaction_session_timeout", "60s".to_owned()),
    ]))
}

/// Pools per tenant: a directory of SQLite files or one PostgreSQL database.
#[derive(Clone, Debug)]
pub struct TenantPools {
    inner: Arc<Inner>,
}

#[derive(Debug)]
enum Inner {
    Sqlite {
        dir: PathBuf,
        schema: &'static Schema,
        tenants: Mutex<HashMap<TenantId, sqlx::SqlitePool>>,
    },
    Postgres {
        pool: sqlx::PgPool,
        schema: &'static Schema,
        queues: Queues,
    },
}

impl TenantPools {
    /// Opens `location`: a `postgres://` URL (tables and row-level security
    /// are created if missing), or a directory that holds
    /// `tenants/<id>/<file_name>` per tenant.
    pub async fn open(location: &str, schema: &'static Schema) -> Result<Self, sqlx::Error> {
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            return Self::open_postgres(location, schema).await;
        }
        std::fs::create_dir_all(location)?;
        Ok(TenantPools {
            inner: Arc::new(Inner::Sqlite {
                dir: PathBuf::from(location),
                schema,
                tenants: Mutex::default(),
            }),
        })
    }

    async fn open_postgres(url: &str, schema: &'static Schema) -> Result<Self, sqlx::Error> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect_with(postgres_options(url)?)
            .await?;
        let mut tx = pool.begin().await?;
        // Several processes may start at once: one migrates, the others wait
        // as long as it takes.
        tx.execute("SET LOCAL lock_timeout = 0").await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(schema.migration_lock)
            .execute(&mut *tx)
            .await?;
        for (table, ddl) in schema.tables {
            tx.execute(sqlx::AssertSqlSafe(postgres_types(ddl))).await?;
            tx.execute(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
                 DROP POLICY IF EXISTS tenant_isolation ON {table};
                 CREATE POLICY tenant_isolation ON {table}
                   USING (tenant_id = NULLIF(current_setting('guss.tenant_id', true), '')::uuid)
                   WITH CHECK (tenant_id = NULLIF(current_setting('guss.tenant_id', true), '')::uuid)"
            )))
            .await?;
        }
        for index in schema.indexes {
            tx.execute(sqlx::AssertSqlSafe(*index)).await?;
        }
        tx.commit().await?;
        Ok(TenantPools {
            inner: Arc::new(Inner::Postgres {
                pool,
                schema,
                queues: Queues::default(),
            }),
        })
    }

    /// Whether this is PostgreSQL (several processes may share it).
    pub fn is_postgres(&self) -> bool {
        matches!(*self.inner, Inner::Postgres { .. })
    }

    /// The PostgreSQL pool, for what is not one tenant's (`LISTEN`,
    /// `NOTIFY`); `None` on SQLite.
    pub fn postgres(&self) -> Option<&sqlx::PgPool> {
        match &*self.inner {
            Inner::Postgres { pool, .. } => Some(pool),
            Inner::Sqlite { .. } => None,
        }
    }

    /// The pool that holds `tenant`'s rows; on SQLite the tenant's file is
    /// created on first use.
    pub async fn pool(&self, tenant: TenantId) -> Result<Pool, sqlx::Error> {
        match &*self.inner {
            Inner::Sqlite {
                dir,
                schema,
                tenants,
            } => {
                let existing = tenants
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&tenant)
                    .cloned();
                if let Some(pool) = existing {
                    return Ok(Pool::Sqlite(pool));
                }
                let tenant_dir = dir.join("tenants").join(tenant.to_string());
                let pool = open_sqlite(&tenant_dir, schema).await?;
                let pool = tenants
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(tenant)
                    .or_insert(pool)
                    .clone();
                Ok(Pool::Sqlite(pool))
            }
            Inner::Postgres {
                pool,
                schema,
                queues,
            } => Ok(Pool::Postgres(
                pool.clone(),
                Turn {
                    schema,
                    queue: queues.of(tenant),
                },
            )),
        }
    }
}

fn postgres_types(ddl: &str) -> String {
    ddl.replace("{uuid}", "UUID").replace("{bytes}", "BYTEA")
}

fn sqlite_types(ddl: &str) -> String {
    ddl.replace("{uuid}", "BLOB").replace("{bytes}", "BLOB")
}

async fn open_sqlite(dir: &Path, schema: &Schema) -> Result<sqlx::SqlitePool, sqlx::Error> {
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };
    std::fs::create_dir_all(dir)?;
    let options = SqliteConnectOptions::new()
        .filename(dir.join(schema.file_name))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(TURN_TIMEOUT);
    // Idle connections close after a minute: a server with a thousand
    // organisations keeps open only the files in use (each connection holds
    // up to 2 MiB of page cache); reopening a file is cheap.
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .min_connections(0)
        .idle_timeout(SQLITE_IDLE)
        .connect_with(options)
        .await?;
    for (_, ddl) in schema.tables {
        pool.execute(sqlx::AssertSqlSafe(sqlite_types(ddl))).await?;
    }
    for index in schema.indexes {
        pool.execute(sqlx::AssertSqlSafe(*index)).await?;
    }
    Ok(pool)
}

/// How long an unused SQLite connection stays open.
pub const SQLITE_IDLE: Duration = Duration::from_secs(60);

/// Whether `e` is a unique-key violation (someone else inserted first).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Declares `tenant` to row-level security for the rest of the transaction
/// and waits for the tenant's lock in `store` (a name unique per store),
/// held until commit.
///
/// One transaction per tenant and store at a time is what SQLite gives
/// (`BEGIN IMMEDIATE` on the tenant's file). The stores' bodies read, then
/// write what they read implies (the next position, a free name, whether a
/// lock or booking is taken); under PostgreSQL's READ COMMITTED alone, two
/// such bodies could interleave and both act on what they read.
pub async fn enter_tenant(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    store: &str,
) -> Result<(), sqlx::Error> {
    let tenant = tenant.to_string();
    sqlx::query(
        "SELECT set_config('guss.tenant_id', $1, true), pg_advisory_xact_lock(hashtextextended($2, 0))",
    )
    .bind(&tenant)
    .bind(format!("{store}/{tenant}"))
    .execute(tx)
    .await?;
    Ok(())
}

/// Runs `$body` in a transaction on the engine of `$pool`, with `$tx` bound
/// to the transaction: one at a time per tenant and store on both engines.
/// SQLite takes the file's write lock at once (`BEGIN IMMEDIATE`), so that
/// read-then-write bodies never deadlock; on PostgreSQL the transaction
/// waits for its [`Turn`] in this process, then declares the tenant to
/// row-level security and takes the same turn among processes (see
/// [`enter_tenant`]).
///
/// The body's `?` must convert `sqlx::Error` into the caller's error type;
/// the transaction commits when the body completes and rolls back when it
/// returns early.
#[macro_export]
macro_rules! in_tx {
    ($pool:expr, $tenant:expr, |$tx:ident| $body:block) => {
        match $pool {
            $crate::Pool::Sqlite(pool) => {
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            $crate::Pool::Postgres(pool, turn) => {
                let _turn = turn.queue.wait().await?;
                let mut $tx = pool.begin().await?;
                $crate::enter_tenant(&mut $tx, $tenant, turn.schema.file_name).await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

/// A transaction bound to one tenant: what a store's statements run in.
/// Stores implement their statement trait for `Tx<'static, Sqlite>` and
/// `Tx<'static, Postgres>` and write their logic once, generic over it.
#[derive(Debug)]
pub struct Tx<'c, DB: sqlx::Database> {
    /// The transaction.
    pub tx: sqlx::Transaction<'c, DB>,
    /// Its tenant.
    pub tenant: TenantId,
}

/// Runs `$body` with `$sql` bound to a [`Tx`] on `$pool` for `$tenant`
/// (see [`in_tx!`]); the body's value is the macro's.
#[macro_export]
macro_rules! tenant_tx {
    ($pool:expr, $tenant:expr, |$sql:ident| $body:expr) => {{
        let tenant = $tenant;
        $crate::in_tx!($pool, tenant, |tx| {
            let mut $sql = $crate::Tx { tx, tenant };
            let out = $body;
            tx = $sql.tx;
            out
        })
    }};
}
