//! Where the policy crate keeps its data (the audit log, deputy grants and
//! named deputies): SQLite (one file per tenant) or PostgreSQL (row-level
//! security per tenant), the same SQL on both.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use guss_core::{PersonId, TenantId};
use guss_sql::{Pool, Schema, TenantPools, in_tx};
use uuid::Uuid;

use crate::audit::{AuditSearch, AuditStore, Checkpoint, Entry, MAX_SEARCH};
use crate::delegation::{DelegationStore, DeputyOf};
use crate::facts::Grant;
use crate::{Error, Result};

/// The policy store on SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct SqlPolicyStore {
    pools: TenantPools,
    /// Tenants whose earlier audit entries this process knows to be keyed.
    keyed: Arc<Mutex<HashSet<TenantId>>>,
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
            // What audit entries are searched by; written with each entry.
            "policy_audit_keys",
            "CREATE TABLE IF NOT EXISTS policy_audit_keys (
                tenant_id {uuid} NOT NULL, seq BIGINT NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL,
                PRIMARY KEY (tenant_id, seq))",
        ),
        (
            // Tenants whose entries from before the keys table all have keys.
            "policy_audit_keyed",
            "CREATE TABLE IF NOT EXISTS policy_audit_keyed (tenant_id {uuid} NOT NULL PRIMARY KEY)",
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
    indexes: &["CREATE INDEX IF NOT EXISTS policy_audit_keys_kind ON policy_audit_keys (tenant_id, kind, seq)"],
};

/// Entries given keys per statement when keying a log written before the
/// keys table.
const KEYING_PAGE: i64 = 1000;

fn db<T>(result: std::result::Result<T, sqlx::Error>) -> Result<T> {
    result.map_err(Error::from)
}

type EntryRow = (i64, i64, String, Vec<u8>, Vec<u8>);

/// A value bound to a search's statement.
enum Bind {
    Text(String),
    Int(i64),
}

/// What an entry is found by: its event's kind and actor, in lower case
/// (empty when the stored text is not an event).
fn search_keys(event: &str) -> (String, String) {
    match serde_json::from_str::<guss_core::Event>(event) {
        Ok(event) => (
            event.kind().as_str().to_lowercase(),
            event.actor().unwrap_or_default().to_lowercase(),
        ),
        Err(_) => (String::new(), String::new()),
    }
}

