//! The file store: a tree of folders and files whose every write is a
//! version, with trash, point-in-time restore, share links and quotas.
//! Metadata lives in SQLite (one file per tenant) or PostgreSQL; content
//! lives in a [`BlobStore`] as encrypted, deduplicated chunks.
//!
//! ```
//! use std::sync::Arc;
//! use guss_core::{MemoryEventSink, PersonId, Principal, SystemClock, TenantId};
//! use guss_dav::DavPath;
//! use guss_storage::keys::MasterKey;
//! use guss_storage::store::{FileStore, StoreConfig};
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let dir = std::env::temp_dir().join(format!("guss-storage-doc-{}", TenantId::new()));
//! let blobs = Arc::new(guss_blob::LocalBlobStore::open(&dir.join("blobs")).await?);
//! let store = FileStore::open(dir.join("db").to_str().unwrap(), blobs, MasterKey::from_bytes([1; 32]),
//!     Arc::new(SystemClock), Arc::new(MemoryEventSink::new()), StoreConfig::default()).await?;
//! let tenant = TenantId::new();
//! let anna = Principal::Person { tenant, person: PersonId::new() };
//! let files = store.tenant(tenant);
//! let path = DavPath::from_segments(["Brief.txt"])?;
//! files.write_bytes(&path, b"Sehr geehrte Damen und Herren".to_vec(), None, &anna).await?;
//! files.write_bytes(&path, b"Liebe Frau Weber".to_vec(), None, &anna).await?;
//! assert_eq!(files.read_all(&path).await?, b"Liebe Frau Weber");
//! let versions = files.versions(&path).await?;
//! assert_eq!(versions.len(), 2);
//! assert_eq!(files.read_version_all(versions[0].id).await?, b"Sehr geehrte Damen und Herren");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod content;
mod gc;
mod history;
#[cfg(feature = "webdav")]
mod locks;
mod schema;
mod share;
mod sql;
mod sync;
mod tree;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use guss_blob::BlobStore;
use guss_core::{Clock, Event, EventSink, EventSource, EventType, Principal, TenantId};
use guss_sql::{Pool, TenantPools};
use uuid::Uuid;

use crate::keys::{MasterKey, TenantKeys};
use crate::thinning::ThinningPolicy;
use crate::tripwire::{Tripwire, TripwirePolicy};
use crate::{ChunkPolicy, Error, Result};

pub use content::BodyStream;
pub use gc::{Collected, Maintained};
pub use share::SharedAccess;
pub(crate) use sql::Sql;
pub use sync::FolderChanges;

const SOURCE: EventSource = EventSource::from_static("guss-storage");

/// How the store behaves; the defaults suit a small office.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StoreConfig {
    /// Chunk sizes.
    pub chunking: ChunkPolicy,
    /// Which old versions go as they age.
    pub thinning: ThinningPolicy,
    /// What trips the ransomware tripwire.
    pub tripwire: TripwirePolicy,
    /// How long deleted items stay in the trash.
    pub trash_retention: TimeDelta,
    /// The largest file accepted, in bytes.
    pub max_file_size: u64,
    /// The most members a folder listing returns.
    pub max_listing: usize,
    /// The most files and folders one copy, trash purge or restore handles.
    pub max_subtree: usize,
    /// How long an unreferenced chunk stays before collection, so that a
    /// writer that found it can still reference it.
    pub gc_grace: TimeDelta,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            chunking: ChunkPolicy::default(),
            thinning: ThinningPolicy::default(),
            tripwire: TripwirePolicy::default(),
            trash_retention: TimeDelta::days(30),
            max_file_size: 10 * 1024 * 1024 * 1024,
            max_listing: 10_000,
            max_subtree: 100_000,
            gc_grace: TimeDelta::hours(24),
        }
    }
}

/// The file store of all tenants. Cheap to clone.
#[derive(Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

struct Inner {
    pools: TenantPools,
    blobs: Arc<dyn BlobStore>,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    events: Arc<dyn EventSink>,
    config: StoreConfig,
    keys: Mutex<HashMap<TenantId, Arc<TenantKeys>>>,
    tripwire: Mutex<Tripwire>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("pools", &self.inner.pools)
            .finish_non_exhaustive()
    }
}

impl FileStore {
    /// Opens the store: metadata at `location` (a directory for SQLite or
    /// a `postgres://` URL), content in `blobs`, tenant keys wrapped by
    /// `master`.
    pub async fn open(
        location: &str,
        blobs: Arc<dyn BlobStore>,
        master: MasterKey,
        clock: Arc<dyn Clock>,
        events: Arc<dyn EventSink>,
        config: StoreConfig,
    ) -> Result<Self> {
        let pools = TenantPools::open(location, &schema::SCHEMA).await?;
        Ok(FileStore {
            inner: Arc::new(Inner {
                pools,
                blobs,
                master,
                clock,
                events,
                tripwire: Mutex::new(Tripwire::new(config.tripwire)),
                config,
                keys: Mutex::default(),
            }),
        })
    }

    /// Removes what uploads interrupted by a crash left in the blob store
    /// (older than an hour, so that no running upload is touched); for a
    /// scheduler to run now and then. Returns how many items went.
    pub async fn remove_abandoned_uploads(&self) -> Result<u64> {
        Ok(self
            .inner
            .blobs
            .remove_abandoned(std::time::Duration::from_secs(3600))
            .await?)
    }

