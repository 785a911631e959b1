//! The calendar pages: the week and the day of everything a person sees
//! (their own calendars, the office's shared ones, calendars shared with
//! them), the addresses calendar apps subscribe to, and the office's rooms
//! and cars with their next bookings (admins add and remove them).
//!
//! Events are read from guss-calendar's store and expanded in the office's
//! time zone; writes go through guss-calendar's CalDAV layer
//! ([`CalDavBackend`]) so that the pages check access and schedule
//! (invitations, room bookings) exactly as a calendar app's PUT would.

use std::ops::Range;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, Datelike as _, Days, NaiveDate, TimeDelta, Utc};
use guss_calendar::caldav::{CalDav, CalDavBackend, CalendarUser};
use guss_calendar::recurrence::{ExpandLimits, Instance, expand};
use guss_calendar::store::{CalendarInfo, CollectionKind, TenantCalendars};
use guss_calendar::timezone::Zone;
use guss_core::TenantId;
use serde::Deserialize;

use super::calendar_text::{CalendarText, Done};
use super::{Layout, Visit, WebError, admin_form, administers, render, see_other};
use crate::access::bookable_user;
use crate::bundle::Bundle;
use crate::office::{BookableKind, MAX_BOOKABLES, OFFICE_ZONE};

/// The signed-in person as a calendar user: what they see and may write.
pub(super) struct Planner {
    pub(super) bundle: Arc<Bundle>,
    pub(super) tenant: TenantId,
    pub(super) calendars: TenantCalendars,
    /// Reads and writes as CalDAV would for this person.
    pub(super) acting: CalDavBackend,
}

/// A calendar the person sees.
#[derive(Clone)]
pub(super) struct Seen {
    pub(super) info: CalendarInfo,
    pub(super) writable: bool,
}

impl Seen {
    /// `OWNER/SLUG`, the calendar's name in the pages' addresses.
    pub(super) fn key(&self) -> String {
        format!("{}/{}", self.info.owner, self.info.slug)
    }

    pub(super) fn name(&self) -> String {
        self.info
            .display_name
            .clone()
            .unwrap_or_else(|| self.info.slug.clone())
    }
}

impl Planner {
    /// The planner of a signed-in visit.
    pub(super) async fn of(bundle: &Arc<Bundle>, visit: &Visit) -> Result<Planner, WebError> {
        let session = visit.signed_in()?;
        let caldav = CalDav::new(
            bundle.calendars.clone(),
            bundle.calendar_users.clone(),
            bundle.identity.clone(),
            bundle.authorizer.clone(),
            Arc::new(|_: &axum::http::request::Parts| None),
        );
        let acting = caldav
            .acting_as(session.tenant, session.principal())
            .await
            .ok_or(WebError::Forbidden)?;
        Ok(Planner {
            bundle: bundle.clone(),
            tenant: session.tenant,
            calendars: bundle.calendars.tenant(session.tenant),
            acting,
        })
    }

    /// The planner of a signed-in form: from this origin, with the
    /// session's token.
    pub(super) async fn form(
        bundle: &Arc<Bundle>,
        visit: &Visit,
        csrf: &str,
    ) -> Result<Planner, WebError> {
        visit.check_form(bundle, csrf)?;
        Planner::of(bundle, visit).await
    }

    pub(super) fn me(&self) -> &CalendarUser {
        self.acting.user()
    }

    /// The person's own calendars first, then those shared with them.
    pub(super) async fn seen(&self) -> Result<Vec<Seen>, WebError> {
        let handle = &self.me().handle;
        let mut out: Vec<Seen> = self
            .calendars
            .calendars(handle)
            .await
            .map_err(failed)?
            .into_iter()
            .filter(|c| c.kind == CollectionKind::Calendar)
            .map(|info| Seen {
                info,
                writable: true,
            })
            .collect();
        out.extend(
            self.calendars
                .shared_with(handle)
                .await
                .map_err(failed)?
                .into_iter()
                .filter(|(c, _)| c.kind == CollectionKind::Calendar)
                .map(|(info, writable)| Seen { info, writable }),
        );
        Ok(out)
    }

    /// The calendar `key` (`OWNER/SLUG`), if the person sees it.
    pub(super) async fn find(&self, key: &str) -> Result<Seen, WebError> {
        self.seen()
            .await?
            .into_iter()
            .find(|s| s.key() == key)
            .ok_or(WebError::NotFound)
    }
}

