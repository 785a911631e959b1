//! Plain data: what the identity crate stores and returns. No I/O.

use chrono::{DateTime, TimeDelta, Utc};
use guss_core::{EmailAddress, PersonId, PersonStatus, Scope, TenantId};
use serde::{Deserialize, Serialize};
use url::Url;
use uuid::Uuid;

use crate::{Error, Result};

/// An organisation and where its people sign in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Tenant {
    /// The organisation.
    pub id: TenantId,
    /// Its name, as shown to its people and on passkey prompts.
    pub name: String,
    /// Where passkeys are bound to (custom domains included).
    pub relying_party: RelyingParty,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// The WebAuthn relying party of a tenant: the domain passkeys belong to and
/// the web origins allowed to use them.
///
/// ```
/// use guss_identity::RelyingParty;
///
/// let rp = RelyingParty::new("kanzlei.example", ["https://kanzlei.example"])?;
/// assert_eq!(rp.origins[0].as_str(), "https://kanzlei.example/");
/// assert!(RelyingParty::new("kanzlei.example", ["https://elsewhere.example"]).is_err());
/// # Ok::<(), guss_identity::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RelyingParty {
    /// The relying-party id: a registrable domain such as `kanzlei.example`.
    pub id: String,
    /// Origins allowed to run ceremonies; each must be the id or a subdomain of it.
    pub origins: Vec<Url>,
}

impl RelyingParty {
    /// A relying party for `id`, used from `origins`.
    pub fn new<'a>(id: &str, origins: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let id = id.to_ascii_lowercase();
        if id.is_empty() || id.len() > 253 || id.contains(['/', ':', ' ']) {
            return Err(Error::invalid("relying party id", "must be a domain name"));
        }
        let mut parsed = Vec::new();
        for origin in origins {
            let url = Url::parse(origin).map_err(|_| Error::invalid("origin", "not a URL"))?;
            let host = url.host_str().unwrap_or_default();
            // WebAuthn §5.1.4.1: the RP id must be the origin's effective domain or a suffix of it.
            if host != id && !host.ends_with(&format!(".{id}")) {
                return Err(Error::invalid(
                    "origin",
                    "not within the relying party's domain",
                ));
            }
            parsed.push(url);
        }
        if parsed.is_empty() || parsed.len() > 16 {
            return Err(Error::invalid("origins", "give between 1 and 16"));
        }
        Ok(RelyingParty {
            id,
            origins: parsed,
        })
    }
}

/// A person of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Person {
    /// The person.
    pub id: PersonId,
    /// Name as shown.
    pub display_name: String,
    /// Addresses, primary first.
    pub emails: Vec<EmailAddress>,
    /// Active, suspended or departed.
    pub status: PersonStatus,
    /// Roles held.
    pub roles: Vec<Role>,
    /// When the person was added.
    pub created_at: DateTime<Utc>,
}

impl Person {
    /// Whether the person holds `role`.
    pub fn has_role(&self, role: &Role) -> bool {
        self.roles.contains(role)
    }

    /// Whether the person may administer the tenant (owner or admin).
    pub fn is_admin(&self) -> bool {
        self.has_role(&Role::OWNER) || self.has_role(&Role::ADMIN)
    }
}

/// A role name: the built-in `owner`, `admin`, `member`, `guest`, or a custom
/// one (lowercase letters, digits, `_`).
///
/// ```
/// use guss_identity::Role;
///
/// assert_eq!(Role::OWNER.as_str(), "owner");
/// let custom = Role::new("front_desk")?;
/// assert!(Role::new("Front Desk").is_err());
/// # Ok::<(), guss_identity::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Role(guss_core::Action);

impl Role {
    /// Holds the organisation: everything, including the other owners.
    pub const OWNER: Role = Role(guss_core::Action::from_static("owner"));
    /// Administers people, roles and settings.
    pub const ADMIN: Role = Role(guss_core::Action::from_static("admin"));
    /// Works here.
    pub const MEMBER: Role = Role(guss_core::Action::from_static("member"));
    /// Sees what is shared with them, nothing else.
    pub const GUEST: Role = Role(guss_core::Action::from_static("guest"));

    /// A role by name (validated like an action name).
    pub fn new(name: &str) -> Result<Self> {
        guss_core::Action::new(name.to_owned())
            .map(Role)
            .map_err(|_| Error::invalid("role", "lowercase letters, digits and _ only"))
    }

    /// The role's name.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl TryFrom<String> for Role {
    type Error = Error;
    fn try_from(name: String) -> Result<Self> {
        Role::new(&name)
    }
}

