//! The whole sign-in finish path with arbitrary client JSON: it never signs
//! anyone in, never panics, and leaves the tenant's passkey untouched.
#![no_main]

use std::sync::{Arc, OnceLock};

use guss_core::{DenyAll, MemoryEventSink, SystemClock, TenantId};
use guss_identity::store::SqlStore;
use guss_identity::{Client, Identity, RelyingParty};
use libfuzzer_sys::fuzz_target;

struct World {
    runtime: tokio::runtime::Runtime,
    identity: Identity<SqlStore>,
    tenant: TenantId,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (identity, tenant) = runtime.block_on(async {
            let store = SqlStore::open(&dir.path().display().to_string()).await.unwrap();
            let identity = Identity::new(store, Arc::new(SystemClock), Arc::new(MemoryEventSink::with_capacity(u64::MAX)), Arc::new(DenyAll));
            let rp = RelyingParty::new("kanzlei.example", ["https://kanzlei.example"]).unwrap();
            let (tenant, _) = identity.create_tenant("Fuzz", rp, "Anna", "anna@kanzlei.example".parse().unwrap()).await.unwrap();
            (identity, tenant.id)
        });
        World { runtime, identity, tenant, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(credential) = guss_identity::parse_assertion(text) else {
        return;
    };
    let w = world();
    w.runtime.block_on(async {
        let challenge = w.identity.start_sign_in(w.tenant, None).await.unwrap();
        let result = w.identity.finish_sign_in(w.tenant, &challenge.ceremony, &credential, &Client::default()).await;
        assert!(result.is_err(), "arbitrary input signed someone in");
    });
});
