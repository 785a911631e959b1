//! PostgreSQL, the scale-out backend: all tenants in one database, every row
//! tagged with its tenant, and row-level security as a second wall: each
//! transaction declares its tenant (`guss.tenant_id`), and the policies hide
//! and refuse every row of another tenant, even if a query forgot its filter.

use std::sync::Arc;
use std::time::Duration;

use guss_core::TenantId;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor as _, PgPool, Postgres, Transaction};

use super::schema;
use super::sql::{Inner, SqlStore};
use crate::{Error, Result};

fn render(ddl: &str) -> String {
    schema::render(ddl, "UUID", "BYTEA")
}

pub(super) async fn open(url: &str) -> Result<SqlStore> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(guss_sql::postgres_options(url).map_err(Error::backend)?)
        .await
        .map_err(Error::backend)?;
    migrate(&pool).await?;
    Ok(SqlStore {
        inner: Arc::new(Inner::Postgres {
            pool,
            queues: guss_sql::Queues::default(),
        }),
    })
}

async fn migrate(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await.map_err(Error::backend)?;
    // Several processes may start at once: one migrates, the others wait
    // as long as it takes.
    tx.execute("SET LOCAL lock_timeout = 0")
        .await
        .map_err(Error::backend)?;
    tx.execute("SELECT pg_advisory_xact_lock(7267817361)")
        .await
        .map_err(Error::backend)?;
    for ddl in schema::REGISTRY {
        tx.execute(sqlx::AssertSqlSafe(render(ddl)))
            .await
            .map_err(Error::backend)?;
    }
    for (table, ddl) in schema::TENANT_TABLES {
        tx.execute(sqlx::AssertSqlSafe(render(ddl)))
            .await
            .map_err(Error::backend)?;
        // FORCE: the policies bind the tables' owner too, which is the role guss runs as.
        tx.execute(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
             DROP POLICY IF EXISTS tenant_isolation ON {table};
             CREATE POLICY tenant_isolation ON {table}
               USING (tenant_id = NULLIF(current_setting('guss.tenant_id', true), '')::uuid)
               WITH CHECK (tenant_id = NULLIF(current_setting('guss.tenant_id', true), '')::uuid)"
        )))
        .await
        .map_err(Error::backend)?;
    }
    for ddl in schema::INDEXES {
        tx.execute(sqlx::AssertSqlSafe(render(ddl)))
            .await
            .map_err(Error::backend)?;
    }
    tx.commit().await.map_err(Error::backend)
}

/// Declares the transaction's tenant for row-level security. A `write`
/// also waits for the tenant's turn, held until commit, as SQLite's
/// `BEGIN IMMEDIATE` on the tenant's file does: writes check what they read
/// (the last owner, the last passkey), and READ COMMITTED alone would let
/// two of them pass the check together.
pub(super) async fn enter_tenant(
    tx: &mut Transaction<'static, Postgres>,
    tenant: TenantId,
    write: bool,
) -> Result<()> {
    if write {
        return guss_sql::enter_tenant(tx, tenant, "identity")
            .await
            .map_err(Error::backend);
    }
    sqlx::query("SELECT set_config('guss.tenant_id', $1, true)")
        .bind(tenant.to_string())
        .execute(&mut **tx)
        .await
        .map_err(Error::backend)?;
    Ok(())
}
