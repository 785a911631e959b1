//! Continuity findings: what would lock the organisation out if one person
//! or one device were gone.

use guss_core::{PersonStatus, TenantId};

use crate::Result;
use crate::identity::Identity;
use crate::model::Finding;
use crate::store::{IdentityStore, TenantRegistry};

impl<R: TenantRegistry> Identity<R> {
    /// The tenant's continuity findings, most severe first.
    pub async fn continuity(&self, tenant: TenantId) -> Result<Vec<Finding>> {
        let store = self.scoped(tenant).await?;
        let people: Vec<_> = store
            .people()
            .await?
            .into_iter()
            .filter(|p| p.status == PersonStatus::Active)
            .collect();
        let mut findings = Vec::new();
        let admins = people.iter().filter(|p| p.is_admin()).count();
        if admins < 2 {
            findings.push(Finding::TooFewAdmins { count: admins });
        }
        if store.quorum().await?.is_none_or(|q| q.used_at.is_some()) {
            findings.push(Finding::NoTrustees);
        }
        for person in &people {
            let count = store.passkeys_of(person.id).await?.len();
            if count < 2 {
                findings.push(Finding::SinglePasskey {
                    person: person.id,
                    count,
                });
            }
        }
        Ok(findings)
    }
}
