//! Calendars and their objects on SQLite (one file per tenant) or
//! PostgreSQL (row-level security), with a change log per calendar that
//! keeps deletions (sync tokens), shares between people, and bookable
//! calendars (rooms, cars) that never take two overlapping bookings.
//!
//! ```
//! use std::sync::Arc;
//! use guss_calendar::store::{CalendarStore, NewCalendar, Precondition};
//! use guss_core::{MemoryEventSink, PersonId, Principal, SystemClock, TenantId};
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let dir = std::env::temp_dir().join(format!("guss-calendar-doc-{}", TenantId::new()));
//! let store = CalendarStore::open(dir.to_str().unwrap(), Arc::new(SystemClock), Arc::new(MemoryEventSink::new())).await?;
//! let tenant = TenantId::new();
//! let anna = Principal::Person { tenant, person: PersonId::new() };
//! let calendars = store.tenant(tenant);
//! let calendar = calendars.create_calendar("anna", "praxis", NewCalendar::named("Praxis")).await?;
//! let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:t1\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:20300506T090000Z\r\nDURATION:PT1H\r\nSUMMARY:Erstgespräch\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
//! let (stored, created) = calendars.put_object(&calendar, "t1.ics", text, Precondition::None, &anna).await?;
//! assert!(created);
//! let changes = calendars.changes(&calendar, None, 100).await?;
//! assert_eq!(changes.changed[0].name, "t1.ics");
//! assert_eq!(changes.changed[0].etag, stored.etag);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod schema;
mod sql;

use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use guss_core::{Clock, Event, EventSink, EventSource, EventType, Principal, TenantId};
use guss_dav::PropertyName;
use guss_sql::{Pool, TenantPools};
use serde::Serialize;
use uuid::Uuid;

use crate::ical::{self, Limits};
use crate::object::{ObjectError, ObjectIndex, index, index_message};
use crate::recurrence::{ExpandLimits, expand};
use crate::{Error, Result};
use sql::{CollectionRow, ObjectRow, Sql};

const SOURCE: EventSource = EventSource::from_static("guss-calendar");

/// How far ahead an open-ended series is checked against a bookable
/// calendar's other bookings.
const BOOKING_HORIZON: TimeDelta = TimeDelta::days(2 * 366);

/// What a collection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CollectionKind {
    /// A calendar.
    Calendar,
    /// A schedule inbox (RFC 6638): invitations and replies arrive here.
    Inbox,
    /// The calendar of a bookable resource: it never takes overlapping bookings.
    Bookable,
}

impl CollectionKind {
    fn code(self) -> i32 {
        match self {
            CollectionKind::Calendar => 0,
            CollectionKind::Inbox => 1,
            CollectionKind::Bookable => 2,
        }
    }

    fn of(code: i32) -> Self {
        match code {
            1 => CollectionKind::Inbox,
            2 => CollectionKind::Bookable,
            _ => CollectionKind::Calendar,
        }
    }
}

/// A calendar as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CalendarInfo {
    /// Its id.
    pub id: Uuid,
    /// Its owner (a calendar user's handle).
    pub owner: String,
    /// Its name in the owner's home (a path segment).
    pub slug: String,
    /// Calendar, inbox or bookable.
    pub kind: CollectionKind,
    /// The name people see.
    pub display_name: Option<String>,
    /// A description.
    pub description: Option<String>,
    /// A colour (`#RRGGBB`).
    pub color: Option<String>,
    /// Its time zone (a VTIMEZONE or an IANA name), for floating times.
    pub timezone: Option<String>,
    /// The component types it takes (`VEVENT`, `VTODO`, `VJOURNAL`).
    pub components: Vec<String>,
    /// Its change counter: the sync position.
    pub seq: i64,
    /// When it was made.
    pub created: DateTime<Utc>,
}

/// How to make a calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewCalendar {
    /// Calendar, inbox or bookable.
    pub kind: CollectionKind,
    /// The name people see.
    pub display_name: Option<String>,
    /// A description.
    pub description: Option<String>,
    /// A colour.
    pub color: Option<String>,
    /// Its time zone.
    pub timezone: Option<String>,
    /// The component types it takes.
    pub components: Vec<String>,
}

