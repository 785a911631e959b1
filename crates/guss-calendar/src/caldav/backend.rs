//! One request's view of the calendar store as a [`DavBackend`].

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use guss_core::{Action, Authorizer, Principal};
use guss_dav::backend::{
    BackendError, BackendResult, ByteStream, Changes, DavBackend, LockStore, Mount, Reply,
    Resource, ResourceKind, StoredLock, Written,
};
use guss_dav::{DavPath, Depth, Element, PropertyName};

use super::paths::{Access, Node, Reached, SHARED};
use super::{CALDAV, CalendarUser, CalendarUsers};
use crate::Error;
use crate::store::{
    CalendarInfo, CollectionKind, NewCalendar, Precondition, StoredObject, TenantCalendars,
};

/// The slug of everyone's default calendar.
pub(super) const DEFAULT_CALENDAR: &str = "calendar";
/// The slug of the schedule inbox.
pub(super) const INBOX: &str = "inbox";
/// The segment of the schedule outbox (not stored: it only answers POST).
pub(super) const OUTBOX: &str = "outbox";
const SYNC_PREFIX: &str = "urn:guss:calendar-sync:";

/// The calendar store as one calendar user sees it over CalDAV.
pub struct CalDavBackend {
    pub(super) calendars: TenantCalendars,
    pub(super) users: Arc<dyn CalendarUsers>,
    pub(super) me: CalendarUser,
    pub(super) principal: Principal,
    pub(super) authorizer: Arc<dyn Authorizer>,
}

impl std::fmt::Debug for CalDavBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalDavBackend")
            .field("me", &self.me.handle)
            .finish_non_exhaustive()
    }
}

pub(super) fn internal(e: Error) -> BackendError {
    match e {
        Error::NotFound(_) => BackendError::NotFound,
        Error::Forbidden => BackendError::Forbidden,
        Error::PreconditionFailed => BackendError::Condition {
            status: 412,
            condition: String::new(),
        },
        Error::Object(e) => {
            let condition = match e {
                crate::object::ObjectError::NotCalendarData(_) => "valid-calendar-data",
                crate::object::ObjectError::NotOneObject(_) => "valid-calendar-object-resource",
                crate::object::ObjectError::UnsupportedComponent(_) => {
                    "supported-calendar-component"
                }
            };
            BackendError::Condition {
                status: 403,
                condition: format!("<C:{condition} xmlns:C=\"{CALDAV}\"/>"),
            }
        }
        Error::Conflict(why) if why.starts_with("no-uid-conflict") => BackendError::Condition {
            status: 403,
            condition: format!("<C:no-uid-conflict xmlns:C=\"{CALDAV}\"/>"),
        },
        Error::Conflict(why) => BackendError::Conflict(why),
        Error::LimitExceeded { what, limit } => BackendError::TooLarge { what, limit },
        Error::Invalid { why, .. } => BackendError::Conflict(why),
        other => BackendError::Internal(other.to_string()),
    }
}

/// Makes sure a calendar user has a default calendar (bookable for rooms
/// and resources) and a schedule inbox.
pub(super) async fn ensure_home(
    calendars: &TenantCalendars,
    user: &CalendarUser,
) -> crate::Result<()> {
    let kind = if user.is_bookable() {
        CollectionKind::Bookable
    } else {
        CollectionKind::Calendar
    };
    calendars
        .ensure_calendar(
            &user.handle,
            DEFAULT_CALENDAR,
            NewCalendar::named(&user.display_name).kind(kind),
        )
        .await?;
    calendars
        .ensure_calendar(
            &user.handle,
            INBOX,
            NewCalendar::named("Inbox")
                .kind(CollectionKind::Inbox)
                .components(&["VEVENT", "VTODO", "VFREEBUSY"]),
        )
        .await?;
    Ok(())
}

fn collection(path: DavPath, etag: String, created: DateTime<Utc>) -> Resource {
    Resource {
        path,
        kind: ResourceKind::Collection,
        etag,
        length: 0,
        content_type: None,
        created,
        modified: created,
    }
}

pub(super) fn object_resource(path: DavPath, object: &StoredObject) -> Resource {
    Resource {
        path,
        kind: ResourceKind::File,
        etag: object.etag.clone(),
        length: object.ics.len() as u64,
        content_type: Some(format!(
            "text/calendar; charset=utf-8; component={}",
            object.component.to_ascii_lowercase()
        )),
        created: object.modified,
        modified: object.modified,
    }
}

pub(super) fn calendar_etag(calendar: &CalendarInfo) -> String {
    format!("{}-{}", calendar.id.simple(), calendar.seq)
}

