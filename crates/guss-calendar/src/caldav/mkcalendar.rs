//! Making calendars: MKCALENDAR (RFC 4791 §5.3.1) and extended MKCOL with
//! a calendar resourcetype (RFC 5689), with their initial properties; and
//! the calendar properties PROPPATCH changes.

use bytes::Bytes;
use guss_dav::backend::{BackendError, BackendResult, Reply, Resource};
use guss_dav::{DAV, DavPath, Element, PropertyName, parse_xml};

use super::backend::{CalDavBackend, internal};
use super::paths::SHARED;
use super::{APPLE_ICAL, CALDAV};
use crate::store::{CalendarInfo, NewCalendar};

/// A property value as an element (values arrive as XML with explicit namespaces).
fn value_element(inner: &str) -> Option<Element> {
    parse_xml(
        &format!("<v xmlns=\"urn:guss:value\">{inner}</v>"),
        guss_dav::Limits::default(),
    )
    .ok()
}

fn components_of(value: &Element) -> Vec<String> {
    value
        .children()
        .filter(|c| c.name.namespace == CALDAV && c.name.local == "comp")
        .filter_map(|c| {
            c.attributes
                .iter()
                .find(|(n, _)| n == "name")
                .map(|(_, v)| v.to_ascii_uppercase())
        })
        .filter(|c| matches!(c.as_str(), "VEVENT" | "VTODO" | "VJOURNAL"))
        .collect()
}

/// Which calendar field a property sets, if any.
enum Field {
    DisplayName,
    Description,
    Color,
    Timezone,
    Components,
}

fn field(name: &PropertyName) -> Option<Field> {
    match (name.namespace.as_str(), name.local.as_str()) {
        (DAV, "displayname") => Some(Field::DisplayName),
        (CALDAV, "calendar-description") => Some(Field::Description),
        (APPLE_ICAL, "calendar-color") => Some(Field::Color),
        (CALDAV, "calendar-timezone") => Some(Field::Timezone),
        (CALDAV, "supported-calendar-component-set") => Some(Field::Components),
        _ => None,
    }
}

/// Applies `value` of a calendar field to `calendar`; false for other properties.
fn apply(calendar: &mut CalendarInfo, name: &PropertyName, value: Option<&str>) -> bool {
    let Some(field) = field(name) else {
        return false;
    };
    let text = value.and_then(value_element).map(|e| e.text());
    match field {
        Field::DisplayName => calendar.display_name = text,
        Field::Description => calendar.description = text,
        Field::Color => calendar.color = text,
        Field::Timezone => calendar.timezone = text,
        Field::Components => {
            let wanted = value
                .and_then(value_element)
                .map(|e| components_of(&e))
                .unwrap_or_default();
            if !wanted.is_empty() {
                calendar.components = wanted;
            }
        }
    }
    true
}

