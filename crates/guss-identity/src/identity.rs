//! The identity service: tenants, sign-in, sessions, passkeys and step-up.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use guss_core::{
    Action, Authorizer, Clock, Context, EmailAddress, Event, EventSink, EventSource, EventType,
    Limit, PersonId, PersonStatus, Principal, Resource, ResourceKind, TenantId,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential,
};

use crate::ceremony::{self, AuthenticationChallenge, RegistrationChallenge, RelyingParties};
use crate::model::{
    AuthMethod, PasskeyInfo, Person, RelyingParty, Role, SessionInfo, Settings, Tenant,
};
use crate::store::{
    Enrollment, EnrollmentKind, IdentityStore, Purpose, StoredPasskey, TenantRegistry,
};
use crate::{Error, Result, secret};

pub(crate) const SOURCE: EventSource = EventSource::from_static("guss-identity");

/// Longest display name, label or organisation name.
pub(crate) const MAX_NAME: Limit = Limit::new("name length", 200);

/// Where a request comes from: for rate limiting and for labelling sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Client {
    /// The peer's address, if known.
    pub address: Option<IpAddr>,
    /// A label for sessions started from here, e.g. the browser's name.
    pub label: String,
}

impl Client {
    /// A client at `address` labelled `label`.
    pub fn new(address: Option<IpAddr>, label: impl Into<String>) -> Self {
        let mut label: String = label.into();
        label.truncate(MAX_NAME.max_usize());
        Client { address, label }
    }
}

/// A validated, signed-in session.
#[derive(Clone, Debug)]
pub struct Session {
    /// The session's tenant.
    pub tenant: TenantId,
    /// The session.
    pub info: SessionInfo,
}

impl Session {
    /// Who acts through this session.
    pub fn principal(&self) -> Principal {
        Principal::Person {
            tenant: self.tenant,
            person: self.info.person,
        }
    }

    /// The person signed in.
    pub fn person(&self) -> PersonId {
        self.info.person
    }

    /// Whether a passkey confirmed this session within `window` of `now`.
    /// Only a passkey counts: a session begun through a recovery link or an
    /// invitation is not an admin confirmation, however young it is.
    pub fn stepped_up(&self, now: DateTime<Utc>, window: chrono::TimeDelta) -> bool {
        matches!(self.info.step_up, Some((at, AuthMethod::Passkey)) if now - at <= window && at <= now)
    }
}

/// A successful sign-in or enrolment: the token to put in the cookie (shown
/// once) and the session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignedIn {
    /// The session token (256 bits, base64url).
    pub token: String,
    /// The session.
    pub session: SessionInfo,
    /// Who signed in.
    pub display_name: String,
}

/// A link that lets one person enrol a passkey: an invitation, a recovery link.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnrollmentLink {
    /// The enrolment (for revocation).
    pub id: Uuid,
    /// Who it is for.
    pub person: PersonId,
    /// The token to put in the link (shown once).
    pub token: String,
    /// Until when it works.
    pub expires_at: DateTime<Utc>,
}

/// The identity service of all tenants in one store.
///
/// See the crate documentation for a whole sign-in.
pub struct Identity<R: TenantRegistry> {
    pub(crate) store: R,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) events: Arc<dyn EventSink>,
    pub(crate) authorizer: Arc<dyn Authorizer>,
    pub(crate) settings: Settings,
    relying_parties: RelyingParties,
}

impl<R: TenantRegistry> Identity<R> {
    /// The service over `store`, emitting events to `events` and asking
    /// `authorizer` before every admin action.
    pub fn new(
        store: R,
        clock: Arc<dyn Clock>,
        events: Arc<dyn EventSink>,
        authorizer: Arc<dyn Authorizer>,
    ) -> Self {
        Identity {
            store,
            clock,
            events,
            authorizer,
            settings: Settings::default(),
            relying_parties: RelyingParties::default(),
        }
    }

