//! CalDAV REPORTs (RFC 4791 §7): calendar-query (component and time-range
//! filters, with expansion), calendar-multiget and free-busy-query.

use std::ops::Range;

use calcard::common::PartialDateTime;
use calcard::icalendar::{ICalendar, ICalendarEntry, ICalendarProperty, ICalendarValue};
use chrono::{DateTime, NaiveDateTime, Utc};
use guss_core::Action;
use guss_dav::backend::{BackendError, BackendResult, Mount, Reply};
use guss_dav::{
    DAV, DavPath, Depth, Element, Multistatus, PropStat, PropertyName, Response, escape_text,
};

use super::CALDAV;
use super::backend::{CalDavBackend, internal};
use super::paths::Node;
use crate::freebusy::{busy_periods, vfreebusy};
use crate::ical;
use crate::recurrence::{ExpandLimits, Kind, expand};
use crate::store::StoredObject;

/// The action that lets someone see when a calendar is busy (not what).
pub(super) const READ_FREE_BUSY: Action = Action::from_static("read_free_busy");

/// Whether any task or event of `calendar` has a DTSTART or DUE.
fn has_time(calendar: &ICalendar) -> bool {
    calendar.components.iter().any(|c| {
        c.entries
            .iter()
            .any(|e| matches!(e.name, ICalendarProperty::Dtstart | ICalendarProperty::Due))
    })
}

/// A calendar-query or multiget: what to return for each object.
struct Wanted {
    props: Vec<PropertyName>,
    /// `calendar-data` asked for, with an expansion window.
    data: Option<Option<Range<DateTime<Utc>>>>,
}

fn is_cal(element: &Element, local: &str) -> bool {
    element.name.namespace == CALDAV && element.name.local == local
}

fn cal_child<'a>(element: &'a Element, local: &str) -> Option<&'a Element> {
    element.children().find(|c| is_cal(c, local))
}

fn attribute<'a>(element: &'a Element, name: &str) -> Option<&'a str> {
    element
        .attributes
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A CalDAV date-time (`20300101T000000Z`).
fn utc(text: &str) -> BackendResult<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text.trim(), "%Y%m%dT%H%M%SZ")
        .map(|t| t.and_utc())
        .map_err(|_| {
            BackendError::Conflict(format!(
                "{text:?} is not a UTC date-time like 20300101T000000Z"
            ))
        })
}

fn time_range(element: &Element) -> BackendResult<Range<DateTime<Utc>>> {
    let start = attribute(element, "start")
        .map(utc)
        .transpose()?
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let end = attribute(element, "end")
        .map(utc)
        .transpose()?
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if end <= start {
        return Err(BackendError::Conflict(
            "a time-range must end after it starts".into(),
        ));
    }
    Ok(start..end)
}

fn wanted(root: &Element) -> BackendResult<Wanted> {
    let mut props = Vec::new();
    let mut data = None;
    if let Some(prop) = root.dav_child("prop") {
        for child in prop.children() {
            if is_cal(child, "calendar-data") {
                data = Some(cal_child(child, "expand").map(time_range).transpose()?);
            } else {
                props.push(child.name.clone());
            }
        }
    }
    Ok(Wanted { props, data })
}

/// The filter of a calendar-query: a component type and a time range.
struct Filter {
    component: Option<String>,
    range: Option<Range<DateTime<Utc>>>,
}

fn filter(root: &Element) -> BackendResult<Filter> {
    let mut out = Filter {
        component: None,
        range: None,
    };
    let Some(outer) = cal_child(root, "filter").and_then(|f| cal_child(f, "comp-filter")) else {
        return Ok(out);
    };
    if let Some(inner) = cal_child(outer, "comp-filter") {
        out.component = attribute(inner, "name").map(str::to_ascii_uppercase);
        if let Some(range) = cal_child(inner, "time-range") {
            out.range = Some(time_range(range)?);
        }
    }
    Ok(out)
}

fn set_time(
    component: &mut calcard::icalendar::ICalendarComponent,
    name: ICalendarProperty,
    at: DateTime<Utc>,
) {
    component.entries.push(
        ICalendarEntry::new(name).with_value(ICalendarValue::PartialDateTime(Box::new(
            PartialDateTime::from_utc_timestamp(at.timestamp()),
        ))),
    );
}

