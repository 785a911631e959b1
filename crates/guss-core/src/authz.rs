//! The authorization seam: may this principal do this to that?
//!
//! Domain crates ask an [`Authorizer`] before every access and never decide
//! themselves; the bundle wires the policy engine (`guss-policy`) behind it.
//! Nothing is allowed unless an authorizer says so: [`Decision`] defaults to
//! deny, [`DenyAll`] is the authorizer to start from, and an authorizer that
//! cannot reach a decision (a backend failed) answers deny.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::name::machine_name;
use crate::{Error, Limit, Principal, TenantId};

machine_name!(
    /// What a principal wants to do: `read`, `write`, … (lowercase letters, digits, `_`).
    ///
    /// The standard actions are constants; domain crates may name more
    /// (e.g. `send_as`), which the policy schema must then declare.
    ///
    /// ```
    /// use guss_core::Action;
    ///
    /// assert_eq!(Action::ACT_FOR.as_str(), "act_for");
    /// let send_as = Action::new("send_as")?;
    /// assert_eq!(send_as.to_string(), "send_as");
    /// # Ok::<(), guss_core::Error>(())
    /// ```
    Action,
    "action",
    b"_"
);

impl Action {
    /// See contents: read a file, list a calendar, fetch mail.
    pub const READ: Action = Action::from_static("read");
    /// Change contents.
    pub const WRITE: Action = Action::from_static("write");
    /// Give others access.
    pub const SHARE: Action = Action::from_static("share");
    /// Remove (to the trash where there is one).
    pub const DELETE: Action = Action::from_static("delete");
    /// Change settings, people, roles, policies.
    pub const ADMINISTER: Action = Action::from_static("administer");
    /// Act on behalf of a person (deputies).
    pub const ACT_FOR: Action = Action::from_static("act_for");
}

machine_name!(
    /// The kind of thing acted on: `file`, `calendar`, … (lowercase letters, digits, `_`).
    ///
    /// ```
    /// use guss_core::ResourceKind;
    ///
    /// assert_eq!(ResourceKind::SHARE_LINK.as_str(), "share_link");
    /// ```
    ResourceKind,
    "resource kind",
    b"_"
);

impl ResourceKind {
    /// The organisation itself.
    pub const TENANT: ResourceKind = ResourceKind::from_static("tenant");
    /// A person.
    pub const PERSON: ResourceKind = ResourceKind::from_static("person");
    /// A group.
    pub const GROUP: ResourceKind = ResourceKind::from_static("group");
    /// A role.
    pub const ROLE: ResourceKind = ResourceKind::from_static("role");
    /// A mailbox (personal or shared).
    pub const MAILBOX: ResourceKind = ResourceKind::from_static("mailbox");
    /// A calendar.
    pub const CALENDAR: ResourceKind = ResourceKind::from_static("calendar");
    /// An event or task in a calendar.
    pub const EVENT: ResourceKind = ResourceKind::from_static("event");
    /// A folder of files.
    pub const FOLDER: ResourceKind = ResourceKind::from_static("folder");
    /// A file.
    pub const FILE: ResourceKind = ResourceKind::from_static("file");
    /// A share link.
    pub const SHARE_LINK: ResourceKind = ResourceKind::from_static("share_link");
    /// A device (laptop, phone).
    pub const DEVICE: ResourceKind = ResourceKind::from_static("device");
}

/// Longest resource id accepted (ids are UUIDs or paths).
const MAX_RESOURCE_ID: Limit = Limit::new("resource id length", 4096);

/// The thing acted on: its tenant, kind and id within that kind.
///
/// ```
/// use guss_core::{Resource, ResourceKind, TenantId};
///
/// let calendar = Resource::new(TenantId::new(), ResourceKind::CALENDAR, "0193a0c4-6b1e-7cc0-8d3a-2f4b5c6d7e8f")?;
/// assert_eq!(calendar.kind(), &ResourceKind::CALENDAR);
/// # Ok::<(), guss_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Resource {
    tenant: TenantId,
    kind: ResourceKind,
    id: String,
}

