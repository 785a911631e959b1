//! Decisions per second and their latency for a realistic tenant: 50 people
//! in 6 groups, 200 resources with shares to people and groups, deputy
//! grants, device posture.
//!
//! `cargo bench -p guss-policy --bench decisions`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use chrono::{TimeDelta, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use guss_core::{
    Action, Context, DevicePosture, GroupId, PersonId, Resource, ResourceKind, Scope, TenantId,
};
use guss_policy::{
    Grant, Grantee, PolicyEngine, PrincipalFacts, Query, ResourceFacts, ShareLevel, Subject,
};

fn bench(c: &mut Criterion) {
    let engine = PolicyEngine::new().unwrap();
    let tenant = TenantId::new();
    let groups: Vec<GroupId> = (0..6).map(|_| GroupId::new()).collect();
    let people: Vec<Subject> = (0..50)
        .map(|i| {
            let role = match i {
                0 | 1 => "owner",
                2 | 3 => "admin",
                45..=49 => "guest",
                _ => "member",
            };
            Subject::new(
                PersonId::new(),
                [role],
                vec![groups[i % 6], groups[(i + 1) % 6]],
            )
        })
        .collect();
    let kinds = [
        ResourceKind::MAILBOX,
        ResourceKind::CALENDAR,
        ResourceKind::FOLDER,
        ResourceKind::FILE,
    ];
    let parent = Resource::new(tenant, ResourceKind::FOLDER, "shared-root").unwrap();
    let resources: Vec<(Resource, ResourceFacts)> = (0..200)
        .map(|i| {
            let kind = kinds[i % 4].clone();
            let owner = people[i % 50].person;
            let scope = [Scope::Mail, Scope::Calendar, Scope::Files, Scope::Files][i % 4];
            let mut facts = if i % 3 == 0 {
                ResourceFacts::unowned(scope)
            } else {
                ResourceFacts::owned_by(owner, scope)
            };
            for s in 0..(i % 5) {
                facts = facts.shared(
                    Grantee::Person(people[(i + s * 7) % 50].person),
                    ShareLevel::View,
                );
            }
            facts = facts
                .shared(Grantee::Group(groups[i % 6]), ShareLevel::Edit)
                .within(parent.clone());
            if i % 10 == 0 {
                facts = facts.sensitive();
            }
            (Resource::new(tenant, kind, format!("r{i}")).unwrap(), facts)
        })
        .collect();
    let now = Utc::now();
    let grant: Grant = serde_json::from_value(serde_json::json!({
        "id": uuid::Uuid::now_v7(), "tenant": tenant, "deputy": people[5].person, "represented": people[6].person,
        "starts_at": now - TimeDelta::days(1), "ends_at": now + TimeDelta::days(1),
        "scopes": ["mail", "calendar"], "write": true, "reason": "holiday",
    }))
    .unwrap();
    let principals: Vec<PrincipalFacts> = people
        .iter()
        .map(|p| PrincipalFacts::Person(p.clone()))
        .chain([PrincipalFacts::Deputy {
            deputy: people[5].clone(),
            represented: people[6].person,
            grants: vec![grant],
        }])
        .collect();
    let actions = [Action::READ, Action::WRITE, Action::DELETE, Action::SHARE];
    let contexts = [
        Context::new(),
        Context::new().with_device(DevicePosture::new(true, true, true)),
    ];

    // A fixed, varied sequence of queries.
    let queries: Vec<(usize, usize, usize, usize)> = (0..997)
        .map(|i| {
            (
                i % principals.len(),
                (i * 7) % resources.len(),
                i % 4,
                i % 2,
            )
        })
        .collect();
    let allowed = queries
        .iter()
        .filter(|(p, r, a, c)| {
            let query = Query {
                principal: &principals[*p],
                action: &actions[*a],
                resource: &resources[*r].0,
                facts: &resources[*r].1,
                context: &contexts[*c],
            };
            engine.decide(tenant, &query).decision.is_allowed()
        })
        .count();
    eprintln!("{allowed} of {} queries allowed", queries.len());

    let mut group = c.benchmark_group("decisions (50-person tenant)");
    group.throughput(Throughput::Elements(1));
    let mut next = 0usize;
    group.bench_function("decide", |b| {
        b.iter(|| {
            let (p, r, a, ctx) = queries[next % queries.len()];
            next += 1;
            let query = Query {
                principal: &principals[p],
                action: &actions[a],
                resource: &resources[r].0,
                facts: &resources[r].1,
                context: &contexts[ctx],
            };
            engine.decide(tenant, &query)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
