//! The tamper-evident audit log: per tenant, append-only, every entry
//! hash-chained to the one before, with Ed25519-signed checkpoints that the
//! organisation can export and keep elsewhere.
//!
//! What the verifier catches: an altered entry (its hash no longer matches),
//! a deleted, inserted or reordered entry (sequence numbers and the chain
//! break), and a rewritten or truncated log (it no longer matches a signed
//! checkpoint held outside the server).

mod chain;
mod log;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use guss_core::TenantId;

pub use chain::{ChainCheck, Checkpoint, Entry, Tamper, verify};
pub use log::AuditLog;

use crate::Result;

/// The most entries one [`AuditStore::search`] returns.
pub const MAX_SEARCH: u32 = 1000;

/// Which entries a search returns, newest first: those matching every
/// condition given. Kinds and actors are matched through an index kept
/// beside the log, so a search does not read the whole log.
///
/// ```
/// use guss_policy::audit::AuditSearch;
///
/// // Anna's last 50 sign-ins, sessions and step-ups, by her or by a deputy for her.
/// let search = AuditSearch {
///     kind_contains: Some("identity.s".into()),
///     actor_contains: Some("0195f0c2-7b1e-7000-8000-000000000001".into()),
///     limit: 50,
///     ..AuditSearch::default()
/// };
/// assert!(search.kinds.is_empty(), "any kind containing the text");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditSearch {
    /// Only entries of one of these kinds; empty: any kind.
    pub kinds: Vec<String>,
    /// Only kinds containing this text, in any case.
    pub kind_contains: Option<String>,
    /// Only entries whose actor contains this text, in any case: a
    /// person's id finds what they did and what deputies did for them.
    pub actor_contains: Option<String>,
    /// Only entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only entries before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only entries before this position: the next page of a long result.
    pub before: Option<u64>,
    /// At most this many entries (and never more than [`MAX_SEARCH`]).
    pub limit: u32,
}

impl Default for AuditSearch {
    /// The newest 100 entries.
    fn default() -> Self {
        AuditSearch {
            kinds: Vec::new(),
            kind_contains: None,
            actor_contains: None,
            from: None,
            until: None,
            before: None,
            limit: 100,
        }
    }
}

/// Append-only storage of audit entries and checkpoints.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends `event` to the tenant's log as the entry after the current last
    /// one, atomically (concurrent appends get consecutive positions).
    async fn append(&self, tenant: TenantId, time: DateTime<Utc>, event: String) -> Result<Entry>;
    /// Up to `limit` entries from position `from` on.
    async fn entries(&self, tenant: TenantId, from: u64, limit: u32) -> Result<Vec<Entry>>;
    /// The entries `search` asks for, newest first.
    async fn search(&self, tenant: TenantId, search: &AuditSearch) -> Result<Vec<Entry>>;
    /// Checks what searches find entries by: gives keys to entries that
    /// have none (written by an older version, or deleted) and returns the
    /// first entry whose keys do not match its event.
    async fn check_search_keys(&self, tenant: TenantId) -> Result<Option<u64>>;
    /// Stores a signed checkpoint.
    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<()>;
    /// All checkpoints of a tenant, oldest first.
    async fn checkpoints(&self, tenant: TenantId) -> Result<Vec<Checkpoint>>;
}