impl Resource {
    /// A resource of `kind` with `id` in `tenant`; the id must be non-empty and
    /// at most 4096 bytes.
    pub fn new(tenant: TenantId, kind: ResourceKind, id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        MAX_RESOURCE_ID.check_len(id.len())?;
        if id.is_empty() {
            return Err(Error::invalid("resource id", "empty"));
        }
        Ok(Resource { tenant, kind, id })
    }

    /// The tenant owning the resource.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// The kind of resource.
    pub fn kind(&self) -> &ResourceKind {
        &self.kind
    }

    /// The id within its kind.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// What is known about the device a request comes from; policies can require
/// a compliant device for sensitive resources.
///
/// ```
/// use guss_core::DevicePosture;
///
/// let laptop = DevicePosture::new(true, true, false);
/// assert!(!laptop.is_compliant(), "an outdated OS is not compliant");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DevicePosture {
    /// The device is enrolled with the organisation.
    pub known: bool,
    /// Its disk is encrypted.
    pub disk_encrypted: bool,
    /// Its operating system has current security updates.
    pub os_current: bool,
}

impl DevicePosture {
    /// A posture report.
    pub const fn new(known: bool, disk_encrypted: bool, os_current: bool) -> Self {
        DevicePosture {
            known,
            disk_encrypted,
            os_current,
        }
    }

    /// Known, encrypted and up to date.
    pub const fn is_compliant(&self) -> bool {
        self.known && self.disk_encrypted && self.os_current
    }
}

/// A value in a request [`Context`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum ContextValue {
    /// A flag.
    Bool(bool),
    /// A whole number.
    Long(i64),
    /// Text.
    String(String),
}

/// Most attributes a context may carry.
const MAX_CONTEXT_ATTRIBUTES: Limit = Limit::new("context attributes", 64);

/// Facts about the request beyond who, what and which: device posture and
/// named attributes (e.g. `via: "share_link"`, `mfa_age_seconds: 30`).
///
/// ```
/// use guss_core::{Context, ContextValue, DevicePosture};
///
/// let context = Context::new()
///     .with_device(DevicePosture::new(true, true, true))
///     .with_attribute("protocol", ContextValue::String("caldav".into()))?;
/// assert_eq!(context.attribute("protocol"), Some(&ContextValue::String("caldav".into())));
/// # Ok::<(), guss_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    device: Option<DevicePosture>,
    attributes: BTreeMap<String, ContextValue>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the device's posture.
    #[must_use]
    pub fn with_device(mut self, device: DevicePosture) -> Self {
        self.device = Some(device);
        self
    }

    /// Adds an attribute named like an action (lowercase, digits, `_`); at most 64.
    pub fn with_attribute(mut self, name: &str, value: ContextValue) -> Result<Self, Error> {
        crate::name::validate(name.to_owned(), "context attribute", b"_")?;
        if !self.attributes.contains_key(name) {
            MAX_CONTEXT_ATTRIBUTES.check_len(self.attributes.len().saturating_add(1))?;
        }
        self.attributes.insert(name.to_owned(), value);
        Ok(self)
    }

    /// The device's posture, if the request reported one.
    pub fn device(&self) -> Option<&DevicePosture> {
        self.device.as_ref()
    }

    /// One attribute.
    pub fn attribute(&self, name: &str) -> Option<&ContextValue> {
        self.attributes.get(name)
    }

    /// All attributes, by name.
    pub fn attributes(&self) -> &BTreeMap<String, ContextValue> {
        &self.attributes
    }
}

/// The answer to an authorization question. The default is [`Decision::Deny`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The request may proceed.
    Allow,
    /// The request is refused.
    #[default]
    Deny,
}

