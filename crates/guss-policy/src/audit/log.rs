//! The audit log service: every event of the tenant into its chain, signed
//! checkpoints at intervals, export and verification.

use std::sync::Arc;

use async_trait::async_trait;
use ed25519_dalek::{SigningKey, VerifyingKey};
use guss_core::{Clock, Event, EventSink, TenantId};

use super::chain::{ChainCheck, Checkpoint, Entry, Tamper};
use super::{AuditSearch, AuditStore};
use crate::{Error, Result};

/// Entries read per page when exporting or verifying.
const PAGE: u32 = 1000;

/// The audit log of all tenants. As an [`EventSink`] it appends every event
/// to its tenant's chain before acknowledging it.
///
/// ```
/// use std::sync::Arc;
/// use guss_core::{Event, EventSink, EventSource, EventType, SystemClock, TenantId};
/// use guss_policy::audit::AuditLog;
/// use guss_policy::store::SqlPolicyStore;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = tempfile_dir();
/// let store = SqlPolicyStore::open(&dir).await?;
/// let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]); // from the server's key store
/// let log = AuditLog::new(store, key, Arc::new(SystemClock)).with_checkpoint_every(2);
/// let tenant = TenantId::new();
/// for kind in ["guss.test.one", "guss.test.two"] {
///     let event = Event::builder(tenant, EventSource::from_static("guss-test"), EventType::new(kind)?).build(&SystemClock);
///     log.emit(event).await?;
/// }
/// log.verify(tenant).await?.expect("an untouched log verifies");
/// assert_eq!(log.export(tenant).await?.1.len(), 1, "one checkpoint after two entries");
/// # Ok::<(), guss_policy::Error>(())
/// # }).unwrap();
/// # fn tempfile_dir() -> String { std::env::temp_dir().join(format!("guss-audit-doc-{}", std::process::id())).display().to_string() }
/// ```
pub struct AuditLog<S: AuditStore> {
    store: S,
    key: SigningKey,
    clock: Arc<dyn Clock>,
    checkpoint_every: u64,
}

impl<S: AuditStore> AuditLog<S> {
    /// A log over `store`, signing checkpoints with `key`.
    pub fn new(store: S, key: SigningKey, clock: Arc<dyn Clock>) -> Self {
        AuditLog {
            store,
            key,
            clock,
            checkpoint_every: 100,
        }
    }

    /// Signs a checkpoint every `n` entries (default 100).
    #[must_use]
    pub fn with_checkpoint_every(mut self, n: u64) -> Self {
        self.checkpoint_every = n.max(1);
        self
    }

    /// The key checkpoints verify with: give it to the organisation.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Appends one event and returns its entry.
    pub async fn append(&self, event: &Event) -> Result<Entry> {
        let json =
            serde_json::to_string(event).map_err(|e| Error::invalid("event", e.to_string()))?;
        let entry = self
            .store
            .append(event.tenant(), self.clock.now(), json)
            .await?;
        if entry.seq % self.checkpoint_every == 0 {
            self.store
                .save_checkpoint(&Checkpoint::sign(&self.key, &entry, self.clock.now()))
                .await?;
        }
        Ok(entry)
    }

    /// Signs a checkpoint at the current end of the tenant's log, e.g. before an export.
    pub async fn checkpoint(&self, tenant: TenantId) -> Result<Option<Checkpoint>> {
        let Some(last) = self.latest(tenant).await? else {
            return Ok(None);
        };
        let checkpoint = Checkpoint::sign(&self.key, &last, self.clock.now());
        self.store.save_checkpoint(&checkpoint).await?;
        Ok(Some(checkpoint))
    }

    /// The entries `search` asks for, newest first.
    pub async fn search(&self, tenant: TenantId, search: &AuditSearch) -> Result<Vec<Entry>> {
        self.store.search(tenant, search).await
    }

    /// The newest entry of a tenant's log; its position is the log's length.
    pub async fn latest(&self, tenant: TenantId) -> Result<Option<Entry>> {
        let newest = AuditSearch {
            limit: 1,
            ..AuditSearch::default()
        };
        Ok(self.search(tenant, &newest).await?.pop())
    }

    /// All entries and checkpoints of a tenant.
    pub async fn export(&self, tenant: TenantId) -> Result<(Vec<Entry>, Vec<Checkpoint>)> {
        let mut entries = Vec::new();
        loop {
            let from = entries
                .last()
                .map_or(1, |e: &Entry| e.seq.saturating_add(1));
            let page = self.store.entries(tenant, from, PAGE).await?;
            let done = page.len() < PAGE as usize;
            entries.extend(page);
            if done {
                break;
            }
        }
        Ok((entries, self.store.checkpoints(tenant).await?))
    }

    /// Verifies a tenant's whole log, a page at a time: `Ok(Ok(()))` if intact, `Ok(Err(tamper))` with what broke.
    /// Also checks what searches find entries by, giving keys back to
    /// entries that lost theirs.
    pub async fn verify(&self, tenant: TenantId) -> Result<Result<(), Tamper>> {
        let checkpoints = self.store.checkpoints(tenant).await?;
        let mut check = ChainCheck::new(tenant, checkpoints);
        let mut from = 1;
        loop {
            let page = self.store.entries(tenant, from, PAGE).await?;
            for entry in &page {
                if let Err(tamper) = check.entry(entry) {
                    return Ok(Err(tamper));
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize => from = last.seq.saturating_add(1),
                _ => break,
            }
        }
        if let Err(tamper) = check.finish(&self.key.verifying_key()) {
            return Ok(Err(tamper));
        }
        Ok(match self.store.check_search_keys(tenant).await? {
            Some(seq) => Err(Tamper::SearchKeys { seq }),
            None => Ok(()),
        })
    }
}

#[async_trait]
impl<S: AuditStore> EventSink for AuditLog<S> {
    async fn emit(&self, event: Event) -> guss_core::Result<()> {
        self.append(&event)
            .await
            .map(drop)
            .map_err(|e| guss_core::Error::Backend(Box::new(e)))
    }
}
