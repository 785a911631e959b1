//! Reads and writes of events without HTTP, for front ends such as web
//! pages: the same access checks and the same implicit scheduling (rooms
//! and cars booked or declined, colleagues invited, cancellations sent)
//! as a CalDAV GET, PUT or DELETE.

use guss_core::{Principal, TenantId};
use guss_dav::DavPath;
use guss_dav::backend::BackendError;

use super::paths::Node;
use super::{CalDav, CalDavBackend, CalendarUser, backend};
use crate::store::{Precondition, StoredObject};
use crate::{Error, Result};

/// The library's error for a refusal of the CalDAV layer.
fn refused(e: BackendError) -> Error {
    match e {
        BackendError::NotFound => Error::NotFound("event"),
        BackendError::Forbidden => Error::Forbidden,
        BackendError::Conflict(why) => Error::Conflict(why),
        BackendError::Condition { status: 412, .. } => Error::PreconditionFailed,
        other => Error::Backend(other.to_string()),
    }
}

impl CalDav {
    /// The calendar user `principal` of `tenant`, ready to read and write
    /// events as CalDAV would for them (their home made if missing);
    /// `None` when the principal has no calendar.
    pub async fn acting_as(&self, tenant: TenantId, principal: Principal) -> Option<CalDavBackend> {
        let me = self.users.user_of(&principal).await?;
        let calendars = self.store.tenant(tenant);
        if let Err(e) = backend::ensure_home(&calendars, &me).await {
            tracing::error!(error = %e, "calendar home");
            return None;
        }
        Some(CalDavBackend::new(
            calendars,
            self.users.clone(),
            me,
            principal,
            self.authorizer.clone(),
        ))
    }
}

impl CalDavBackend {
    /// Whom this backend acts as.
    pub fn user(&self) -> &CalendarUser {
        &self.me
    }

    fn object_path(owner: &str, slug: &str, name: &str) -> Result<DavPath> {
        DavPath::from_segments(["calendars", owner, slug, name])
            .map_err(|_| Error::invalid("path", "not a calendar object's name"))
    }

    /// The event `name` in `owner`'s calendar `slug`, if the caller may
    /// read it.
    pub async fn read_event(&self, owner: &str, slug: &str, name: &str) -> Result<StoredObject> {
        match self
            .node(&Self::object_path(owner, slug, name)?)
            .await
            .map_err(refused)?
        {
            Some(Node::Object(reached, object)) => {
                self.allow(&guss_core::Action::READ, &reached.calendar, reached.access)
                    .await
                    .map_err(refused)?;
                Ok(object)
            }
            _ => Err(Error::NotFound("event")),
        }
    }

    /// Writes the event `name` into `owner`'s calendar `slug` if
    /// `expected` holds, then schedules as a CalDAV PUT would; returns it
    /// as stored after scheduling (attendees' answers from rooms and cars
    /// already in it).
    pub async fn put_event(
        &self,
        owner: &str,
        slug: &str,
        name: &str,
        text: &str,
        expected: Precondition,
    ) -> Result<StoredObject> {
        let (reached, old) = match self
            .node(&Self::object_path(owner, slug, name)?)
            .await
            .map_err(refused)?
        {
            Some(Node::Object(reached, object)) => (reached, Some(object)),
            Some(Node::NewObject(reached, _)) => (reached, None),
            _ => return Err(Error::NotFound("calendar")),
        };
        self.writable(&reached).await.map_err(refused)?;
        let (object, _) = self
            .calendars
            .put_object(&reached.calendar, name, text, expected, &self.principal)
            .await?;
        self.after_write(&reached, old.as_ref(), object)
            .await
            .map_err(refused)
    }

    /// Deletes the event `name` from `owner`'s calendar `slug` if
    /// `expected` holds, then cancels or declines as a CalDAV DELETE would.
    pub async fn delete_event(
        &self,
        owner: &str,
        slug: &str,
        name: &str,
        expected: Precondition,
    ) -> Result<()> {
        let Some(Node::Object(reached, object)) = self
            .node(&Self::object_path(owner, slug, name)?)
            .await
            .map_err(refused)?
        else {
            return Err(Error::NotFound("event"));
        };
        self.writable(&reached).await.map_err(refused)?;
        self.calendars
            .delete_object(&reached.calendar, name, expected, &self.principal)
            .await?;
        self.after_delete(&reached, &object).await.map_err(refused)
    }
}
