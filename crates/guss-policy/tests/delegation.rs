//! Deputies end to end: grants stored on SQLite and PostgreSQL, decided by
//! the engine behind `guss_core::Authorizer`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{TimeDelta, TimeZone, Utc};
use guss_core::{
    Action, Authorizer as _, Context, FixedClock, MemoryEventSink, PersonId, Principal, Resource,
    ResourceKind, Scope, ShareLinkId, TenantId,
};
use guss_policy::delegation::{Delegations, DeputyOf};
use guss_policy::store::SqlPolicyStore;
use guss_policy::{
    EntityLoader, PolicyAuthorizer, PolicyEngine, ResourceFacts, ShareLinkFacts, Subject,
};
use guss_testkit::{Backend, backend_tests};

/// The office: everyone is a member; mailboxes and calendars are named after their owner.
struct Office {
    lawyer: PersonId,
    representative: PersonId,
}

#[async_trait]
impl EntityLoader for Office {
    async fn subject(&self, _: TenantId, person: PersonId) -> guss_core::Result<Option<Subject>> {
        Ok(Some(Subject::new(person, ["member"], vec![])))
    }

    async fn resource(&self, resource: &Resource) -> guss_core::Result<Option<ResourceFacts>> {
        let owner = if resource.id().starts_with("lawyer") {
            self.lawyer
        } else {
            self.representative
        };
        let scope = match resource.kind().as_str() {
            "mailbox" => Scope::Mail,
            "calendar" | "event" => Scope::Calendar,
            _ => Scope::Files,
        };
        Ok(Some(ResourceFacts::owned_by(owner, scope)))
    }

    async fn share_link(
        &self,
        _: TenantId,
        _: ShareLinkId,
    ) -> guss_core::Result<Option<ShareLinkFacts>> {
        Ok(None)
    }
}

backend_tests! {
    async fn lawyer_absence_grants_exactly_mail_and_calendar_for_the_period(db: TestDb) {
        let location = match db.backend() {
            Backend::Sqlite => db.dir().unwrap().join("policy").display().to_string(),
            Backend::Postgres => db.url().to_owned(),
        };
        let store = SqlPolicyStore::open(&location).await.unwrap();
        let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2026, 7, 31, 12, 0, 0).unwrap()));
        let events = Arc::new(MemoryEventSink::new());
        let delegations = Arc::new(Delegations::new(store, clock.clone(), events.clone()));
        let office = Office { lawyer: PersonId::new(), representative: PersonId::new() };
        let (lawyer, representative) = (office.lawyer, office.representative);
        let authorizer = PolicyAuthorizer::new(Arc::new(PolicyEngine::new().unwrap()), Arc::new(office), delegations.clone(), clock.clone());
        let tenant = TenantId::new();
        let owner = Principal::Person { tenant, person: PersonId::new() };

        let from = Utc.with_ymd_and_hms(2026, 8, 1, 0, 0, 0).unwrap();
        let grant = delegations.lawyer_absence(&owner, representative, lawyer, from, from + TimeDelta::days(14)).await.unwrap();
        delegations.name_deputy(&owner, DeputyOf::Person(lawyer), representative).await.unwrap();
        assert_eq!(delegations.deputies(tenant).await.unwrap(), [(DeputyOf::Person(lawyer), representative)]);

        let acting = Principal::Deputy { tenant, deputy: representative, represented: lawyer };
        let resource = |kind, id: &str| Resource::new(tenant, kind, id).unwrap();
        let mailbox = resource(ResourceKind::MAILBOX, "lawyer-mail");
        let calendar = resource(ResourceKind::CALENDAR, "lawyer-calendar");
        let files = resource(ResourceKind::FOLDER, "lawyer-files");
        let allowed = |action: Action, resource: Resource| {
            let authorizer = &authorizer;
            let acting = acting.clone();
            async move { authorizer.authorize(&acting, &action, &resource, &Context::new()).await.is_allowed() }
        };

        // Before the absence: nothing.
        assert!(!allowed(Action::READ, mailbox.clone()).await);
        clock.set(from + TimeDelta::days(1));
        assert!(allowed(Action::READ, mailbox.clone()).await);
        assert!(allowed(Action::WRITE, mailbox.clone()).await, "send");
        assert!(allowed(Action::WRITE, calendar.clone()).await);
        assert!(!allowed(Action::DELETE, mailbox.clone()).await);
        assert!(!allowed(Action::READ, files.clone()).await, "files are not part of the preset");
        let explanation = authorizer.explain(&acting, &Action::READ, &mailbox, &Context::new()).await;
        assert_eq!(explanation.policies, ["deputies-act-within-their-grant"]);

        // After the absence: nothing again.
        clock.set(from + TimeDelta::days(14));
        assert!(!allowed(Action::READ, mailbox.clone()).await);

        // Revoked during the absence: nothing.
        clock.set(from + TimeDelta::days(2));
        delegations.revoke(&owner, grant.id).await.unwrap();
        assert!(!allowed(Action::READ, calendar.clone()).await);

        // The lawyer sees who acted for them, and everything is evented.
        let seen = delegations.grants_concerning(tenant, lawyer).await.unwrap();
        assert!(seen.is_empty(), "revoked grants are no longer listed");
        let types = events.types();
        assert!(types.iter().any(|t| t == "guss.policy.delegation.granted"));
        assert!(types.iter().any(|t| t == "guss.policy.delegation.revoked"));
        let granted = events.events().into_iter().find(|e| e.kind().as_str() == "guss.policy.delegation.granted").unwrap();
        assert_eq!(granted.data().unwrap()["notify_person"], serde_json::json!(lawyer));

        // Another tenant's deputy principal never reaches this tenant's resources.
        let stranger = Principal::Deputy { tenant: TenantId::new(), deputy: representative, represented: lawyer };
        assert!(!authorizer.authorize(&stranger, &Action::READ, &mailbox, &Context::new()).await.is_allowed());
    }

    async fn bad_grants_are_refused(db: TestDb) {
        let location = match db.backend() {
            Backend::Sqlite => db.dir().unwrap().join("policy").display().to_string(),
            Backend::Postgres => db.url().to_owned(),
        };
        let store = SqlPolicyStore::open(&location).await.unwrap();
        let clock = Arc::new(FixedClock::new(Utc::now()));
        let delegations = Delegations::new(store, clock, Arc::new(MemoryEventSink::new()));
        let tenant = TenantId::new();
        let owner = Principal::Person { tenant, person: PersonId::new() };
        let (a, b) = (PersonId::new(), PersonId::new());
        let now = Utc::now();
        assert!(delegations.grant(&owner, a, a, now, now + TimeDelta::days(1), &[Scope::Mail], false, "self").await.is_err());
        assert!(delegations.grant(&owner, a, b, now, now, &[Scope::Mail], false, "empty").await.is_err());
        assert!(delegations.grant(&owner, a, b, now, now + TimeDelta::days(400), &[Scope::Mail], false, "too long").await.is_err());
        assert!(delegations.grant(&owner, a, b, now, now + TimeDelta::days(1), &[], false, "nothing").await.is_err());
        assert!(delegations.grant(&owner, a, b, now, now + TimeDelta::days(1), &[Scope::Mail], false, &"x".repeat(501)).await.is_err());
        assert!(delegations.grants_concerning(tenant, a).await.unwrap().is_empty());
    }
}
