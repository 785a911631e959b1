//! The outbound queue: submitted mail for other servers waits here,
//! durably, until it is delivered, bounced or expired.
//!
//! Rows live in the database (the embedded default's own SQLite file, or
//! PostgreSQL, where several processes work one queue: a row is claimed
//! with a lease under `FOR UPDATE SKIP LOCKED`), the bytes in the blob
//! store. A row leaves the queue only after every recipient is delivered
//! or has failed for good; failures come back to the sender as a delivery
//! status notification (RFC 3464).

mod dsn;
mod transport;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use guss_core::{Event, EventType, TenantId};
use tokio::sync::Notify;
use uuid::Uuid;

pub use transport::{Outcome, Transport};

use crate::routing::{Route, Router};
use crate::store::{MailStore, QueueRow, Role, SOURCE, Sql, mail_tx};
use crate::{Error, Result};

/// A message left for other servers.
pub const SENT: EventType = EventType::from_static("guss.mail.message.sent");
/// A recipient could not be reached (for good, or after the last retry).
pub const DELIVERY_FAILED: EventType = EventType::from_static("guss.mail.delivery.failed");

/// The queue's rows belong to this tenant id, not to any organisation
/// (each row names its origin).
const QUEUE_TENANT: TenantId =
    TenantId::from_uuid(Uuid::from_u128(0x6775_7373_2d6d_6169_6c2d_7175_6575_6500));
/// Most rows claimed per pass.
const CLAIM: i64 = 16;
/// Most recipients per message.
const MAX_RECIPIENTS: usize = 1000;

/// When to try again and when to give up.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// Waits after the 1st, 2nd, … failed attempt; the last repeats.
    pub retry: Vec<Duration>,
    /// Give up this long after the message was queued (RFC 5321 §4.5.4.1
    /// suggests 4–5 days).
    pub give_up_after: Duration,
    /// How long a claim lasts unless renewed: the worker renews it while
    /// it delivers, so a crashed worker's claims are free after one lease.
    pub lease: Duration,
    /// How often to look for due messages when nothing woke the worker.
    pub poll: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        QueueConfig {
            retry: vec![
                minutes(1),
                minutes(5),
                minutes(15),
                minutes(30),
                minutes(60),
                minutes(120),
                minutes(240),
            ],
            give_up_after: Duration::from_secs(5 * 24 * 3600),
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(5),
        }
    }
}

/// A queued message as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    /// Its id.
    pub id: Uuid,
    /// The tenant that sent it.
    pub origin: TenantId,
    /// The envelope sender.
    pub sender: String,
    /// Recipients still waiting.
    pub recipients: Vec<String>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_attempt: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// The outbound queue.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

struct Inner {
    store: MailStore,
    router: Router,
    transport: Transport,
    config: QueueConfig,
    hostname: String,
    wake: Notify,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

/// Runs `$body` in a transaction on the queue's rows.
macro_rules! queue_tx {
    ($queue:expr, |$sql:ident| $body:expr) => {{
        let this = StoreRef {
            store: &$queue.inner.store,
            tenant: QUEUE_TENANT,
        };
        mail_tx!(this, |$sql| $body)
    }};
}

/// What `mail_tx!` needs: a store and a tenant.
struct StoreRef<'a> {
    store: &'a MailStore,
    tenant: TenantId,
}

impl Queue {
    /// A queue in `store` that delivers through `transport`, announcing
    /// itself as `hostname`; `router` finds senders for bounces.
    pub fn new(
        store: MailStore,
        router: Router,
        transport: Transport,
        hostname: &str,
        config: QueueConfig,
    ) -> Self {
        Queue {
            inner: Arc::new(Inner {
                store,
                router,
                transport,
                config,
                hostname: hostname.to_owned(),
                wake: Notify::new(),
            }),
        }
    }

