//! Server time for the signed-in home page: the whole router (session
//! lookup, tenant by host, calendar and file listings, continuity
//! findings, template) per request, without the network.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/bundle/support/mod.rs"]
mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use guss_testkit::{Backend, TestDb};

fn home_page(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new(Backend::Sqlite)).unwrap();
    let (office, owner) = runtime.block_on(async {
        let office = support::office(&db).await;
        let owner = support::first_owner(&office.app).await;
        (office, owner)
    });
    let answer = runtime.block_on(owner.get("/home"));
    assert_eq!(answer.status, axum::http::StatusCode::OK, "{}", answer.body);
    c.bench_function("signed-in home page", |b| {
        b.iter(|| runtime.block_on(owner.get("/home")));
    });
    drop(office);
}

criterion_group!(benches, home_page);
criterion_main!(benches);
