//! Decisions of the built-in policies: a table for every standard role ×
//! action × resource, and properties that must hold for any input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use chrono::{TimeDelta, TimeZone, Utc};
use guss_core::{
    Action, Context, Decision, DevicePosture, GroupId, PersonId, Resource, ResourceKind, Scope,
    ShareLinkId, TenantId,
};
use guss_policy::{
    Grant, Grantee, PolicyEngine, PrincipalFacts, Query, ResourceFacts, ShareLevel, ShareLinkFacts,
    Subject,
};
use proptest::prelude::*;

/// Building the engine parses and validates the schema and policies: once per test binary.
fn engine() -> &'static PolicyEngine {
    static ENGINE: std::sync::OnceLock<PolicyEngine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| PolicyEngine::new().unwrap())
}

struct Office {
    engine: PolicyEngine,
    tenant: TenantId,
    colleague: PersonId,
    team: GroupId,
}

impl Office {
    fn new() -> Self {
        Office {
            engine: PolicyEngine::new().unwrap(),
            tenant: TenantId::new(),
            colleague: PersonId::new(),
            team: GroupId::new(),
        }
    }

    fn decide(
        &self,
        who: &PrincipalFacts,
        action: &Action,
        resource: &Resource,
        facts: &ResourceFacts,
    ) -> Decision {
        self.decide_with(who, action, resource, facts, &Context::new())
    }

    fn decide_with(
        &self,
        who: &PrincipalFacts,
        action: &Action,
        resource: &Resource,
        facts: &ResourceFacts,
        context: &Context,
    ) -> Decision {
        let query = Query {
            principal: who,
            action,
            resource,
            facts,
            context,
        };
        let answer = self.engine.decide(self.tenant, &query);
        assert!(answer.errors.is_empty(), "{:?}", answer.errors);
        answer.decision
    }

    fn resource(&self, kind: ResourceKind, id: &str) -> Resource {
        Resource::new(self.tenant, kind, id).unwrap()
    }
}

const ACTIONS: [Action; 5] = [
    Action::READ,
    Action::WRITE,
    Action::DELETE,
    Action::SHARE,
    Action::ADMINISTER,
];

#[test]
fn every_standard_role_action_and_resource() {
    let office = Office::new();
    let tenant = office.resource(ResourceKind::TENANT, &office.tenant.to_string());
    // "A" = allowed for: Owner, Admin, Member, Guest; read/write/delete/share/administer per row.
    // Each cell lists the actions allowed, in the order of ACTIONS.
    let table: &[(&str, [&str; 4])] = &[
        // resource                          owner     admin     member    guest
        ("tenant", ["....A", "....A", ".....", "....."]),
        ("own mailbox", ["RWDS.", "RWDS.", "RWDS.", "RWD.."]),
        ("colleague's mailbox", [".....", ".....", ".....", "....."]),
        (
            "folder shared to view",
            ["R....", "R....", "R....", "R...."],
        ),
        (
            "folder shared to the team, edit",
            ["RWD..", "RWD..", "RWD..", "RWD.."],
        ),
        (
            "folder shared to manage",
            ["RWDS.", "RWDS.", "RWDS.", "RWD.."],
        ),
    ];
    for (role_index, role) in ["owner", "admin", "member", "guest"]
        .into_iter()
        .enumerate()
    {
        let me = PersonId::new();
        let who = PrincipalFacts::Person(Subject::new(me, [role], vec![office.team]));
        let mailbox = office.resource(ResourceKind::MAILBOX, "m");
        let folder = office.resource(ResourceKind::FOLDER, "f");
        let cases: [(&str, &Resource, ResourceFacts); 6] = [
            ("tenant", &tenant, ResourceFacts::default()),
            (
                "own mailbox",
                &mailbox,
                ResourceFacts::owned_by(me, Scope::Mail),
            ),
            (
                "colleague's mailbox",
                &mailbox,
                ResourceFacts::owned_by(office.colleague, Scope::Mail),
            ),
            (
                "folder shared to view",
                &folder,
                ResourceFacts::unowned(Scope::Files).shared(Grantee::Person(me), ShareLevel::View),
            ),
            (
                "folder shared to the team, edit",
                &folder,
                ResourceFacts::unowned(Scope::Files)
                    .shared(Grantee::Group(office.team), ShareLevel::Edit),
            ),
            (
                "folder shared to manage",
                &folder,
                ResourceFacts::unowned(Scope::Files)
                    .shared(Grantee::Person(me), ShareLevel::Manage),
            ),
        ];
        for (name, resource, facts) in &cases {
            let expected = table.iter().find(|(n, _)| n == name).unwrap().1[role_index];
            for (i, action) in ACTIONS.iter().enumerate() {
                // administer applies to the tenant only; content actions to content only.
                let applies = (*action == Action::ADMINISTER) == (*name == "tenant");
                if !applies {
                    continue;
                }
                let allowed = expected.as_bytes()[i] != b'.';
                let got = office.decide(&who, action, resource, facts);
                assert_eq!(got.is_allowed(), allowed, "{role} {action} on {name}");
            }
        }
    }
}

