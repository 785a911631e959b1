//! The tree as it is now: finding, listing, creating, moving, copying and
//! deleting (into the trash) files and folders, and their dead properties.

use guss_core::Principal;
use guss_dav::{DavPath, PropertyName};
use uuid::Uuid;

use super::sql::{FILE, FOLDER, NodeRow, Sql, TrashRow};
use super::{TenantFiles, micros, new_id, sql_tx, time};
use crate::model::{Entry, EntryKind};
use crate::{Error, Result};

/// The root folder of every tenant.
pub(crate) const ROOT: Uuid = Uuid::nil();

/// The node at `path` now, with its kind.
pub(crate) async fn resolve<S: Sql>(sql: &mut S, path: &DavPath) -> Result<Option<(Uuid, i32)>> {
    let mut at = (ROOT, FOLDER);
    for name in path.segments() {
        if at.1 != FOLDER {
            return Ok(None);
        }
        match sql.child(at.0, name).await? {
            Some(found) => at = found,
            None => return Ok(None),
        }
    }
    Ok(Some(at))
}

/// The folder that will hold `path`, which must exist as a folder.
pub(crate) async fn parent_folder<S: Sql>(sql: &mut S, path: &DavPath) -> Result<(Uuid, String)> {
    let (parent, name) = match (path.parent(), path.name()) {
        (Some(parent), Some(name)) => (parent, name.to_owned()),
        _ => return Err(Error::Forbidden),
    };
    match resolve(sql, &parent).await? {
        Some((node, FOLDER)) => Ok((node, name)),
        _ => Err(Error::Conflict("the parent folder does not exist")),
    }
}

/// The folder and name for a new item at `path`, which must be free.
async fn free_target<S: Sql>(sql: &mut S, path: &DavPath) -> Result<(Uuid, String)> {
    let (parent, name) = parent_folder(sql, path).await?;
    if sql.child(parent, &name).await?.is_some() {
        return Err(Error::AlreadyExists("a file or folder of that name"));
    }
    Ok((parent, name))
}

/// The node at `path`, which must exist (the root included).
async fn existing<S: Sql>(sql: &mut S, path: &DavPath) -> Result<Uuid> {
    if path.is_root() {
        return Ok(ROOT);
    }
    Ok(resolve(sql, path)
        .await?
        .ok_or(Error::NotFound("file or folder"))?
        .0)
}

/// The path of `node` now, walking up to the root; `None` if it is not
/// reachable (in the trash, or below something in the trash).
pub(crate) async fn path_of<S: Sql>(sql: &mut S, mut node: Uuid) -> Result<Option<DavPath>> {
    let mut names = Vec::new();
    while node != ROOT {
        let Some((parent, name)) = sql.placement(node).await? else {
            return Ok(None);
        };
        if names.len() > guss_dav::MAX_PATH_SEGMENTS {
            return Err(Error::Backend("tree deeper than allowed".into()));
        }
        names.push(name);
        node = parent;
    }
    names.reverse();
    Ok(Some(DavPath::from_segments(names)?))
}

pub(crate) fn entry(row: NodeRow, path: DavPath) -> Entry {
    let kind = if row.kind == FILE {
        EntryKind::File
    } else {
        EntryKind::Folder
    };
    let created = time(row.created_at);
    let (etag, modified) = match kind {
        EntryKind::File => (
            row.version_id
                .map(|v| v.simple().to_string())
                .unwrap_or_default(),
            row.written_at.map(time).unwrap_or(created),
        ),
        EntryKind::Folder => (
            format!("{}-{}", row.node_id.simple(), row.member_seq.unwrap_or(0)),
            row.member_at.map(time).unwrap_or(created),
        ),
    };
    Entry {
        id: row.node_id,
        path,
        kind,
        size: row.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
        content_type: row.content_type,
        etag,
        created,
        modified,
    }
}

async fn root_entry<S: Sql>(sql: &mut S) -> Result<Entry> {
    let (seq, at) = sql.member_change(ROOT).await?;
    Ok(entry(
        NodeRow {
            node_id: ROOT,
            name: String::new(),
            kind: FOLDER,
            created_at: 0,
            version_id: None,
            size: None,
            content_type: None,
            written_at: None,
            member_seq: seq,
            member_at: at,
        },
        DavPath::root(),
    ))
}

pub(crate) async fn stat_in<S: Sql>(sql: &mut S, path: &DavPath) -> Result<Option<Entry>> {
    if path.is_root() {
        return Ok(Some(root_entry(sql).await?));
    }
    let Some((node, _)) = resolve(sql, path).await? else {
        return Ok(None);
    };
    Ok(sql.node(node).await?.map(|row| entry(row, path.clone())))
}

