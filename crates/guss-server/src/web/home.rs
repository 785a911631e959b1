//! The start page: where a visit begins, and the signed-in home page with
//! today's appointments, recently changed files and, for admins, the
//! continuity findings.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Days, TimeZone as _, Utc};
use guss_calendar::calcard::icalendar::ICalendarProperty;
use guss_calendar::ical::{Limits, parse};
use guss_calendar::recurrence::{ExpandLimits, Kind, expand};
use guss_calendar::store::CalendarInfo;
use guss_dav::DavPath;
use guss_identity::Finding;
use guss_storage::model::EntryKind;

use super::i18n::Text;
use super::{Layout, Visit, WebError, render, see_other};
use crate::access::{OFFICE_HANDLE, handle_of};
use crate::bundle::Bundle;
use crate::office::{OFFICE_ZONE, SetupStep};

/// Most appointments and files the home page lists.
const LISTED: usize = 10;

/// `/`: the wizard on a fresh local trial, sign-in, the wizard while setup
/// is unfinished, or home.
pub(super) async fn start(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
) -> Result<Response, WebError> {
    let Some(tenant) = visit.tenant else {
        if bundle.config.is_local_trial() && !bundle.offices.any().await? {
            return Ok(see_other("/setup"));
        }
        return Err(WebError::NoOffice);
    };
    if visit.session.is_none() {
        return Ok(see_other("/sign-in"));
    }
    let settings = bundle.settings(tenant).await?;
    if settings.step < SetupStep::Done {
        return Ok(see_other("/welcome"));
    }
    Ok(see_other("/home"))
}

struct Appointment {
    time: String,
    title: String,
    calendar: String,
}

struct RecentFile {
    name: String,
    folder: String,
    when: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    l: Layout,
    name: String,
    setup_open: bool,
    appointments: Vec<Appointment>,
    files: Vec<RecentFile>,
    findings: Option<Vec<String>>,
}

/// The home page.
pub(super) async fn home(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
) -> Result<Response, WebError> {
    let tenant = visit.tenant()?;
    let session = visit.signed_in()?;
    let t = visit.text();
    let me = visit.me(&bundle).await?;
    let handle = handle_of(&me).unwrap_or_default();
    let l = visit.layout(&bundle, t.home_title).await;
    let findings = if me.is_admin() {
        let found = bundle.identity.continuity(tenant).await?;
        // Names only for findings about someone.
        let people = if found
            .iter()
            .any(|f| matches!(f, Finding::SinglePasskey { .. }))
        {
            bundle.identity.people(session).await?
        } else {
            Vec::new()
        };
        Some(found.iter().map(|f| finding_text(t, f, &people)).collect())
    } else {
        None
    };
    render(&HomePage {
        name: me.display_name,
        setup_open: l.nav.as_ref().is_some_and(|n| n.setup_open),
        appointments: today(&bundle, tenant, &handle, t).await?,
        files: recent_files(&bundle, tenant, &handle).await?,
        findings,
        l,
    })
}

pub(super) fn finding_text(
    t: &Text,
    finding: &Finding,
    people: &[guss_identity::Person],
) -> String {
    match finding {
        Finding::TooFewAdmins { .. } => t.finding_too_few_admins.to_owned(),
        Finding::SinglePasskey { person, .. } => {
            let name = people
                .iter()
                .find(|p| p.id == *person)
                .map(|p| p.display_name.as_str())
                .unwrap_or("?");
            format!("{name} {}", t.finding_single_passkey)
        }
        Finding::NoTrustees => t.finding_no_trustees.to_owned(),
        _ => t.findings_title.to_owned(),
    }
}