    /// The files of one tenant: nothing reached through the handle belongs
    /// to another tenant.
    pub fn tenant(&self, tenant: TenantId) -> TenantFiles {
        TenantFiles {
            store: self.clone(),
            tenant,
        }
    }
}

/// One tenant's files.
#[derive(Clone, Debug)]
pub struct TenantFiles {
    store: FileStore,
    tenant: TenantId,
}

/// Runs `$body` in a transaction with `$sql` (an [`sql::Sql`]) bound to the
/// handle's tenant.
macro_rules! sql_tx {
    ($files:expr, |$sql:ident| $body:expr) => {{
        let pool = $files.pool().await?;
        #[allow(unused_imports)]
        use crate::store::Sql as _;
        guss_sql::tenant_tx!(&pool, $files.tenant, |$sql| $body)
    }};
}
pub(crate) use sql_tx;

impl TenantFiles {
    /// The tenant.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    fn inner(&self) -> &Inner {
        &self.store.inner
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner().clock.now()
    }

    fn config(&self) -> &StoreConfig {
        &self.inner().config
    }

    async fn pool(&self) -> Result<Pool> {
        Ok(self.inner().pools.pool(self.tenant).await?)
    }

    /// The tenant's keys, creating and storing them on first use.
    async fn keys(&self) -> Result<Arc<TenantKeys>> {
        if let Some(keys) = self
            .inner()
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&self.tenant)
        {
            return Ok(keys.clone());
        }
        let aad = self.tenant.as_uuid().as_bytes().to_vec();
        let mut row = sql_tx!(self, |sql| sql.tenant_row().await?);
        if row.is_none() {
            // Another process may create the tenant at the same moment:
            // whichever key the database kept is the key.
            let (_, wrapped) = TenantKeys::generate(&self.inner().master, &aad)?;
            row = sql_tx!(self, |sql| {
                sql.insert_tenant(&wrapped).await?;
                sql.tenant_row().await?
            });
        }
        let wrapped = row
            .ok_or(Error::Backend("tenant row missing".into()))?
            .wrapped_key;
        let keys = TenantKeys::unwrap(&self.inner().master, &aad, &wrapped)?;
        let keys = Arc::new(keys);
        self.inner()
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(self.tenant, keys.clone());
        Ok(keys)
    }

    /// Emits an event; failing to emit does not undo the change.
    async fn emit(
        &self,
        kind: &'static str,
        by: Option<&Principal>,
        subject: &str,
        data: serde_json::Value,
    ) {
        let Ok(kind) = EventType::new(kind) else {
            return;
        };
        let event = Event::builder(self.tenant, SOURCE, kind)
            .data(data)
            .subject_if_valid(subject)
            .actor_if(by)
            .build(self.inner().clock.as_ref());
        if let Err(e) = self.inner().events.emit(event).await {
            tracing::warn!(error = %e, "storage event not delivered");
        }
    }

    /// Counts a destructive operation for the tripwire; trips the freeze.
    async fn record_destructive(&self, by: &Principal) -> Result<()> {
        let now = self.now();
        let tripped = self
            .inner()
            .tripwire
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(by, now);
        if tripped {
            let reason = format!("a burst of overwrites, renames or deletes by {by}");
            sql_tx!(self, |sql| sql
                .set_frozen(Some(now.timestamp_micros()), Some(&reason))
                .await?);
            self.emit(
                "guss.storage.tripwire.tripped",
                Some(by),
                "tenant",
                serde_json::json!({ "reason": reason }),
            )
            .await;
        }
        Ok(())
    }

    /// Whether the tripwire has frozen thinning and trash expiry.
    pub async fn frozen(&self) -> Result<Option<DateTime<Utc>>> {
        self.keys().await?;
        let row = sql_tx!(self, |sql| sql.tenant_row().await?);
        Ok(row
            .and_then(|r| r.frozen_at)
            .and_then(DateTime::from_timestamp_micros))
    }

    /// Lifts the tripwire's freeze (an admin action: the caller checks the
    /// role); events who released it.
    pub async fn release_freeze(&self, by: &Principal) -> Result<()> {
        self.keys().await?;
        sql_tx!(self, |sql| sql.set_frozen(None, None).await?);
        self.emit(
            "guss.storage.tripwire.released",
            Some(by),
            "tenant",
            serde_json::json!({}),
        )
        .await;
        Ok(())
    }

    /// Sets the tenant's quota in bytes (`None`: unlimited).
    pub async fn set_quota(&self, bytes: Option<u64>) -> Result<()> {
        self.keys().await?;
        let bytes = bytes.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
        sql_tx!(self, |sql| sql.set_quota(bytes).await?);
        Ok(())
    }

    /// Bytes used (every stored chunk once: versions and trash count) and the quota.
    pub async fn usage(&self) -> Result<crate::model::Usage> {
        self.keys().await?;
        let row = sql_tx!(self, |sql| sql.tenant_row().await?)
            .ok_or(Error::Backend("tenant row missing".into()))?;
        Ok(crate::model::Usage {
            used: u64::try_from(row.stored_bytes).unwrap_or_default(),
            limit: row.quota_bytes.and_then(|q| u64::try_from(q).ok()),
        })
    }
}

pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub(crate) fn time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

pub(crate) fn new_id() -> Uuid {
    Uuid::now_v7()
}
