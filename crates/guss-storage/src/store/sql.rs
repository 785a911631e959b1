//! The store's SQL statements, written once: [`Sql`] is implemented for a
//! transaction on either engine by one macro, and the logic in the other
//! modules is generic over it.

use async_trait::async_trait;
use guss_sql::Tx;
use uuid::Uuid;

use crate::Result;

/// A node as a listing reads it: where it is, what it is, and its current
/// version (files) or last member change (folders).
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct NodeRow {
    pub(crate) node_id: Uuid,
    pub(crate) name: String,
    pub(crate) kind: i32,
    pub(crate) created_at: i64,
    pub(crate) version_id: Option<Uuid>,
    pub(crate) size: Option<i64>,
    pub(crate) content_type: Option<String>,
    pub(crate) written_at: Option<i64>,
    pub(crate) member_seq: Option<i64>,
    pub(crate) member_at: Option<i64>,
}

/// A version row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct VersionRow {
    pub(crate) version_id: Uuid,
    pub(crate) node_id: Uuid,
    pub(crate) seq: i64,
    pub(crate) written_at: i64,
    pub(crate) author: String,
    pub(crate) size: i64,
    pub(crate) content_type: Option<String>,
}

/// One chunk of a version, with the blob generation to read it from.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct ManifestRow {
    pub(crate) chunk_id: Vec<u8>,
    pub(crate) length: i64,
    pub(crate) generation: Uuid,
}

/// A trash row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct TrashRow {
    pub(crate) trash_id: Uuid,
    pub(crate) node_id: Uuid,
    pub(crate) parent_id: Uuid,
    pub(crate) name: String,
    pub(crate) original_path: String,
    pub(crate) deleted_at: i64,
    pub(crate) deleted_by: String,
    pub(crate) kind: i32,
}

/// A lock row.
#[derive(Clone, Debug, sqlx::FromRow)]
#[cfg_attr(not(feature = "webdav"), allow(dead_code))] // the lock table serves WebDAV
pub(crate) struct LockRow {
    pub(crate) token: String,
    pub(crate) root: String,
    pub(crate) depth_infinity: i32,
    pub(crate) exclusive: i32,
    pub(crate) owner: Option<String>,
    pub(crate) principal: String,
    pub(crate) expires_at: i64,
}

/// A share link row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct LinkRow {
    pub(crate) link_id: Uuid,
    pub(crate) node_id: Uuid,
    pub(crate) mode: i32,
    pub(crate) expires_at: Option<i64>,
    pub(crate) code_hash: Option<Vec<u8>>,
    pub(crate) max_downloads: Option<i64>,
    pub(crate) downloads: i64,
    pub(crate) created_by: String,
    pub(crate) created_at: i64,
    pub(crate) revoked_at: Option<i64>,
}

/// A change-log row for sync-collection.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct ChangeRow {
    pub(crate) seq: i64,
    pub(crate) name: String,
}

/// The tenant row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct TenantRow {
    pub(crate) wrapped_key: Vec<u8>,
    pub(crate) stored_bytes: i64,
    pub(crate) quota_bytes: Option<i64>,
    pub(crate) frozen_at: Option<i64>,
}

pub(crate) const FOLDER: i32 = 0;
pub(crate) const FILE: i32 = 1;

/// Every statement the store runs, inside one transaction bound to one tenant.
#[async_trait]
pub(crate) trait Sql: Send {
    // tenant
    async fn tenant_row(&mut self) -> Result<Option<TenantRow>>;
    async fn insert_tenant(&mut self, wrapped_key: &[u8]) -> Result<()>;
    /// The next change number; taking it also serializes writers per tenant.
    async fn next_seq(&mut self) -> Result<i64>;
    async fn add_stored_bytes(&mut self, delta: i64) -> Result<()>;
    async fn set_quota(&mut self, bytes: Option<i64>) -> Result<()>;
    async fn set_frozen(&mut self, at: Option<i64>, reason: Option<&str>) -> Result<()>;

    // tree
    async fn child(&mut self, parent: Uuid, name: &str) -> Result<Option<(Uuid, i32)>>;
    async fn node(&mut self, node: Uuid) -> Result<Option<NodeRow>>;
    async fn children(&mut self, parent: Uuid, limit: i64) -> Result<Vec<NodeRow>>;
    /// Where `node` is now: (parent, name).
    async fn placement(&mut self, node: Uuid) -> Result<Option<(Uuid, String)>>;
    /// Members of `parent` as they were after change `seq`: (node, name, kind).
    async fn children_at(&mut self, parent: Uuid, seq: i64) -> Result<Vec<(Uuid, String, i32)>>;
    async fn insert_node(&mut self, node: Uuid, kind: i32, created_at: i64) -> Result<()>;
    async fn node_kind(&mut self, node: Uuid) -> Result<Option<i32>>;
    async fn open_entry(&mut self, node: Uuid, parent: Uuid, name: &str, seq: i64) -> Result<()>;
    async fn close_entry(&mut self, node: Uuid, seq: i64) -> Result<()>;
    async fn forget_node(&mut self, node: Uuid) -> Result<()>;

