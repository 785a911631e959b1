//! File content: a body streams in, is cut into chunks, and every chunk not
//! yet stored is sealed and put into the blob store before the version that
//! references it is committed; reading streams the chunks back, opened.

use std::io;
use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt, TryStreamExt};
use guss_blob::BlobKey;
use guss_core::Principal;
use guss_dav::DavPath;
use uuid::Uuid;

use super::sql::{FILE, FOLDER, ManifestRow, VersionRow};
use super::tree::{parent_folder, stat_in};
use super::{TenantFiles, micros, new_id, sql_tx};
use crate::keys::{ChunkId, TenantKeys};
use crate::model::Entry;
use crate::{Error, Result};

/// Chunks fetched ahead of the one being sent.
const READ_AHEAD: usize = 4;
/// Chunks whose rows are claimed in one transaction while uploading.
const CLAIM_BATCH: usize = 64;

/// A stream of body bytes.
pub type BodyStream = std::pin::Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

pub(crate) fn blob_key(files: &TenantFiles, chunk: &[u8], generation: Uuid) -> Result<BlobKey> {
    let hex = data_encoding::HEXLOWER.encode(chunk);
    let prefix = hex.get(..2).unwrap_or("00");
    Ok(BlobKey::new(format!(
        "{}/chunks/{prefix}/{hex}.{}",
        files.tenant,
        generation.simple()
    ))?)
}

/// One chunk of an upload, claimed: the generation its blob goes under.
struct Claimed {
    id: ChunkId,
    length: usize,
    generation: Uuid,
}

