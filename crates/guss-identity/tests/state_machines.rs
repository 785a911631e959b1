//! Property tests: random sequences of operations on sessions and ceremonies
//! against a simple model of what must hold.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use guss_core::{DenyAll, FixedClock, MemoryEventSink, PersonId, PersonStatus};
use guss_identity::store::{Ceremony, IdentityStore as _, Purpose, SqlStore, TenantRegistry as _};
use guss_identity::{AuthMethod, Identity, RelyingParty, SessionInfo};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum SessionOp {
    Advance(u32),
    Validate,
    Revoke,
    Suspend,
    Reactivate,
}

fn session_op() -> impl Strategy<Value = SessionOp> {
    prop_oneof![
        4 => (0u32..20 * 60).prop_map(SessionOp::Advance),
        4 => Just(SessionOp::Validate),
        1 => Just(SessionOp::Revoke),
        1 => Just(SessionOp::Suspend),
        1 => Just(SessionOp::Reactivate),
    ]
}

#[derive(Clone, Debug)]
enum CeremonyOp {
    Advance(u32),
    Start,
    Take(usize),
    Peek(usize),
}

fn ceremony_op() -> impl Strategy<Value = CeremonyOp> {
    prop_oneof![
        2 => (0u32..8 * 60).prop_map(CeremonyOp::Advance),
        2 => Just(CeremonyOp::Start),
        3 => (0usize..8).prop_map(CeremonyOp::Take),
        1 => (0usize..8).prop_map(CeremonyOp::Peek),
    ]
}

struct Setup {
    _dir: tempfile::TempDir,
    identity: Identity<SqlStore>,
    clock: Arc<FixedClock>,
    tenant: guss_core::TenantId,
    person: PersonId,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open(&dir.path().display().to_string())
        .await
        .unwrap();
    let clock = Arc::new(FixedClock::new(
        Utc.with_ymd_and_hms(2026, 3, 29, 0, 0, 0).unwrap(),
    ));
    let identity = Identity::new(
        store,
        clock.clone(),
        Arc::new(MemoryEventSink::new()),
        Arc::new(DenyAll),
    );
    let rp = RelyingParty::new("kanzlei.example", ["https://kanzlei.example"]).unwrap();
    let (tenant, link) = identity
        .create_tenant("T", rp, "Anna", "anna@kanzlei.example".parse().unwrap())
        .await
        .unwrap();
    Setup {
        _dir: dir,
        identity,
        clock,
        tenant: tenant.id,
        person: link.person,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// A session is valid exactly while it is unrevoked, its person active,
    /// it has been used within the idle limit and it is before its end.
    #[test]
    fn sessions_follow_the_model(ops in prop::collection::vec(session_op(), 1..40)) {
        runtime().block_on(async {
            let s = setup().await;
            let store = s.identity.store().scoped(s.tenant).await.unwrap();
            let settings = s.identity.settings().clone();
            let token = "a-session-token-for-the-model-0123456789abc";
            let start = s.clock.now_for_test();
            let session = SessionInfo::for_test(s.person, start, start + settings.session_absolute);
            store.insert_session(&ring_hash(token), &session).await.unwrap();

            let (mut revoked, mut active, mut last_seen) = (false, true, start);
            for op in ops {
                let now = s.clock.now_for_test();
                match op {
                    SessionOp::Advance(minutes) => s.clock.advance(TimeDelta::minutes(i64::from(minutes))),
                    SessionOp::Validate => {
                        let expected = !revoked && active && now < start + settings.session_absolute
                            && now - last_seen <= settings.session_idle;
                        let got = s.identity.session(s.tenant, token).await;
                        prop_assert_eq!(got.is_ok(), expected, "at {} (last seen {})", now, last_seen);
                        if expected && now - last_seen > TimeDelta::minutes(1) {
                            last_seen = now;
                        }
                    }
                    SessionOp::Revoke => {
                        let changed = store.revoke_session(s.person, session.id, now).await.unwrap();
                        prop_assert_eq!(changed, !revoked);
                        revoked = true;
                    }
                    SessionOp::Suspend => {
                        store.lock_out(s.person, PersonStatus::Suspended, now).await.unwrap();
                        active = false;
                        revoked = true; // suspension revokes every session
                    }
                    SessionOp::Reactivate => {
                        store.set_status(s.person, PersonStatus::Active).await.unwrap();
                        active = true;
                    }
                }
            }
            Ok(())
        })?;
    }

    /// Ceremony state can be taken once, before it expires, and never after.
    #[test]
    fn ceremonies_are_single_use_and_expire(ops in prop::collection::vec(ceremony_op(), 1..40)) {
        runtime().block_on(async {
            let s = setup().await;
            let store = s.identity.store().scoped(s.tenant).await.unwrap();
            let ttl = s.identity.settings().ceremony_ttl;
            // (id hash, expires at, taken)
            let mut started: Vec<(Vec<u8>, DateTime<Utc>, bool)> = Vec::new();
            for op in ops {
                let now = s.clock.now_for_test();
                match op {
                    CeremonyOp::Advance(seconds) => s.clock.advance(TimeDelta::seconds(i64::from(seconds))),
                    CeremonyOp::Start => {
                        let hash = ring_hash(&format!("ceremony-{}", started.len()));
                        let ceremony = Ceremony { person: None, purpose: Purpose::SignIn, state: serde_json::json!({}) };
                        store.insert_ceremony(&hash, &ceremony, now + ttl).await.unwrap();
                        started.push((hash, now + ttl, false));
                    }
                    CeremonyOp::Take(i) | CeremonyOp::Peek(i) if started.is_empty() => { let _ = i; }
                    CeremonyOp::Take(i) => {
                        let index = i % started.len();
                        let (hash, expires_at, taken) = started[index].clone();
                        let got = store.take_ceremony(&hash, now).await.unwrap();
                        prop_assert_eq!(got.is_some(), !taken && now < expires_at);
                        started[index].2 = true;
                    }
                    CeremonyOp::Peek(i) => {
                        let (hash, expires_at, taken) = started[i % started.len()].clone();
                        let got = store.peek_ceremony(&hash, now).await.unwrap();
                        prop_assert_eq!(got.is_some(), !taken && now < expires_at);
                    }
                }
            }
            Ok(())
        })?;
    }
}

/// The store keys tokens by SHA-256; tests talking to the store directly do the same.
fn ring_hash(token: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

trait NowForTest {
    fn now_for_test(&self) -> DateTime<Utc>;
}

impl NowForTest for FixedClock {
    fn now_for_test(&self) -> DateTime<Utc> {
        guss_core::Clock::now(self)
    }
}

trait SessionForTest {
    fn for_test(person: PersonId, at: DateTime<Utc>, expires_at: DateTime<Utc>) -> Self;
}

impl SessionForTest for SessionInfo {
    fn for_test(person: PersonId, at: DateTime<Utc>, expires_at: DateTime<Utc>) -> Self {
        serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::now_v7(),
            "person": person,
            "method": AuthMethod::Passkey,
            "label": "model",
            "created_at": at,
            "last_seen_at": at,
            "expires_at": expires_at,
            "step_up": null,
        }))
        .unwrap()
    }
}