/// Today's appointments in the person's own, shared and office calendars.
async fn today(
    bundle: &Bundle,
    tenant: guss_core::TenantId,
    handle: &str,
    t: &Text,
) -> Result<Vec<Appointment>, WebError> {
    let now = bundle.clock.now().with_timezone(&OFFICE_ZONE);
    let midnight = |date: chrono::NaiveDate| -> Option<DateTime<Utc>> {
        OFFICE_ZONE
            .from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
            .earliest()
            .map(|d| d.with_timezone(&Utc))
    };
    let (Some(start), Some(end)) = (
        midnight(now.date_naive()),
        now.date_naive()
            .checked_add_days(Days::new(1))
            .and_then(midnight),
    ) else {
        return Ok(Vec::new());
    };
    let window = start..end;
    let calendars = bundle.calendars.tenant(tenant);
    let backend = |e: guss_calendar::Error| WebError::Backend(e.into());
    let mut sources: Vec<CalendarInfo> = calendars.calendars(handle).await.map_err(backend)?;
    sources.extend(
        calendars
            .shared_with(handle)
            .await
            .map_err(backend)?
            .into_iter()
            .map(|(c, _)| c),
    );
    if !sources.iter().any(|c| c.owner == OFFICE_HANDLE) {
        sources.extend(calendars.calendars(OFFICE_HANDLE).await.map_err(backend)?);
    }
    let mut found = Vec::new();
    for calendar in &sources {
        let name = calendar
            .display_name
            .clone()
            .unwrap_or_else(|| calendar.slug.clone());
        for object in calendars
            .objects_in_range(calendar, &window)
            .await
            .map_err(backend)?
        {
            let Ok(parsed) = parse(&object.ics, &Limits::default()) else {
                continue;
            };
            let expansion = expand(&parsed.calendar, &window, &ExpandLimits::default());
            for instance in expansion.instances {
                if instance.kind != Kind::Event || instance.cancelled {
                    continue;
                }
                let title = parsed
                    .calendar
                    .components
                    .get(instance.component)
                    .and_then(|c| {
                        c.entries
                            .iter()
                            .find(|e| e.name == ICalendarProperty::Summary)
                    })
                    .and_then(|e| e.values.first())
                    .and_then(|v| v.as_text())
                    .unwrap_or("–")
                    .to_owned();
                let time = if instance.all_day {
                    t.all_day.to_owned()
                } else {
                    instance
                        .start
                        .with_timezone(&OFFICE_ZONE)
                        .format("%H:%M")
                        .to_string()
                };
                found.push((
                    instance.start,
                    Appointment {
                        time,
                        title,
                        calendar: name.clone(),
                    },
                ));
            }
        }
    }
    found.sort_by_key(|(start, _)| *start);
    Ok(found.into_iter().take(LISTED).map(|(_, a)| a).collect())
}

/// The newest files in the person's folder and the office's folders.
async fn recent_files(
    bundle: &Bundle,
    tenant: guss_core::TenantId,
    handle: &str,
) -> Result<Vec<RecentFile>, WebError> {
    let files = bundle.files.tenant(tenant);
    let backend = |e: guss_storage::Error| WebError::Backend(e.into());
    let mut folders = Vec::new();
    if !handle.is_empty()
        && let Ok(home) = DavPath::from_segments(["people", handle])
    {
        folders.push(home);
    }
    if let Ok(office) = DavPath::from_segments(["office"])
        && files.stat(&office).await.map_err(backend)?.is_some()
    {
        for entry in files.list(&office).await.map_err(backend)? {
            if entry.kind == EntryKind::Folder {
                folders.push(entry.path);
            }
        }
    }
    let mut found = Vec::new();
    for folder in folders {
        if files.stat(&folder).await.map_err(backend)?.is_none() {
            continue;
        }
        for entry in files.list(&folder).await.map_err(backend)? {
            if entry.kind == EntryKind::File {
                found.push((folder.to_string(), entry));
            }
        }
    }
    found.sort_by_key(|(_, entry)| std::cmp::Reverse(entry.modified));
    Ok(found
        .into_iter()
        .take(LISTED)
        .map(|(folder, entry)| RecentFile {
            name: entry.path.name().unwrap_or_default().to_owned(),
            folder,
            when: entry
                .modified
                .with_timezone(&OFFICE_ZONE)
                .format("%d.%m.%Y %H:%M")
                .to_string(),
        })
        .collect())
}
