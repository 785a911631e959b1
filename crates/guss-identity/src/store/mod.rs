//! Where identity data lives: the [`IdentityStore`] trait, implemented on
//! SQLite (one database file per tenant, the embedded default) and on
//! PostgreSQL (`tenant_id` on every row, plus row-level security as a second
//! wall). Both run the same SQL and the same conformance tests.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use guss_core::{EmailAddress, GroupEntry, GroupId, PersonId, PersonStatus, TenantId};
use uuid::Uuid;

use crate::Result;
use crate::model::{
    AppPasswordInfo, AuthMethod, BreakGlassInfo, PasskeyInfo, Person, Role, SessionInfo, Tenant,
};

#[cfg(feature = "postgres")]
mod postgres;
mod schema;
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use sql::{SqlStore, SqlTenantStore};

/// A passkey with its key material, as stored.
#[derive(Clone, Debug)]
pub struct StoredPasskey {
    /// What the owner sees.
    pub info: PasskeyInfo,
    /// The raw credential id.
    pub credential_id: Vec<u8>,
    /// The webauthn-rs credential (public key, counter, flags).
    pub passkey: webauthn_rs::prelude::Passkey,
}

impl StoredPasskey {
    /// A passkey with its listing fields (credential id, backup flags) read
    /// from the credential itself, so that they can never disagree with it.
    pub fn new(
        id: Uuid,
        person: PersonId,
        label: String,
        created_at: DateTime<Utc>,
        last_used_at: Option<DateTime<Utc>>,
        passkey: webauthn_rs::prelude::Passkey,
    ) -> Self {
        use base64::Engine as _;
        // The backup flags live inside the credential; surface them for listing.
        let credential = serde_json::to_value(&passkey).unwrap_or_default();
        let flag = |name: &str| {
            credential
                .pointer(&format!("/cred/{name}"))
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false)
        };
        let credential_id = passkey.cred_id().to_vec();
        StoredPasskey {
            info: PasskeyInfo {
                id,
                person,
                label,
                credential_id: base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(&credential_id),
                backup_eligible: flag("backup_eligible"),
                backed_up: flag("backup_state"),
                created_at,
                last_used_at,
            },
            credential_id,
            passkey,
        }
    }
}

/// A session with its state.
#[derive(Clone, Debug)]
pub struct StoredSession {
    /// What the owner sees.
    pub info: SessionInfo,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// An app password with its hash.
#[derive(Clone, Debug)]
pub struct StoredAppPassword {
    /// What the owner sees.
    pub info: AppPasswordInfo,
    /// Clear prefix to find it by.
    pub lookup: String,
    /// Argon2id PHC string.
    pub hash: String,
}

/// A pending WebAuthn ceremony: server-side state, single use, expiring.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Ceremony {
    /// Whose ceremony, if known when it started.
    pub person: Option<PersonId>,
    /// What finishing it will do.
    pub purpose: Purpose,
    /// The webauthn-rs state, serialized.
    pub state: serde_json::Value,
}

/// What a finished ceremony is for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "purpose", rename_all = "snake_case")]
pub enum Purpose {
    /// Sign in with a named person's passkeys.
    SignIn,
    /// Sign in with whatever discoverable passkey the browser offers.
    DiscoverableSignIn,
    /// Confirm an admin action in an existing session.
    StepUp {
        /// The session being stepped up.
        session: Uuid,
    },
    /// Add another passkey to a signed-in person.
    AddPasskey {
        /// Label for the new passkey.
        label: String,
    },
    /// Enrol a passkey through an invitation, recovery link or break-glass.
    Enroll {
        /// The enrolment consumed on success.
        enrollment: Uuid,
        /// What the enrolment was issued for.
        kind: EnrollmentKind,
        /// Label for the new passkey.
        label: String,
    },
}

/// What an enrolment token was issued for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentKind {
    /// A new person's first passkey.
    Invitation,
    /// A passkey for a person who lost theirs, issued by an admin.
    RecoveryLink,
    /// One new owner passkey after a quorum break-glass.
    BreakGlass,
}

impl EnrollmentKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EnrollmentKind::Invitation => "invitation",
            EnrollmentKind::RecoveryLink => "recovery_link",
            EnrollmentKind::BreakGlass => "break_glass",
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Self> {
        match text {
            "invitation" => Ok(EnrollmentKind::Invitation),
            "recovery_link" => Ok(EnrollmentKind::RecoveryLink),
            "break_glass" => Ok(EnrollmentKind::BreakGlass),
            _ => Err(crate::Error::invalid("enrollment kind", "unknown")),
        }
    }

    /// How a session started by this enrolment was authenticated.
    pub(crate) fn method(self) -> AuthMethod {
        match self {
            EnrollmentKind::Invitation => AuthMethod::Invitation,
            EnrollmentKind::RecoveryLink => AuthMethod::RecoveryLink,
            EnrollmentKind::BreakGlass => AuthMethod::BreakGlass,
        }
    }
}

