//! Where the policy crate keeps its data (the audit log, deputy grants and
//! named deputies): SQLite (one file per tenant) or PostgreSQL (row-level
//! security per tenant), the same SQL on both.

use std::sync::Arc;
#[cfg(feature = "sqlite")]
use std::{collections::HashMap, path::PathBuf, sync::Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use guss_core::TenantId;

use guss_core::PersonId;
use uuid::Uuid;

use crate::audit::{AuditStore, Checkpoint, Entry};
use crate::delegation::{DelegationStore, DeputyOf};
use crate::facts::Grant;
use crate::{Error, Result};

#[derive(Clone, Debug)]
enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

/// The policy store on SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct SqlPolicyStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
enum Inner {
    #[cfg(feature = "sqlite")]
    Sqlite {
        dir: PathBuf,
        tenants: Mutex<HashMap<TenantId, sqlx::SqlitePool>>,
    },
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

const TABLES: [&str; 4] = [
    "CREATE TABLE IF NOT EXISTS policy_audit (
        tenant_id {uuid} NOT NULL, seq BIGINT NOT NULL, time BIGINT NOT NULL, event TEXT NOT NULL,
        prev_hash {bytes} NOT NULL, hash {bytes} NOT NULL, PRIMARY KEY (tenant_id, seq))",
    "CREATE TABLE IF NOT EXISTS policy_audit_checkpoints (
        tenant_id {uuid} NOT NULL, seq BIGINT NOT NULL, time BIGINT NOT NULL,
        hash {bytes} NOT NULL, signature {bytes} NOT NULL, PRIMARY KEY (tenant_id, seq))",
    "CREATE TABLE IF NOT EXISTS policy_grants (
        tenant_id {uuid} NOT NULL, id {uuid} NOT NULL, grant_json TEXT NOT NULL,
        deputy {uuid} NOT NULL, represented {uuid} NOT NULL, starts_at BIGINT NOT NULL, ends_at BIGINT NOT NULL,
        revoked_at BIGINT, PRIMARY KEY (tenant_id, id))",
    "CREATE TABLE IF NOT EXISTS policy_deputies (
        tenant_id {uuid} NOT NULL, holder TEXT NOT NULL, deputy {uuid} NOT NULL, PRIMARY KEY (tenant_id, holder, deputy))",
];
#[cfg(feature = "postgres")]
const TABLE_NAMES: [&str; 4] = [
    "policy_audit",
    "policy_audit_checkpoints",
    "policy_grants",
    "policy_deputies",
];

fn db<T>(result: std::result::Result<T, sqlx::Error>) -> Result<T> {
    result.map_err(|e| Error::Backend(Box::new(e)))
}

fn is_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Runs `$body` in a transaction on the engine of `$pool`, with `$tx`; on
/// PostgreSQL the tenant is declared to row-level security first.
macro_rules! in_tx {
    ($pool:expr, $tenant:expr, |$tx:ident| $body:block) => {
        match $pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                let mut $tx = db(pool.begin_with("BEGIN IMMEDIATE").await)?;
                let out = $body;
                db($tx.commit().await)?;
                out
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => {
                let mut $tx = db(pool.begin().await)?;
                db(sqlx::query("SELECT set_config('guss.tenant_id', $1, true)")
                    .bind($tenant.to_string())
                    .execute(&mut *$tx)
                    .await)?;
                let out = $body;
                db($tx.commit().await)?;
                out
            }
        }
    };
}

type EntryRow = (i64, i64, String, Vec<u8>, Vec<u8>);

fn entry(tenant: TenantId, (seq, time, event, prev_hash, hash): EntryRow) -> Result<Entry> {
    let bytes = |v: Vec<u8>| {
        <[u8; 32]>::try_from(v).map_err(|_| Error::invalid("stored hash", "not 32 bytes"))
    };
    Ok(Entry {
        tenant,
        seq: u64::try_from(seq).map_err(|_| Error::invalid("stored position", "negative"))?,
        time: DateTime::from_timestamp_micros(time).unwrap_or_default(),
        event,
        prev_hash: bytes(prev_hash)?,
        hash: bytes(hash)?,
    })
}

