//! Who may do what: the facts the policy engine decides on, gathered from
//! the crates that own them, and how people, calendars and folders are
//! named.
//!
//! The file tree of an organisation:
//!
//! | path | whose |
//! |---|---|
//! | `/people/ADDRESS/…` | the person with that e-mail address |
//! | `/office/…` | everyone's (the profession's shared folders); admins share them by link |
//!
//! Calendar homes are named by e-mail address too; the office's shared
//! calendars belong to the calendar user [`OFFICE_HANDLE`].

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use guss_calendar::caldav::{CalendarUser, CalendarUsers};
use guss_calendar::itip::UserKind;
use guss_calendar::store::{CalendarStore, NewCalendar};
use guss_core::{
    EmailAddress, GroupId, PersonId, PersonStatus, Principal, Resource, ResourceKind, Scope,
    ShareLinkId, TenantId,
};
use guss_identity::store::{IdentityStore as _, SqlStore, TenantRegistry as _};
use guss_mail::store::Account;
use guss_policy::{EntityLoader, Grantee, ResourceFacts, ShareLevel, ShareLinkFacts, Subject};

use crate::office::{Bookable, BookableKind, Offices};
use crate::presets::Profession;

/// The calendar user that owns the office's shared calendars.
pub const OFFICE_HANDLE: &str = "office";

/// The group everyone active in an organisation belongs to.
pub fn everyone(tenant: TenantId) -> GroupId {
    GroupId::from_uuid(*tenant.as_uuid())
}

/// The group of an organisation's admins (and owners): they manage the
/// office's shared folders, share links included. Derived from the
/// organisation's id, like [`everyone`], and never stored.
pub fn admins(tenant: TenantId) -> GroupId {
    // "admins" in ASCII, folded into the organisation's id.
    GroupId::from_uuid(uuid::Uuid::from_u128(
        tenant.as_uuid().as_u128() ^ 0x6164_6d69_6e73,
    ))
}

/// A person's handle in paths: their first e-mail address, lower case.
pub fn handle_of(person: &guss_identity::Person) -> Option<String> {
    person
        .emails
        .first()
        .map(|address| address.as_str().to_ascii_lowercase())
}

/// The people, folders, calendars and mailboxes of every organisation, as
/// the policy engine needs to know them.
pub struct OfficeFacts {
    identity: SqlStore,
    calendars: CalendarStore,
    offices: Offices,
}

impl OfficeFacts {
    /// Facts from the identity store and the calendar store; `offices` says
    /// whose shared files are sensitive (by profession).
    pub fn new(identity: SqlStore, calendars: CalendarStore, offices: Offices) -> Self {
        OfficeFacts {
            identity,
            calendars,
            offices,
        }
    }

    async fn is_sensitive(&self, tenant: TenantId) -> guss_core::Result<bool> {
        let settings = self
            .offices
            .settings(tenant)
            .await
            .map_err(|e| guss_core::Error::Backend(e.into()))?;
        Ok(settings.profession.is_some_and(|p| p.preset().sensitive))
    }

    async fn person_by_handle(
        &self,
        tenant: TenantId,
        handle: &str,
    ) -> guss_core::Result<Option<PersonId>> {
        let Ok(address) = handle.parse::<EmailAddress>() else {
            return Ok(None);
        };
        let store = self.identity.scoped(tenant).await.map_err(backend)?;
        Ok(store
            .person_by_email(&address)
            .await
            .map_err(backend)?
            .map(|p| p.id))
    }

    async fn file_facts(&self, resource: &Resource) -> guss_core::Result<Option<ResourceFacts>> {
        let tenant = resource.tenant();
        let mut segments = resource.id().trim_matches('/').split('/');
        let everyone = Grantee::Group(everyone(tenant));
        Ok(match (segments.next(), segments.next()) {
            // The root and `/people` list what there is.
            (Some(""), None) | (Some("people"), None) => {
                Some(ResourceFacts::unowned(Scope::Files).shared(everyone, ShareLevel::View))
            }
            (Some("people"), Some(handle)) => self
                .person_by_handle(tenant, handle)
                .await?
                .map(|owner| ResourceFacts::owned_by(owner, Scope::Files)),
            (Some("office"), _) => {
                let facts = ResourceFacts::unowned(Scope::Files)
                    .shared(everyone, ShareLevel::Edit)
                    .shared(Grantee::Group(admins(tenant)), ShareLevel::Manage);
                Some(if self.is_sensitive(tenant).await? {
                    facts.sensitive()
                } else {
                    facts
                })
            }
            _ => None,
        })
    }