fn epoch() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

impl CalDavBackend {
    /// A backend for `me` (acting as `principal`) on `calendars`.
    pub fn new(
        calendars: TenantCalendars,
        users: Arc<dyn CalendarUsers>,
        me: CalendarUser,
        principal: Principal,
        authorizer: Arc<dyn Authorizer>,
    ) -> Self {
        CalDavBackend {
            calendars,
            users,
            me,
            principal,
            authorizer,
        }
    }

    pub(super) fn resource_of(&self, path: &DavPath, node: &Node) -> Resource {
        match node {
            Node::Root | Node::Principals | Node::Calendars => {
                collection(path.clone(), "root".into(), epoch())
            }
            Node::Principal(user) | Node::Home(user) => {
                collection(path.clone(), format!("home-{}", user.handle), epoch())
            }
            Node::Collection(reached) => collection(
                path.clone(),
                calendar_etag(&reached.calendar),
                reached.calendar.created,
            ),
            Node::Object(_, object) => object_resource(path.clone(), object),
            Node::NewObject(..) => collection(path.clone(), String::new(), epoch()),
        }
    }

    /// The node at `path`, which must exist (and not be a free name).
    async fn existing(&self, path: &DavPath) -> BackendResult<Node> {
        match self.node(path).await? {
            Some(Node::NewObject(..)) | None => Err(BackendError::NotFound),
            Some(node) => Ok(node),
        }
    }

    /// The members of my home: my calendars, inbox, outbox and the
    /// calendars shared with me.
    async fn home_members(
        &self,
        home: &CalendarUser,
        path: &DavPath,
    ) -> BackendResult<Vec<Resource>> {
        let mut out = Vec::new();
        for calendar in self
            .calendars
            .calendars(&home.handle)
            .await
            .map_err(internal)?
        {
            let Ok(child) = path.join(&calendar.slug) else {
                continue;
            };
            out.push(collection(
                child,
                calendar_etag(&calendar),
                calendar.created,
            ));
        }
        if let Ok(outbox) = path.join(OUTBOX) {
            out.push(collection(outbox, "outbox".into(), epoch()));
        }
        if home.handle == self.me.handle {
            for (calendar, _) in self
                .calendars
                .shared_with(&self.me.handle)
                .await
                .map_err(internal)?
            {
                let Ok(child) = path.join(&format!("{}{SHARED}{}", calendar.owner, calendar.slug))
                else {
                    continue;
                };
                out.push(collection(
                    child,
                    calendar_etag(&calendar),
                    calendar.created,
                ));
            }
        }
        Ok(out)
    }

    async fn readable(&self, reached: &Reached) -> BackendResult<()> {
        self.allow(&Action::READ, &reached.calendar, reached.access)
            .await
    }

    pub(super) async fn writable(&self, reached: &Reached) -> BackendResult<()> {
        if !reached.access.writable() {
            return Err(BackendError::Forbidden);
        }
        self.allow(&Action::WRITE, &reached.calendar, reached.access)
            .await
    }
}

#[async_trait]
impl DavBackend for CalDavBackend {
    async fn resource(&self, path: &DavPath) -> BackendResult<Option<Resource>> {
        if path.segments().len() == 3 && path.name() == Some(OUTBOX) {
            return Ok(Some(collection(path.clone(), "outbox".into(), epoch())));
        }
        match self.node(path).await? {
            None | Some(Node::NewObject(..)) => Ok(None),
            Some(Node::Home(user)) if user.handle != self.me.handle => Err(BackendError::Forbidden),
            Some(node) => {
                if let Node::Collection(reached) | Node::Object(reached, _) = &node {
                    self.readable(reached).await?;
                }
                Ok(Some(self.resource_of(path, &node)))
            }
        }
    }

    async fn children(&self, path: &DavPath) -> BackendResult<Vec<Resource>> {
        let node = self.existing(path).await?;
        match node {
            Node::Root => Ok(["principals", "calendars"]
                .iter()
                .filter_map(|s| path.join(s).ok())
                .map(|p| collection(p, "root".into(), epoch()))
                .collect()),
            Node::Principals => Ok(path
                .join(&self.me.handle)
                .map(|p| vec![collection(p, format!("home-{}", self.me.handle), epoch())])
                .unwrap_or_default()),
            Node::Calendars => Ok(path
                .join(&self.me.handle)
                .map(|p| vec![collection(p, format!("home-{}", self.me.handle), epoch())])
                .unwrap_or_default()),
            Node::Principal(_) => Ok(Vec::new()),
            Node::Home(user) if user.handle == self.me.handle => {
                self.home_members(&user, path).await
            }
            Node::Home(_) => Err(BackendError::Forbidden),
            Node::Collection(reached) => {
                self.readable(&reached).await?;
                Ok(self
                    .calendars
                    .objects(&reached.calendar)
                    .await
                    .map_err(internal)?
                    .iter()
                    .filter_map(|o| path.join(&o.name).ok().map(|p| object_resource(p, o)))
                    .collect())
            }
            Node::Object(..) | Node::NewObject(..) => Err(BackendError::NotFound),
        }
    }

