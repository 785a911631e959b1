//! A small law office, and what the policy engine decides for it.
//!
//! `cargo run -p guss-policy --example policy-check`
//!
//! Dr. Schmidt owns the office; Müller and Weber are lawyers; Yilmaz is the
//! assistant. The client folder "Meyer ./. Bau GmbH" is shared with the
//! lawyers' group to edit and with Yilmaz to view, and Weber represents
//! Müller during Müller's holiday (read and send, mail and calendar). Every
//! decision is printed with the policies that made it.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{TimeDelta, TimeZone, Utc};
use guss_core::{
    Action, Context, DevicePosture, FixedClock, GroupId, PersonId, Principal, Resource,
    ResourceKind, Scope, ShareLinkId, TenantId,
};
use guss_policy::{
    EntityLoader, Grant, GrantSource, Grantee, PolicyAuthorizer, PolicyEngine, ResourceFacts,
    ShareLevel, ShareLinkFacts, Subject,
};

struct Office {
    people: HashMap<PersonId, Subject>,
    resources: HashMap<String, ResourceFacts>,
    links: HashMap<ShareLinkId, ShareLinkFacts>,
    grants: Vec<Grant>,
}

#[async_trait]
impl EntityLoader for Office {
    async fn subject(&self, _: TenantId, person: PersonId) -> guss_core::Result<Option<Subject>> {
        Ok(self.people.get(&person).cloned())
    }

    async fn resource(&self, resource: &Resource) -> guss_core::Result<Option<ResourceFacts>> {
        Ok(self.resources.get(resource.id()).cloned())
    }

    async fn share_link(
        &self,
        _: TenantId,
        link: ShareLinkId,
    ) -> guss_core::Result<Option<ShareLinkFacts>> {
        Ok(self.links.get(&link).cloned())
    }
}

