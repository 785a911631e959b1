//! The mail store's statements, written once for both engines.

use async_trait::async_trait;
use guss_sql::Tx;
use uuid::Uuid;

use crate::Result;

/// A mailbox row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct MailboxRow {
    pub(crate) id: Uuid,
    pub(crate) account: String,
    pub(crate) name: String,
    pub(crate) role: Option<String>,
    pub(crate) uid_validity: i64,
    pub(crate) uid_next: i64,
    pub(crate) highest_modseq: i64,
    pub(crate) subscribed: i32,
    pub(crate) created_at: i64,
}

/// A message row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct MessageRow {
    pub(crate) mailbox_id: Uuid,
    pub(crate) uid: i64,
    pub(crate) account: String,
    pub(crate) blob_key: String,
    pub(crate) size: i64,
    pub(crate) internal_date: i64,
    pub(crate) flags: String,
    pub(crate) modseq: i64,
    pub(crate) thread_id: String,
    pub(crate) message_id: Option<String>,
    pub(crate) subject: Option<String>,
    pub(crate) sender: Option<String>,
}

/// A queued outbound message.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct QueueRow {
    pub(crate) id: Uuid,
    pub(crate) origin: String,
    pub(crate) blob_key: String,
    pub(crate) sender: String,
    pub(crate) recipients: String,
    pub(crate) attempts: i32,
    pub(crate) next_attempt: i64,
    pub(crate) created_at: i64,
    pub(crate) last_error: Option<String>,
    pub(crate) dsn: i32,
}

/// A stored DKIM key.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct DkimRow {
    pub(crate) selector: String,
    pub(crate) algorithm: String,
    pub(crate) pkcs8: Vec<u8>,
    pub(crate) created_at: i64,
    pub(crate) retired_at: Option<i64>,
}

const MAILBOX_COLUMNS: &str =
    "id, account, name, role, uid_validity, uid_next, highest_modseq, subscribed, created_at";
const MESSAGE_COLUMNS: &str = "mailbox_id, uid, account, blob_key, size, internal_date, flags, modseq, thread_id, message_id, subject, sender";
const QUEUE_COLUMNS: &str =
    "id, origin, blob_key, sender, recipients, attempts, next_attempt, created_at, last_error, dsn";

/// `done`, with a unique-key violation turned into a conflict that says `what`.
fn unique<T>(done: Result<T, sqlx::Error>, what: impl FnOnce() -> String) -> Result<()> {
    match done {
        Ok(_) => Ok(()),
        Err(e) if guss_sql::is_unique_violation(&e) => Err(crate::Error::Conflict(what())),
        Err(e) => Err(e.into()),
    }
}

#[async_trait]
pub(crate) trait Sql: Send {
    /// Inserts a mailbox; one of the same name is a conflict, or with
    /// `if_absent` (made concurrently) no change.
    async fn insert_mailbox(&mut self, row: &MailboxRow, if_absent: bool) -> Result<()>;
    async fn mailboxes(&mut self, account: &str) -> Result<Vec<MailboxRow>>;
    /// The accounts that have mailboxes.
    async fn accounts(&mut self) -> Result<Vec<String>>;
    async fn mailbox(&mut self, id: Uuid) -> Result<Option<MailboxRow>>;
    async fn rename_mailbox(&mut self, id: Uuid, name: &str) -> Result<()>;
    async fn set_subscribed(&mut self, id: Uuid, subscribed: bool) -> Result<()>;
    /// Deletes a mailbox with its messages; the blob keys they used.
    async fn delete_mailbox(&mut self, id: Uuid) -> Result<Vec<String>>;
    /// Reserves `count` UIDs and one modseq: the first UID and the modseq.
    async fn reserve(&mut self, id: Uuid, count: i64) -> Result<(i64, i64)>;