    async fn calendar_facts(
        &self,
        resource: &Resource,
    ) -> guss_core::Result<Option<ResourceFacts>> {
        let tenant = resource.tenant();
        let Some((owner, slug)) = resource.id().split_once('/') else {
            return Ok(None);
        };
        if owner == OFFICE_HANDLE {
            return Ok(Some(
                ResourceFacts::unowned(Scope::Calendar)
                    .shared(Grantee::Group(everyone(tenant)), ShareLevel::Edit),
            ));
        }
        if !owner.contains('@') {
            // A room's or car's bookings: everyone sees them; they are
            // written only by scheduling, which books or declines.
            let settings = self
                .offices
                .settings(tenant)
                .await
                .map_err(|e| guss_core::Error::Backend(e.into()))?;
            return Ok(settings.bookable(owner).map(|_| {
                ResourceFacts::unowned(Scope::Calendar)
                    .shared(Grantee::Group(everyone(tenant)), ShareLevel::View)
            }));
        }
        let Some(person) = self.person_by_handle(tenant, owner).await? else {
            return Ok(None);
        };
        let mut facts = ResourceFacts::owned_by(person, Scope::Calendar);
        let calendars = self.calendars.tenant(tenant);
        if let Some(calendar) = calendars.calendar(owner, slug).await.map_err(backend)? {
            for (grantee, write) in calendars.shares(&calendar).await.map_err(backend)? {
                if let Some(other) = self.person_by_handle(tenant, &grantee).await? {
                    let level = if write {
                        ShareLevel::Edit
                    } else {
                        ShareLevel::View
                    };
                    facts = facts.shared(Grantee::Person(other), level);
                }
            }
        }
        Ok(Some(facts))
    }
}

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> guss_core::Error {
    guss_core::Error::Backend(Box::new(e))
}

#[async_trait]
impl EntityLoader for OfficeFacts {
    async fn subject(
        &self,
        tenant: TenantId,
        person: PersonId,
    ) -> guss_core::Result<Option<Subject>> {
        let store = self.identity.scoped(tenant).await.map_err(backend)?;
        let Some(found) = store.person(person).await.map_err(backend)? else {
            return Ok(None);
        };
        let mut groups = store.groups_of(person).await.map_err(backend)?;
        groups.push(everyone(tenant));
        if found.is_admin() {
            groups.push(admins(tenant));
        }
        let subject = Subject::new(person, found.roles.iter().map(|r| r.as_str()), groups);
        Ok(Some(if found.status == PersonStatus::Active {
            subject
        } else {
            subject.inactive()
        }))
    }

    async fn resource(&self, resource: &Resource) -> guss_core::Result<Option<ResourceFacts>> {
        let kind = resource.kind();
        if *kind == ResourceKind::FILE || *kind == ResourceKind::FOLDER {
            self.file_facts(resource).await
        } else if *kind == ResourceKind::CALENDAR {
            self.calendar_facts(resource).await
        } else if *kind == ResourceKind::MAILBOX {
            Ok(match Account::from_key(resource.id()) {
                Ok(Account::Person(owner)) => Some(ResourceFacts::owned_by(owner, Scope::Mail)),
                _ => None,
            })
        } else {
            Ok(None)
        }
    }

    async fn share_link(
        &self,
        _: TenantId,
        _: ShareLinkId,
    ) -> guss_core::Result<Option<ShareLinkFacts>> {
        // Share links are served by the file store's own link handling.
        Ok(None)
    }
}

/// The calendar users of every organisation: its people (by e-mail
/// address) and the office, whose shared calendars everyone sees.
pub struct OfficeCalendarUsers {
    identity: SqlStore,
    calendars: CalendarStore,
    offices: Offices,
    /// People whose homes already show the office calendars.
    welcomed: Mutex<HashSet<(TenantId, String)>>,
}

impl OfficeCalendarUsers {
    /// Calendar users from `identity`, rooms and cars from `offices`; the
    /// office calendars in `calendars`.
    pub fn new(identity: SqlStore, calendars: CalendarStore, offices: Offices) -> Self {
        OfficeCalendarUsers {
            identity,
            calendars,
            offices,
            welcomed: Mutex::default(),
        }
    }

    fn person_user(person: &guss_identity::Person) -> Option<CalendarUser> {
        let handle = handle_of(person)?;
        Some(CalendarUser {
            address: handle.clone(),
            handle,
            display_name: person.display_name.clone(),
            kind: UserKind::Individual,
        })
    }

    /// The room or car `handle` of `tenant`.
    async fn bookable_user(&self, tenant: TenantId, handle: &str) -> Option<CalendarUser> {
        let settings = self.offices.settings(tenant).await.ok()?;
        let bookable = settings.bookable(handle)?;
        let organisation = self.identity.tenant(tenant).await.ok()??;
        Some(bookable_user(bookable, &organisation.relying_party.id))
    }

    async fn office_user(&self, tenant: TenantId) -> Option<CalendarUser> {
        let organisation = self.identity.tenant(tenant).await.ok()??;
        Some(CalendarUser {
            handle: OFFICE_HANDLE.to_owned(),
            address: format!("{OFFICE_HANDLE}@{}", organisation.relying_party.id),
            display_name: organisation.name,
            kind: UserKind::Group,
        })
    }

