//! One event: its page (with the occurrence a series' link names), the
//! form that creates or changes it (with colleagues' free/busy and rooms
//! and cars to book), moving or cancelling one occurrence, and deleting.
//!
//! Every write checks the entity tag the form was made from, so a change
//! made elsewhere in the meantime is never overwritten; rooms and cars are
//! checked before the write and say clearly when they are taken, and the
//! store's booking rule (never two bookings at once) holds even when two
//! people book at the same moment.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use chrono::{DateTime, Days, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use guss_calendar::booking::Interval;
use guss_calendar::calcard::icalendar::ICalendar;
use guss_calendar::edit::{self, Draft, Frequency, Participant, Problem, Repeat};
use guss_calendar::itip::{self, UserKind};
use guss_calendar::recurrence::expand;
use guss_calendar::store::{Precondition, StoredObject};
use serde::Deserialize;

use super::calendar::{
    Planner, Seen, day_name, day_start, event_href, expand_limits, failed, organisation_host,
    parse_day, span_text, today,
};
use super::calendar_text::{CalendarText, Done};
use super::{Layout, Visit, WebError, render, see_other};
use crate::access::{bookable_user, handle_of};
use crate::bundle::Bundle;
use crate::office::OFFICE_ZONE;

/// How far ahead a series is checked against a room's or car's bookings.
const BOOKING_CHECK: TimeDelta = TimeDelta::days(366);

/// The event form, from a form body or a query (colleagues repeat `people`).
#[derive(Clone, Debug, Default)]
pub(super) struct EventForm {
    csrf: String,
    cal: String,
    name: String,
    etag: String,
    title: String,
    start_date: String,
    start_time: String,
    end_date: String,
    end_time: String,
    all_day: bool,
    repeat: String,
    until: String,
    location: String,
    notes: String,
    people: Vec<String>,
    bookable: String,
    check: bool,
}

impl EventForm {
    fn parse(body: &[u8]) -> EventForm {
        let mut form = EventForm::default();
        for (key, value) in url::form_urlencoded::parse(body) {
            let value = value.into_owned();
            match key.as_ref() {
                "csrf" => form.csrf = value,
                "cal" => form.cal = value,
                "name" => form.name = value,
                "etag" => form.etag = value,
                "title" => form.title = value,
                "start_date" => form.start_date = value,
                "start_time" => form.start_time = value,
                "end_date" => form.end_date = value,
                "end_time" => form.end_time = value,
                "all_day" => form.all_day = !value.is_empty(),
                "repeat" => form.repeat = value,
                "until" => form.until = value,
                "location" => form.location = value,
                "notes" => form.notes = value,
                "people" if form.people.len() <= edit::MAX_ATTENDEES => form.people.push(value),
                "bookable" => form.bookable = value,
                "check" => form.check = true,
                _ => {}
            }
        }
        form
    }

    /// The form of a stored event.
    fn of(
        calendar: &str,
        object: &StoredObject,
        draft: &Draft,
        bookables: &[(String, Participant)],
    ) -> Self {
        let (people, bookable): (Vec<_>, Vec<_>) = draft
            .attendees
            .iter()
            .partition(|a| matches!(a.kind, UserKind::Individual | UserKind::Group));
        EventForm {
            cal: calendar.to_owned(),
            name: object.name.clone(),
            etag: object.etag.clone(),
            title: draft.summary.clone(),
            start_date: draft.start.date().to_string(),
            start_time: draft.start.format("%H:%M").to_string(),
            end_date: draft.end.date().to_string(),
            end_time: draft.end.format("%H:%M").to_string(),
            all_day: draft.all_day,
            repeat: draft
                .repeat
                .map(|r| frequency_key(r.frequency))
                .unwrap_or("none")
                .to_owned(),
            until: draft
                .repeat
                .and_then(|r| r.until)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            location: draft.location.clone(),
            notes: draft.description.clone(),
            people: people.iter().map(|p| p.address.clone()).collect(),
            bookable: bookables
                .iter()
                .find(|(_, known)| bookable.iter().any(|b| b.address == known.address))
                .map(|(handle, _)| handle.clone())
                .unwrap_or_default(),
            ..EventForm::default()
        }
    }

    fn start(&self) -> Option<NaiveDateTime> {
        let date = parse_day(&self.start_date)?;
        Some(date.and_time(self.time(&self.start_time)?))
    }

