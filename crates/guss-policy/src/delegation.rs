//! Delegation: named deputies per person and per role, and time-boxed
//! "acting for" grants that the person represented can see, every change
//! evented for the audit log.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use guss_core::{
    Clock, Event, EventSink, EventSource, EventType, PersonId, Principal, Scope, TenantId,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::authorizer::GrantSource;
use crate::facts::Grant;
use crate::{Error, Result};

const SOURCE: EventSource = EventSource::from_static("guss-policy");

/// Longest grant: beyond a year, a grant is a role, not a stand-in.
const MAX_GRANT_DAYS: i64 = 366;

/// Whose named deputy someone is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum DeputyOf {
    /// A person's deputy.
    Person(PersonId),
    /// The deputy for a role (e.g. whoever stands in for the `owner`).
    Role(String),
}

impl DeputyOf {
    /// A stable text form, for storage: `person:ID` or `role:NAME`.
    pub fn key(&self) -> String {
        match self {
            DeputyOf::Person(p) => format!("person:{p}"),
            DeputyOf::Role(r) => format!("role:{r}"),
        }
    }

    /// Reads the text form of [`DeputyOf::key`] back.
    pub fn parse(key: &str) -> Result<Self> {
        match key.split_once(':') {
            Some(("person", id)) => Ok(DeputyOf::Person(id.parse()?)),
            Some(("role", role)) => Ok(DeputyOf::Role(role.to_owned())),
            _ => Err(Error::invalid("stored deputy", "unknown holder")),
        }
    }
}

/// Storage of grants and named deputies.
#[async_trait]
pub trait DelegationStore: Send + Sync {
    /// Stores a grant.
    async fn insert_grant(&self, grant: &Grant) -> Result<()>;
    /// Revokes a grant; false if it was not in force.
    async fn revoke_grant(&self, tenant: TenantId, id: Uuid, at: DateTime<Utc>) -> Result<bool>;
    /// Every unrevoked grant of a tenant.
    async fn grants(&self, tenant: TenantId) -> Result<Vec<Grant>>;
    /// Unrevoked grants from `represented` to `deputy` in force at `at`.
    async fn grants_between(
        &self,
        tenant: TenantId,
        deputy: PersonId,
        represented: PersonId,
        at: DateTime<Utc>,
    ) -> Result<Vec<Grant>>;
    /// Names a deputy.
    async fn set_deputy(&self, tenant: TenantId, holder: &DeputyOf, deputy: PersonId)
    -> Result<()>;
    /// All named deputies.
    async fn deputies(&self, tenant: TenantId) -> Result<Vec<(DeputyOf, PersonId)>>;
}

/// Grants and deputies, with events.
pub struct Delegations<S: DelegationStore> {
    store: S,
    clock: Arc<dyn Clock>,
    events: Arc<dyn EventSink>,
}

impl<S: DelegationStore> Delegations<S> {
    /// Delegations over `store`.
    pub fn new(store: S, clock: Arc<dyn Clock>, events: Arc<dyn EventSink>) -> Self {
        Delegations {
            store,
            clock,
            events,
        }
    }

    async fn emit(
        &self,
        tenant: TenantId,
        kind: &'static str,
        subject: String,
        actor: &Principal,
        data: serde_json::Value,
    ) -> Result<()> {
        let event = Event::builder(tenant, SOURCE, EventType::new(kind)?)
            .subject(subject)?
            .actor(actor)
            .data(data)
            .build(&*self.clock);
        Ok(self.events.emit(event).await?)
    }