impl Decision {
    /// Whether this is [`Decision::Allow`].
    pub const fn is_allowed(self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// Decides whether a principal may perform an action on a resource.
///
/// Implementations answer [`Decision::Deny`] when in doubt: when a backend
/// fails, when nothing grants the request, and always when principal and
/// resource belong to different tenants.
///
/// ```
/// use async_trait::async_trait;
/// use guss_core::{Action, Authorizer, Context, Decision, Principal, Resource, ResourceKind, TenantId, PersonId};
///
/// /// Everyone may read, nobody may do anything else.
/// struct ReadOnly;
///
/// #[async_trait]
/// impl Authorizer for ReadOnly {
///     async fn authorize(&self, principal: &Principal, action: &Action, resource: &Resource, _: &Context) -> Decision {
///         if principal.tenant() == resource.tenant() && *action == Action::READ {
///             Decision::Allow
///         } else {
///             Decision::Deny
///         }
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let tenant = TenantId::new();
/// let anna = Principal::Person { tenant, person: PersonId::new() };
/// let file = Resource::new(tenant, ResourceKind::FILE, "f1")?;
/// ReadOnly.check(&anna, &Action::READ, &file, &Context::new()).await?;
/// assert!(ReadOnly.check(&anna, &Action::DELETE, &file, &Context::new()).await.is_err());
/// # Ok::<(), guss_core::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait Authorizer: Send + Sync {
    /// The decision for `principal` doing `action` to `resource` in `context`.
    async fn authorize(
        &self,
        principal: &Principal,
        action: &Action,
        resource: &Resource,
        context: &Context,
    ) -> Decision;

    /// Like [`Authorizer::authorize`], as a `Result`: [`Error::Forbidden`] on deny.
    async fn check(
        &self,
        principal: &Principal,
        action: &Action,
        resource: &Resource,
        context: &Context,
    ) -> Result<(), Error> {
        if self
            .authorize(principal, action, resource, context)
            .await
            .is_allowed()
        {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }
}

#[async_trait]
impl<A: Authorizer + ?Sized> Authorizer for std::sync::Arc<A> {
    async fn authorize(
        &self,
        principal: &Principal,
        action: &Action,
        resource: &Resource,
        context: &Context,
    ) -> Decision {
        (**self)
            .authorize(principal, action, resource, context)
            .await
    }
}

/// Refuses everything: the authorizer to start from until a policy is wired.
#[derive(Clone, Copy, Debug, Default)]
pub struct DenyAll;

#[async_trait]
impl Authorizer for DenyAll {
    async fn authorize(&self, _: &Principal, _: &Action, _: &Resource, _: &Context) -> Decision {
        Decision::Deny
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PersonId;

    #[test]
    fn decisions_default_to_deny() {
        assert_eq!(Decision::default(), Decision::Deny);
        assert!(!Decision::default().is_allowed());
    }

    #[tokio::test]
    async fn deny_all_denies_everything() {
        let tenant = TenantId::new();
        let owner = Principal::Person {
            tenant,
            person: PersonId::new(),
        };
        let resource = Resource::new(tenant, ResourceKind::TENANT, tenant.to_string()).unwrap();
        for action in [
            Action::READ,
            Action::WRITE,
            Action::ADMINISTER,
            Action::ACT_FOR,
        ] {
            assert_eq!(
                DenyAll
                    .authorize(&owner, &action, &resource, &Context::new())
                    .await,
                Decision::Deny
            );
            assert!(matches!(
                DenyAll
                    .check(&owner, &action, &resource, &Context::new())
                    .await,
                Err(Error::Forbidden)
            ));
        }
    }

    #[test]
    fn resources_are_bounded() {
        let tenant = TenantId::new();
        assert!(Resource::new(tenant, ResourceKind::FILE, "").is_err());
        assert!(Resource::new(tenant, ResourceKind::FILE, "x".repeat(4097)).is_err());
        assert!(Resource::new(tenant, ResourceKind::FILE, "x".repeat(4096)).is_ok());
    }

    #[test]
    fn context_attributes_are_bounded_and_named() {
        let mut context = Context::new();
        for i in 0..64 {
            context = context
                .with_attribute(&format!("a{i}"), ContextValue::Long(i))
                .unwrap();
        }
        assert!(
            context
                .clone()
                .with_attribute("a64", ContextValue::Bool(true))
                .is_err()
        );
        // Replacing an existing attribute does not count twice.
        assert!(
            context
                .with_attribute("a0", ContextValue::Bool(true))
                .is_ok()
        );
        assert!(
            Context::new()
                .with_attribute("Not A Name", ContextValue::Bool(true))
                .is_err()
        );
    }
}
