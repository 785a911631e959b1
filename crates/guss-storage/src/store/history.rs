//! The past of the tree: versions of a file, thinning them as they age,
//! the trash, and putting a folder back as it was at a moment in time.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use guss_core::Principal;
use guss_dav::DavPath;
use uuid::Uuid;

use super::sql::{FILE, FOLDER, Sql, TrashRow};
use super::tree::{path_of, resolve};
use super::{TenantFiles, micros, new_id, sql_tx, time};
use crate::model::{EntryKind, Hold, RestoreReport, TrashItem, VersionInfo};
use crate::thinning::VersionAge;
use crate::{Error, Result};

fn trash_item(row: TrashRow) -> TrashItem {
    TrashItem {
        id: row.trash_id,
        original_path: DavPath::from_segments(
            row.original_path.split('/').filter(|s| !s.is_empty()),
        )
        .unwrap_or_default(),
        kind: if row.kind == FILE {
            EntryKind::File
        } else {
            EntryKind::Folder
        },
        deleted_at: time(row.deleted_at),
        deleted_by: row.deleted_by,
    }
}

/// Every node below `root` (not `root` itself) in the tree after change
/// `seq` (`None`: now), parents before children: (node, parent, name, kind).
async fn subtree<S: Sql>(
    sql: &mut S,
    root: Uuid,
    seq: Option<i64>,
    limit: usize,
) -> Result<Vec<(Uuid, Uuid, String, i32)>> {
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        let members = match seq {
            Some(seq) => sql.children_at(parent, seq).await?,
            None => sql
                .children(parent, i64::MAX)
                .await?
                .into_iter()
                .map(|r| (r.node_id, r.name, r.kind))
                .collect(),
        };
        for (node, name, kind) in members {
            if out.len() >= limit {
                return Err(Error::LimitExceeded {
                    what: "files and folders in one operation",
                    limit: limit as u64,
                });
            }
            if kind == FOLDER {
                frontier.push(node);
            }
            out.push((node, parent, name, kind));
        }
    }
    Ok(out)
}

/// Deletes a node and everything below it for good (content goes with
/// the next garbage collection).
async fn purge<S: Sql>(sql: &mut S, node: Uuid, limit: usize) -> Result<()> {
    let mut nodes: Vec<Uuid> = subtree(sql, node, None, limit)
        .await?
        .into_iter()
        .map(|n| n.0)
        .collect();
    nodes.push(node);
    for node in nodes {
        for version in sql.versions(node).await? {
            sql.delete_version(version.version_id).await?;
        }
        if let Some(trash) = sql.trash_of_node(node).await? {
            sql.delete_trash(trash).await?;
        }
        sql.forget_node(node).await?;
    }
    Ok(())
}