/// A single-use, expiring permission to enrol a passkey for a person.
#[derive(Clone, Debug)]
pub struct Enrollment {
    /// The enrolment.
    pub id: Uuid,
    /// Why it exists.
    pub kind: EnrollmentKind,
    /// Who will get the passkey.
    pub person: PersonId,
    /// Where the link went.
    pub email: EmailAddress,
    /// Who issued it (none for break-glass and tenant creation).
    pub created_by: Option<PersonId>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Not usable before (recovery delay).
    pub not_before: DateTime<Utc>,
    /// Not usable after.
    pub expires_at: DateTime<Utc>,
    /// Set when used.
    pub used_at: Option<DateTime<Utc>>,
    /// Set when revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The break-glass quorum: a recovery secret split among trustees.
#[derive(Clone, Debug)]
pub struct Quorum {
    /// Shares needed.
    pub threshold: u8,
    /// Trustee names, one per share.
    pub trustees: Vec<String>,
    /// SHA-256 of the recovery secret.
    pub secret_hash: Vec<u8>,
    /// When configured.
    pub created_at: DateTime<Utc>,
    /// Set once the secret has been used (the sheets must be renewed).
    pub used_at: Option<DateTime<Utc>>,
}

/// The registry of tenants, and handles onto each tenant's data.
#[async_trait]
pub trait TenantRegistry: Send + Sync {
    /// The tenant-scoped store type.
    type Scoped: IdentityStore;

    /// Records a new tenant.
    async fn create_tenant(&self, tenant: &Tenant) -> Result<()>;
    /// One tenant.
    async fn tenant(&self, id: TenantId) -> Result<Option<Tenant>>;
    /// All tenants.
    async fn tenants(&self) -> Result<Vec<Tenant>>;
    /// Replaces a tenant's relying party (a custom domain moved in).
    async fn set_relying_party(
        &self,
        tenant: TenantId,
        relying_party: &crate::model::RelyingParty,
    ) -> Result<()>;
    /// Lets `tenant` host mail for `domain` (lowercase); a domain has one tenant.
    async fn add_domain(&self, tenant: TenantId, domain: &str) -> Result<()>;
    /// The tenant hosting `domain`.
    async fn tenant_for_domain(&self, domain: &str) -> Result<Option<TenantId>>;
    /// The store of one tenant: it cannot name another tenant's data.
    async fn scoped(&self, tenant: TenantId) -> Result<Self::Scoped>;
}

/// One tenant's identity data. Every method sees only that tenant.
#[async_trait]
pub trait IdentityStore: Send + Sync + Clone {
    /// The tenant this handle is scoped to.
    fn tenant_id(&self) -> TenantId;

    // people
    /// Adds a person with addresses and roles; `Conflict` if an address is taken.
    async fn insert_person(&self, person: &Person) -> Result<()>;
    /// One person.
    async fn person(&self, id: PersonId) -> Result<Option<Person>>;
    /// The person an address belongs to.
    async fn person_by_email(&self, address: &EmailAddress) -> Result<Option<Person>>;
    /// Everyone.
    async fn people(&self) -> Result<Vec<Person>>;
    /// Sets a person's status.
    async fn set_status(&self, id: PersonId, status: PersonStatus) -> Result<()>;
    /// Grants a role (idempotent).
    async fn grant_role(&self, id: PersonId, role: &Role, at: DateTime<Utc>) -> Result<()>;
    /// Revokes a role; refuses (`Conflict`) to leave the tenant without an active owner.
    async fn revoke_role(&self, id: PersonId, role: &Role) -> Result<()>;

    // groups
    /// Adds a group; `Conflict` if its address is taken.
    async fn insert_group(&self, group: &GroupEntry) -> Result<()>;
    /// One group.
    async fn group(&self, id: GroupId) -> Result<Option<GroupEntry>>;
    /// The group an address belongs to.
    async fn group_by_email(&self, address: &EmailAddress) -> Result<Option<GroupEntry>>;
    /// Adds a member (idempotent).
    async fn add_member(&self, group: GroupId, person: PersonId) -> Result<()>;
    /// Groups of a person.
    async fn groups_of(&self, person: PersonId) -> Result<Vec<GroupId>>;
    /// Members of a group.
    async fn members_of(&self, group: GroupId) -> Result<Vec<PersonId>>;

    // passkeys
    /// Stores a new passkey; `Conflict` if its credential id exists in the tenant.
    async fn insert_passkey(&self, passkey: &StoredPasskey) -> Result<()>;
    /// A person's passkeys.
    async fn passkeys_of(&self, person: PersonId) -> Result<Vec<StoredPasskey>>;
    /// The passkey with a credential id.
    async fn passkey_by_credential(&self, credential_id: &[u8]) -> Result<Option<StoredPasskey>>;
    /// Saves counter and backup flags after a sign-in.
    async fn update_passkey(&self, passkey: &StoredPasskey) -> Result<()>;
    /// Removes one of a person's passkeys; refuses (`Conflict`) to remove the last one.
    async fn delete_passkey(&self, person: PersonId, id: Uuid) -> Result<()>;

