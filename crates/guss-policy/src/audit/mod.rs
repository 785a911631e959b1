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

pub use chain::{Checkpoint, Entry, Tamper, verify};
pub use log::AuditLog;

use crate::Result;

/// Append-only storage of audit entries and checkpoints.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends `event` to the tenant's log as the entry after the current last
    /// one, atomically (concurrent appends get consecutive positions).
    async fn append(&self, tenant: TenantId, time: DateTime<Utc>, event: String) -> Result<Entry>;
    /// Up to `limit` entries from position `from` on.
    async fn entries(&self, tenant: TenantId, from: u64, limit: u32) -> Result<Vec<Entry>>;
    /// Stores a signed checkpoint.
    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<()>;
    /// All checkpoints of a tenant, oldest first.
    async fn checkpoints(&self, tenant: TenantId) -> Result<Vec<Checkpoint>>;
}