    /// Grants `deputy` the right to act for `represented` from `starts_at`
    /// until `ends_at`, for `scopes`, reading (and with `write`, writing:
    /// sending mail, changing appointments). The person represented is
    /// notified. Whether `actor` may grant is for the caller's authorizer.
    #[allow(clippy::too_many_arguments)] // each is a distinct fact of the grant
    pub async fn grant(
        &self,
        actor: &Principal,
        deputy: PersonId,
        represented: PersonId,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        scopes: &[Scope],
        write: bool,
        reason: &str,
    ) -> Result<Grant> {
        if deputy == represented {
            return Err(Error::invalid(
                "grant",
                "a person cannot be their own deputy",
            ));
        }
        if ends_at <= starts_at || ends_at - starts_at > chrono::TimeDelta::days(MAX_GRANT_DAYS) {
            return Err(Error::invalid(
                "grant",
                "must end after it starts, within a year",
            ));
        }
        if scopes.is_empty() || scopes.contains(&Scope::Web) {
            return Err(Error::invalid(
                "grant",
                "give mail, calendar, contacts or files",
            ));
        }
        guss_core::Limit::new("grant reason length", 500).check_len(reason.len())?;
        let grant = Grant {
            id: Uuid::now_v7(),
            tenant: actor.tenant(),
            deputy,
            represented,
            starts_at,
            ends_at,
            scopes: scopes.to_vec(),
            write,
            reason: reason.to_owned(),
        };
        self.store.insert_grant(&grant).await?;
        self.emit(
            grant.tenant,
            "guss.policy.delegation.granted",
            format!("person/{represented}"),
            actor,
            serde_json::json!({ "grant": grant, "notify_person": represented }),
        )
        .await?;
        Ok(grant)
    }

    /// The preset for a lawyer's representative during an absence: read and
    /// send for mailbox and calendar, for the period.
    pub async fn lawyer_absence(
        &self,
        actor: &Principal,
        representative: PersonId,
        lawyer: PersonId,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Grant> {
        self.grant(
            actor,
            representative,
            lawyer,
            from,
            until,
            &[Scope::Mail, Scope::Calendar],
            true,
            "Vertretung während der Abwesenheit (§53 BRAO)",
        )
        .await
    }

    /// Revokes a grant.
    pub async fn revoke(&self, actor: &Principal, id: Uuid) -> Result<()> {
        let tenant = actor.tenant();
        if !self
            .store
            .revoke_grant(tenant, id, self.clock.now())
            .await?
        {
            return Err(Error::NotFound {
                what: "grant".into(),
            });
        }
        self.emit(
            tenant,
            "guss.policy.delegation.revoked",
            format!("grant/{id}"),
            actor,
            serde_json::json!({}),
        )
        .await
    }

    /// Grants that concern `person`, as deputy or as the one represented:
    /// what they see of who acts for them.
    pub async fn grants_concerning(
        &self,
        tenant: TenantId,
        person: PersonId,
    ) -> Result<Vec<Grant>> {
        Ok(self
            .store
            .grants(tenant)
            .await?
            .into_iter()
            .filter(|g| g.deputy == person || g.represented == person)
            .collect())
    }

    /// Names `deputy` for a person or a role.
    pub async fn name_deputy(
        &self,
        actor: &Principal,
        holder: DeputyOf,
        deputy: PersonId,
    ) -> Result<()> {
        self.store
            .set_deputy(actor.tenant(), &holder, deputy)
            .await?;
        self.emit(
            actor.tenant(),
            "guss.policy.deputy.named",
            holder.key(),
            actor,
            serde_json::json!({ "deputy": deputy }),
        )
        .await
    }

    /// All named deputies of a tenant.
    pub async fn deputies(&self, tenant: TenantId) -> Result<Vec<(DeputyOf, PersonId)>> {
        self.store.deputies(tenant).await
    }
}

#[async_trait]
impl<S: DelegationStore> GrantSource for Delegations<S> {
    async fn active_grants(
        &self,
        tenant: TenantId,
        deputy: PersonId,
        represented: PersonId,
        at: DateTime<Utc>,
    ) -> guss_core::Result<Vec<Grant>> {
        let grants = self
            .store
            .grants_between(tenant, deputy, represented, at)
            .await
            .map_err(|e| guss_core::Error::Backend(Box::new(e)))?;
        // The store filters by time already; the check here keeps a store bug from granting.
        Ok(grants.into_iter().filter(|g| g.is_active(at)).collect())
    }
}
