//! People and roles: invitations, role changes, suspension and departure.

use guss_core::{EmailAddress, PersonId, PersonStatus, Principal, TenantId};
use uuid::Uuid;

use crate::identity::{EnrollmentLink, Identity, Session, check_name};
use crate::model::{InvitationInfo, Person, Role};
use crate::store::{EnrollmentKind, IdentityStore, TenantRegistry};
use crate::{Error, Result};

impl<R: TenantRegistry> Identity<R> {
    /// Everyone in the signed-in person's organisation.
    pub async fn people(&self, session: &Session) -> Result<Vec<Person>> {
        self.scoped(session.tenant).await?.people().await
    }

    /// Invites a person (admin action): creates them without any credential
    /// and returns the single-use enrolment link to send to `email`. No
    /// password is ever created.
    pub async fn invite(
        &self,
        session: &Session,
        email: EmailAddress,
        display_name: &str,
        roles: &[Role],
    ) -> Result<EnrollmentLink> {
        check_name(display_name, "display name")?;
        self.require_admin(session).await?;
        if roles.contains(&Role::OWNER) {
            self.require_owner(session).await?;
        }
        let (_, link) = self
            .provision_person(
                session.tenant,
                email,
                display_name,
                roles,
                Some(&session.principal()),
            )
            .await?;
        Ok(link)
    }

    /// Adds a person with an enrolment link, without a session: for the
    /// embedding server's own trusted paths (a hosting firm's admin API,
    /// directory sync). It checks nothing about the caller; `invite` is the
    /// path for people.
    pub async fn provision_person(
        &self,
        tenant: TenantId,
        email: EmailAddress,
        display_name: &str,
        roles: &[Role],
        actor: Option<&Principal>,
    ) -> Result<(Person, EnrollmentLink)> {
        check_name(display_name, "display name")?;
        let store = self.scoped(tenant).await?;
        let now = self.now();
        let mut roles = roles.to_vec();
        if roles.is_empty() {
            roles.push(Role::MEMBER);
        }
        let person = Person {
            id: PersonId::new(),
            display_name: display_name.to_owned(),
            emails: vec![email.clone()],
            status: PersonStatus::Active,
            roles,
            created_at: now,
        };
        store.insert_person(&person).await?;
        let created_by = actor.and_then(Principal::acting_person);
        let link = self
            .issue_enrollment(
                &store,
                EnrollmentKind::Invitation,
                &person,
                created_by,
                now,
                self.settings.invitation_ttl,
            )
            .await?;
        self.emit(
            tenant,
            "guss.identity.invitation.sent",
            format!("person/{}", person.id),
            actor,
            serde_json::json!({ "email": email, "invitation": link.id, "expires_at": link.expires_at, "notify": [email] }),
        )
        .await?;
        Ok((person, link))
    }

    /// Open invitations (admin action).
    pub async fn invitations(&self, session: &Session) -> Result<Vec<InvitationInfo>> {
        self.require_admin(session).await?;
        let store = self.scoped(session.tenant).await?;
        Ok(store
            .open_enrollments(EnrollmentKind::Invitation, self.now())
            .await?
            .into_iter()
            .map(|e| InvitationInfo {
                id: e.id,
                person: e.person,
                email: e.email,
                expires_at: e.expires_at,
            })
            .collect())
    }

