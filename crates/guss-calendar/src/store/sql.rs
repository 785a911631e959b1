//! The calendar store's statements, written once for both engines.

use async_trait::async_trait;
use guss_sql::Tx;
use uuid::Uuid;

use crate::Result;

/// A collection row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct CollectionRow {
    pub(crate) id: Uuid,
    pub(crate) owner: String,
    pub(crate) slug: String,
    pub(crate) kind: i32,
    pub(crate) display_name: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) color: Option<String>,
    pub(crate) timezone: Option<String>,
    pub(crate) components: String,
    pub(crate) seq: i64,
    pub(crate) created_at: i64,
}

/// An object row (the text only when asked for).
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct ObjectRow {
    pub(crate) name: String,
    pub(crate) uid: String,
    pub(crate) etag: String,
    pub(crate) component: String,
    pub(crate) ics: String,
    pub(crate) modified_at: i64,
    pub(crate) schedule_tag: Option<String>,
}

const COLLECTION_COLUMNS: &str = "id, owner, slug, kind, display_name, description, color, timezone, components, seq, created_at";
const OBJECT_COLUMNS: &str = "name, uid, etag, component, ics, modified_at, schedule_tag";

#[async_trait]
pub(crate) trait Sql: Send {
    async fn insert_collection(&mut self, row: &CollectionRow) -> Result<()>;
    async fn collection(&mut self, owner: &str, slug: &str) -> Result<Option<CollectionRow>>;
    async fn collections(&mut self, owner: &str) -> Result<Vec<CollectionRow>>;
    async fn collection_by_id(&mut self, id: Uuid) -> Result<Option<CollectionRow>>;
    async fn update_collection(&mut self, row: &CollectionRow) -> Result<()>;
    async fn delete_collection(&mut self, id: Uuid) -> Result<()>;
    /// The collection's next change number (and its row locked for the transaction).
    async fn next_seq(&mut self, id: Uuid) -> Result<i64>;
    async fn props(&mut self, id: Uuid) -> Result<Vec<(String, String, String)>>;
    async fn set_prop(&mut self, id: Uuid, namespace: &str, local: &str, value: &str)
    -> Result<()>;
    async fn remove_prop(&mut self, id: Uuid, namespace: &str, local: &str) -> Result<()>;

    async fn object(&mut self, collection: Uuid, name: &str) -> Result<Option<ObjectRow>>;
    async fn object_by_uid(&mut self, collection: Uuid, uid: &str) -> Result<Option<ObjectRow>>;
    async fn objects(&mut self, collection: Uuid, limit: i64) -> Result<Vec<ObjectRow>>;
    async fn objects_in_range(
        &mut self,
        collection: Uuid,
        start: i64,
        end: i64,
        limit: i64,
    ) -> Result<Vec<ObjectRow>>;
    #[allow(clippy::too_many_arguments)]
    async fn upsert_object(
        &mut self,
        collection: Uuid,
        row: &ObjectRow,
        first_start: Option<i64>,
        last_end: Option<i64>,
    ) -> Result<()>;
    async fn delete_object(&mut self, collection: Uuid, name: &str) -> Result<bool>;

    async fn log_change(
        &mut self,
        collection: Uuid,
        seq: i64,
        name: &str,
        removed: bool,
    ) -> Result<()>;
    async fn changes_since(
        &mut self,
        collection: Uuid,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String, i32)>>;

    async fn set_share(&mut self, collection: Uuid, grantee: &str, writable: bool) -> Result<()>;
    async fn remove_share(&mut self, collection: Uuid, grantee: &str) -> Result<()>;
    async fn shares(&mut self, collection: Uuid) -> Result<Vec<(String, i32)>>;
    async fn shared_with(&mut self, grantee: &str) -> Result<Vec<(Uuid, i32)>>;
}