#[test]
fn inactive_people_can_do_nothing_even_with_their_own_data() {
    let office = Office::new();
    let me = PersonId::new();
    let who = PrincipalFacts::Person(Subject::new(me, ["owner"], vec![]).inactive());
    let mailbox = office.resource(ResourceKind::MAILBOX, "m");
    assert_eq!(
        office.decide(
            &who,
            &Action::READ,
            &mailbox,
            &ResourceFacts::owned_by(me, Scope::Mail)
        ),
        Decision::Deny
    );
    let tenant = office.resource(ResourceKind::TENANT, &office.tenant.to_string());
    assert_eq!(
        office.decide(
            &who,
            &Action::ADMINISTER,
            &tenant,
            &ResourceFacts::default()
        ),
        Decision::Deny
    );
}

#[test]
fn sensitive_resources_need_a_compliant_device() {
    let office = Office::new();
    let me = PersonId::new();
    let who = PrincipalFacts::Person(Subject::new(me, ["member"], vec![]));
    let records = office.resource(ResourceKind::FOLDER, "patient-records");
    let facts = ResourceFacts::owned_by(me, Scope::Files).sensitive();
    assert_eq!(
        office.decide(&who, &Action::READ, &records, &facts),
        Decision::Deny,
        "no posture reported"
    );
    let outdated = Context::new().with_device(DevicePosture::new(true, true, false));
    assert_eq!(
        office.decide_with(&who, &Action::READ, &records, &facts, &outdated),
        Decision::Deny
    );
    let compliant = Context::new().with_device(DevicePosture::new(true, true, true));
    assert_eq!(
        office.decide_with(&who, &Action::READ, &records, &facts, &compliant),
        Decision::Allow
    );
}

#[test]
fn share_links_open_only_their_target() {
    let office = Office::new();
    let folder = office.resource(ResourceKind::FOLDER, "client-a");
    let inside = office.resource(ResourceKind::FILE, "contract.pdf");
    let elsewhere = office.resource(ResourceKind::FILE, "other.pdf");
    let view = PrincipalFacts::ShareLink(ShareLinkFacts::new(
        ShareLinkId::new(),
        folder.clone(),
        true,
        false,
    ));
    let upload = PrincipalFacts::ShareLink(ShareLinkFacts::new(
        ShareLinkId::new(),
        folder.clone(),
        false,
        true,
    ));
    let in_folder = ResourceFacts::unowned(Scope::Files).within(folder.clone());
    let outside = ResourceFacts::unowned(Scope::Files);
    assert_eq!(
        office.decide(&view, &Action::READ, &inside, &in_folder),
        Decision::Allow
    );
    assert_eq!(
        office.decide(&view, &Action::WRITE, &inside, &in_folder),
        Decision::Deny
    );
    assert_eq!(
        office.decide(&view, &Action::READ, &elsewhere, &outside),
        Decision::Deny
    );
    assert_eq!(
        office.decide(&upload, &Action::WRITE, &inside, &in_folder),
        Decision::Allow
    );
    assert_eq!(
        office.decide(&upload, &Action::READ, &inside, &in_folder),
        Decision::Deny,
        "upload-only"
    );
    assert_eq!(
        office.decide(&view, &Action::SHARE, &inside, &in_folder),
        Decision::Deny
    );
}

fn grant(
    office: &Office,
    deputy: PersonId,
    represented: PersonId,
    hours: (i64, i64),
    scopes: Vec<Scope>,
    write: bool,
) -> Grant {
    let base = Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap();
    serde_json::from_value(serde_json::json!({
        "id": uuid::Uuid::now_v7(),
        "tenant": office.tenant,
        "deputy": deputy,
        "represented": represented,
        "starts_at": base + TimeDelta::hours(hours.0),
        "ends_at": base + TimeDelta::hours(hours.1),
        "scopes": scopes,
        "write": write,
        "reason": "holiday",
    }))
    .unwrap()
}

