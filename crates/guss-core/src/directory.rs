//! The directory seam: find people and groups by id or e-mail address.
//!
//! Mail looks up recipients here, calendar resolves attendees, policy finds
//! group memberships. `guss-identity` implements it; the bundle wires it.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{EmailAddress, Error, GroupId, PersonId, TenantId};

/// Whether a person may currently sign in and receive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonStatus {
    /// Works here and may sign in.
    #[default]
    Active,
    /// Temporarily barred from signing in; data and addresses kept.
    Suspended,
    /// Left the organisation; kept for the records and hand-over.
    Departed,
}

/// A person as other crates see them.
///
/// ```
/// use guss_core::{PersonEntry, PersonId, PersonStatus, TenantId};
///
/// let anna = PersonEntry::new(TenantId::new(), PersonId::new(), "Anna Schmidt")
///     .with_email("anna@kanzlei.example".parse()?);
/// assert_eq!(anna.status, PersonStatus::Active);
/// assert_eq!(anna.primary_email().map(|a| a.as_str()), Some("anna@kanzlei.example"));
/// # Ok::<(), guss_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PersonEntry {
    /// The person's tenant.
    pub tenant: TenantId,
    /// The person.
    pub id: PersonId,
    /// Name as shown to colleagues.
    pub display_name: String,
    /// Addresses, the primary one first.
    pub emails: Vec<EmailAddress>,
    /// Whether they are active.
    pub status: PersonStatus,
}

impl PersonEntry {
    /// An active person without addresses.
    pub fn new(tenant: TenantId, id: PersonId, display_name: impl Into<String>) -> Self {
        PersonEntry {
            tenant,
            id,
            display_name: display_name.into(),
            emails: Vec::new(),
            status: PersonStatus::Active,
        }
    }

    /// Adds an address (the first one added is the primary one).
    #[must_use]
    pub fn with_email(mut self, address: EmailAddress) -> Self {
        self.emails.push(address);
        self
    }

    /// Sets the status.
    #[must_use]
    pub fn with_status(mut self, status: PersonStatus) -> Self {
        self.status = status;
        self
    }

    /// The primary address, if the person has one.
    pub fn primary_email(&self) -> Option<&EmailAddress> {
        self.emails.first()
    }
}

/// A group as other crates see it.
///
/// ```
/// use guss_core::{GroupEntry, GroupId, TenantId};
///
/// let front_desk = GroupEntry::new(TenantId::new(), GroupId::new(), "Empfang")
///     .with_email("empfang@praxis.example".parse()?);
/// assert!(front_desk.email.is_some());
/// # Ok::<(), guss_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupEntry {
    /// The group's tenant.
    pub tenant: TenantId,
    /// The group.
    pub id: GroupId,
    /// Name as shown.
    pub display_name: String,
    /// The group's address, if mail to it reaches its members.
    pub email: Option<EmailAddress>,
}

impl GroupEntry {
    /// A group without an address.
    pub fn new(tenant: TenantId, id: GroupId, display_name: impl Into<String>) -> Self {
        GroupEntry {
            tenant,
            id,
            display_name: display_name.into(),
            email: None,
        }
    }

    /// Gives the group an address.
    #[must_use]
    pub fn with_email(mut self, address: EmailAddress) -> Self {
        self.email = Some(address);
        self
    }
}

/// What an e-mail address belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DirectoryEntry {
    /// A person's address (primary or alias).
    Person(PersonEntry),
    /// A group's address.
    Group(GroupEntry),
}

/// Finds people and groups.
///
/// All lookups but [`Directory::tenant_for_domain`] are scoped to one tenant:
/// an id or address of another tenant is not found.
#[async_trait]
pub trait Directory: Send + Sync {
    /// The tenant that hosts mail for `domain` (lowercase), if any. Inbound
    /// mail knows only the recipient's address, so this is where it starts.
    async fn tenant_for_domain(&self, domain: &str) -> Result<Option<TenantId>, Error>;

    /// One person by id.
    async fn person(&self, tenant: TenantId, id: PersonId) -> Result<Option<PersonEntry>, Error>;

    /// One group by id.
    async fn group(&self, tenant: TenantId, id: GroupId) -> Result<Option<GroupEntry>, Error>;

    /// Whoever `address` belongs to.
    async fn find_address(
        &self,
        tenant: TenantId,
        address: &EmailAddress,
    ) -> Result<Option<DirectoryEntry>, Error>;

    /// The groups `person` is a member of.
    async fn groups_of(&self, tenant: TenantId, person: PersonId) -> Result<Vec<GroupId>, Error>;

    /// The members of `group`.
    async fn members_of(&self, tenant: TenantId, group: GroupId) -> Result<Vec<PersonId>, Error>;
}

#[async_trait]
impl<D: Directory + ?Sized> Directory for std::sync::Arc<D> {
    async fn tenant_for_domain(&self, domain: &str) -> Result<Option<TenantId>, Error> {
        (**self).tenant_for_domain(domain).await
    }

    async fn person(&self, tenant: TenantId, id: PersonId) -> Result<Option<PersonEntry>, Error> {
        (**self).person(tenant, id).await
    }

    async fn group(&self, tenant: TenantId, id: GroupId) -> Result<Option<GroupEntry>, Error> {
        (**self).group(tenant, id).await
    }

    async fn find_address(
        &self,
        tenant: TenantId,
        address: &EmailAddress,
    ) -> Result<Option<DirectoryEntry>, Error> {
        (**self).find_address(tenant, address).await
    }