    async fn read(&self, path: &DavPath, range: Option<Range<u64>>) -> BackendResult<ByteStream> {
        let Node::Object(reached, object) = self.existing(path).await? else {
            return Err(BackendError::Conflict("not a calendar object".into()));
        };
        self.readable(&reached).await?;
        let bytes = Bytes::from(object.ics.into_bytes());
        let bytes = match range {
            Some(r) => bytes.slice(
                usize::try_from(r.start).unwrap_or(0).min(bytes.len())
                    ..usize::try_from(r.end)
                        .unwrap_or(usize::MAX)
                        .min(bytes.len()),
            ),
            None => bytes,
        };
        Ok(Box::pin(futures::stream::once(async move { Ok(bytes) })))
    }

    async fn write(
        &self,
        path: &DavPath,
        body: ByteStream,
        _content_type: Option<&str>,
    ) -> BackendResult<Written> {
        let (reached, name, old) = match self.node(path).await? {
            Some(Node::Object(reached, object)) => {
                let name = object.name.clone();
                (reached, name, Some(object))
            }
            Some(Node::NewObject(reached, name)) => (reached, name, None),
            Some(_) => {
                return Err(BackendError::Conflict(
                    "only calendar objects can be written".into(),
                ));
            }
            None => return Err(BackendError::Conflict("no such calendar".into())),
        };
        self.writable(&reached).await?;
        let limit = self.calendars.limits().object.max_bytes;
        let text = read_body(body, limit).await?;
        let (object, created) = self
            .calendars
            .put_object(
                &reached.calendar,
                &name,
                &text,
                Precondition::None,
                &self.principal,
            )
            .await
            .map_err(internal)?;
        let object = self.after_write(&reached, old.as_ref(), object).await?;
        Ok(Written {
            resource: object_resource(path.clone(), &object),
            created,
        })
    }

    async fn create_collection(
        &self,
        path: &DavPath,
        properties: Vec<(PropertyName, String)>,
    ) -> BackendResult<Resource> {
        self.make_calendar(path, properties).await
    }

    async fn delete(&self, path: &DavPath) -> BackendResult<()> {
        match self.existing(path).await? {
            Node::Object(reached, object) => {
                self.writable(&reached).await?;
                self.calendars
                    .delete_object(
                        &reached.calendar,
                        &object.name,
                        Precondition::None,
                        &self.principal,
                    )
                    .await
                    .map_err(internal)?;
                self.after_delete(&reached, &object).await
            }
            Node::Collection(reached) if reached.access == Access::Owner => {
                if matches!(reached.calendar.slug.as_str(), DEFAULT_CALENDAR | INBOX) {
                    return Err(BackendError::Forbidden);
                }
                self.allow(&Action::DELETE, &reached.calendar, reached.access)
                    .await?;
                self.calendars
                    .delete_calendar(&reached.calendar, &self.principal)
                    .await
                    .map_err(internal)
            }
            _ => Err(BackendError::Forbidden),
        }
    }

    async fn copy(&self, _from: &DavPath, _to: &DavPath, _recursive: bool) -> BackendResult<()> {
        Err(BackendError::Unsupported("COPY of calendar data"))
    }

    async fn rename(&self, _from: &DavPath, _to: &DavPath) -> BackendResult<()> {
        Err(BackendError::Unsupported("MOVE of calendar data"))
    }

    async fn dead_properties(&self, path: &DavPath) -> BackendResult<Vec<(PropertyName, String)>> {
        match self.node(path).await? {
            Some(Node::Collection(reached)) => {
                self.readable(&reached).await?;
                self.calendars
                    .calendar_properties(&reached.calendar)
                    .await
                    .map_err(internal)
            }
            _ => Ok(Vec::new()),
        }
    }

    async fn patch_properties(
        &self,
        path: &DavPath,
        set: Vec<(PropertyName, String)>,
        remove: Vec<PropertyName>,
    ) -> BackendResult<()> {
        let Some(Node::Collection(reached)) = self.node(path).await? else {
            return Err(BackendError::Forbidden);
        };
        self.writable(&reached).await?;
        self.patch_calendar(&reached.calendar, set, remove).await
    }

