//! What a WebDAV server needs from the crate that owns the data: resources,
//! their bodies and dead properties ([`DavBackend`]), and a lock table that
//! outlives the process ([`LockStore`]). The file store implements both now;
//! calendars and contacts implement them next.
//!
//! Authentication and authorization are the backend's business: an adapter
//! builds one backend handle per request, bound to the tenant and the
//! principal, and that handle refuses what the principal may not do
//! ([`BackendError::Forbidden`]).

use std::io;
use std::ops::Range;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;

use crate::multistatus::Multistatus;
use crate::xml::Element;
use chrono::{DateTime, Utc};
use futures::Stream;

use crate::body::LockScope;
use crate::headers::Depth;
use crate::xml::PropertyName;

/// A request or response body, streamed in pieces.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

pub use crate::path::DavPath;

/// A collection or a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    /// A collection (folder).
    Collection,
    /// A file with a body.
    File,
}

/// What the server reports about a resource (its live properties).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// Where it is.
    pub path: DavPath,
    /// Collection or file.
    pub kind: ResourceKind,
    /// A strong entity tag, without quotes; it changes with every write
    /// (for collections: with every change to the collection's members).
    pub etag: String,
    /// The body length in bytes (0 for collections).
    pub length: u64,
    /// The media type of the body, if known.
    pub content_type: Option<String>,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// When its body (or, for collections, its membership) last changed.
    pub modified: DateTime<Utc>,
}

/// The result of a write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The resource as it is after the write.
    pub resource: Resource,
    /// Whether the write created it (201) rather than replaced it (204).
    pub created: bool,
}

/// Used and available bytes (RFC 4331).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Bytes in use.
    pub used: u64,
    /// Bytes still available.
    pub available: u64,
}

/// What changed in a collection since a sync token (RFC 6578).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changes {
    /// The token that covers everything reported.
    pub token: String,
    /// Members created or changed, as they are now.
    pub changed: Vec<Resource>,
    /// Members removed since the old token.
    pub removed: Vec<DavPath>,
    /// Whether more changes remain than the limit allowed (RFC 6578 §3.6:
    /// the response ends with a 507 for the request URI).
    pub truncated: bool,
}

/// A stored lock (RFC 4918 §6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLock {
    /// The token, `urn:uuid:…`.
    pub token: String,
    /// The locked path (the lock root).
    pub root: DavPath,
    /// `Zero` or `Infinity`.
    pub depth: Depth,
    /// Exclusive or shared.
    pub scope: LockScope,
    /// The owner element's content as the client sent it.
    pub owner: Option<String>,
    /// Who took the lock (the backend's principal id), so that only they
    /// use its token.
    pub principal: String,
    /// When it lapses unless refreshed.
    pub expires: DateTime<Utc>,
}

impl StoredLock {
    /// Whether the lock applies to `path`: the root itself, or a member
    /// below it for a depth-infinity lock.
    pub fn covers(&self, path: &DavPath) -> bool {
        path == &self.root || (self.depth == Depth::Infinity && path.starts_with(&self.root))
    }

    /// Whether `self` and `other` cannot both be held (RFC 4918 §6.1): their
    /// scopes overlap and one of them is exclusive.
    ///
    /// ```
    /// use chrono::Utc;
    /// use guss_dav::backend::{DavPath, StoredLock};
    /// use guss_dav::{Depth, LockScope};
    ///
    /// let lock = |path: &[&str], depth, scope| StoredLock {
    ///     token: "urn:uuid:1".into(), root: DavPath::from_segments(path.iter().copied()).unwrap(),
    ///     depth, scope, owner: None, principal: "anna".into(), expires: Utc::now(),
    /// };
    /// let folder = lock(&["Akten"], Depth::Infinity, LockScope::Exclusive);
    /// assert!(folder.conflicts_with(&lock(&["Akten", "a.txt"], Depth::Zero, LockScope::Shared)));
    /// assert!(!folder.conflicts_with(&lock(&["Privat"], Depth::Zero, LockScope::Exclusive)));
    /// let shared = lock(&["Akten"], Depth::Zero, LockScope::Shared);
    /// assert!(!shared.conflicts_with(&lock(&["Akten"], Depth::Zero, LockScope::Shared)));
    /// ```
    pub fn conflicts_with(&self, other: &StoredLock) -> bool {
        let overlap = self.covers(&other.root) || other.covers(&self.root);
        overlap && (self.scope == LockScope::Exclusive || other.scope == LockScope::Exclusive)
    }
}