impl NewCalendar {
    /// A calendar for events and tasks, with a display name.
    pub fn named(display_name: &str) -> Self {
        NewCalendar {
            kind: CollectionKind::Calendar,
            display_name: Some(display_name.to_owned()),
            description: None,
            color: None,
            timezone: None,
            components: vec!["VEVENT".into(), "VTODO".into()],
        }
    }

    /// The same as another kind.
    #[must_use]
    pub fn kind(mut self, kind: CollectionKind) -> Self {
        self.kind = kind;
        self
    }

    /// The same taking other component types.
    #[must_use]
    pub fn components(mut self, components: &[&str]) -> Self {
        self.components = components.iter().map(|c| c.to_ascii_uppercase()).collect();
        self
    }
}

/// A calendar object as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredObject {
    /// Its resource name in the calendar (`…ics`).
    pub name: String,
    /// The UID of its components.
    pub uid: String,
    /// Its entity tag (without quotes).
    pub etag: String,
    /// VEVENT, VTODO or VJOURNAL.
    pub component: String,
    /// The iCalendar text.
    pub ics: String,
    /// When it was last written.
    pub modified: DateTime<Utc>,
    /// Its schedule tag (RFC 6638 §3.2.10), for scheduling objects.
    pub schedule_tag: Option<String>,
}

/// A write's condition on what is there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// None.
    None,
    /// `If-Match`: the object exists with this entity tag.
    IfMatch(String),
    /// `If-None-Match: *`: nothing is there yet.
    IfNoneMatch,
}

/// What changed in a calendar since a position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarChanges {
    /// The position everything reported reaches to.
    pub position: i64,
    /// Objects created or changed, as they are now.
    pub changed: Vec<StoredObject>,
    /// Names of objects removed.
    pub removed: Vec<String>,
    /// Whether more changes remain.
    pub truncated: bool,
}

/// Limits of the store; on by default.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StoreLimits {
    /// Bounds on one object's text.
    pub object: Limits,
    /// The most objects one listing or query returns.
    pub max_objects: usize,
    /// Bounds on expansions for queries and bookings.
    pub expand: ExpandLimits,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            object: Limits {
                max_bytes: 2 * 1024 * 1024,
                max_components: 10_000,
            },
            max_objects: 100_000,
            expand: ExpandLimits::default(),
        }
    }
}

/// The calendars of all tenants. Cheap to clone.
#[derive(Clone)]
pub struct CalendarStore {
    inner: Arc<Inner>,
}

struct Inner {
    pools: TenantPools,
    clock: Arc<dyn Clock>,
    events: Arc<dyn EventSink>,
    limits: StoreLimits,
}

impl std::fmt::Debug for CalendarStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalendarStore")
            .field("pools", &self.inner.pools)
            .finish_non_exhaustive()
    }
}

impl CalendarStore {
    /// Opens the store at a directory (SQLite) or a `postgres://` URL.
    pub async fn open(
        location: &str,
        clock: Arc<dyn Clock>,
        events: Arc<dyn EventSink>,
    ) -> Result<Self> {
        Self::open_with(location, clock, events, StoreLimits::default()).await
    }

    /// [`CalendarStore::open`] with other limits.
    pub async fn open_with(
        location: &str,
        clock: Arc<dyn Clock>,
        events: Arc<dyn EventSink>,
        limits: StoreLimits,
    ) -> Result<Self> {
        let pools = TenantPools::open(location, &schema::SCHEMA).await?;
        Ok(CalendarStore {
            inner: Arc::new(Inner {
                pools,
                clock,
                events,
                limits,
            }),
        })
    }

    /// One tenant's calendars.
    pub fn tenant(&self, tenant: TenantId) -> TenantCalendars {
        TenantCalendars {
            store: self.clone(),
            tenant,
        }
    }
}

/// One tenant's calendars.
#[derive(Clone, Debug)]
pub struct TenantCalendars {
    store: CalendarStore,
    tenant: TenantId,
}

macro_rules! cal_tx {
    ($calendars:expr, |$sql:ident| $body:expr) => {{
        let pool = $calendars.pool().await?;
        guss_sql::tenant_tx!(&pool, $calendars.tenant, |$sql| $body)
    }};
}

// After the macro: the booking module's transactions use it.
mod booking;

fn info(row: CollectionRow) -> CalendarInfo {
    CalendarInfo {
        id: row.id,
        owner: row.owner,
        slug: row.slug,
        kind: CollectionKind::of(row.kind),
        display_name: row.display_name,
        description: row.description,
        color: row.color,
        timezone: row.timezone,
        components: row
            .components
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect(),
        seq: row.seq,
        created: time(row.created_at),
    }
}

