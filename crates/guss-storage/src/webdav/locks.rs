//! The lock table of the WebDAV adapter: the store's lock rows.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use guss_dav::DavPath;
use guss_dav::backend::{BackendResult, LockStore, StoredLock};

use super::backend::{StorageDav, backend_error};

#[async_trait]
impl LockStore for StorageDav {
    async fn acquire(&self, lock: &StoredLock, now: DateTime<Utc>) -> BackendResult<bool> {
        self.files
            .acquire_lock(lock, now)
            .await
            .map_err(backend_error)
    }

    async fn refresh(
        &self,
        token: &str,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> BackendResult<Option<StoredLock>> {
        self.files
            .refresh_lock(token, expires, now)
            .await
            .map_err(backend_error)
    }

    async fn release(&self, token: &str) -> BackendResult<bool> {
        self.files.release_lock(token).await.map_err(backend_error)
    }

    async fn locks_touching(
        &self,
        path: &DavPath,
        now: DateTime<Utc>,
    ) -> BackendResult<Vec<StoredLock>> {
        self.files
            .locks_touching(path, now)
            .await
            .map_err(backend_error)
    }

    async fn forget_below(&self, path: &DavPath) -> BackendResult<()> {
        self.files
            .forget_locks_below(path)
            .await
            .map_err(backend_error)
    }
}