impl TenantFiles {
    /// Claims rows for `batch` (inserting new ones) and puts the blobs not
    /// yet stored.
    async fn store_chunks(
        &self,
        keys: &Arc<TenantKeys>,
        batch: Vec<Bytes>,
        out: &mut Vec<Claimed>,
    ) -> Result<()> {
        let now = micros(self.now());
        let ids: Vec<ChunkId> = batch.iter().map(|c| keys.chunk_id(c)).collect();
        let claims: Vec<(Uuid, bool)> = sql_tx!(self, |sql| {
            let mut claims = Vec::with_capacity(ids.len());
            for (id, chunk) in ids.iter().zip(&batch) {
                let claim = match sql.chunk(id).await? {
                    Some((generation, stored)) => {
                        sql.touch_chunk(id, now).await?;
                        (generation, stored)
                    }
                    None => {
                        let generation = new_id();
                        let size = i64::try_from(chunk.len()).unwrap_or(i64::MAX);
                        sql.insert_chunk(id, generation, size, now).await?;
                        (generation, false)
                    }
                };
                claims.push(claim);
            }
            claims
        });
        let mut puts = Vec::new();
        for ((id, chunk), (generation, stored)) in ids.into_iter().zip(batch).zip(claims) {
            if !stored {
                puts.push((id, chunk.clone(), generation));
            }
            out.push(Claimed {
                id,
                length: chunk.len(),
                generation,
            });
        }
        let blobs = self.inner().blobs.clone();
        futures::stream::iter(puts)
            .map(|(id, chunk, generation)| {
                let blobs = blobs.clone();
                let keys = keys.clone();
                async move {
                    let key = blob_key(self, &id, generation)?;
                    let sealed = cpu(move || keys.seal(&id, &chunk)).await??;
                    blobs.put_if_absent(&key, Bytes::from(sealed)).await?;
                    Ok::<_, Error>(())
                }
            })
            .buffer_unordered(READ_AHEAD)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Writes the file at `path` from `body`: a new version (and a new
    /// file, if there was none). Returns the entry and whether it was
    /// created. The answer comes once content and metadata are durable.
    pub async fn write(
        &self,
        path: &DavPath,
        mut body: BodyStream,
        content_type: Option<&str>,
        by: &Principal,
    ) -> Result<(Entry, bool)> {
        let keys = self.keys().await?;
        let usage = self.usage().await?;
        if usage.limit.is_some_and(|limit| usage.used >= limit) {
            return Err(Error::QuotaExceeded);
        }
        let policy = self.config().chunking;
        let max = self.config().max_file_size;
        let mut claimed = Vec::new();
        let mut pending: Vec<Bytes> = Vec::new();
        let mut buffer = BytesMut::new();
        let mut total: u64 = 0;
        loop {
            let next = body
                .next()
                .await
                .transpose()
                .map_err(|e| Error::Backend(format!("request body: {e}")))?;
            let done = next.is_none();
            if let Some(piece) = next {
                total = total.saturating_add(piece.len() as u64);
                if total > max {
                    return Err(Error::LimitExceeded {
                        what: "file size",
                        limit: max,
                    });
                }
                buffer.extend_from_slice(&piece);
                if buffer.len() < 2 * policy.max {
                    continue;
                }
            }
            // Cut what is certain: every chunk but the last, which may
            // still grow, unless the body has ended.
            let cuts: Vec<usize> = crate::chunks(&buffer, policy).map(<[u8]>::len).collect();
            let keep = if done {
                0
            } else {
                cuts.last().copied().unwrap_or(0)
            };
            let certain = buffer.len() - keep;
            let mut ready = buffer.split_to(certain).freeze();
            for length in cuts.iter().take(if done {
                cuts.len()
            } else {
                cuts.len().saturating_sub(1)
            }) {
                pending.push(ready.split_to(*length));
            }
            if pending.len() >= CLAIM_BATCH || done {
                self.store_chunks(&keys, std::mem::take(&mut pending), &mut claimed)
                    .await?;
            }
            if done {
                break;
            }
        }
        let outcome = self
            .commit_version(path, &claimed, total, content_type, by)
            .await;
        let (entry, created) = outcome?;
        if !created {
            self.record_destructive(by).await?;
        }
        self.thin(entry.id).await?;
        self.emit(
            if created {
                "guss.storage.file.created"
            } else {
                "guss.storage.file.updated"
            },
            Some(by),
            &path.to_string(),
            serde_json::json!({ "id": entry.id, "version": entry.etag, "size": entry.size }),
        )
        .await;
        Ok((entry, created))
    }

    async fn commit_version(
        &self,
        path: &DavPath,
        chunks: &[Claimed],
        size: u64,
        content_type: Option<&str>,
        by: &Principal,
    ) -> Result<(Entry, bool)> {
        let now = micros(self.now());
        let author = by.to_string();
        Ok(sql_tx!(self, |sql| {
            let (parent, name) = parent_folder(&mut sql, path).await?;
            let existing = sql.child(parent, &name).await?;
            let seq = sql.next_seq().await?;
            let (node, created) = match existing {
                Some((_, FOLDER)) => return Err(Error::Conflict("a folder is at that path")),
                Some((node, _)) => (node, false),
                None => {
                    let node = new_id();
                    sql.insert_node(node, FILE, now).await?;
                    sql.open_entry(node, parent, &name, seq).await?;
                    (node, true)
                }
            };
            let version = VersionRow {
                version_id: new_id(),
                node_id: node,
                seq,
                written_at: now,
                author: author.clone(),
                size: i64::try_from(size).unwrap_or(i64::MAX),
                content_type: content_type.map(str::to_owned),
            };
            sql.insert_version(&version).await?;
            for (pos, chunk) in chunks.iter().enumerate() {
                let (present, _) = sql.confirm_chunk(&chunk.id, chunk.generation, now).await?;
                if !present {
                    // Collected while the upload took longer than the grace.
                    return Err(Error::Conflict("the upload took too long; try again"));
                }
                let pos = i64::try_from(pos).unwrap_or(i64::MAX);
                let length = i64::try_from(chunk.length).unwrap_or(i64::MAX);
                sql.insert_manifest_row(version.version_id, pos, &chunk.id, length)
                    .await?;
            }
            sql.log_change(seq, now, parent, &name, false).await?;
            let entry = stat_in(&mut sql, path)
                .await?
                .ok_or(Error::NotFound("file"))?;
            (entry, created)
        }))
    }

    /// Writes a whole file from memory (see [`TenantFiles::write`]).
    pub async fn write_bytes(
        &self,
        path: &DavPath,
        body: Vec<u8>,
        content_type: Option<&str>,
        by: &Principal,
    ) -> Result<(Entry, bool)> {
        let body: BodyStream =
            Box::pin(futures::stream::once(async move { Ok(Bytes::from(body)) }));
        self.write(path, body, content_type, by).await
    }

    /// The current content of the file at `path`, or bytes `range` of it.
    pub async fn read(&self, path: &DavPath, range: Option<Range<u64>>) -> Result<BodyStream> {
        let version = sql_tx!(self, |sql| {
            let (node, kind) = super::tree::resolve(&mut sql, path)
                .await?
                .ok_or(Error::NotFound("file"))?;
            if kind != FILE {
                return Err(Error::Conflict("a folder has no content"));
            }
            sql.versions(node)
                .await?
                .pop()
                .ok_or(Error::NotFound("file"))?
                .version_id
        });
        self.read_version(version, range).await
    }

    /// The content of one version, or bytes `range` of it.
    pub async fn read_version(
        &self,
        version: Uuid,
        range: Option<Range<u64>>,
    ) -> Result<BodyStream> {
        let keys = self.keys().await?;
        let manifest: Vec<ManifestRow> = sql_tx!(self, |sql| {
            sql.version(version)
                .await?
                .ok_or(Error::NotFound("version"))?;
            sql.manifest(version).await?
        });
        let range = range.unwrap_or(0..u64::MAX);
        // Which chunks overlap the range, and which part of each.
        let mut offset = 0u64;
        let mut parts = Vec::new();
        for row in manifest {
            let length = u64::try_from(row.length).unwrap_or_default();
            let (start, end) = (offset, offset.saturating_add(length));
            offset = end;
            if end <= range.start || start >= range.end {
                continue;
            }
            let from = range.start.saturating_sub(start);
            let to = range.end.min(end) - start;
            parts.push((row, from, to));
        }
        let files = self.clone();
        let stream = futures::stream::iter(parts)
            .map(move |(row, from, to)| {
                let files = files.clone();
                let keys: Arc<TenantKeys> = keys.clone();
                async move {
                    let key = blob_key(&files, &row.chunk_id, row.generation)
                        .map_err(io::Error::other)?;
                    let sealed = files
                        .inner()
                        .blobs
                        .get(&key)
                        .await
                        .map_err(io::Error::other)?
                        .ok_or_else(|| io::Error::other(format!("chunk {key} is missing")))?;
                    let id: ChunkId = row
                        .chunk_id
                        .as_slice()
                        .try_into()
                        .map_err(|_| io::Error::other("bad chunk id"))?;
                    let plain = cpu(move || keys.open(&id, &sealed))
                        .await
                        .map_err(io::Error::other)?
                        .map_err(io::Error::other)?;
                    let plain = Bytes::from(plain);
                    let from = usize::try_from(from).unwrap_or(usize::MAX).min(plain.len());
                    let to = usize::try_from(to).unwrap_or(usize::MAX).min(plain.len());
                    Ok::<Bytes, io::Error>(plain.slice(from..to.max(from)))
                }
            })
            .buffered(READ_AHEAD);
        // Fetch the first piece before answering, so that a missing or
        // damaged chunk is an error, not a response cut short.
        let mut stream = Box::pin(stream.peekable());
        if let Some(Err(e)) = stream.as_mut().peek().await {
            return Err(Error::Backend(format!("reading version {version}: {e}")));
        }
        Ok(stream)
    }

    /// The whole current content of the file at `path`, in memory.
    pub async fn read_all(&self, path: &DavPath) -> Result<Vec<u8>> {
        collect(self.read(path, None).await?).await
    }

    /// The whole content of one version, in memory.
    pub async fn read_version_all(&self, version: Uuid) -> Result<Vec<u8>> {
        collect(self.read_version(version, None).await?).await
    }
}

/// Runs sealing or opening on the blocking pool, so that chunks of one
/// transfer use every core and the async workers stay free.
async fn cpu<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Backend(format!("a worker failed: {e}")))
}

async fn collect(mut stream: BodyStream) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(piece) = stream.next().await {
        out.extend_from_slice(&piece.map_err(|e| Error::Backend(e.to_string()))?);
    }
    Ok(out)
}