impl From<Role> for String {
    fn from(role: Role) -> String {
        role.as_str().to_owned()
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registered passkey, as listed to its owner (the key material stays inside).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PasskeyInfo {
    /// Id for listing and removal.
    pub id: Uuid,
    /// The person it belongs to.
    pub person: PersonId,
    /// A label such as "Laptop" or "Phone".
    pub label: String,
    /// The WebAuthn credential id, base64url.
    pub credential_id: String,
    /// Whether the passkey may be synced to other devices (backup eligible).
    pub backup_eligible: bool,
    /// Whether it is currently backed up (synced).
    pub backed_up: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it was last used to sign in.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// How a session or a step-up was authenticated. Admin actions accept only
/// a passkey (checked by method, not by how recent the session is).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A passkey assertion with user verification.
    Passkey,
    /// A first passkey enrolled through an invitation.
    Invitation,
    /// A passkey enrolled through an admin-issued recovery link.
    RecoveryLink,
    /// A passkey enrolled after a quorum break-glass.
    BreakGlass,
}

impl AuthMethod {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Passkey => "passkey",
            AuthMethod::Invitation => "invitation",
            AuthMethod::RecoveryLink => "recovery_link",
            AuthMethod::BreakGlass => "break_glass",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self> {
        [
            AuthMethod::Passkey,
            AuthMethod::Invitation,
            AuthMethod::RecoveryLink,
            AuthMethod::BreakGlass,
        ]
        .into_iter()
        .find(|m| m.as_str() == text)
        .ok_or_else(|| Error::invalid("auth method", "unknown"))
    }
}

/// A signed-in session, as listed to its owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionInfo {
    /// Id for listing and revocation (not the token).
    pub id: Uuid,
    /// Whose session.
    pub person: PersonId,
    /// How it was signed in.
    pub method: AuthMethod,
    /// A label, e.g. the browser.
    pub label: String,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub last_seen_at: DateTime<Utc>,
    /// When it ends at the latest.
    pub expires_at: DateTime<Utc>,
    /// The last step-up: when, and how.
    pub step_up: Option<(DateTime<Utc>, AuthMethod)>,
}

/// An app password as listed (the password itself is shown once, at creation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AppPasswordInfo {
    /// Id for revocation.
    pub id: Uuid,
    /// Whose.
    pub person: PersonId,
    /// The device it is for, e.g. "iPhone Mail".
    pub label: String,
    /// What it may be used for.
    pub scopes: Vec<Scope>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// An invitation waiting to be accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InvitationInfo {
    /// Id for revocation.
    pub id: Uuid,
    /// Who is invited (already created, without a passkey).
    pub person: PersonId,
    /// Where the link was sent.
    pub email: EmailAddress,
    /// Until when the link works.
    pub expires_at: DateTime<Utc>,
}

/// A break-glass request in its waiting period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BreakGlassInfo {
    /// The request.
    pub id: Uuid,
    /// Who will receive the new owner passkey.
    pub email: EmailAddress,
    /// Their name, if they are new.
    pub display_name: String,
    /// When the trustees presented their shares.
    pub started_at: DateTime<Utc>,
    /// When enrolment becomes possible (unless vetoed).
    pub not_before: DateTime<Utc>,
    /// Set if an admin vetoed it.
    pub vetoed_at: Option<DateTime<Utc>>,
    /// Set once the new passkey is enrolled.
    pub completed_at: Option<DateTime<Utc>>,
}

/// A printable recovery sheet for one trustee: their share of the tenant's
/// recovery secret. Shown once, when the quorum is configured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecoverySheet {
    /// The trustee, e.g. "Dr. Weber (tax adviser)".
    pub trustee: String,
    /// How many sheets are needed together.
    pub threshold: u8,
    /// Of how many.
    pub total: u8,
    /// The share, as text to type or scan.
    pub share: String,
}

/// Something that puts the organisation's continuity at risk, with what fixes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Finding {
    /// Fewer than two people can administer the organisation.
    TooFewAdmins {
        /// How many owners and admins there are.
        count: usize,
    },
    /// A person would be locked out by losing one device.
    SinglePasskey {
        /// Who.
        person: PersonId,
        /// How many passkeys they have (0 or 1).
        count: usize,
    },
    /// No trustees hold recovery sheets (or the sheets were used up).
    NoTrustees,
}

/// Durations and bounds of the identity flows. The defaults are safe.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// A WebAuthn ceremony must finish within this.
    pub ceremony_ttl: TimeDelta,
    /// A session ends after this long unused.
    pub session_idle: TimeDelta,
    /// A session ends after this long at the latest.
    pub session_absolute: TimeDelta,
    /// A step-up counts for admin actions this long.
    pub step_up_window: TimeDelta,
    /// An invitation link works this long.
    pub invitation_ttl: TimeDelta,
    /// A recovery link works this long (after its delay).
    pub recovery_link_ttl: TimeDelta,
    /// Waiting period after trustees present their shares.
    pub break_glass_delay: TimeDelta,
    /// Failed attempts allowed per account or source within `attempt_window`.
    pub max_failed_attempts: u32,
    /// The window failed attempts are counted in.
    pub attempt_window: TimeDelta,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ceremony_ttl: TimeDelta::minutes(5),
            session_idle: TimeDelta::hours(12),
            session_absolute: TimeDelta::days(14),
            step_up_window: TimeDelta::minutes(5),
            invitation_ttl: TimeDelta::days(7),
            recovery_link_ttl: TimeDelta::hours(1),
            break_glass_delay: TimeDelta::hours(72),
            max_failed_attempts: 10,
            attempt_window: TimeDelta::minutes(15),
        }
    }
}