#[test]
fn deputies_act_within_scope_and_level_of_their_grant() {
    let office = Office::new();
    let (lawyer, representative) = (PersonId::new(), PersonId::new());
    let mailbox = office.resource(ResourceKind::MAILBOX, "lawyer");
    let calendar = office.resource(ResourceKind::CALENDAR, "lawyer");
    let files = office.resource(ResourceKind::FOLDER, "lawyer-home");
    let read_mail = grant(
        &office,
        representative,
        lawyer,
        (0, 24),
        vec![Scope::Mail],
        false,
    );
    let who = PrincipalFacts::Deputy {
        deputy: Subject::new(representative, ["member"], vec![]),
        represented: lawyer,
        grants: vec![read_mail],
    };
    assert_eq!(
        office.decide(
            &who,
            &Action::READ,
            &mailbox,
            &ResourceFacts::owned_by(lawyer, Scope::Mail)
        ),
        Decision::Allow
    );
    assert_eq!(
        office.decide(
            &who,
            &Action::WRITE,
            &mailbox,
            &ResourceFacts::owned_by(lawyer, Scope::Mail)
        ),
        Decision::Deny
    );
    assert_eq!(
        office.decide(
            &who,
            &Action::READ,
            &calendar,
            &ResourceFacts::owned_by(lawyer, Scope::Calendar)
        ),
        Decision::Deny
    );
    assert_eq!(
        office.decide(
            &who,
            &Action::READ,
            &files,
            &ResourceFacts::owned_by(lawyer, Scope::Files)
        ),
        Decision::Deny
    );
    assert_eq!(
        office.decide(
            &who,
            &Action::DELETE,
            &mailbox,
            &ResourceFacts::owned_by(lawyer, Scope::Mail)
        ),
        Decision::Deny
    );
    // Not someone else's mailbox.
    let other = PersonId::new();
    assert_eq!(
        office.decide(
            &who,
            &Action::READ,
            &mailbox,
            &ResourceFacts::owned_by(other, Scope::Mail)
        ),
        Decision::Deny
    );
    // act_for the represented person, nobody else.
    let person = |p: PersonId| office.resource(ResourceKind::PERSON, &p.to_string());
    assert_eq!(
        office.decide(
            &who,
            &Action::ACT_FOR,
            &person(lawyer),
            &ResourceFacts::default()
        ),
        Decision::Allow
    );
    assert_eq!(
        office.decide(
            &who,
            &Action::ACT_FOR,
            &person(other),
            &ResourceFacts::default()
        ),
        Decision::Deny
    );
}

#[test]
fn explanations_name_the_deciding_policies() {
    let office = Office::new();
    let me = PersonId::new();
    let who = PrincipalFacts::Person(Subject::new(me, ["guest"], vec![]));
    let folder = office.resource(ResourceKind::FOLDER, "f");
    let facts =
        ResourceFacts::unowned(Scope::Files).shared(Grantee::Person(me), ShareLevel::Manage);
    let query = Query {
        principal: &who,
        action: &Action::SHARE,
        resource: &folder,
        facts: &facts,
        context: &Context::new(),
    };
    let answer = office.engine.decide(office.tenant, &query);
    assert_eq!(answer.decision, Decision::Deny);
    assert_eq!(answer.policies, ["guests-never-reshare"]);
}

