//! The engine behind `guss_core::Authorizer`: it loads the slice of entities
//! a request touches through an [`EntityLoader`], the deputy grants in force
//! through a [`GrantSource`], and decides.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use guss_core::{
    Action, Clock, Context, Decision, PersonId, Principal, Resource, ResourceKind, ShareLinkId,
    TenantId,
};

use crate::engine::{Explanation, PolicyEngine, Query};
use crate::facts::{Grant, PrincipalFacts, ResourceFacts, ShareLinkFacts, Subject};

/// Supplies the entities of one request, from the crates that own them:
/// identity knows people, storage knows folders, calendar knows calendars.
#[async_trait]
pub trait EntityLoader: Send + Sync {
    /// A person's roles, groups and status; `None` if unknown.
    async fn subject(
        &self,
        tenant: TenantId,
        person: PersonId,
    ) -> guss_core::Result<Option<Subject>>;
    /// A resource's owner, service, ancestors and shares (inherited ones
    /// included); `None` if unknown.
    async fn resource(&self, resource: &Resource) -> guss_core::Result<Option<ResourceFacts>>;
    /// What a share link allows; `None` if unknown, expired or revoked.
    async fn share_link(
        &self,
        tenant: TenantId,
        link: ShareLinkId,
    ) -> guss_core::Result<Option<ShareLinkFacts>>;
}

/// Supplies deputy grants.
#[async_trait]
pub trait GrantSource: Send + Sync {
    /// Grants from `represented` to `deputy` in force at `at`.
    async fn active_grants(
        &self,
        tenant: TenantId,
        deputy: PersonId,
        represented: PersonId,
        at: DateTime<Utc>,
    ) -> guss_core::Result<Vec<Grant>>;
}

/// `guss_core::Authorizer` on the policy engine.
pub struct PolicyAuthorizer {
    engine: Arc<PolicyEngine>,
    loader: Arc<dyn EntityLoader>,
    grants: Arc<dyn GrantSource>,
    clock: Arc<dyn Clock>,
}

impl PolicyAuthorizer {
    /// An authorizer deciding with `engine` on what `loader` and `grants` supply.
    pub fn new(
        engine: Arc<PolicyEngine>,
        loader: Arc<dyn EntityLoader>,
        grants: Arc<dyn GrantSource>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        PolicyAuthorizer {
            engine,
            loader,
            grants,
            clock,
        }
    }

    /// The decision with its explanation.
    pub async fn explain(
        &self,
        principal: &Principal,
        action: &Action,
        resource: &Resource,
        context: &Context,
    ) -> Explanation {
        match self.load(principal, resource).await {
            Ok(Some((facts, resource_facts))) => self.engine.decide(
                resource.tenant(),
                &Query {
                    principal: &facts,
                    action,
                    resource,
                    facts: &resource_facts,
                    context,
                },
            ),
            Ok(None) => Explanation::deny("principal or resource unknown"),
            Err(e) => Explanation::deny(format!("could not load the entities: {e}")),
        }
    }

    async fn load(
        &self,
        principal: &Principal,
        resource: &Resource,
    ) -> guss_core::Result<Option<(PrincipalFacts, ResourceFacts)>> {
        let tenant = resource.tenant();
        if principal.tenant() != tenant {
            return Ok(None);
        }
        let facts = match principal {
            Principal::Person { person, .. } => self
                .loader
                .subject(tenant, *person)
                .await?
                .map(PrincipalFacts::Person),
            Principal::Deputy {
                deputy,
                represented,
                ..
            } => match self.loader.subject(tenant, *deputy).await? {
                Some(subject) => {
                    let grants = self
                        .grants
                        .active_grants(tenant, *deputy, *represented, self.clock.now())
                        .await?;
                    Some(PrincipalFacts::Deputy {
                        deputy: subject,
                        represented: *represented,
                        grants,
                    })
                }
                None => None,
            },
            Principal::ShareLink { link, .. } => self
                .loader
                .share_link(tenant, *link)
                .await?
                .map(PrincipalFacts::ShareLink),
            // Services are trusted by the crate that runs them, not through policies.
            _ => None,
        };
        let Some(facts) = facts else { return Ok(None) };
        let resource_facts = if [ResourceKind::TENANT, ResourceKind::ROLE].contains(resource.kind())
        {
            Some(ResourceFacts::default())
        } else {
            self.loader.resource(resource).await?
        };
        Ok(resource_facts.map(|r| (facts, r)))
    }
}

#[async_trait]
impl guss_core::Authorizer for PolicyAuthorizer {
    async fn authorize(
        &self,
        principal: &Principal,
        action: &Action,
        resource: &Resource,
        context: &Context,
    ) -> Decision {
        self.explain(principal, action, resource, context)
            .await
            .decision
    }
}
