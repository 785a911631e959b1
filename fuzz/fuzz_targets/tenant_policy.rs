//! Tenant policy text and sharing data: never panic; a rejected policy set
//! changes nothing; no decision ever crosses tenants.
#![no_main]

use std::sync::OnceLock;

use guss_core::{Action, Context, Decision, GroupId, PersonId, Resource, ResourceKind, Scope, TenantId};
use guss_policy::{Grantee, PolicyEngine, PrincipalFacts, Query, ResourceFacts, ShareLevel, Subject};
use libfuzzer_sys::fuzz_target;

fn engine() -> &'static PolicyEngine {
    static ENGINE: OnceLock<PolicyEngine> = OnceLock::new();
    ENGINE.get_or_init(|| PolicyEngine::new().unwrap())
}

fuzz_target!(|data: &[u8]| {
    let engine = engine();
    let tenant = TenantId::new();
    let (policy, shares) = data.split_at(data.len().min(data.len() / 2 + 1).min(data.len()));
    let text = String::from_utf8_lossy(policy);
    let me = PersonId::new();
    let group = GroupId::new();
    let who = PrincipalFacts::Person(Subject::new(me, ["member"], vec![group]));
    let mut facts = ResourceFacts::unowned(Scope::Files);
    for byte in shares.iter().take(64) {
        let level = [ShareLevel::View, ShareLevel::Edit, ShareLevel::Manage][usize::from(byte % 3)];
        let grantee = if byte & 4 == 0 { Grantee::Person(me) } else { Grantee::Group(group) };
        facts = facts.shared(grantee, level);
    }
    let resource = Resource::new(tenant, ResourceKind::FILE, "f").unwrap();
    let before = engine.decide(tenant, &Query { principal: &who, action: &Action::READ, resource: &resource, facts: &facts, context: &Context::new() });
    if engine.set_tenant_policies(tenant, &text).is_err() {
        let after = engine.decide(tenant, &Query { principal: &who, action: &Action::READ, resource: &resource, facts: &facts, context: &Context::new() });
        assert_eq!(before.decision, after.decision, "a rejected policy set changed a decision");
    }
    // Whatever the tenant wrote, nothing crosses to another tenant.
    let foreign = Resource::new(TenantId::new(), ResourceKind::FILE, "f").unwrap();
    let crossed = engine.decide(tenant, &Query { principal: &who, action: &Action::READ, resource: &foreign, facts: &facts, context: &Context::new() });
    assert_eq!(crossed.decision, Decision::Deny);
    engine.clear_tenant_policies(tenant);
});
