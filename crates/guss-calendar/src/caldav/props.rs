//! The live properties CalDAV adds (RFC 4791 §5.2, §6; RFC 6638 §2, §9;
//! RFC 5397 current-user-principal; RFC 3744 privileges), by what a path
//! names.

use guss_dav::backend::{BackendResult, Resource};
use guss_dav::escape_text;
use guss_dav::{DAV, DavPath, PropertyName};

use super::backend::{CalDavBackend, DEFAULT_CALENDAR, OUTBOX, calendar_etag};
use super::paths::{Access, Node};
use super::{APPLE_ICAL, CALDAV, CALENDARSERVER, CalendarUser, MOUNT};
use crate::itip::UserKind;
use crate::store::CollectionKind;

fn href(path: &str) -> String {
    format!("<D:href>{}</D:href>", escape_text(path))
}

fn dav(local: &str, value: String) -> (PropertyName, String) {
    (PropertyName::new(DAV, local), value)
}

fn cal(local: &str, value: String) -> (PropertyName, String) {
    (PropertyName::new(CALDAV, local), value)
}

fn c(element: &str) -> String {
    format!("<C:{element} xmlns:C=\"{CALDAV}\"/>")
}

fn home_of(handle: &str) -> String {
    guss_dav::backend::Mount::new(MOUNT).href(
        &DavPath::from_segments(["calendars", handle]).unwrap_or_default(),
        true,
    )
}

fn principal_of(handle: &str) -> String {
    guss_dav::backend::Mount::new(MOUNT).href(
        &DavPath::from_segments(["principals", handle]).unwrap_or_default(),
        true,
    )
}

fn privileges(access: Access) -> String {
    let names: &[&str] = match access {
        Access::Read => &["read", "read-current-user-privilege-set"],
        Access::Owner | Access::Write => &[
            "read",
            "read-current-user-privilege-set",
            "write",
            "write-content",
            "write-properties",
            "bind",
            "unbind",
        ],
    };
    let mut out: String = names
        .iter()
        .map(|n| format!("<D:privilege><D:{n}/></D:privilege>"))
        .collect();
    out.push_str(&format!(
        "<D:privilege>{}</D:privilege>",
        c("read-free-busy")
    ));
    out
}

const REPORTS: &[(&str, &str)] = &[
    (CALDAV, "calendar-query"),
    (CALDAV, "calendar-multiget"),
    (CALDAV, "free-busy-query"),
    (DAV, "sync-collection"),
];

fn supported_reports() -> String {
    REPORTS
        .iter()
        .map(|(ns, local)| {
            let element = if *ns == DAV {
                format!("<D:{local}/>")
            } else {
                c(local)
            };
            format!("<D:supported-report><D:report>{element}</D:report></D:supported-report>")
        })
        .collect()
}

fn principal_props(user: &CalendarUser) -> Vec<(PropertyName, String)> {
    let home = home_of(&user.handle);
    let cutype = match user.kind {
        UserKind::Individual => "INDIVIDUAL",
        UserKind::Group => "GROUP",
        UserKind::Resource => "RESOURCE",
        UserKind::Room => "ROOM",
    };
    vec![
        dav("resourcetype", "<D:collection/><D:principal/>".into()),
        dav("displayname", escape_text(&user.display_name)),
        dav("principal-URL", href(&principal_of(&user.handle))),
        cal("calendar-home-set", href(&home)),
        cal(
            "calendar-user-address-set",
            format!(
                "{}{}",
                href(&format!("mailto:{}", user.address)),
                href(&principal_of(&user.handle))
            ),
        ),
        cal("schedule-inbox-URL", href(&format!("{home}inbox/"))),
        cal("schedule-outbox-URL", href(&format!("{home}{OUTBOX}/"))),
        cal("calendar-user-type", cutype.into()),
    ]
}

impl CalDavBackend {
    /// The CalDAV properties of `resource`.
    pub(super) async fn properties_of(
        &self,
        resource: &Resource,
    ) -> BackendResult<Vec<(PropertyName, String)>> {
        let mut out = vec![
            dav(
                "current-user-principal",
                href(&principal_of(&self.me.handle)),
            ),
            dav(
                "principal-collection-set",
                href(&format!("{MOUNT}principals/")),
            ),
        ];
        let path = &resource.path;
        if path.segments().len() == 3 && path.name() == Some(OUTBOX) {
            out.push(dav(
                "resourcetype",
                format!("<D:collection/>{}", c("schedule-outbox")),
            ));
            return Ok(out);
        }
        match self.node(path).await? {
            Some(Node::Principal(user)) => out.extend(principal_props(&user)),
            Some(Node::Home(user)) => {
                out.push(dav("owner", href(&principal_of(&user.handle))));
            }
            Some(Node::Collection(reached)) => {
                let calendar = &reached.calendar;
                let kind = match calendar.kind {
                    CollectionKind::Inbox => c("schedule-inbox"),
                    CollectionKind::Calendar | CollectionKind::Bookable => c("calendar"),
                };
                out.push(dav("resourcetype", format!("<D:collection/>{kind}")));
                out.push(dav("owner", href(&principal_of(&calendar.owner))));
                out.push(dav(
                    "current-user-privilege-set",
                    privileges(reached.access),
                ));
                out.push(dav("supported-report-set", supported_reports()));
                let components: String = calendar
                    .components
                    .iter()
                    .map(|k| format!("<C:comp xmlns:C=\"{CALDAV}\" name=\"{}\"/>", escape_text(k)))
                    .collect();
                out.push(cal("supported-calendar-component-set", components));
                out.push(cal(
                    "supported-calendar-data",
                    format!("<C:calendar-data xmlns:C=\"{CALDAV}\" content-type=\"text/calendar\" version=\"2.0\"/>"),
                ));
                out.push(cal(
                    "max-resource-size",
                    self.calendars.limits().object.max_bytes.to_string(),
                ));
                out.push((
                    PropertyName::new(CALENDARSERVER, "getctag"),
                    escape_text(&calendar_etag(calendar)),
                ));
                if calendar.slug == DEFAULT_CALENDAR && calendar.owner == self.me.handle {
                    out.push(cal(
                        "schedule-default-calendar-URL",
                        href(&format!("{}{DEFAULT_CALENDAR}/", home_of(&self.me.handle))),
                    ));
                }
                if let Some(name) = &calendar.display_name {
                    out.push(dav("displayname", escape_text(name)));
                }
                if let Some(description) = &calendar.description {
                    out.push(cal("calendar-description", escape_text(description)));
                }
                if let Some(color) = &calendar.color {
                    out.push((
                        PropertyName::new(APPLE_ICAL, "calendar-color"),
                        escape_text(color),
                    ));
                }
                if let Some(timezone) = &calendar.timezone {
                    out.push(cal("calendar-timezone", escape_text(timezone)));
                }
            }
            _ => {}
        }
        Ok(out)
    }
}