/// Copies `node` (with members, if `recursive`) to a new node under
/// `parent` named `name`, in change `seq` at time `now`; at most `budget`
/// nodes.
async fn copy_node<S: Sql>(
    sql: &mut S,
    node: Uuid,
    (parent, name): (Uuid, &str),
    recursive: bool,
    (seq, now): (i64, i64),
    budget: &mut usize,
) -> Result<()> {
    let mut pending = vec![(node, parent, name.to_owned())];
    while let Some((from, to_parent, to_name)) = pending.pop() {
        *budget = budget.checked_sub(1).ok_or(Error::LimitExceeded {
            what: "files and folders in one copy",
            limit: 0,
        })?;
        let kind = sql
            .node_kind(from)
            .await?
            .ok_or(Error::NotFound("file or folder"))?;
        let copy = new_id();
        sql.insert_node(copy, kind, now).await?;
        sql.open_entry(copy, to_parent, &to_name, seq).await?;
        sql.copy_props(from, copy).await?;
        if kind == FILE {
            let versions = sql.versions(from).await?;
            if let Some(current) = versions.last() {
                let mut row = current.clone();
                row.version_id = new_id();
                row.node_id = copy;
                row.seq = seq;
                sql.insert_version(&row).await?;
                sql.copy_manifest(current.version_id, row.version_id)
                    .await?;
            }
        } else if recursive {
            for child in sql.children(from, i64::MAX).await? {
                pending.push((child.node_id, copy, child.name));
            }
        }
    }
    Ok(())
}

impl TenantFiles {
    /// The file or folder at `path`.
    pub async fn stat(&self, path: &DavPath) -> Result<Option<Entry>> {
        Ok(sql_tx!(self, |sql| stat_in(&mut sql, path).await?))
    }

    /// The members of the folder at `path`, by name (at most the
    /// configured listing limit).
    pub async fn list(&self, path: &DavPath) -> Result<Vec<Entry>> {
        let limit = i64::try_from(self.config().max_listing).unwrap_or(i64::MAX);
        Ok(sql_tx!(self, |sql| {
            let (node, kind) = resolve(&mut sql, path)
                .await?
                .ok_or(Error::NotFound("folder"))?;
            if kind != FOLDER {
                return Err(Error::Conflict("not a folder"));
            }
            let rows = sql.children(node, limit).await?;
            let mut entries = Vec::with_capacity(rows.len());
            for row in rows {
                let child = path.join(&row.name)?;
                entries.push(entry(row, child));
            }
            entries
        }))
    }

    /// Creates a folder with initial properties.
    pub async fn create_folder(
        &self,
        path: &DavPath,
        properties: &[(PropertyName, String)],
        by: &Principal,
    ) -> Result<Entry> {
        self.keys().await?;
        let now = micros(self.now());
        let created = sql_tx!(self, |sql| {
            let (parent, name) = free_target(&mut sql, path).await?;
            let seq = sql.next_seq().await?;
            let node = new_id();
            sql.insert_node(node, FOLDER, now).await?;
            sql.open_entry(node, parent, &name, seq).await?;
            for (prop, value) in properties {
                sql.set_prop(node, &prop.namespace, &prop.local, value)
                    .await?;
            }
            sql.log_change(seq, now, parent, &name, false).await?;
            stat_in(&mut sql, path)
                .await?
                .ok_or(Error::NotFound("folder"))?
        });
        self.emit(
            "guss.storage.folder.created",
            Some(by),
            &path.to_string(),
            serde_json::json!({ "id": created.id }),
        )
        .await;
        Ok(created)
    }

    /// Moves the file or folder at `path` (with everything in it) to the
    /// trash; returns the trash item's id.
    pub async fn delete(&self, path: &DavPath, by: &Principal) -> Result<Uuid> {
        self.keys().await?;
        let now = micros(self.now());
        let trash_id = new_id();
        sql_tx!(self, |sql| {
            let (parent, name) = parent_folder(&mut sql, path).await?;
            let (node, _) = sql
                .child(parent, &name)
                .await?
                .ok_or(Error::NotFound("file or folder"))?;
            let seq = sql.next_seq().await?;
            sql.close_entry(node, seq).await?;
            let row = TrashRow {
                trash_id,
                node_id: node,
                parent_id: parent,
                name: name.clone(),
                original_path: path.to_string(),
                deleted_at: now,
                deleted_by: by.to_string(),
                kind: 0,
            };
            sql.insert_trash(&row, seq).await?;
            sql.log_change(seq, now, parent, &name, true).await?;
        });
        self.record_destructive(by).await?;
        self.emit(
            "guss.storage.deleted",
            Some(by),
            &path.to_string(),
            serde_json::json!({ "trash_id": trash_id }),
        )
        .await;
        Ok(trash_id)
    }

