//! The file store on SQLite and PostgreSQL: versions, trash, point-in-time
//! restore, share links, quotas, the tripwire, garbage collection and
//! tenant isolation, each case on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use futures::StreamExt;
use guss_blob::LocalBlobStore;
use guss_core::{Clock, FixedClock, MemoryEventSink, PersonId, Principal, TenantId};
use guss_dav::DavPath;
use guss_storage::Error;
use guss_storage::keys::MasterKey;
use guss_storage::model::{EntryKind, ShareMode, ShareOptions};
use guss_storage::store::{BodyStream, FileStore, StoreConfig, TenantFiles};
use guss_storage::tripwire::TripwirePolicy;
use guss_testkit::{Backend, TestDb, backend_tests};

struct Fixture {
    store: FileStore,
    clock: Arc<FixedClock>,
    events: Arc<MemoryEventSink>,
    _blobs: tempfile::TempDir,
}

impl Fixture {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

async fn fixture(db: &TestDb, config: StoreConfig) -> Fixture {
    let blobs = tempfile::tempdir().unwrap();
    let location = match db.backend() {
        Backend::Sqlite => db.dir().unwrap().join("storage").display().to_string(),
        Backend::Postgres => db.url().to_owned(),
    };
    let clock = Arc::new(FixedClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
    ));
    let events = Arc::new(MemoryEventSink::new());
    let store = FileStore::open(
        &location,
        Arc::new(LocalBlobStore::open(blobs.path()).await.unwrap()),
        MasterKey::from_bytes([3; 32]),
        clock.clone(),
        events.clone(),
        config,
    )
    .await
    .unwrap();
    Fixture {
        store,
        clock,
        events,
        _blobs: blobs,
    }
}

fn path(p: &str) -> DavPath {
    DavPath::from_segments(p.split('/').filter(|s| !s.is_empty())).unwrap()
}

fn person(files: &TenantFiles) -> Principal {
    Principal::Person {
        tenant: files.tenant_id(),
        person: PersonId::new(),
    }
}

/// Deterministic bytes that do not compress.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn view_link() -> ShareOptions {
    ShareOptions {
        mode: ShareMode::View,
        expires_at: None,
        access_code: None,
        max_downloads: None,
    }
}