impl SqlPolicyStore {
    /// Opens the store at a `postgres://` URL or, for SQLite, a directory.
    pub async fn open(location: &str) -> Result<Self> {
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            return Self::open_postgres(location).await;
            #[cfg(not(feature = "postgres"))]
            return Err(Error::invalid(
                "store",
                "this build has no PostgreSQL support (feature `postgres`)",
            ));
        }
        #[cfg(feature = "sqlite")]
        {
            std::fs::create_dir_all(location).map_err(|e| Error::Backend(Box::new(e)))?;
            Ok(SqlPolicyStore {
                inner: Arc::new(Inner::Sqlite {
                    dir: PathBuf::from(location),
                    tenants: Mutex::default(),
                }),
            })
        }
        #[cfg(not(feature = "sqlite"))]
        Err(Error::invalid(
            "store",
            "this build has no SQLite support (feature `sqlite`)",
        ))
    }

    #[cfg(feature = "postgres")]
    async fn open_postgres(url: &str) -> Result<Self> {
        use sqlx::Executor as _;
        let pool = db(sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect(url)
            .await)?;
        let mut tx = db(pool.begin().await)?;
        // Several processes may start at once: one migrates, the others wait.
        db(tx.execute("SELECT pg_advisory_xact_lock(7267817362)").await)?;
        for (table, ddl) in TABLE_NAMES.into_iter().zip(TABLES) {
            db(tx
                .execute(sqlx::AssertSqlSafe(
                    ddl.replace("{uuid}", "UUID").replace("{bytes}", "BYTEA"),
                ))
                .await)?;
            db(tx
                .execute(sqlx::AssertSqlSafe(format!(
                    "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
                     DROP POLICY IF EXISTS tenant_isolation ON {table};
                     CREATE POLICY tenant_isolation ON {table}
                       USING (tenant_id = NULLIF(current_setting('guss.tenant_id', true), '')::uuid)
                       WITH CHECK (tenant_id = NULLIF(current_setting('guss.tenant_id', true), '')::uuid)"
                )))
                .await)?;
        }
        db(tx.commit().await)?;
        Ok(SqlPolicyStore {
            inner: Arc::new(Inner::Postgres(pool)),
        })
    }

    #[cfg_attr(not(feature = "sqlite"), allow(unused_variables))] // PostgreSQL keeps every tenant in one pool
    async fn pool(&self, tenant: TenantId) -> Result<Pool> {
        match &*self.inner {
            #[cfg(feature = "sqlite")]
            Inner::Sqlite { dir, tenants } => {
                let existing = tenants
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get(&tenant)
                    .cloned();
                if let Some(pool) = existing {
                    return Ok(Pool::Sqlite(pool));
                }
                let pool = open_sqlite(&dir.join("tenants").join(tenant.to_string())).await?;
                let pool = tenants
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry(tenant)
                    .or_insert(pool)
                    .clone();
                Ok(Pool::Sqlite(pool))
            }
            #[cfg(feature = "postgres")]
            Inner::Postgres(pool) => Ok(Pool::Postgres(pool.clone())),
        }
    }
}

