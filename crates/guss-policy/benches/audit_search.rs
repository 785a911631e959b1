//! What the security page's audit section costs on a long log: the newest
//! 200 entries, unfiltered and filtered by a kind that is 1 % of the log,
//! against reading the whole log (what the page did before the search).
//! The log is 50,000 entries on SQLite, most of them file writes, as a
//! busy office has after some weeks.
//!
//! `cargo bench -p guss-policy --bench audit_search`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use guss_core::{
    Event, EventSink as _, EventSource, EventType, PersonId, Principal, SystemClock, TenantId,
};
use guss_policy::audit::{AuditLog, AuditSearch};
use guss_policy::store::SqlPolicyStore;

const ENTRIES: usize = 50_000;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tenant = TenantId::new();
    let people: Vec<Principal> = (0..20)
        .map(|_| Principal::Person {
            tenant,
            person: PersonId::new(),
        })
        .collect();
    let log = runtime.block_on(async {
        let store = SqlPolicyStore::open(&dir.path().display().to_string())
            .await
            .unwrap();
        let log = Arc::new(AuditLog::new(
            store,
            ed25519_dalek::SigningKey::from_bytes(&[3; 32]),
            Arc::new(SystemClock),
        ));
        // Four writers, as requests append concurrently.
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (log, people) = (log.clone(), people.clone());
                tokio::spawn(async move {
                    for i in (w..ENTRIES).step_by(4) {
                        let kind = if i % 100 == 0 {
                            "guss.storage.share_link.downloaded"
                        } else {
                            "guss.storage.file.updated"
                        };
                        let event = Event::builder(
                            tenant,
                            EventSource::from_static("guss-storage"),
                            EventType::from_static(kind),
                        )
                        .actor(&people[i % people.len()])
                        .subject(format!("/people/anna/Akten/{i}.pdf"))
                        .unwrap()
                        .build(&SystemClock);
                        log.emit(event).await.unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        log
    });

    let mut group = c.benchmark_group("audit log of 50,000 entries");
    group.sample_size(20);
    let newest = AuditSearch {
        limit: 200,
        ..AuditSearch::default()
    };
    let searches = [
        ("newest 200", newest.clone()),
        (
            "newest 200 of a kind that is 1 %",
            AuditSearch {
                kind_contains: Some("share_link".into()),
                ..newest.clone()
            },
        ),
        (
            "newest 200 of exact kinds that are 1 % (the share links' accesses)",
            AuditSearch {
                kinds: vec![
                    "guss.storage.share_link.opened".into(),
                    "guss.storage.share_link.downloaded".into(),
                ],
                ..newest.clone()
            },
        ),
        (
            "newest 200 of one person",
            AuditSearch {
                actor_contains: people[7].acting_person().map(|p| p.to_string()),
                ..newest
            },
        ),
    ];
    for (name, search) in &searches {
        group.bench_function(*name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let found = log.search(tenant, search).await.unwrap();
                    assert_eq!(found.len(), 200);
                })
            });
        });
    }
    group.bench_function("the whole log (before the search)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let (entries, _) = log.export(tenant).await.unwrap();
                assert_eq!(entries.len(), ENTRIES);
            })
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
