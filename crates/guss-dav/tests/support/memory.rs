//! An in-memory `DavBackend` and `LockStore` for tests and the memory-dav
//! example: a whole tree behind one mutex, so every call is atomic.

use std::collections::BTreeMap;
use std::io;
use std::ops::Range;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use guss_dav::PropertyName;
use guss_dav::backend::{
    BackendError, BackendResult, ByteStream, Changes, DavBackend, DavPath, LockStore, Quota,
    Resource, ResourceKind, StoredLock, Written,
};

/// Largest file body kept.
const MAX_BODY: u64 = 64 * 1024 * 1024;
/// The quota reported.
const QUOTA_BYTES: u64 = 1024 * 1024 * 1024;

#[derive(Clone, Debug)]
struct Node {
    kind: ResourceKind,
    body: Bytes,
    content_type: Option<String>,
    etag: String,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    properties: BTreeMap<PropertyName, String>,
}

#[derive(Debug)]
struct Tree {
    nodes: BTreeMap<DavPath, Node>,
    /// Every change, numbered: (sequence, path, removed).
    log: Vec<(u64, DavPath, bool)>,
    sequence: u64,
}

/// A WebDAV tree in memory.
#[derive(Debug)]
pub(crate) struct MemoryDav {
    tree: Mutex<Tree>,
    locks: MemoryLocks,
}

/// Locks in memory.
#[derive(Debug, Default)]
pub(crate) struct MemoryLocks {
    locks: Mutex<Vec<StoredLock>>,
}

const TOKEN_PREFIX: &str = "http://guss.invalid/sync/";

impl Default for MemoryDav {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryDav {
    /// An empty tree (just the root collection).
    pub(crate) fn new() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(DavPath::root(), collection_node(Utc::now(), 0));
        MemoryDav {
            tree: Mutex::new(Tree {
                nodes,
                log: Vec::new(),
                sequence: 0,
            }),
            locks: MemoryLocks::default(),
        }
    }