    /// Shares the office calendars with `handle` once, so that every
    /// colleague's calendar app lists them.
    async fn welcome(&self, tenant: TenantId, handle: &str) {
        let key = (tenant, handle.to_owned());
        if self
            .welcomed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&key)
        {
            return;
        }
        let calendars = self.calendars.tenant(tenant);
        let office = Principal::Service {
            tenant,
            service: crate::SERVICE.clone(),
        };
        let result = async {
            for calendar in calendars.calendars(OFFICE_HANDLE).await? {
                let already = calendars
                    .shares(&calendar)
                    .await?
                    .iter()
                    .any(|(grantee, _)| grantee == handle);
                if !already {
                    calendars.share(&calendar, handle, true, &office).await?;
                }
            }
            Ok::<_, guss_calendar::Error>(())
        }
        .await;
        match result {
            Ok(()) => {
                self.welcomed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(key);
            }
            Err(e) => tracing::warn!(error = %e, "sharing the office calendars failed"),
        }
    }
}

#[async_trait]
impl CalendarUsers for OfficeCalendarUsers {
    async fn user_of(&self, principal: &Principal) -> Option<CalendarUser> {
        let Principal::Person { tenant, person } = principal else {
            return None;
        };
        let found = self
            .identity
            .scoped(*tenant)
            .await
            .ok()?
            .person(*person)
            .await
            .ok()??;
        let user = Self::person_user(&found)?;
        self.welcome(*tenant, &user.handle).await;
        Some(user)
    }

    async fn by_handle(&self, tenant: TenantId, handle: &str) -> Option<CalendarUser> {
        if handle == OFFICE_HANDLE {
            return self.office_user(tenant).await;
        }
        if !handle.contains('@') {
            return self.bookable_user(tenant, handle).await;
        }
        let address = handle.parse::<EmailAddress>().ok()?;
        let store = self.identity.scoped(tenant).await.ok()?;
        let person = store.person_by_email(&address).await.ok()??;
        Self::person_user(&person).filter(|u| u.handle == handle)
    }

    async fn by_address(&self, tenant: TenantId, address: &str) -> Option<CalendarUser> {
        if let Some(office) = self.office_user(tenant).await
            && office.address.eq_ignore_ascii_case(address)
        {
            return Some(office);
        }
        if let Some((local, _)) = address.split_once('@')
            && let Some(bookable) = self.bookable_user(tenant, local).await
            && bookable.address.eq_ignore_ascii_case(address)
        {
            return Some(bookable);
        }
        let parsed = address.parse::<EmailAddress>().ok()?;
        let store = self.identity.scoped(tenant).await.ok()?;
        let person = store.person_by_email(&parsed).await.ok()??;
        Self::person_user(&person)
    }
}

/// The calendar user of a room or car, whose address is in the
/// organisation's host (`rp_id`).
pub fn bookable_user(bookable: &Bookable, rp_id: &str) -> CalendarUser {
    CalendarUser {
        handle: bookable.handle.clone(),
        address: format!("{}@{rp_id}", bookable.handle),
        display_name: bookable.name.clone(),
        kind: match bookable.kind {
            BookableKind::Room => UserKind::Room,
            BookableKind::Car => UserKind::Resource,
        },
    }
}

/// Makes the shared folders and calendars of `profession` (those missing).
pub async fn furnish(
    files: &guss_storage::store::TenantFiles,
    calendars: &guss_calendar::store::TenantCalendars,
    profession: Profession,
    english: bool,
) -> anyhow::Result<()> {
    let tenant = files.tenant_id();
    let by = Principal::Service {
        tenant,
        service: crate::SERVICE.clone(),
    };
    let preset = profession.preset();
    for top in ["people", "office"] {
        let path = guss_dav::DavPath::from_segments([top])?;
        if files.stat(&path).await?.is_none() {
            files.create_folder(&path, &[], &by).await?;
        }
    }
    for folder in preset.folders {
        let path = guss_dav::DavPath::from_segments(["office", folder])?;
        if files.stat(&path).await?.is_none() {
            files.create_folder(&path, &[], &by).await?;
        }
    }
    for calendar in preset.calendars {
        let name = if english { calendar.en } else { calendar.de };
        calendars
            .ensure_calendar(OFFICE_HANDLE, calendar.slug, NewCalendar::named(name))
            .await?;
    }
    Ok(())
}

/// Makes a person's own folder (if missing).
pub async fn home_folder(
    files: &guss_storage::store::TenantFiles,
    handle: &str,
) -> anyhow::Result<()> {
    let by = Principal::Service {
        tenant: files.tenant_id(),
        service: crate::SERVICE.clone(),
    };
    let people = guss_dav::DavPath::from_segments(["people"])?;
    if files.stat(&people).await?.is_none() {
        files.create_folder(&people, &[], &by).await?;
    }
    let path = guss_dav::DavPath::from_segments(["people", handle])?;
    if files.stat(&path).await?.is_none() {
        files.create_folder(&path, &[], &by).await?;
    }
    Ok(())
}