/// The object's instances in `window` as separate components in UTC
/// (RFC 4791 §9.6.5).
fn expanded(calendar: &ICalendar, window: &Range<DateTime<Utc>>, limits: &ExpandLimits) -> String {
    let expansion = expand(calendar, window, limits);
    let mut out = ICalendar {
        components: Vec::new(),
    };
    let mut root = calendar.components.first().cloned().unwrap_or_default();
    root.component_ids.clear();
    out.components.push(root);
    for instance in &expansion.instances {
        let Some(source) = calendar.components.get(instance.component) else {
            continue;
        };
        let mut component = source.clone();
        component.component_ids.clear();
        component.entries.retain(|e| {
            !matches!(
                e.name,
                ICalendarProperty::Rrule
                    | ICalendarProperty::Rdate
                    | ICalendarProperty::Exdate
                    | ICalendarProperty::Dtstart
                    | ICalendarProperty::Dtend
                    | ICalendarProperty::Duration
                    | ICalendarProperty::RecurrenceId
            )
        });
        set_time(&mut component, ICalendarProperty::Dtstart, instance.start);
        if instance.end > instance.start {
            set_time(&mut component, ICalendarProperty::Dtend, instance.end);
        }
        if let Some(rid) = instance.recurrence_id {
            set_time(&mut component, ICalendarProperty::RecurrenceId, rid);
        }
        let index = u32::try_from(out.components.len()).unwrap_or(u32::MAX);
        if let Some(root) = out.components.first_mut() {
            root.component_ids.push(index);
        }
        out.components.push(component);
    }
    ical::emit(&out)
}

impl CalDavBackend {
    pub(super) async fn answer_report(
        &self,
        mount: &Mount<'_>,
        path: &DavPath,
        depth: Depth,
        body: &Element,
    ) -> Option<BackendResult<Reply>> {
        if body.name.namespace != CALDAV {
            return None;
        }
        Some(match body.name.local.as_str() {
            "calendar-query" => self.calendar_query(mount, path, depth, body).await,
            "calendar-multiget" => self.multiget(mount, body).await,
            "free-busy-query" => self.free_busy_query(path, body).await,
            _ => return None,
        })
    }

    fn response(
        &self,
        mount: &Mount<'_>,
        path: &DavPath,
        object: &StoredObject,
        wanted: &Wanted,
    ) -> Response {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for name in &wanted.props {
            if name.namespace == DAV && name.local == "getetag" {
                found.push((
                    name.clone(),
                    Some(escape_text(&format!("\"{}\"", object.etag))),
                ));
            } else if name.namespace == DAV && name.local == "getcontenttype" {
                found.push((
                    name.clone(),
                    Some("text/calendar; charset=utf-8".to_owned()),
                ));
            } else {
                missing.push((name.clone(), None));
            }
        }
        if let Some(window) = &wanted.data {
            let text = match window {
                Some(window) => match ical::parse(&object.ics, &self.calendars.limits().object) {
                    Ok(parsed) => {
                        expanded(&parsed.calendar, window, &self.calendars.limits().expand)
                    }
                    Err(_) => object.ics.clone(),
                },
                None => object.ics.clone(),
            };
            found.push((
                PropertyName::new(CALDAV, "calendar-data"),
                Some(escape_text(&text)),
            ));
        }
        let mut propstats = vec![PropStat {
            status: 200,
            props: found,
        }];
        if !missing.is_empty() {
            propstats.push(PropStat {
                status: 404,
                props: missing,
            });
        }
        Response {
            href: mount.href(path, false),
            propstats,
            ..Response::default()
        }
    }