    /// Moves or renames `from` to `to` (which must be free, with an
    /// existing parent folder).
    pub async fn rename(&self, from: &DavPath, to: &DavPath, by: &Principal) -> Result<()> {
        if to.starts_with(from) {
            return Err(Error::Conflict("a folder cannot move into itself"));
        }
        self.keys().await?;
        let now = micros(self.now());
        sql_tx!(self, |sql| {
            let (from_parent, from_name) = parent_folder(&mut sql, from).await?;
            let (node, _) = sql
                .child(from_parent, &from_name)
                .await?
                .ok_or(Error::NotFound("file or folder"))?;
            let (to_parent, to_name) = free_target(&mut sql, to).await?;
            let seq = sql.next_seq().await?;
            sql.close_entry(node, seq).await?;
            sql.open_entry(node, to_parent, &to_name, seq).await?;
            sql.log_change(seq, now, from_parent, &from_name, true)
                .await?;
            sql.log_change(seq, now, to_parent, &to_name, false).await?;
        });
        self.record_destructive(by).await?;
        self.emit(
            "guss.storage.moved",
            Some(by),
            &from.to_string(),
            serde_json::json!({ "to": to.to_string() }),
        )
        .await;
        Ok(())
    }

    /// Copies `from` to `to` (which must be free, with an existing parent
    /// folder); a folder without members unless `recursive`. Copies share
    /// content with their originals: a copy costs no space until changed.
    pub async fn copy(
        &self,
        from: &DavPath,
        to: &DavPath,
        recursive: bool,
        by: &Principal,
    ) -> Result<()> {
        if recursive && to.starts_with(from) {
            return Err(Error::Conflict("a folder cannot be copied into itself"));
        }
        self.keys().await?;
        let now = micros(self.now());
        let mut budget = self.config().max_subtree;
        sql_tx!(self, |sql| {
            let (node, _) = resolve(&mut sql, from)
                .await?
                .ok_or(Error::NotFound("file or folder"))?;
            let (to_parent, to_name) = free_target(&mut sql, to).await?;
            let seq = sql.next_seq().await?;
            let target = (to_parent, to_name.as_str());
            copy_node(&mut sql, node, target, recursive, (seq, now), &mut budget).await?;
            sql.log_change(seq, now, to_parent, &to_name, false).await?;
        });
        self.emit(
            "guss.storage.copied",
            Some(by),
            &from.to_string(),
            serde_json::json!({ "to": to.to_string() }),
        )
        .await;
        Ok(())
    }

    /// The dead properties of `path`: (name, value as XML).
    pub async fn properties(&self, path: &DavPath) -> Result<Vec<(PropertyName, String)>> {
        Ok(sql_tx!(self, |sql| {
            let node = existing(&mut sql, path).await?;
            sql.props(node)
                .await?
                .into_iter()
                .map(|(namespace, local, value)| (PropertyName::new(namespace, local), value))
                .collect::<Vec<_>>()
        }))
    }

    /// Sets and removes dead properties of `path`, all or none. The
    /// change shows in the parent folder's change log (sync clients see it).
    pub async fn patch_properties(
        &self,
        path: &DavPath,
        set: &[(PropertyName, String)],
        remove: &[PropertyName],
        by: &Principal,
    ) -> Result<()> {
        let now = micros(self.now());
        sql_tx!(self, |sql| {
            let node = existing(&mut sql, path).await?;
            for (prop, value) in set {
                sql.set_prop(node, &prop.namespace, &prop.local, value)
                    .await?;
            }
            for prop in remove {
                sql.remove_prop(node, &prop.namespace, &prop.local).await?;
            }
            if let Some((parent, name)) = sql.placement(node).await? {
                let seq = sql.next_seq().await?;
                sql.log_change(seq, now, parent, &name, false).await?;
            }
        });
        let names = |props: &mut dyn Iterator<Item = &PropertyName>| {
            props
                .map(|p| format!("{{{}}}{}", p.namespace, p.local))
                .collect::<Vec<_>>()
        };
        self.emit(
            "guss.storage.properties.changed",
            Some(by),
            &path.to_string(),
            serde_json::json!({
                "set": names(&mut set.iter().map(|(p, _)| p)),
                "removed": names(&mut remove.iter()),
            }),
        )
        .await;
        Ok(())
    }
}