    /// Sends an open invitation again (admin action): the old link stops
    /// working and a new one, with a fresh expiry, is returned for the same
    /// person and address.
    pub async fn resend_invitation(&self, session: &Session, id: Uuid) -> Result<EnrollmentLink> {
        self.require_admin(session).await?;
        let store = self.scoped(session.tenant).await?;
        let now = self.now();
        let open = store
            .open_enrollments(EnrollmentKind::Invitation, now)
            .await?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| Error::not_found("open invitation"))?;
        let person = store
            .person(open.person)
            .await?
            .ok_or_else(|| Error::not_found("person"))?;
        if !store.revoke_enrollment(id, now).await? {
            return Err(Error::not_found("open invitation"));
        }
        let link = self
            .issue_enrollment(
                &store,
                EnrollmentKind::Invitation,
                &person,
                Some(session.person()),
                now,
                self.settings.invitation_ttl,
            )
            .await?;
        self.emit(
            session.tenant,
            "guss.identity.invitation.sent",
            format!("person/{}", person.id),
            Some(&session.principal()),
            serde_json::json!({ "email": open.email, "invitation": link.id, "expires_at": link.expires_at, "replaces": id, "notify": [open.email] }),
        )
        .await?;
        Ok(link)
    }

    /// Revokes an open invitation or recovery link (admin action).
    pub async fn revoke_enrollment(&self, session: &Session, id: Uuid) -> Result<()> {
        self.require_admin(session).await?;
        let store = self.scoped(session.tenant).await?;
        if !store.revoke_enrollment(id, self.now()).await? {
            return Err(Error::not_found("open invitation or recovery link"));
        }
        self.emit(
            session.tenant,
            "guss.identity.enrollment.revoked",
            format!("enrollment/{id}"),
            Some(&session.principal()),
            serde_json::json!({}),
        )
        .await
    }

    /// Grants a role (admin action; only owners grant `owner`).
    pub async fn grant_role(&self, session: &Session, person: PersonId, role: &Role) -> Result<()> {
        self.require_admin(session).await?;
        if *role == Role::OWNER {
            self.require_owner(session).await?;
        }
        let store = self.scoped(session.tenant).await?;
        store.grant_role(person, role, self.now()).await?;
        self.emit_role(session, person, role, "guss.identity.role.granted")
            .await
    }

    /// Revokes a role (admin action; only owners revoke `owner`, and the last
    /// active owner keeps it).
    pub async fn revoke_role(
        &self,
        session: &Session,
        person: PersonId,
        role: &Role,
    ) -> Result<()> {
        self.require_admin(session).await?;
        if *role == Role::OWNER {
            self.require_owner(session).await?;
        }
        let store = self.scoped(session.tenant).await?;
        store.revoke_role(person, role).await?;
        self.emit_role(session, person, role, "guss.identity.role.revoked")
            .await
    }

    async fn emit_role(
        &self,
        session: &Session,
        person: PersonId,
        role: &Role,
        kind: &'static str,
    ) -> Result<()> {
        self.emit(
            session.tenant,
            kind,
            format!("person/{person}"),
            Some(&session.principal()),
            serde_json::json!({ "role": role }),
        )
        .await
    }

    /// Suspends a person (admin action): their sessions, app passwords and
    /// open links stop working at once; passkeys are kept for the record.
    pub async fn suspend(&self, session: &Session, person: PersonId) -> Result<()> {
        self.lock_out(
            session,
            person,
            PersonStatus::Suspended,
            "guss.identity.person.suspended",
        )
        .await
    }

    /// Marks a person as departed (admin action), with the same effect as suspension.
    pub async fn mark_departed(&self, session: &Session, person: PersonId) -> Result<()> {
        self.lock_out(
            session,
            person,
            PersonStatus::Departed,
            "guss.identity.person.departed",
        )
        .await
    }

    async fn lock_out(
        &self,
        session: &Session,
        person: PersonId,
        status: PersonStatus,
        kind: &'static str,
    ) -> Result<()> {
        self.require_admin(session).await?;
        if person == session.person() {
            return Err(Error::conflict("you cannot lock yourself out"));
        }
        let store = self.scoped(session.tenant).await?;
        let target = store
            .person(person)
            .await?
            .ok_or_else(|| Error::not_found("person"))?;
        if target.has_role(&Role::OWNER) {
            self.require_owner(session).await?;
            let other_owners = store
                .people()
                .await?
                .iter()
                .filter(|p| {
                    p.id != person && p.status == PersonStatus::Active && p.has_role(&Role::OWNER)
                })
                .count();
            if other_owners == 0 {
                return Err(Error::conflict(
                    "the organisation would have no active owner",
                ));
            }
        }
        store.lock_out(person, status, self.now()).await?;
        self.emit(
            session.tenant,
            kind,
            format!("person/{person}"),
            Some(&session.principal()),
            serde_json::json!({}),
        )
        .await
    }

    /// Lets a suspended person sign in again (admin action).
    pub async fn reactivate(&self, session: &Session, person: PersonId) -> Result<()> {
        self.require_admin(session).await?;
        let store = self.scoped(session.tenant).await?;
        store.set_status(person, PersonStatus::Active).await?;
        self.emit(
            session.tenant,
            "guss.identity.person.reactivated",
            format!("person/{person}"),
            Some(&session.principal()),
            serde_json::json!({}),
        )
        .await
    }

    pub(crate) async fn require_owner(&self, session: &Session) -> Result<()> {
        let store = self.scoped(session.tenant).await?;
        match store.person(session.person()).await? {
            Some(p) if p.has_role(&Role::OWNER) => Ok(()),
            _ => Err(Error::Forbidden),
        }
    }
}
