//! What a path below the mount names, and who may do what with it.

use guss_core::{Action, Context, ContextValue, Resource, ResourceKind};
use guss_dav::DavPath;
use guss_dav::backend::{BackendError, BackendResult};

use super::CalendarUser;
use super::backend::{CalDavBackend, internal};
use crate::store::{CalendarInfo, StoredObject};

/// The separator of a shared calendar's segment in a sharee's home: `OWNER~CAL`.
pub(super) const SHARED: char = '~';

/// How the caller reaches a calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Access {
    /// They own it.
    Owner,
    /// It is shared with them, writable.
    Write,
    /// It is shared with them, read-only.
    Read,
}

impl Access {
    pub(super) fn writable(self) -> bool {
        !matches!(self, Access::Read)
    }

    fn shared(self) -> &'static str {
        match self {
            Access::Owner => "none",
            Access::Write => "write",
            Access::Read => "read",
        }
    }
}

/// A calendar as reached through a path: in whose home, under which segment.
#[derive(Clone, Debug)]
pub(super) struct Reached {
    pub(super) calendar: CalendarInfo,
    pub(super) access: Access,
    /// The home the path goes through.
    pub(super) home: String,
    /// The segment in that home.
    pub(super) segment: String,
}

impl Reached {
    pub(super) fn path(&self) -> DavPath {
        DavPath::from_segments(["calendars", self.home.as_str(), self.segment.as_str()])
            .unwrap_or_default()
    }
}

/// What a path names.
#[derive(Clone, Debug)]
pub(super) enum Node {
    Root,
    Principals,
    Principal(CalendarUser),
    Calendars,
    Home(CalendarUser),
    Collection(Reached),
    Object(Reached, StoredObject),
    /// A free name in a calendar (PUT creates it).
    NewObject(Reached, String),
}

/// The Authorizer's resource for a calendar.
fn protected(backend: &CalDavBackend, calendar: &CalendarInfo) -> BackendResult<Resource> {
    Resource::new(
        backend.calendars.tenant_id(),
        ResourceKind::CALENDAR,
        format!("{}/{}", calendar.owner, calendar.slug),
    )
    .map_err(|_| BackendError::Forbidden)
}

impl CalDavBackend {
    /// Asks the authorizer whether the caller may `action` `calendar`
    /// reached with `access`.
    pub(super) async fn allow(
        &self,
        action: &Action,
        calendar: &CalendarInfo,
        access: Access,
    ) -> BackendResult<()> {
        let context = Context::new()
            .with_attribute("owner", ContextValue::Bool(access == Access::Owner))
            .and_then(|c| {
                c.with_attribute("shared", ContextValue::String(access.shared().to_owned()))
            })
            .map_err(|_| BackendError::Forbidden)?;
        self.authorizer
            .check(
                &self.principal,
                action,
                &protected(self, calendar)?,
                &context,
            )
            .await
            .map_err(|_| BackendError::Forbidden)
    }

    /// The calendar `segment` of `home` as the caller reaches it.
    pub(super) async fn reach(&self, home: &str, segment: &str) -> BackendResult<Option<Reached>> {
        if home != self.me.handle {
            // Someone else's home: their calendars, reached by share.
            let Some(calendar) = self
                .calendars
                .calendar(home, segment)
                .await
                .map_err(internal)?
            else {
                return Ok(None);
            };
            return Ok(self.access_to(&calendar).await?.map(|access| Reached {
                calendar,
                access,
                home: home.to_owned(),
                segment: segment.to_owned(),
            }));
        }
        let (owner, slug) = match segment.split_once(SHARED) {
            Some((owner, slug)) => (owner, slug),
            None => (home, segment),
        };
        let Some(calendar) = self
            .calendars
            .calendar(owner, slug)
            .await
            .map_err(internal)?
        else {
            return Ok(None);
        };
        Ok(self.access_to(&calendar).await?.map(|access| Reached {
            calendar,
            access,
            home: home.to_owned(),
            segment: segment.to_owned(),
        }))
    }

    /// How the caller reaches `calendar`: owner, by share, or not at all.
    pub(super) async fn access_to(&self, calendar: &CalendarInfo) -> BackendResult<Option<Access>> {
        if calendar.owner == self.me.handle {
            return Ok(Some(Access::Owner));
        }
        let shares = self.calendars.shares(calendar).await.map_err(internal)?;
        Ok(shares
            .into_iter()
            .find(|(grantee, _)| *grantee == self.me.handle)
            .map(|(_, writable)| {
                if writable {
                    Access::Write
                } else {
                    Access::Read
                }
            }))
    }

    /// What `path` names; `None` when nothing (and nothing creatable) is there.
    pub(super) async fn node(&self, path: &DavPath) -> BackendResult<Option<Node>> {
        let segments: Vec<&str> = path.segments().iter().map(String::as_str).collect();
        let tenant = self.calendars.tenant_id();
        Ok(match segments.as_slice() {
            [] => Some(Node::Root),
            ["principals"] => Some(Node::Principals),
            ["principals", handle] => self
                .users
                .by_handle(tenant, handle)
                .await
                .map(Node::Principal),
            ["calendars"] => Some(Node::Calendars),
            ["calendars", handle] => self.users.by_handle(tenant, handle).await.map(Node::Home),
            ["calendars", home, segment] => self.reach(home, segment).await?.map(Node::Collection),
            ["calendars", home, segment, name] => match self.reach(home, segment).await? {
                None => None,
                Some(reached) => match self
                    .calendars
                    .object(&reached.calendar, name)
                    .await
                    .map_err(internal)?
                {
                    Some(object) => Some(Node::Object(reached, object)),
                    None => Some(Node::NewObject(reached, (*name).to_owned())),
                },
            },
            _ => None,
        })
    }
}
