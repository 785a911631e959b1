//! Share links: a random token that lets its holder view a file or
//! folder, or drop files into a folder without seeing it; with expiry, an
//! optional access code and a download limit. Tokens and codes are stored
//! hashed, and every access is evented.

use chrono::{DateTime, Utc};
use guss_core::{Principal, ShareLinkId};
use guss_dav::DavPath;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::content::BodyStream;
use super::sql::{FOLDER, LinkRow};
use super::tree::{path_of, resolve};
use super::{TenantFiles, micros, new_id, sql_tx, time};
use crate::model::{Entry, ShareLink, ShareMode, ShareOptions};
use crate::{Error, Result};

/// The longest access code accepted.
const MAX_CODE: usize = 128;

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn code_hash(link: Uuid, code: &str) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(link.as_bytes());
    hasher.update(code.as_bytes());
    hasher.finalize().to_vec()
}

fn mode(value: i32) -> ShareMode {
    if value == 1 {
        ShareMode::Upload
    } else {
        ShareMode::View
    }
}

fn link(row: LinkRow, path: DavPath) -> ShareLink {
    ShareLink {
        id: row.link_id,
        path,
        mode: mode(row.mode),
        expires_at: row.expires_at.map(time),
        has_access_code: row.code_hash.is_some(),
        max_downloads: row.max_downloads.and_then(|m| u64::try_from(m).ok()),
        downloads: u64::try_from(row.downloads).unwrap_or_default(),
        created_by: row.created_by,
        created_at: time(row.created_at),
        revoked_at: row.revoked_at.map(time),
    }
}

/// What a valid share link opens: use it to read or to drop files.
#[derive(Clone, Debug)]
pub struct SharedAccess {
    files: TenantFiles,
    link: ShareLink,
    principal: Principal,
}

impl TenantFiles {
    /// Makes a share link for the file or folder at `path`; returns the
    /// link and its token, which is shown once and stored only hashed.
    pub async fn create_share_link(
        &self,
        path: &DavPath,
        options: &ShareOptions,
        by: &Principal,
    ) -> Result<(ShareLink, String)> {
        if options
            .access_code
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.len() > MAX_CODE)
        {
            return Err(Error::Invalid {
                what: "access code",
                why: "1 to 128 characters",
            });
        }
        let mut secret = [0u8; 32];
        SystemRandom::new()
            .fill(&mut secret)
            .map_err(|_| Error::Backend("no randomness".into()))?;
        let token = data_encoding::BASE64URL_NOPAD.encode(&secret);
        let id = new_id();
        let now = micros(self.now());
        let row = sql_tx!(self, |sql| {
            let (node, kind) = resolve(&mut sql, path)
                .await?
                .ok_or(Error::NotFound("file or folder"))?;
            if options.mode == ShareMode::Upload && kind != FOLDER {
                return Err(Error::Conflict("upload links are for folders"));
            }
            let row = LinkRow {
                link_id: id,
                node_id: node,
                mode: i32::from(options.mode == ShareMode::Upload),
                expires_at: options.expires_at.map(micros),
                code_hash: options.access_code.as_deref().map(|c| code_hash(id, c)),
                max_downloads: options
                    .max_downloads
                    .map(|m| i64::try_from(m).unwrap_or(i64::MAX)),
                downloads: 0,
                created_by: by.to_string(),
                created_at: now,
                revoked_at: None,
            };
            sql.insert_link(&row, &token_hash(&token)).await?;
            row
        });
        let created = link(row, path.clone());
        self.emit(
            "guss.storage.share_link.created",
            Some(by),
            &path.to_string(),
            serde_json::json!({ "link": id, "mode": created.mode, "expires_at": created.expires_at }),
        )
        .await;
        Ok((created, token))
    }

    /// All share links of the tenant, with their use so far. Links whose
    /// target is in the trash show its last path.
    pub async fn share_links(&self) -> Result<Vec<ShareLink>> {
        Ok(sql_tx!(self, |sql| {
            let mut out = Vec::new();
            for row in sql.links().await? {
                let path = path_of(&mut sql, row.node_id).await?.unwrap_or_default();
                out.push(link(row, path));
            }
            out
        }))
    }

    /// Revokes a share link.
    pub async fn revoke_share_link(&self, id: Uuid, by: &Principal) -> Result<()> {
        let now = micros(self.now());
        let revoked = sql_tx!(self, |sql| sql.revoke_link(id, now).await?);
        if !revoked {
            return Err(Error::NotFound("share link"));
        }
        self.emit(
            "guss.storage.share_link.revoked",
            Some(by),
            &id.to_string(),
            serde_json::json!({}),
        )
        .await;
        Ok(())
    }

    /// Opens a share link by its token (and access code, if it has one).
    /// Every attempt is evented, refused ones too.
    pub async fn open_share_link(&self, token: &str, code: Option<&str>) -> Result<SharedAccess> {
        let now = self.now();
        let found = sql_tx!(self, |sql| {
            match sql.link_by_token(&token_hash(token)).await? {
                Some(row) => {
                    let path = path_of(&mut sql, row.node_id).await?;
                    Some((row, path))
                }
                None => None,
            }
        });
        let refuse = |why: &'static str| async move {
            self.emit(
                "guss.storage.share_link.refused",
                None,
                "share_link",
                serde_json::json!({ "why": why }),
            )
            .await;
            Err(Error::NotFound("share link"))
        };
        let Some((row, path)) = found else {
            return refuse("unknown token").await;
        };
        let usable = row.revoked_at.is_none() && row.expires_at.is_none_or(|e| e > micros(now));
        let Some(path) = path.filter(|_| usable) else {
            return refuse("revoked, expired or target deleted").await;
        };
        if let Some(expected) = &row.code_hash {
            let given = code.map(|c| code_hash(row.link_id, c));
            if given.as_ref() != Some(expected) {
                self.emit(
                    "guss.storage.share_link.refused",
                    None,
                    &row.link_id.to_string(),
                    serde_json::json!({ "why": "wrong access code" }),
                )
                .await;
                return Err(Error::Forbidden);
            }
        }
        let principal = Principal::ShareLink {
            tenant: self.tenant,
            link: ShareLinkId::from_uuid(row.link_id),
        };
        let link = link(row, path);
        self.emit(
            "guss.storage.share_link.opened",
            Some(&principal),
            &link.id.to_string(),
            serde_json::json!({ "path": link.path.to_string() }),
        )
        .await;
        Ok(SharedAccess {
            files: self.clone(),
            link,
            principal,
        })
    }
}