    async fn sync_token(&self, path: &DavPath) -> BackendResult<Option<String>> {
        Ok(match self.node(path).await? {
            Some(Node::Collection(reached)) => {
                Some(format!("{SYNC_PREFIX}{}", reached.calendar.seq))
            }
            _ => None,
        })
    }

    async fn changes(
        &self,
        path: &DavPath,
        token: Option<&str>,
        limit: usize,
    ) -> BackendResult<Changes> {
        let Some(Node::Collection(reached)) = self.node(path).await? else {
            return Err(BackendError::Unsupported(
                "sync-collection outside a calendar",
            ));
        };
        self.readable(&reached).await?;
        let since = match token {
            None => None,
            Some(t) => Some(
                t.strip_prefix(SYNC_PREFIX)
                    .and_then(|n| n.parse::<i64>().ok())
                    .ok_or(BackendError::InvalidSyncToken)?,
            ),
        };
        let changes = self
            .calendars
            .changes(&reached.calendar, since, limit)
            .await
            .map_err(|e| match e {
                Error::Invalid {
                    what: "sync token", ..
                } => BackendError::InvalidSyncToken,
                other => internal(other),
            })?;
        Ok(Changes {
            token: format!("{SYNC_PREFIX}{}", changes.position),
            changed: changes
                .changed
                .iter()
                .filter_map(|o| path.join(&o.name).ok().map(|p| object_resource(p, o)))
                .collect(),
            removed: changes
                .removed
                .iter()
                .filter_map(|n| path.join(n).ok())
                .collect(),
            truncated: changes.truncated,
        })
    }

    async fn extra_properties(
        &self,
        resource: &Resource,
    ) -> BackendResult<Vec<(PropertyName, String)>> {
        self.properties_of(resource).await
    }

    async fn report(
        &self,
        mount: &Mount<'_>,
        path: &DavPath,
        depth: Depth,
        body: &Element,
    ) -> Option<BackendResult<Reply>> {
        self.answer_report(mount, path, depth, body).await
    }

    async fn other_method(
        &self,
        mount: &Mount<'_>,
        method: &str,
        path: &DavPath,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Option<BackendResult<Reply>> {
        match method {
            "MKCALENDAR" => Some(self.mkcalendar(path, &body).await),
            "POST" => Some(self.post(mount, path, content_type, &body).await),
            _ => None,
        }
    }

    fn compliance_classes(&self) -> Vec<&'static str> {
        vec![
            "calendar-access",
            "calendar-schedule",
            "calendar-auto-schedule",
        ]
    }

    fn extra_methods(&self) -> Vec<&'static str> {
        vec!["MKCALENDAR", "POST"]
    }

    fn locks(&self) -> &dyn LockStore {
        self
    }
}

/// Reads a request body of at most `limit` bytes as UTF-8.
pub(super) async fn read_body(mut body: ByteStream, limit: usize) -> BackendResult<String> {
    use futures::StreamExt;
    let mut out = Vec::new();
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| BackendError::Body(e.to_string()))?;
        if out.len() + piece.len() > limit {
            return Err(BackendError::TooLarge {
                what: "calendar object",
                limit: limit as u64,
            });
        }
        out.extend_from_slice(&piece);
    }
    String::from_utf8(out).map_err(|_| BackendError::Condition {
        status: 403,
        condition: format!("<C:valid-calendar-data xmlns:C=\"{CALDAV}\"/>"),
    })
}

/// CalDAV clients do not lock; the lock table stays empty and refuses locks.
#[async_trait]
impl LockStore for CalDavBackend {
    async fn acquire(&self, _lock: &StoredLock, _now: DateTime<Utc>) -> BackendResult<bool> {
        Err(BackendError::Unsupported("locks on calendars"))
    }

    async fn refresh(
        &self,
        _token: &str,
        _expires: DateTime<Utc>,
        _now: DateTime<Utc>,
    ) -> BackendResult<Option<StoredLock>> {
        Ok(None)
    }

    async fn release(&self, _token: &str) -> BackendResult<bool> {
        Ok(false)
    }

    async fn locks_touching(
        &self,
        _path: &DavPath,
        _now: DateTime<Utc>,
    ) -> BackendResult<Vec<StoredLock>> {
        Ok(Vec::new())
    }

    async fn forget_below(&self, _path: &DavPath) -> BackendResult<()> {
        Ok(())
    }
}
