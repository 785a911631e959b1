//! WebDAV locks in the database, so that they survive restarts and every
//! server process sees the same ones. Acquiring checks for conflicts and
//! inserts in one transaction.

use chrono::{DateTime, Utc};
use guss_dav::backend::StoredLock;
use guss_dav::{DavPath, Depth, LockScope};

use super::sql::LockRow;
use super::{TenantFiles, micros, sql_tx, time};
use crate::Result;

fn stored(row: LockRow) -> StoredLock {
    StoredLock {
        token: row.token,
        root: DavPath::from_segments(row.root.split('/').filter(|s| !s.is_empty()))
            .unwrap_or_default(),
        depth: if row.depth_infinity != 0 {
            Depth::Infinity
        } else {
            Depth::Zero
        },
        scope: if row.exclusive != 0 {
            LockScope::Exclusive
        } else {
            LockScope::Shared
        },
        owner: row.owner,
        principal: row.principal,
        expires: time(row.expires_at),
    }
}

impl TenantFiles {
    /// Stores `lock` unless an unexpired lock conflicts; whether it did.
    pub async fn acquire_lock(&self, lock: &StoredLock, now: DateTime<Utc>) -> Result<bool> {
        let now = micros(now);
        Ok(sql_tx!(self, |sql| {
            sql.purge_locks(now).await?;
            let conflict = sql
                .locks(now)
                .await?
                .into_iter()
                .map(stored)
                .any(|held| held.conflicts_with(lock));
            if !conflict {
                sql.insert_lock(&LockRow {
                    token: lock.token.clone(),
                    root: lock.root.to_string(),
                    depth_infinity: i32::from(lock.depth == Depth::Infinity),
                    exclusive: i32::from(lock.scope == LockScope::Exclusive),
                    owner: lock.owner.clone(),
                    principal: lock.principal.clone(),
                    expires_at: micros(lock.expires),
                })
                .await?;
            }
            !conflict
        }))
    }

    /// Extends a lock; `None` if it is gone or expired.
    pub async fn refresh_lock(
        &self,
        token: &str,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredLock>> {
        let now = micros(now);
        Ok(sql_tx!(self, |sql| {
            sql.purge_locks(now).await?;
            if sql.refresh_lock(token, micros(expires)).await? {
                sql.locks(now)
                    .await?
                    .into_iter()
                    .find(|l| l.token == token)
                    .map(stored)
            } else {
                None
            }
        }))
    }

    /// Removes a lock; whether it existed.
    pub async fn release_lock(&self, token: &str) -> Result<bool> {
        Ok(sql_tx!(self, |sql| sql.delete_lock(token).await?))
    }

    /// Unexpired locks on `path`, above it (depth infinity) or below it.
    pub async fn locks_touching(
        &self,
        path: &DavPath,
        now: DateTime<Utc>,
    ) -> Result<Vec<StoredLock>> {
        let rows = sql_tx!(self, |sql| sql.locks(micros(now)).await?);
        Ok(rows
            .into_iter()
            .map(stored)
            .filter(|l| l.covers(path) || l.root.starts_with(path))
            .collect())
    }

    /// Drops the locks rooted at or below `path`.
    pub async fn forget_locks_below(&self, path: &DavPath) -> Result<()> {
        sql_tx!(self, |sql| {
            for row in sql.locks(i64::MIN).await? {
                if stored(row.clone()).root.starts_with(path) {
                    sql.delete_lock(&row.token).await?;
                }
            }
        });
        Ok(())
    }
}