/// A calendar store error as a page error.
pub(super) fn failed(e: guss_calendar::Error) -> WebError {
    use guss_calendar::Error as E;
    match e {
        E::NotFound(_) => WebError::NotFound,
        E::Forbidden => WebError::Forbidden,
        other => WebError::Backend(other.into()),
    }
}

/// How the pages expand: floating and all-day times in the office's zone.
pub(super) fn expand_limits() -> ExpandLimits {
    let mut limits = ExpandLimits::default();
    limits.floating = Zone::Named(OFFICE_ZONE);
    limits
}

/// The instant a day starts in the office.
pub(super) fn day_start(day: NaiveDate) -> DateTime<Utc> {
    guss_calendar::edit::instant(OFFICE_ZONE, day.and_time(Default::default()))
        .unwrap_or_else(|_| day.and_time(Default::default()).and_utc())
}

/// An occurrence in a page.
pub(super) struct Occurrence {
    pub(super) calendar: Seen,
    pub(super) object: String,
    pub(super) summary: String,
    pub(super) instance: Instance,
}

impl Occurrence {
    /// The address of its page.
    pub(super) fn href(&self) -> String {
        event_href(
            &self.calendar.key(),
            &self.object,
            self.instance.recurrence_id,
            None,
        )
    }
}

/// The address of an event's page (of one occurrence, for a series).
pub(super) fn event_href(
    calendar: &str,
    object: &str,
    at: Option<DateTime<Utc>>,
    done: Option<Done>,
) -> String {
    let mut href = format!(
        "/calendar/event?cal={}&name={}",
        super::files::encode(calendar),
        super::files::encode(object)
    );
    if let Some(at) = at {
        href.push_str(&format!("&at={}", at.timestamp()));
    }
    if let Some(done) = done {
        href.push_str(&format!("&done={}", done.key()));
    }
    href
}

/// Every occurrence in `window` of the calendars `seen`, by start.
pub(super) async fn occurrences(
    planner: &Planner,
    seen: &[Seen],
    window: &Range<DateTime<Utc>>,
) -> Result<Vec<Occurrence>, WebError> {
    let limits = expand_limits();
    let mut out = Vec::new();
    for calendar in seen {
        let objects = planner
            .calendars
            .objects_in_range(&calendar.info, window)
            .await
            .map_err(failed)?;
        for object in &objects {
            let Ok(parsed) = guss_calendar::ical::parse(&object.ics, &Default::default()) else {
                continue;
            };
            for instance in expand(&parsed.calendar, window, &limits).instances {
                if instance.cancelled {
                    continue;
                }
                let summary = parsed
                    .calendar
                    .components
                    .get(instance.component)
                    .map(|c| {
                        guss_calendar::edit::text_of(
                            c,
                            guss_calendar::calcard::icalendar::ICalendarProperty::Summary,
                        )
                    })
                    .unwrap_or_default();
                out.push(Occurrence {
                    calendar: calendar.clone(),
                    object: object.name.clone(),
                    summary,
                    instance,
                });
            }
        }
    }
    out.sort_by(|a, b| {
        a.instance
            .start
            .cmp(&b.instance.start)
            .then(a.summary.cmp(&b.summary))
    });
    Ok(out)
}

/// A time range as a page shows it: `09:00–10:00`, `all day`, or with
/// dates when it crosses days.
pub(super) fn span_text(
    t: &CalendarText,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    all_day: bool,
) -> String {
    let (from, to) = (
        start.with_timezone(&OFFICE_ZONE),
        end.with_timezone(&OFFICE_ZONE),
    );
    if all_day {
        let last = (to - TimeDelta::seconds(1)).date_naive();
        if last <= from.date_naive() {
            return t.all_day.to_owned();
        }
        return format!(
            "{} – {}",
            from.format(t.date_format),
            last.format(t.date_format)
        );
    }
    if from.date_naive() == to.date_naive() {
        format!("{}–{}", from.format("%H:%M"), to.format("%H:%M"))
    } else {
        format!(
            "{} {} – {} {}",
            from.format(t.date_format),
            from.format("%H:%M"),
            to.format(t.date_format),
            to.format("%H:%M")
        )
    }
}