    fn end(&self) -> Option<NaiveDateTime> {
        let date = if self.end_date.is_empty() {
            parse_day(&self.start_date)?
        } else {
            parse_day(&self.end_date)?
        };
        Some(date.and_time(self.time(&self.end_time)?))
    }

    fn time(&self, text: &str) -> Option<NaiveTime> {
        if self.all_day {
            return Some(NaiveTime::MIN);
        }
        NaiveTime::parse_from_str(text, "%H:%M").ok()
    }
}

/// The form's names of the frequencies (`none`: no series).
const FREQUENCIES: [(&str, Frequency); 5] = [
    ("daily", Frequency::Daily),
    ("weekly", Frequency::Weekly),
    ("monthly", Frequency::Monthly),
    ("yearly", Frequency::Yearly),
    ("custom", Frequency::Custom),
];

fn frequency_key(frequency: Frequency) -> &'static str {
    FREQUENCIES
        .iter()
        .find(|(_, f)| *f == frequency)
        .map_or("none", |(key, _)| key)
}

fn frequency_of(key: &str) -> Option<Frequency> {
    FREQUENCIES.iter().find(|(k, _)| *k == key).map(|(_, f)| *f)
}

/// A frequency in the page's words.
fn frequency_name(c: &CalendarText, frequency: Frequency) -> &'static str {
    match frequency {
        Frequency::Daily => c.repeat_daily,
        Frequency::Weekly => c.repeat_weekly,
        Frequency::Monthly => c.repeat_monthly,
        Frequency::Yearly => c.repeat_yearly,
        _ => c.repeat_custom,
    }
}

/// The sentence for a draft's problem.
fn problem_text(c: &CalendarText, problem: Problem) -> &'static str {
    match problem {
        Problem::Skipped => c.error_gap,
        Problem::Times => c.error_times,
        Problem::Until => c.error_until,
        Problem::OutOfRange => c.error_years,
        _ => c.error_invalid,
    }
}

/// The colleagues one can invite (active, with an address), and rooms and
/// cars, as calendar participants.
struct Directory {
    people: Vec<Participant>,
    bookables: Vec<(String, Participant)>,
}

impl Directory {
    async fn of(planner: &Planner, visit: &Visit) -> Result<Directory, WebError> {
        let session = visit.signed_in()?;
        let me = &planner.me().handle;
        let people = planner
            .bundle
            .identity
            .people(session)
            .await?
            .iter()
            .filter(|p| p.status == guss_core::PersonStatus::Active)
            .filter_map(|p| {
                let address = handle_of(p)?;
                (address != *me).then(|| Participant {
                    address,
                    name: p.display_name.clone(),
                    kind: UserKind::Individual,
                })
            })
            .collect();
        let host = organisation_host(&planner.bundle, planner.tenant).await?;
        let bookables = planner
            .bundle
            .settings(planner.tenant)
            .await?
            .bookables
            .iter()
            .map(|b| {
                let user = bookable_user(b, &host);
                (
                    b.handle.clone(),
                    Participant {
                        address: user.address,
                        name: user.display_name,
                        kind: user.kind,
                    },
                )
            })
            .collect();
        Ok(Directory { people, bookables })
    }

