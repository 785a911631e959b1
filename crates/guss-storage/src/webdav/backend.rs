//! One request's view of the file store as a [`DavBackend`]: bound to a
//! tenant and a principal, checking each operation with the [`Authorizer`].

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use guss_core::{
    Action, Authorizer, Context, Principal, Resource as Protected, ResourceKind as ProtectedKind,
};
use guss_dav::backend::{
    BackendError, BackendResult, ByteStream, Changes, DavBackend, LockStore, Quota, Resource,
    ResourceKind, Written,
};
use guss_dav::{DavPath, PropertyName};

use crate::Error;
use crate::model::{Entry, EntryKind};
use crate::store::TenantFiles;

/// The file store as one principal sees it over WebDAV.
pub struct StorageDav {
    pub(super) files: TenantFiles,
    pub(super) principal: Principal,
    authorizer: Arc<dyn Authorizer>,
}

impl std::fmt::Debug for StorageDav {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageDav")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

pub(super) fn backend_error(e: Error) -> BackendError {
    match e {
        Error::NotFound(_) => BackendError::NotFound,
        Error::AlreadyExists(_) => BackendError::AlreadyExists,
        Error::Conflict(why) => BackendError::Conflict(why.to_owned()),
        Error::Invalid { why, .. } => BackendError::Conflict(why.to_owned()),
        Error::Forbidden => BackendError::Forbidden,
        Error::QuotaExceeded => BackendError::InsufficientStorage,
        Error::LimitExceeded { what, limit } => BackendError::TooLarge { what, limit },
        other => BackendError::Internal(other.to_string()),
    }
}

fn resource(entry: Entry) -> Resource {
    Resource {
        path: entry.path,
        kind: match entry.kind {
            EntryKind::Folder => ResourceKind::Collection,
            EntryKind::File => ResourceKind::File,
        },
        etag: entry.etag,
        length: entry.size,
        content_type: entry.content_type,
        created: entry.created,
        modified: entry.modified,
    }
}

const TOKEN_PREFIX: &str = "urn:guss:sync:";

impl StorageDav {
    /// A backend for `principal` on `files`.
    pub fn new(files: TenantFiles, principal: Principal, authorizer: Arc<dyn Authorizer>) -> Self {
        StorageDav {
            files,
            principal,
            authorizer,
        }
    }

    /// Asks the authorizer whether the principal may `action` the item at `path`.
    async fn allow(&self, action: Action, path: &DavPath) -> BackendResult<()> {
        let id = if path.is_root() {
            "/".to_owned()
        } else {
            path.to_string()
        };
        let kind = ProtectedKind::FOLDER;
        let protected = Protected::new(self.files.tenant_id(), kind, id)
            .map_err(|_| BackendError::Forbidden)?;
        self.authorizer
            .check(&self.principal, &action, &protected, &Context::new())
            .await
            .map_err(|_| BackendError::Forbidden)
    }
}

#[async_trait]
impl DavBackend for StorageDav {
    async fn resource(&self, path: &DavPath) -> BackendResult<Option<Resource>> {
        self.allow(Action::READ, path).await?;
        Ok(self
            .files
            .stat(path)
            .await
            .map_err(backend_error)?
            .map(resource))
    }

    async fn children(&self, path: &DavPath) -> BackendResult<Vec<Resource>> {
        self.allow(Action::READ, path).await?;
        Ok(self
            .files
            .list(path)
            .await
            .map_err(backend_error)?
            .into_iter()
            .map(resource)
            .collect())
    }

    async fn read(&self, path: &DavPath, range: Option<Range<u64>>) -> BackendResult<ByteStream> {
        self.allow(Action::READ, path).await?;
        self.files.read(path, range).await.map_err(backend_error)
    }