#[async_trait]
impl GrantSource for Office {
    async fn active_grants(
        &self,
        tenant: TenantId,
        deputy: PersonId,
        represented: PersonId,
        at: chrono::DateTime<Utc>,
    ) -> guss_core::Result<Vec<Grant>> {
        Ok(self
            .grants
            .iter()
            .filter(|g| {
                g.tenant == tenant
                    && g.deputy == deputy
                    && g.represented == represented
                    && g.is_active(at)
            })
            .cloned()
            .collect())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let tenant = TenantId::new();
    let lawyers = GroupId::new();
    let (schmidt, mueller, weber, yilmaz) = (
        PersonId::new(),
        PersonId::new(),
        PersonId::new(),
        PersonId::new(),
    );
    let names = HashMap::from([
        (schmidt, "Dr. Schmidt (owner)"),
        (mueller, "Müller (lawyer)"),
        (weber, "Weber (lawyer)"),
        (yilmaz, "Yilmaz (assistant)"),
    ]);
    let people = HashMap::from([
        (
            schmidt,
            Subject::new(schmidt, ["owner", "member"], vec![lawyers]),
        ),
        (mueller, Subject::new(mueller, ["member"], vec![lawyers])),
        (weber, Subject::new(weber, ["member"], vec![lawyers])),
        (yilmaz, Subject::new(yilmaz, ["member"], vec![])),
    ]);
    let client_folder = Resource::new(tenant, ResourceKind::FOLDER, "meyer").unwrap();
    let resources = HashMap::from([
        (
            "meyer".to_owned(),
            ResourceFacts::unowned(Scope::Files)
                .shared(Grantee::Group(lawyers), ShareLevel::Edit)
                .shared(Grantee::Person(yilmaz), ShareLevel::View)
                .sensitive(),
        ),
        (
            "meyer-statement.pdf".to_owned(),
            ResourceFacts::unowned(Scope::Files)
                .within(client_folder.clone())
                .shared(Grantee::Group(lawyers), ShareLevel::Edit)
                .shared(Grantee::Person(yilmaz), ShareLevel::View),
        ),
        (
            "mueller-mail".to_owned(),
            ResourceFacts::owned_by(mueller, Scope::Mail),
        ),
        (
            "mueller-calendar".to_owned(),
            ResourceFacts::owned_by(mueller, Scope::Calendar),
        ),
        (
            "mueller-files".to_owned(),
            ResourceFacts::owned_by(mueller, Scope::Files),
        ),
    ]);
    let upload_link = ShareLinkId::new();
    let links = HashMap::from([(
        upload_link,
        ShareLinkFacts::new(upload_link, client_folder.clone(), false, true),
    )]);
    let holiday = Utc.with_ymd_and_hms(2026, 8, 3, 0, 0, 0).unwrap();
    let grants =
        vec![serde_json::from_value(serde_json::json!({
        "id": uuid::Uuid::now_v7(), "tenant": tenant, "deputy": weber, "represented": mueller,
        "starts_at": holiday, "ends_at": holiday + TimeDelta::days(14),
        "scopes": ["mail", "calendar"], "write": true, "reason": "Urlaubsvertretung",
    }))
    .unwrap()];
    let office = Arc::new(Office {
        people,
        resources,
        links,
        grants,
    });
    let clock = Arc::new(FixedClock::new(holiday + TimeDelta::days(3)));
    let engine = Arc::new(PolicyEngine::new().expect("the built-in policies validate"));
    let authorizer = PolicyAuthorizer::new(engine, office.clone(), office, clock);

    let resource = |kind, id: &str| Resource::new(tenant, kind, id).unwrap();
    let person = |p| Principal::Person { tenant, person: p };
    let laptop = Context::new().with_device(DevicePosture::new(true, true, true));
    let phone_unknown = Context::new().with_device(DevicePosture::new(false, false, true));
    let cases: Vec<(String, Principal, Action, Resource, &str, Context)> = vec![
        (
            names[&schmidt].into(),
            person(schmidt),
            Action::ADMINISTER,
            resource(ResourceKind::TENANT, &tenant.to_string()),
            "the office",
            Context::new(),
        ),
        (
            names[&yilmaz].into(),
            person(yilmaz),
            Action::ADMINISTER,
            resource(ResourceKind::TENANT, &tenant.to_string()),
            "the office",
            Context::new(),
        ),
        (
            names[&mueller].into(),
            person(mueller),
            Action::WRITE,
            resource(ResourceKind::FOLDER, "meyer"),
            "client folder Meyer (laptop)",
            laptop.clone(),
        ),
        (
            names[&mueller].into(),
            person(mueller),
            Action::READ,
            resource(ResourceKind::FOLDER, "meyer"),
            "client folder Meyer (unknown phone)",
            phone_unknown,
        ),
        (
            names[&yilmaz].into(),
            person(yilmaz),
            Action::READ,
            resource(ResourceKind::FILE, "meyer-statement.pdf"),
            "statement in folder Meyer",
            Context::new(),
        ),
        (
            names[&yilmaz].into(),
            person(yilmaz),
            Action::WRITE,
            resource(ResourceKind::FILE, "meyer-statement.pdf"),
            "statement in folder Meyer",
            Context::new(),
        ),
        (
            names[&schmidt].into(),
            person(schmidt),
            Action::READ,
            resource(ResourceKind::MAILBOX, "mueller-mail"),
            "Müller's mailbox",
            Context::new(),
        ),
        (
            "Weber for Müller".into(),
            Principal::Deputy {
                tenant,
                deputy: weber,
                represented: mueller,
            },
            Action::WRITE,
            resource(ResourceKind::MAILBOX, "mueller-mail"),
            "Müller's mailbox (send)",
            Context::new(),
        ),
        (
            "Weber for Müller".into(),
            Principal::Deputy {
                tenant,
                deputy: weber,
                represented: mueller,
            },
            Action::READ,
            resource(ResourceKind::CALENDAR, "mueller-calendar"),
            "Müller's calendar",
            Context::new(),
        ),
        (
            "Weber for Müller".into(),
            Principal::Deputy {
                tenant,
                deputy: weber,
                represented: mueller,
            },
            Action::READ,
            resource(ResourceKind::FOLDER, "mueller-files"),
            "Müller's own files",
            Context::new(),
        ),
        (
            "Weber for Müller".into(),
            Principal::Deputy {
                tenant,
                deputy: weber,
                represented: mueller,
            },
            Action::DELETE,
            resource(ResourceKind::MAILBOX, "mueller-mail"),
            "Müller's mailbox",
            Context::new(),
        ),
        (
            "upload link (client Meyer)".into(),
            Principal::ShareLink {
                tenant,
                link: upload_link,
            },
            Action::WRITE,
            resource(ResourceKind::FILE, "meyer-statement.pdf"),
            "statement in folder Meyer",
            Context::new(),
        ),
        (
            "upload link (client Meyer)".into(),
            Principal::ShareLink {
                tenant,
                link: upload_link,
            },
            Action::READ,
            resource(ResourceKind::FILE, "meyer-statement.pdf"),
            "statement in folder Meyer",
            Context::new(),
        ),
    ];
    println!("{:<28} {:<11} {:<38} decision", "who", "action", "what");
    println!("{}", "-".repeat(100));
    for (who, principal, action, resource, what, context) in cases {
        let answer = authorizer
            .explain(&principal, &action, &resource, &context)
            .await;
        let verdict = if answer.decision.is_allowed() {
            "ALLOW"
        } else {
            "deny "
        };
        let why = if answer.policies.is_empty() {
            "no policy permits it".to_owned()
        } else {
            answer.policies.join(", ")
        };
        println!(
            "{who:<28} {:<11} {what:<38} {verdict}  ({why})",
            action.as_str()
        );
    }
}
