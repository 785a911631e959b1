//! What changed in a folder since a position in the change log (for
//! RFC 6578 sync-collection): the cost is proportional to the changes.

use std::collections::BTreeSet;

use guss_dav::DavPath;

use super::sql::FOLDER;
use super::tree::{resolve, stat_in};
use super::{TenantFiles, sql_tx};
use crate::model::Entry;
use crate::{Error, Result};

/// The members of a folder changed since a position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderChanges {
    /// The position everything reported reaches to.
    pub position: i64,
    /// Members created or changed, as they are now.
    pub changed: Vec<Entry>,
    /// Members gone since.
    pub removed: Vec<DavPath>,
    /// Whether more changes remain (ask again from `position`).
    pub truncated: bool,
}

impl TenantFiles {
    /// The tenant's newest change-log position.
    pub async fn change_position(&self) -> Result<i64> {
        Ok(sql_tx!(self, |sql| sql.last_seq().await?))
    }

    /// The members of the folder at `path` changed after `since` (all
    /// members for `None`), at most `limit` of them.
    pub async fn changes(
        &self,
        path: &DavPath,
        since: Option<i64>,
        limit: usize,
    ) -> Result<FolderChanges> {
        let limit = limit.max(1);
        Ok(sql_tx!(self, |sql| {
            let (folder, kind) = resolve(&mut sql, path)
                .await?
                .ok_or(Error::NotFound("folder"))?;
            if kind != FOLDER {
                return Err(Error::Conflict("not a folder"));
            }
            let mut position = sql.last_seq().await?;
            let mut truncated = false;
            let names: BTreeSet<String> = match since {
                Some(since) if since > position || since < 0 => {
                    return Err(Error::Invalid {
                        what: "sync token",
                        why: "not issued here",
                    });
                }
                Some(since) => {
                    let want = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
                    let mut rows = sql.changes_since(folder, since, want).await?;
                    if rows.len() > limit {
                        truncated = true;
                        // Report whole changes only: stop before the first one left out.
                        let cut = rows.get(limit).map(|r| r.seq - 1).unwrap_or(position);
                        rows.retain(|r| r.seq <= cut);
                        position = cut;
                    }
                    rows.into_iter().map(|r| r.name).collect()
                }
                None => {
                    let rows = sql
                        .children(folder, i64::try_from(limit).unwrap_or(i64::MAX))
                        .await?;
                    truncated = rows.len() >= limit;
                    rows.into_iter().map(|r| r.name).collect()
                }
            };
            let mut changed = Vec::new();
            let mut removed = Vec::new();
            for name in names {
                let member = path.join(&name)?;
                match stat_in(&mut sql, &member).await? {
                    Some(entry) => changed.push(entry),
                    None => removed.push(member),
                }
            }
            FolderChanges {
                position,
                changed,
                removed,
                truncated,
            }
        }))
    }
}
