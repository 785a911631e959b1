//! The same cases on every blob backend: the local filesystem always, S3
//! when `GUSS_TEST_S3_ENDPOINT` names a server (the test command starts
//! moto; with `CI=true` or `GUSS_REQUIRE_S3=1` a missing server fails).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use bytes::Bytes;
use guss_blob::{BlobKey, BlobStore, LocalBlobStore, S3BlobStore, S3Config};

/// Every backend available here, each with a fresh namespace.
async fn backends() -> Vec<(&'static str, Arc<dyn BlobStore>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let local: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::open(dir.path()).await.unwrap());
    let mut all = vec![("local", local, Some(dir))];
    match std::env::var("GUSS_TEST_S3_ENDPOINT") {
        Ok(endpoint) => {
            let config = S3Config::new(&endpoint, "guss-test", "test", "test")
                .with_prefix(&uuid::Uuid::new_v4().to_string());
            all.push(("s3", Arc::new(S3BlobStore::new(&config).unwrap()), None));
        }
        Err(_) => {
            let required = ["CI", "GUSS_REQUIRE_S3"]
                .iter()
                .any(|v| std::env::var(v).is_ok_and(|x| x == "true" || x == "1"));
            assert!(
                !required,
                "an S3 server is required here: set GUSS_TEST_S3_ENDPOINT"
            );
            eprintln!("guss-blob: S3 half skipped (GUSS_TEST_S3_ENDPOINT not set)");
        }
    }
    all
}

fn key(k: &str) -> BlobKey {
    BlobKey::new(k).unwrap()
}

#[tokio::test]
async fn blobs_are_written_once_and_read_back() {
    for (name, store, _dir) in backends().await {
        let k = key("t1/chunks/ab/abcdef");
        assert_eq!(store.get(&k).await.unwrap(), None, "{name}");
        assert!(
            store
                .put_if_absent(&k, Bytes::from_static(b"first"))
                .await
                .unwrap(),
            "{name}"
        );
        assert!(
            !store
                .put_if_absent(&k, Bytes::from_static(b"second"))
                .await
                .unwrap(),
            "{name}"
        );
        assert_eq!(
            store.get(&k).await.unwrap().unwrap(),
            "first",
            "{name}: the first write stays"
        );
        let big: Bytes = (0..5 * 1024 * 1024)
            .map(|i: u32| (i % 251) as u8)
            .collect::<Vec<u8>>()
            .into();
        let b = key("t1/mail/big");
        assert!(store.put_if_absent(&b, big.clone()).await.unwrap());
        assert_eq!(store.get(&b).await.unwrap().unwrap(), big, "{name}");
    }
}

#[tokio::test]
async fn ranges_are_cut_at_the_end() {
    for (name, store, _dir) in backends().await {
        let k = key("t1/file");
        store
            .put_if_absent(&k, Bytes::from_static(b"0123456789"))
            .await
            .unwrap();
        assert_eq!(
            store.get_range(&k, 2..5).await.unwrap().unwrap(),
            "234",
            "{name}"
        );
        assert_eq!(
            store.get_range(&k, 8..100).await.unwrap().unwrap(),
            "89",
            "{name}"
        );
        assert_eq!(
            store.get_range(&k, 20..30).await.unwrap().unwrap(),
            "",
            "{name}"
        );
        assert_eq!(
            store.get_range(&k, 3..3).await.unwrap().unwrap(),
            "",
            "{name}"
        );
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = store.get_range(&k, 5..2).await;
        assert!(backwards.is_err(), "{name}");
        assert_eq!(
            store.get_range(&key("t1/none"), 0..1).await.unwrap(),
            None,
            "{name}"
        );
    }
}

