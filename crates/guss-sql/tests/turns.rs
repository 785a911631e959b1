//! Transactions take turns per tenant and store, on both engines: bodies
//! that read and then write what they read never interleave, while other
//! tenants and other stores go on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use guss_core::TenantId;
use guss_sql::{Schema, TenantPools, in_tx};
use guss_testkit::{Backend, TestDb, backend_tests};
use tokio::sync::Notify;

static TALLY: Schema = Schema {
    file_name: "tally.sqlite",
    migration_lock: 7_267_817_901,
    tables: &[(
        "tally",
        "CREATE TABLE IF NOT EXISTS tally (tenant_id {uuid} NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (tenant_id, n))",
    )],
    indexes: &[],
};

static NOTES: Schema = Schema {
    file_name: "notes.sqlite",
    migration_lock: 7_267_817_902,
    tables: &[(
        "notes",
        "CREATE TABLE IF NOT EXISTS notes (tenant_id {uuid} NOT NULL, body TEXT NOT NULL)",
    )],
    indexes: &[],
};

async fn open(db: &TestDb, schema: &'static Schema) -> TenantPools {
    let location = match db.backend() {
        Backend::Sqlite => db.dir().unwrap().display().to_string(),
        Backend::Postgres => db.url().to_owned(),
    };
    TenantPools::open(&location, schema).await.unwrap()
}

/// Appends the next number to `tenant`'s tally: reads the last, then
/// inserts the one after it.
async fn count(pools: &TenantPools, tenant: TenantId) -> Result<i64, sqlx::Error> {
    let pool = pools.pool(tenant).await?;
    let next = in_tx!(&pool, tenant, |tx| {
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(n) FROM tally WHERE tenant_id = $1")
            .bind(tenant.as_uuid())
            .fetch_one(&mut *tx)
            .await?;
        // Gives the other bodies the moment they would need to interleave.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let next = last.unwrap_or(0) + 1;
        sqlx::query("INSERT INTO tally (tenant_id, n) VALUES ($1, $2)")
            .bind(tenant.as_uuid())
            .bind(next)
            .execute(&mut *tx)
            .await?;
        next
    });
    Ok(next)
}

backend_tests! {
    async fn read_then_write_bodies_take_turns(db: TestDb) {
        let pools = open(&db, &TALLY).await;
        let tenant = TenantId::new();
        // More writers than a pool has connections, so they also queue.
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let pools = pools.clone();
                tokio::spawn(async move {
                    for _ in 0..5 {
                        count(&pools, tenant).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let pool = pools.pool(tenant).await.unwrap();
        let numbers = async {
            let numbers: Vec<i64> = in_tx!(&pool, tenant, |tx| {
                sqlx::query_scalar("SELECT n FROM tally WHERE tenant_id = $1 ORDER BY n")
                    .bind(tenant.as_uuid())
                    .fetch_all(&mut *tx)
                    .await?
            });
            Ok::<_, sqlx::Error>(numbers)
        };
        assert_eq!(numbers.await.unwrap(), (1..=80).collect::<Vec<_>>());
    }

    async fn a_busy_tenant_leaves_connections_for_the_others(db: TestDb) {
        let pools = open(&db, &TALLY).await;
        let (busy, other) = (TenantId::new(), TenantId::new());
        let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        // One of the busy tenant's transactions holds its turn …
        let holder = {
            let (pools, started, release) = (pools.clone(), started.clone(), release.clone());
            tokio::spawn(async move {
                let pool = pools.pool(busy).await?;
                let _: () = in_tx!(&pool, busy, |tx| {
                    sqlx::query("SELECT 1").execute(&mut *tx).await?;
                    started.notify_one();
                    release.notified().await;
                });
                Ok::<_, sqlx::Error>(())
            })
        };
        started.notified().await;
        // … while four times as many as a pool has connections wait for it.
        let waiters: Vec<_> = (0..31)
            .map(|_| {
                let pools = pools.clone();
                tokio::spawn(async move {
                    let pool = pools.pool(busy).await?;
                    let _: () = in_tx!(&pool, busy, |tx| {
                        sqlx::query("SELECT 1").execute(&mut *tx).await.map(drop)?
                    });
                    Ok::<_, sqlx::Error>(())
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Waiting holds no connection, so the other tenant gets one.
        let other_went_on = tokio::time::timeout(Duration::from_secs(10), count(&pools, other)).await;
        release.notify_one();
        holder.await.unwrap().unwrap();
        for waiter in waiters {
            waiter.await.unwrap().unwrap();
        }
        assert!(
            matches!(other_went_on, Ok(Ok(1))),
            "the other tenant waited for the busy one: {other_went_on:?}"
        );
    }

    async fn other_tenants_and_stores_go_on_meanwhile(db: TestDb) {
        let tally = open(&db, &TALLY).await;
        let notes = open(&db, &NOTES).await;
        let (anna, other) = (TenantId::new(), TenantId::new());
        let (started, done) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let meanwhile = {
            let (tally, notes, started, done) =
                (tally.clone(), notes.clone(), started.clone(), done.clone());
            async move {
                started.notified().await;
                // Another tenant of the same store, and the same tenant in
                // another store, while Anna's tally transaction is open.
                count(&tally, other).await.unwrap();
                let pool = notes.pool(anna).await.unwrap();
                let _: () = in_tx!(&pool, anna, |tx| {
                    sqlx::query("INSERT INTO notes (tenant_id, body) VALUES ($1, 'Akte 17')")
                        .bind(anna.as_uuid())
                        .execute(&mut *tx)
                        .await
                        .map(drop)?
                });
                done.notify_one();
                Ok::<_, sqlx::Error>(())
            }
        };
        let pool = tally.pool(anna).await.unwrap();
        let waited = async {
            let waited: Result<(), tokio::time::error::Elapsed> = in_tx!(&pool, anna, |tx| {
                sqlx::query("INSERT INTO tally (tenant_id, n) VALUES ($1, 1)")
                    .bind(anna.as_uuid())
                    .execute(&mut *tx)
                    .await?;
                started.notify_one();
                tokio::time::timeout(Duration::from_secs(20), done.notified()).await
            });
            Ok::<_, sqlx::Error>(waited)
        };
        let (meanwhile, waited) = tokio::join!(meanwhile, waited);
        meanwhile.unwrap();
        assert!(waited.unwrap().is_ok(), "the other tenant or store waited for Anna's transaction");
    }
}
