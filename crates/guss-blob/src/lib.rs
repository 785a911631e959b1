//! A narrow blob store: what guss keeps outside its databases (file chunks,
//! mail bodies) goes through [`BlobStore`], on the local filesystem
//! ([`LocalBlobStore`], the embedded default) or on S3-compatible object
//! storage ([`S3BlobStore`]).
//!
//! Blobs are immutable: they are written once with [`BlobStore::put_if_absent`]
//! (content-addressed stores need nothing else) and deleted by garbage
//! collection. A successful put is durable.
//!
//! ```
//! use guss_blob::{BlobKey, BlobStore, LocalBlobStore};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let store = LocalBlobStore::open(dir.path()).await?;
//! let key = BlobKey::new("tenant-1/chunks/ab/abcdef")?;
//! assert!(store.put_if_absent(&key, "hello".into()).await?);
//! assert!(!store.put_if_absent(&key, "other".into()).await?, "blobs are written once");
//! assert_eq!(store.get_range(&key, 1..4).await?.unwrap(), "ell");
//! # Ok::<(), guss_blob::Error>(())
//! # }).unwrap();
//! ```
#![forbid(unsafe_code)]

use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use guss_core::Limit;

#[cfg(feature = "local")]
mod local;
#[cfg(feature = "s3")]
mod s3;

#[cfg(feature = "local")]
pub use local::LocalBlobStore;
#[cfg(feature = "s3")]
pub use s3::{S3BlobStore, S3Config};

/// Longest key accepted.
pub const MAX_KEY: Limit = Limit::new("blob key length", 1024);
/// Most path segments in a key.
pub const MAX_SEGMENTS: Limit = Limit::new("blob key segments", 16);
/// Most keys one listing returns.
pub const MAX_LIST: Limit = Limit::new("blob keys per listing", 10_000);

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key or range is malformed.
    #[error("invalid {what}: {why}")]
    Invalid {
        /// Which input.
        what: &'static str,
        /// What is wrong.
        why: &'static str,
    },
    /// A bound was exceeded.
    #[error(transparent)]
    Limit(#[from] guss_core::Error),
    /// The disk or the object store failed.
    #[error("blob backend failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl Error {
    pub(crate) fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Backend(Box::new(e))
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A blob's name: `/`-separated segments of ASCII letters, digits, `-`,
/// `_` and `.`, none empty or starting with a dot, at most 1024 bytes. The
/// same key names the same file on disk and the same object in S3.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobKey(String);

impl BlobKey {
    /// A validated key.
    pub fn new(key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        MAX_KEY.check_len(key.len())?;
        let segments: Vec<&str> = key.split('/').collect();
        MAX_SEGMENTS.check_len(segments.len())?;
        for segment in segments {
            let valid = !segment.is_empty()
                && !segment.starts_with('.')
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !valid {
                return Err(Error::Invalid {
                    what: "blob key",
                    why: "segments of letters, digits, - _ . not starting with a dot",
                });
            }
        }
        Ok(BlobKey(key))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BlobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where blobs live.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `data` under `key` unless a blob is there already. Returns
    /// whether it stored. Once it returns, the blob survives a crash.
    async fn put_if_absent(&self, key: &BlobKey, data: Bytes) -> Result<bool>;

    /// The whole blob, or `None` if there is none.
    async fn get(&self, key: &BlobKey) -> Result<Option<Bytes>>;

    /// Bytes `range` of the blob (cut at its end), or `None` if there is no blob.
    async fn get_range(&self, key: &BlobKey, range: Range<u64>) -> Result<Option<Bytes>>;

    /// Up to `limit` keys that start with `prefix` and sort after `after`,
    /// in order: call again with the last key to continue.
    async fn list(
        &self,
        prefix: &str,
        after: Option<&BlobKey>,
        limit: usize,
    ) -> Result<Vec<BlobKey>>;

    /// Removes a blob; false if there was none.
    async fn delete(&self, key: &BlobKey) -> Result<bool>;

    /// Removes what writes interrupted by a crash left behind (temporary
    /// files) once it is older than `older_than`; returns how many went.
    /// Stores whose writes leave nothing behind have nothing to do.
    async fn remove_abandoned(&self, _older_than: std::time::Duration) -> Result<u64> {
        Ok(0)
    }
}

/// The blob store a deployment names: S3 at `s3_url`
/// (`http(s)://ACCESS_KEY:SECRET@HOST:PORT/BUCKET`, see
/// [`S3Config::from_url`]) when given, else local files below `local_root`.
#[cfg(all(feature = "local", feature = "s3"))]
pub async fn open(
    s3_url: Option<&str>,
    local_root: &std::path::Path,
) -> Result<std::sync::Arc<dyn BlobStore>> {
    Ok(match s3_url {
        Some(url) => std::sync::Arc::new(S3BlobStore::new(&S3Config::from_url(url)?)?),
        None => std::sync::Arc::new(LocalBlobStore::open(local_root).await?),
    })
}

pub(crate) fn check_range(range: &Range<u64>) -> Result<()> {
    if range.start > range.end {
        return Err(Error::Invalid {
            what: "byte range",
            why: "starts after its end",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_cannot_escape_or_hide() {
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            "../a",
            "a/../b",
            "a/.hidden",
            ".tmp",
            "a b",
            "a\\b",
            "ä",
        ] {
            assert!(BlobKey::new(bad).is_err(), "{bad:?}");
        }
        assert!(BlobKey::new("tenant-1/chunks/ab/abc.zst").is_ok());
        assert!(BlobKey::new("a/".repeat(17) + "a").is_err());
    }

    proptest! {
        #[test]
        fn key_parsing_never_panics(s in ".{0,200}") {
            if let Ok(key) = BlobKey::new(s.clone()) {
                prop_assert!(!key.as_str().contains(".."));
                prop_assert_eq!(key.as_str(), s.as_str());
            }
        }
    }
}
