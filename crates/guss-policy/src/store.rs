//! Where the policy crate keeps its data (the audit log, deputy grants and
//! named deputies): SQLite (one file per tenant) or PostgreSQL (row-level
//! security per tenant), the same SQL on both.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use guss_core::{PersonId, TenantId};
use guss_sql::{Pool, Schema, TenantPools, in_tx};
use uuid::Uuid;

use crate::audit::{AuditStore, Checkpoint, Entry};
use crate::delegation::{DelegationStore, DeputyOf};
use crate::facts::Grant;
use crate::{Error, Result};

/// The policy store on SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct SqlPolicyStore {
    pools: TenantPools,
}

static SCHEMA: Schema = Schema {
    file_name: "policy.sqlite",
    migration_lock: 7_267_817_362,
    tables: &[
        (
            "policy_audit",
            "CREATE TABLE IF NOT EXISTS policy_audit (
                tenant_id {uuid} NOT NULL, seq BIGINT NOT NULL, time BIGINT NOT NULL, event TEXT NOT NULL,
                prev_hash {bytes} NOT NULL, hash {bytes} NOT NULL, PRIMARY KEY (tenant_id, seq))",
        ),
        (
            "policy_audit_checkpoints",
            "CREATE TABLE IF NOT EXISTS policy_audit_checkpoints (
                tenant_id {uuid} NOT NULL, seq BIGINT NOT NULL, time BIGINT NOT NULL,
                hash {bytes} NOT NULL, signature {bytes} NOT NULL, PRIMARY KEY (tenant_id, seq))",
        ),
        (
            "policy_grants",
            "CREATE TABLE IF NOT EXISTS policy_grants (
                tenant_id {uuid} NOT NULL, id {uuid} NOT NULL, grant_json TEXT NOT NULL,
                deputy {uuid} NOT NULL, represented {uuid} NOT NULL, starts_at BIGINT NOT NULL, ends_at BIGINT NOT NULL,
                revoked_at BIGINT, PRIMARY KEY (tenant_id, id))",
        ),
        (
            "policy_deputies",
            "CREATE TABLE IF NOT EXISTS policy_deputies (
                tenant_id {uuid} NOT NULL, holder TEXT NOT NULL, deputy {uuid} NOT NULL, PRIMARY KEY (tenant_id, holder, deputy))",
        ),
    ],
    indexes: &[],
};

fn db<T>(result: std::result::Result<T, sqlx::Error>) -> Result<T> {
    result.map_err(Error::from)
}

fn is_conflict(e: &sqlx::Error) -> bool {
    guss_sql::is_unique_violation(e)
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
        Ok(SqlPolicyStore {
            pools: TenantPools::open(location, &SCHEMA).await?,
        })
    }

    async fn pool(&self, tenant: TenantId) -> Result<Pool> {
        Ok(self.pools.pool(tenant).await?)
    }
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
