//! Mailboxes and messages: metadata in SQLite or PostgreSQL (see
//! `guss-sql`), message bytes in a [`BlobStore`].
//!
//! Every account (a person's, or a shared one like `kanzlei@`) has the six
//! special-use mailboxes. Messages carry what IMAP needs: UIDs that only
//! grow within a mailbox's UIDVALIDITY, flags and keywords, and a MODSEQ
//! that every change bumps (CONDSTORE/QRESYNC). A delivery writes the bytes
//! first and then every recipient's row in one transaction, so a message
//! is either in all of its mailboxes or in none.
//!
//! ```
//! use std::sync::Arc;
//! use guss_core::{MemoryEventSink, PersonId, SystemClock, TenantId};
//! use guss_mail::store::{Account, MailStore, Role};
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let dir = std::env::temp_dir().join(format!("guss-mail-doc-{}", TenantId::new()));
//! let blobs = Arc::new(guss_blob::LocalBlobStore::open(&dir.join("blobs")).await?);
//! let store = MailStore::open(dir.to_str().unwrap(), blobs, Arc::new(SystemClock), Arc::new(MemoryEventSink::new())).await?;
//! let mail = store.tenant(TenantId::new());
//! let anna = Account::Person(PersonId::new());
//!
//! let raw = b"From: ben@example.test\r\nSubject: Termin\r\n\r\nMorgen um neun?\r\n";
//! mail.deliver(&[(anna.clone(), Role::Inbox)], raw.to_vec().into()).await?;
//!
//! let inbox = mail.mailbox_by_role(&anna, Role::Inbox).await?;
//! let messages = mail.messages(inbox.id, 1..=u32::MAX).await?;
//! assert_eq!(messages[0].subject.as_deref(), Some("Termin"));
//! assert_eq!(&mail.raw(&messages[0]).await?[..], &raw[..]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod keys;
mod schema;
mod sql;

use std::collections::BTreeSet;
use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use guss_blob::{BlobKey, BlobStore};
use guss_core::{
    Clock, Event, EventSink, EventSource, EventType, GroupId, Limit, PersonId, TenantId,
};
use guss_sql::TenantPools;
use uuid::Uuid;

use crate::message::{Summary, summarize};
use crate::{Error, Result};
pub(crate) use sql::{DkimRow, QueueRow, Sql};
use sql::{MailboxRow, MessageRow};

/// The component name events carry.
pub(crate) const SOURCE: EventSource = EventSource::from_static("guss-mail");
/// A message arrived in a mailbox.
pub const RECEIVED: EventType = EventType::from_static("guss.mail.message.received");
/// A message with a `text/calendar` part (an iTIP invitation or reply)
/// arrived; the bundle hands it to the calendar.
pub const INVITATION: EventType = EventType::from_static("guss.mail.invitation.received");

/// Largest message stored (and accepted by SMTP by default): 50 MiB.
pub const MAX_MESSAGE: Limit = Limit::new("message size", 50 * 1024 * 1024);
/// Most mailboxes per account.
const MAX_MAILBOXES: Limit = Limit::new("mailboxes per account", 10_000);
/// Most flags and keywords on one message.
const MAX_FLAGS: Limit = Limit::new("flags per message", 128);
/// Rows read from the database at once (listings are read page by page).
const MAX_LISTING: i64 = 100_000;

/// Whose mail: a person's, or a shared account such as `kanzlei@`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    /// A person's own mail.
    Person(PersonId),
    /// A shared account, by its name (a plain lowercase word).
    Shared(String),
}

impl Account {
    /// The stored form: `person:UUID` or `shared:NAME`.
    pub fn key(&self) -> String {
        match self {
            Account::Person(id) => format!("person:{id}"),
            Account::Shared(name) => format!("shared:{name}"),
        }
    }

    /// The account of a stored key.
    pub fn from_key(key: &str) -> Result<Self> {
        if let Some(id) = key.strip_prefix("person:") {
            let id: Uuid = id
                .parse()
                .map_err(|_| Error::invalid("account", "not a person id"))?;
            return Ok(Account::Person(PersonId::from_uuid(id)));
        }
        match key.strip_prefix("shared:") {
            Some(name) if valid_shared_name(name) => Ok(Account::Shared(name.to_owned())),
            _ => Err(Error::invalid(
                "account",
                "neither person:ID nor shared:NAME",
            )),
        }
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

fn valid_shared_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// A mailbox's special use (RFC 6154).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Where new mail arrives.
    Inbox,
    /// Copies of sent mail.
    Sent,
    /// Unfinished messages.
    Drafts,
    /// Deleted messages.
    Trash,
    /// Unwanted mail (DMARC quarantine lands here).
    Junk,
    /// Kept mail.
    Archive,
}

impl Role {
    /// Every role, in the order an account's mailboxes are made.
    pub const ALL: [Role; 6] = [
        Role::Inbox,
        Role::Drafts,
        Role::Sent,
        Role::Archive,
        Role::Junk,
        Role::Trash,
    ];