#[test]
fn tenant_policies_are_validated_and_bad_ones_change_nothing() {
    let office = Office::new();
    let me = PersonId::new();
    let who = PrincipalFacts::Person(Subject::new(me, ["member"], vec![]));
    let folder = office.resource(ResourceKind::FOLDER, "archive");
    let facts = ResourceFacts::unowned(Scope::Files);
    assert_eq!(
        office.decide(&who, &Action::READ, &folder, &facts),
        Decision::Deny
    );

    // Members may read everything in files: the office's own rule.
    let rule = r#"@id("members-read-files") permit (principal in Guss::Role::"member", action == Guss::Action::"read", resource) when { resource has scope && resource.scope == "files" };"#;
    assert_eq!(
        office
            .engine
            .set_tenant_policies(office.tenant, rule)
            .unwrap(),
        1
    );
    let query = Query {
        principal: &who,
        action: &Action::READ,
        resource: &folder,
        facts: &facts,
        context: &Context::new(),
    };
    let answer = office.engine.decide(office.tenant, &query);
    assert_eq!(answer.decision, Decision::Allow);
    assert_eq!(answer.policies, ["tenant:members-read-files"]);

    // A typo in an attribute, a syntax error, an unknown action: rejected, rule above still in force.
    for bad in [
        r#"permit (principal, action, resource) when { resource.nonexistent == 1 };"#,
        r#"permit (principal action resource);"#,
        r#"permit (principal, action == Guss::Action::"fly", resource);"#,
    ] {
        let err = office
            .engine
            .set_tenant_policies(office.tenant, bad)
            .unwrap_err();
        assert!(matches!(err, guss_policy::Error::Invalid { .. }), "{err}");
    }
    assert_eq!(
        office.decide(&who, &Action::READ, &folder, &facts),
        Decision::Allow
    );

    // Another tenant is unaffected by this tenant's rule.
    let other = Office::new();
    let resource = other.resource(ResourceKind::FOLDER, "archive");
    assert_eq!(
        other.decide(&who, &Action::READ, &resource, &facts),
        Decision::Deny
    );
    office.engine.clear_tenant_policies(office.tenant);
    assert_eq!(
        office.decide(&who, &Action::READ, &folder, &facts),
        Decision::Deny
    );
}

fn any_role() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "owner",
        "admin",
        "member",
        "guest",
        "deputy",
        "front_desk",
    ])
}

fn any_action() -> impl Strategy<Value = Action> {
    prop::sample::select(vec![
        Action::READ,
        Action::WRITE,
        Action::DELETE,
        Action::SHARE,
        Action::ADMINISTER,
        Action::ACT_FOR,
    ])
}

fn any_kind() -> impl Strategy<Value = ResourceKind> {
    prop::sample::select(vec![
        ResourceKind::TENANT,
        ResourceKind::PERSON,
        ResourceKind::MAILBOX,
        ResourceKind::CALENDAR,
        ResourceKind::EVENT,
        ResourceKind::FOLDER,
        ResourceKind::FILE,
    ])
}

proptest! {
    /// Whatever the roles, shares and ownership, nobody reaches a resource of another tenant.
    #[test]
    fn nobody_reaches_another_tenant(role in any_role(), action in any_action(), kind in any_kind(), owned in any::<bool>(), shared in any::<bool>()) {
        let (mine, theirs) = (TenantId::new(), TenantId::new());
        let me = PersonId::new();
        let who = PrincipalFacts::Person(Subject::new(me, [role], vec![]));
        let id = if kind == ResourceKind::TENANT { theirs.to_string() } else { "x".to_owned() };
        let resource = Resource::new(theirs, kind, id).unwrap();
        let mut facts = if owned { ResourceFacts::owned_by(me, Scope::Files) } else { ResourceFacts::unowned(Scope::Files) };
        if shared {
            facts = facts.shared(Grantee::Person(me), ShareLevel::Manage);
        }
        let query = Query { principal: &who, action: &action, resource: &resource, facts: &facts, context: &Context::new() };
        prop_assert_eq!(engine().decide(mine, &query).decision, Decision::Deny);
    }

    /// A grant outside its time window grants nothing.
    #[test]
    fn expired_or_future_grants_grant_nothing(start in -100i64..100, length in 1i64..50, now in -200i64..200, write in any::<bool>(), action in any_action()) {
        let office = Office::new();
        let (lawyer, deputy) = (PersonId::new(), PersonId::new());
        let g = grant(&office, deputy, lawyer, (start, start + length), vec![Scope::Mail, Scope::Calendar, Scope::Files], write);
        let at = Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap() + TimeDelta::hours(now);
        // The grant source hands the engine only grants in force; outside the window there are none.
        let grants = if g.is_active(at) { vec![g] } else { vec![] };
        let in_force = !grants.is_empty();
        let who = PrincipalFacts::Deputy { deputy: Subject::new(deputy, ["member"], vec![]), represented: lawyer, grants };
        let mailbox = office.resource(ResourceKind::MAILBOX, "lawyer");
        let decision = office.decide(&who, &action, &mailbox, &ResourceFacts::owned_by(lawyer, Scope::Mail));
        let expected = in_force && (action == Action::READ || (action == Action::WRITE && write));
        prop_assert_eq!(decision.is_allowed(), expected);
    }
}