/// Whether a hold protects `node` or anything below it now: a deleted
/// folder must not take a held file with it when the trash expires.
async fn held_within<S: Sql>(sql: &mut S, node: Uuid, now: i64, limit: usize) -> Result<bool> {
    if sql.held(node, now).await? {
        return Ok(true);
    }
    for (member, ..) in subtree(sql, node, None, limit).await? {
        if sql.held(member, now).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

impl TenantFiles {
    /// The versions of the file at `path`, oldest first.
    pub async fn versions(&self, path: &DavPath) -> Result<Vec<VersionInfo>> {
        Ok(sql_tx!(self, |sql| {
            let (node, kind) = resolve(&mut sql, path)
                .await?
                .ok_or(Error::NotFound("file"))?;
            if kind != FILE {
                return Err(Error::Conflict("folders have no versions"));
            }
            let rows = sql.versions(node).await?;
            let last = rows.len().saturating_sub(1);
            rows.into_iter()
                .enumerate()
                .map(|(i, v)| VersionInfo {
                    id: v.version_id,
                    written_at: time(v.written_at),
                    author: v.author,
                    size: u64::try_from(v.size).unwrap_or_default(),
                    current: i == last,
                })
                .collect::<Vec<_>>()
        }))
    }

    /// The path of the file a version belongs to (for authorization).
    pub async fn version_owner(&self, version: Uuid) -> Result<DavPath> {
        Ok(sql_tx!(self, |sql| {
            let row = sql
                .version(version)
                .await?
                .ok_or(Error::NotFound("version"))?;
            path_of(&mut sql, row.node_id)
                .await?
                .ok_or(Error::NotFound("version"))?
        }))
    }

    /// Makes an earlier version of the file at `path` current again (as a
    /// new version: nothing is lost).
    pub async fn restore_version(
        &self,
        path: &DavPath,
        version: Uuid,
        by: &Principal,
    ) -> Result<()> {
        let now = micros(self.now());
        let author = by.to_string();
        sql_tx!(self, |sql| {
            let (node, _) = resolve(&mut sql, path)
                .await?
                .ok_or(Error::NotFound("file"))?;
            let old = sql
                .version(version)
                .await?
                .filter(|v| v.node_id == node)
                .ok_or(Error::NotFound("version"))?;
            let (parent, name) = sql.placement(node).await?.ok_or(Error::NotFound("file"))?;
            let seq = sql.next_seq().await?;
            let mut row = old.clone();
            row.version_id = new_id();
            row.seq = seq;
            row.written_at = now;
            row.author = author.clone();
            sql.insert_version(&row).await?;
            sql.copy_manifest(old.version_id, row.version_id).await?;
            sql.log_change(seq, now, parent, &name, false).await?;
        });
        self.emit(
            "guss.storage.version.restored",
            Some(by),
            &path.to_string(),
            serde_json::json!({ "version": version }),
        )
        .await;
        Ok(())
    }

    /// Applies the thinning policy to one file's versions, unless the
    /// tripwire froze the tenant or a retention hold protects the file.
    pub(crate) async fn thin(&self, node: Uuid) -> Result<usize> {
        let now = self.now();
        let policy = self.config().thinning.clone();
        Ok(sql_tx!(self, |sql| {
            let frozen = sql
                .tenant_row()
                .await?
                .is_some_and(|t| t.frozen_at.is_some());
            if frozen || sql.held(node, micros(now)).await? {
                return Ok(0);
            }
            let versions = sql.versions(node).await?;
            let ages: Vec<VersionAge> = versions
                .iter()
                .map(|v| VersionAge {
                    written_at: time(v.written_at),
                    held: false,
                })
                .collect();
            let mut removed = 0;
            for (version, deletable) in versions.iter().zip(policy.deletable(&ages, now)) {
                if deletable {
                    sql.delete_version(version.version_id).await?;
                    removed += 1;
                }
            }
            removed
        }))
    }

    /// Puts a retention hold on a file or folder (replacing one it has):
    /// until `until`, its versions are not thinned and the trash purges
    /// neither it nor a deleted folder it is in.
    pub async fn set_hold(
        &self,
        path: &DavPath,
        reason: &str,
        until: Option<DateTime<Utc>>,
    ) -> Result<()> {
        sql_tx!(self, |sql| {
            let (node, _) = resolve(&mut sql, path)
                .await?
                .ok_or(Error::NotFound("file or folder"))?;
            sql.set_hold(node, reason, until.map(micros)).await?;
        });
        Ok(())
    }

    /// The retention hold on the file or folder at `path`, if it has one
    /// (also one whose time is over).
    pub async fn hold(&self, path: &DavPath) -> Result<Option<Hold>> {
        let row = sql_tx!(self, |sql| {
            let (node, _) = resolve(&mut sql, path)
                .await?
                .ok_or(Error::NotFound("file or folder"))?;
            sql.hold(node).await?
        });
        Ok(row.map(|(reason, until)| Hold {
            reason,
            until: until.map(time),
        }))
    }

    /// Lifts a retention hold.
    pub async fn remove_hold(&self, path: &DavPath) -> Result<()> {
        sql_tx!(self, |sql| {
            let (node, _) = resolve(&mut sql, path)
                .await?
                .ok_or(Error::NotFound("file or folder"))?;
            sql.remove_hold(node).await?;
        });
        Ok(())
    }

    /// What is in the trash, newest first.
    pub async fn trash(&self) -> Result<Vec<TrashItem>> {
        let limit = i64::try_from(self.config().max_listing).unwrap_or(i64::MAX);
        let rows = sql_tx!(self, |sql| sql.trash(limit).await?);
        Ok(rows.into_iter().map(trash_item).collect())
    }

    /// Puts a trash item back where it was (under another name if that is
    /// taken now: "Name (restored)"); returns its path.
    pub async fn restore_from_trash(&self, id: Uuid, by: &Principal) -> Result<DavPath> {
        let now = micros(self.now());
        let path = sql_tx!(self, |sql| {
            let row = sql
                .trash_item(id)
                .await?
                .ok_or(Error::NotFound("trash item"))?;
            let parent_path = path_of(&mut sql, row.parent_id)
                .await?
                .ok_or(Error::Conflict(
                    "the folder it was in is gone; restore that first",
                ))?;
            let mut name = row.name.clone();
            let mut attempt = 1;
            while sql.child(row.parent_id, &name).await?.is_some() {
                attempt += 1;
                if attempt > 100 {
                    return Err(Error::Conflict("no free name to restore to"));
                }
                name = restored_name(&row.name, attempt);
            }
            let seq = sql.next_seq().await?;
            sql.open_entry(row.node_id, row.parent_id, &name, seq)
                .await?;
            sql.delete_trash(id).await?;
            sql.log_change(seq, now, row.parent_id, &name, false)
                .await?;
            parent_path.join(&name)?
        });
        self.emit(
            "guss.storage.trash.restored",
            Some(by),
            &path.to_string(),
            serde_json::json!({ "trash_id": id }),
        )
        .await;
        Ok(path)
    }

    /// Deletes trash items older than the retention for good, unless the
    /// tripwire froze the tenant or a hold protects them; at most `limit`
    /// per call. Returns how many went.
    pub async fn expire_trash(&self, limit: usize) -> Result<usize> {
        let now = self.now();
        let before = micros(now - self.config().trash_retention);
        let max = self.config().max_subtree;
        let purged = sql_tx!(self, |sql| {
            if sql
                .tenant_row()
                .await?
                .is_some_and(|t| t.frozen_at.is_some())
            {
                return Ok(0);
            }
            let mut purged = 0;
            for row in sql
                .expired_trash(before, i64::try_from(limit).unwrap_or(i64::MAX))
                .await?
            {
                if held_within(&mut sql, row.node_id, micros(now), max).await? {
                    continue;
                }
                purge(&mut sql, row.node_id, max).await?;
                purged += 1;
            }
            purged
        });
        if purged > 0 {
            self.emit(
                "guss.storage.trash.expired",
                None,
                "trash",
                serde_json::json!({ "items": purged }),
            )
            .await;
        }
        Ok(purged)
    }

    /// Puts the folder at `path` back exactly as it was at `at`, in one
    /// step: members moved or renamed since go back, members deleted since
    /// come back from the trash, changed files get their content of then
    /// (as a new version), and members created since go to the trash.
    /// Nothing is lost: the restore itself can be undone the same way.
    pub async fn restore_folder_at(
        &self,
        path: &DavPath,
        at: DateTime<Utc>,
        by: &Principal,
    ) -> Result<RestoreReport> {
        let now = micros(self.now());
        let author = by.to_string();
        let limit = self.config().max_subtree;
        let report = sql_tx!(self, |sql| {
            let (folder, kind) = resolve(&mut sql, path)
                .await?
                .ok_or(Error::NotFound("folder"))?;
            if kind != FOLDER {
                return Err(Error::Conflict("not a folder"));
            }
            let Some(then_seq) = sql.seq_at(micros(at)).await? else {
                return Err(Error::NotFound("any change at or before that time"));
            };
            let then = subtree(&mut sql, folder, Some(then_seq), limit).await?;
            let current = subtree(&mut sql, folder, None, limit).await?;
            let then_nodes: HashSet<Uuid> = then.iter().map(|n| n.0).collect();
            let current_at: HashMap<Uuid, (Uuid, String)> = current
                .iter()
                .map(|(node, parent, name, _)| (*node, (*parent, name.clone())))
                .collect();
            let seq = sql.next_seq().await?;
            let mut report = RestoreReport::default();
            // Members created since, topmost only: what is below goes along.
            for (node, parent, name, _) in &current {
                if !then_nodes.contains(node) && (*parent == folder || then_nodes.contains(parent))
                {
                    let original = path_of(&mut sql, *node)
                        .await?
                        .map(|p| p.to_string())
                        .unwrap_or_default();
                    sql.close_entry(*node, seq).await?;
                    let row = TrashRow {
                        trash_id: new_id(),
                        node_id: *node,
                        parent_id: *parent,
                        name: name.clone(),
                        original_path: original,
                        deleted_at: now,
                        deleted_by: author.clone(),
                        kind: 0,
                    };
                    sql.insert_trash(&row, seq).await?;
                    sql.log_change(seq, now, *parent, name, true).await?;
                    report.moved_to_trash += 1;
                }
            }
            // Members of then that are elsewhere now: lift them out first,
            // so that swapped names do not collide.
            let mut to_place = Vec::new();
            for (node, parent, name, _) in &then {
                if current_at.get(node) == Some(&(*parent, name.clone())) {
                    continue;
                }
                if sql.node_kind(*node).await?.is_none() {
                    report.unrecoverable += 1; // purged from the trash since
                    continue;
                }
                if let Some((old_parent, old_name)) = sql.placement(*node).await? {
                    sql.close_entry(*node, seq).await?;
                    sql.log_change(seq, now, old_parent, &old_name, true)
                        .await?;
                }
                if let Some(trash) = sql.trash_of_node(*node).await? {
                    sql.delete_trash(trash).await?;
                }
                to_place.push((*node, *parent, name.clone()));
            }
            for (node, parent, name) in to_place {
                sql.open_entry(node, parent, &name, seq).await?;
                sql.log_change(seq, now, parent, &name, false).await?;
                report.moved_back += 1;
            }
            // Content of then, as new versions.
            for (node, parent, name, kind) in &then {
                if *kind != FILE || sql.node_kind(*node).await?.is_none() {
                    continue;
                }
                let versions = sql.versions(*node).await?;
                let Some(current) = versions.last() else {
                    continue;
                };
                let wanted = match sql.version_at(*node, then_seq).await? {
                    Some(v) => v,
                    None => match versions.first() {
                        // Thinned away: the oldest kept is the nearest.
                        Some(v) => {
                            report.unrecoverable += 1;
                            v.clone()
                        }
                        None => continue,
                    },
                };
                if wanted.version_id == current.version_id {
                    continue;
                }
                let mut row = wanted.clone();
                row.version_id = new_id();
                row.seq = seq;
                row.written_at = now;
                row.author = author.clone();
                sql.insert_version(&row).await?;
                sql.copy_manifest(wanted.version_id, row.version_id).await?;
                sql.log_change(seq, now, *parent, name, false).await?;
                report.contents_restored += 1;
            }
            report
        });
        self.emit(
            "guss.storage.folder.restored",
            Some(by),
            &path.to_string(),
            serde_json::json!({ "at": at, "report": report }),
        )
        .await;
        Ok(report)
    }
}

fn restored_name(name: &str, attempt: u32) -> String {
    let suffix = if attempt == 2 {
        " (restored)".to_owned()
    } else {
        format!(" (restored {attempt})")
    };
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}{suffix}.{ext}"),
        _ => format!("{name}{suffix}"),
    }
}