    /// The same service with other durations and bounds.
    #[must_use]
    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// The store (for embedders that need to look things up directly).
    pub fn store(&self) -> &R {
        &self.store
    }

    /// The durations and bounds in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(crate) async fn scoped(&self, tenant: TenantId) -> Result<R::Scoped> {
        self.store.scoped(tenant).await
    }

    pub(crate) async fn tenant(&self, tenant: TenantId) -> Result<Tenant> {
        self.store
            .tenant(tenant)
            .await?
            .ok_or_else(|| Error::not_found("organisation"))
    }

    /// The tenant's relying party (built once, then cached).
    async fn webauthn(&self, tenant: TenantId) -> Result<Arc<webauthn_rs::prelude::Webauthn>> {
        match self.relying_parties.cached(tenant) {
            Some(webauthn) => Ok(webauthn),
            None => self.relying_parties.get(&self.tenant(tenant).await?),
        }
    }

    pub(crate) async fn emit(
        &self,
        tenant: TenantId,
        kind: &'static str,
        subject: String,
        actor: Option<&Principal>,
        data: serde_json::Value,
    ) -> Result<()> {
        let mut builder = Event::builder(tenant, SOURCE, EventType::new(kind)?)
            .subject(subject)?
            .data(data);
        if let Some(actor) = actor {
            builder = builder.actor(actor);
        }
        self.events.emit(builder.build(&*self.clock)).await?;
        Ok(())
    }

    /// Emits an event about the signed-in person, caused by them.
    pub(crate) async fn emit_own(
        &self,
        session: &Session,
        kind: &'static str,
        data: serde_json::Value,
    ) -> Result<()> {
        self.emit(
            session.tenant,
            kind,
            format!("person/{}", session.person()),
            Some(&session.principal()),
            data,
        )
        .await
    }

    // ------------------------------------------------------------ tenants

    /// Creates an organisation with its first owner, and returns the owner's
    /// single-use setup link (an invitation to enrol a first passkey).
    pub async fn create_tenant(
        &self,
        name: &str,
        relying_party: RelyingParty,
        owner_name: &str,
        owner_email: EmailAddress,
    ) -> Result<(Tenant, EnrollmentLink)> {
        check_name(name, "organisation name")?;
        check_name(owner_name, "owner name")?;
        let now = self.now();
        let tenant = Tenant {
            id: TenantId::new(),
            name: name.to_owned(),
            relying_party,
            created_at: now,
        };
        self.store.create_tenant(&tenant).await?;
        let store = self.scoped(tenant.id).await?;
        let owner = Person {
            id: PersonId::new(),
            display_name: owner_name.to_owned(),
            emails: vec![owner_email.clone()],
            status: PersonStatus::Active,
            roles: vec![Role::OWNER],
            created_at: now,
        };
        store.insert_person(&owner).await?;
        let link = self
            .issue_enrollment(
                &store,
                EnrollmentKind::Invitation,
                &owner,
                None,
                now,
                self.settings.invitation_ttl,
            )
            .await?;
        self.emit(
            tenant.id,
            "guss.identity.tenant.created",
            format!("tenant/{}", tenant.id),
            None,
            serde_json::json!({ "name": name, "owner": owner.id, "owner_email": owner_email }),
        )
        .await?;
        Ok((tenant, link))
    }

    /// Moves the organisation's passkeys to another relying party, e.g. its
    /// own domain (owner action). Passkeys are bound to their relying-party
    /// id: when the id changes, people enrol new passkeys through recovery
    /// links; adding origins under the same id keeps them.
    pub async fn set_relying_party(
        &self,
        session: &Session,
        relying_party: RelyingParty,
    ) -> Result<()> {
        self.require_admin(session).await?;
        self.require_owner(session).await?;
        self.store
            .set_relying_party(session.tenant, &relying_party)
            .await?;
        self.relying_parties.forget(session.tenant);
        self.emit_own(
            session,
            "guss.identity.tenant.relying_party_changed",
            serde_json::json!({ "rp_id": relying_party.id, "origins": relying_party.origins }),
        )
        .await
    }

    pub(crate) async fn issue_enrollment(
        &self,
        store: &R::Scoped,
        kind: EnrollmentKind,
        person: &Person,
        created_by: Option<PersonId>,
        not_before: DateTime<Utc>,
        ttl: chrono::TimeDelta,
    ) -> Result<EnrollmentLink> {
        let email =
            person.emails.first().cloned().ok_or_else(|| {
                Error::invalid("person", "has no e-mail address to send the link to")
            })?;
        let (token, hash) = secret::new_token()?;
        let enrollment = Enrollment {
            id: Uuid::now_v7(),
            kind,
            person: person.id,
            email,
            created_by,
            created_at: self.now(),
            not_before,
            expires_at: not_before + ttl,
            used_at: None,
            revoked_at: None,
        };
        store.insert_enrollment(&hash, &enrollment).await?;
        Ok(EnrollmentLink {
            id: enrollment.id,
            person: person.id,
            token,
            expires_at: enrollment.expires_at,
        })
    }

    // ------------------------------------------------------------ enrolment

    /// Starts enrolling a passkey with the token of an invitation, recovery
    /// link or break-glass. The token stays valid until the ceremony finishes.
    pub async fn start_enrollment(
        &self,
        tenant: TenantId,
        token: &str,
        label: &str,
        client: &Client,
    ) -> Result<RegistrationChallenge> {
        check_name(label, "passkey label")?;
        let store = self.scoped(tenant).await?;
        let keys = rate_keys(client, []);
        self.check_rate(&store, &keys).await?;
        let now = self.now();
        let usable = match store
            .enrollment_by_token(&secret::hash_token(bounded_token(token)?))
            .await?
        {
            Some(e)
                if e.used_at.is_none()
                    && e.revoked_at.is_none()
                    && e.not_before <= now
                    && now < e.expires_at =>
            {
                e
            }
            _ => {
                self.record_failures(&store, &keys).await?;
                return Err(Error::not_found(
                    "enrollment link (used, revoked, expired or not yet valid)",
                ));
            }
        };
        let person = store
            .person(usable.person)
            .await?
            .ok_or_else(|| Error::not_found("person"))?;
        if person.status != PersonStatus::Active {
            return Err(Error::Forbidden);
        }
        let purpose = Purpose::Enroll {
            enrollment: usable.id,
            kind: usable.kind,
            label: label.to_owned(),
        };
        self.start_registration(tenant, &store, &person, purpose)
            .await
    }

    /// Finishes an enrolment: stores the passkey, uses up the link and signs
    /// the person in, all at once or not at all.
    pub async fn finish_enrollment(
        &self,
        tenant: TenantId,
        ceremony_id: &str,
        credential: &RegisterPublicKeyCredential,
        client: &Client,
    ) -> Result<SignedIn> {
        let store = self.scoped(tenant).await?;
        let now = self.now();
        let ceremony = ceremony::take(&store, ceremony_id, now).await?;
        let Purpose::Enroll {
            enrollment,
            kind,
            label,
        } = ceremony.purpose.clone()
        else {
            return Err(Error::not_found("ceremony"));
        };
        let person_id = ceremony
            .person
            .ok_or_else(|| Error::not_found("ceremony"))?;
        let person = store
            .person(person_id)
            .await?
            .ok_or_else(|| Error::not_found("person"))?;
        let passkey = self
            .verify_registration(tenant, &ceremony, credential, person_id, &label)
            .await?;
        let owner = Role::OWNER;
        let role = (kind == EnrollmentKind::BreakGlass).then_some(&owner);
        let (token, hash) = secret::new_token()?;
        let session = self.new_session(person_id, kind.method(), client, now);
        store
            .enroll(enrollment, &passkey, role, &hash, &session)
            .await?;
        let event = match kind {
            EnrollmentKind::Invitation => "guss.identity.invitation.used",
            EnrollmentKind::RecoveryLink => "guss.identity.recovery.link_used",
            EnrollmentKind::BreakGlass => "guss.identity.recovery.completed",
        };
        let actor = Principal::Person {
            tenant,
            person: person_id,
        };
        self.emit(
            tenant,
            event,
            format!("person/{person_id}"),
            Some(&actor),
            serde_json::json!({ "enrollment": enrollment }),
        )
        .await?;
        self.emit_passkey_added(tenant, &actor, &passkey.info)
            .await?;
        Ok(SignedIn {
            token,
            session,
            display_name: person.display_name,
        })
    }

    async fn start_registration(
        &self,
        tenant: TenantId,
        store: &R::Scoped,
        person: &Person,
        purpose: Purpose,
    ) -> Result<RegistrationChallenge> {
        let webauthn = self.webauthn(tenant).await?;
        let existing: Vec<_> = store
            .passkeys_of(person.id)
            .await?
            .into_iter()
            .map(|p| p.passkey.cred_id().clone())
            .collect();
        let user_name = person
            .emails
            .first()
            .map_or(person.display_name.as_str(), |e| e.as_str());
        let (options, state) = webauthn
            .start_passkey_registration(
                *person.id.as_uuid(),
                user_name,
                &person.display_name,
                Some(existing),
            )
            .map_err(|e| Error::invalid("passkey registration", e.to_string()))?;
        let expires_at = self.now() + self.settings.ceremony_ttl;
        let id = ceremony::save(store, Some(person.id), purpose, &state, expires_at).await?;
        Ok(RegistrationChallenge {
            ceremony: id,
            options: ceremony::prefer_discoverable(options),
        })
    }

    async fn verify_registration(
        &self,
        tenant: TenantId,
        ceremony: &crate::store::Ceremony,
        credential: &RegisterPublicKeyCredential,
        person: PersonId,
        label: &str,
    ) -> Result<StoredPasskey> {
        let webauthn = self.webauthn(tenant).await?;
        let state: PasskeyRegistration = ceremony::state(ceremony)?;
        let passkey = webauthn
            .finish_passkey_registration(credential, &state)
            .map_err(|e| Error::invalid("passkey registration", e.to_string()))?;
        Ok(StoredPasskey::new(
            Uuid::now_v7(),
            person,
            label.to_owned(),
            self.now(),
            None,
            passkey,
        ))
    }

    async fn emit_passkey_added(
        &self,
        tenant: TenantId,
        actor: &Principal,
        info: &PasskeyInfo,
    ) -> Result<()> {
        self.emit(
            tenant,
            "guss.identity.passkey.added",
            format!("person/{}", info.person),
            Some(actor),
            serde_json::json!({ "passkey": info.id, "label": info.label }),
        )
        .await
    }

    fn new_session(
        &self,
        person: PersonId,
        method: AuthMethod,
        client: &Client,
        now: DateTime<Utc>,
    ) -> SessionInfo {
        SessionInfo {
            id: Uuid::now_v7(),
            person,
            method,
            label: client.label.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + self.settings.session_absolute,
            // Signing in with a passkey is itself a passkey confirmation.
            step_up: (method == AuthMethod::Passkey).then_some((now, AuthMethod::Passkey)),
        }
    }

    // ------------------------------------------------------------ sign-in

    /// Starts signing in: with `email`, for that person's passkeys; without,
    /// for any discoverable passkey of the tenant (username-less).
    pub async fn start_sign_in(
        &self,
        tenant: TenantId,
        email: Option<&EmailAddress>,
    ) -> Result<AuthenticationChallenge> {
        let webauthn = self.webauthn(tenant).await?;
        let store = self.scoped(tenant).await?;
        let expires_at = self.now() + self.settings.ceremony_ttl;
        match email {
            None => {
                let (mut options, state) = webauthn
                    .start_discoverable_authentication()
                    .map_err(|e| Error::invalid("passkey sign-in", e.to_string()))?;
                // A click on "sign in" is a modal request, not autofill.
                options.mediation = None;
                let id = ceremony::save(
                    &store,
                    None,
                    Purpose::DiscoverableSignIn,
                    &state,
                    expires_at,
                )
                .await?;
                Ok(AuthenticationChallenge {
                    ceremony: id,
                    options,
                })
            }
            Some(email) => {
                // Unknown addresses get a challenge too (without credentials), so
                // that the answer does not reveal who has an account here.
                let person = store
                    .person_by_email(email)
                    .await?
                    .filter(|p| p.status == PersonStatus::Active);
                let passkeys: Vec<_> = match &person {
                    Some(p) => store
                        .passkeys_of(p.id)
                        .await?
                        .into_iter()
                        .map(|p| p.passkey)
                        .collect(),
                    None => Vec::new(),
                };
                if passkeys.is_empty() {
                    let (options, state) = webauthn
                        .start_discoverable_authentication()
                        .map_err(|e| Error::invalid("passkey sign-in", e.to_string()))?;
                    let mut options = options;
                    options.mediation = None;
                    let id =
                        ceremony::save(&store, None, Purpose::SignIn, &state, expires_at).await?;
                    return Ok(AuthenticationChallenge {
                        ceremony: id,
                        options,
                    });
                }
                let (options, state) = webauthn
                    .start_passkey_authentication(&passkeys)
                    .map_err(|e| Error::invalid("passkey sign-in", e.to_string()))?;
                let id = ceremony::save(
                    &store,
                    person.map(|p| p.id),
                    Purpose::SignIn,
                    &state,
                    expires_at,
                )
                .await?;
                Ok(AuthenticationChallenge {
                    ceremony: id,
                    options,
                })
            }
        }
    }

    /// Finishes signing in. Failures are counted per person and per source
    /// address; past the limit, attempts are refused for a while.
    pub async fn finish_sign_in(
        &self,
        tenant: TenantId,
        ceremony_id: &str,
        credential: &PublicKeyCredential,
        client: &Client,
    ) -> Result<SignedIn> {
        let store = self.scoped(tenant).await?;
        let now = self.now();
        let (ceremony, ceremony_hash) = ceremony::peek(&store, ceremony_id, now).await?;
        if !matches!(
            ceremony.purpose,
            Purpose::SignIn | Purpose::DiscoverableSignIn
        ) {
            return Err(Error::not_found("ceremony"));
        }
        let mut keys = rate_keys(client, ceremony.person.map(|p| format!("person:{p}")));
        self.check_rate(&store, &keys).await?;
        let verified = self
            .verify_assertion(tenant, &store, &ceremony, credential)
            .await;
        match verified {
            Ok(passkey) => {
                let (token, hash) = secret::new_token()?;
                let person = passkey.info.person;
                let session = self.new_session(person, AuthMethod::Passkey, client, now);
                // Uses up the ceremony, checks the person, saves the counter
                // and starts the session in one commit.
                let display_name = store
                    .finish_sign_in(&ceremony_hash, &passkey, &hash, &session)
                    .await?;
                let actor = Principal::Person { tenant, person };
                self.emit(
                    tenant,
                    "guss.identity.sign_in.succeeded",
                    format!("person/{person}"),
                    Some(&actor),
                    serde_json::json!({ "session": session.id, "passkey": passkey.info.id, "address": client.address }),
                )
                .await?;
                Ok(SignedIn {
                    token,
                    session,
                    display_name,
                })
            }
            Err(e) => {
                // A failed attempt uses the ceremony up too.
                store.take_ceremony(&ceremony_hash, now).await?;
                if let Ok((user, _)) = self
                    .webauthn(tenant)
                    .await?
                    .identify_discoverable_authentication(credential)
                {
                    keys.push(format!("person:{user}"));
                }
                self.record_failures(&store, &keys).await?;
                self.emit(
                    tenant,
                    "guss.identity.sign_in.failed",
                    ceremony
                        .person
                        .map_or_else(|| "sign-in".to_owned(), |p| format!("person/{p}")),
                    None,
                    serde_json::json!({ "reason": e.to_string(), "address": client.address }),
                )
                .await?;
                Err(match e {
                    Error::Backend(_) | Error::RateLimited { .. } => e,
                    _ => Error::Unauthenticated,
                })
            }
        }
    }

    /// Checks an assertion against the ceremony and the stored passkey, and
    /// returns the passkey with its new counter and backup flags (for the
    /// caller to save with the assertion's effect).
    async fn verify_assertion(
        &self,
        tenant: TenantId,
        store: &R::Scoped,
        ceremony: &crate::store::Ceremony,
        credential: &PublicKeyCredential,
    ) -> Result<StoredPasskey> {
        let webauthn = self.webauthn(tenant).await?;
        let (result, mut passkey) = match ceremony.purpose {
            Purpose::DiscoverableSignIn => {
                let state: DiscoverableAuthentication = ceremony::state(ceremony)?;
                let (user, credential_id) = webauthn
                    .identify_discoverable_authentication(credential)
                    .map_err(|_| Error::Unauthenticated)?;
                let passkey = store
                    .passkey_by_credential(credential_id)
                    .await?
                    .filter(|p| p.info.person.as_uuid() == &user)
                    .ok_or(Error::Unauthenticated)?;
                let result = webauthn
                    .finish_discoverable_authentication_v2(credential, state, &passkey.passkey)
                    .map_err(|_| Error::Unauthenticated)?;
                (result, passkey)
            }
            _ => {
                let state: PasskeyAuthentication = ceremony::state(ceremony)?;
                let result = webauthn
                    .finish_passkey_authentication(credential, &state)
                    .map_err(|_| Error::Unauthenticated)?;
                let passkey = store
                    .passkey_by_credential(result.cred_id().as_ref())
                    .await?
                    .ok_or(Error::Unauthenticated)?;
                if ceremony.person.is_some_and(|p| p != passkey.info.person) {
                    return Err(Error::Unauthenticated);
                }
                (result, passkey)
            }
        };
        if !result.user_verified() {
            return Err(Error::Unauthenticated);
        }
        passkey.passkey.update_credential(&result);
        passkey.info.last_used_at = Some(self.now());
        passkey.info.backed_up = result.backup_state();
        passkey.info.backup_eligible |= result.backup_eligible();
        Ok(passkey)
    }

    // ------------------------------------------------------------ sessions

    /// The session of a token, if it is valid now: not revoked, not idle for
    /// too long, not past its end, and its person active.
    pub async fn session(&self, tenant: TenantId, token: &str) -> Result<Session> {
        let store = self.scoped(tenant).await?;
        let stored = store
            .session_by_token(&secret::hash_token(
                bounded_token(token).map_err(|_| Error::Unauthenticated)?,
            ))
            .await?
            .ok_or(Error::Unauthenticated)?;
        let now = self.now();
        let info = stored.info;
        if stored.revoked || !self.is_live(&info, now) {
            return Err(Error::Unauthenticated);
        }
        let person = store
            .person(info.person)
            .await?
            .ok_or(Error::Unauthenticated)?;
        if person.status != PersonStatus::Active {
            return Err(Error::Unauthenticated);
        }
        // Writing on every request would serialize readers: once a minute is enough for idle expiry.
        if now - info.last_seen_at > chrono::TimeDelta::minutes(1) {
            store.touch_session(info.id, now).await?;
        }
        Ok(Session { tenant, info })
    }

    /// Ends a session.
    pub async fn sign_out(&self, session: &Session) -> Result<()> {
        self.revoke_session(session, session.info.id).await
    }

    /// The signed-in person's sessions.
    pub async fn sessions(&self, session: &Session) -> Result<Vec<SessionInfo>> {
        let now = self.now();
        let mut sessions = self
            .scoped(session.tenant)
            .await?
            .sessions_of(session.person())
            .await?;
        sessions.retain(|s| self.is_live(s, now));
        Ok(sessions)
    }

    fn is_live(&self, session: &SessionInfo, now: DateTime<Utc>) -> bool {
        now < session.expires_at && now - session.last_seen_at <= self.settings.session_idle
    }

    /// Revokes one of the signed-in person's sessions.
    pub async fn revoke_session(&self, session: &Session, id: Uuid) -> Result<()> {
        let store = self.scoped(session.tenant).await?;
        if !store
            .revoke_session(session.person(), id, self.now())
            .await?
        {
            return Err(Error::not_found("session"));
        }
        self.emit_own(
            session,
            "guss.identity.session.revoked",
            serde_json::json!({ "session": id }),
        )
        .await
    }

    // ------------------------------------------------------------ passkeys

    /// The signed-in person's passkeys.
    pub async fn passkeys(&self, session: &Session) -> Result<Vec<PasskeyInfo>> {
        let store = self.scoped(session.tenant).await?;
        Ok(store
            .passkeys_of(session.person())
            .await?
            .into_iter()
            .map(|p| p.info)
            .collect())
    }

    /// Starts adding another passkey (needs a recent passkey confirmation).
    pub async fn start_add_passkey(
        &self,
        session: &Session,
        label: &str,
    ) -> Result<RegistrationChallenge> {
        check_name(label, "passkey label")?;
        self.require_step_up(session)?;
        let store = self.scoped(session.tenant).await?;
        let person = store
            .person(session.person())
            .await?
            .ok_or(Error::Unauthenticated)?;
        let purpose = Purpose::AddPasskey {
            label: label.to_owned(),
        };
        self.start_registration(session.tenant, &store, &person, purpose)
            .await
    }

    /// Finishes adding a passkey.
    pub async fn finish_add_passkey(
        &self,
        session: &Session,
        ceremony_id: &str,
        credential: &RegisterPublicKeyCredential,
    ) -> Result<PasskeyInfo> {
        let store = self.scoped(session.tenant).await?;
        let ceremony = ceremony::take(&store, ceremony_id, self.now()).await?;
        let Purpose::AddPasskey { label } = ceremony.purpose.clone() else {
            return Err(Error::not_found("ceremony"));
        };
        if ceremony.person != Some(session.person()) {
            return Err(Error::not_found("ceremony"));
        }
        let passkey = self
            .verify_registration(
                session.tenant,
                &ceremony,
                credential,
                session.person(),
                &label,
            )
            .await?;
        store.insert_passkey(&passkey).await?;
        self.emit_passkey_added(session.tenant, &session.principal(), &passkey.info)
            .await?;
        Ok(passkey.info)
    }

    /// Removes one of the signed-in person's passkeys; the last one stays.
    pub async fn remove_passkey(&self, session: &Session, id: Uuid) -> Result<()> {
        self.require_step_up(session)?;
        let store = self.scoped(session.tenant).await?;
        store.delete_passkey(session.person(), id).await?;
        self.emit_own(
            session,
            "guss.identity.passkey.removed",
            serde_json::json!({ "passkey": id }),
        )
        .await
    }

    // ------------------------------------------------------------ step-up

    /// Starts a passkey confirmation for the session (before admin actions).
    pub async fn start_step_up(&self, session: &Session) -> Result<AuthenticationChallenge> {
        let webauthn = self
            .relying_parties
            .get(&self.tenant(session.tenant).await?)?;
        let store = self.scoped(session.tenant).await?;
        let passkeys: Vec<_> = store
            .passkeys_of(session.person())
            .await?
            .into_iter()
            .map(|p| p.passkey)
            .collect();
        let (options, state) = webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| Error::invalid("passkey confirmation", e.to_string()))?;
        let expires_at = self.now() + self.settings.ceremony_ttl;
        let purpose = Purpose::StepUp {
            session: session.info.id,
        };
        let id =
            ceremony::save(&store, Some(session.person()), purpose, &state, expires_at).await?;
        Ok(AuthenticationChallenge {
            ceremony: id,
            options,
        })
    }

    /// Finishes a passkey confirmation; the session then counts as stepped up
    /// for [`Settings::step_up_window`].
    pub async fn finish_step_up(
        &self,
        session: &Session,
        ceremony_id: &str,
        credential: &PublicKeyCredential,
    ) -> Result<Session> {
        let store = self.scoped(session.tenant).await?;
        let now = self.now();
        let ceremony = ceremony::take(&store, ceremony_id, now).await?;
        if ceremony.purpose
            != (Purpose::StepUp {
                session: session.info.id,
            })
        {
            return Err(Error::not_found("ceremony"));
        }
        let keys = [format!("person:{}", session.person())];
        self.check_rate(&store, &keys).await?;
        if let Err(e) = self
            .verify_assertion(session.tenant, &store, &ceremony, credential)
            .await
        {
            self.record_failures(&store, &keys).await?;
            return Err(match e {
                Error::Backend(_) => e,
                _ => Error::Unauthenticated,
            });
        }
        store
            .set_step_up(session.info.id, now, AuthMethod::Passkey)
            .await?;
        self.emit_own(
            session,
            "guss.identity.step_up.succeeded",
            serde_json::json!({ "session": session.info.id }),
        )
        .await?;
        let mut stepped = session.clone();
        stepped.info.step_up = Some((now, AuthMethod::Passkey));
        Ok(stepped)
    }

    /// Fails with [`Error::StepUpRequired`] unless a passkey confirmed the
    /// session within the step-up window.
    pub fn require_step_up(&self, session: &Session) -> Result<()> {
        if session.stepped_up(self.now(), self.settings.step_up_window) {
            Ok(())
        } else {
            Err(Error::StepUpRequired)
        }
    }

    /// An admin action's gate: a fresh passkey confirmation, then the
    /// authorizer's permission to administer the tenant.
    pub(crate) async fn require_admin(&self, session: &Session) -> Result<()> {
        self.require_step_up(session)?;
        let tenant = Resource::new(
            session.tenant,
            ResourceKind::TENANT,
            session.tenant.to_string(),
        )?;
        self.authorizer
            .check(
                &session.principal(),
                &Action::ADMINISTER,
                &tenant,
                &Context::new(),
            )
            .await?;
        Ok(())
    }

    // ------------------------------------------------------------ rate limits

    pub(crate) async fn check_rate(&self, store: &R::Scoped, keys: &[String]) -> Result<()> {
        let since = self.now() - self.settings.attempt_window;
        if store.failures_since(keys, since).await? >= self.settings.max_failed_attempts {
            return Err(Error::RateLimited {
                retry_after_seconds: u64::try_from(self.settings.attempt_window.num_seconds())
                    .unwrap_or(60),
            });
        }
        Ok(())
    }

    pub(crate) async fn record_failures(&self, store: &R::Scoped, keys: &[String]) -> Result<()> {
        let now = self.now();
        for key in keys {
            store
                .record_failure(key, now, now - self.settings.attempt_window)
                .await?;
        }
        Ok(())
    }
}

pub(crate) fn check_name(name: &str, what: &'static str) -> Result<()> {
    MAX_NAME.check_len(name.len())?;
    if name.trim().is_empty() || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            what,
            "empty or containing control characters",
        ));
    }
    Ok(())
}

pub(crate) fn bounded_token(token: &str) -> Result<&str> {
    secret::MAX_TOKEN.check_len(token.len())?;
    Ok(token)
}

/// Rate-limit keys: the source address (when known) and the given others.
pub(crate) fn rate_keys(client: &Client, others: impl IntoIterator<Item = String>) -> Vec<String> {
    client
        .address
        .map(|a| format!("src:{a}"))
        .into_iter()
        .chain(others)
        .collect()
}