/// Why a backend refused or failed an operation; each maps to the status a
/// WebDAV client expects.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// Nothing at that path (404).
    #[error("not found")]
    NotFound,
    /// Something is already there (405 for MKCOL, 412 for COPY/MOVE without overwrite).
    #[error("already exists")]
    AlreadyExists,
    /// The parent collection is missing, or the operation cannot apply to
    /// this kind of resource (409).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The principal may not do this (403).
    #[error("forbidden")]
    Forbidden,
    /// A lock that is not the caller's stands in the way (423).
    #[error("locked")]
    Locked,
    /// The body is larger than the backend accepts (413).
    #[error("{what} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Which bound.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// The quota is used up (507).
    #[error("quota exceeded")]
    InsufficientStorage,
    /// A sync token the backend does not know or no longer covers (403 with
    /// `valid-sync-token`).
    #[error("unknown or expired sync token")]
    InvalidSyncToken,
    /// The backend does not support this here (e.g. sync on a file) (403).
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    /// Reading the request body failed (400).
    #[error("request body: {0}")]
    Body(String),
    /// A precondition or postcondition of the protocol failed (e.g.
    /// CalDAV's `valid-calendar-data`): answered with `status` and a
    /// `DAV:error` body holding `condition`, an XML element that declares
    /// its own namespace.
    #[error("condition {condition} failed")]
    Condition {
        /// The HTTP status (403 or 409, as the defining RFC says).
        status: u16,
        /// The condition element, e.g. `<C:valid-calendar-data xmlns:C="urn:ietf:params:xml:ns:caldav"/>`.
        condition: String,
    },
    /// Anything else (500); the message is for the log, not the client.
    #[error("backend failure: {0}")]
    Internal(String),
}

impl BackendError {
    /// The HTTP status for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            BackendError::NotFound => 404,
            BackendError::AlreadyExists => 405,
            BackendError::Conflict(_) => 409,
            BackendError::Forbidden
            | BackendError::InvalidSyncToken
            | BackendError::Unsupported(_) => 403,
            BackendError::Locked => 423,
            BackendError::TooLarge { .. } => 413,
            BackendError::InsufficientStorage => 507,
            BackendError::Body(_) => 400,
            BackendError::Condition { status, .. } => *status,
            BackendError::Internal(_) => 500,
        }
    }
}

/// `Result` with [`BackendError`].
pub type BackendResult<T> = std::result::Result<T, BackendError>;

/// A whole answer a backend builds itself, for REPORTs and methods the
/// core does not know (CalDAV's calendar-query, MKCALENDAR, POST to a
/// schedule outbox).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body's media type.
    pub content_type: String,
    /// Further headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A reply with a body.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status,
            content_type: content_type.to_owned(),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A `207 Multi-Status` reply.
    pub fn multistatus(body: &Multistatus) -> Self {
        Reply::new(207, "application/xml; charset=utf-8", body.to_xml())
    }
}

/// Where the tree is mounted: turns paths into hrefs and back, for
/// backends that write their own multistatus bodies.
///
/// ```
/// use guss_dav::DavPath;
/// use guss_dav::backend::Mount;
///
/// let mount = Mount::new("/dav/calendars/");
/// let path = DavPath::from_segments(["anna", "Termine 2030"])?;
/// assert_eq!(mount.href(&path, true), "/dav/calendars/anna/Termine%202030/");
/// assert_eq!(mount.path_of("/dav/calendars/anna/Termine%202030/"), Some(path));
/// assert_eq!(mount.path_of("/elsewhere/x"), None);
/// # Ok::<(), guss_dav::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Mount<'a> {
    prefix: &'a str,
}

impl<'a> Mount<'a> {
    /// The mount at `prefix` (absolute, percent-encoded, ending with `/`).
    pub fn new(prefix: &'a str) -> Self {
        Mount { prefix }
    }

    /// The href of `path` (with a trailing `/` for collections).
    pub fn href(&self, path: &DavPath, collection: bool) -> String {
        crate::server::href::href(self.prefix, path, collection)
    }

    /// The path an href (absolute path or URL) names below the mount.
    pub fn path_of(&self, href: &str) -> Option<DavPath> {
        let path = match href.find("://") {
            Some(scheme_end) => {
                let rest = href.get(scheme_end + 3..)?;
                rest.get(rest.find('/')?..)?
            }
            None => href,
        };
        crate::server::href::request_path(self.prefix, path)
            .ok()
            .map(|(p, _)| p)
    }
}

/// The data behind a WebDAV tree, seen by one principal.
///
/// Paths are relative to the served root. Every method is one atomic step
/// in the backend: a failed call changes nothing. The handler checks
/// preconditions and locks before it calls a mutating method.
#[async_trait]
pub trait DavBackend: Send + Sync {
    /// The resource at `path`, or `None`.
    async fn resource(&self, path: &DavPath) -> BackendResult<Option<Resource>>;

    /// The members of the collection at `path` (not recursive), bounded by
    /// the backend. `NotFound` if there is no collection.
    async fn children(&self, path: &DavPath) -> BackendResult<Vec<Resource>>;

    /// The body of the file at `path`, or the bytes of `range` of it
    /// (already checked against its length).
    async fn read(&self, path: &DavPath, range: Option<Range<u64>>) -> BackendResult<ByteStream>;

    /// Writes the file at `path` from `body`, creating it or replacing its
    /// body. `Conflict` if the parent is not a collection, or if `path` is
    /// one. The answer comes only once the body is durable.
    async fn write(
        &self,
        path: &DavPath,
        body: ByteStream,
        content_type: Option<&str>,
    ) -> BackendResult<Written>;