    fn tree(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn collection_node(now: DateTime<Utc>, sequence: u64) -> Node {
    Node {
        kind: ResourceKind::Collection,
        body: Bytes::new(),
        content_type: None,
        etag: format!("c{sequence}"),
        created: now,
        modified: now,
        properties: BTreeMap::new(),
    }
}

impl Tree {
    /// Records a change of `path` (and bumps its parent's etag).
    fn changed(&mut self, path: &DavPath, removed: bool) {
        self.sequence += 1;
        let sequence = self.sequence;
        self.log.push((sequence, path.clone(), removed));
        if let Some(node) = path.parent().and_then(|p| self.nodes.get_mut(&p)) {
            node.etag = format!("c{sequence}");
            node.modified = Utc::now();
        }
    }

    fn resource(&self, path: &DavPath) -> Option<Resource> {
        self.nodes.get(path).map(|n| resource(path, n))
    }

    fn parent_is_collection(&self, path: &DavPath) -> bool {
        path.parent()
            .and_then(|p| self.nodes.get(&p))
            .is_some_and(|n| n.kind == ResourceKind::Collection)
    }

    fn subtree(&self, path: &DavPath) -> Vec<DavPath> {
        self.nodes
            .range(path.clone()..)
            .take_while(|(p, _)| p.starts_with(path))
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn rebase(from: &DavPath, to: &DavPath, path: &DavPath) -> BackendResult<DavPath> {
        let rest = path
            .segments()
            .get(from.segments().len()..)
            .unwrap_or_default();
        DavPath::from_segments(to.segments().iter().chain(rest).cloned())
            .map_err(|e| BackendError::Conflict(e.to_string()))
    }
}

fn resource(path: &DavPath, node: &Node) -> Resource {
    Resource {
        path: path.clone(),
        kind: node.kind,
        etag: node.etag.clone(),
        length: u64::try_from(node.body.len()).unwrap_or(u64::MAX),
        content_type: node.content_type.clone(),
        created: node.created,
        modified: node.modified,
    }
}

#[async_trait]
impl DavBackend for MemoryDav {
    async fn resource(&self, path: &DavPath) -> BackendResult<Option<Resource>> {
        Ok(self.tree().resource(path))
    }

    async fn children(&self, path: &DavPath) -> BackendResult<Vec<Resource>> {
        let tree = self.tree();
        match tree.nodes.get(path) {
            Some(n) if n.kind == ResourceKind::Collection => {}
            _ => return Err(BackendError::NotFound),
        }
        let depth = path.segments().len() + 1;
        Ok(tree
            .nodes
            .range(path.clone()..)
            .take_while(|(p, _)| p.starts_with(path))
            .filter(|(p, _)| p.segments().len() == depth)
            .map(|(p, n)| resource(p, n))
            .collect())
    }

    async fn read(&self, path: &DavPath, range: Option<Range<u64>>) -> BackendResult<ByteStream> {
        let body = {
            let tree = self.tree();
            let node = tree.nodes.get(path).ok_or(BackendError::NotFound)?;
            if node.kind != ResourceKind::File {
                return Err(BackendError::Conflict("a collection has no body".into()));
            }
            node.body.clone()
        };
        let body = match range {
            None => body,
            Some(r) => {
                let start = usize::try_from(r.start).unwrap_or(usize::MAX);
                let end = usize::try_from(r.end).unwrap_or(usize::MAX);
                if start > end || end > body.len() {
                    return Err(BackendError::Internal("range outside the body".into()));
                }
                body.slice(start..end)
            }
        };
        Ok(Box::pin(futures::stream::iter([Ok::<_, io::Error>(body)])))
    }

    async fn write(
        &self,
        path: &DavPath,
        mut body: ByteStream,
        content_type: Option<&str>,
    ) -> BackendResult<Written> {
        let mut data = Vec::new();
        while let Some(piece) = body.next().await {
            let piece = piece.map_err(|e| BackendError::Body(e.to_string()))?;
            data.extend_from_slice(&piece);
            if u64::try_from(data.len()).unwrap_or(u64::MAX) > MAX_BODY {
                return Err(BackendError::TooLarge {
                    what: "file",
                    limit: MAX_BODY,
                });
            }
        }
        let mut tree = self.tree();
        if !tree.parent_is_collection(path) {
            return Err(BackendError::Conflict("no parent collection".into()));
        }
        let now = Utc::now();
        let sequence = tree.sequence + 1;
        let created = match tree.nodes.get_mut(path) {
            Some(node) if node.kind == ResourceKind::Collection => {
                return Err(BackendError::Conflict("a collection is there".into()));
            }
            Some(node) => {
                node.body = Bytes::from(data);
                node.content_type = content_type.map(str::to_owned).or(node.content_type.take());
                node.etag = format!("f{sequence}");
                node.modified = now;
                false
            }
            None => {
                tree.nodes.insert(
                    path.clone(),
                    Node {
                        kind: ResourceKind::File,
                        body: Bytes::from(data),
                        content_type: content_type.map(str::to_owned),
                        etag: format!("f{sequence}"),
                        created: now,
                        modified: now,
                        properties: BTreeMap::new(),
                    },
                );
                true
            }
        };
        tree.changed(path, false);
        let resource = tree.resource(path).ok_or(BackendError::NotFound)?;
        Ok(Written { resource, created })
    }

    async fn create_collection(
        &self,
        path: &DavPath,
        properties: Vec<(PropertyName, String)>,
    ) -> BackendResult<Resource> {
        let mut tree = self.tree();
        if tree.nodes.contains_key(path) {
            return Err(BackendError::AlreadyExists);
        }
        if !tree.parent_is_collection(path) {
            return Err(BackendError::Conflict("no parent collection".into()));
        }
        let mut node = collection_node(Utc::now(), tree.sequence + 1);
        node.properties = properties.into_iter().collect();
        tree.nodes.insert(path.clone(), node);
        tree.changed(path, false);
        tree.resource(path).ok_or(BackendError::NotFound)
    }

    async fn delete(&self, path: &DavPath) -> BackendResult<()> {
        let mut tree = self.tree();
        if path.is_root() {
            return Err(BackendError::Forbidden);
        }
        let doomed = tree.subtree(path);
        if doomed.is_empty() {
            return Err(BackendError::NotFound);
        }
        for p in &doomed {
            tree.nodes.remove(p);
        }
        tree.changed(path, true);
        Ok(())
    }

    async fn copy(&self, from: &DavPath, to: &DavPath, recursive: bool) -> BackendResult<()> {
        let mut tree = self.tree();
        if tree.nodes.contains_key(to) {
            return Err(BackendError::AlreadyExists);
        }
        if !tree.parent_is_collection(to) {
            return Err(BackendError::Conflict("no parent collection".into()));
        }
        let sources = if recursive {
            tree.subtree(from)
        } else {
            vec![from.clone()]
        };
        if sources.is_empty() || !tree.nodes.contains_key(from) {
            return Err(BackendError::NotFound);
        }
        let now = Utc::now();
        let sequence = tree.sequence + 1;
        for source in sources {
            let Some(node) = tree.nodes.get(&source).cloned() else {
                continue;
            };
            let target = Tree::rebase(from, to, &source)?;
            let mut copy = node;
            copy.created = now;
            copy.modified = now;
            copy.etag = format!(
                "{}{sequence}",
                if copy.kind == ResourceKind::File {
                    "f"
                } else {
                    "c"
                }
            );
            tree.nodes.insert(target, copy);
        }
        tree.changed(to, false);
        Ok(())
    }

    async fn rename(&self, from: &DavPath, to: &DavPath) -> BackendResult<()> {
        let mut tree = self.tree();
        if tree.nodes.contains_key(to) {
            return Err(BackendError::AlreadyExists);
        }
        if !tree.parent_is_collection(to) || to.starts_with(from) {
            return Err(BackendError::Conflict("cannot move there".into()));
        }
        let moving = tree.subtree(from);
        if moving.is_empty() {
            return Err(BackendError::NotFound);
        }
        for source in moving {
            let target = Tree::rebase(from, to, &source)?;
            if let Some(node) = tree.nodes.remove(&source) {
                tree.nodes.insert(target, node);
            }
        }
        tree.changed(from, true);
        tree.changed(to, false);
        Ok(())
    }

    async fn dead_properties(&self, path: &DavPath) -> BackendResult<Vec<(PropertyName, String)>> {
        let tree = self.tree();
        let node = tree.nodes.get(path).ok_or(BackendError::NotFound)?;
        Ok(node
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn patch_properties(
        &self,
        path: &DavPath,
        set: Vec<(PropertyName, String)>,
        remove: Vec<PropertyName>,
    ) -> BackendResult<()> {
        let mut tree = self.tree();
        let node = tree.nodes.get_mut(path).ok_or(BackendError::NotFound)?;
        for name in remove {
            node.properties.remove(&name);
        }
        node.properties.extend(set);
        tree.changed(path, false);
        Ok(())
    }

    async fn quota(&self, _path: &DavPath) -> BackendResult<Option<Quota>> {
        let tree = self.tree();
        let used: u64 = tree
            .nodes
            .values()
            .map(|n| u64::try_from(n.body.len()).unwrap_or(u64::MAX))
            .sum();
        Ok(Some(Quota {
            used,
            available: QUOTA_BYTES.saturating_sub(used),
        }))
    }

    async fn sync_token(&self, path: &DavPath) -> BackendResult<Option<String>> {
        let tree = self.tree();
        match tree.nodes.get(path) {
            Some(n) if n.kind == ResourceKind::Collection => {
                Ok(Some(format!("{TOKEN_PREFIX}{}", tree.sequence)))
            }
            Some(_) => Ok(None),
            None => Err(BackendError::NotFound),
        }
    }

    async fn changes(
        &self,
        path: &DavPath,
        token: Option<&str>,
        limit: usize,
    ) -> BackendResult<Changes> {
        let tree = self.tree();
        match tree.nodes.get(path) {
            Some(n) if n.kind == ResourceKind::Collection => {}
            Some(_) => return Err(BackendError::Unsupported("sync on a file")),
            None => return Err(BackendError::NotFound),
        }
        let since = match token {
            None => None,
            Some(t) => {
                let n = t
                    .strip_prefix(TOKEN_PREFIX)
                    .and_then(|n| n.parse::<u64>().ok())
                    .filter(|n| *n <= tree.sequence)
                    .ok_or(BackendError::InvalidSyncToken)?;
                Some(n)
            }
        };
        // The last change per direct member after `since`, in order.
        let depth = path.segments().len() + 1;
        let mut latest: BTreeMap<DavPath, (u64, bool)> = BTreeMap::new();
        match since {
            None => {
                for p in tree.nodes.keys() {
                    if p.starts_with(path) && p.segments().len() == depth {
                        latest.insert(p.clone(), (0, false));
                    }
                }
            }
            Some(since) => {
                for (sequence, p, removed) in &tree.log {
                    if *sequence > since && p.starts_with(path) && p.segments().len() >= depth {
                        // A change below a member changes that member.
                        let member =
                            DavPath::from_segments(p.segments().iter().take(depth).cloned())
                                .map_err(|e| BackendError::Internal(e.to_string()))?;
                        let removed = *removed && member == *p;
                        latest.insert(member, (*sequence, removed));
                    }
                }
            }
        }
        let mut ordered: Vec<(DavPath, u64, bool)> =
            latest.into_iter().map(|(p, (s, r))| (p, s, r)).collect();
        ordered.sort_by_key(|(_, s, _)| *s);
        let truncated = ordered.len() > limit;
        ordered.truncate(limit);
        let token_at = if truncated {
            ordered.last().map_or(since.unwrap_or(0), |(_, s, _)| *s)
        } else {
            tree.sequence
        };
        let mut changes = Changes {
            token: format!("{TOKEN_PREFIX}{token_at}"),
            changed: Vec::new(),
            removed: Vec::new(),
            truncated,
        };
        for (p, _, _) in ordered {
            match tree.resource(&p) {
                Some(r) => changes.changed.push(r),
                None => changes.removed.push(p),
            }
        }
        Ok(changes)
    }

    fn locks(&self) -> &dyn LockStore {
        &self.locks
    }
}

impl MemoryLocks {
    fn all(&self) -> MutexGuard<'_, Vec<StoredLock>> {
        self.locks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl LockStore for MemoryLocks {
    async fn acquire(&self, lock: &StoredLock, now: DateTime<Utc>) -> BackendResult<bool> {
        let mut locks = self.all();
        locks.retain(|l| l.expires > now);
        if locks.iter().any(|l| l.conflicts_with(lock)) {
            return Ok(false);
        }
        locks.push(lock.clone());
        Ok(true)
    }

    async fn refresh(
        &self,
        token: &str,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> BackendResult<Option<StoredLock>> {
        let mut locks = self.all();
        locks.retain(|l| l.expires > now);
        Ok(locks.iter_mut().find(|l| l.token == token).map(|l| {
            l.expires = expires;
            l.clone()
        }))
    }

    async fn release(&self, token: &str) -> BackendResult<bool> {
        let mut locks = self.all();
        let before = locks.len();
        locks.retain(|l| l.token != token);
        Ok(locks.len() != before)
    }

    async fn locks_touching(
        &self,
        path: &DavPath,
        now: DateTime<Utc>,
    ) -> BackendResult<Vec<StoredLock>> {
        Ok(self
            .all()
            .iter()
            .filter(|l| l.expires > now && (l.covers(path) || l.root.starts_with(path)))
            .cloned()
            .collect())
    }

    async fn forget_below(&self, path: &DavPath) -> BackendResult<()> {
        self.all().retain(|l| !l.root.starts_with(path));
        Ok(())
    }
}