    // ceremonies
    /// Stores ceremony state under the hash of its id.
    async fn insert_ceremony(
        &self,
        id_hash: &[u8],
        ceremony: &Ceremony,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Removes and returns ceremony state if it has not expired: each state is used at most once.
    async fn take_ceremony(&self, id_hash: &[u8], now: DateTime<Utc>) -> Result<Option<Ceremony>>;
    /// Reads ceremony state without using it up (see [`IdentityStore::finish_sign_in`]).
    async fn peek_ceremony(&self, id_hash: &[u8], now: DateTime<Utc>) -> Result<Option<Ceremony>>;
    /// In one transaction: uses up the ceremony (`NotFound` if it is gone or
    /// expired: a replay), checks that the passkey's person is active
    /// (`Unauthenticated` if not), saves the passkey's counter and flags, and
    /// starts the session. One commit per sign-in. Returns the person's name.
    async fn finish_sign_in(
        &self,
        ceremony_hash: &[u8],
        passkey: &StoredPasskey,
        token_hash: &[u8],
        session: &SessionInfo,
    ) -> Result<String>;

    // sessions
    /// Stores a new session under the hash of its token.
    async fn insert_session(&self, token_hash: &[u8], session: &SessionInfo) -> Result<()>;
    /// The session of a token.
    async fn session_by_token(&self, token_hash: &[u8]) -> Result<Option<StoredSession>>;
    /// Records use of a session.
    async fn touch_session(&self, id: Uuid, at: DateTime<Utc>) -> Result<()>;
    /// Records a step-up in a session.
    async fn set_step_up(&self, id: Uuid, at: DateTime<Utc>, method: AuthMethod) -> Result<()>;
    /// A person's sessions that are not revoked.
    async fn sessions_of(&self, person: PersonId) -> Result<Vec<SessionInfo>>;
    /// Revokes one session of a person; false if there was none.
    async fn revoke_session(&self, person: PersonId, id: Uuid, at: DateTime<Utc>) -> Result<bool>;

    // app passwords
    /// Stores a new app password.
    async fn insert_app_password(&self, password: &StoredAppPassword) -> Result<()>;
    /// A person's unrevoked app passwords with a lookup prefix.
    async fn app_passwords_by_lookup(
        &self,
        person: PersonId,
        lookup: &str,
    ) -> Result<Vec<StoredAppPassword>>;
    /// A person's unrevoked app passwords.
    async fn app_passwords_of(&self, person: PersonId) -> Result<Vec<AppPasswordInfo>>;
    /// Records use of an app password.
    async fn touch_app_password(&self, id: Uuid, at: DateTime<Utc>) -> Result<()>;
    /// Revokes one app password of a person; false if there was none.
    async fn revoke_app_password(
        &self,
        person: PersonId,
        id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<bool>;

    /// Suspension and departure: revokes all sessions, app passwords and
    /// open enrolments of a person and sets the status, in one transaction.
    async fn lock_out(
        &self,
        person: PersonId,
        status: PersonStatus,
        at: DateTime<Utc>,
    ) -> Result<()>;

    // enrolments
    /// Stores an enrolment under the hash of its token.
    async fn insert_enrollment(&self, token_hash: &[u8], enrollment: &Enrollment) -> Result<()>;
    /// The enrolment of a token.
    async fn enrollment_by_token(&self, token_hash: &[u8]) -> Result<Option<Enrollment>>;
    /// Open enrolments of a kind.
    async fn open_enrollments(
        &self,
        kind: EnrollmentKind,
        now: DateTime<Utc>,
    ) -> Result<Vec<Enrollment>>;
    /// Revokes an open enrolment; false if none was open.
    async fn revoke_enrollment(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool>;
    /// In one transaction: consumes a usable enrolment, stores the passkey,
    /// grants `role` if given, and starts the session. Fails without change
    /// (`NotFound`) if the enrolment was used, revoked, expired or not yet valid.
    async fn enroll(
        &self,
        enrollment: Uuid,
        passkey: &StoredPasskey,
        role: Option<&Role>,
        token_hash: &[u8],
        session: &SessionInfo,
    ) -> Result<()>;

    // break-glass
    /// Replaces the quorum configuration.
    async fn set_quorum(&self, quorum: &Quorum) -> Result<()>;
    /// The quorum configuration.
    async fn quorum(&self) -> Result<Option<Quorum>>;
    /// Starts a break-glass request and marks the quorum used, in one transaction;
    /// `Conflict` if the quorum was used already.
    async fn start_break_glass(&self, request: &BreakGlassInfo) -> Result<()>;
    /// One break-glass request.
    async fn break_glass(&self, id: Uuid) -> Result<Option<BreakGlassInfo>>;
    /// Vetoes a waiting request; false if it was not waiting.
    async fn veto_break_glass(&self, id: Uuid, by: PersonId, at: DateTime<Utc>) -> Result<bool>;
    /// Marks a request completed (an enrolment was issued); false if it was not eligible.
    async fn complete_break_glass(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool>;

    // rate limiting
    /// The most failed attempts recorded since `since` under any one of `keys`.
    async fn failures_since(&self, keys: &[String], since: DateTime<Utc>) -> Result<u32>;
    /// Records a failed attempt (and forgets those before `forget_before`).
    async fn record_failure(
        &self,
        key: &str,
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<()>;
}
