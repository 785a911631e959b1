//! The `guss-core` seams implemented by identity: other crates authenticate
//! and look people up through these, never through this crate directly.

use async_trait::async_trait;
use guss_core::{
    Credentials, DirectoryEntry, EmailAddress, GroupEntry, GroupId, PersonEntry, PersonId,
    Principal, Scope, TenantId,
};

use crate::identity::{Client, Identity};
use crate::model::Person;
use crate::store::{IdentityStore, TenantRegistry};

/// Basic credentials carry an app password for `scope`; Bearer credentials a
/// session token (valid for every scope: it came from a passkey sign-in).
#[async_trait]
impl<R: TenantRegistry> guss_core::Authenticator for Identity<R> {
    async fn authenticate(
        &self,
        tenant: TenantId,
        credentials: &Credentials,
        scope: Scope,
    ) -> guss_core::Result<Principal> {
        match credentials {
            Credentials::Basic { username, .. } => Ok(self
                .authenticate_app_password(
                    tenant,
                    username,
                    credentials.secret(),
                    scope,
                    &Client::default(),
                )
                .await?),
            Credentials::Bearer { .. } => Ok(self
                .session(tenant, credentials.secret())
                .await?
                .principal()),
            _ => Err(guss_core::Error::Unauthenticated),
        }
    }
}

fn entry(tenant: TenantId, person: Person) -> PersonEntry {
    let mut entry =
        PersonEntry::new(tenant, person.id, person.display_name).with_status(person.status);
    for address in person.emails {
        entry = entry.with_email(address);
    }
    entry
}

#[async_trait]
impl<R: TenantRegistry> guss_core::Directory for Identity<R> {
    async fn tenant_for_domain(&self, domain: &str) -> guss_core::Result<Option<TenantId>> {
        Ok(self.store.tenant_for_domain(domain).await?)
    }

    async fn person(
        &self,
        tenant: TenantId,
        id: PersonId,
    ) -> guss_core::Result<Option<PersonEntry>> {
        Ok(self
            .scoped(tenant)
            .await?
            .person(id)
            .await?
            .map(|p| entry(tenant, p)))
    }

    async fn group(&self, tenant: TenantId, id: GroupId) -> guss_core::Result<Option<GroupEntry>> {
        Ok(self.scoped(tenant).await?.group(id).await?)
    }

    async fn find_address(
        &self,
        tenant: TenantId,
        address: &EmailAddress,
    ) -> guss_core::Result<Option<DirectoryEntry>> {
        let store = self.scoped(tenant).await?;
        if let Some(person) = store.person_by_email(address).await? {
            return Ok(Some(DirectoryEntry::Person(entry(tenant, person))));
        }
        Ok(store
            .group_by_email(address)
            .await?
            .map(DirectoryEntry::Group))
    }

    async fn groups_of(
        &self,
        tenant: TenantId,
        person: PersonId,
    ) -> guss_core::Result<Vec<GroupId>> {
        Ok(self.scoped(tenant).await?.groups_of(person).await?)
    }

    async fn members_of(
        &self,
        tenant: TenantId,
        group: GroupId,
    ) -> guss_core::Result<Vec<PersonId>> {
        Ok(self.scoped(tenant).await?.members_of(group).await?)
    }
}
