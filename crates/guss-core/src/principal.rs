//! Who acts: the subject of every authorization question and audit record.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::name::machine_name;
use crate::{PersonId, ShareLinkId, TenantId};

machine_name!(
    /// The name of an internal service that acts on its own account, such as
    /// `mail-delivery` or `backup`: lowercase letters, digits and `-`.
    ///
    /// ```
    /// use guss_core::ServiceName;
    ///
    /// const DELIVERY: ServiceName = ServiceName::from_static("mail-delivery");
    /// assert_eq!(DELIVERY.as_str(), "mail-delivery");
    /// assert!(ServiceName::new("Mail Delivery").is_err());
    /// ```
    ServiceName,
    "service name",
    b"-"
);

/// Who performs a request. Every principal belongs to exactly one tenant.
///
/// ```
/// use guss_core::{PersonId, Principal, TenantId};
///
/// let tenant = TenantId::new();
/// let (anna, ben) = (PersonId::new(), PersonId::new());
///
/// // Ben stands in for Anna while she is away.
/// let deputy = Principal::Deputy { tenant, deputy: ben, represented: anna };
/// assert_eq!(deputy.acting_person(), Some(ben));
/// assert_eq!(deputy.on_behalf_of(), Some(anna));
/// assert_eq!(deputy.to_string(), format!("person:{ben} for person:{anna}"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Principal {
    /// A signed-in person acting for themselves.
    Person {
        /// The person's tenant.
        tenant: TenantId,
        /// The person.
        person: PersonId,
    },
    /// A person acting for another under a deputy grant.
    Deputy {
        /// The tenant of both people.
        tenant: TenantId,
        /// Who is at the keyboard.
        deputy: PersonId,
        /// On whose behalf they act.
        represented: PersonId,
    },
    /// An internal service, e.g. mail delivery writing into a mailbox.
    Service {
        /// The tenant the service acts in.
        tenant: TenantId,
        /// Which service.
        service: ServiceName,
    },
    /// Someone anonymous holding a share link.
    ShareLink {
        /// The tenant that issued the link.
        tenant: TenantId,
        /// The link presented.
        link: ShareLinkId,
    },
}

impl Principal {
    /// The tenant this principal belongs to.
    pub fn tenant(&self) -> TenantId {
        match self {
            Principal::Person { tenant, .. }
            | Principal::Deputy { tenant, .. }
            | Principal::Service { tenant, .. }
            | Principal::ShareLink { tenant, .. } => *tenant,
        }
    }

    /// The person physically acting, if a person acts at all.
    pub fn acting_person(&self) -> Option<PersonId> {
        match self {
            Principal::Person { person, .. } => Some(*person),
            Principal::Deputy { deputy, .. } => Some(*deputy),
            Principal::Service { .. } | Principal::ShareLink { .. } => None,
        }
    }

    /// The person whose rights and data are used: the represented person for a
    /// deputy, the person themselves otherwise.
    pub fn on_behalf_of(&self) -> Option<PersonId> {
        match self {
            Principal::Person { person, .. } => Some(*person),
            Principal::Deputy { represented, .. } => Some(*represented),
            Principal::Service { .. } | Principal::ShareLink { .. } => None,
        }
    }

    /// Whether nobody known stands behind the request (a share-link holder).
    pub fn is_anonymous(&self) -> bool {
        matches!(self, Principal::ShareLink { .. })
    }
}

/// A stable, human-readable form for logs and the CloudEvents `actor`
/// attribute: `person:ID`, `person:ID for person:ID`, `service:NAME`,
/// `share-link:ID`. The tenant is not part of it.
impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Person { person, .. } => write!(f, "person:{person}"),
            Principal::Deputy {
                deputy,
                represented,
                ..
            } => write!(f, "person:{deputy} for person:{represented}"),
            Principal::Service { service, .. } => write!(f, "service:{service}"),
            Principal::ShareLink { link, .. } => write!(f, "share-link:{link}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_is_tagged_and_round_trips() {
        let tenant = TenantId::new();
        let principals = [
            Principal::Person {
                tenant,
                person: PersonId::new(),
            },
            Principal::Deputy {
                tenant,
                deputy: PersonId::new(),
                represented: PersonId::new(),
            },
            Principal::Service {
                tenant,
                service: ServiceName::from_static("backup"),
            },
            Principal::ShareLink {
                tenant,
                link: ShareLinkId::new(),
            },
        ];
        for principal in principals {
            let json = serde_json::to_value(&principal).unwrap();
            assert!(json.get("kind").is_some());
            assert_eq!(
                serde_json::from_value::<Principal>(json).unwrap(),
                principal
            );
            assert_eq!(principal.tenant(), tenant);
        }
    }

    #[test]
    fn invalid_service_names_do_not_deserialize() {
        let json = serde_json::json!({
            "kind": "service",
            "tenant": TenantId::new(),
            "service": "Not Valid",
        });
        assert!(serde_json::from_value::<Principal>(json).is_err());
    }

    #[test]
    fn share_links_are_anonymous() {
        let link = Principal::ShareLink {
            tenant: TenantId::new(),
            link: ShareLinkId::new(),
        };
        assert!(link.is_anonymous());
        assert_eq!(link.acting_person(), None);
        assert_eq!(link.on_behalf_of(), None);
    }
}