    // versions and chunks
    async fn versions(&mut self, node: Uuid) -> Result<Vec<VersionRow>>;
    async fn version(&mut self, version: Uuid) -> Result<Option<VersionRow>>;
    async fn version_at(&mut self, node: Uuid, seq: i64) -> Result<Option<VersionRow>>;
    async fn insert_version(&mut self, row: &VersionRow) -> Result<()>;
    async fn insert_manifest_row(
        &mut self,
        version: Uuid,
        pos: i64,
        chunk: &[u8],
        length: i64,
    ) -> Result<()>;
    async fn copy_manifest(&mut self, from: Uuid, to: Uuid) -> Result<()>;
    async fn manifest(&mut self, version: Uuid) -> Result<Vec<ManifestRow>>;
    async fn delete_version(&mut self, version: Uuid) -> Result<()>;
    async fn chunk(&mut self, chunk: &[u8]) -> Result<Option<(Uuid, bool)>>;
    async fn insert_chunk(
        &mut self,
        chunk: &[u8],
        generation: Uuid,
        plain_size: i64,
        now: i64,
    ) -> Result<()>;
    async fn touch_chunk(&mut self, chunk: &[u8], now: i64) -> Result<()>;
    /// Marks the chunk's blob written; false if its generation is gone.
    /// Returns (still there, newly stored).
    async fn confirm_chunk(
        &mut self,
        chunk: &[u8],
        generation: Uuid,
        now: i64,
    ) -> Result<(bool, bool)>;
    /// Unreferenced chunks untouched since `before`, removed; returns
    /// (chunk, generation, plain size of stored ones).
    async fn collect_chunks(
        &mut self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<(Vec<u8>, Uuid, i64)>>;

    // properties
    async fn props(&mut self, node: Uuid) -> Result<Vec<(String, String, String)>>;
    async fn set_prop(
        &mut self,
        node: Uuid,
        namespace: &str,
        local: &str,
        value: &str,
    ) -> Result<()>;
    async fn remove_prop(&mut self, node: Uuid, namespace: &str, local: &str) -> Result<()>;
    async fn copy_props(&mut self, from: Uuid, to: Uuid) -> Result<()>;

    // change log
    async fn log_change(
        &mut self,
        seq: i64,
        at: i64,
        parent: Uuid,
        name: &str,
        removed: bool,
    ) -> Result<()>;
    async fn changes_since(&mut self, parent: Uuid, seq: i64, limit: i64)
    -> Result<Vec<ChangeRow>>;
    async fn last_seq(&mut self) -> Result<i64>;
    /// The newest member change of a folder: (seq, at).
    async fn member_change(&mut self, parent: Uuid) -> Result<(Option<i64>, Option<i64>)>;
    async fn seq_at(&mut self, at: i64) -> Result<Option<i64>>;

    // trash
    async fn insert_trash(&mut self, row: &TrashRow, seq: i64) -> Result<()>;
    async fn trash(&mut self, limit: i64) -> Result<Vec<TrashRow>>;
    async fn trash_item(&mut self, id: Uuid) -> Result<Option<TrashRow>>;
    async fn trash_of_node(&mut self, node: Uuid) -> Result<Option<Uuid>>;
    async fn delete_trash(&mut self, id: Uuid) -> Result<()>;
    async fn expired_trash(&mut self, before: i64, limit: i64) -> Result<Vec<TrashRow>>;

    // holds
    async fn held(&mut self, node: Uuid, now: i64) -> Result<bool>;
    async fn hold(&mut self, node: Uuid) -> Result<Option<(String, Option<i64>)>>;
    async fn set_hold(&mut self, node: Uuid, reason: &str, until: Option<i64>) -> Result<()>;
    async fn remove_hold(&mut self, node: Uuid) -> Result<()>;

    // locks
    #[cfg_attr(not(feature = "webdav"), allow(dead_code))] // the lock table serves WebDAV
    async fn locks(&mut self, now: i64) -> Result<Vec<LockRow>>;
    #[cfg_attr(not(feature = "webdav"), allow(dead_code))] // the lock table serves WebDAV
    async fn insert_lock(&mut self, row: &LockRow) -> Result<()>;
    #[cfg_attr(not(feature = "webdav"), allow(dead_code))] // the lock table serves WebDAV
    async fn delete_lock(&mut self, token: &str) -> Result<bool>;
    #[cfg_attr(not(feature = "webdav"), allow(dead_code))] // the lock table serves WebDAV
    async fn refresh_lock(&mut self, token: &str, expires_at: i64) -> Result<bool>;
    #[cfg_attr(not(feature = "webdav"), allow(dead_code))] // the lock table serves WebDAV
    async fn purge_locks(&mut self, now: i64) -> Result<()>;

    // share links
    async fn insert_link(&mut self, row: &LinkRow, token_hash: &[u8]) -> Result<()>;
    async fn links(&mut self) -> Result<Vec<LinkRow>>;
    async fn link_by_token(&mut self, token_hash: &[u8]) -> Result<Option<LinkRow>>;
    async fn revoke_link(&mut self, id: Uuid, at: i64) -> Result<bool>;
    async fn count_download(&mut self, id: Uuid) -> Result<bool>;
}

/// The listing query for one node or the members of a folder: the node,
/// its place now, its current version and its newest member change. (The
/// change's time is read from its row by seq: `MAX(at)` would scan the
/// tenant's whole change log for every member.)
const NODE_SELECT: &str = "SELECT e.node_id, e.parent_id, e.name, n.kind, n.created_at,
    v.version_id, v.size, v.content_type, v.written_at,
    (SELECT MAX(c.seq) FROM storage_changes c WHERE c.tenant_id = e.tenant_id AND c.parent_id = e.node_id) AS member_seq,
    (SELECT c.at FROM storage_changes c WHERE c.tenant_id = e.tenant_id AND c.parent_id = e.node_id
     ORDER BY c.seq DESC LIMIT 1) AS member_at
  FROM storage_entries e
  JOIN storage_nodes n ON n.tenant_id = e.tenant_id AND n.node_id = e.node_id
  LEFT JOIN storage_versions v ON v.tenant_id = e.tenant_id AND v.version_id = (
    SELECT v2.version_id FROM storage_versions v2 WHERE v2.tenant_id = e.tenant_id AND v2.node_id = e.node_id
    ORDER BY v2.seq DESC LIMIT 1)
  WHERE e.tenant_id = $1 AND e.to_seq IS NULL";

const VERSION_COLUMNS: &str = "version_id, node_id, seq, written_at, author, size, content_type";

const LINK_COLUMNS: &str = "link_id, node_id, mode, expires_at, code_hash, max_downloads, downloads, created_by, created_at, revoked_at";

macro_rules! impl_sql {
    ($db:ty) => {
        #[async_trait]
        impl Sql for Tx<'static, $db> {
            async fn tenant_row(&mut self) -> Result<Option<TenantRow>> {
                Ok(sqlx::query_as(
                    "SELECT wrapped_key, stored_bytes, quota_bytes, frozen_at FROM storage_tenant WHERE tenant_id = $1",
                )
                .bind(self.tenant.as_uuid())
                .fetch_optional(&mut *self.tx)
                .await?)
            }

            async fn insert_tenant(&mut self, wrapped_key: &[u8]) -> Result<()> {
                sqlx::query(
                    "INSERT INTO storage_tenant (tenant_id, wrapped_key, seq, stored_bytes) VALUES ($1, $2, 0, 0)
                     ON CONFLICT (tenant_id) DO NOTHING",
                )
                .bind(self.tenant.as_uuid())
                .bind(wrapped_key)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn next_seq(&mut self) -> Result<i64> {
                Ok(sqlx::query_scalar(
                    "UPDATE storage_tenant SET seq = seq + 1 WHERE tenant_id = $1 RETURNING seq",
                )
                .bind(self.tenant.as_uuid())
                .fetch_one(&mut *self.tx)
                .await?)
            }

            async fn add_stored_bytes(&mut self, delta: i64) -> Result<()> {
                sqlx::query("UPDATE storage_tenant SET stored_bytes = stored_bytes + $2 WHERE tenant_id = $1")
                    .bind(self.tenant.as_uuid())
                    .bind(delta)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn set_quota(&mut self, bytes: Option<i64>) -> Result<()> {
                sqlx::query("UPDATE storage_tenant SET quota_bytes = $2 WHERE tenant_id = $1")
                    .bind(self.tenant.as_uuid())
                    .bind(bytes)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn set_frozen(&mut self, at: Option<i64>, reason: Option<&str>) -> Result<()> {
                sqlx::query("UPDATE storage_tenant SET frozen_at = $2, frozen_reason = $3 WHERE tenant_id = $1")
                    .bind(self.tenant.as_uuid())
                    .bind(at)
                    .bind(reason)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn child(&mut self, parent: Uuid, name: &str) -> Result<Option<(Uuid, i32)>> {
                Ok(sqlx::query_as(
                    "SELECT e.node_id, n.kind FROM storage_entries e
                     JOIN storage_nodes n ON n.tenant_id = e.tenant_id AND n.node_id = e.node_id
                     WHERE e.tenant_id = $1 AND e.parent_id = $2 AND e.name = $3 AND e.to_seq IS NULL",
                )
                .bind(self.tenant.as_uuid())
                .bind(parent)
                .bind(name)
                .fetch_optional(&mut *self.tx)
                .await?)
            }

            async fn node(&mut self, node: Uuid) -> Result<Option<NodeRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!("{NODE_SELECT} AND e.node_id = $2")))
                    .bind(self.tenant.as_uuid())
                    .bind(node)
                    .fetch_optional(&mut *self.tx)
                    .await?)
            }

            async fn children(&mut self, parent: Uuid, limit: i64) -> Result<Vec<NodeRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "{NODE_SELECT} AND e.parent_id = $2 ORDER BY e.name LIMIT $3"
                )))
                .bind(self.tenant.as_uuid())
                .bind(parent)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn placement(&mut self, node: Uuid) -> Result<Option<(Uuid, String)>> {
                Ok(sqlx::query_as(
                    "SELECT parent_id, name FROM storage_entries WHERE tenant_id = $1 AND node_id = $2 AND to_seq IS NULL",
                )
                .bind(self.tenant.as_uuid())
                .bind(node)
                .fetch_optional(&mut *self.tx)
                .await?)
            }

            async fn children_at(&mut self, parent: Uuid, seq: i64) -> Result<Vec<(Uuid, String, i32)>> {
                Ok(sqlx::query_as(
                    "SELECT e.node_id, e.name, n.kind FROM storage_entries e
                     JOIN storage_nodes n ON n.tenant_id = e.tenant_id AND n.node_id = e.node_id
                     WHERE e.tenant_id = $1 AND e.parent_id = $2 AND e.from_seq <= $3
                       AND (e.to_seq IS NULL OR e.to_seq > $3)",
                )
                .bind(self.tenant.as_uuid())
                .bind(parent)
                .bind(seq)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn insert_node(&mut self, node: Uuid, kind: i32, created_at: i64) -> Result<()> {
                sqlx::query("INSERT INTO storage_nodes (tenant_id, node_id, kind, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(self.tenant.as_uuid())
                    .bind(node)
                    .bind(kind)
                    .bind(created_at)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn node_kind(&mut self, node: Uuid) -> Result<Option<i32>> {
                Ok(sqlx::query_scalar("SELECT kind FROM storage_nodes WHERE tenant_id = $1 AND node_id = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(node)
                    .fetch_optional(&mut *self.tx)
                    .await?)
            }

            async fn open_entry(&mut self, node: Uuid, parent: Uuid, name: &str, seq: i64) -> Result<()> {
                let inserted = sqlx::query(
                    "INSERT INTO storage_entries (tenant_id, node_id, parent_id, name, from_seq) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(self.tenant.as_uuid())
                .bind(node)
                .bind(parent)
                .bind(name)
                .bind(seq)
                .execute(&mut *self.tx)
                .await;
                match inserted {
                    Ok(_) => Ok(()),
                    Err(e) if guss_sql::is_unique_violation(&e) => Err(crate::Error::AlreadyExists("an entry of that name")),
                    Err(e) => Err(e.into()),
                }
            }

            async fn close_entry(&mut self, node: Uuid, seq: i64) -> Result<()> {
                // An entry opened and closed in the same change never existed.
                sqlx::query("DELETE FROM storage_entries WHERE tenant_id = $1 AND node_id = $2 AND to_seq IS NULL AND from_seq = $3")
                    .bind(self.tenant.as_uuid())
                    .bind(node)
                    .bind(seq)
                    .execute(&mut *self.tx)
                    .await?;
                sqlx::query("UPDATE storage_entries SET to_seq = $3 WHERE tenant_id = $1 AND node_id = $2 AND to_seq IS NULL")
                    .bind(self.tenant.as_uuid())
                    .bind(node)
                    .bind(seq)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn forget_node(&mut self, node: Uuid) -> Result<()> {
                for table in ["storage_entries", "storage_props", "storage_holds", "storage_share_links", "storage_nodes"] {
                    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE tenant_id = $1 AND node_id = $2")))
                        .bind(self.tenant.as_uuid())
                        .bind(node)
                        .execute(&mut *self.tx)
                        .await?;
                }
                Ok(())
            }

            async fn versions(&mut self, node: Uuid) -> Result<Vec<VersionRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {VERSION_COLUMNS} FROM storage_versions WHERE tenant_id = $1 AND node_id = $2 ORDER BY seq"
                )))
                .bind(self.tenant.as_uuid())
                .bind(node)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn version(&mut self, version: Uuid) -> Result<Option<VersionRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {VERSION_COLUMNS} FROM storage_versions WHERE tenant_id = $1 AND version_id = $2"
                )))
                .bind(self.tenant.as_uuid())
                .bind(version)
                .fetch_optional(&mut *self.tx)
                .await?)
            }

            async fn version_at(&mut self, node: Uuid, seq: i64) -> Result<Option<VersionRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {VERSION_COLUMNS} FROM storage_versions WHERE tenant_id = $1 AND node_id = $2 AND seq <= $3
                     ORDER BY seq DESC LIMIT 1"
                )))
                .bind(self.tenant.as_uuid())
                .bind(node)
                .bind(seq)
                .fetch_optional(&mut *self.tx)
                .await?)
            }

            async fn insert_version(&mut self, row: &VersionRow) -> Result<()> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO storage_versions (tenant_id, {VERSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                )))
                .bind(self.tenant.as_uuid())
                .bind(row.version_id)
                .bind(row.node_id)
                .bind(row.seq)
                .bind(row.written_at)
                .bind(&row.author)
                .bind(row.size)
                .bind(&row.content_type)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn insert_manifest_row(&mut self, version: Uuid, pos: i64, chunk: &[u8], length: i64) -> Result<()> {
                sqlx::query(
                    "INSERT INTO storage_version_chunks (tenant_id, version_id, pos, chunk_id, length) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(self.tenant.as_uuid())
                .bind(version)
                .bind(pos)
                .bind(chunk)
                .bind(length)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn copy_manifest(&mut self, from: Uuid, to: Uuid) -> Result<()> {
                sqlx::query(
                    "INSERT INTO storage_version_chunks (tenant_id, version_id, pos, chunk_id, length)
                     SELECT tenant_id, $3, pos, chunk_id, length FROM storage_version_chunks
                     WHERE tenant_id = $1 AND version_id = $2",
                )
                .bind(self.tenant.as_uuid())
                .bind(from)
                .bind(to)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn manifest(&mut self, version: Uuid) -> Result<Vec<ManifestRow>> {
                Ok(sqlx::query_as(
                    "SELECT m.chunk_id, m.length, c.generation FROM storage_version_chunks m
                     JOIN storage_chunks c ON c.tenant_id = m.tenant_id AND c.chunk_id = m.chunk_id
                     WHERE m.tenant_id = $1 AND m.version_id = $2 ORDER BY m.pos",
                )
                .bind(self.tenant.as_uuid())
                .bind(version)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn delete_version(&mut self, version: Uuid) -> Result<()> {
                for table in ["storage_version_chunks", "storage_versions"] {
                    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE tenant_id = $1 AND version_id = $2")))
                        .bind(self.tenant.as_uuid())
                        .bind(version)
                        .execute(&mut *self.tx)
                        .await?;
                }
                Ok(())
            }

            async fn chunk(&mut self, chunk: &[u8]) -> Result<Option<(Uuid, bool)>> {
                let row: Option<(Uuid, i32)> = sqlx::query_as(
                    "SELECT generation, stored FROM storage_chunks WHERE tenant_id = $1 AND chunk_id = $2",
                )
                .bind(self.tenant.as_uuid())
                .bind(chunk)
                .fetch_optional(&mut *self.tx)
                .await?;
                Ok(row.map(|(generation, stored)| (generation, stored != 0)))
            }

            async fn insert_chunk(&mut self, chunk: &[u8], generation: Uuid, plain_size: i64, now: i64) -> Result<()> {
                sqlx::query(
                    "INSERT INTO storage_chunks (tenant_id, chunk_id, generation, plain_size, stored, touched_at)
                     VALUES ($1, $2, $3, $4, 0, $5)",
                )
                .bind(self.tenant.as_uuid())
                .bind(chunk)
                .bind(generation)
                .bind(plain_size)
                .bind(now)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn touch_chunk(&mut self, chunk: &[u8], now: i64) -> Result<()> {
                sqlx::query("UPDATE storage_chunks SET touched_at = $3 WHERE tenant_id = $1 AND chunk_id = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(chunk)
                    .bind(now)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn confirm_chunk(&mut self, chunk: &[u8], generation: Uuid, now: i64) -> Result<(bool, bool)> {
                let was: Option<(i32, i64)> = sqlx::query_as(
                    "SELECT stored, plain_size FROM storage_chunks WHERE tenant_id = $1 AND chunk_id = $2 AND generation = $3",
                )
                .bind(self.tenant.as_uuid())
                .bind(chunk)
                .bind(generation)
                .fetch_optional(&mut *self.tx)
                .await?;
                let Some((stored, plain_size)) = was else {
                    return Ok((false, false));
                };
                sqlx::query("UPDATE storage_chunks SET stored = 1, touched_at = $4 WHERE tenant_id = $1 AND chunk_id = $2 AND generation = $3")
                    .bind(self.tenant.as_uuid())
                    .bind(chunk)
                    .bind(generation)
                    .bind(now)
                    .execute(&mut *self.tx)
                    .await?;
                if stored == 0 {
                    self.add_stored_bytes(plain_size).await?;
                }
                Ok((true, stored == 0))
            }

            async fn collect_chunks(&mut self, before: i64, limit: i64) -> Result<Vec<(Vec<u8>, Uuid, i64)>> {
                let rows: Vec<(Vec<u8>, Uuid, i64, i32)> = sqlx::query_as(
                    "DELETE FROM storage_chunks WHERE tenant_id = $1 AND chunk_id IN (
                       SELECT c.chunk_id FROM storage_chunks c WHERE c.tenant_id = $1 AND c.touched_at < $2
                         AND NOT EXISTS (SELECT 1 FROM storage_version_chunks m WHERE m.tenant_id = c.tenant_id AND m.chunk_id = c.chunk_id)
                       LIMIT $3)
                     AND touched_at < $2
                     AND NOT EXISTS (SELECT 1 FROM storage_version_chunks m WHERE m.tenant_id = storage_chunks.tenant_id AND m.chunk_id = storage_chunks.chunk_id)
                     RETURNING chunk_id, generation, plain_size, stored",
                )
                .bind(self.tenant.as_uuid())
                .bind(before)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?;
                let freed: i64 = rows.iter().filter(|r| r.3 != 0).map(|r| r.2).sum();
                self.add_stored_bytes(-freed).await?;
                Ok(rows.into_iter().map(|(id, generation, size, stored)| (id, generation, if stored != 0 { size } else { 0 })).collect())
            }

            async fn props(&mut self, node: Uuid) -> Result<Vec<(String, String, String)>> {
                Ok(sqlx::query_as(
                    "SELECT namespace, local, value FROM storage_props WHERE tenant_id = $1 AND node_id = $2 ORDER BY namespace, local",
                )
                .bind(self.tenant.as_uuid())
                .bind(node)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn set_prop(&mut self, node: Uuid, namespace: &str, local: &str, value: &str) -> Result<()> {
                sqlx::query(
                    "INSERT INTO storage_props (tenant_id, node_id, namespace, local, value) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (tenant_id, node_id, namespace, local) DO UPDATE SET value = excluded.value",
                )
                .bind(self.tenant.as_uuid())
                .bind(node)
                .bind(namespace)
                .bind(local)
                .bind(value)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn remove_prop(&mut self, node: Uuid, namespace: &str, local: &str) -> Result<()> {
                sqlx::query("DELETE FROM storage_props WHERE tenant_id = $1 AND node_id = $2 AND namespace = $3 AND local = $4")
                    .bind(self.tenant.as_uuid())
                    .bind(node)
                    .bind(namespace)
                    .bind(local)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn copy_props(&mut self, from: Uuid, to: Uuid) -> Result<()> {
                sqlx::query(
                    "INSERT INTO storage_props (tenant_id, node_id, namespace, local, value)
                     SELECT tenant_id, $3, namespace, local, value FROM storage_props WHERE tenant_id = $1 AND node_id = $2",
                )
                .bind(self.tenant.as_uuid())
                .bind(from)
                .bind(to)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn log_change(&mut self, seq: i64, at: i64, parent: Uuid, name: &str, removed: bool) -> Result<()> {
                sqlx::query(
                    "INSERT INTO storage_changes (tenant_id, seq, at, parent_id, name, removed) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (tenant_id, seq, parent_id, name) DO UPDATE SET removed = excluded.removed",
                )
                .bind(self.tenant.as_uuid())
                .bind(seq)
                .bind(at)
                .bind(parent)
                .bind(name)
                .bind(i32::from(removed))
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn changes_since(&mut self, parent: Uuid, seq: i64, limit: i64) -> Result<Vec<ChangeRow>> {
                Ok(sqlx::query_as(
                    "SELECT seq, name FROM storage_changes WHERE tenant_id = $1 AND parent_id = $2 AND seq > $3
                     ORDER BY seq LIMIT $4",
                )
                .bind(self.tenant.as_uuid())
                .bind(parent)
                .bind(seq)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn last_seq(&mut self) -> Result<i64> {
                Ok(sqlx::query_scalar("SELECT seq FROM storage_tenant WHERE tenant_id = $1")
                    .bind(self.tenant.as_uuid())
                    .fetch_optional(&mut *self.tx)
                    .await?
                    .unwrap_or(0))
            }

            async fn member_change(&mut self, parent: Uuid) -> Result<(Option<i64>, Option<i64>)> {
                Ok(sqlx::query_as("SELECT MAX(seq), MAX(at) FROM storage_changes WHERE tenant_id = $1 AND parent_id = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(parent)
                    .fetch_one(&mut *self.tx)
                    .await?)
            }

            async fn seq_at(&mut self, at: i64) -> Result<Option<i64>> {
                Ok(sqlx::query_scalar("SELECT MAX(seq) FROM storage_changes WHERE tenant_id = $1 AND at <= $2")
                    .bind(self.tenant.as_uuid())
                    .bind(at)
                    .fetch_one(&mut *self.tx)
                    .await?)
            }

            async fn insert_trash(&mut self, row: &TrashRow, seq: i64) -> Result<()> {
                sqlx::query(
                    "INSERT INTO storage_trash (tenant_id, trash_id, node_id, parent_id, name, original_path, deleted_seq, deleted_at, deleted_by)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(self.tenant.as_uuid())
                .bind(row.trash_id)
                .bind(row.node_id)
                .bind(row.parent_id)
                .bind(&row.name)
                .bind(&row.original_path)
                .bind(seq)
                .bind(row.deleted_at)
                .bind(&row.deleted_by)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn trash(&mut self, limit: i64) -> Result<Vec<TrashRow>> {
                Ok(sqlx::query_as(
                    "SELECT t.trash_id, t.node_id, t.parent_id, t.name, t.original_path, t.deleted_at, t.deleted_by, n.kind
                     FROM storage_trash t JOIN storage_nodes n ON n.tenant_id = t.tenant_id AND n.node_id = t.node_id
                     WHERE t.tenant_id = $1 ORDER BY t.deleted_seq DESC LIMIT $2",
                )
                .bind(self.tenant.as_uuid())
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn trash_item(&mut self, id: Uuid) -> Result<Option<TrashRow>> {
                Ok(sqlx::query_as(
                    "SELECT t.trash_id, t.node_id, t.parent_id, t.name, t.original_path, t.deleted_at, t.deleted_by, n.kind
                     FROM storage_trash t JOIN storage_nodes n ON n.tenant_id = t.tenant_id AND n.node_id = t.node_id
                     WHERE t.tenant_id = $1 AND t.trash_id = $2",
                )
                .bind(self.tenant.as_uuid())
                .bind(id)
                .fetch_optional(&mut *self.tx)
                .await?)
            }

            async fn trash_of_node(&mut self, node: Uuid) -> Result<Option<Uuid>> {
                Ok(sqlx::query_scalar("SELECT trash_id FROM storage_trash WHERE tenant_id = $1 AND node_id = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(node)
                    .fetch_optional(&mut *self.tx)
                    .await?)
            }

            async fn delete_trash(&mut self, id: Uuid) -> Result<()> {
                sqlx::query("DELETE FROM storage_trash WHERE tenant_id = $1 AND trash_id = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn expired_trash(&mut self, before: i64, limit: i64) -> Result<Vec<TrashRow>> {
                Ok(sqlx::query_as(
                    "SELECT t.trash_id, t.node_id, t.parent_id, t.name, t.original_path, t.deleted_at, t.deleted_by, n.kind
                     FROM storage_trash t JOIN storage_nodes n ON n.tenant_id = t.tenant_id AND n.node_id = t.node_id
                     WHERE t.tenant_id = $1 AND t.deleted_at < $2 ORDER BY t.deleted_at LIMIT $3",
                )
                .bind(self.tenant.as_uuid())
                .bind(before)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn held(&mut self, node: Uuid, now: i64) -> Result<bool> {
                let count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM storage_holds WHERE tenant_id = $1 AND node_id = $2 AND (until_at IS NULL OR until_at > $3)",
                )
                .bind(self.tenant.as_uuid())
                .bind(node)
                .bind(now)
                .fetch_one(&mut *self.tx)
                .await?;
                Ok(count > 0)
            }

            async fn hold(&mut self, node: Uuid) -> Result<Option<(String, Option<i64>)>> {
                Ok(sqlx::query_as(
                    "SELECT reason, until_at FROM storage_holds WHERE tenant_id = $1 AND node_id = $2",
                )
                .bind(self.tenant.as_uuid())
                .bind(node)
                .fetch_optional(&mut *self.tx)
                .await?)
            }

            async fn set_hold(&mut self, node: Uuid, reason: &str, until: Option<i64>) -> Result<()> {
                sqlx::query(
                    "INSERT INTO storage_holds (tenant_id, node_id, reason, until_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (tenant_id, node_id) DO UPDATE SET reason = excluded.reason, until_at = excluded.until_at",
                )
                .bind(self.tenant.as_uuid())
                .bind(node)
                .bind(reason)
                .bind(until)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn remove_hold(&mut self, node: Uuid) -> Result<()> {
                sqlx::query("DELETE FROM storage_holds WHERE tenant_id = $1 AND node_id = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(node)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn locks(&mut self, now: i64) -> Result<Vec<LockRow>> {
                Ok(sqlx::query_as(
                    "SELECT token, root, depth_infinity, exclusive, owner, principal, expires_at FROM storage_locks
                     WHERE tenant_id = $1 AND expires_at > $2",
                )
                .bind(self.tenant.as_uuid())
                .bind(now)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn insert_lock(&mut self, row: &LockRow) -> Result<()> {
                sqlx::query(
                    "INSERT INTO storage_locks (tenant_id, token, root, depth_infinity, exclusive, owner, principal, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(self.tenant.as_uuid())
                .bind(&row.token)
                .bind(&row.root)
                .bind(row.depth_infinity)
                .bind(row.exclusive)
                .bind(&row.owner)
                .bind(&row.principal)
                .bind(row.expires_at)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn delete_lock(&mut self, token: &str) -> Result<bool> {
                let done = sqlx::query("DELETE FROM storage_locks WHERE tenant_id = $1 AND token = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(token)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn refresh_lock(&mut self, token: &str, expires_at: i64) -> Result<bool> {
                let done = sqlx::query("UPDATE storage_locks SET expires_at = $3 WHERE tenant_id = $1 AND token = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(token)
                    .bind(expires_at)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn purge_locks(&mut self, now: i64) -> Result<()> {
                sqlx::query("DELETE FROM storage_locks WHERE tenant_id = $1 AND expires_at <= $2")
                    .bind(self.tenant.as_uuid())
                    .bind(now)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn insert_link(&mut self, row: &LinkRow, token_hash: &[u8]) -> Result<()> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO storage_share_links (tenant_id, token_hash, {LINK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                )))
                .bind(self.tenant.as_uuid())
                .bind(token_hash)
                .bind(row.link_id)
                .bind(row.node_id)
                .bind(row.mode)
                .bind(row.expires_at)
                .bind(&row.code_hash)
                .bind(row.max_downloads)
                .bind(row.downloads)
                .bind(&row.created_by)
                .bind(row.created_at)
                .bind(row.revoked_at)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn links(&mut self) -> Result<Vec<LinkRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {LINK_COLUMNS} FROM storage_share_links WHERE tenant_id = $1 ORDER BY created_at"
                )))
                .bind(self.tenant.as_uuid())
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn link_by_token(&mut self, token_hash: &[u8]) -> Result<Option<LinkRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {LINK_COLUMNS} FROM storage_share_links WHERE tenant_id = $1 AND token_hash = $2"
                )))
                .bind(self.tenant.as_uuid())
                .bind(token_hash)
                .fetch_optional(&mut *self.tx)
                .await?)
            }

            async fn revoke_link(&mut self, id: Uuid, at: i64) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE storage_share_links SET revoked_at = $3 WHERE tenant_id = $1 AND link_id = $2 AND revoked_at IS NULL",
                )
                .bind(self.tenant.as_uuid())
                .bind(id)
                .bind(at)
                .execute(&mut *self.tx)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn count_download(&mut self, id: Uuid) -> Result<bool> {
                let done = sqlx::query(
                    "UPDATE storage_share_links SET downloads = downloads + 1
                     WHERE tenant_id = $1 AND link_id = $2 AND (max_downloads IS NULL OR downloads < max_downloads)",
                )
                .bind(self.tenant.as_uuid())
                .bind(id)
                .execute(&mut *self.tx)
                .await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

impl_sql!(sqlx::Sqlite);
impl_sql!(sqlx::Postgres);
