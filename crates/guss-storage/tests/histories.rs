//! Random sequences of writes, deletes, moves, version restores and trash
//! restores against a model: after every step, every file reads back its
//! last write and every one of its versions reads back exactly what was
//! written (or restored) at that point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use guss_blob::LocalBlobStore;
use guss_core::{FixedClock, MemoryEventSink, PersonId, Principal, TenantId};
use guss_dav::DavPath;
use guss_storage::keys::MasterKey;
use guss_storage::store::{StoreConfig, TenantFiles};
use proptest::prelude::*;
use uuid::Uuid;

const NAMES: [&str; 4] = ["a.txt", "b.odt", "d/c.pdf", "d/e.txt"];

#[derive(Clone, Debug)]
enum Op {
    Write { name: usize, seed: u8, len: usize },
    Delete { name: usize },
    Move { from: usize, to: usize },
    RestoreVersion { name: usize, pick: usize },
    RestoreTrash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..NAMES.len(), any::<u8>(), prop_oneof![Just(0usize), 1..2_000usize, 20_000..120_000usize])
            .prop_map(|(name, seed, len)| Op::Write { name, seed, len }),
        1 => (0..NAMES.len()).prop_map(|name| Op::Delete { name }),
        1 => (0..NAMES.len(), 0..NAMES.len()).prop_map(|(from, to)| Op::Move { from, to }),
        1 => (0..NAMES.len(), any::<usize>()).prop_map(|(name, pick)| Op::RestoreVersion { name, pick }),
        1 => Just(Op::RestoreTrash),
    ]
}

/// Content that shares most chunks between seeds of the same length.
fn content(seed: u8, len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|i| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            if i % 10_000 == 0 {
                seed
            } else {
                (x >> 24) as u8
            }
        })
        .collect()
}

fn path(p: &str) -> DavPath {
    DavPath::from_segments(p.split('/')).unwrap()
}

/// The model: path → that file's history of contents; the trash as a stack.
#[derive(Default)]
struct Model {
    files: BTreeMap<String, Vec<Vec<u8>>>,
    trash: Vec<(Uuid, String, Vec<Vec<u8>>)>,
}

async fn apply(files: &TenantFiles, who: &Principal, model: &mut Model, op: &Op) {
    match op {
        Op::Write { name, seed, len } => {
            let data = content(*seed, *len);
            files
                .write_bytes(&path(NAMES[*name]), data.clone(), None, who)
                .await
                .unwrap();
            model
                .files
                .entry(NAMES[*name].to_owned())
                .or_default()
                .push(data);
        }
        Op::Delete { name } => {
            let name = NAMES[*name];
            let result = files.delete(&path(name), who).await;
            match model.files.remove(name) {
                Some(history) => model
                    .trash
                    .push((result.unwrap(), name.to_owned(), history)),
                None => assert!(result.is_err()),
            }
        }
        Op::Move { from, to } => {
            let (from, to) = (NAMES[*from], NAMES[*to]);
            let result = files.rename(&path(from), &path(to), who).await;
            if model.files.contains_key(from) && !model.files.contains_key(to) {
                result.unwrap();
                let history = model.files.remove(from).unwrap();
                model.files.insert(to.to_owned(), history);
            } else {
                assert!(result.is_err(), "move {from} -> {to} should fail");
            }
        }
        Op::RestoreVersion { name, pick } => {
            let name = NAMES[*name];
            let Some(history) = model.files.get_mut(name) else {
                return;
            };
            let versions = files.versions(&path(name)).await.unwrap();
            let index = pick % versions.len();
            files
                .restore_version(&path(name), versions[index].id, who)
                .await
                .unwrap();
            let restored = history[index].clone();
            history.push(restored);
        }
        Op::RestoreTrash => {
            let Some((id, name, history)) = model.trash.pop() else {
                return;
            };
            let back = files.restore_from_trash(id, who).await.unwrap().to_string();
            if !model.files.contains_key(&name) {
                assert_eq!(back, format!("/{name}"), "a free name is kept");
            }
            model
                .files
                .insert(back.trim_start_matches('/').to_owned(), history);
        }
    }
}

async fn check(files: &TenantFiles, model: &Model) {
    for (name, history) in &model.files {
        let p = DavPath::from_segments(name.split('/')).unwrap();
        assert_eq!(
            &files.read_all(&p).await.unwrap(),
            history.last().unwrap(),
            "{name} reads its last write"
        );
        let versions = files.versions(&p).await.unwrap();
        assert_eq!(
            versions.len(),
            history.len(),
            "{name} has one version per write"
        );
        for (version, expected) in versions.iter().zip(history) {
            assert_eq!(
                &files.read_version_all(version.id).await.unwrap(),
                expected,
                "{name} version"
            );
            assert_eq!(version.size, expected.len() as u64);
        }
    }
    let mut listed = Vec::new();
    for folder in ["", "d"] {
        for entry in files
            .list(&DavPath::from_segments(folder.split('/').filter(|s| !s.is_empty())).unwrap())
            .await
            .unwrap()
        {
            if entry.path.to_string() != "/d" {
                listed.push(entry.path.to_string().trim_start_matches('/').to_owned());
            }
        }
    }
    listed.sort();
    let expected: Vec<String> = model.files.keys().cloned().collect();
    assert_eq!(listed, expected, "the tree holds exactly the model's files");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn histories_read_back_exactly(ops in proptest::collection::vec(op(), 1..24)) {
        guss_testkit::block_on(async {
            let dir = tempfile::tempdir().unwrap();
            // A fixed clock: everything is younger than an hour, so thinning keeps every version.
            let store = guss_storage::store::FileStore::open(
                dir.path().join("db").to_str().unwrap(),
                Arc::new(LocalBlobStore::open(&dir.path().join("blobs")).await.unwrap()),
                MasterKey::from_bytes([9; 32]),
                Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2026, 5, 4, 12, 0, 0).unwrap())),
                Arc::new(MemoryEventSink::new()),
                StoreConfig::default(),
            )
            .await
            .unwrap();
            let files = store.tenant(TenantId::new());
            let who = Principal::Person { tenant: files.tenant_id(), person: PersonId::new() };
            files.create_folder(&path("d"), &[], &who).await.unwrap();
            let mut model = Model::default();
            for op in &ops {
                apply(&files, &who, &mut model, op).await;
                check(&files, &model).await;
            }
        });
    }
}