/// A LIKE pattern (with `ESCAPE '!'`) matching text that contains `part`
/// in any case, taken literally. Keys are stored in lower case, so this is
/// the same on SQLite (whose LIKE ignores case) and PostgreSQL.
fn containing(part: &str) -> String {
    let mut pattern = String::from("%");
    for c in part.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '!') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

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
            keyed: Arc::default(),
        })
    }

    /// Gives search keys to a tenant's entries written before the keys
    /// table existed, once per tenant and process; later entries get theirs
    /// as they are written.
    async fn key_earlier_entries(&self, pool: &Pool, tenant: TenantId) -> Result<()> {
        if self.keyed.lock().is_ok_and(|keyed| keyed.contains(&tenant)) {
            return Ok(());
        }
        let done: Option<(i32,)> = in_tx!(pool, tenant, |tx| {
            db(
                sqlx::query_as("SELECT 1 FROM policy_audit_keyed WHERE tenant_id = $1")
                    .bind(tenant.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await,
            )?
        });
        if done.is_none() {
            self.key_unkeyed(pool, tenant).await?;
            in_tx!(pool, tenant, |tx| {
                db(sqlx::query(
                    "INSERT INTO policy_audit_keyed (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING",
                )
                .bind(tenant.as_uuid())
                .execute(&mut *tx)
                .await)?;
            });
        }
        if let Ok(mut keyed) = self.keyed.lock() {
            keyed.insert(tenant);
        }
        Ok(())
    }

    /// Gives search keys to every entry of the tenant that has none, a page
    /// per transaction.
    async fn key_unkeyed(&self, pool: &Pool, tenant: TenantId) -> Result<()> {
        let mut after = 0_i64;
        loop {
            let unkeyed: Vec<(i64, String)> = in_tx!(pool, tenant, |tx| {
                db(sqlx::query_as(
                    "SELECT a.seq, a.event FROM policy_audit a
                     WHERE a.tenant_id = $1 AND a.seq > $2 AND NOT EXISTS (
                         SELECT 1 FROM policy_audit_keys k WHERE k.tenant_id = a.tenant_id AND k.seq = a.seq)
                     ORDER BY a.seq LIMIT $3",
                )
                .bind(tenant.as_uuid())
                .bind(after)
                .bind(KEYING_PAGE)
                .fetch_all(&mut *tx)
                .await)?
            });
            in_tx!(pool, tenant, |tx| {
                for (seq, event) in &unkeyed {
                    let (kind, actor) = search_keys(event);
                    db(sqlx::query(
                        "INSERT INTO policy_audit_keys (tenant_id, seq, kind, actor) VALUES ($1, $2, $3, $4)
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(tenant.as_uuid())
                    .bind(seq)
                    .bind(kind)
                    .bind(actor)
                    .execute(&mut *tx)
                    .await)?;
                }
            });
            match unkeyed.last() {
                Some((seq, _)) if i64::try_from(unkeyed.len()).is_ok_and(|n| n == KEYING_PAGE) => {
                    after = *seq;
                }
                _ => return Ok(()),
            }
        }
    }

    async fn pool(&self, tenant: TenantId) -> Result<Pool> {
        Ok(self.pools.pool(tenant).await?)
    }
}

#[async_trait]
impl AuditStore for SqlPolicyStore {
    async fn append(&self, tenant: TenantId, time: DateTime<Utc>, event: String) -> Result<Entry> {
        let pool = self.pool(tenant).await?;
        // Each append chains to the last entry: `in_tx!` makes them take
        // turns, on both engines.
        let entry = in_tx!(&pool, tenant, |tx| {
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
            let entry = Entry::next(tenant, prev, time, event);
            let seq = i64::try_from(entry.seq).unwrap_or(i64::MAX);
            db(sqlx::query(
                "INSERT INTO policy_audit (tenant_id, seq, time, event, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(tenant.as_uuid())
            .bind(seq)
            .bind(entry.time.timestamp_micros())
            .bind(&entry.event)
            .bind(entry.prev_hash.as_slice())
            .bind(entry.hash.as_slice())
            .execute(&mut *tx)
            .await)?;
            let (kind, actor) = search_keys(&entry.event);
            db(sqlx::query(
                "INSERT INTO policy_audit_keys (tenant_id, seq, kind, actor) VALUES ($1, $2, $3, $4)",
            )
            .bind(tenant.as_uuid())
            .bind(seq)
            .bind(kind)
            .bind(actor)
            .execute(&mut *tx)
            .await)?;
            entry
        });
        Ok(entry)
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

    async fn search(&self, tenant: TenantId, search: &AuditSearch) -> Result<Vec<Entry>> {
        let pool = self.pool(tenant).await?;
        // Without a kind or actor, the log itself is read: what its chain
        // protects is shown whatever happened to the keys.
        let by_keys = !search.kinds.is_empty()
            || search.kind_contains.is_some()
            || search.actor_contains.is_some();
        let mut sql =
            String::from("SELECT a.seq, a.time, a.event, a.prev_hash, a.hash FROM policy_audit a");
        if by_keys {
            self.key_earlier_entries(&pool, tenant).await?;
            // Exact kinds are looked up in the kinds index. Otherwise CROSS
            // JOIN keeps SQLite walking the log newest first and stopping
            // at the limit, rather than sorting every match (PostgreSQL
            // plans both as the inner join they are).
            sql.push_str(if search.kinds.is_empty() {
                " CROSS JOIN policy_audit_keys k WHERE k.tenant_id = a.tenant_id AND k.seq = a.seq AND"
            } else {
                " JOIN policy_audit_keys k ON k.tenant_id = a.tenant_id AND k.seq = a.seq WHERE"
            });
        } else {
            sql.push_str(" WHERE");
        }
        sql.push_str(" a.tenant_id = $1");
        let mut binds = Vec::new();
        let mut condition = |sql: &mut String, text: &str, value: Bind| {
            binds.push(value);
            sql.push_str(&text.replace('?', &format!("${}", binds.len() + 1)));
        };
        if !search.kinds.is_empty() {
            sql.push_str(" AND k.kind IN (");
            for (i, kind) in search.kinds.iter().enumerate() {
                let text = if i == 0 { "?" } else { ", ?" };
                condition(&mut sql, text, Bind::Text(kind.to_lowercase()));
            }
            sql.push(')');
        }
        if let Some(text) = &search.kind_contains {
            condition(
                &mut sql,
                " AND k.kind LIKE ? ESCAPE '!'",
                Bind::Text(containing(text)),
            );
        }
        if let Some(text) = &search.actor_contains {
            condition(
                &mut sql,
                " AND k.actor LIKE ? ESCAPE '!'",
                Bind::Text(containing(text)),
            );
        }
        if let Some(from) = search.from {
            condition(
                &mut sql,
                " AND a.time >= ?",
                Bind::Int(from.timestamp_micros()),
            );
        }
        if let Some(until) = search.until {
            condition(
                &mut sql,
                " AND a.time < ?",
                Bind::Int(until.timestamp_micros()),
            );
        }
        if let Some(before) = search.before {
            condition(
                &mut sql,
                " AND a.seq < ?",
                Bind::Int(i64::try_from(before).unwrap_or(i64::MAX)),
            );
        }
        let limit = i64::from(search.limit.min(MAX_SEARCH));
        condition(&mut sql, " ORDER BY a.seq DESC LIMIT ?", Bind::Int(limit));
        let rows: Vec<EntryRow> = in_tx!(&pool, tenant, |tx| {
            // Only fixed text is put into `sql`; every value is bound.
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(tenant.as_uuid());
            for bind in &binds {
                query = match bind {
                    Bind::Text(text) => query.bind(text.as_str()),
                    Bind::Int(number) => query.bind(*number),
                };
            }
            db(query.fetch_all(&mut *tx).await)?
        });
        rows.into_iter().map(|row| entry(tenant, row)).collect()
    }

    async fn check_search_keys(&self, tenant: TenantId) -> Result<Option<u64>> {
        let pool = self.pool(tenant).await?;
        self.key_unkeyed(&pool, tenant).await?;
        let mut after = 0_i64;
        loop {
            let page: Vec<(i64, String, String, String)> = in_tx!(&pool, tenant, |tx| {
                db(sqlx::query_as(
                    "SELECT a.seq, a.event, k.kind, k.actor FROM policy_audit a
                     JOIN policy_audit_keys k ON k.tenant_id = a.tenant_id AND k.seq = a.seq
                     WHERE a.tenant_id = $1 AND a.seq > $2 ORDER BY a.seq LIMIT $3",
                )
                .bind(tenant.as_uuid())
                .bind(after)
                .bind(KEYING_PAGE)
                .fetch_all(&mut *tx)
                .await)?
            });
            for (seq, event, kind, actor) in &page {
                let (expected_kind, expected_actor) = search_keys(event);
                if expected_kind != *kind || expected_actor != *actor {
                    return Ok(Some(u64::try_from(*seq).unwrap_or_default()));
                }
            }
            match page.last() {
                Some((seq, ..)) if i64::try_from(page.len()).is_ok_and(|n| n == KEYING_PAGE) => {
                    after = *seq;
                }
                _ => return Ok(None),
            }
        }
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