impl CalDavBackend {
    /// Creates the calendar at `path` (`calendars/ME/SLUG`) with `properties`.
    pub(super) async fn make_calendar(
        &self,
        path: &DavPath,
        properties: Vec<(PropertyName, String)>,
    ) -> BackendResult<Resource> {
        let segments: Vec<&str> = path.segments().iter().map(String::as_str).collect();
        let ["calendars", home, slug] = segments.as_slice() else {
            return Err(BackendError::Forbidden);
        };
        if *home != self.me.handle || slug.contains(SHARED) || *slug == super::backend::OUTBOX {
            return Err(BackendError::Forbidden);
        }
        let mut resourcetype_ok = true;
        let mut dead = Vec::new();
        let mut calendar = CalendarInfo {
            id: uuid::Uuid::nil(),
            owner: self.me.handle.clone(),
            slug: (*slug).to_owned(),
            kind: crate::store::CollectionKind::Calendar,
            display_name: None,
            description: None,
            color: None,
            timezone: None,
            components: vec!["VEVENT".into(), "VTODO".into()],
            seq: 0,
            created: chrono::Utc::now(),
        };
        for (name, value) in &properties {
            if name.namespace == DAV && name.local == "resourcetype" {
                resourcetype_ok = value_element(value).is_some_and(|v| {
                    v.children()
                        .any(|c| c.name.namespace == CALDAV && c.name.local == "calendar")
                });
                continue;
            }
            if !apply(&mut calendar, name, Some(value)) {
                dead.push((name.clone(), value.clone()));
            }
        }
        if !resourcetype_ok {
            return Err(BackendError::Condition {
                status: 403,
                condition: "<D:valid-resourcetype/>".into(),
            });
        }
        let mut new = NewCalendar::named(calendar.display_name.as_deref().unwrap_or(slug));
        new.display_name = calendar.display_name.clone();
        new.description = calendar.description.clone();
        new.color = calendar.color.clone();
        new.timezone = calendar.timezone.clone();
        let components: Vec<&str> = calendar.components.iter().map(String::as_str).collect();
        let new = new.components(&components);
        let created = match self
            .calendars
            .create_calendar(&self.me.handle, slug, new)
            .await
        {
            Err(crate::Error::Conflict(_)) => return Err(BackendError::AlreadyExists),
            other => other.map_err(internal)?,
        };
        if !dead.is_empty() {
            self.calendars
                .patch_calendar_properties(&created, &dead, &[])
                .await
                .map_err(internal)?;
        }
        Ok(Resource {
            path: path.clone(),
            kind: guss_dav::backend::ResourceKind::Collection,
            etag: super::backend::calendar_etag(&created),
            length: 0,
            content_type: None,
            created: created.created,
            modified: created.created,
        })
    }

    /// MKCALENDAR: the body (optional) sets initial properties.
    pub(super) async fn mkcalendar(&self, path: &DavPath, body: &Bytes) -> BackendResult<Reply> {
        let mut properties = Vec::new();
        if !body.is_empty() {
            let text =
                std::str::from_utf8(body).map_err(|_| BackendError::Body("not UTF-8".into()))?;
            let root = parse_xml(text, guss_dav::Limits::default())
                .map_err(|e| BackendError::Body(e.to_string()))?;
            if !(root.name.namespace == CALDAV && root.name.local == "mkcalendar") {
                return Err(BackendError::Body("expected a mkcalendar element".into()));
            }
            for set in root.children().filter(|c| c.is_dav("set")) {
                for prop in set.children().filter(|c| c.is_dav("prop")) {
                    for child in prop.children() {
                        properties.push((child.name.clone(), child.inner_xml()));
                    }
                }
            }
        }
        // MKCALENDAR makes calendars: the resourcetype is implied.
        properties.retain(|(n, _)| !(n.namespace == DAV && n.local == "resourcetype"));
        self.make_calendar(path, properties).await?;
        Ok(Reply::new(201, "text/plain; charset=utf-8", Vec::new()))
    }

    /// PROPPATCH of a calendar: its fields go to the calendar, the rest
    /// are dead properties.
    pub(super) async fn patch_calendar(
        &self,
        calendar: &CalendarInfo,
        set: Vec<(PropertyName, String)>,
        remove: Vec<PropertyName>,
    ) -> BackendResult<()> {
        let mut updated = calendar.clone();
        let mut changed = false;
        let mut dead_set = Vec::new();
        let mut dead_remove = Vec::new();
        for (name, value) in set {
            if apply(&mut updated, &name, Some(&value)) {
                changed = true;
            } else {
                dead_set.push((name, value));
            }
        }
        for name in remove {
            if apply(&mut updated, &name, None) {
                changed = true;
            } else {
                dead_remove.push(name);
            }
        }
        if changed {
            self.calendars
                .update_calendar(&updated)
                .await
                .map_err(internal)?;
        }
        self.calendars
            .patch_calendar_properties(calendar, &dead_set, &dead_remove)
            .await
            .map_err(internal)
    }
}