    /// The draft a form describes, or the sentence that says what to fix.
    fn draft(
        &self,
        planner: &Planner,
        c: &CalendarText,
        form: &EventForm,
    ) -> Result<Draft, String> {
        let outside = [&form.start_date, &form.end_date, &form.until]
            .into_iter()
            .filter_map(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .any(|d| !edit::YEARS.contains(&chrono::Datelike::year(&d)));
        if outside {
            return Err(c.error_years.to_owned());
        }
        let (Some(start), Some(end)) = (form.start(), form.end()) else {
            return Err(c.error_times.to_owned());
        };
        let repeat = frequency_of(&form.repeat).map(|frequency| Repeat {
            frequency,
            // A rule of its own keeps its own end.
            until: parse_day(&form.until).filter(|_| frequency != Frequency::Custom),
        });
        let mut attendees: Vec<Participant> = self
            .people
            .iter()
            .filter(|p| form.people.contains(&p.address))
            .cloned()
            .collect();
        attendees.extend(
            self.bookables
                .iter()
                .filter(|(handle, _)| *handle == form.bookable)
                .map(|(_, p)| p.clone()),
        );
        let me = planner.me();
        let draft = Draft {
            summary: form.title.clone(),
            location: form.location.clone(),
            description: form.notes.replace("\r\n", "\n"),
            start,
            end,
            all_day: form.all_day,
            zone: OFFICE_ZONE,
            repeat,
            organizer: Some(Participant {
                address: me.address.clone(),
                name: me.display_name.clone(),
                kind: UserKind::Individual,
            }),
            attendees,
        };
        draft.check().map_err(|p| problem_text(c, p).to_owned())?;
        Ok(draft)
    }
}

/// The first booking of a room or car in `text` that clashes with its
/// other bookings, as a sentence; `None` when all are free.
async fn taken(
    planner: &Planner,
    directory: &Directory,
    c: &CalendarText,
    text: &str,
) -> Result<Option<String>, WebError> {
    let Ok(parsed) = guss_calendar::ical::parse(text, &Default::default()) else {
        return Ok(None);
    };
    let calendar = parsed.calendar;
    let uid = uid_of(&calendar);
    let wanted: Vec<&(String, Participant)> = directory
        .bookables
        .iter()
        .filter(|(_, p)| {
            itip::attendees(&calendar)
                .iter()
                .any(|a| a.address == p.address)
        })
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    let now = planner.bundle.clock.now();
    // The series' own start (its first occurrence).
    let first = edit::read(text, OFFICE_ZONE)
        .ok()
        .and_then(|d| edit::instant(OFFICE_ZONE, d.start).ok())
        .unwrap_or(now);
    // From the first occurrence still to come (or running) on.
    let from = first.max(now) - edit::MAX_LENGTH;
    let window = from..from + BOOKING_CHECK;
    let instances = expand(&calendar, &window, &expand_limits()).instances;
    for (handle, bookable) in wanted {
        let busy = planner
            .calendars
            .busy_except(handle, &window, uid.as_deref())
            .await
            .map_err(failed)?;
        // The first booking one of the occurrences would overlap.
        let clash = instances
            .iter()
            .filter(|i| !i.cancelled && i.end > now)
            .find_map(|i| busy.iter().find(|b| b.start < i.end && i.start < b.end));
        if let Some(booked) = clash {
            return Ok(Some(format!(
                "{} {} {} {}. {}",
                bookable.name,
                c.error_taken,
                day_name(c, booked.start.with_timezone(&OFFICE_ZONE).date_naive()),
                span_text(c, booked.start, booked.end, false),
                c.error_taken_hint
            )));
        }
    }
    Ok(None)
}

fn uid_of(calendar: &ICalendar) -> Option<String> {
    calendar
        .components
        .iter()
        .find_map(|c| c.uid())
        .map(str::to_owned)
}

/// Whether a room or car in the stored event declined it.
fn declined(directory: &Directory, object: &StoredObject) -> bool {
    let Ok(parsed) = guss_calendar::ical::parse(&object.ics, &Default::default()) else {
        return false;
    };
    itip::attendees(&parsed.calendar).iter().any(|a| {
        a.partstat == "DECLINED"
            && directory
                .bookables
                .iter()
                .any(|(_, b)| b.address == a.address)
    })
}

struct Choice {
    value: String,
    label: String,
    chosen: bool,
}

struct Availability {
    name: String,
    busy: Vec<String>,
}

#[derive(Template)]
#[template(path = "event_form.html")]
struct FormPage {
    l: Layout,
    c: &'static CalendarText,
    f: EventForm,
    new: bool,
    calendars: Vec<Choice>,
    people: Vec<Choice>,
    bookables: Vec<Choice>,
    repeats: Vec<Choice>,
    availability: Option<Vec<Availability>>,
    error: Option<String>,
}

/// Renders the form for `form` (with free/busy when asked, and an error).
async fn form_page(
    planner: &Planner,
    visit: &Visit,
    directory: &Directory,
    form: EventForm,
    error: Option<String>,
) -> Result<Response, WebError> {
    let c = visit.text().calendar;
    let new = form.name.is_empty();
    let calendars = planner
        .seen()
        .await?
        .into_iter()
        .filter(|s| s.writable)
        .map(|s| Choice {
            chosen: s.key() == form.cal,
            value: s.key(),
            label: s.name(),
        })
        .collect();
    let people = directory
        .people
        .iter()
        .map(|p| Choice {
            value: p.address.clone(),
            label: p.name.clone(),
            chosen: form.people.contains(&p.address),
        })
        .collect();
    let bookables = directory
        .bookables
        .iter()
        .map(|(handle, p)| Choice {
            value: handle.clone(),
            label: p.name.clone(),
            chosen: *handle == form.bookable,
        })
        .collect();
    // "As before" only for a series whose rule the form cannot show.
    let offered = FREQUENCIES
        .iter()
        .filter(|(key, f)| *f != Frequency::Custom || form.repeat == *key);
    let repeats = std::iter::once(("none", c.repeat_none))
        .chain(offered.map(|(key, f)| (*key, frequency_name(c, *f))))
        .map(|(value, label)| Choice {
            chosen: form.repeat == value
                || (value == "none" && frequency_of(&form.repeat).is_none()),
            value: value.to_owned(),
            label: label.to_owned(),
        })
        .collect();
    let availability = if form.check {
        Some(availability(planner, directory, c, &form).await?)
    } else {
        None
    };
    let page = FormPage {
        l: visit
            .layout(
                &planner.bundle,
                if new { c.new_title } else { c.edit_title },
            )
            .await,
        c,
        f: form,
        new,
        calendars,
        people,
        bookables,
        repeats,
        availability,
        error: error.clone(),
    };
    let response = render(&page)?;
    Ok(if error.is_some() {
        (StatusCode::UNPROCESSABLE_ENTITY, response).into_response()
    } else {
        response
    })
}

/// The busy times of the chosen people, room and car on the start day.
async fn availability(
    planner: &Planner,
    directory: &Directory,
    c: &CalendarText,
    form: &EventForm,
) -> Result<Vec<Availability>, WebError> {
    let day = parse_day(&form.start_date).unwrap_or_else(|| today(&planner.bundle));
    let window = day_start(day)..day_start(day + Days::new(1));
    let mut chosen: Vec<(String, String)> = directory
        .people
        .iter()
        .filter(|p| form.people.contains(&p.address))
        .map(|p| (p.address.clone(), p.name.clone()))
        .collect();
    chosen.insert(
        0,
        (
            planner.me().handle.clone(),
            planner.me().display_name.clone(),
        ),
    );
    chosen.extend(
        directory
            .bookables
            .iter()
            .filter(|(h, _)| *h == form.bookable)
            .map(|(h, p)| (h.clone(), p.name.clone())),
    );
    let mut out = Vec::new();
    for (handle, name) in chosen {
        let busy = planner
            .calendars
            .busy_of(&handle, &window)
            .await
            .map_err(failed)?;
        out.push(Availability {
            name,
            busy: busy
                .iter()
                .map(|b: &Interval| span_text(c, b.start, b.end, false))
                .collect(),
        });
    }
    Ok(out)
}

/// The query of the new-event form.
#[derive(Deserialize, Default)]
pub(super) struct NewQuery {
    #[serde(default)]
    date: Option<String>,
}

/// `GET /calendar/new`: the form for a new event on `date` (today).
pub(super) async fn new_form(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Query(query): Query<NewQuery>,
) -> Result<Response, WebError> {
    let planner = Planner::of(&bundle, &visit).await?;
    let directory = Directory::of(&planner, &visit).await?;
    let day = query
        .date
        .as_deref()
        .and_then(parse_day)
        .unwrap_or_else(|| today(&bundle));
    let cal = planner
        .seen()
        .await?
        .into_iter()
        .find(|s| s.writable)
        .map(|s| s.key())
        .unwrap_or_default();
    let form = EventForm {
        cal,
        start_date: day.to_string(),
        start_time: "09:00".into(),
        end_date: day.to_string(),
        end_time: "10:00".into(),
        repeat: "none".into(),
        ..EventForm::default()
    };
    form_page(&planner, &visit, &directory, form, None).await
}

/// An event's address in a query.
#[derive(Deserialize)]
pub(super) struct EventQuery {
    cal: String,
    name: String,
    #[serde(default)]
    at: Option<i64>,
    #[serde(default)]
    done: Option<String>,
}

/// The calendar and stored event a query names, if the person sees it.
async fn load(planner: &Planner, cal: &str, name: &str) -> Result<(Seen, StoredObject), WebError> {
    let seen = planner.find(cal).await?;
    let object = planner
        .acting
        .read_event(&seen.info.owner, &seen.info.slug, name)
        .await
        .map_err(failed)?;
    Ok((seen, object))
}

/// Whether the person may change the event: the calendar is writable
/// and they organize it (or nobody is invited).
fn may_edit(planner: &Planner, seen: &Seen, draft: &Draft) -> bool {
    seen.writable
        && draft
            .organizer
            .as_ref()
            .is_none_or(|o| o.address == itip::normalize(&planner.me().address))
}

/// `GET /calendar/edit?cal=…&name=…`: the form for the whole event.
pub(super) async fn edit_form(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Query(query): Query<EventQuery>,
) -> Result<Response, WebError> {
    let planner = Planner::of(&bundle, &visit).await?;
    let directory = Directory::of(&planner, &visit).await?;
    let (seen, object) = load(&planner, &query.cal, &query.name).await?;
    let draft = edit::read(&object.ics, OFFICE_ZONE).map_err(failed)?;
    if !may_edit(&planner, &seen, &draft) {
        return Err(WebError::Forbidden);
    }
    let form = EventForm::of(&seen.key(), &object, &draft, &directory.bookables);
    form_page(&planner, &visit, &directory, form, None).await
}

/// `POST /calendar/save`: creates the event or changes the whole of it;
/// with `check`, shows free/busy instead.
pub(super) async fn save(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    body: Bytes,
) -> Result<Response, WebError> {
    let form = EventForm::parse(&body);
    let planner = Planner::form(&bundle, &visit, &form.csrf).await?;
    let directory = Directory::of(&planner, &visit).await?;
    let c = visit.text().calendar;
    if form.check {
        return form_page(&planner, &visit, &directory, form, None).await;
    }
    let draft = match directory.draft(&planner, c, &form) {
        Ok(draft) => draft,
        Err(sentence) => {
            return form_page(&planner, &visit, &directory, form, Some(sentence)).await;
        }
    };
    let seen = planner.find(&form.cal).await?;
    if !seen.writable {
        let sentence = c.error_read_only.to_owned();
        return form_page(&planner, &visit, &directory, form, Some(sentence)).await;
    }
    let now = bundle.clock.now();
    let (name, text, expected) = if form.name.is_empty() {
        let host = organisation_host(&bundle, planner.tenant).await?;
        let id = uuid::Uuid::new_v4();
        let text = edit::create(&format!("{id}@{host}"), &draft, now).map_err(failed)?;
        (format!("{id}.ics"), text, Precondition::IfNoneMatch)
    } else {
        let object = planner
            .acting
            .read_event(&seen.info.owner, &seen.info.slug, &form.name)
            .await
            .map_err(failed)?;
        let old = edit::read(&object.ics, OFFICE_ZONE).map_err(failed)?;
        if object.etag != form.etag {
            let sentence = c.error_changed.to_owned();
            return form_page(&planner, &visit, &directory, form, Some(sentence)).await;
        }
        if !may_edit(&planner, &seen, &old) {
            return Err(WebError::Forbidden);
        }
        let text = edit::change_series(&object.ics, &draft, now).map_err(failed)?;
        (form.name.clone(), text, Precondition::IfMatch(object.etag))
    };
    if let Some(sentence) = taken(&planner, &directory, c, &text).await? {
        return form_page(&planner, &visit, &directory, form, Some(sentence)).await;
    }
    write(
        &planner,
        &directory,
        c,
        &seen,
        &name,
        &text,
        expected,
        None,
        Done::Saved,
    )
    .await
}

/// Writes the event and goes to its page, saying what happened.
#[allow(clippy::too_many_arguments)] // one write's whole context
async fn write(
    planner: &Planner,
    directory: &Directory,
    c: &CalendarText,
    seen: &Seen,
    name: &str,
    text: &str,
    expected: Precondition,
    at: Option<DateTime<Utc>>,
    done: Done,
) -> Result<Response, WebError> {
    let stored = match planner
        .acting
        .put_event(&seen.info.owner, &seen.info.slug, name, text, expected)
        .await
    {
        Ok(stored) => stored,
        Err(guss_calendar::Error::PreconditionFailed) => {
            return Err(WebError::Invalid(c.error_changed.to_owned()));
        }
        Err(guss_calendar::Error::Invalid { .. } | guss_calendar::Error::Object(_)) => {
            return Err(WebError::Invalid(c.error_invalid.to_owned()));
        }
        Err(other) => return Err(failed(other)),
    };
    let done = if declined(directory, &stored) {
        Done::RoomDeclined
    } else {
        done
    };
    Ok(see_other(&event_href(&seen.key(), name, at, Some(done))))
}

struct PersonView {
    name: String,
    answer: &'static str,
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    l: Layout,
    c: &'static CalendarText,
    cal: String,
    name: String,
    etag: String,
    calendar: String,
    when: String,
    location: String,
    notes: String,
    repeats: Option<String>,
    organizer: Option<String>,
    attendees: Vec<PersonView>,
    editable: bool,
    /// The person's own answer, when they are invited (not organizing).
    my_answer: Option<&'static str>,
    /// The occurrence shown, for a series: its RECURRENCE-ID.
    at: Option<i64>,
    move_start_date: String,
    move_start_time: String,
    move_end_date: String,
    move_end_time: String,
    done: Option<&'static str>,
}

/// `GET /calendar/event?cal=…&name=…[&at=…]`: the event, or the
/// occurrence of a series starting (by its rule) at `at`.
pub(super) async fn show(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Query(query): Query<EventQuery>,
) -> Result<Response, WebError> {
    let planner = Planner::of(&bundle, &visit).await?;
    let c = visit.text().calendar;
    let (seen, object) = load(&planner, &query.cal, &query.name).await?;
    let draft = edit::read(&object.ics, OFFICE_ZONE).map_err(failed)?;
    let parsed = guss_calendar::ical::parse(&object.ics, &Default::default()).map_err(failed)?;
    let instance = match query.at {
        Some(at) => Some(occurrence(&parsed.calendar, at).ok_or(WebError::NotFound)?),
        None => None,
    };
    let (start, end, all_day) = match &instance {
        Some(i) => (i.start, i.end, i.all_day),
        None => {
            let (start, end) = (
                edit::instant(OFFICE_ZONE, draft.start).map_err(failed)?,
                edit::instant(
                    OFFICE_ZONE,
                    if draft.all_day {
                        draft.end + Days::new(1)
                    } else {
                        draft.end
                    },
                )
                .map_err(failed)?,
            );
            (start, end, draft.all_day)
        }
    };
    let component = instance
        .as_ref()
        .and_then(|i| parsed.calendar.components.get(i.component));
    let field = |name, fallback: &str| {
        component.map_or_else(|| fallback.to_owned(), |comp| edit::text_of(comp, name))
    };
    use guss_calendar::calcard::icalendar::ICalendarProperty as P;
    let answers = itip::attendees(&parsed.calendar);
    let answer_of = |address: &str| match answers
        .iter()
        .find(|x| x.address == address)
        .map(|x| x.partstat.as_str())
    {
        Some("ACCEPTED") => c.accepted,
        Some("DECLINED") => c.declined,
        Some("TENTATIVE") => c.tentative,
        _ => c.needs_action,
    };
    let attendees = draft
        .attendees
        .iter()
        .map(|a| PersonView {
            name: a.name.clone(),
            answer: answer_of(&a.address),
        })
        .collect();
    let me = itip::normalize(&planner.me().address);
    let my_answer = (seen.writable
        && !may_edit(&planner, &seen, &draft)
        && draft.attendees.iter().any(|a| a.address == me))
    .then(|| answer_of(&me));
    let repeats = draft.repeat.map(|r| {
        let how = frequency_name(c, r.frequency);
        match r.until {
            Some(until) => format!("{how} – {}", until.format(c.date_format)),
            None => how.to_owned(),
        }
    });
    let (from, to) = (
        start.with_timezone(&OFFICE_ZONE).naive_local(),
        end.with_timezone(&OFFICE_ZONE).naive_local(),
    );
    let title = field(P::Summary, &draft.summary);
    render(&EventPage {
        l: visit.layout(&bundle, &title).await,
        c,
        cal: seen.key(),
        name: object.name.clone(),
        etag: object.etag.clone(),
        calendar: seen.name(),
        when: format!(
            "{}, {}",
            day_name(c, from.date()),
            span_text(c, start, end, all_day)
        ),
        location: field(P::Location, &draft.location),
        notes: field(P::Description, &draft.description),
        repeats,
        organizer: draft
            .organizer
            .as_ref()
            .filter(|_| !draft.attendees.is_empty())
            .map(|o| o.name.clone()),
        attendees,
        editable: may_edit(&planner, &seen, &draft),
        my_answer,
        at: instance
            .as_ref()
            .and_then(|i| i.recurrence_id)
            .map(|r| r.timestamp()),
        move_start_date: from.date().to_string(),
        move_start_time: from.format("%H:%M").to_string(),
        move_end_date: to.date().to_string(),
        move_end_time: to.format("%H:%M").to_string(),
        done: Done::said(query.done.as_deref(), c),
    })
}

/// The occurrence of a series that its rule started at `at` (seconds
/// since the epoch): its RECURRENCE-ID, as the pages' addresses name it.
fn occurrence(calendar: &ICalendar, at: i64) -> Option<guss_calendar::recurrence::Instance> {
    let rid = DateTime::from_timestamp(at, 0)?;
    let reach = TimeDelta::days(400);
    let window = rid.checked_sub_signed(reach)?..rid.checked_add_signed(reach)?;
    expand(calendar, &window, &expand_limits())
        .instances
        .into_iter()
        .find(|i| i.recurrence_id == Some(rid))
}

/// A form on one occurrence (or the whole event, without `at`).
#[derive(Deserialize)]
pub(super) struct OccurrenceForm {
    #[serde(default)]
    csrf: String,
    cal: String,
    name: String,
    etag: String,
    #[serde(default)]
    at: Option<i64>,
    #[serde(default)]
    start_date: String,
    #[serde(default)]
    start_time: String,
    #[serde(default)]
    end_date: String,
    #[serde(default)]
    end_time: String,
}

/// The planner, calendar, stored event (unchanged since the form) and
/// occurrence an occurrence form names, for someone who may change it.
async fn changeable(
    bundle: &Arc<Bundle>,
    visit: &Visit,
    form: &OccurrenceForm,
) -> Result<(Planner, Seen, StoredObject, Option<DateTime<Utc>>), WebError> {
    let planner = Planner::form(bundle, visit, &form.csrf).await?;
    let (seen, object) = load(&planner, &form.cal, &form.name).await?;
    let draft = edit::read(&object.ics, OFFICE_ZONE).map_err(failed)?;
    if !may_edit(&planner, &seen, &draft) {
        return Err(WebError::Forbidden);
    }
    if object.etag != form.etag {
        return Err(WebError::Invalid(
            visit.text().calendar.error_changed.to_owned(),
        ));
    }
    // Only an occurrence the series has: no exception for a made-up time.
    let at = match form.at {
        Some(at) => {
            let parsed =
                guss_calendar::ical::parse(&object.ics, &Default::default()).map_err(failed)?;
            let found = occurrence(&parsed.calendar, at).ok_or(WebError::NotFound)?;
            found.recurrence_id
        }
        None => None,
    };
    Ok((planner, seen, object, at))
}

/// `POST /calendar/occurrence/move`: moves one occurrence of a series.
pub(super) async fn move_occurrence(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    axum::Form(form): axum::Form<OccurrenceForm>,
) -> Result<Response, WebError> {
    let c = visit.text().calendar;
    let (planner, seen, object, at) = changeable(&bundle, &visit, &form).await?;
    let at = at.ok_or(WebError::NotFound)?;
    let times = EventForm {
        start_date: form.start_date.clone(),
        start_time: form.start_time.clone(),
        end_date: form.end_date.clone(),
        end_time: form.end_time.clone(),
        ..EventForm::default()
    };
    let (Some(start), Some(end)) = (times.start(), times.end()) else {
        return Err(WebError::Invalid(c.error_times.to_owned()));
    };
    let text = edit::move_occurrence(&object.ics, at, start, end, OFFICE_ZONE, bundle.clock.now())
        .map_err(|_| {
            let problem = if edit::instant(OFFICE_ZONE, start).is_err()
                || edit::instant(OFFICE_ZONE, end).is_err()
            {
                Problem::Skipped
            } else {
                Problem::Times
            };
            WebError::Invalid(problem_text(c, problem).to_owned())
        })?;
    let directory = Directory::of(&planner, &visit).await?;
    if let Some(sentence) = taken(&planner, &directory, c, &text).await? {
        return Err(WebError::Invalid(sentence));
    }
    let expected = Precondition::IfMatch(object.etag);
    write(
        &planner,
        &directory,
        c,
        &seen,
        &form.name,
        &text,
        expected,
        Some(at),
        Done::Moved,
    )
    .await
}

/// `POST /calendar/occurrence/cancel`: cancels one occurrence of a series.
pub(super) async fn cancel_occurrence(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    axum::Form(form): axum::Form<OccurrenceForm>,
) -> Result<Response, WebError> {
    let (planner, seen, object, at) = changeable(&bundle, &visit, &form).await?;
    let at = at.ok_or(WebError::NotFound)?;
    let text = edit::cancel_occurrence(&object.ics, at, OFFICE_ZONE, bundle.clock.now())
        .map_err(failed)?;
    planner
        .acting
        .put_event(
            &seen.info.owner,
            &seen.info.slug,
            &form.name,
            &text,
            Precondition::IfMatch(object.etag),
        )
        .await
        .map_err(failed)?;
    Ok(see_other(&calendar_on(at, Done::OccurrenceCancelled)))
}

/// `POST /calendar/delete`: deletes the event (the whole series).
pub(super) async fn delete(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    axum::Form(form): axum::Form<OccurrenceForm>,
) -> Result<Response, WebError> {
    let (planner, seen, object, _) = changeable(&bundle, &visit, &form).await?;
    let start = edit::read(&object.ics, OFFICE_ZONE)
        .ok()
        .and_then(|d| edit::instant(OFFICE_ZONE, d.start).ok());
    planner
        .acting
        .delete_event(
            &seen.info.owner,
            &seen.info.slug,
            &form.name,
            Precondition::IfMatch(object.etag),
        )
        .await
        .map_err(failed)?;
    Ok(see_other(&calendar_on(
        start.unwrap_or_else(|| bundle.clock.now()),
        Done::Deleted,
    )))
}

/// The week of `at`, saying what was done.
fn calendar_on(at: DateTime<Utc>, done: Done) -> String {
    format!(
        "/calendar?date={}&done={}",
        at.with_timezone(&OFFICE_ZONE).date_naive(),
        done.key()
    )
}

/// The answer to an invitation.
#[derive(Deserialize)]
pub(super) struct AnswerForm {
    #[serde(default)]
    csrf: String,
    cal: String,
    name: String,
    etag: String,
    answer: String,
}

/// `POST /calendar/answer`: accept, decline or say maybe to an invitation
/// in one's own calendar; the organizer's copy learns it (RFC 6638 §3.2.2).
pub(super) async fn answer(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    axum::Form(form): axum::Form<AnswerForm>,
) -> Result<Response, WebError> {
    use guss_calendar::calcard::icalendar::ICalendarParticipationStatus as Partstat;
    let planner = Planner::form(&bundle, &visit, &form.csrf).await?;
    let c = visit.text().calendar;
    let partstat = match form.answer.as_str() {
        "accepted" => Partstat::Accepted,
        "tentative" => Partstat::Tentative,
        "declined" => Partstat::Declined,
        _ => return Err(WebError::NotFound),
    };
    let (seen, object) = load(&planner, &form.cal, &form.name).await?;
    if !seen.writable {
        return Err(WebError::Forbidden);
    }
    if object.etag != form.etag {
        return Err(WebError::Invalid(c.error_changed.to_owned()));
    }
    let mut calendar = guss_calendar::ical::parse(&object.ics, &Default::default())
        .map_err(failed)?
        .calendar;
    if !itip::set_partstat(&mut calendar, &planner.me().address, partstat) {
        return Err(WebError::Forbidden);
    }
    planner
        .acting
        .put_event(
            &seen.info.owner,
            &seen.info.slug,
            &form.name,
            &guss_calendar::ical::emit(&calendar),
            Precondition::IfMatch(object.etag),
        )
        .await
        .map_err(failed)?;
    Ok(see_other(&event_href(
        &form.cal,
        &form.name,
        None,
        Some(Done::Answered),
    )))
}