impl SharedAccess {
    /// The link.
    pub fn link(&self) -> &ShareLink {
        &self.link
    }

    fn within(&self, relative: &DavPath) -> Result<DavPath> {
        DavPath::from_segments(
            self.link
                .path
                .segments()
                .iter()
                .chain(relative.segments())
                .map(String::as_str),
        )
        .map_err(Error::from)
    }

    fn viewable(&self) -> Result<()> {
        match self.link.mode {
            ShareMode::View => Ok(()),
            ShareMode::Upload => Err(Error::Forbidden),
        }
    }

    /// What is at `relative` below the shared item (view links only).
    pub async fn stat(&self, relative: &DavPath) -> Result<Option<Entry>> {
        self.viewable()?;
        self.files.stat(&self.within(relative)?).await
    }

    /// The members of a shared folder (view links only).
    pub async fn list(&self, relative: &DavPath) -> Result<Vec<Entry>> {
        self.viewable()?;
        self.files.list(&self.within(relative)?).await
    }

    /// Downloads a file below the shared item, counting against the
    /// download limit (view links only).
    pub async fn download(&self, relative: &DavPath) -> Result<BodyStream> {
        self.viewable()?;
        let path = self.within(relative)?;
        let counted = sql_tx!(self.files, |sql| sql.count_download(self.link.id).await?);
        if !counted {
            return Err(Error::Forbidden);
        }
        let body = self.files.read(&path, None).await?;
        self.files
            .emit(
                "guss.storage.share_link.downloaded",
                Some(&self.principal),
                &path.to_string(),
                serde_json::json!({ "link": self.link.id }),
            )
            .await;
        Ok(body)
    }

    /// Drops a file into a shared folder (upload links only). Nothing is
    /// overwritten: a taken name gets a number.
    pub async fn upload(
        &self,
        name: &str,
        body: BodyStream,
        content_type: Option<&str>,
    ) -> Result<Entry> {
        if self.link.mode != ShareMode::Upload {
            return Err(Error::Forbidden);
        }
        let folder = self.link.path.clone();
        let mut target = folder.join(name)?;
        let mut attempt = 1;
        while self.files.stat(&target).await?.is_some() {
            attempt += 1;
            if attempt > 100 {
                return Err(Error::Conflict("no free name"));
            }
            target = folder.join(&numbered(name, attempt))?;
        }
        let (entry, _) = self
            .files
            .write(&target, body, content_type, &self.principal)
            .await?;
        self.files
            .emit(
                "guss.storage.share_link.uploaded",
                Some(&self.principal),
                &target.to_string(),
                serde_json::json!({ "link": self.link.id, "size": entry.size }),
            )
            .await;
        Ok(entry)
    }

    /// When the link expires.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.link.expires_at
    }
}

fn numbered(name: &str, n: u32) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem} ({n}).{ext}"),
        _ => format!("{name} ({n})"),
    }
}
