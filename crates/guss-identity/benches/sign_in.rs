//! Passkey sign-ins per second through the whole finish path (ceremony state
//! taken from SQLite, assertion verified, counter saved, session stored,
//! event emitted), against bare webauthn-rs verification of the same kind of
//! assertion on the same machine.
//!
//! `cargo bench -p guss-identity --bench sign_in`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use guss_core::{DenyAll, Event, EventSink, SystemClock};
use guss_identity::store::SqlStore;
use guss_identity::webauthn::Url;
use guss_identity::{Client, Identity, RelyingParty};
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::WebauthnBuilder;

/// Events are accepted and dropped: the audit log is not what is measured.
struct Discard;

#[async_trait::async_trait]
impl EventSink for Discard {
    async fn emit(&self, _: Event) -> guss_core::Result<()> {
        Ok(())
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let origin = Url::parse("https://kanzlei.example").unwrap();
    let dir = tempfile::tempdir().unwrap();

    // guss: a tenant with one enrolled person.
    let (identity, tenant, mut device) = rt.block_on(async {
        let store = SqlStore::open(&dir.path().display().to_string())
            .await
            .unwrap();
        let identity = Identity::new(
            store,
            Arc::new(SystemClock),
            Arc::new(Discard),
            Arc::new(DenyAll),
        );
        let rp = RelyingParty::new("kanzlei.example", ["https://kanzlei.example"]).unwrap();
        let (tenant, link) = identity
            .create_tenant(
                "Kanzlei",
                rp,
                "Anna",
                "anna@kanzlei.example".parse().unwrap(),
            )
            .await
            .unwrap();
        let mut device = SoftPasskey::new(true);
        let challenge = identity
            .start_enrollment(tenant.id, &link.token, "Laptop", &Client::default())
            .await
            .unwrap();
        let credential = device
            .do_registration(origin.clone(), challenge.options)
            .unwrap();
        identity
            .finish_enrollment(
                tenant.id,
                &challenge.ceremony,
                &credential,
                &Client::default(),
            )
            .await
            .unwrap();
        (identity, tenant.id, device)
    });
    let email = "anna@kanzlei.example".parse().unwrap();
    let client = Client::new(Some("192.0.2.1".parse().unwrap()), "bench");

    let mut group = c.benchmark_group("passkey sign-in finish");
    group.bench_function("guss (SQLite store, full path)", |b| {
        b.iter_batched(
            || {
                let challenge = rt
                    .block_on(identity.start_sign_in(tenant, Some(&email)))
                    .unwrap();
                let assertion = device
                    .do_authentication(origin.clone(), challenge.options)
                    .unwrap();
                (challenge.ceremony, assertion)
            },
            |(ceremony, assertion)| {
                rt.block_on(identity.finish_sign_in(tenant, &ceremony, &assertion, &client))
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });

    // Bare webauthn-rs: the same ceremony, state in memory, nothing stored.
    let webauthn = WebauthnBuilder::new("kanzlei.example", &origin)
        .unwrap()
        .build()
        .unwrap();
    let mut bare_device = SoftPasskey::new(true);
    let (options, state) = webauthn
        .start_passkey_registration(uuid::Uuid::new_v4(), "anna", "Anna", None)
        .unwrap();
    let registration = bare_device
        .do_registration(origin.clone(), options)
        .unwrap();
    let passkey = webauthn
        .finish_passkey_registration(&registration, &state)
        .unwrap();
    group.bench_function("bare webauthn-rs verification", |b| {
        b.iter_batched(
            || {
                let (options, state) = webauthn
                    .start_passkey_authentication(std::slice::from_ref(&passkey))
                    .unwrap();
                (
                    bare_device
                        .do_authentication(origin.clone(), options)
                        .unwrap(),
                    state,
                )
            },
            |(assertion, state)| {
                webauthn
                    .finish_passkey_authentication(&assertion, &state)
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