/// A day's heading: `Mo 30.11.2026`.
pub(super) fn day_name(t: &CalendarText, day: NaiveDate) -> String {
    format!(
        "{} {}",
        t.weekdays
            .get(day.weekday().num_days_from_monday() as usize)
            .copied()
            .unwrap_or_default(),
        day.format(t.date_format)
    )
}

/// A date (`YYYY-MM-DD`) from a form or an address, within the years the
/// pages accept.
pub(super) fn parse_day(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| guss_calendar::edit::YEARS.contains(&d.year()))
}

/// Today in the office.
pub(super) fn today(bundle: &Bundle) -> NaiveDate {
    bundle.clock.now().with_timezone(&OFFICE_ZONE).date_naive()
}

struct DayView {
    heading: String,
    iso: String,
    today: bool,
    events: Vec<EventView>,
}

struct EventView {
    time: String,
    summary: String,
    calendar: String,
    href: String,
    series: bool,
}

struct SubscribeView {
    name: String,
    url: String,
    writable: bool,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    l: Layout,
    c: &'static CalendarText,
    week: bool,
    date: String,
    period: String,
    previous: String,
    next: String,
    today: String,
    days: Vec<DayView>,
    subscribe: Vec<SubscribeView>,
    done: Option<&'static str>,
}

/// The calendar page's query.
#[derive(Deserialize, Default)]
pub(super) struct ViewQuery {
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    view: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

/// The HTML of the week (or day) of `date`, as `lang` says it: what the
/// page shows and the benchmark measures.
pub(super) async fn view(
    bundle: &Arc<Bundle>,
    visit: &Visit,
    query: ViewQuery,
) -> Result<Response, WebError> {
    let planner = Planner::of(bundle, visit).await?;
    let c = visit.text().calendar;
    let today = today(bundle);
    let date = query.date.as_deref().and_then(parse_day).unwrap_or(today);
    let week = query.view.as_deref() != Some("day");
    let (first, count) = if week {
        (
            date - Days::new(u64::from(date.weekday().num_days_from_monday())),
            7,
        )
    } else {
        (date, 1)
    };
    let last = first + Days::new(count);
    let window = day_start(first)..day_start(last);
    let seen = planner.seen().await?;
    let found = occurrences(&planner, &seen, &window).await?;
    let days = (0..count)
        .map(|offset| {
            let day = first + Days::new(offset);
            let (from, to) = (day_start(day), day_start(day + Days::new(1)));
            let events = found
                .iter()
                .filter(|o| {
                    o.instance.start < to && (o.instance.end > from || o.instance.start >= from)
                })
                .map(|o| EventView {
                    time: span_text(c, o.instance.start, o.instance.end, o.instance.all_day),
                    summary: o.summary.clone(),
                    calendar: o.calendar.name(),
                    href: o.href(),
                    series: o.instance.recurrence_id.is_some(),
                })
                .collect();
            DayView {
                heading: day_name(c, day),
                iso: day.to_string(),
                today: day == today,
                events,
            }
        })
        .collect();
    let step = Days::new(count);
    let view = if week { "week" } else { "day" };
    let subscribe = seen
        .iter()
        .map(|s| SubscribeView {
            name: s.name(),
            url: format!(
                "{}/dav/calendars/{}/{}/",
                visit.origin,
                planner.me().handle,
                if s.info.owner == planner.me().handle {
                    s.info.slug.clone()
                } else {
                    format!("{}~{}", s.info.owner, s.info.slug)
                }
            ),
            writable: s.writable,
        })
        .collect();
    let period = if week {
        format!("{} {}", c.week_label, first.format(c.date_format))
    } else {
        day_name(c, first)
    };
    render(&CalendarPage {
        l: visit.layout(bundle, c.title).await,
        c,
        week,
        date: date.to_string(),
        period,
        previous: format!("/calendar?view={view}&date={}", date - step),
        next: format!("/calendar?view={view}&date={}", date + step),
        today: format!("/calendar?view={view}&date={today}"),
        days,
        subscribe,
        done: Done::said(query.done.as_deref(), c),
    })
}

/// `GET /calendar`: the week (or, with `view=day`, the day) of `date`.
pub(super) async fn page(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Query(query): Query<ViewQuery>,
) -> Result<Response, WebError> {
    view(&bundle, &visit, query).await
}

struct BookableView {
    handle: String,
    name: String,
    kind: &'static str,
    address: String,
    bookings: Vec<String>,
}

#[derive(Template)]
#[template(path = "calendar_bookables.html")]
struct BookablesPage {
    l: Layout,
    c: &'static CalendarText,
    admin: bool,
    step_up: &'static str,
    bookables: Vec<BookableView>,
    done: Option<&'static str>,
}

/// `GET /calendar/bookables`: the rooms and cars, with their next
/// bookings (times only); admins add and remove them.
pub(super) async fn bookables(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Query(query): Query<super::DoneQuery>,
) -> Result<Response, WebError> {
    let planner = Planner::of(&bundle, &visit).await?;
    let session = visit.signed_in()?;
    let c = visit.text().calendar;
    let settings = bundle.settings(planner.tenant).await?;
    let rp_id = organisation_host(&bundle, planner.tenant).await?;
    let now = bundle.clock.now();
    let window = now..now + TimeDelta::days(7);
    let mut shown = Vec::new();
    for bookable in &settings.bookables {
        let busy = planner
            .calendars
            .busy_of(&bookable.handle, &window)
            .await
            .map_err(failed)?;
        shown.push(BookableView {
            handle: bookable.handle.clone(),
            name: bookable.name.clone(),
            kind: match bookable.kind {
                BookableKind::Room => c.kind_room,
                BookableKind::Car => c.kind_car,
            },
            address: bookable_user(bookable, &rp_id).address,
            bookings: busy
                .iter()
                .map(|b| {
                    format!(
                        "{} {}",
                        day_name(c, b.start.with_timezone(&OFFICE_ZONE).date_naive()),
                        span_text(c, b.start, b.end, false)
                    )
                })
                .collect(),
        });
    }
    render(&BookablesPage {
        l: visit.layout(&bundle, c.bookables_title).await,
        c,
        admin: administers(&bundle, &session.principal()).await,
        step_up: visit.step_up_state(&bundle),
        bookables: shown,
        done: Done::said(query.done.as_deref(), c),
    })
}

/// The organisation's host: the domain of its calendar addresses.
pub(super) async fn organisation_host(
    bundle: &Bundle,
    tenant: TenantId,
) -> Result<String, WebError> {
    Ok(super::organisation(bundle, tenant).await?.relying_party.id)
}

/// The form adding a room or car.
#[derive(Deserialize)]
pub(super) struct BookableForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
}