    /// The stored name, also the IMAP special-use attribute without `\`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Inbox => "inbox",
            Role::Sent => "sent",
            Role::Drafts => "drafts",
            Role::Trash => "trash",
            Role::Junk => "junk",
            Role::Archive => "archive",
        }
    }

    /// The mailbox name an account starts with.
    pub fn default_name(self) -> &'static str {
        match self {
            Role::Inbox => "INBOX",
            Role::Sent => "Sent",
            Role::Drafts => "Drafts",
            Role::Trash => "Trash",
            Role::Junk => "Junk",
            Role::Archive => "Archive",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// A mailbox and its IMAP counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxInfo {
    /// Its id.
    pub id: Uuid,
    /// Whose it is.
    pub account: Account,
    /// Its name; `/` separates levels.
    pub name: String,
    /// Its special use, if any.
    pub role: Option<Role>,
    /// IMAP UIDVALIDITY.
    pub uid_validity: u32,
    /// The UID the next message will get.
    pub uid_next: u32,
    /// The highest MODSEQ given out in it.
    pub highest_modseq: u64,
    /// Whether it is subscribed.
    pub subscribed: bool,
}

/// A message's flags and keywords (`\Seen`, `$Forwarded`, …), kept sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags(BTreeSet<String>);

impl Flags {
    /// The flags of `names`: system flags (`\Seen`) and keywords (IMAP atoms).
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let mut set = BTreeSet::new();
        for name in names {
            let keyword = name.strip_prefix('\\').unwrap_or(name);
            let atom = !keyword.is_empty()
                && keyword.len() <= 128
                && keyword.bytes().all(|b| {
                    b.is_ascii_graphic()
                        && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
                });
            if !atom {
                return Err(Error::invalid(
                    "flag",
                    format!("{name:?} is not an IMAP flag"),
                ));
            }
            set.insert(system_flag(name).unwrap_or(name).to_owned());
        }
        if set.len() as u64 > MAX_FLAGS.max() {
            return Err(Error::over(&MAX_FLAGS));
        }
        Ok(Flags(set))
    }

    /// Whether `flag` is set (system flags case-insensitively).
    pub fn contains(&self, flag: &str) -> bool {
        self.0.contains(system_flag(flag).unwrap_or(flag))
    }

    /// The flags, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    fn stored(&self) -> String {
        self.iter().collect::<Vec<_>>().join(" ")
    }

    fn from_stored(text: &str) -> Self {
        Flags(
            text.split(' ')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }
}

/// The canonical spelling of a system flag.
fn system_flag(name: &str) -> Option<&'static str> {
    ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"]
        .into_iter()
        .find(|f| f.eq_ignore_ascii_case(name))
}

/// How a flag change applies (IMAP STORE's `FLAGS`, `+FLAGS`, `-FLAGS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagChange {
    /// Set exactly these.
    Replace,
    /// Add these.
    Add,
    /// Remove these.
    Remove,
}

/// A stored message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageMeta {
    /// The mailbox it is in.
    pub mailbox: Uuid,
    /// Its UID there.
    pub uid: u32,
    /// Its size in bytes.
    pub size: u64,
    /// When it arrived (IMAP INTERNALDATE).
    pub internal_date: DateTime<Utc>,
    /// Flags and keywords.
    pub flags: Flags,
    /// The MODSEQ of its last change.
    pub modseq: u64,
    /// Messages of one conversation share this.
    pub thread_id: String,
    /// Its `Message-ID`.
    pub message_id: Option<String>,
    /// Its subject.
    pub subject: Option<String>,
    /// Its `From` address.
    pub from: Option<String>,
    blob_key: String,
}

/// What an account stores (QUOTA).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of all messages.
    pub bytes: u64,
    /// Number of messages.
    pub messages: u64,
}

/// What changed in a mailbox since a MODSEQ (QRESYNC).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Messages added or whose flags changed.
    pub changed: Vec<MessageMeta>,
    /// UIDs expunged.
    pub vanished: Vec<u32>,
}

/// The mail store: every tenant's mailboxes.
#[derive(Clone)]
pub struct MailStore {
    inner: Arc<Inner>,
}

struct Inner {
    pools: TenantPools,
    blobs: Arc<dyn BlobStore>,
    clock: Arc<dyn Clock>,
    events: Arc<dyn EventSink>,
    changes: tokio::sync::broadcast::Sender<MailboxChanged>,
    /// Whether changes of other processes are listened for (PostgreSQL).
    listening: std::sync::atomic::AtomicBool,
}

/// The contents of a mailbox changed: a message arrived or left, or flags
/// changed. Sent by [`MailStore::watch`] to wake idling IMAP sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailboxChanged {
    /// The mailbox's tenant.
    pub tenant: TenantId,
    /// The mailbox.
    pub mailbox: Uuid,
}

/// Notices kept for a slow watcher before it is told it lagged.
const WATCH_BACKLOG: usize = 1024;
/// The PostgreSQL channel of [`MailboxChanged`] notices: `TENANT MAILBOX`.
const CHANNEL: &str = "guss_mail_changes";

