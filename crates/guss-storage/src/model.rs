//! What the file store hands out: entries of the tree, versions, trash
//! items, share links, restore reports. Plain data, no I/O.

use chrono::{DateTime, Utc};
use guss_dav::DavPath;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A folder or a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A folder.
    Folder,
    /// A file.
    File,
}

/// A file or folder as it is now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The node's stable id (it keeps it across renames and moves).
    pub id: Uuid,
    /// Where it is.
    #[serde(serialize_with = "path_string")]
    pub path: DavPath,
    /// Folder or file.
    pub kind: EntryKind,
    /// The current version's length (0 for folders).
    pub size: u64,
    /// The current version's media type.
    pub content_type: Option<String>,
    /// Changes with every write (for folders: with every change of members).
    pub etag: String,
    /// When the node was created.
    pub created: DateTime<Utc>,
    /// When the current version was written (for folders: last member change).
    pub modified: DateTime<Utc>,
}

/// One version of a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionInfo {
    /// The version's id.
    pub id: Uuid,
    /// When it was written.
    pub written_at: DateTime<Utc>,
    /// Who wrote it.
    pub author: String,
    /// Its length in bytes.
    pub size: u64,
    /// Whether this is the file's current version.
    pub current: bool,
}

/// A retention hold on a file or folder: while it lasts, the file's
/// versions are not thinned and the trash does not purge it, nor a deleted
/// folder that holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hold {
    /// Why (a statute, a court order).
    pub reason: String,
    /// The end of the hold; `None` until it is lifted. May lie in the past.
    pub until: Option<DateTime<Utc>>,
}

/// Something deleted, waiting in the trash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrashItem {
    /// The trash item's id.
    pub id: Uuid,
    /// Where it was.
    #[serde(serialize_with = "path_string")]
    pub original_path: DavPath,
    /// Folder (with everything in it) or file.
    pub kind: EntryKind,
    /// When it was deleted.
    pub deleted_at: DateTime<Utc>,
    /// Who deleted it.
    pub deleted_by: String,
}

/// What a point-in-time restore did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    /// Files and folders put back at their old place or name.
    pub moved_back: usize,
    /// Files whose content was set back (each as a new version).
    pub contents_restored: usize,
    /// Files and folders created since, now moved to the trash.
    pub moved_to_trash: usize,
    /// Files and folders that existed then but are gone for good (their
    /// trash expired), or whose content of then was thinned away (the
    /// nearest older version was used instead).
    pub unrecoverable: usize,
}

/// What a share link lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareMode {
    /// Read the file, or the folder and everything in it.
    View,
    /// Put files into the folder, see nothing ("file drop").
    Upload,
}

/// How to make a share link.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ShareOptions {
    /// View or upload-only.
    pub mode: ShareMode,
    /// When the link stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// A code the holder must also give (stored hashed).
    pub access_code: Option<String>,
    /// How many downloads the link allows.
    pub max_downloads: Option<u64>,
}

/// A share link as its creator sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShareLink {
    /// The link's id.
    pub id: Uuid,
    /// The shared file or folder.
    #[serde(serialize_with = "path_string")]
    pub path: DavPath,
    /// View or upload-only.
    pub mode: ShareMode,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether an access code is required.
    pub has_access_code: bool,
    /// The download limit.
    pub max_downloads: Option<u64>,
    /// Downloads so far.
    pub downloads: u64,
    /// Who made it.
    pub created_by: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Bytes a tenant uses and may use (RFC 4331's quota properties).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Bytes held: every stored chunk once, so versions and trash count,
    /// and content shared between versions counts once.
    pub used: u64,
    /// The quota, if one is set.
    pub limit: Option<u64>,
}

fn path_string<S: serde::Serializer>(path: &DavPath, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(path)
}
