//! Versioned, deduplicated, encrypted file storage.
//!
//! This first part is the content pipeline: a file is cut into
//! content-defined chunks ([`chunks`]), each chunk is named by a keyed
//! BLAKE3 hash (so identical chunks are stored once per tenant, and a chunk
//! id reveals nothing across tenants), compressed with zstd when that helps,
//! and sealed with AES-256-GCM under the tenant's data key, which is itself
//! wrapped by the server's master key ([`keys`]).
//!
//! ```
//! use guss_storage::keys::{MasterKey, TenantKeys};
//! use guss_storage::{chunks, ChunkPolicy};
//!
//! let master = MasterKey::from_bytes([7; 32]);
//! let (keys, wrapped) = TenantKeys::generate(&master, b"tenant-1")?;
//! let file = vec![42u8; 300_000];
//! let mut stored = Vec::new();
//! for chunk in chunks(&file, ChunkPolicy::default()) {
//!     let id = keys.chunk_id(chunk);
//!     stored.push((id, keys.seal(&id, chunk)?));
//! }
//! // Later, with the wrapped key from the tenant's database:
//! let keys = TenantKeys::unwrap(&master, b"tenant-1", &wrapped)?;
//! let restored: Vec<u8> = stored.iter().flat_map(|(id, sealed)| keys.open(id, sealed).unwrap()).collect();
//! assert_eq!(restored, file);
//! # Ok::<(), guss_storage::Error>(())
//! ```
#![forbid(unsafe_code)]

mod chunking;
mod error;
#[cfg(feature = "http")]
pub mod http;
pub mod keys;
#[cfg(feature = "store")]
pub mod model;
#[cfg(feature = "store")]
pub mod store;
pub mod thinning;
pub mod tripwire;
#[cfg(feature = "webdav")]
pub mod webdav;

pub use chunking::{ChunkPolicy, chunks};
pub use error::{Error, Result};