    /// Creates a collection with initial dead properties (RFC 5689).
    /// `AlreadyExists` if something is at `path`, `Conflict` if the parent
    /// is missing; `Forbidden` for a property the backend will not set on
    /// creation (e.g. a resourcetype it does not make).
    async fn create_collection(
        &self,
        path: &DavPath,
        properties: Vec<(PropertyName, String)>,
    ) -> BackendResult<Resource>;

    /// Deletes the resource at `path` with all its members.
    async fn delete(&self, path: &DavPath) -> BackendResult<()>;

    /// Copies `from` to `to` (with its dead properties); with `recursive`
    /// false a collection is copied without members. `to` is free (the
    /// handler deleted what was there) and its parent exists.
    async fn copy(&self, from: &DavPath, to: &DavPath, recursive: bool) -> BackendResult<()>;

    /// Moves `from` to `to` with everything below it, keeping dead
    /// properties. `to` is free and its parent exists.
    async fn rename(&self, from: &DavPath, to: &DavPath) -> BackendResult<()>;

    /// The dead properties of `path`, values as XML with explicit namespaces.
    async fn dead_properties(&self, path: &DavPath) -> BackendResult<Vec<(PropertyName, String)>>;

    /// Sets and removes dead properties, all or none.
    async fn patch_properties(
        &self,
        path: &DavPath,
        set: Vec<(PropertyName, String)>,
        remove: Vec<PropertyName>,
    ) -> BackendResult<()>;

    /// Used and available bytes for `path`, when the backend has a quota.
    async fn quota(&self, _path: &DavPath) -> BackendResult<Option<Quota>> {
        Ok(None)
    }

    /// The current sync token of the collection at `path` (RFC 6578), when
    /// the backend keeps a change log.
    async fn sync_token(&self, _path: &DavPath) -> BackendResult<Option<String>> {
        Ok(None)
    }

    /// The members of the collection at `path` changed since `token` (all
    /// members for `None`), at most `limit` of them.
    async fn changes(
        &self,
        _path: &DavPath,
        _token: Option<&str>,
        _limit: usize,
    ) -> BackendResult<Changes> {
        Err(BackendError::Unsupported("sync-collection"))
    }

    /// Live properties beyond RFC 4918's for `resource` (e.g. CalDAV's
    /// `calendar-home-set`), values as XML with explicit namespaces. They
    /// are reported when asked for by name; a `DAV:resourcetype` here
    /// replaces the plain one everywhere.
    async fn extra_properties(
        &self,
        _resource: &Resource,
    ) -> BackendResult<Vec<(PropertyName, String)>> {
        Ok(Vec::new())
    }

    /// Answers a REPORT other than sync-collection (whose root element is
    /// `body`); `None` when the backend has no such report (403
    /// `supported-report`).
    async fn report(
        &self,
        _mount: &Mount<'_>,
        _path: &DavPath,
        _depth: Depth,
        _body: &Element,
    ) -> Option<BackendResult<Reply>> {
        None
    }

    /// Answers a method the core does not implement (MKCALENDAR, POST);
    /// `None` when the backend does not know it either (405 or 501).
    async fn other_method(
        &self,
        _mount: &Mount<'_>,
        _method: &str,
        _path: &DavPath,
        _content_type: Option<&str>,
        _body: Bytes,
    ) -> Option<BackendResult<Reply>> {
        None
    }

    /// Compliance classes beyond WebDAV's for the `DAV` header of OPTIONS
    /// (e.g. `calendar-access`, RFC 4791 §5.1).
    fn compliance_classes(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Methods beyond WebDAV's for the `Allow` header (e.g. `MKCALENDAR`).
    fn extra_methods(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// The lock table.
    fn locks(&self) -> &dyn LockStore;
}

/// Where locks live: a database table, so that they survive restarts and
/// are shared by every server process.
#[async_trait]
pub trait LockStore: Send + Sync {
    /// Stores `lock` unless an unexpired lock conflicts with it
    /// ([`StoredLock::conflicts_with`]); check and insert are one atomic
    /// step. Returns whether it was stored.
    async fn acquire(&self, lock: &StoredLock, now: DateTime<Utc>) -> BackendResult<bool>;

    /// Extends the lock with `token` to `expires`; `None` if it is gone.
    async fn refresh(
        &self,
        token: &str,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> BackendResult<Option<StoredLock>>;

    /// Removes the lock with `token`; whether it existed.
    async fn release(&self, token: &str) -> BackendResult<bool>;

    /// Unexpired locks that cover `path` or lie below it (the locks a
    /// recursive DELETE or MOVE must be allowed to break).
    async fn locks_touching(
        &self,
        path: &DavPath,
        now: DateTime<Utc>,
    ) -> BackendResult<Vec<StoredLock>>;

    /// Drops the locks rooted at or below `path`, after it was deleted or
    /// moved away (RFC 4918 §7.7, §9.9.4: locks do not move with a resource).
    async fn forget_below(&self, path: &DavPath) -> BackendResult<()>;
}