/// `POST /calendar/bookables/add` (admins, after a step-up).
pub(super) async fn add_bookable(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<BookableForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&bundle, &visit, &form.csrf).await?;
    let c = visit.text().calendar;
    let name = form.name.trim();
    let kind = match form.kind.as_str() {
        "car" => BookableKind::Car,
        _ => BookableKind::Room,
    };
    let mut settings = bundle.settings(session.tenant).await?;
    if name.is_empty()
        || name.chars().count() > 100
        || name.chars().any(char::is_control)
        || settings.bookables.len() >= MAX_BOOKABLES
    {
        return Err(WebError::Invalid(c.error_bookable_name.to_owned()));
    }
    let handle = settings.new_handle(name, kind);
    settings.bookables.push(crate::office::Bookable {
        handle,
        name: name.to_owned(),
        kind,
    });
    bundle.offices.save(session.tenant, &settings).await?;
    Ok(see_other(&format!(
        "/calendar/bookables?done={}",
        Done::BookableAdded.key()
    )))
}

/// The form removing a room or car.
#[derive(Deserialize)]
pub(super) struct HandleForm {
    #[serde(default)]
    csrf: String,
    handle: String,
}

/// `POST /calendar/bookables/remove` (admins, after a step-up): it can no
/// longer be booked; its calendar and past bookings stay.
pub(super) async fn remove_bookable(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<HandleForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&bundle, &visit, &form.csrf).await?;
    let mut settings = bundle.settings(session.tenant).await?;
    let before = settings.bookables.len();
    settings.bookables.retain(|b| b.handle != form.handle);
    if settings.bookables.len() == before {
        return Err(WebError::NotFound);
    }
    bundle.offices.save(session.tenant, &settings).await?;
    Ok(see_other(&format!(
        "/calendar/bookables?done={}",
        Done::BookableRemoved.key()
    )))
}