    async fn groups_of(&self, tenant: TenantId, person: PersonId) -> Result<Vec<GroupId>, Error> {
        (**self).groups_of(tenant, person).await
    }

    async fn members_of(&self, tenant: TenantId, group: GroupId) -> Result<Vec<PersonId>, Error> {
        (**self).members_of(tenant, group).await
    }
}

/// A directory held in memory: for tests of crates that need one without
/// `guss-identity`.
///
/// ```
/// use guss_core::{Directory, DirectoryEntry, MemoryDirectory, PersonEntry, PersonId, TenantId};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let tenant = TenantId::new();
/// let directory = MemoryDirectory::new();
/// directory.add_domain(tenant, "kanzlei.example");
/// let anna = PersonEntry::new(tenant, PersonId::new(), "Anna").with_email("anna@kanzlei.example".parse()?);
/// directory.add_person(anna.clone());
///
/// assert_eq!(directory.tenant_for_domain("kanzlei.example").await?, Some(tenant));
/// let found = directory.find_address(tenant, &"ANNA@kanzlei.example".parse()?).await?;
/// assert_eq!(found, Some(DirectoryEntry::Person(anna)));
/// // Another tenant does not see Anna.
/// assert_eq!(directory.find_address(TenantId::new(), &"anna@kanzlei.example".parse()?).await?, None);
/// # Ok::<(), guss_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct MemoryDirectory {
    inner: Mutex<MemoryDirectoryData>,
}

#[derive(Debug, Default)]
struct MemoryDirectoryData {
    domains: Vec<(String, TenantId)>,
    people: Vec<PersonEntry>,
    groups: Vec<GroupEntry>,
    memberships: BTreeSet<(TenantId, GroupId, PersonId)>,
}

impl MemoryDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets `tenant` host mail for `domain`.
    pub fn add_domain(&self, tenant: TenantId, domain: &str) {
        self.lock()
            .domains
            .push((domain.to_ascii_lowercase(), tenant));
    }

    /// Adds or replaces a person.
    pub fn add_person(&self, person: PersonEntry) {
        let mut data = self.lock();
        data.people
            .retain(|p| (p.tenant, p.id) != (person.tenant, person.id));
        data.people.push(person);
    }

    /// Adds or replaces a group.
    pub fn add_group(&self, group: GroupEntry) {
        let mut data = self.lock();
        data.groups
            .retain(|g| (g.tenant, g.id) != (group.tenant, group.id));
        data.groups.push(group);
    }

    /// Makes `person` a member of `group`.
    pub fn add_member(&self, tenant: TenantId, group: GroupId, person: PersonId) {
        self.lock().memberships.insert((tenant, group, person));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryDirectoryData> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Directory for MemoryDirectory {
    async fn tenant_for_domain(&self, domain: &str) -> Result<Option<TenantId>, Error> {
        let domain = domain.to_ascii_lowercase();
        Ok(self
            .lock()
            .domains
            .iter()
            .find(|(d, _)| *d == domain)
            .map(|(_, t)| *t))
    }

    async fn person(&self, tenant: TenantId, id: PersonId) -> Result<Option<PersonEntry>, Error> {
        Ok(self
            .lock()
            .people
            .iter()
            .find(|p| p.tenant == tenant && p.id == id)
            .cloned())
    }

    async fn group(&self, tenant: TenantId, id: GroupId) -> Result<Option<GroupEntry>, Error> {
        Ok(self
            .lock()
            .groups
            .iter()
            .find(|g| g.tenant == tenant && g.id == id)
            .cloned())
    }

    async fn find_address(
        &self,
        tenant: TenantId,
        address: &EmailAddress,
    ) -> Result<Option<DirectoryEntry>, Error> {
        let data = self.lock();
        let person = data
            .people
            .iter()
            .find(|p| p.tenant == tenant && p.emails.contains(address))
            .map(|p| DirectoryEntry::Person(p.clone()));
        let group = || {
            data.groups
                .iter()
                .find(|g| g.tenant == tenant && g.email.as_ref() == Some(address))
                .map(|g| DirectoryEntry::Group(g.clone()))
        };
        Ok(person.or_else(group))
    }

    async fn groups_of(&self, tenant: TenantId, person: PersonId) -> Result<Vec<GroupId>, Error> {
        Ok(self
            .lock()
            .memberships
            .iter()
            .filter(|(t, _, p)| *t == tenant && *p == person)
            .map(|(_, g, _)| *g)
            .collect())
    }

    async fn members_of(&self, tenant: TenantId, group: GroupId) -> Result<Vec<PersonId>, Error> {
        Ok(self
            .lock()
            .memberships
            .iter()
            .filter(|(t, g, _)| *t == tenant && *g == group)
            .map(|(_, _, p)| *p)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memberships_are_tenant_scoped() {
        let (a, b) = (TenantId::new(), TenantId::new());
        let directory = MemoryDirectory::new();
        let group = GroupId::new();
        let person = PersonId::new();
        directory.add_group(
            GroupEntry::new(a, group, "Team").with_email("team@a.example".parse().unwrap()),
        );
        directory.add_member(a, group, person);

        assert_eq!(directory.groups_of(a, person).await.unwrap(), [group]);
        assert_eq!(directory.members_of(a, group).await.unwrap(), [person]);
        assert!(directory.groups_of(b, person).await.unwrap().is_empty());
        assert!(directory.group(b, group).await.unwrap().is_none());
        let found = directory
            .find_address(a, &"team@a.example".parse().unwrap())
            .await
            .unwrap();
        assert!(matches!(found, Some(DirectoryEntry::Group(g)) if g.id == group));
    }
}
