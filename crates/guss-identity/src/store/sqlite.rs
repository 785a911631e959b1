//! SQLite, the embedded default: a registry database plus one database file
//! per tenant (`tenants/<id>/identity.sqlite`), so that a tenant's export and
//! deletion are file operations.

use std::path::Path;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use guss_core::TenantId;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor as _, SqlitePool};

use super::schema;
use super::sql::{Inner, SqlStore};
use crate::{Error, Result};

async fn connect(file: &Path) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str("sqlite://")
        .map_err(Error::backend)?
        .filename(file)
        .create_if_missing(true)
        // WAL for concurrent readers; FULL so that an acknowledged write survives power loss.
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    SqlitePoolOptions::new()
        .max_connections(4)
        .idle_timeout(Duration::from_secs(60))
        .connect_with(options)
        .await
        .map_err(Error::backend)
}

async fn migrate(pool: &SqlitePool, statements: impl Iterator<Item = String>) -> Result<()> {
    for statement in statements {
        pool.execute(sqlx::AssertSqlSafe(statement))
            .await
            .map_err(Error::backend)?;
    }
    Ok(())
}

fn render(ddl: &str) -> String {
    schema::render(ddl, "BLOB", "BLOB")
}

pub(super) async fn open(dir: &Path) -> Result<SqlStore> {
    std::fs::create_dir_all(dir.join("tenants")).map_err(Error::backend)?;
    let registry = connect(&dir.join("registry.sqlite")).await?;
    migrate(&registry, schema::REGISTRY.iter().map(|ddl| render(ddl))).await?;
    Ok(SqlStore {
        inner: Arc::new(Inner::Sqlite {
            dir: dir.to_owned(),
            registry,
            tenants: Default::default(),
        }),
    })
}

pub(super) async fn open_tenant(dir: &Path, tenant: TenantId) -> Result<SqlitePool> {
    let tenant_dir = dir.join("tenants").join(tenant.to_string());
    std::fs::create_dir_all(&tenant_dir).map_err(Error::backend)?;
    let pool = connect(&tenant_dir.join("identity.sqlite")).await?;
    let tables = schema::TENANT_TABLES.iter().map(|(_, ddl)| render(ddl));
    migrate(
        &pool,
        tables.chain(schema::INDEXES.iter().map(|ddl| render(ddl))),
    )
    .await?;
    Ok(pool)
}