fn stored(row: ObjectRow) -> StoredObject {
    StoredObject {
        name: row.name,
        uid: row.uid,
        etag: row.etag,
        component: row.component,
        ics: row.ics,
        modified: time(row.modified_at),
        schedule_tag: row.schedule_tag,
    }
}

fn time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// A resource name a calendar object may have: a plain segment.
fn check_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > 255
        || name.starts_with('.')
        || name.chars().any(|c| c == '/' || c.is_control());
    if bad {
        return Err(Error::invalid(
            "object name",
            "1 to 255 characters, no slash, not starting with a dot",
        ));
    }
    Ok(())
}

/// Whether two objects' busy instances overlap within `window`.
fn clash(
    a: &calcard::icalendar::ICalendar,
    b: &calcard::icalendar::ICalendar,
    window: &Range<DateTime<Utc>>,
    limits: &ExpandLimits,
) -> bool {
    let busy = |c| {
        expand(c, window, limits)
            .instances
            .into_iter()
            .filter(|i| !i.transparent && !i.cancelled)
            .map(|i| (i.start, i.end.max(i.start + TimeDelta::seconds(1))))
            .collect::<Vec<_>>()
    };
    let (mine, theirs) = (busy(a), busy(b));
    mine.iter()
        .any(|(s1, e1)| theirs.iter().any(|(s2, e2)| s1 < e2 && s2 < e1))
}

