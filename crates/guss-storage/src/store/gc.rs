//! Garbage collection of chunks no version references any more:
//! incremental (a bounded batch per call), and safe while others write
//! without a global lock. A writer touches every chunk it will reference
//! before it uploads, and only chunks untouched for the grace period are
//! collected; a chunk collected and written again gets a new blob
//! generation, so a collection never removes a blob a writer relies on.

use super::content::blob_key;
use super::{TenantFiles, micros, sql_tx};
use crate::Result;

/// What one collection step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Collected {
    /// Chunks removed.
    pub chunks: usize,
    /// Plaintext bytes freed.
    pub bytes: u64,
}

impl TenantFiles {
    /// Removes up to `batch` unreferenced chunks (their rows, then their
    /// blobs). Call until it returns zero chunks.
    pub async fn collect_garbage(&self, batch: usize) -> Result<Collected> {
        let before = micros(self.now() - self.config().gc_grace);
        let limit = i64::try_from(batch).unwrap_or(i64::MAX);
        let gone = sql_tx!(self, |sql| sql.collect_chunks(before, limit).await?);
        let mut collected = Collected::default();
        for (chunk, generation, size) in gone {
            // A blob left behind by a crash here is only wasted space.
            self.inner()
                .blobs
                .delete(&blob_key(self, &chunk, generation)?)
                .await?;
            collected.chunks += 1;
            collected.bytes = collected
                .bytes
                .saturating_add(u64::try_from(size).unwrap_or_default());
        }
        Ok(collected)
    }
}

/// What one maintenance pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Maintained {
    /// Trash items deleted for good.
    pub trash_expired: usize,
    /// Chunks collected.
    pub collected: Collected,
}

impl TenantFiles {
    /// One maintenance pass, for a scheduler to run now and then: expires
    /// trash (unless frozen) and collects unreferenced chunks, in batches
    /// of `batch`, until there is nothing left or `max_batches` ran.
    pub async fn maintain(&self, batch: usize, max_batches: usize) -> Result<Maintained> {
        let mut done = Maintained::default();
        for _ in 0..max_batches {
            let expired = self.expire_trash(batch).await?;
            done.trash_expired += expired;
            if expired < batch {
                break;
            }
        }
        for _ in 0..max_batches {
            let step = self.collect_garbage(batch).await?;
            done.collected.chunks += step.chunks;
            done.collected.bytes = done.collected.bytes.saturating_add(step.bytes);
            if step.chunks < batch {
                break;
            }
        }
        Ok(done)
    }
}
