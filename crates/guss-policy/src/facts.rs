//! What the engine needs to know about the parties of one request: the
//! entity slice, supplied by the crates that own the data.

use chrono::{DateTime, Utc};
use guss_core::{GroupId, PersonId, Resource, Scope, ShareLinkId, TenantId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A person as the engine sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Subject {
    /// The person.
    pub person: PersonId,
    /// Active (not suspended or departed).
    pub active: bool,
    /// Role names held (`owner`, `admin`, `member`, `guest`, custom).
    pub roles: Vec<String>,
    /// Groups they belong to.
    pub groups: Vec<GroupId>,
}

impl Subject {
    /// An active person with roles and groups.
    pub fn new(
        person: PersonId,
        roles: impl IntoIterator<Item = impl Into<String>>,
        groups: Vec<GroupId>,
    ) -> Self {
        Subject {
            person,
            active: true,
            roles: roles.into_iter().map(Into::into).collect(),
            groups,
        }
    }

    /// Marks the person inactive (suspended or departed).
    #[must_use]
    pub fn inactive(mut self) -> Self {
        self.active = false;
        self
    }
}

/// How much a share gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareLevel {
    /// Read.
    View,
    /// Read, write, delete.
    Edit,
    /// Edit, and share further.
    Manage,
}

/// Who a share is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Grantee {
    /// One person.
    Person(PersonId),
    /// Everyone in a group.
    Group(GroupId),
}

/// Sharing as data: a grantee gets a level on a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Share {
    /// Who.
    pub grantee: Grantee,
    /// How much.
    pub level: ShareLevel,
}

/// What the engine needs to know about a resource.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourceFacts {
    /// Whose it is (a personal mailbox, calendar, home folder), if anyone's.
    pub owner: Option<PersonId>,
    /// Which service it belongs to (deputy grants are scoped by it).
    pub scope: Option<Scope>,
    /// Whether policies require a compliant device for it.
    pub sensitive: bool,
    /// Enclosing resources, nearest first (a file's folders, an event's calendar).
    pub ancestors: Vec<Resource>,
    /// Shares that apply, including those inherited from ancestors.
    pub shares: Vec<Share>,
}

impl ResourceFacts {
    /// Facts about a resource in `scope` owned by `owner`.
    pub fn owned_by(owner: PersonId, scope: Scope) -> Self {
        ResourceFacts {
            owner: Some(owner),
            scope: Some(scope),
            ..Self::default()
        }
    }

    /// Facts about a resource of nobody in particular (a shared folder).
    pub fn unowned(scope: Scope) -> Self {
        ResourceFacts {
            scope: Some(scope),
            ..Self::default()
        }
    }

    /// Adds a share.
    #[must_use]
    pub fn shared(mut self, grantee: Grantee, level: ShareLevel) -> Self {
        self.shares.push(Share { grantee, level });
        self
    }

    /// Adds an enclosing resource.
    #[must_use]
    pub fn within(mut self, ancestor: Resource) -> Self {
        self.ancestors.push(ancestor);
        self
    }

    /// Marks the resource sensitive.
    #[must_use]
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
}

/// What a share link allows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ShareLinkFacts {
    /// The link.
    pub link: ShareLinkId,
    /// The folder or file it opens.
    pub target: Resource,
    /// Holders may read.
    pub can_read: bool,
    /// Holders may upload into the folder.
    pub can_upload: bool,
}

impl ShareLinkFacts {
    /// A link to `target` with the given rights.
    pub fn new(link: ShareLinkId, target: Resource, can_read: bool, can_upload: bool) -> Self {
        ShareLinkFacts {
            link,
            target,
            can_read,
            can_upload,
        }
    }
}

/// A time-boxed permission for a deputy to act for a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Grant {
    /// The grant.
    pub id: Uuid,
    /// The tenant of both people.
    pub tenant: TenantId,
    /// Who may act.
    pub deputy: PersonId,
    /// For whom.
    pub represented: PersonId,
    /// From when.
    pub starts_at: DateTime<Utc>,
    /// Until when (exclusive).
    pub ends_at: DateTime<Utc>,
    /// For which services.
    pub scopes: Vec<Scope>,
    /// Whether the deputy may also write (send mail, change appointments).
    pub write: bool,
    /// Why, as shown to the person represented.
    pub reason: String,
}

impl Grant {
    /// Whether the grant is in force at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now && now < self.ends_at
    }
}

/// The principal of a request, with its facts.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum PrincipalFacts {
    /// A person acting for themselves.
    Person(Subject),
    /// A person acting for another, with the grants between them in force now.
    Deputy {
        /// The deputy.
        deputy: Subject,
        /// Whom they represent.
        represented: PersonId,
        /// Grants from the represented person to the deputy that are active now.
        grants: Vec<Grant>,
    },
    /// A share-link holder.
    ShareLink(ShareLinkFacts),
}