    /// Queues `raw` from `sender` (in tenant `origin`) for `recipients`;
    /// once this returns, the message survives restarts.
    pub async fn enqueue(
        &self,
        origin: TenantId,
        sender: &str,
        recipients: &[String],
        raw: Bytes,
    ) -> Result<Uuid> {
        if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
            return Err(Error::invalid(
                "recipients",
                format!("1 to {MAX_RECIPIENTS} recipients"),
            ));
        }
        let key = self.inner.store.put_blob(QUEUE_TENANT, raw).await?;
        let now = self.inner.store.clock().now().timestamp_micros();
        let row = QueueRow {
            id: Uuid::now_v7(),
            origin: origin.to_string(),
            blob_key: key,
            sender: sender.to_owned(),
            recipients: recipients.join("\n"),
            attempts: 0,
            next_attempt: now,
            created_at: now,
            last_error: None,
            dsn: 1,
        };
        queue_tx!(self, |sql| sql.enqueue(&row).await?);
        self.inner.wake.notify_one();
        Ok(row.id)
    }

    /// The messages waiting, soonest due first.
    pub async fn pending(&self) -> Result<Vec<Queued>> {
        let rows = queue_tx!(self, |sql| sql.queued(10_000).await?);
        Ok(rows.into_iter().map(queued).collect())
    }

    /// Makes every waiting message due now (after a restart, or when an
    /// admin asks to retry).
    pub async fn retry_now(&self) -> Result<()> {
        let now = self.inner.store.clock().now().timestamp_micros();
        queue_tx!(self, |sql| sql.make_due(now).await?);
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Works the queue until the task is dropped.
    pub async fn run(self) {
        if !self.inner.store.is_postgres() {
            // Alone on this SQLite file: claims left by a killed process
            // are stale, and what waited while we were down is due.
            if let Err(e) = self.release_claims().await {
                tracing::warn!(error = %e, "queue claims not released");
            }
        }
        loop {
            match self.process_due().await {
                Ok(0) => {
                    let _ =
                        tokio::time::timeout(self.inner.config.poll, self.inner.wake.notified())
                            .await;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "queue pass failed");
                    tokio::time::sleep(self.inner.config.poll).await;
                }
            }
        }
    }

    async fn release_claims(&self) -> Result<()> {
        queue_tx!(self, |sql| sql.release_claims().await?);
        Ok(())
    }

    /// One pass: claims the due messages and tries each; how many were tried.
    pub async fn process_due(&self) -> Result<usize> {
        let now = self.inner.store.clock().now();
        let lease_until = (now + self.inner.config.lease).timestamp_micros();
        let now = now.timestamp_micros();
        let rows = queue_tx!(self, |sql| sql.claim(now, lease_until, CLAIM).await?);
        let count = rows.len();
        let attempts = rows.into_iter().map(|row| self.attempt(row));
        for result in futures::future::join_all(attempts).await {
            if let Err(e) = result {
                tracing::warn!(error = %e, "queued message not processed");
            }
        }
        Ok(count)
    }

    async fn attempt(&self, row: QueueRow) -> Result<()> {
        let raw = self.inner.store.get_blob(&row.blob_key).await?;
        let recipients: Vec<String> = row
            .recipients
            .split('\n')
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect();
        let mut by_domain: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in &recipients {
            let domain = r
                .rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase())
                .unwrap_or_default();
            by_domain.entry(domain).or_default().push(r.clone());
        }
        let mut waiting = Vec::new();
        let mut failed = Vec::new();
        let mut delivered = Vec::new();
        let mut last_error = None;
        for (domain, rcpts) in by_domain {
            let delivery = self.inner.transport.deliver(
                &self.inner.hostname,
                &domain,
                &row.sender,
                &rcpts,
                &raw,
            );
            // Keep the claim while the next server takes its time; a killed
            // worker stops renewing and the row is free a lease later.
            let outcomes = tokio::select! {
                outcomes = delivery => outcomes,
                () = self.renew_claim(row.id) => vec![Outcome::Retry("claim lost".to_owned()); rcpts.len()],
            };
            for (rcpt, outcome) in rcpts.into_iter().zip(outcomes) {
                match outcome {
                    Outcome::Delivered => delivered.push(rcpt),
                    Outcome::Retry(why) => {
                        last_error = Some(why.clone());
                        waiting.push((rcpt, why));
                    }
                    Outcome::Failed(why) => failed.push((rcpt, why)),
                }
            }
        }
        let origin: TenantId = row.origin.parse().unwrap_or(QUEUE_TENANT);
        let now = self.inner.store.clock().now();
        let age = now.timestamp_micros().saturating_sub(row.created_at);
        let expired =
            age > i64::try_from(self.inner.config.give_up_after.as_micros()).unwrap_or(i64::MAX);
        if expired {
            failed.extend(waiting.drain(..).map(|(r, why)| {
                (
                    r,
                    format!(
                        "gave up after {} days: {why}",
                        self.inner.config.give_up_after.as_secs() / 86_400
                    ),
                )
            }));
        }
        for rcpt in &delivered {
            self.event(origin, SENT, &row, rcpt, None).await;
        }
        for (rcpt, why) in &failed {
            self.event(origin, DELIVERY_FAILED, &row, rcpt, Some(why))
                .await;
        }
        if !failed.is_empty() && row.dsn != 0 {
            self.bounce(origin, &row, &failed, &raw).await;
        }
        if waiting.is_empty() {
            let key = row.blob_key.clone();
            queue_tx!(self, |sql| sql.finish(row.id).await?);
            self.inner.store.delete_blobs(vec![key]).await;
        } else {
            let attempts = row.attempts.saturating_add(1);
            let schedule = &self.inner.config.retry;
            let index = usize::try_from(row.attempts)
                .unwrap_or(usize::MAX)
                .min(schedule.len().saturating_sub(1));
            let wait = schedule
                .get(index)
                .copied()
                .unwrap_or(Duration::from_secs(3600));
            let next = (now + wait).timestamp_micros();
            let rest: Vec<&str> = waiting.iter().map(|(r, _)| r.as_str()).collect();
            let rest = rest.join("\n");
            let error = last_error.unwrap_or_default();
            queue_tx!(self, |sql| sql
                .reschedule(row.id, &rest, attempts, next, &error)
                .await?);
        }
        Ok(())
    }

    /// Extends the claim on `id` every third of a lease, until dropped.
    async fn renew_claim(&self, id: Uuid) {
        let lease = self.inner.config.lease;
        loop {
            tokio::time::sleep(lease / 3).await;
            let until = (self.inner.store.clock().now() + lease).timestamp_micros();
            let renewed: Result<()> = async {
                queue_tx!(self, |sql| sql.renew_claim(id, until).await?);
                Ok(())
            }
            .await;
            if let Err(e) = renewed {
                tracing::warn!(error = %e, "queue claim not renewed");
            }
        }
    }

    async fn event(
        &self,
        origin: TenantId,
        kind: EventType,
        row: &QueueRow,
        rcpt: &str,
        why: Option<&str>,
    ) {
        let event = Event::builder(origin, SOURCE, kind)
            .subject_if_valid(&format!("queue/{}", row.id))
            .data(serde_json::json!({
                "sender": row.sender,
                "recipient": rcpt,
                "attempts": row.attempts + 1,
                "error": why,
            }))
            .build(self.inner.store.clock());
        if let Err(e) = self.inner.store.events().emit(event).await {
            tracing::warn!(error = %e, "mail event not recorded");
        }
    }

    /// Tells the sender which recipients failed, in their inbox.
    async fn bounce(
        &self,
        origin: TenantId,
        row: &QueueRow,
        failed: &[(String, String)],
        raw: &[u8],
    ) {
        let Ok(sender) = row.sender.parse::<guss_core::EmailAddress>() else {
            return;
        };
        let accounts = match self.inner.router.route(&sender).await {
            Ok(Route::Local { tenant, accounts }) if tenant == origin => accounts,
            _ => return,
        };
        let report = dsn::report(
            &self.inner.hostname,
            &row.sender,
            failed,
            raw,
            self.inner.store.clock().now(),
        );
        let to: Vec<_> = accounts.into_iter().map(|a| (a, Role::Inbox)).collect();
        if let Err(e) = self
            .inner
            .store
            .tenant(origin)
            .deliver(&to, report.into())
            .await
        {
            tracing::warn!(error = %e, "bounce not delivered");
        }
    }
}

fn queued(row: QueueRow) -> Queued {
    Queued {
        id: row.id,
        origin: row.origin.parse().unwrap_or(QUEUE_TENANT),
        sender: row.sender,
        recipients: row
            .recipients
            .split('\n')
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
        attempts: row.attempts.unsigned_abs(),
        next_attempt: DateTime::from_timestamp_micros(row.next_attempt).unwrap_or_default(),
        last_error: row.last_error,
    }
}