impl TenantCalendars {
    /// The tenant.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    async fn pool(&self) -> Result<Pool> {
        Ok(self.store.inner.pools.pool(self.tenant).await?)
    }

    fn now(&self) -> DateTime<Utc> {
        self.store.inner.clock.now()
    }

    /// The store's limits.
    pub fn limits(&self) -> &StoreLimits {
        &self.store.inner.limits
    }

    /// Emits an event (failing to emit does not undo anything).
    pub(crate) async fn emit(
        &self,
        kind: &'static str,
        by: Option<&Principal>,
        subject: &str,
        data: serde_json::Value,
    ) {
        let Ok(kind) = EventType::new(kind) else {
            return;
        };
        let event = Event::builder(self.tenant, SOURCE, kind)
            .data(data)
            .subject_if_valid(subject)
            .actor_if(by)
            .build(self.store.inner.clock.as_ref());
        if let Err(e) = self.store.inner.events.emit(event).await {
            tracing::warn!(error = %e, "calendar event not delivered");
        }
    }

    /// Creates a calendar `slug` of `owner`.
    pub async fn create_calendar(
        &self,
        owner: &str,
        slug: &str,
        new: NewCalendar,
    ) -> Result<CalendarInfo> {
        check_name(slug)?;
        let row = CollectionRow {
            id: Uuid::now_v7(),
            owner: owner.to_owned(),
            slug: slug.to_owned(),
            kind: new.kind.code(),
            display_name: new.display_name,
            description: new.description,
            color: new.color,
            timezone: new.timezone,
            components: new.components.join(","),
            seq: 0,
            created_at: micros(self.now()),
        };
        cal_tx!(self, |sql| sql.insert_collection(&row).await?);
        self.emit(
            "guss.calendar.calendar.created",
            None,
            &format!("{owner}/{slug}"),
            serde_json::json!({ "id": row.id }),
        )
        .await;
        Ok(info(row))
    }

    /// The calendar `slug` of `owner`, created as `new` if missing.
    pub async fn ensure_calendar(
        &self,
        owner: &str,
        slug: &str,
        new: NewCalendar,
    ) -> Result<CalendarInfo> {
        if let Some(found) = self.calendar(owner, slug).await? {
            return Ok(found);
        }
        match self.create_calendar(owner, slug, new).await {
            Err(Error::Conflict(_)) => self
                .calendar(owner, slug)
                .await?
                .ok_or(Error::NotFound("calendar")),
            other => other,
        }
    }

    /// The calendar `slug` of `owner`.
    pub async fn calendar(&self, owner: &str, slug: &str) -> Result<Option<CalendarInfo>> {
        Ok(cal_tx!(self, |sql| sql.collection(owner, slug).await?).map(info))
    }

    /// The calendar with this id.
    pub async fn calendar_by_id(&self, id: Uuid) -> Result<Option<CalendarInfo>> {
        Ok(cal_tx!(self, |sql| sql.collection_by_id(id).await?).map(info))
    }

    /// All calendars (and inboxes) of `owner`.
    pub async fn calendars(&self, owner: &str) -> Result<Vec<CalendarInfo>> {
        Ok(cal_tx!(self, |sql| sql.collections(owner).await?)
            .into_iter()
            .map(info)
            .collect())
    }

    /// Changes a calendar's name, description, colour, time zone or components.
    pub async fn update_calendar(&self, calendar: &CalendarInfo) -> Result<()> {
        let row = CollectionRow {
            id: calendar.id,
            owner: calendar.owner.clone(),
            slug: calendar.slug.clone(),
            kind: calendar.kind.code(),
            display_name: calendar.display_name.clone(),
            description: calendar.description.clone(),
            color: calendar.color.clone(),
            timezone: calendar.timezone.clone(),
            components: calendar.components.join(","),
            seq: calendar.seq,
            created_at: micros(calendar.created),
        };
        cal_tx!(self, |sql| sql.update_collection(&row).await?);
        Ok(())
    }

    /// Deletes a calendar with everything in it.
    pub async fn delete_calendar(&self, calendar: &CalendarInfo, by: &Principal) -> Result<()> {
        cal_tx!(self, |sql| sql.delete_collection(calendar.id).await?);
        self.emit(
            "guss.calendar.calendar.deleted",
            Some(by),
            &format!("{}/{}", calendar.owner, calendar.slug),
            serde_json::json!({ "id": calendar.id }),
        )
        .await;
        Ok(())
    }

    /// A calendar's dead properties (colour and order set by clients).
    pub async fn calendar_properties(
        &self,
        calendar: &CalendarInfo,
    ) -> Result<Vec<(PropertyName, String)>> {
        Ok(cal_tx!(self, |sql| sql.props(calendar.id).await?)
            .into_iter()
            .map(|(namespace, local, value)| (PropertyName::new(namespace, local), value))
            .collect())
    }

    /// Sets and removes a calendar's dead properties, all or none.
    pub async fn patch_calendar_properties(
        &self,
        calendar: &CalendarInfo,
        set: &[(PropertyName, String)],
        remove: &[PropertyName],
    ) -> Result<()> {
        cal_tx!(self, |sql| {
            for (name, value) in set {
                sql.set_prop(calendar.id, &name.namespace, &name.local, value)
                    .await?;
            }
            for name in remove {
                sql.remove_prop(calendar.id, &name.namespace, &name.local)
                    .await?;
            }
        });
        Ok(())
    }

    /// Shares a calendar with `grantee` (read-only or writable).
    pub async fn share(
        &self,
        calendar: &CalendarInfo,
        grantee: &str,
        writable: bool,
        by: &Principal,
    ) -> Result<()> {
        cal_tx!(self, |sql| sql
            .set_share(calendar.id, grantee, writable)
            .await?);
        self.emit(
            "guss.calendar.calendar.shared",
            Some(by),
            &format!("{}/{}", calendar.owner, calendar.slug),
            serde_json::json!({ "grantee": grantee, "writable": writable }),
        )
        .await;
        Ok(())
    }

    /// Ends a share.
    pub async fn unshare(
        &self,
        calendar: &CalendarInfo,
        grantee: &str,
        by: &Principal,
    ) -> Result<()> {
        cal_tx!(self, |sql| sql.remove_share(calendar.id, grantee).await?);
        self.emit(
            "guss.calendar.calendar.unshared",
            Some(by),
            &format!("{}/{}", calendar.owner, calendar.slug),
            serde_json::json!({ "grantee": grantee }),
        )
        .await;
        Ok(())
    }

    /// Who a calendar is shared with: (grantee, writable).
    pub async fn shares(&self, calendar: &CalendarInfo) -> Result<Vec<(String, bool)>> {
        Ok(cal_tx!(self, |sql| sql.shares(calendar.id).await?)
            .into_iter()
            .map(|(g, w)| (g, w != 0))
            .collect())
    }

    /// The calendars shared with `grantee`: (calendar, writable).
    pub async fn shared_with(&self, grantee: &str) -> Result<Vec<(CalendarInfo, bool)>> {
        Ok(cal_tx!(self, |sql| {
            let mut out = Vec::new();
            for (id, writable) in sql.shared_with(grantee).await? {
                if let Some(row) = sql.collection_by_id(id).await? {
                    out.push((info(row), writable != 0));
                }
            }
            out
        }))
    }

    /// One object.
    pub async fn object(
        &self,
        calendar: &CalendarInfo,
        name: &str,
    ) -> Result<Option<StoredObject>> {
        Ok(cal_tx!(self, |sql| sql.object(calendar.id, name).await?).map(stored))
    }

    /// The object with `uid` in a calendar.
    pub async fn object_by_uid(
        &self,
        calendar: &CalendarInfo,
        uid: &str,
    ) -> Result<Option<StoredObject>> {
        Ok(cal_tx!(self, |sql| sql.object_by_uid(calendar.id, uid).await?).map(stored))
    }

    /// The objects of a calendar, by name (at most the listing limit).
    pub async fn objects(&self, calendar: &CalendarInfo) -> Result<Vec<StoredObject>> {
        let limit = i64::try_from(self.limits().max_objects).unwrap_or(i64::MAX);
        Ok(cal_tx!(self, |sql| sql.objects(calendar.id, limit).await?)
            .into_iter()
            .map(stored)
            .collect())
    }

    /// The objects that may have instances in `range` (by their indexed
    /// first start and last end; recurring ones are checked by the caller).
    pub async fn objects_in_range(
        &self,
        calendar: &CalendarInfo,
        range: &Range<DateTime<Utc>>,
    ) -> Result<Vec<StoredObject>> {
        let limit = i64::try_from(self.limits().max_objects).unwrap_or(i64::MAX);
        Ok(cal_tx!(self, |sql| sql
            .objects_in_range(calendar.id, micros(range.start), micros(range.end), limit)
            .await?)
        .into_iter()
        .map(stored)
        .collect())
    }

    /// Reads `text` as an object named `name` for `calendar`: the parsed
    /// calendar, its index and the row to store.
    fn prepare(
        &self,
        calendar: &CalendarInfo,
        name: &str,
        text: &str,
    ) -> Result<(ical::Parsed, ObjectIndex, ObjectRow)> {
        check_name(name)?;
        let parsed = ical::parse(text, &self.limits().object).map_err(|e| match e {
            Error::Invalid { why, .. } => Error::Object(ObjectError::NotCalendarData(why)),
            other => other,
        })?;
        let components: Vec<&str> = calendar.components.iter().map(String::as_str).collect();
        let found = if calendar.kind == CollectionKind::Inbox {
            index_message(&parsed.calendar, &components)?
        } else {
            index(&parsed.calendar, &components)?
        };
        let row = ObjectRow {
            name: name.to_owned(),
            uid: found.uid.clone(),
            etag: Uuid::now_v7().simple().to_string(),
            component: found.component.clone(),
            ics: ical::emit(&parsed.calendar),
            modified_at: micros(self.now()),
            schedule_tag: None,
        };
        Ok((parsed, found, row))
    }

    /// Stores the object `name` from iCalendar `text`, checking it is one
    /// calendar object the calendar takes, that its UID is not used by
    /// another object of the calendar, `expected`, and — for a bookable
    /// calendar — that it overlaps no other booking (all in one step).
    /// Returns the object and whether it was created.
    pub async fn put_object(
        &self,
        calendar: &CalendarInfo,
        name: &str,
        text: &str,
        expected: Precondition,
        by: &Principal,
    ) -> Result<(StoredObject, bool)> {
        let (parsed, found, row) = self.prepare(calendar, name, text)?;
        let now = self.now();
        let window = found.first_start.unwrap_or(now)
            ..found
                .last_end
                .unwrap_or_else(|| found.first_start.unwrap_or(now) + BOOKING_HORIZON);
        let expand_limits = self.limits().expand.clone();
        let bookable = calendar.kind == CollectionKind::Bookable;
        let created = cal_tx!(self, |sql| {
            // Taking the change number first also serializes writers of this calendar.
            let seq = sql.next_seq(calendar.id).await?;
            let existing = sql.object(calendar.id, name).await?;
            match (&expected, &existing) {
                (Precondition::IfMatch(etag), Some(e)) if *etag == e.etag => {}
                (Precondition::IfMatch(_), _) => return Err(Error::PreconditionFailed),
                (Precondition::IfNoneMatch, Some(_)) => return Err(Error::PreconditionFailed),
                _ => {}
            }
            if let Some(other) = sql.object_by_uid(calendar.id, &found.uid).await?
                && other.name != name
            {
                return Err(Error::Conflict(format!("no-uid-conflict:{}", other.name)));
            }
            if bookable {
                let limit = i64::try_from(self.limits().max_objects).unwrap_or(i64::MAX);
                for other in sql
                    .objects_in_range(calendar.id, micros(window.start), micros(window.end), limit)
                    .await?
                {
                    if other.name == name {
                        continue;
                    }
                    let Ok(theirs) = ical::parse(&other.ics, &self.limits().object) else {
                        continue;
                    };
                    if clash(&parsed.calendar, &theirs.calendar, &window, &expand_limits) {
                        return Err(Error::Conflict(format!("booked:{}", other.uid)));
                    }
                }
            }
            sql.upsert_object(
                calendar.id,
                &row,
                found.first_start.map(micros),
                found.last_end.map(micros),
            )
            .await?;
            sql.log_change(calendar.id, seq, name, false).await?;
            existing.is_none()
        });
        self.emit(
            if created { "guss.calendar.object.created" } else { "guss.calendar.object.updated" },
            Some(by),
            &format!("{}/{}/{name}", calendar.owner, calendar.slug),
            serde_json::json!({ "uid": found.uid, "repaired": parsed.report.repaired.len(), "ignored": parsed.report.ignored.len() }),
        )
        .await;
        Ok((stored(row), created))
    }

    /// Deletes an object (if `expected` holds).
    pub async fn delete_object(
        &self,
        calendar: &CalendarInfo,
        name: &str,
        expected: Precondition,
        by: &Principal,
    ) -> Result<()> {
        cal_tx!(self, |sql| {
            let seq = sql.next_seq(calendar.id).await?;
            let existing = sql
                .object(calendar.id, name)
                .await?
                .ok_or(Error::NotFound("calendar object"))?;
            if let Precondition::IfMatch(etag) = &expected
                && *etag != existing.etag
            {
                return Err(Error::PreconditionFailed);
            }
            sql.delete_object(calendar.id, name).await?;
            sql.log_change(calendar.id, seq, name, true).await?;
        });
        self.emit(
            "guss.calendar.object.deleted",
            Some(by),
            &format!("{}/{}/{name}", calendar.owner, calendar.slug),
            serde_json::json!({}),
        )
        .await;
        Ok(())
    }

    /// The objects changed since `since` (all for `None`), at most `limit`.
    pub async fn changes(
        &self,
        calendar: &CalendarInfo,
        since: Option<i64>,
        limit: usize,
    ) -> Result<CalendarChanges> {
        let limit = limit.max(1);
        Ok(cal_tx!(self, |sql| {
            let current = sql
                .collection_by_id(calendar.id)
                .await?
                .ok_or(Error::NotFound("calendar"))?;
            let mut position = current.seq;
            match since {
                Some(since) if since < 0 || since > position => {
                    return Err(Error::invalid("sync token", "not issued by this calendar"));
                }
                None => {
                    let objects = sql
                        .objects(calendar.id, i64::try_from(limit).unwrap_or(i64::MAX))
                        .await?;
                    let truncated = objects.len() >= limit;
                    CalendarChanges {
                        position,
                        changed: objects.into_iter().map(stored).collect(),
                        removed: Vec::new(),
                        truncated,
                    }
                }
                Some(since) => {
                    let want = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
                    let mut rows = sql.changes_since(calendar.id, since, want).await?;
                    let mut truncated = false;
                    if rows.len() > limit {
                        truncated = true;
                        let cut = rows.get(limit).map_or(position, |r| r.0 - 1);
                        rows.retain(|r| r.0 <= cut);
                        position = cut;
                    }
                    let mut names: Vec<String> = rows.into_iter().map(|r| r.1).collect();
                    names.sort();
                    names.dedup();
                    let mut changed = Vec::new();
                    let mut removed = Vec::new();
                    for name in names {
                        match sql.object(calendar.id, &name).await? {
                            Some(row) => changed.push(stored(row)),
                            None => removed.push(name),
                        }
                    }
                    CalendarChanges {
                        position,
                        changed,
                        removed,
                        truncated,
                    }
                }
            }
        }))
    }
}