    async fn write(
        &self,
        path: &DavPath,
        body: ByteStream,
        content_type: Option<&str>,
    ) -> BackendResult<Written> {
        self.allow(Action::WRITE, path).await?;
        let (entry, created) = self
            .files
            .write(path, body, content_type, &self.principal)
            .await
            .map_err(backend_error)?;
        Ok(Written {
            resource: resource(entry),
            created,
        })
    }

    async fn create_collection(
        &self,
        path: &DavPath,
        properties: Vec<(PropertyName, String)>,
    ) -> BackendResult<Resource> {
        self.allow(Action::WRITE, path).await?;
        if properties
            .iter()
            .any(|(name, _)| name.namespace == guss_dav::DAV && name.local == "resourcetype")
        {
            // Only plain collections here (RFC 5689 §3: valid-resourcetype).
            return Err(BackendError::Forbidden);
        }
        let entry = self
            .files
            .create_folder(path, &properties, &self.principal)
            .await
            .map_err(backend_error)?;
        Ok(resource(entry))
    }

    async fn delete(&self, path: &DavPath) -> BackendResult<()> {
        self.allow(Action::DELETE, path).await?;
        self.files
            .delete(path, &self.principal)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn copy(&self, from: &DavPath, to: &DavPath, recursive: bool) -> BackendResult<()> {
        self.allow(Action::READ, from).await?;
        self.allow(Action::WRITE, to).await?;
        self.files
            .copy(from, to, recursive, &self.principal)
            .await
            .map_err(backend_error)
    }

    async fn rename(&self, from: &DavPath, to: &DavPath) -> BackendResult<()> {
        self.allow(Action::DELETE, from).await?;
        self.allow(Action::WRITE, to).await?;
        self.files
            .rename(from, to, &self.principal)
            .await
            .map_err(backend_error)
    }

    async fn dead_properties(&self, path: &DavPath) -> BackendResult<Vec<(PropertyName, String)>> {
        self.allow(Action::READ, path).await?;
        self.files.properties(path).await.map_err(backend_error)
    }

    async fn patch_properties(
        &self,
        path: &DavPath,
        set: Vec<(PropertyName, String)>,
        remove: Vec<PropertyName>,
    ) -> BackendResult<()> {
        self.allow(Action::WRITE, path).await?;
        self.files
            .patch_properties(path, &set, &remove, &self.principal)
            .await
            .map_err(backend_error)
    }

    async fn quota(&self, path: &DavPath) -> BackendResult<Option<Quota>> {
        self.allow(Action::READ, path).await?;
        let usage = self.files.usage().await.map_err(backend_error)?;
        Ok(usage.limit.map(|limit| Quota {
            used: usage.used,
            available: limit.saturating_sub(usage.used),
        }))
    }

    async fn sync_token(&self, path: &DavPath) -> BackendResult<Option<String>> {
        self.allow(Action::READ, path).await?;
        let seq = self.files.change_position().await.map_err(backend_error)?;
        Ok(Some(format!("{TOKEN_PREFIX}{seq}")))
    }

    async fn changes(
        &self,
        path: &DavPath,
        token: Option<&str>,
        limit: usize,
    ) -> BackendResult<Changes> {
        self.allow(Action::READ, path).await?;
        let since = match token {
            None => None,
            Some(token) => Some(
                token
                    .strip_prefix(TOKEN_PREFIX)
                    .and_then(|n| n.parse::<i64>().ok())
                    .ok_or(BackendError::InvalidSyncToken)?,
            ),
        };
        let changes = self
            .files
            .changes(path, since, limit)
            .await
            .map_err(|e| match e {
                Error::Invalid {
                    what: "sync token", ..
                } => BackendError::InvalidSyncToken,
                other => backend_error(other),
            })?;
        Ok(Changes {
            token: format!("{TOKEN_PREFIX}{}", changes.position),
            changed: changes.changed.into_iter().map(resource).collect(),
            removed: changes.removed,
            truncated: changes.truncated,
        })
    }

    fn locks(&self) -> &dyn LockStore {
        self
    }
}
