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

pub use crate::store::AuditStore;
pub use chain::{Checkpoint, Entry, Tamper, verify};
pub use log::AuditLog;
