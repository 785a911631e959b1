//! Server time for the files page of a folder with 5,000 entries: the
//! whole router (session, tenant by host, the authorization of the
//! folder, the listing, the template) per request, without the network.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/bundle/support/mod.rs"]
mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use guss_core::{PersonId, Principal};
use guss_dav::DavPath;
use guss_testkit::{Backend, TestDb};

const ENTRIES: usize = 5_000;

fn files_page(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new(Backend::Sqlite)).unwrap();
    let (office, owner) = runtime.block_on(async {
        let office = support::office(&db).await;
        let owner = support::first_owner(&office.app).await;
        let tenant = office
            .bundle
            .offices
            .tenant_at(support::LOCAL)
            .await
            .unwrap();
        let files = office.bundle.files.tenant(tenant);
        guss_server::access::home_folder(&files, "anna@kanzlei.example")
            .await
            .unwrap();
        let anna = Principal::Person {
            tenant,
            person: PersonId::new(),
        };
        let folder = DavPath::from_segments(["people", "anna@kanzlei.example", "Akten"]).unwrap();
        files.create_folder(&folder, &[], &anna).await.unwrap();
        for i in 0..ENTRIES {
            let name = format!("Schriftsatz {i:05}.odt");
            files
                .write_bytes(
                    &folder.join(&name).unwrap(),
                    format!("Akte {i}").into_bytes(),
                    None,
                    &anna,
                )
                .await
                .unwrap();
        }
        (office, owner)
    });
    let path = "/files?path=%2Fpeople%2Fanna%40kanzlei.example%2FAkten";
    let answer = runtime.block_on(owner.get(path));
    assert_eq!(answer.status, axum::http::StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body.matches("aria-label=\"Details: ").count(),
        ENTRIES
    );
    let mut group = c.benchmark_group("files page");
    group.sample_size(20);
    group.bench_function("folder with 5,000 entries", |b| {
        b.iter(|| runtime.block_on(owner.get(path)));
    });
    group.finish();
    drop(office);
}

criterion_group!(benches, files_page);
criterion_main!(benches);