backend_tests! {
    async fn every_write_is_a_version(db: TestDb) {
        let f = fixture(&db, StoreConfig::default()).await;
        let files = f.store.tenant(TenantId::new());
        let anna = person(&files);
        files.create_folder(&path("Akten"), &[], &anna).await.unwrap();
        let big = noise(700_000, 1);
        let (entry, created) = files.write_bytes(&path("Akten/Vertrag.pdf"), big.clone(), Some("application/pdf"), &anna).await.unwrap();
        assert!(created);
        assert_eq!(entry.size, 700_000);
        assert_eq!(entry.kind, EntryKind::File);
        assert_eq!(entry.content_type.as_deref(), Some("application/pdf"));
        let mut edited = big.clone();
        edited[350_000] ^= 0xff;
        f.clock.advance(TimeDelta::minutes(1));
        let (again, created) = files.write_bytes(&path("Akten/Vertrag.pdf"), edited.clone(), None, &anna).await.unwrap();
        assert!(!created);
        assert_ne!(again.etag, entry.etag);
        assert_eq!(files.read_all(&path("Akten/Vertrag.pdf")).await.unwrap(), edited);
        let versions = files.versions(&path("Akten/Vertrag.pdf")).await.unwrap();
        assert_eq!(versions.len(), 2);
        assert!(versions[1].current && !versions[0].current);
        assert_eq!(files.read_version_all(versions[0].id).await.unwrap(), big);
        // A range across chunk boundaries.
        let mut ranged = Vec::new();
        let mut stream = files.read(&path("Akten/Vertrag.pdf"), Some(100_000..400_000)).await.unwrap();
        while let Some(piece) = stream.next().await {
            ranged.extend_from_slice(&piece.unwrap());
        }
        assert_eq!(ranged, edited[100_000..400_000]);
        // Deduplicated: the second version added a chunk or two, not a file.
        let used = files.usage().await.unwrap().used;
        assert!(used < 700_000 + 300_000, "used {used}");
        // Restoring the first version makes a third.
        files.restore_version(&path("Akten/Vertrag.pdf"), versions[0].id, &anna).await.unwrap();
        assert_eq!(files.read_all(&path("Akten/Vertrag.pdf")).await.unwrap(), big);
        assert_eq!(files.versions(&path("Akten/Vertrag.pdf")).await.unwrap().len(), 3);
        // An empty file is a file.
        files.write_bytes(&path("leer.txt"), Vec::new(), None, &anna).await.unwrap();
        assert_eq!(files.read_all(&path("leer.txt")).await.unwrap(), b"");
    }

    async fn tree_operations_check_their_targets(db: TestDb) {
        let f = fixture(&db, StoreConfig::default()).await;
        let files = f.store.tenant(TenantId::new());
        let anna = person(&files);
        assert!(matches!(files.write_bytes(&path("fehlt/a.txt"), b"x".to_vec(), None, &anna).await, Err(Error::Conflict(_))));
        files.create_folder(&path("A"), &[], &anna).await.unwrap();
        assert!(matches!(files.create_folder(&path("A"), &[], &anna).await, Err(Error::AlreadyExists(_))));
        assert!(matches!(files.write_bytes(&path("A"), b"x".to_vec(), None, &anna).await, Err(Error::Conflict(_))));
        files.write_bytes(&path("A/a.txt"), b"eins".to_vec(), None, &anna).await.unwrap();
        files.create_folder(&path("A/B"), &[], &anna).await.unwrap();
        files.write_bytes(&path("A/B/b.txt"), b"zwei".to_vec(), None, &anna).await.unwrap();
        assert!(matches!(files.rename(&path("A"), &path("A/B/C"), &anna).await, Err(Error::Conflict(_))));
        files.copy(&path("A"), &path("Kopie"), true, &anna).await.unwrap();
        assert_eq!(files.read_all(&path("Kopie/B/b.txt")).await.unwrap(), b"zwei");
        files.copy(&path("A"), &path("Flach"), false, &anna).await.unwrap();
        assert!(files.list(&path("Flach")).await.unwrap().is_empty());
        files.rename(&path("A/B"), &path("B2"), &anna).await.unwrap();
        assert_eq!(files.read_all(&path("B2/b.txt")).await.unwrap(), b"zwei");
        assert!(files.stat(&path("A/B")).await.unwrap().is_none());
        let names: Vec<String> = files.list(&DavPath::root()).await.unwrap().into_iter().map(|e| e.path.to_string()).collect();
        assert_eq!(names, ["/A", "/B2", "/Flach", "/Kopie"]);
        // Dead properties follow copies.
        let prop = guss_dav::PropertyName::new("urn:example", "farbe");
        files.patch_properties(&path("A/a.txt"), &[(prop.clone(), "rot".into())], &[], &anna).await.unwrap();
        files.copy(&path("A/a.txt"), &path("c.txt"), false, &anna).await.unwrap();
        assert_eq!(files.properties(&path("c.txt")).await.unwrap(), [(prop.clone(), "rot".to_owned())]);
        files.patch_properties(&path("c.txt"), &[], &[prop], &anna).await.unwrap();
        assert!(files.properties(&path("c.txt")).await.unwrap().is_empty());
    }

    async fn writers_at_once_see_each_others_outcome(db: TestDb) {
        let f = fixture(&db, StoreConfig::default()).await;
        let files = f.store.tenant(TenantId::new());
        let anna = person(&files);
        files.create_folder(&path("Scans"), &[], &anna).await.unwrap();
        // The same new bytes under several names (their chunks are shared),
        // and several saves of one new file: every write is kept.
        let scan = noise(200_000, 7);
        let names: Vec<_> = (0..6).map(|i| path(&format!("Scans/Kopie {i}.pdf"))).collect();
        let saved = futures::future::join_all(
            names.iter().map(|name| files.write_bytes(name, scan.clone(), None, &anna)),
        )
        .await;
        assert!(saved.iter().all(Result::is_ok), "{saved:?}");
        let target = path("Scans/Bescheid.pdf");
        let saved = futures::future::join_all(
            (0..4u64).map(|i| files.write_bytes(&target, noise(1000, i), None, &anna)),
        )
        .await;
        assert!(saved.iter().all(Result::is_ok), "{saved:?}");
        assert_eq!(saved.iter().filter(|s| matches!(s, Ok((_, true)))).count(), 1);
        assert_eq!(files.versions(&target).await.unwrap().len(), 4);
        // Two deletes of one file: one goes to the trash, the other finds
        // nothing there.
        let (first, second) = tokio::join!(files.delete(&target, &anna), files.delete(&target, &anna));
        assert!(first.is_ok() != second.is_ok(), "{first:?} {second:?}");
        assert_eq!(files.trash().await.unwrap().len(), 1);
        for name in &names {
            assert_eq!(files.read_all(name).await.unwrap(), scan);
        }
    }

    async fn deleted_folders_come_back_from_the_trash(db: TestDb) {
        let f = fixture(&db, StoreConfig::default()).await;
        let files = f.store.tenant(TenantId::new());
        let anna = person(&files);
        files.create_folder(&path("Mandanten"), &[], &anna).await.unwrap();
        files.write_bytes(&path("Mandanten/Weber.odt"), b"Akte Weber".to_vec(), None, &anna).await.unwrap();
        let id = files.delete(&path("Mandanten"), &anna).await.unwrap();
        assert!(files.stat(&path("Mandanten/Weber.odt")).await.unwrap().is_none());
        let trash = files.trash().await.unwrap();
        assert_eq!(trash.len(), 1);
        assert_eq!(trash[0].original_path.to_string(), "/Mandanten");
        // Someone made a new folder of the same name meanwhile.
        files.create_folder(&path("Mandanten"), &[], &anna).await.unwrap();
        let back = files.restore_from_trash(id, &anna).await.unwrap();
        assert_eq!(back.to_string(), "/Mandanten (restored)");
        assert_eq!(files.read_all(&path("Mandanten (restored)/Weber.odt")).await.unwrap(), b"Akte Weber");
        assert!(files.trash().await.unwrap().is_empty());
        // Expiry: after the retention, trash goes for good, and GC frees its chunks.
        files.delete(&path("Mandanten (restored)"), &anna).await.unwrap();
        f.clock.advance(TimeDelta::days(31));
        assert_eq!(files.expire_trash(100).await.unwrap(), 1);
        assert!(files.trash().await.unwrap().is_empty());
        f.clock.advance(TimeDelta::days(2));
        let collected = files.collect_garbage(1000).await.unwrap();
        assert_eq!(collected.chunks, 1);
        assert_eq!(files.usage().await.unwrap().used, 0);
    }

    async fn a_held_file_keeps_its_deleted_folder_in_the_trash(db: TestDb) {
        let f = fixture(&db, StoreConfig::default()).await;
        let files = f.store.tenant(TenantId::new());
        let anna = person(&files);
        files.create_folder(&path("Akten"), &[], &anna).await.unwrap();
        files.write_bytes(&path("Akten/Weber.odt"), b"Akte Weber".to_vec(), None, &anna).await.unwrap();
        let until = f.clock.now() + TimeDelta::days(60);
        files.set_hold(&path("Akten/Weber.odt"), "§50 BRAO", Some(until)).await.unwrap();
        let hold = files.hold(&path("Akten/Weber.odt")).await.unwrap().unwrap();
        assert_eq!((hold.reason.as_str(), hold.until), ("§50 BRAO", Some(until)));
        assert_eq!(files.hold(&path("Akten")).await.unwrap(), None);
        files.delete(&path("Akten"), &anna).await.unwrap();
        f.clock.advance(TimeDelta::days(31));
        assert_eq!(files.expire_trash(100).await.unwrap(), 0, "the folder holds a held file");
        f.clock.advance(TimeDelta::days(30));
        assert_eq!(files.expire_trash(100).await.unwrap(), 1, "the hold is over");
        assert!(files.trash().await.unwrap().is_empty());
    }

    async fn a_folder_goes_back_to_how_it_was(db: TestDb) {
        let f = fixture(&db, StoreConfig::default()).await;
        let files = f.store.tenant(TenantId::new());
        let anna = person(&files);
        files.create_folder(&path("Praxis"), &[], &anna).await.unwrap();
        files.create_folder(&path("Praxis/Befunde"), &[], &anna).await.unwrap();
        files.write_bytes(&path("Praxis/a.txt"), b"A".to_vec(), None, &anna).await.unwrap();
        files.write_bytes(&path("Praxis/b.txt"), b"B".to_vec(), None, &anna).await.unwrap();
        files.write_bytes(&path("Praxis/Befunde/c.txt"), b"C".to_vec(), None, &anna).await.unwrap();
        f.clock.advance(TimeDelta::minutes(10));
        let good = f.now();
        f.clock.advance(TimeDelta::minutes(10));
        // The attack: overwrite, rename, delete, add, swap names.
        files.write_bytes(&path("Praxis/a.txt"), b"encrypted".to_vec(), None, &anna).await.unwrap();
        files.rename(&path("Praxis/b.txt"), &path("Praxis/b.txt.locked"), &anna).await.unwrap();
        files.delete(&path("Praxis/Befunde"), &anna).await.unwrap();
        files.write_bytes(&path("Praxis/README-RANSOM.txt"), b"pay".to_vec(), None, &anna).await.unwrap();
        files.rename(&path("Praxis/a.txt"), &path("Praxis/x.txt"), &anna).await.unwrap();
        files.rename(&path("Praxis/b.txt.locked"), &path("Praxis/a.txt"), &anna).await.unwrap();
        f.clock.advance(TimeDelta::minutes(1));
        let report = files.restore_folder_at(&path("Praxis"), good, &anna).await.unwrap();
        assert_eq!(report.contents_restored, 1);
        assert_eq!(report.moved_to_trash, 1);
        assert_eq!(report.unrecoverable, 0);
        let names: Vec<String> = files.list(&path("Praxis")).await.unwrap().into_iter().map(|e| e.path.to_string()).collect();
        assert_eq!(names, ["/Praxis/Befunde", "/Praxis/a.txt", "/Praxis/b.txt"]);
        assert_eq!(files.read_all(&path("Praxis/a.txt")).await.unwrap(), b"A");
        assert_eq!(files.read_all(&path("Praxis/b.txt")).await.unwrap(), b"B");
        assert_eq!(files.read_all(&path("Praxis/Befunde/c.txt")).await.unwrap(), b"C");
        // Nothing was lost: the ransom note is in the trash, the encrypted text a version.
        assert!(files.trash().await.unwrap().iter().any(|t| t.original_path.to_string() == "/Praxis/README-RANSOM.txt"));
        assert_eq!(files.versions(&path("Praxis/a.txt")).await.unwrap().len(), 3);
    }

    async fn a_burst_of_deletes_trips_the_wire_and_freezes_expiry(db: TestDb) {
        let mut config = StoreConfig::default();
        config.tripwire = TripwirePolicy::new(5, TimeDelta::minutes(5));
        let f = fixture(&db, config).await;
        let files = f.store.tenant(TenantId::new());
        let mallory = person(&files);
        for i in 0..6 {
            files.write_bytes(&path(&format!("f{i}.txt")), vec![i as u8; 10], None, &mallory).await.unwrap();
        }
        for i in 0..6 {
            files.delete(&path(&format!("f{i}.txt")), &mallory).await.unwrap();
        }
        assert!(files.frozen().await.unwrap().is_some());
        assert_eq!(f.events.types().iter().filter(|t| *t == "guss.storage.tripwire.tripped").count(), 1);
        f.clock.advance(TimeDelta::days(60));
        assert_eq!(files.expire_trash(100).await.unwrap(), 0, "frozen: nothing expires");
        files.release_freeze(&mallory).await.unwrap();
        assert_eq!(files.expire_trash(100).await.unwrap(), 6);
    }

    async fn share_links_open_only_what_they_should(db: TestDb) {
        let f = fixture(&db, StoreConfig::default()).await;
        let files = f.store.tenant(TenantId::new());
        let anna = person(&files);
        files.create_folder(&path("Fahrschule"), &[], &anna).await.unwrap();
        files.write_bytes(&path("Fahrschule/Plan.pdf"), b"Plan".to_vec(), None, &anna).await.unwrap();
        let options = ShareOptions { mode: ShareMode::View, expires_at: Some(f.now() + TimeDelta::days(1)), access_code: Some("4711".into()), max_downloads: Some(1) };
        let (link, token) = files.create_share_link(&path("Fahrschule"), &options, &anna).await.unwrap();
        assert!(matches!(files.open_share_link(&token, None).await, Err(Error::Forbidden)));
        assert!(matches!(files.open_share_link("wrong", Some("4711")).await, Err(Error::NotFound(_))));
        let access = files.open_share_link(&token, Some("4711")).await.unwrap();
        assert_eq!(access.list(&DavPath::root()).await.unwrap().len(), 1);
        let _ = access.download(&path("Plan.pdf")).await.unwrap();
        assert!(matches!(access.download(&path("Plan.pdf")).await, Err(Error::Forbidden)), "download limit");
        assert!(access.upload("x.txt", Box::pin(futures::stream::empty()), None).await.is_err());
        // A drop box: upload only, nothing visible, nothing overwritten.
        let drop = ShareOptions { mode: ShareMode::Upload, ..view_link() };
        let (_, drop_token) = files.create_share_link(&path("Fahrschule"), &drop, &anna).await.unwrap();
        let dropbox = files.open_share_link(&drop_token, None).await.unwrap();
        assert!(dropbox.list(&DavPath::root()).await.is_err());
        let body: BodyStream = Box::pin(futures::stream::once(async { Ok(bytes::Bytes::from_static(b"Fuehrerschein")) }));
        dropbox.upload("Plan.pdf", body, None).await.unwrap();
        assert_eq!(files.read_all(&path("Fahrschule/Plan.pdf")).await.unwrap(), b"Plan");
        assert_eq!(files.read_all(&path("Fahrschule/Plan (2).pdf")).await.unwrap(), b"Fuehrerschein");
        // Expiry and revocation.
        f.clock.advance(TimeDelta::days(2));
        assert!(files.open_share_link(&token, Some("4711")).await.is_err());
        files.revoke_share_link(link.id, &anna).await.unwrap();
        let listed = files.share_links().await.unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().any(|l| l.revoked_at.is_some() && l.downloads == 1));
        let types = f.events.types();
        assert!(types.iter().any(|t| t == "guss.storage.share_link.downloaded"));
        assert!(types.iter().any(|t| t == "guss.storage.share_link.refused"));
    }

    async fn quotas_count_versions_and_trash(db: TestDb) {
        let f = fixture(&db, StoreConfig::default()).await;
        let files = f.store.tenant(TenantId::new());
        let anna = person(&files);
        files.set_quota(Some(150_000)).await.unwrap();
        files.write_bytes(&path("a.bin"), noise(100_000, 1), None, &anna).await.unwrap();
        files.write_bytes(&path("a.bin"), noise(100_000, 2), None, &anna).await.unwrap();
        assert_eq!(files.usage().await.unwrap().used, 200_000, "both versions count");
        assert!(matches!(files.write_bytes(&path("b.bin"), vec![1], None, &anna).await, Err(Error::QuotaExceeded)));
        files.delete(&path("a.bin"), &anna).await.unwrap();
        assert_eq!(files.usage().await.unwrap().used, 200_000, "the trash counts");
    }

    async fn tenants_cannot_see_each_other(db: TestDb) {
        let f = fixture(&db, StoreConfig::default()).await;
        let one = f.store.tenant(TenantId::new());
        let two = f.store.tenant(TenantId::new());
        let anna = person(&one);
        one.write_bytes(&path("geheim.txt"), b"nur fuer eins".to_vec(), None, &anna).await.unwrap();
        let versions = one.versions(&path("geheim.txt")).await.unwrap();
        assert!(two.stat(&path("geheim.txt")).await.unwrap().is_none());
        assert!(two.list(&DavPath::root()).await.unwrap().is_empty());
        assert!(matches!(two.read_version_all(versions[0].id).await, Err(Error::NotFound(_))));
        assert!(two.trash().await.unwrap().is_empty());
        let (_, token) = one.create_share_link(&path("geheim.txt"), &view_link(), &anna).await.unwrap();
        assert!(two.open_share_link(&token, None).await.is_err());
        assert_eq!(one.read_all(&path("geheim.txt")).await.unwrap(), b"nur fuer eins");
    }
}