    async fn calendar_query(
        &self,
        mount: &Mount<'_>,
        path: &DavPath,
        depth: Depth,
        body: &Element,
    ) -> BackendResult<Reply> {
        let wanted = wanted(body)?;
        let filter = filter(body)?;
        let Some(node) = self.node(path).await? else {
            return Err(BackendError::NotFound);
        };
        let (reached, objects) = match node {
            Node::Collection(reached) if depth != Depth::Zero => {
                let objects = match &filter.range {
                    Some(range) => {
                        self.calendars
                            .objects_in_range(&reached.calendar, range)
                            .await
                    }
                    None => self.calendars.objects(&reached.calendar).await,
                }
                .map_err(internal)?;
                (reached, objects)
            }
            Node::Object(reached, object) => (reached, vec![object]),
            _ => return Ok(Reply::multistatus(&Multistatus::default())),
        };
        self.allow(&Action::READ, &reached.calendar, reached.access)
            .await?;
        let limits = &self.calendars.limits().expand;
        let mut responses = Vec::new();
        for object in &objects {
            if filter
                .component
                .as_deref()
                .is_some_and(|c| !c.eq_ignore_ascii_case(&object.component))
            {
                continue;
            }
            if let Some(range) = &filter.range {
                let Ok(parsed) = ical::parse(&object.ics, &self.calendars.limits().object) else {
                    continue;
                };
                let kind = if object.component == "VTODO" {
                    Kind::Todo
                } else {
                    Kind::Event
                };
                // RFC 4791 §9.9: a task with neither DTSTART nor DUE matches any range.
                let undated_task = kind == Kind::Todo && !has_time(&parsed.calendar);
                if !undated_task
                    && !expand(&parsed.calendar, range, limits)
                        .instances
                        .iter()
                        .any(|i| i.kind == kind)
                {
                    continue;
                }
            }
            let object_path = reached
                .path()
                .join(&object.name)
                .map_err(|e| BackendError::Internal(e.to_string()))?;
            responses.push(self.response(mount, &object_path, object, &wanted));
        }
        Ok(Reply::multistatus(&Multistatus {
            responses,
            sync_token: None,
        }))
    }

    async fn multiget(&self, mount: &Mount<'_>, body: &Element) -> BackendResult<Reply> {
        let wanted = wanted(body)?;
        let mut responses = Vec::new();
        for href in body.children().filter(|c| c.is_dav("href")) {
            let text = href.text();
            let found = match mount.path_of(text.trim()) {
                Some(path) => match self.node(&path).await? {
                    Some(Node::Object(reached, object)) => self
                        .allow(&Action::READ, &reached.calendar, reached.access)
                        .await
                        .ok()
                        .map(|()| (path, object)),
                    _ => None,
                },
                None => None,
            };
            match found {
                Some((path, object)) => {
                    responses.push(self.response(mount, &path, &object, &wanted))
                }
                None => responses.push(Response {
                    href: escape_text(text.trim()),
                    status: Some(404),
                    ..Response::default()
                }),
            }
        }
        Ok(Reply::multistatus(&Multistatus {
            responses,
            sync_token: None,
        }))
    }

    /// Busy time of a calendar (anyone the authorizer lets read free/busy).
    async fn free_busy_query(&self, path: &DavPath, body: &Element) -> BackendResult<Reply> {
        let range = cal_child(body, "time-range")
            .map(time_range)
            .transpose()?
            .ok_or_else(|| BackendError::Conflict("free-busy-query needs a time-range".into()))?;
        let segments: Vec<&str> = path.segments().iter().map(String::as_str).collect();
        let ["calendars", owner, slug] = segments.as_slice() else {
            return Err(BackendError::Forbidden);
        };
        let calendar = self
            .calendars
            .calendar(owner, slug)
            .await
            .map_err(internal)?
            .ok_or(BackendError::NotFound)?;
        let access = self
            .access_to(&calendar)
            .await?
            .unwrap_or(super::paths::Access::Read);
        self.allow(&READ_FREE_BUSY, &calendar, access).await?;
        let text = self.busy_text(&[calendar], &range, None).await?;
        Ok(Reply::new(200, "text/calendar; charset=utf-8", text))
    }

    /// The VFREEBUSY of `calendars` over `range`.
    pub(super) async fn busy_text(
        &self,
        calendars: &[crate::store::CalendarInfo],
        range: &Range<DateTime<Utc>>,
        attendee: Option<&str>,
    ) -> BackendResult<String> {
        let limits = &self.calendars.limits().expand;
        let mut periods = Vec::new();
        for calendar in calendars {
            for object in self
                .calendars
                .objects_in_range(calendar, range)
                .await
                .map_err(internal)?
            {
                let Ok(parsed) = ical::parse(&object.ics, &self.calendars.limits().object) else {
                    continue;
                };
                let expansion = expand(&parsed.calendar, range, limits);
                periods.extend(busy_periods(&parsed.calendar, &expansion, range));
            }
        }
        crate::freebusy::merge(&mut periods);
        Ok(vfreebusy(range, &periods, chrono::Utc::now(), attendee))
    }
}