#[cfg(feature = "sqlite")]
async fn open_sqlite(dir: &std::path::Path) -> Result<sqlx::SqlitePool> {
    use sqlx::Executor as _;
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::Backend(Box::new(e)))?;
    let options = SqliteConnectOptions::new()
        .filename(dir.join("policy.sqlite"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(std::time::Duration::from_secs(10));
    let pool = db(SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await)?;
    for ddl in TABLES {
        db(pool
            .execute(sqlx::AssertSqlSafe(
                ddl.replace("{uuid}", "BLOB").replace("{bytes}", "BLOB"),
            ))
            .await)?;
    }
    Ok(pool)
}

#[async_trait]
impl AuditStore for SqlPolicyStore {
    async fn append(&self, tenant: TenantId, time: DateTime<Utc>, event: String) -> Result<Entry> {
        let pool = self.pool(tenant).await?;
        // Concurrent appenders on PostgreSQL may pick the same position: the
        // primary key refuses the second, which then reads again.
        for _ in 0..8 {
            let attempt: std::result::Result<Entry, sqlx::Error> = in_tx!(&pool, tenant, |tx| {
                let last: Option<(i64, Vec<u8>)> = db(sqlx::query_as(
                    "SELECT seq, hash FROM policy_audit WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1",
                )
                .bind(tenant.as_uuid())
                .fetch_optional(&mut *tx)
                .await)?;
                let prev = match last {
                    Some((seq, hash)) => Some((
                        u64::try_from(seq).unwrap_or_default(),
                        <[u8; 32]>::try_from(hash)
                            .map_err(|_| Error::invalid("stored hash", "not 32 bytes"))?,
                    )),
                    None => None,
                };
                let entry = Entry::next(tenant, prev, time, event.clone());
                let inserted = sqlx::query(
                    "INSERT INTO policy_audit (tenant_id, seq, time, event, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(tenant.as_uuid())
                .bind(i64::try_from(entry.seq).unwrap_or(i64::MAX))
                .bind(entry.time.timestamp_micros())
                .bind(&entry.event)
                .bind(entry.prev_hash.as_slice())
                .bind(entry.hash.as_slice())
                .execute(&mut *tx)
                .await;
                match inserted {
                    Ok(_) => Ok(entry),
                    Err(e) if is_conflict(&e) => Err(e),
                    Err(e) => return Err(Error::Backend(Box::new(e))),
                }
            });
            match attempt {
                Ok(entry) => return Ok(entry),
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(Error::Backend(Box::new(e))),
            }
        }
        Err(Error::Conflict {
            what: "audit log busy, try again".into(),
        })
    }

    async fn entries(&self, tenant: TenantId, from: u64, limit: u32) -> Result<Vec<Entry>> {
        let pool = self.pool(tenant).await?;
        let rows: Vec<EntryRow> = in_tx!(&pool, tenant, |tx| {
            db(sqlx::query_as(
                "SELECT seq, time, event, prev_hash, hash FROM policy_audit
                 WHERE tenant_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
            )
            .bind(tenant.as_uuid())
            .bind(i64::try_from(from).unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await)?
        });
        rows.into_iter().map(|row| entry(tenant, row)).collect()
    }

    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<()> {
        let tenant = checkpoint.tenant;
        let pool = self.pool(tenant).await?;
        in_tx!(&pool, tenant, |tx| {
            db(sqlx::query(
                "INSERT INTO policy_audit_checkpoints (tenant_id, seq, time, hash, signature) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING",
            )
            .bind(tenant.as_uuid())
            .bind(i64::try_from(checkpoint.seq).unwrap_or(i64::MAX))
            .bind(checkpoint.time.timestamp_micros())
            .bind(checkpoint.hash.as_slice())
            .bind(checkpoint.signature.as_slice())
            .execute(&mut *tx)
            .await)?;
        });
        Ok(())
    }

    async fn checkpoints(&self, tenant: TenantId) -> Result<Vec<Checkpoint>> {
        let pool = self.pool(tenant).await?;
        let rows: Vec<(i64, i64, Vec<u8>, Vec<u8>)> = in_tx!(&pool, tenant, |tx| {
            db(sqlx::query_as(
                "SELECT seq, time, hash, signature FROM policy_audit_checkpoints WHERE tenant_id = $1 ORDER BY seq",
            )
            .bind(tenant.as_uuid())
            .fetch_all(&mut *tx)
            .await)?
        });
        rows.into_iter()
            .map(|(seq, time, hash, signature)| {
                Ok(Checkpoint {
                    tenant,
                    seq: u64::try_from(seq)
                        .map_err(|_| Error::invalid("stored position", "negative"))?,
                    time: DateTime::from_timestamp_micros(time).unwrap_or_default(),
                    hash: hash
                        .try_into()
                        .map_err(|_| Error::invalid("stored hash", "not 32 bytes"))?,
                    signature: signature
                        .try_into()
                        .map_err(|_| Error::invalid("stored signature", "not 64 bytes"))?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl DelegationStore for SqlPolicyStore {
    async fn insert_grant(&self, grant: &Grant) -> Result<()> {
        let json =
            serde_json::to_string(grant).map_err(|e| Error::invalid("grant", e.to_string()))?;
        let pool = self.pool(grant.tenant).await?;
        in_tx!(&pool, grant.tenant, |tx| {
            db(sqlx::query(
                "INSERT INTO policy_grants (tenant_id, id, grant_json, deputy, represented, starts_at, ends_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(grant.tenant.as_uuid())
            .bind(grant.id)
            .bind(&json)
            .bind(grant.deputy.as_uuid())
            .bind(grant.represented.as_uuid())
            .bind(grant.starts_at.timestamp_micros())
            .bind(grant.ends_at.timestamp_micros())
            .execute(&mut *tx)
            .await)?;
        });
        Ok(())
    }

    async fn revoke_grant(&self, tenant: TenantId, id: Uuid, at: DateTime<Utc>) -> Result<bool> {
        let pool = self.pool(tenant).await?;
        let changed = in_tx!(&pool, tenant, |tx| {
            db(sqlx::query("UPDATE policy_grants SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL")
                .bind(tenant.as_uuid())
                .bind(id)
                .bind(at.timestamp_micros())
                .execute(&mut *tx)
                .await)?
            .rows_affected()
        });
        Ok(changed > 0)
    }

    async fn grants(&self, tenant: TenantId) -> Result<Vec<Grant>> {
        let pool = self.pool(tenant).await?;
        let rows: Vec<(String,)> = in_tx!(&pool, tenant, |tx| {
            db(sqlx::query_as(
                "SELECT grant_json FROM policy_grants WHERE tenant_id = $1 AND revoked_at IS NULL ORDER BY starts_at",
            )
            .bind(tenant.as_uuid())
            .fetch_all(&mut *tx)
            .await)?
        });
        rows.into_iter()
            .map(|(json,)| {
                serde_json::from_str(&json)
                    .map_err(|e| Error::invalid("stored grant", e.to_string()))
            })
            .collect()
    }

    async fn grants_between(
        &self,
        tenant: TenantId,
        deputy: PersonId,
        represented: PersonId,
        at: DateTime<Utc>,
    ) -> Result<Vec<Grant>> {
        let pool = self.pool(tenant).await?;
        let rows: Vec<(String,)> = in_tx!(&pool, tenant, |tx| {
            db(sqlx::query_as(
                "SELECT grant_json FROM policy_grants
                 WHERE tenant_id = $1 AND deputy = $2 AND represented = $3 AND revoked_at IS NULL
                   AND starts_at <= $4 AND ends_at > $4",
            )
            .bind(tenant.as_uuid())
            .bind(deputy.as_uuid())
            .bind(represented.as_uuid())
            .bind(at.timestamp_micros())
            .fetch_all(&mut *tx)
            .await)?
        });
        rows.into_iter()
            .map(|(json,)| {
                serde_json::from_str(&json)
                    .map_err(|e| Error::invalid("stored grant", e.to_string()))
            })
            .collect()
    }

    async fn set_deputy(
        &self,
        tenant: TenantId,
        holder: &DeputyOf,
        deputy: PersonId,
    ) -> Result<()> {
        let pool = self.pool(tenant).await?;
        in_tx!(&pool, tenant, |tx| {
            db(sqlx::query("INSERT INTO policy_deputies (tenant_id, holder, deputy) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(tenant.as_uuid())
                .bind(holder.key())
                .bind(deputy.as_uuid())
                .execute(&mut *tx)
                .await)?;
        });
        Ok(())
    }

    async fn deputies(&self, tenant: TenantId) -> Result<Vec<(DeputyOf, PersonId)>> {
        let pool = self.pool(tenant).await?;
        let rows: Vec<(String, Uuid)> = in_tx!(&pool, tenant, |tx| {
            db(sqlx::query_as(
                "SELECT holder, deputy FROM policy_deputies WHERE tenant_id = $1 ORDER BY holder",
            )
            .bind(tenant.as_uuid())
            .fetch_all(&mut *tx)
            .await)?
        });
        rows.into_iter()
            .map(|(holder, deputy)| Ok((DeputyOf::parse(&holder)?, PersonId::from_uuid(deputy))))
            .collect()
    }
}