#[tokio::test]
async fn listing_pages_through_a_prefix_in_order() {
    for (name, store, _dir) in backends().await {
        let names = [
            "t1/c/aa1", "t1/c/aa2", "t1/c/ab1", "t1/c/b/x", "t1/d/aa9", "t2/c/aa1",
        ];
        for n in names {
            store
                .put_if_absent(&key(n), Bytes::from_static(b"x"))
                .await
                .unwrap();
        }
        let all = store.list("t1/c/", None, 100).await.unwrap();
        assert_eq!(
            all.iter().map(BlobKey::as_str).collect::<Vec<_>>(),
            ["t1/c/aa1", "t1/c/aa2", "t1/c/ab1", "t1/c/b/x"],
            "{name}"
        );
        let partial = store.list("t1/c/a", None, 100).await.unwrap();
        assert_eq!(
            partial.len(),
            3,
            "{name}: a prefix may end inside a segment"
        );
        let first = store.list("t1/c/", None, 2).await.unwrap();
        assert_eq!(first.len(), 2, "{name}");
        let rest = store.list("t1/c/", first.last(), 100).await.unwrap();
        assert_eq!(
            rest.iter().map(BlobKey::as_str).collect::<Vec<_>>(),
            ["t1/c/ab1", "t1/c/b/x"],
            "{name}"
        );
        assert!(
            store.list("t1/c/", None, 100_000).await.is_err(),
            "{name}: listings are bounded"
        );
    }
}

#[tokio::test]
async fn deletes_report_what_was_there() {
    for (name, store, _dir) in backends().await {
        let k = key("t1/gone");
        assert!(!store.delete(&k).await.unwrap(), "{name}");
        store
            .put_if_absent(&k, Bytes::from_static(b"x"))
            .await
            .unwrap();
        assert!(store.delete(&k).await.unwrap(), "{name}");
        assert_eq!(store.get(&k).await.unwrap(), None, "{name}");
        assert!(
            store
                .put_if_absent(&k, Bytes::from_static(b"y"))
                .await
                .unwrap(),
            "{name}: a deleted key can be written again"
        );
    }
}

#[tokio::test]
async fn concurrent_writers_of_one_key_leave_exactly_one_blob() {
    for (name, store, _dir) in backends().await {
        let k = key("t1/race");
        let writers: Vec<_> = (0..8u8)
            .map(|i| {
                let store = store.clone();
                let k = k.clone();
                tokio::spawn(async move {
                    (
                        i,
                        store
                            .put_if_absent(&k, Bytes::from(vec![i; 1000]))
                            .await
                            .unwrap(),
                    )
                })
            })
            .collect();
        let mut winners = Vec::new();
        for writer in writers {
            let (i, stored) = writer.await.unwrap();
            if stored {
                winners.push(i);
            }
        }
        assert_eq!(winners.len(), 1, "{name}: {winners:?}");
        assert_eq!(
            store.get(&k).await.unwrap().unwrap(),
            vec![winners[0]; 1000],
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_local_store_leaves_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::open(dir.path()).await.unwrap();
    for i in 0..20 {
        store
            .put_if_absent(&key(&format!("t/x{}", i % 5)), Bytes::from(vec![1; 10]))
            .await
            .unwrap();
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("t"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty());
}

/// A crash between creating the temporary file and renaming it leaves the
/// temporary file; the sweep removes such leftovers and nothing else.
#[tokio::test]
async fn leftovers_of_interrupted_writes_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::open(dir.path()).await.unwrap();
    store
        .put_if_absent(&key("t/chunks/ab/abc"), Bytes::from_static(b"kept"))
        .await
        .unwrap();
    std::fs::write(dir.path().join("t/chunks/ab/.tmp-interrupted"), b"half").unwrap();
    assert_eq!(
        store
            .remove_abandoned(std::time::Duration::from_secs(3600))
            .await
            .unwrap(),
        0,
        "too young"
    );
    assert_eq!(
        store
            .remove_abandoned(std::time::Duration::ZERO)
            .await
            .unwrap(),
        1
    );
    assert!(!dir.path().join("t/chunks/ab/.tmp-interrupted").exists());
    assert_eq!(
        store.get(&key("t/chunks/ab/abc")).await.unwrap().unwrap(),
        Bytes::from_static(b"kept")
    );
}