macro_rules! impl_sql {
    ($db:ty) => {
        #[async_trait]
        impl Sql for Tx<'static, $db> {
            async fn insert_collection(&mut self, row: &CollectionRow) -> Result<()> {
                let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO cal_collections (tenant_id, {COLLECTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                )))
                .bind(self.tenant.as_uuid())
                .bind(row.id)
                .bind(&row.owner)
                .bind(&row.slug)
                .bind(row.kind)
                .bind(&row.display_name)
                .bind(&row.description)
                .bind(&row.color)
                .bind(&row.timezone)
                .bind(&row.components)
                .bind(row.seq)
                .bind(row.created_at)
                .execute(&mut *self.tx)
                .await;
                match done {
                    Ok(_) => Ok(()),
                    Err(e) if guss_sql::is_unique_violation(&e) => Err(crate::Error::Conflict("a calendar of that name exists".into())),
                    Err(e) => Err(e.into()),
                }
            }

            async fn collection(&mut self, owner: &str, slug: &str) -> Result<Option<CollectionRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLLECTION_COLUMNS} FROM cal_collections WHERE tenant_id = $1 AND owner = $2 AND slug = $3"
                )))
                .bind(self.tenant.as_uuid())
                .bind(owner)
                .bind(slug)
                .fetch_optional(&mut *self.tx)
                .await?)
            }

            async fn collections(&mut self, owner: &str) -> Result<Vec<CollectionRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLLECTION_COLUMNS} FROM cal_collections WHERE tenant_id = $1 AND owner = $2 ORDER BY slug"
                )))
                .bind(self.tenant.as_uuid())
                .bind(owner)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn collection_by_id(&mut self, id: Uuid) -> Result<Option<CollectionRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLLECTION_COLUMNS} FROM cal_collections WHERE tenant_id = $1 AND id = $2"
                )))
                .bind(self.tenant.as_uuid())
                .bind(id)
                .fetch_optional(&mut *self.tx)
                .await?)
            }

            async fn update_collection(&mut self, row: &CollectionRow) -> Result<()> {
                sqlx::query(
                    "UPDATE cal_collections SET display_name = $3, description = $4, color = $5, timezone = $6, components = $7
                     WHERE tenant_id = $1 AND id = $2",
                )
                .bind(self.tenant.as_uuid())
                .bind(row.id)
                .bind(&row.display_name)
                .bind(&row.description)
                .bind(&row.color)
                .bind(&row.timezone)
                .bind(&row.components)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn delete_collection(&mut self, id: Uuid) -> Result<()> {
                for table in ["cal_objects", "cal_changes", "cal_shares", "cal_collection_props"] {
                    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE tenant_id = $1 AND collection_id = $2")))
                        .bind(self.tenant.as_uuid())
                        .bind(id)
                        .execute(&mut *self.tx)
                        .await?;
                }
                sqlx::query("DELETE FROM cal_collections WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn next_seq(&mut self, id: Uuid) -> Result<i64> {
                sqlx::query_scalar("UPDATE cal_collections SET seq = seq + 1 WHERE tenant_id = $1 AND id = $2 RETURNING seq")
                    .bind(self.tenant.as_uuid())
                    .bind(id)
                    .fetch_optional(&mut *self.tx)
                    .await?
                    .ok_or(crate::Error::NotFound("calendar"))
            }

            async fn props(&mut self, id: Uuid) -> Result<Vec<(String, String, String)>> {
                Ok(sqlx::query_as(
                    "SELECT namespace, local, value FROM cal_collection_props WHERE tenant_id = $1 AND collection_id = $2 ORDER BY namespace, local",
                )
                .bind(self.tenant.as_uuid())
                .bind(id)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn set_prop(&mut self, id: Uuid, namespace: &str, local: &str, value: &str) -> Result<()> {
                sqlx::query(
                    "INSERT INTO cal_collection_props (tenant_id, collection_id, namespace, local, value) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (tenant_id, collection_id, namespace, local) DO UPDATE SET value = excluded.value",
                )
                .bind(self.tenant.as_uuid())
                .bind(id)
                .bind(namespace)
                .bind(local)
                .bind(value)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn remove_prop(&mut self, id: Uuid, namespace: &str, local: &str) -> Result<()> {
                sqlx::query("DELETE FROM cal_collection_props WHERE tenant_id = $1 AND collection_id = $2 AND namespace = $3 AND local = $4")
                    .bind(self.tenant.as_uuid())
                    .bind(id)
                    .bind(namespace)
                    .bind(local)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn object(&mut self, collection: Uuid, name: &str) -> Result<Option<ObjectRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {OBJECT_COLUMNS} FROM cal_objects WHERE tenant_id = $1 AND collection_id = $2 AND name = $3"
                )))
                .bind(self.tenant.as_uuid())
                .bind(collection)
                .bind(name)
                .fetch_optional(&mut *self.tx)
                .await?)
            }

            async fn object_by_uid(&mut self, collection: Uuid, uid: &str) -> Result<Option<ObjectRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {OBJECT_COLUMNS} FROM cal_objects WHERE tenant_id = $1 AND collection_id = $2 AND uid = $3"
                )))
                .bind(self.tenant.as_uuid())
                .bind(collection)
                .bind(uid)
                .fetch_optional(&mut *self.tx)
                .await?)
            }

            async fn objects(&mut self, collection: Uuid, limit: i64) -> Result<Vec<ObjectRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {OBJECT_COLUMNS} FROM cal_objects WHERE tenant_id = $1 AND collection_id = $2 ORDER BY name LIMIT $3"
                )))
                .bind(self.tenant.as_uuid())
                .bind(collection)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn objects_in_range(&mut self, collection: Uuid, start: i64, end: i64, limit: i64) -> Result<Vec<ObjectRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {OBJECT_COLUMNS} FROM cal_objects WHERE tenant_id = $1 AND collection_id = $2
                       AND (first_start IS NULL OR first_start < $4) AND (last_end IS NULL OR last_end >= $3)
                     ORDER BY name LIMIT $5"
                )))
                .bind(self.tenant.as_uuid())
                .bind(collection)
                .bind(start)
                .bind(end)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn upsert_object(&mut self, collection: Uuid, row: &ObjectRow, first_start: Option<i64>, last_end: Option<i64>) -> Result<()> {
                let done = sqlx::query(
                    "INSERT INTO cal_objects (tenant_id, collection_id, name, uid, etag, component, ics, first_start, last_end, modified_at, schedule_tag)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                     ON CONFLICT (tenant_id, collection_id, name) DO UPDATE SET uid = excluded.uid, etag = excluded.etag,
                       component = excluded.component, ics = excluded.ics, first_start = excluded.first_start,
                       last_end = excluded.last_end, modified_at = excluded.modified_at, schedule_tag = excluded.schedule_tag",
                )
                .bind(self.tenant.as_uuid())
                .bind(collection)
                .bind(&row.name)
                .bind(&row.uid)
                .bind(&row.etag)
                .bind(&row.component)
                .bind(&row.ics)
                .bind(first_start)
                .bind(last_end)
                .bind(row.modified_at)
                .bind(&row.schedule_tag)
                .execute(&mut *self.tx)
                .await;
                match done {
                    Ok(_) => Ok(()),
                    Err(e) if guss_sql::is_unique_violation(&e) => Err(crate::Error::Conflict("no-uid-conflict".into())),
                    Err(e) => Err(e.into()),
                }
            }

            async fn delete_object(&mut self, collection: Uuid, name: &str) -> Result<bool> {
                let done = sqlx::query("DELETE FROM cal_objects WHERE tenant_id = $1 AND collection_id = $2 AND name = $3")
                    .bind(self.tenant.as_uuid())
                    .bind(collection)
                    .bind(name)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn log_change(&mut self, collection: Uuid, seq: i64, name: &str, removed: bool) -> Result<()> {
                sqlx::query(
                    "INSERT INTO cal_changes (tenant_id, collection_id, seq, name, removed) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (tenant_id, collection_id, seq, name) DO UPDATE SET removed = excluded.removed",
                )
                .bind(self.tenant.as_uuid())
                .bind(collection)
                .bind(seq)
                .bind(name)
                .bind(i32::from(removed))
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn changes_since(&mut self, collection: Uuid, seq: i64, limit: i64) -> Result<Vec<(i64, String, i32)>> {
                Ok(sqlx::query_as(
                    "SELECT seq, name, removed FROM cal_changes WHERE tenant_id = $1 AND collection_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
                )
                .bind(self.tenant.as_uuid())
                .bind(collection)
                .bind(seq)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn set_share(&mut self, collection: Uuid, grantee: &str, writable: bool) -> Result<()> {
                sqlx::query(
                    "INSERT INTO cal_shares (tenant_id, collection_id, grantee, writable) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (tenant_id, collection_id, grantee) DO UPDATE SET writable = excluded.writable",
                )
                .bind(self.tenant.as_uuid())
                .bind(collection)
                .bind(grantee)
                .bind(i32::from(writable))
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn remove_share(&mut self, collection: Uuid, grantee: &str) -> Result<()> {
                sqlx::query("DELETE FROM cal_shares WHERE tenant_id = $1 AND collection_id = $2 AND grantee = $3")
                    .bind(self.tenant.as_uuid())
                    .bind(collection)
                    .bind(grantee)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn shares(&mut self, collection: Uuid) -> Result<Vec<(String, i32)>> {
                Ok(sqlx::query_as("SELECT grantee, writable FROM cal_shares WHERE tenant_id = $1 AND collection_id = $2 ORDER BY grantee")
                    .bind(self.tenant.as_uuid())
                    .bind(collection)
                    .fetch_all(&mut *self.tx)
                    .await?)
            }

            async fn shared_with(&mut self, grantee: &str) -> Result<Vec<(Uuid, i32)>> {
                Ok(sqlx::query_as("SELECT collection_id, writable FROM cal_shares WHERE tenant_id = $1 AND grantee = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(grantee)
                    .fetch_all(&mut *self.tx)
                    .await?)
            }
        }
    };
}

impl_sql!(sqlx::Sqlite);
impl_sql!(sqlx::Postgres);