    async fn insert_message(&mut self, row: &MessageRow) -> Result<()>;
    async fn messages(
        &mut self,
        mailbox: Uuid,
        from: i64,
        to: i64,
        limit: i64,
    ) -> Result<Vec<MessageRow>>;
    /// Messages changed after `modseq` with a UID above `after`, by UID.
    async fn changed_since(
        &mut self,
        mailbox: Uuid,
        modseq: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<MessageRow>>;
    async fn set_flags(&mut self, mailbox: Uuid, uid: i64, flags: &str, modseq: i64) -> Result<()>;
    async fn remove_message(&mut self, mailbox: Uuid, uid: i64, modseq: i64) -> Result<()>;
    /// UIDs expunged after `modseq` above `after`, ascending.
    async fn expunged_since(
        &mut self,
        mailbox: Uuid,
        modseq: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<i64>>;
    async fn blob_in_use(&mut self, key: &str) -> Result<bool>;
    async fn thread_of(&mut self, account: &str, message_id: &str) -> Result<Option<String>>;
    async fn counts(&mut self, mailbox: Uuid) -> Result<(i64, i64)>;
    /// Bytes and messages stored in an account's mailboxes.
    async fn usage(&mut self, account: &str) -> Result<(i64, i64)>;

    async fn address(&mut self, address: &str) -> Result<Option<String>>;
    async fn set_address(&mut self, address: &str, account: &str) -> Result<()>;
    async fn remove_address(&mut self, address: &str) -> Result<bool>;
    async fn addresses_of(&mut self, account: &str) -> Result<Vec<String>>;
    async fn insert_shared(&mut self, name: &str, display_name: &str) -> Result<()>;
    async fn shared(&mut self) -> Result<Vec<(String, String)>>;

    async fn insert_dkim(&mut self, domain: &str, row: &DkimRow) -> Result<()>;
    async fn dkim_keys(&mut self, domain: &str) -> Result<Vec<DkimRow>>;
    async fn retire_dkim(&mut self, domain: &str, selector: &str, at: i64) -> Result<()>;
    async fn delete_dkim(&mut self, domain: &str, selector: &str) -> Result<()>;

    async fn enqueue(&mut self, row: &QueueRow) -> Result<()>;
    /// Claims up to `limit` due rows until `lease_until`.
    async fn claim(&mut self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<QueueRow>>;
    async fn finish(&mut self, id: Uuid) -> Result<()>;
    async fn renew_claim(&mut self, id: Uuid, lease_until: i64) -> Result<()>;
    async fn reschedule(
        &mut self,
        id: Uuid,
        recipients: &str,
        attempts: i32,
        next_attempt: i64,
        error: &str,
    ) -> Result<()>;
    async fn queued(&mut self, limit: i64) -> Result<Vec<QueueRow>>;
    async fn make_due(&mut self, now: i64) -> Result<()>;
    async fn release_claims(&mut self) -> Result<()>;
}

macro_rules! impl_sql {
    ($db:ty, $skip_locked:literal) => {
        #[async_trait]
        impl Sql for Tx<'static, $db> {
            async fn insert_mailbox(&mut self, row: &MailboxRow, if_absent: bool) -> Result<()> {
                let on_conflict = if if_absent { "ON CONFLICT DO NOTHING" } else { "" };
                let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO mail_mailboxes (tenant_id, {MAILBOX_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) {on_conflict}"
                )))
                .bind(self.tenant.as_uuid())
                .bind(row.id)
                .bind(&row.account)
                .bind(&row.name)
                .bind(&row.role)
                .bind(row.uid_validity)
                .bind(row.uid_next)
                .bind(row.highest_modseq)
                .bind(row.subscribed)
                .bind(row.created_at)
                .execute(&mut *self.tx)
                .await;
                unique(done, || format!("a mailbox named {:?} exists", row.name))
            }

            async fn mailboxes(&mut self, account: &str) -> Result<Vec<MailboxRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {MAILBOX_COLUMNS} FROM mail_mailboxes WHERE tenant_id = $1 AND account = $2 ORDER BY name"
                )))
                .bind(self.tenant.as_uuid())
                .bind(account)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn accounts(&mut self) -> Result<Vec<String>> {
                Ok(sqlx::query_scalar(
                    "SELECT DISTINCT account FROM mail_mailboxes WHERE tenant_id = $1 ORDER BY account",
                )
                .bind(self.tenant.as_uuid())
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn mailbox(&mut self, id: Uuid) -> Result<Option<MailboxRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {MAILBOX_COLUMNS} FROM mail_mailboxes WHERE tenant_id = $1 AND id = $2"
                )))
                .bind(self.tenant.as_uuid())
                .bind(id)
                .fetch_optional(&mut *self.tx)
                .await?)
            }

            async fn rename_mailbox(&mut self, id: Uuid, name: &str) -> Result<()> {
                let done = sqlx::query("UPDATE mail_mailboxes SET name = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(id)
                    .bind(name)
                    .execute(&mut *self.tx)
                    .await;
                unique(done, || format!("a mailbox named {name:?} exists"))
            }

            async fn set_subscribed(&mut self, id: Uuid, subscribed: bool) -> Result<()> {
                sqlx::query("UPDATE mail_mailboxes SET subscribed = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(id)
                    .bind(i32::from(subscribed))
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn delete_mailbox(&mut self, id: Uuid) -> Result<Vec<String>> {
                let keys: Vec<String> = sqlx::query_scalar(
                    "SELECT DISTINCT blob_key FROM mail_messages WHERE tenant_id = $1 AND mailbox_id = $2",
                )
                .bind(self.tenant.as_uuid())
                .bind(id)
                .fetch_all(&mut *self.tx)
                .await?;
                for table in ["mail_messages", "mail_expunged"] {
                    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE tenant_id = $1 AND mailbox_id = $2")))
                        .bind(self.tenant.as_uuid())
                        .bind(id)
                        .execute(&mut *self.tx)
                        .await?;
                }
                sqlx::query("DELETE FROM mail_mailboxes WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(keys)
            }

            async fn reserve(&mut self, id: Uuid, count: i64) -> Result<(i64, i64)> {
                let (next, modseq): (i64, i64) = sqlx::query_as(
                    "UPDATE mail_mailboxes SET uid_next = uid_next + $3, highest_modseq = highest_modseq + 1
                     WHERE tenant_id = $1 AND id = $2 RETURNING uid_next, highest_modseq",
                )
                .bind(self.tenant.as_uuid())
                .bind(id)
                .bind(count)
                .fetch_optional(&mut *self.tx)
                .await?
                .ok_or(crate::Error::NotFound("mailbox"))?;
                Ok((next - count, modseq))
            }

            async fn insert_message(&mut self, row: &MessageRow) -> Result<()> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO mail_messages (tenant_id, {MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                )))
                .bind(self.tenant.as_uuid())
                .bind(row.mailbox_id)
                .bind(row.uid)
                .bind(&row.account)
                .bind(&row.blob_key)
                .bind(row.size)
                .bind(row.internal_date)
                .bind(&row.flags)
                .bind(row.modseq)
                .bind(&row.thread_id)
                .bind(&row.message_id)
                .bind(&row.subject)
                .bind(&row.sender)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn messages(&mut self, mailbox: Uuid, from: i64, to: i64, limit: i64) -> Result<Vec<MessageRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {MESSAGE_COLUMNS} FROM mail_messages WHERE tenant_id = $1 AND mailbox_id = $2 AND uid >= $3 AND uid <= $4 ORDER BY uid LIMIT $5"
                )))
                .bind(self.tenant.as_uuid())
                .bind(mailbox)
                .bind(from)
                .bind(to)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn changed_since(&mut self, mailbox: Uuid, modseq: i64, after: i64, limit: i64) -> Result<Vec<MessageRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {MESSAGE_COLUMNS} FROM mail_messages WHERE tenant_id = $1 AND mailbox_id = $2 AND modseq > $3 AND uid > $4 ORDER BY uid LIMIT $5"
                )))
                .bind(self.tenant.as_uuid())
                .bind(mailbox)
                .bind(modseq)
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn set_flags(&mut self, mailbox: Uuid, uid: i64, flags: &str, modseq: i64) -> Result<()> {
                sqlx::query("UPDATE mail_messages SET flags = $4, modseq = $5 WHERE tenant_id = $1 AND mailbox_id = $2 AND uid = $3")
                    .bind(self.tenant.as_uuid())
                    .bind(mailbox)
                    .bind(uid)
                    .bind(flags)
                    .bind(modseq)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn remove_message(&mut self, mailbox: Uuid, uid: i64, modseq: i64) -> Result<()> {
                sqlx::query("DELETE FROM mail_messages WHERE tenant_id = $1 AND mailbox_id = $2 AND uid = $3")
                    .bind(self.tenant.as_uuid())
                    .bind(mailbox)
                    .bind(uid)
                    .execute(&mut *self.tx)
                    .await?;
                sqlx::query("INSERT INTO mail_expunged (tenant_id, mailbox_id, uid, modseq) VALUES ($1, $2, $3, $4)")
                    .bind(self.tenant.as_uuid())
                    .bind(mailbox)
                    .bind(uid)
                    .bind(modseq)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn expunged_since(&mut self, mailbox: Uuid, modseq: i64, after: i64, limit: i64) -> Result<Vec<i64>> {
                Ok(sqlx::query_scalar(
                    "SELECT uid FROM mail_expunged WHERE tenant_id = $1 AND mailbox_id = $2 AND modseq > $3 AND uid > $4 ORDER BY uid LIMIT $5",
                )
                .bind(self.tenant.as_uuid())
                .bind(mailbox)
                .bind(modseq)
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn blob_in_use(&mut self, key: &str) -> Result<bool> {
                let found: Option<i64> = sqlx::query_scalar("SELECT uid FROM mail_messages WHERE tenant_id = $1 AND blob_key = $2 LIMIT 1")
                    .bind(self.tenant.as_uuid())
                    .bind(key)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                Ok(found.is_some())
            }

            async fn thread_of(&mut self, account: &str, message_id: &str) -> Result<Option<String>> {
                Ok(sqlx::query_scalar("SELECT thread_id FROM mail_messages WHERE tenant_id = $1 AND account = $2 AND message_id = $3 LIMIT 1")
                    .bind(self.tenant.as_uuid())
                    .bind(account)
                    .bind(message_id)
                    .fetch_optional(&mut *self.tx)
                    .await?)
            }

            async fn usage(&mut self, account: &str) -> Result<(i64, i64)> {
                Ok(sqlx::query_as(
                    "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT), COUNT(*) FROM mail_messages WHERE tenant_id = $1 AND account = $2",
                )
                .bind(self.tenant.as_uuid())
                .bind(account)
                .fetch_one(&mut *self.tx)
                .await?)
            }

            async fn counts(&mut self, mailbox: Uuid) -> Result<(i64, i64)> {
                let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_messages WHERE tenant_id = $1 AND mailbox_id = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(mailbox)
                    .fetch_one(&mut *self.tx)
                    .await?;
                let seen: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM mail_messages WHERE tenant_id = $1 AND mailbox_id = $2 AND (' ' || flags || ' ') LIKE '% \\Seen %' ESCAPE '!'",
                )
                .bind(self.tenant.as_uuid())
                .bind(mailbox)
                .fetch_one(&mut *self.tx)
                .await?;
                Ok((total, total - seen))
            }

            async fn address(&mut self, address: &str) -> Result<Option<String>> {
                Ok(sqlx::query_scalar("SELECT account FROM mail_addresses WHERE tenant_id = $1 AND address = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(address)
                    .fetch_optional(&mut *self.tx)
                    .await?)
            }

            async fn set_address(&mut self, address: &str, account: &str) -> Result<()> {
                let done = sqlx::query("INSERT INTO mail_addresses (tenant_id, address, account) VALUES ($1, $2, $3)")
                    .bind(self.tenant.as_uuid())
                    .bind(address)
                    .bind(account)
                    .execute(&mut *self.tx)
                    .await;
                unique(done, || format!("{address} is taken"))
            }

            async fn remove_address(&mut self, address: &str) -> Result<bool> {
                let done = sqlx::query("DELETE FROM mail_addresses WHERE tenant_id = $1 AND address = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(address)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn addresses_of(&mut self, account: &str) -> Result<Vec<String>> {
                Ok(sqlx::query_scalar("SELECT address FROM mail_addresses WHERE tenant_id = $1 AND account = $2 ORDER BY address")
                    .bind(self.tenant.as_uuid())
                    .bind(account)
                    .fetch_all(&mut *self.tx)
                    .await?)
            }

            async fn insert_shared(&mut self, name: &str, display_name: &str) -> Result<()> {
                let done = sqlx::query("INSERT INTO mail_shared (tenant_id, name, display_name) VALUES ($1, $2, $3)")
                    .bind(self.tenant.as_uuid())
                    .bind(name)
                    .bind(display_name)
                    .execute(&mut *self.tx)
                    .await;
                unique(done, || format!("a shared mailbox {name:?} exists"))
            }

            async fn shared(&mut self) -> Result<Vec<(String, String)>> {
                Ok(sqlx::query_as("SELECT name, display_name FROM mail_shared WHERE tenant_id = $1 ORDER BY name")
                    .bind(self.tenant.as_uuid())
                    .fetch_all(&mut *self.tx)
                    .await?)
            }

            async fn insert_dkim(&mut self, domain: &str, row: &DkimRow) -> Result<()> {
                sqlx::query(
                    "INSERT INTO mail_dkim_keys (tenant_id, domain, selector, algorithm, pkcs8, created_at, retired_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(self.tenant.as_uuid())
                .bind(domain)
                .bind(&row.selector)
                .bind(&row.algorithm)
                .bind(&row.pkcs8)
                .bind(row.created_at)
                .bind(row.retired_at)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn dkim_keys(&mut self, domain: &str) -> Result<Vec<DkimRow>> {
                Ok(sqlx::query_as(
                    "SELECT selector, algorithm, pkcs8, created_at, retired_at FROM mail_dkim_keys
                     WHERE tenant_id = $1 AND domain = $2 ORDER BY created_at DESC, selector",
                )
                .bind(self.tenant.as_uuid())
                .bind(domain)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn retire_dkim(&mut self, domain: &str, selector: &str, at: i64) -> Result<()> {
                sqlx::query("UPDATE mail_dkim_keys SET retired_at = $4 WHERE tenant_id = $1 AND domain = $2 AND selector = $3")
                    .bind(self.tenant.as_uuid())
                    .bind(domain)
                    .bind(selector)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn delete_dkim(&mut self, domain: &str, selector: &str) -> Result<()> {
                sqlx::query("DELETE FROM mail_dkim_keys WHERE tenant_id = $1 AND domain = $2 AND selector = $3")
                    .bind(self.tenant.as_uuid())
                    .bind(domain)
                    .bind(selector)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn enqueue(&mut self, row: &QueueRow) -> Result<()> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO mail_queue (tenant_id, {QUEUE_COLUMNS}, lease_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0)"
                )))
                .bind(self.tenant.as_uuid())
                .bind(row.id)
                .bind(&row.origin)
                .bind(&row.blob_key)
                .bind(&row.sender)
                .bind(&row.recipients)
                .bind(row.attempts)
                .bind(row.next_attempt)
                .bind(row.created_at)
                .bind(&row.last_error)
                .bind(row.dsn)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn claim(&mut self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<QueueRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "UPDATE mail_queue SET lease_until = $3 WHERE tenant_id = $1 AND id IN (
                        SELECT id FROM mail_queue WHERE tenant_id = $1 AND next_attempt <= $2 AND lease_until <= $2
                        ORDER BY next_attempt LIMIT $4 {}) RETURNING {QUEUE_COLUMNS}",
                    $skip_locked
                )))
                .bind(self.tenant.as_uuid())
                .bind(now)
                .bind(lease_until)
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn renew_claim(&mut self, id: Uuid, lease_until: i64) -> Result<()> {
                sqlx::query("UPDATE mail_queue SET lease_until = $3 WHERE tenant_id = $1 AND id = $2 AND lease_until > 0")
                    .bind(self.tenant.as_uuid())
                    .bind(id)
                    .bind(lease_until)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn finish(&mut self, id: Uuid) -> Result<()> {
                sqlx::query("DELETE FROM mail_queue WHERE tenant_id = $1 AND id = $2")
                    .bind(self.tenant.as_uuid())
                    .bind(id)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn reschedule(&mut self, id: Uuid, recipients: &str, attempts: i32, next_attempt: i64, error: &str) -> Result<()> {
                sqlx::query(
                    "UPDATE mail_queue SET recipients = $3, attempts = $4, next_attempt = $5, last_error = $6, lease_until = 0
                     WHERE tenant_id = $1 AND id = $2",
                )
                .bind(self.tenant.as_uuid())
                .bind(id)
                .bind(recipients)
                .bind(attempts)
                .bind(next_attempt)
                .bind(error)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn queued(&mut self, limit: i64) -> Result<Vec<QueueRow>> {
                Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {QUEUE_COLUMNS} FROM mail_queue WHERE tenant_id = $1 ORDER BY next_attempt LIMIT $2"
                )))
                .bind(self.tenant.as_uuid())
                .bind(limit)
                .fetch_all(&mut *self.tx)
                .await?)
            }

            async fn make_due(&mut self, now: i64) -> Result<()> {
                sqlx::query("UPDATE mail_queue SET next_attempt = $2 WHERE tenant_id = $1 AND next_attempt > $2")
                    .bind(self.tenant.as_uuid())
                    .bind(now)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }

            async fn release_claims(&mut self) -> Result<()> {
                sqlx::query("UPDATE mail_queue SET lease_until = 0 WHERE tenant_id = $1")
                    .bind(self.tenant.as_uuid())
                    .execute(&mut *self.tx)
                    .await?;
                Ok(())
            }
        }
    };
}

impl_sql!(sqlx::Sqlite, "");
impl_sql!(sqlx::Postgres, "FOR UPDATE SKIP LOCKED");
