//! Blobs as files under a root directory, one file per key.
//!
//! A put writes a temporary file beside its target, syncs it, links it into
//! place only if nothing is there (`persist_noclobber`: no overwrite race),
//! and syncs the directory, so that an acknowledged put survives power loss.

use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::ops::Range;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{BlobKey, BlobStore, Error, MAX_LIST, Result, check_range};

/// Temporary files start so; keys cannot (they never start with a dot).
const TEMP_PREFIX: &str = ".tmp-";

/// Blobs in a local directory: the embedded default.
#[derive(Clone, Debug)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    /// Blobs under `root`, created if missing.
    pub async fn open(root: &Path) -> Result<Self> {
        let root = root.to_owned();
        blocking(move || {
            std::fs::create_dir_all(&root)?;
            Ok(LocalBlobStore { root })
        })
        .await
    }

    fn path(&self, key: &BlobKey) -> PathBuf {
        // Keys are validated: their segments are plain names, never `..`.
        self.root.join(key.as_str())
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(Error::backend)?
        .map_err(Error::backend)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put_if_absent(&self, key: &BlobKey, data: Bytes) -> Result<bool> {
        let path = self.path(key);
        let root = self.root.clone();
        blocking(move || {
            if path.exists() {
                return Ok(false);
            }
            let dir = path.parent().unwrap_or(&root).to_owned();
            let mut created = Vec::new();
            let mut ancestor = dir.as_path();
            while !ancestor.exists() && ancestor.starts_with(&root) {
                created.push(ancestor.to_owned());
                ancestor = ancestor.parent().unwrap_or(&root);
            }
            std::fs::create_dir_all(&dir)?;
            let mut temp = tempfile::Builder::new()
                .prefix(TEMP_PREFIX)
                .tempfile_in(&dir)?;
            temp.write_all(&data)?;
            temp.as_file().sync_all()?;
            let stored = match temp.persist_noclobber(&path) {
                Ok(_) => true,
                Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => false,
                Err(e) => return Err(e.error),
            };
            // New directory entries are durable only once their directories are synced.
            sync_dir(&dir)?;
            for parent in created.iter().filter_map(|d| d.parent()) {
                sync_dir(parent)?;
            }
            Ok(stored)
        })
        .await
    }

    async fn remove_abandoned(&self, older_than: std::time::Duration) -> Result<u64> {
        let root = self.root.clone();
        blocking(move || {
            let cutoff = std::time::SystemTime::now() - older_than;
            let mut removed = 0;
            let mut pending = vec![root];
            while let Some(dir) = pending.pop() {
                for entry in std::fs::read_dir(&dir)? {
                    let entry = entry?;
                    let kind = entry.file_type()?;
                    if kind.is_dir() {
                        pending.push(entry.path());
                    } else if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX)
                        && entry.metadata()?.modified()? <= cutoff
                    {
                        std::fs::remove_file(entry.path())?;
                        removed += 1;
                    }
                }
            }
            Ok(removed)
        })
        .await
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Bytes>> {
        let path = self.path(key);
        blocking(move || match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    async fn get_range(&self, key: &BlobKey, range: Range<u64>) -> Result<Option<Bytes>> {
        check_range(&range)?;
        let path = self.path(key);
        blocking(move || {
            let mut file = match std::fs::File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            let size = file.metadata()?.len();
            let start = range.start.min(size);
            let end = range.end.min(size);
            file.seek(SeekFrom::Start(start))?;
            let mut buffer = Vec::with_capacity(usize::try_from(end - start).unwrap_or(0));
            file.take(end - start).read_to_end(&mut buffer)?;
            Ok(Some(Bytes::from(buffer)))
        })
        .await
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&BlobKey>,
        limit: usize,
    ) -> Result<Vec<BlobKey>> {
        MAX_LIST.check_len(limit)?;
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        let after = after.map(|k| k.as_str().to_owned());
        blocking(move || {
            // Walk only the directory the prefix names (its last segment may be partial).
            let base = match prefix.rfind('/') {
                Some(i) => root.join(prefix.get(..i).unwrap_or_default()),
                None => root.clone(),
            };
            let mut keys = Vec::new();
            let mut pending = vec![base];
            while let Some(dir) = pending.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                for entry in entries {
                    let entry = entry?;
                    let name = entry.file_name();
                    if name.to_string_lossy().starts_with('.') {
                        continue; // temporary files of puts in progress
                    }
                    let path = entry.path();
                    let Ok(relative) = path.strip_prefix(&root) else {
                        continue;
                    };
                    let key = relative
                        .to_string_lossy()
                        .replace(std::path::MAIN_SEPARATOR, "/");
                    if entry.file_type()?.is_dir() {
                        if key.starts_with(&prefix) || prefix.starts_with(&format!("{key}/")) {
                            pending.push(path);
                        }
                    } else if key.starts_with(&prefix) && after.as_ref().is_none_or(|a| key > *a) {
                        keys.push(key);
                    }
                }
            }
            keys.sort();
            keys.truncate(limit);
            Ok(keys)
        })
        .await?
        .into_iter()
        .map(BlobKey::new)
        .collect()
    }

    async fn delete(&self, key: &BlobKey) -> Result<bool> {
        let path = self.path(key);
        blocking(move || match std::fs::remove_file(&path) {
            Ok(()) => {
                if let Some(dir) = path.parent() {
                    sync_dir(dir)?;
                }
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        })
        .await
    }
}
