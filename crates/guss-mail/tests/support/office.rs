//! An organisation for the listener tests: one tenant hosting a domain,
//! people in a directory, and a mail store on SQLite and local files.

use std::path::Path;
use std::sync::Arc;

use guss_core::{MemoryDirectory, MemoryEventSink, PersonEntry, SystemClock, TenantId};
use guss_mail::routing::Router;
use guss_mail::store::MailStore;
use guss_testkit::accounts::person_id;

/// What [`office`] made.
pub struct Office {
    pub tenant: TenantId,
    pub store: MailStore,
    pub router: Router,
    pub events: Arc<MemoryEventSink>,
}

/// A tenant hosting `domain` with `people` (`NAME@DOMAIN` each), its
/// store under `dir`.
pub async fn office(dir: &Path, domain: &str, people: &[&str]) -> Office {
    let tenant = TenantId::new();
    let directory = Arc::new(MemoryDirectory::new());
    directory.add_domain(tenant, domain);
    for name in people {
        directory.add_person(
            PersonEntry::new(tenant, person_id(name), *name)
                .with_email(format!("{name}@{domain}").parse().unwrap()),
        );
    }
    let events = Arc::new(MemoryEventSink::new());
    let blobs = Arc::new(
        guss_blob::LocalBlobStore::open(&dir.join("blobs"))
            .await
            .unwrap(),
    );
    let store = MailStore::open(
        dir.join("db").to_str().unwrap(),
        blobs,
        Arc::new(SystemClock),
        events.clone(),
    )
    .await
    .unwrap();
    let router = Router::new(directory, store.clone());
    Office {
        tenant,
        store,
        router,
        events,
    }
}