/// Hands the notices of every process on to this one's watchers, until
/// the store is gone.
async fn listen(pool: sqlx::PgPool, changes: tokio::sync::broadcast::WeakSender<MailboxChanged>) {
    let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(error = %e, "not listening for mail changes; sessions poll");
            return;
        }
    };
    if let Err(e) = listener.listen(CHANNEL).await {
        tracing::warn!(error = %e, "not listening for mail changes; sessions poll");
        return;
    }
    loop {
        let notice = listener.recv().await;
        let Some(changes) = changes.upgrade() else {
            return;
        };
        match notice {
            Ok(notice) => {
                let mut parts = notice.payload().split(' ');
                if let (Some(Ok(tenant)), Some(Ok(mailbox))) = (
                    parts.next().map(str::parse::<Uuid>),
                    parts.next().map(str::parse::<Uuid>),
                ) {
                    let _ = changes.send(MailboxChanged {
                        tenant: TenantId::from_uuid(tenant),
                        mailbox,
                    });
                }
            }
            Err(e) => {
                // `recv` connects again on the next call.
                tracing::warn!(error = %e, "listening for mail changes");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

impl fmt::Debug for MailStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailStore").finish_non_exhaustive()
    }
}

impl MailStore {
    /// Opens the store: `location` is a directory (one SQLite file per
    /// tenant) or a `postgres://` URL; message bytes go to `blobs`.
    pub async fn open(
        location: &str,
        blobs: Arc<dyn BlobStore>,
        clock: Arc<dyn Clock>,
        events: Arc<dyn EventSink>,
    ) -> Result<Self> {
        let pools = TenantPools::open(location, &schema::SCHEMA).await?;
        Ok(MailStore {
            inner: Arc::new(Inner {
                pools,
                blobs,
                clock,
                events,
                changes: tokio::sync::broadcast::channel(WATCH_BACKLOG).0,
                listening: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// Notices of changes from now on: those made through this store and,
    /// on PostgreSQL, those of other processes (`LISTEN`/`NOTIFY`). A
    /// receiver that falls 1024 notices behind gets `Lagged` and should
    /// look at everything it watches. Notices can be missed while the
    /// connection to PostgreSQL is re-established: watchers look now and
    /// then all the same.
    pub fn watch(&self) -> tokio::sync::broadcast::Receiver<MailboxChanged> {
        let receiver = self.inner.changes.subscribe();
        if let Some(pool) = self.inner.pools.postgres()
            && !self
                .inner
                .listening
                .swap(true, std::sync::atomic::Ordering::SeqCst)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(listen(pool.clone(), self.inner.changes.downgrade()));
        }
        receiver
    }

    async fn changed(&self, tenant: TenantId, mailbox: Uuid) {
        match self.inner.pools.postgres() {
            // Every process hears it, this one too (through `listen`).
            Some(pool) => {
                let notified = sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(format!("{tenant} {mailbox}"))
                    .execute(pool)
                    .await;
                if let Err(e) = notified {
                    tracing::warn!(error = %e, "mail change not announced");
                }
            }
            None => {
                // Nobody watching is not an error.
                let _ = self.inner.changes.send(MailboxChanged { tenant, mailbox });
            }
        }
    }

    /// One tenant's mail.
    pub fn tenant(&self, tenant: TenantId) -> TenantMail {
        TenantMail {
            store: self.clone(),
            tenant,
        }
    }

    /// Whether the metadata lives in PostgreSQL (shared by processes).
    pub fn is_postgres(&self) -> bool {
        self.inner.pools.is_postgres()
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    pub(crate) fn events(&self) -> &dyn EventSink {
        self.inner.events.as_ref()
    }

    pub(crate) async fn pool(&self, tenant: TenantId) -> Result<guss_sql::Pool> {
        Ok(self.inner.pools.pool(tenant).await?)
    }

    /// Writes `raw` under a new key; the key.
    pub(crate) async fn put_blob(&self, tenant: TenantId, raw: Bytes) -> Result<String> {
        let key = format!("mail/{tenant}/{}", Uuid::now_v7());
        self.inner
            .blobs
            .put_if_absent(&BlobKey::new(key.clone())?, raw)
            .await?;
        Ok(key)
    }

    pub(crate) async fn get_blob(&self, key: &str) -> Result<Bytes> {
        self.inner
            .blobs
            .get(&BlobKey::new(key)?)
            .await?
            .ok_or(Error::NotFound("message content"))
    }

    /// Deletes blobs no row uses any more (after the rows' transaction).
    pub(crate) async fn delete_blobs(&self, keys: Vec<String>) {
        for key in keys {
            if let Ok(key) = BlobKey::new(key)
                && let Err(e) = self.inner.blobs.delete(&key).await
            {
                // The bytes stay behind; nothing refers to them.
                tracing::warn!(key = key.as_str(), error = %e, "message content not deleted");
            }
        }
    }
}

/// One tenant's mail.
#[derive(Clone, Debug)]
pub struct TenantMail {
    store: MailStore,
    tenant: TenantId,
}

macro_rules! mail_tx {
    ($mail:expr, |$sql:ident| $body:expr) => {{
        let pool = $mail.store.pool($mail.tenant).await?;
        guss_sql::tenant_tx!(&pool, $mail.tenant, |$sql| $body)
    }};
}
pub(crate) use mail_tx;

impl TenantMail {
    /// The tenant.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    /// The store.
    pub fn store(&self) -> &MailStore {
        &self.store
    }

    /// The account's mailboxes, making the special-use ones on first use.
    pub async fn mailboxes(&self, account: &Account) -> Result<Vec<MailboxInfo>> {
        let now = self.store.clock().now().timestamp_micros();
        let key = account.key();
        let rows = mail_tx!(self, |sql| ensure_account(&mut sql, &key, now).await?);
        rows.into_iter().map(info).collect()
    }

    /// The account's mailboxes as they are, without making any (for
    /// others than the owner, who may only read).
    pub async fn existing_mailboxes(&self, account: &Account) -> Result<Vec<MailboxInfo>> {
        let key = account.key();
        let rows = mail_tx!(self, |sql| sql.mailboxes(&key).await?);
        rows.into_iter().map(info).collect()
    }

    /// The account's mailbox with `role`.
    pub async fn mailbox_by_role(&self, account: &Account, role: Role) -> Result<MailboxInfo> {
        self.mailboxes(account)
            .await?
            .into_iter()
            .find(|m| m.role == Some(role))
            .ok_or(Error::NotFound("mailbox"))
    }

    /// One mailbox by id.
    pub async fn mailbox(&self, id: Uuid) -> Result<MailboxInfo> {
        let row = mail_tx!(self, |sql| sql.mailbox(id).await?);
        info(row.ok_or(Error::NotFound("mailbox"))?)
    }

    /// The number of messages in a mailbox and how many are unseen.
    pub async fn counts(&self, mailbox: Uuid) -> Result<(u64, u64)> {
        let (total, unseen) = mail_tx!(self, |sql| sql.counts(mailbox).await?);
        Ok((total.unsigned_abs(), unseen.unsigned_abs()))
    }

    /// What an account stores: bytes and messages (a copy in two
    /// mailboxes counts twice, as clients see it).
    pub async fn usage(&self, account: &Account) -> Result<Usage> {
        let key = account.key();
        let (bytes, messages) = mail_tx!(self, |sql| sql.usage(&key).await?);
        Ok(Usage {
            bytes: bytes.unsigned_abs(),
            messages: messages.unsigned_abs(),
        })
    }

    /// Creates a mailbox named `name` (levels separated by `/`).
    /// Missing parents (`Akten` for `Akten/2026`) are made too.
    pub async fn create_mailbox(&self, account: &Account, name: &str) -> Result<MailboxInfo> {
        check_mailbox_name(name)?;
        let now = self.store.clock().now().timestamp_micros();
        let key = account.key();
        let row = mail_tx!(self, |sql| {
            let mut existing = ensure_account(&mut sql, &key, now).await?;
            let levels: Vec<usize> = name.match_indices('/').map(|(i, _)| i).collect();
            let parents = levels.iter().filter_map(|&end| name.get(..end));
            let mut made = None;
            for path in parents.chain([name]) {
                if existing.iter().any(|b| b.name == path) && path != name {
                    continue;
                }
                if existing.len() as u64 >= MAX_MAILBOXES.max() {
                    return Err(Error::over(&MAX_MAILBOXES));
                }
                let mut row = new_mailbox(&key, path, None, now);
                // RFC 9051 §2.3.1.1: a name made again gets a larger
                // UIDVALIDITY, also within the same second.
                let newest = existing.iter().map(|b| b.uid_validity).max().unwrap_or(0);
                row.uid_validity = row
                    .uid_validity
                    .max(newest.saturating_add(1))
                    .min(i64::from(u32::MAX));
                sql.insert_mailbox(&row, false).await?;
                existing.push(row.clone());
                made = Some(row);
            }
            made.ok_or(Error::invalid("mailbox", "no name"))?
        });
        info(row)
    }

    /// Renames a mailbox (not INBOX) with the mailboxes below it
    /// (RFC 9051 §6.3.6); refused if any new name is taken.
    pub async fn rename_mailbox(&self, id: Uuid, name: &str) -> Result<()> {
        check_mailbox_name(name)?;
        mail_tx!(self, |sql| {
            let row = sql.mailbox(id).await?.ok_or(Error::NotFound("mailbox"))?;
            if row.role.as_deref() == Some(Role::Inbox.as_str()) {
                return Err(Error::invalid("mailbox", "INBOX cannot be renamed"));
            }
            let boxes = sql.mailboxes(&row.account).await?;
            let below = format!("{}/", row.name);
            let mut renames = vec![(row.id, name.to_owned())];
            for child in boxes.iter().filter(|b| b.name.starts_with(&below)) {
                let rest = child.name.get(below.len()..).unwrap_or_default();
                renames.push((child.id, format!("{name}/{rest}")));
            }
            for (_, new) in &renames {
                check_mailbox_name(new)?;
                if boxes.iter().any(|b| &b.name == new) {
                    return Err(Error::Conflict(format!("a mailbox {new:?} exists")));
                }
            }
            for (id, new) in &renames {
                sql.rename_mailbox(*id, new).await?;
            }
            // The new name's parents, where missing (as CREATE makes them).
            let levels: Vec<usize> = name.match_indices('/').map(|(i, _)| i).collect();
            let now = self.store.clock().now().timestamp_micros();
            for parent in levels.iter().filter_map(|&end| name.get(..end)) {
                if !boxes.iter().any(|b| b.name == parent) {
                    sql.insert_mailbox(&new_mailbox(&row.account, parent, None, now), false)
                        .await?;
                }
            }
        });
        Ok(())
    }

    /// Subscribes to or unsubscribes from a mailbox.
    pub async fn subscribe(&self, id: Uuid, subscribed: bool) -> Result<()> {
        mail_tx!(self, |sql| sql.set_subscribed(id, subscribed).await?);
        Ok(())
    }

    /// Deletes a mailbox without a special use, with its messages.
    pub async fn delete_mailbox(&self, id: Uuid) -> Result<()> {
        let keys = mail_tx!(self, |sql| {
            let row = sql.mailbox(id).await?.ok_or(Error::NotFound("mailbox"))?;
            if row.role.is_some() {
                return Err(Error::invalid(
                    "mailbox",
                    "a special-use mailbox cannot be deleted",
                ));
            }
            let below = format!("{}/", row.name);
            if sql
                .mailboxes(&row.account)
                .await?
                .iter()
                .any(|b| b.name.starts_with(&below))
            {
                return Err(Error::Conflict(
                    "the mailbox has mailboxes below it: delete them first".to_owned(),
                ));
            }
            let keys = sql.delete_mailbox(id).await?;
            unused_blobs(&mut sql, keys).await?
        });
        self.store.delete_blobs(keys).await;
        Ok(())
    }

    /// Delivers `raw` into the mailbox with the given role of each account,
    /// atomically: once this returns `Ok`, the message is in every one of
    /// them; on error, in none. Returns each copy's mailbox and UID.
    pub async fn deliver(&self, to: &[(Account, Role)], raw: Bytes) -> Result<Vec<(Uuid, u32)>> {
        self.deliver_with(to, raw, &Flags::default()).await
    }

    /// [`TenantMail::deliver`] with flags set on every copy (e.g. `\Seen`
    /// for the sender's copy in Sent).
    pub async fn deliver_with(
        &self,
        to: &[(Account, Role)],
        raw: Bytes,
        flags: &Flags,
    ) -> Result<Vec<(Uuid, u32)>> {
        check_size(raw.len())?;
        let summary = summarize(&raw);
        let size = raw.len() as i64;
        let key = self.store.put_blob(self.tenant, raw).await?;
        let now = self.store.clock().now().timestamp_micros();
        let placed = mail_tx!(self, |sql| {
            let mut placed = Vec::new();
            for (account, role) in to {
                let account = account.key();
                let boxes = ensure_account(&mut sql, &account, now).await?;
                let mailbox = boxes
                    .iter()
                    .find(|b| b.role.as_deref() == Some(role.as_str()))
                    .ok_or(Error::NotFound("mailbox"))?
                    .id;
                let uid = insert(
                    &mut sql, mailbox, &account, &key, size, now, flags, &summary,
                )
                .await?;
                placed.push((mailbox, account, uid));
            }
            placed
        });
        for (mailbox, account, uid) in &placed {
            self.store.changed(self.tenant, *mailbox).await;
            let event = Event::builder(self.tenant, SOURCE, RECEIVED)
                .subject_if_valid(&format!("mailbox/{mailbox}/{uid}"))
                .data(serde_json::json!({
                    "account": account,
                    "mailbox": mailbox,
                    "uid": uid,
                    "size": size,
                    "from": summary.from,
                    "message_id": summary.message_id,
                }))
                .build(self.store.clock());
            self.emit(event).await;
            if let Some(calendar) = &summary.calendar {
                let method = calendar
                    .lines()
                    .find_map(|l| l.strip_prefix("METHOD:"))
                    .map(str::trim);
                let event = Event::builder(self.tenant, SOURCE, INVITATION)
                    .subject_if_valid(&format!("mailbox/{mailbox}/{uid}"))
                    .data(serde_json::json!({
                        "account": account,
                        "mailbox": mailbox,
                        "uid": uid,
                        "from": summary.from,
                        "method": method,
                    }))
                    .build(self.store.clock());
                self.emit(event).await;
            }
        }
        Ok(placed.into_iter().map(|(m, _, u)| (m, u)).collect())
    }

    pub(crate) async fn emit(&self, event: Event) {
        if let Err(e) = self.store.events().emit(event).await {
            tracing::warn!(error = %e, "mail event not recorded");
        }
    }

    /// Appends `raw` to a mailbox (IMAP APPEND); its UID.
    pub async fn append(
        &self,
        mailbox: Uuid,
        raw: Bytes,
        flags: &Flags,
        internal_date: Option<DateTime<Utc>>,
    ) -> Result<u32> {
        check_size(raw.len())?;
        let summary = summarize(&raw);
        let size = raw.len() as i64;
        let key = self.store.put_blob(self.tenant, raw).await?;
        let date = internal_date
            .unwrap_or_else(|| self.store.clock().now())
            .timestamp_micros();
        let uid = mail_tx!(self, |sql| {
            let row = sql
                .mailbox(mailbox)
                .await?
                .ok_or(Error::NotFound("mailbox"))?;
            insert(
                &mut sql,
                mailbox,
                &row.account,
                &key,
                size,
                date,
                flags,
                &summary,
            )
            .await?
        });
        self.store.changed(self.tenant, mailbox).await;
        Ok(uid)
    }

    /// The messages of a mailbox whose UIDs lie in `uids`, by UID.
    pub async fn messages(
        &self,
        mailbox: Uuid,
        uids: RangeInclusive<u32>,
    ) -> Result<Vec<MessageMeta>> {
        let (from, to) = (i64::from(*uids.start()), i64::from(*uids.end()));
        let rows = mail_tx!(self, |sql| all_messages(&mut sql, mailbox, from, to)
            .await?);
        Ok(rows.into_iter().map(meta).collect())
    }

    /// A message's bytes, exactly as stored.
    pub async fn raw(&self, message: &MessageMeta) -> Result<Bytes> {
        self.store.get_blob(&message.blob_key).await
    }

    /// Changes the flags of the messages `uids`; skips those changed after
    /// `unchanged_since` (CONDSTORE) and returns the new state of the
    /// changed ones.
    pub async fn store_flags(
        &self,
        mailbox: Uuid,
        uids: &[u32],
        change: FlagChange,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<Vec<MessageMeta>> {
        let rows = mail_tx!(self, |sql| {
            let mut changed = Vec::new();
            let mut modseq = None;
            for &uid in uids {
                let Some(mut row) = sql
                    .messages(mailbox, i64::from(uid), i64::from(uid), 1)
                    .await?
                    .pop()
                else {
                    continue;
                };
                if unchanged_since.is_some_and(|since| row.modseq.unsigned_abs() > since) {
                    continue;
                }
                let mut now = Flags::from_stored(&row.flags);
                match change {
                    FlagChange::Replace => now = flags.clone(),
                    FlagChange::Add => now.0.extend(flags.0.iter().cloned()),
                    FlagChange::Remove => now.0.retain(|f| !flags.0.contains(f)),
                }
                if now.0.len() as u64 > MAX_FLAGS.max() {
                    return Err(Error::over(&MAX_FLAGS));
                }
                let stored = now.stored();
                if stored == row.flags {
                    continue;
                }
                let seq = match modseq {
                    Some(seq) => seq,
                    None => {
                        let (_, seq) = sql.reserve(mailbox, 0).await?;
                        modseq = Some(seq);
                        seq
                    }
                };
                sql.set_flags(mailbox, row.uid, &stored, seq).await?;
                row.flags = stored;
                row.modseq = seq;
                changed.push(row);
            }
            changed
        });
        if !rows.is_empty() {
            self.store.changed(self.tenant, mailbox).await;
        }
        Ok(rows.into_iter().map(meta).collect())
    }

    /// Copies messages to another mailbox of the tenant (the bytes are
    /// shared); the new UIDs in the order of `uids`.
    pub async fn copy(&self, from: Uuid, uids: &[u32], to: Uuid) -> Result<Vec<(u32, u32)>> {
        let copied = mail_tx!(self, |sql| copy_rows(&mut sql, from, uids, to).await)?;
        if !copied.is_empty() {
            self.store.changed(self.tenant, to).await;
        }
        Ok(copied)
    }

    /// Moves messages (IMAP MOVE): copied and expunged in one transaction.
    pub async fn move_messages(
        &self,
        from: Uuid,
        uids: &[u32],
        to: Uuid,
    ) -> Result<Vec<(u32, u32)>> {
        let moved = mail_tx!(self, |sql| {
            let moved = copy_rows(&mut sql, from, uids, to).await?;
            if !moved.is_empty() {
                let (_, modseq) = sql.reserve(from, 0).await?;
                for (uid, _) in &moved {
                    sql.remove_message(from, i64::from(*uid), modseq).await?;
                }
            }
            Ok::<_, Error>(moved)
        })?;
        if !moved.is_empty() {
            self.store.changed(self.tenant, from).await;
            self.store.changed(self.tenant, to).await;
        }
        Ok(moved)
    }

    /// Removes the messages flagged `\Deleted` (of `only`, if given); the
    /// UIDs removed.
    pub async fn expunge(&self, mailbox: Uuid, only: Option<&[u32]>) -> Result<Vec<u32>> {
        let (removed, keys) = mail_tx!(self, |sql| {
            let rows = all_messages(&mut sql, mailbox, 1, i64::from(u32::MAX)).await?;
            let only: Option<std::collections::HashSet<i64>> =
                only.map(|o| o.iter().map(|&u| i64::from(u)).collect());
            let doomed: Vec<MessageRow> = rows
                .into_iter()
                .filter(|r| Flags::from_stored(&r.flags).contains("\\Deleted"))
                .filter(|r| only.as_ref().is_none_or(|o| o.contains(&r.uid)))
                .collect();
            let mut removed = Vec::new();
            let mut keys = Vec::new();
            if !doomed.is_empty() {
                let (_, modseq) = sql.reserve(mailbox, 0).await?;
                for row in doomed {
                    sql.remove_message(mailbox, row.uid, modseq).await?;
                    removed.push(uid_of(row.uid));
                    keys.push(row.blob_key);
                }
            }
            (removed, unused_blobs(&mut sql, keys).await?)
        });
        self.store.delete_blobs(keys).await;
        if !removed.is_empty() {
            self.store.changed(self.tenant, mailbox).await;
        }
        Ok(removed)
    }

    /// What changed in a mailbox after `modseq`.
    pub async fn changes_since(&self, mailbox: Uuid, modseq: u64) -> Result<Changes> {
        let since = i64::try_from(modseq).unwrap_or(i64::MAX);
        // Page by page (by UID) in one transaction: nothing is left out.
        let (changed, vanished) = mail_tx!(self, |sql| {
            let mut changed: Vec<MessageRow> = Vec::new();
            loop {
                let after = changed.last().map_or(0, |r| r.uid);
                let page = sql
                    .changed_since(mailbox, since, after, MAX_LISTING)
                    .await?;
                let full = page.len() as i64 == MAX_LISTING;
                changed.extend(page);
                if !full {
                    break;
                }
            }
            let mut vanished: Vec<i64> = Vec::new();
            loop {
                let after = vanished.last().copied().unwrap_or(0);
                let page = sql
                    .expunged_since(mailbox, since, after, MAX_LISTING)
                    .await?;
                let full = page.len() as i64 == MAX_LISTING;
                vanished.extend(page);
                if !full {
                    break;
                }
            }
            (changed, vanished)
        });
        Ok(Changes {
            changed: changed.into_iter().map(meta).collect(),
            vanished: vanished.into_iter().map(uid_of).collect(),
        })
    }

    /// Creates a shared account (`kanzlei`) reachable at `address`.
    pub async fn create_shared(
        &self,
        name: &str,
        display_name: &str,
        address: &str,
    ) -> Result<Account> {
        if !valid_shared_name(name) {
            return Err(Error::invalid(
                "shared mailbox name",
                "1 to 64 lowercase letters, digits, '-' or '.'",
            ));
        }
        let account = Account::Shared(name.to_owned());
        let (key, address) = (account.key(), normalize_address(address)?);
        let now = self.store.clock().now().timestamp_micros();
        mail_tx!(self, |sql| {
            sql.insert_shared(name, display_name).await?;
            sql.set_address(&address, &key).await?;
            ensure_account(&mut sql, &key, now).await?;
        });
        Ok(account)
    }

    /// Every account that has mailboxes (people who received or stored
    /// mail, and shared accounts).
    pub async fn accounts(&self) -> Result<Vec<Account>> {
        let keys = mail_tx!(self, |sql| sql.accounts().await?);
        // A key this version cannot read is skipped, not fatal.
        Ok(keys
            .iter()
            .filter_map(|k| Account::from_key(k).ok())
            .collect())
    }

    /// The shared accounts: name and display name.
    pub async fn shared_accounts(&self) -> Result<Vec<(String, String)>> {
        mail_tx!(self, |sql| sql.shared().await)
    }

    /// Adds an alias: mail to `address` goes to `account`.
    pub async fn add_alias(&self, address: &str, account: &Account) -> Result<()> {
        let (address, key) = (normalize_address(address)?, account.key());
        mail_tx!(self, |sql| sql.set_address(&address, &key).await)
    }

    /// Removes an alias; whether there was one.
    pub async fn remove_alias(&self, address: &str) -> Result<bool> {
        let address = normalize_address(address)?;
        mail_tx!(self, |sql| sql.remove_address(&address).await)
    }

    /// The account an alias or shared address leads to.
    pub async fn resolve_alias(&self, address: &str) -> Result<Option<Account>> {
        let address = normalize_address(address)?;
        let key = mail_tx!(self, |sql| sql.address(&address).await?);
        key.as_deref().map(Account::from_key).transpose()
    }

    /// The aliases and shared addresses that lead to `account`.
    pub async fn addresses_of(&self, account: &Account) -> Result<Vec<String>> {
        let key = account.key();
        mail_tx!(self, |sql| sql.addresses_of(&key).await)
    }
}

/// The group a shared account stands for, when a group address is used.
pub fn group_account(group: GroupId) -> Account {
    Account::Shared(format!("group-{}", group.as_uuid().simple()))
}

fn normalize_address(address: &str) -> Result<String> {
    let parsed: guss_core::EmailAddress = address
        .parse()
        .map_err(|_| Error::invalid("address", format!("{address:?} is not an e-mail address")))?;
    Ok(parsed.as_str().to_lowercase())
}

fn check_size(len: usize) -> Result<()> {
    if len as u64 > MAX_MESSAGE.max() {
        return Err(Error::over(&MAX_MESSAGE));
    }
    Ok(())
}

fn check_mailbox_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > 512
        || name.eq_ignore_ascii_case("INBOX")
        || name.starts_with('/')
        || name.ends_with('/')
        || name.contains("//")
        || name.chars().any(|c| c.is_control() || c == '*' || c == '%');
    if bad {
        return Err(Error::invalid(
            "mailbox name",
            "1 to 512 characters, not INBOX, no '*', '%' or empty levels",
        ));
    }
    Ok(())
}

fn new_mailbox(account: &str, name: &str, role: Option<Role>, now: i64) -> MailboxRow {
    MailboxRow {
        id: Uuid::now_v7(),
        account: account.to_owned(),
        name: name.to_owned(),
        role: role.map(|r| r.as_str().to_owned()),
        // Seconds fit IMAP's 32 bits until 2106; distinct per re-creation.
        uid_validity: (now / 1_000_000).clamp(1, i64::from(u32::MAX)),
        uid_next: 1,
        highest_modseq: 1,
        subscribed: 1,
        created_at: now,
    }
}

/// Every message of `mailbox` with a UID in `from..=to`, read a page
/// (`MAX_LISTING`) at a time.
async fn all_messages<S: Sql + ?Sized>(
    sql: &mut S,
    mailbox: Uuid,
    from: i64,
    to: i64,
) -> Result<Vec<MessageRow>> {
    let mut rows: Vec<MessageRow> = Vec::new();
    loop {
        let start = rows.last().map_or(from, |r| r.uid + 1);
        if start > to {
            break;
        }
        let page = sql.messages(mailbox, start, to, MAX_LISTING).await?;
        let full = page.len() as i64 == MAX_LISTING;
        rows.extend(page);
        if !full {
            break;
        }
    }
    Ok(rows)
}

/// The account's mailboxes, with the special-use ones made if missing.
async fn ensure_account<S: Sql + ?Sized>(
    sql: &mut S,
    account: &str,
    now: i64,
) -> Result<Vec<MailboxRow>> {
    let rows = sql.mailboxes(account).await?;
    let missing: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|role| {
            !rows
                .iter()
                .any(|r| r.role.as_deref() == Some(role.as_str()))
        })
        .collect();
    if missing.is_empty() {
        return Ok(rows);
    }
    // Two first deliveries to a new person may race: whoever comes second
    // finds the mailboxes made and uses them.
    for role in missing {
        let row = new_mailbox(account, role.default_name(), Some(role), now);
        sql.insert_mailbox(&row, true).await?;
    }
    sql.mailboxes(account).await
}

#[allow(clippy::too_many_arguments)]
async fn insert<S: Sql + ?Sized>(
    sql: &mut S,
    mailbox: Uuid,
    account: &str,
    key: &str,
    size: i64,
    date: i64,
    flags: &Flags,
    summary: &Summary,
) -> Result<u32> {
    let mut thread = None;
    for id in summary.message_id.iter().chain(&summary.ancestors) {
        thread = sql.thread_of(account, id).await?;
        if thread.is_some() {
            break;
        }
    }
    let (uid, modseq) = sql.reserve(mailbox, 1).await?;
    let uid = u32::try_from(uid).map_err(|_| Error::invalid("mailbox", "UIDs are exhausted"))?;
    sql.insert_message(&MessageRow {
        mailbox_id: mailbox,
        uid: i64::from(uid),
        account: account.to_owned(),
        blob_key: key.to_owned(),
        size,
        internal_date: date,
        flags: flags.stored(),
        modseq,
        thread_id: thread.unwrap_or_else(|| Uuid::now_v7().simple().to_string()),
        message_id: summary.message_id.clone(),
        subject: summary.subject.clone(),
        sender: summary.from.clone(),
    })
    .await?;
    Ok(uid)
}

async fn copy_rows<S: Sql + ?Sized>(
    sql: &mut S,
    from: Uuid,
    uids: &[u32],
    to: Uuid,
) -> Result<Vec<(u32, u32)>> {
    let target = sql.mailbox(to).await?.ok_or(Error::NotFound("mailbox"))?;
    let mut rows = Vec::new();
    for &uid in uids {
        if let Some(row) = sql
            .messages(from, i64::from(uid), i64::from(uid), 1)
            .await?
            .pop()
        {
            rows.push(row);
        }
    }
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let (first, modseq) = sql.reserve(to, rows.len() as i64).await?;
    let mut pairs = Vec::new();
    for (new, mut row) in (first..).zip(rows) {
        let old = uid_of(row.uid);
        row.mailbox_id = to;
        row.uid = new;
        row.modseq = modseq;
        row.account.clone_from(&target.account);
        sql.insert_message(&row).await?;
        pairs.push((old, uid_of(new)));
    }
    Ok(pairs)
}

/// Those of `keys` no message refers to any more.
async fn unused_blobs<S: Sql + ?Sized>(sql: &mut S, keys: Vec<String>) -> Result<Vec<String>> {
    let mut unused = Vec::new();
    for key in keys {
        if !unused.contains(&key) && !sql.blob_in_use(&key).await? {
            unused.push(key);
        }
    }
    Ok(unused)
}

fn uid_of(uid: i64) -> u32 {
    u32::try_from(uid).unwrap_or(u32::MAX)
}

fn info(row: MailboxRow) -> Result<MailboxInfo> {
    Ok(MailboxInfo {
        id: row.id,
        account: Account::from_key(&row.account)?,
        role: row.role.as_deref().and_then(Role::parse),
        name: row.name,
        uid_validity: u32::try_from(row.uid_validity).unwrap_or(1),
        uid_next: uid_of(row.uid_next),
        highest_modseq: row.highest_modseq.unsigned_abs(),
        subscribed: row.subscribed != 0,
    })
}

fn meta(row: MessageRow) -> MessageMeta {
    MessageMeta {
        mailbox: row.mailbox_id,
        uid: uid_of(row.uid),
        size: row.size.unsigned_abs(),
        internal_date: DateTime::from_timestamp_micros(row.internal_date).unwrap_or_default(),
        flags: Flags::from_stored(&row.flags),
        modseq: row.modseq.unsigned_abs(),
        thread_id: row.thread_id,
        message_id: row.message_id,
        subject: row.subject,
        from: row.sender,
        blob_key: row.blob_key,
    }
}