/// The scale-out pair: metadata in PostgreSQL, content in S3 (the test
/// command's S3 server on loopback). Content round-trips, versions share
/// chunks, and garbage collection removes the objects of purged content.
#[test]
fn postgresql_and_s3_together() {
    use guss_blob::{BlobStore, S3BlobStore, S3Config};
    let Some(endpoint) = guss_testkit::s3_endpoint() else {
        return;
    };
    guss_testkit::run(Backend::Postgres, |db| async move {
        let prefix = uuid::Uuid::new_v4().to_string();
        let s3 = Arc::new(
            S3BlobStore::new(
                &S3Config::new(&endpoint, "guss-test", "test", "test").with_prefix(&prefix),
            )
            .unwrap(),
        );
        let clock = Arc::new(FixedClock::new(
            Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
        ));
        let store = FileStore::open(
            db.url(),
            s3.clone(),
            MasterKey::from_bytes([4; 32]),
            clock.clone(),
            Arc::new(MemoryEventSink::new()),
            StoreConfig::default(),
        )
        .await
        .unwrap();
        let files = store.tenant(TenantId::new());
        let anna = person(&files);
        let first = noise(600_000, 7);
        let mut second = first.clone();
        second.extend_from_slice(b"Nachtrag");
        files
            .write_bytes(&path("Bilanz.xlsx"), first.clone(), None, &anna)
            .await
            .unwrap();
        files
            .write_bytes(&path("Bilanz.xlsx"), second.clone(), None, &anna)
            .await
            .unwrap();
        assert_eq!(files.read_all(&path("Bilanz.xlsx")).await.unwrap(), second);
        let versions = files.versions(&path("Bilanz.xlsx")).await.unwrap();
        assert_eq!(files.read_version_all(versions[0].id).await.unwrap(), first);
        let objects = s3
            .list(&files.tenant_id().to_string(), None, 1000)
            .await
            .unwrap()
            .len();
        assert!(objects > 2, "the file is chunked: {objects} objects");
        assert!(
            objects < 20,
            "the second version shares chunks with the first: {objects} objects"
        );
        files.delete(&path("Bilanz.xlsx"), &anna).await.unwrap();
        clock.advance(TimeDelta::days(40));
        assert_eq!(files.expire_trash(10).await.unwrap(), 1);
        let collected = files.collect_garbage(1000).await.unwrap();
        assert_eq!(collected.chunks, objects);
        assert!(
            s3.list(&files.tenant_id().to_string(), None, 1000)
                .await
                .unwrap()
                .is_empty()
        );
    });
}
