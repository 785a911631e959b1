//! Recurrence: the instances of the events and tasks in a calendar within
//! a window, in UTC, bounded.
//!
//! Rules are expanded in local ("floating") time and each instance is then
//! placed in its zone, so a daily 08:30 stays 08:30 across a change to or
//! from summer time, a time skipped by the change is read with the offset
//! before it, and a time that exists twice is its first occurrence
//! (RFC 5545 §3.3.5, §3.3.10). DTSTART is always the first instance;
//! RDATE adds, EXDATE removes, and a component with a RECURRENCE-ID
//! replaces its instance (with RANGE=THISANDFUTURE also shifting the
//! instances after it).

use std::collections::HashMap;
use std::ops::Range;

use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarDuration, ICalendarEntry,
    ICalendarFrequency, ICalendarParameterName, ICalendarPeriod, ICalendarProperty,
    ICalendarRecurrenceRule, ICalendarStatus, ICalendarTransparency, ICalendarValue,
    ICalendarWeekday,
};
use chrono::{DateTime, FixedOffset, NaiveDateTime, NaiveTime, TimeDelta, Utc, Weekday};
use serde::Serialize;

use crate::timezone::{Zone, Zones};

/// Bounds on one expansion; on by default.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ExpandLimits {
    /// The most instances returned.
    pub max_instances: usize,
    /// The most rule iterations of one expansion, all series together
    /// (instances before the window count): the bound on its work.
    pub max_iterations: usize,
    /// The zone floating and all-day values are read in.
    pub floating: Zone,
}

impl Default for ExpandLimits {
    fn default() -> Self {
        ExpandLimits {
            max_instances: 10_000,
            max_iterations: 200_000,
            floating: Zone::Utc,
        }
    }
}

/// Event or task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// VEVENT.
    Event,
    /// VTODO.
    Todo,
}

/// One instance of an event or task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Instance {
    /// The UID of its series.
    pub uid: String,
    /// The index (in the calendar's components) of the component that
    /// describes it: the master, or the override that replaced it.
    pub component: usize,
    /// Event or task.
    pub kind: Kind,
    /// When it starts.
    pub start: DateTime<Utc>,
    /// When it ends (equal to `start` for instants).
    pub end: DateTime<Utc>,
    /// Its RECURRENCE-ID (the start the rule gave it), for recurring series.
    pub recurrence_id: Option<DateTime<Utc>>,
    /// Whether it is an all-day (date) value.
    pub all_day: bool,
    /// TRANSP:TRANSPARENT: it does not block time.
    pub transparent: bool,
    /// STATUS:CANCELLED.
    pub cancelled: bool,
}

/// The result of an expansion.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Expansion {
    /// The instances overlapping the window, sorted by start.
    pub instances: Vec<Instance>,
    /// Whether a limit cut the expansion short.
    pub truncated: bool,
    /// What could not be read (a component without a start, a broken rule).
    pub problems: Vec<String>,
}

/// A date or date-time value: local time and zone (`None`: floating).
#[derive(Clone, Debug)]
struct Moment {
    local: NaiveDateTime,
    zone: Option<Zone>,
    date_only: bool,
}

impl Moment {
    fn utc(&self, floating: &Zone) -> DateTime<Utc> {
        self.zone.as_ref().unwrap_or(floating).to_utc(self.local)
    }
}

fn moment_of(
    value: &PartialDateTime,
    tzid: Option<&str>,
    zones: &Zones,
    problems: &mut Vec<String>,
) -> Option<Moment> {
    let parsed = value.to_date_time()?;
    let zone = match (parsed.offset, tzid) {
        (Some(offset), _) if offset.local_minus_utc() == 0 => Some(Zone::Utc),
        (Some(offset), _) => Some(Zone::Fixed(offset)),
        (None, Some(tzid)) => {
            let zone = zones.resolve(tzid);
            if zone.is_none() {
                problems.push(format!("unknown time zone {tzid:?}: read as floating time"));
            }
            zone
        }
        (None, None) => None,
    };
    Some(Moment {
        local: parsed.date_time,
        zone,
        date_only: !value.has_time(),
    })
}

fn entries(
    component: &ICalendarComponent,
    name: ICalendarProperty,
) -> impl Iterator<Item = &ICalendarEntry> {
    component.entries.iter().filter(move |e| e.name == name)
}

fn first_moment(
    component: &ICalendarComponent,
    name: ICalendarProperty,
    zones: &Zones,
    problems: &mut Vec<String>,
) -> Option<Moment> {
    let entry = entries(component, name).next()?;
    match entry.values.first()? {
        ICalendarValue::PartialDateTime(value) => moment_of(value, entry.tz_id(), zones, problems),
        _ => None,
    }
}

/// How long an instance lasts: nominal days (in local time) plus an exact part.
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    days: i64,
    exact: TimeDelta,
}

impl Span {
    fn of_duration(duration: &ICalendarDuration) -> Span {
        let sign = if duration.neg { -1 } else { 1 };
        Span {
            days: sign * (i64::from(duration.weeks) * 7 + i64::from(duration.days)),
            exact: TimeDelta::seconds(
                sign * (i64::from(duration.hours) * 3600
                    + i64::from(duration.minutes) * 60
                    + i64::from(duration.seconds)),
            ),
        }
    }

    fn end(&self, local_start: NaiveDateTime, start: DateTime<Utc>, zone: &Zone) -> DateTime<Utc> {
        let base = if self.days == 0 {
            start
        } else {
            match local_start.checked_add_signed(TimeDelta::days(self.days)) {
                Some(local) => zone.to_utc(local),
                None => saturated(self.days),
            }
        };
        add(base, self.exact).max(start)
    }
}

/// The first or last representable instant, by the sign of `direction`.
fn saturated(direction: i64) -> DateTime<Utc> {
    if direction < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    }
}

/// `at + delta`, held at the representable range (durations and windows
/// come from untrusted text and may reach past it).
fn add(at: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    at.checked_add_signed(delta)
        .unwrap_or_else(|| saturated(delta.num_seconds()))
}

fn span_of(
    component: &ICalendarComponent,
    start: &Moment,
    kind: Kind,
    zones: &Zones,
    floating: &Zone,
    problems: &mut Vec<String>,
) -> Span {
    let end_name = match kind {
        Kind::Event => ICalendarProperty::Dtend,
        Kind::Todo => ICalendarProperty::Due,
    };
    if let Some(end) = first_moment(component, end_name, zones, problems) {
        if start.date_only && end.date_only {
            return Span {
                days: (end.local.date() - start.local.date()).num_days().max(0),
                exact: TimeDelta::zero(),
            };
        }
        let exact = end.utc(floating) - start.utc(floating);
        if exact >= TimeDelta::zero() {
            return Span { days: 0, exact };
        }
        problems.push("an end before the start: read as an instant".into());
        return Span::default();
    }
    if let Some(ICalendarValue::Duration(duration)) =
        entries(component, ICalendarProperty::Duration)
            .next()
            .and_then(|e| e.values.first())
    {
        return Span::of_duration(duration);
    }
    if start.date_only {
        Span {
            days: 1,
            exact: TimeDelta::zero(),
        }
    } else {
        Span::default()
    }
}

fn weekday(day: &ICalendarWeekday) -> Weekday {
    match day {
        ICalendarWeekday::Monday => Weekday::Mon,
        ICalendarWeekday::Tuesday => Weekday::Tue,
        ICalendarWeekday::Wednesday => Weekday::Wed,
        ICalendarWeekday::Thursday => Weekday::Thu,
        ICalendarWeekday::Friday => Weekday::Fri,
        ICalendarWeekday::Saturday => Weekday::Sat,
        ICalendarWeekday::Sunday => Weekday::Sun,
    }
}

fn floating(local: NaiveDateTime) -> DateTime<rrule::Tz> {
    local.and_utc().with_timezone(&rrule::Tz::UTC)
}

/// The rule for the `rrule` crate in the floating basis; UNTIL in UTC is
/// moved to local time with `until_local`.
fn to_rrule(
    rule: &ICalendarRecurrenceRule,
    start: NaiveDateTime,
    until_local: &dyn Fn(&PartialDateTime) -> Option<NaiveDateTime>,
) -> Result<rrule::RRuleSet, String> {
    let freq = match rule.freq {
        ICalendarFrequency::Yearly => rrule::Frequency::Yearly,
        ICalendarFrequency::Monthly => rrule::Frequency::Monthly,
        ICalendarFrequency::Weekly => rrule::Frequency::Weekly,
        ICalendarFrequency::Daily => rrule::Frequency::Daily,
        ICalendarFrequency::Hourly => rrule::Frequency::Hourly,
        ICalendarFrequency::Minutely => rrule::Frequency::Minutely,
        ICalendarFrequency::Secondly => rrule::Frequency::Secondly,
    };
    let mut built = rrule::RRule::new(freq).interval(rule.interval.unwrap_or(1).max(1));
    if let Some(count) = rule.count {
        built = built.count(count);
    }
    if let Some(until) = rule.until.as_ref().and_then(until_local) {
        built = built.until(floating(until));
    }
    if !rule.byday.is_empty() {
        built = built.by_weekday(
            rule.byday
                .iter()
                .map(|d| match d.ordwk {
                    Some(n) if n != 0 => rrule::NWeekday::Nth(n, weekday(&d.weekday)),
                    _ => rrule::NWeekday::Every(weekday(&d.weekday)),
                })
                .collect(),
        );
    }
    if !rule.bymonth.is_empty() {
        let months: Vec<chrono::Month> = rule
            .bymonth
            .iter()
            .filter_map(|m| chrono::Month::try_from(m.month()).ok())
            .collect();
        built = built.by_month(&months);
    }
    if let Some(wkst) = &rule.wkst {
        built = built.week_start(weekday(wkst));
    }
    built = built
        .by_month_day(rule.bymonthday.clone())
        .by_year_day(rule.byyearday.clone())
        .by_week_no(rule.byweekno.clone())
        .by_set_pos(rule.bysetpos.clone())
        .by_hour(rule.byhour.clone())
        .by_minute(rule.byminute.clone())
        .by_second(rule.bysecond.clone());
    let start = floating(start);
    let validated = built
        .validate(start)
        .map_err(|e| format!("recurrence rule not usable: {e}"))?;
    Ok(rrule::RRuleSet::new(start).rrule(validated).limit())
}

/// The local times a rule gives from `start` (at most `max`): used for
/// VTIMEZONE observances, whose UNTIL is in UTC and `offset` before the onset.
pub(crate) fn floating_occurrences(
    rule: &ICalendarRecurrenceRule,
    start: NaiveDateTime,
    offset: Option<FixedOffset>,
    max: usize,
) -> Vec<NaiveDateTime> {
    let until = |until: &PartialDateTime| {
        let parsed = until.to_date_time()?;
        Some(match (parsed.offset, offset) {
            (Some(_), Some(offset)) => parsed.date_time + offset,
            _ => parsed.date_time,
        })
    };
    match to_rrule(rule, start, &until) {
        Ok(set) => set.into_iter().take(max).map(|at| at.naive_utc()).collect(),
        Err(_) => Vec::new(),
    }
}

/// One series: its master (if any) and its overrides.
struct Series<'a> {
    uid: String,
    master: Option<(usize, &'a ICalendarComponent)>,
    overrides: Vec<(usize, &'a ICalendarComponent)>,
}

fn kind_of(component: &ICalendarComponent) -> Option<Kind> {
    match component.component_type {
        ICalendarComponentType::VEvent => Some(Kind::Event),
        ICalendarComponentType::VTodo => Some(Kind::Todo),
        _ => None,
    }
}

fn uid_of(component: &ICalendarComponent) -> String {
    component.uid().unwrap_or_default().to_owned()
}

/// An instance described by one component, starting at `start`.
struct Placed {
    component: usize,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    all_day: bool,
}

/// What a single component says about its own time: start and span.
fn own_time(
    component: &ICalendarComponent,
    kind: Kind,
    zones: &Zones,
    floating: &Zone,
    problems: &mut Vec<String>,
) -> Option<(Moment, Span)> {
    let start = first_moment(component, ICalendarProperty::Dtstart, zones, problems).or_else(
        || match kind {
            Kind::Todo => first_moment(component, ICalendarProperty::Due, zones, problems),
            Kind::Event => {
                first_moment(component, ICalendarProperty::RecurrenceId, zones, problems)
            }
        },
    )?;
    let span = if component.has_property(&ICalendarProperty::Dtstart) {
        span_of(component, &start, kind, zones, floating, problems)
    } else {
        Span::default()
    };
    Some((start, span))
}

struct Override {
    rid: DateTime<Utc>,
    this_and_future: bool,
    placed: Placed,
}

fn overrides_of(
    series: &Series<'_>,
    kind: Kind,
    zones: &Zones,
    floating: &Zone,
    problems: &mut Vec<String>,
) -> Vec<Override> {
    let mut out = Vec::new();
    for (index, component) in &series.overrides {
        let Some(rid_entry) = entries(component, ICalendarProperty::RecurrenceId).next() else {
            continue;
        };
        let Some(rid) = (match rid_entry.values.first() {
            Some(ICalendarValue::PartialDateTime(v)) => {
                moment_of(v, rid_entry.tz_id(), zones, problems)
            }
            _ => None,
        }) else {
            continue;
        };
        let this_and_future = rid_entry
            .parameter(&ICalendarParameterName::Range)
            .is_some();
        let Some((start, span)) = own_time(component, kind, zones, floating, problems) else {
            continue;
        };
        let zone = start.zone.clone().unwrap_or_else(|| floating.clone());
        let start_utc = start.utc(floating);
        out.push(Override {
            rid: rid.utc(floating),
            this_and_future,
            placed: Placed {
                component: *index,
                start: start_utc,
                end: span.end(start.local, start_utc, &zone),
                all_day: start.date_only,
            },
        });
    }
    out.sort_by_key(|o| o.rid);
    out
}

fn local_in(moment: &Moment, zone: &Option<Zone>, floating: &Zone) -> NaiveDateTime {
    match (&moment.zone, zone) {
        (None, _) => moment.local,
        (Some(a), Some(b)) if a == b => moment.local,
        (Some(_), Some(b)) => b.to_local(moment.utc(floating)),
        (Some(_), None) => floating.to_local(moment.utc(floating)),
    }
}

fn list_moments(
    component: &ICalendarComponent,
    name: ICalendarProperty,
    zones: &Zones,
    problems: &mut Vec<String>,
) -> Vec<Moment> {
    let mut out = Vec::new();
    for entry in entries(component, name) {
        for value in &entry.values {
            let value = match value {
                ICalendarValue::PartialDateTime(v) => v,
                ICalendarValue::Period(
                    ICalendarPeriod::Range { start, .. } | ICalendarPeriod::Duration { start, .. },
                ) => start,
                _ => continue,
            };
            if let Some(moment) = moment_of(value, entry.tz_id(), zones, problems) {
                out.push(moment);
            }
        }
    }
    out
}

/// The RDATE periods of a master (RFC 5545 §3.8.5.2): the local start in
/// the master's zone, and the period's own end.
fn rdate_periods(
    component: &ICalendarComponent,
    zone: &Option<Zone>,
    zones: &Zones,
    floating: &Zone,
    problems: &mut Vec<String>,
) -> Vec<(NaiveDateTime, DateTime<Utc>)> {
    let mut out = Vec::new();
    for entry in entries(component, ICalendarProperty::Rdate) {
        for value in &entry.values {
            let ICalendarValue::Period(period) = value else {
                continue;
            };
            let (ICalendarPeriod::Range { start, .. } | ICalendarPeriod::Duration { start, .. }) =
                period;
            let Some(start) = moment_of(start, entry.tz_id(), zones, problems) else {
                continue;
            };
            let start_utc = start.utc(floating);
            let end = match period {
                ICalendarPeriod::Range { end, .. } => {
                    moment_of(end, entry.tz_id(), zones, problems).map(|m| m.utc(floating))
                }
                ICalendarPeriod::Duration { duration, .. } => {
                    let own = start.zone.clone().unwrap_or_else(|| floating.clone());
                    Some(Span::of_duration(duration).end(start.local, start_utc, &own))
                }
            };
            if let Some(end) = end {
                out.push((local_in(&start, zone, floating), end.max(start_utc)));
            }
        }
    }
    out
}

/// The rule-given local starts of a master, in order, with DTSTART and
/// RDATEs added and EXDATEs removed; `Err` if the rule is unusable.
fn master_locals<'a>(
    component: &'a ICalendarComponent,
    start: &Moment,
    zones: &Zones,
    floating: &'a Zone,
    problems: &mut Vec<String>,
) -> Box<dyn Iterator<Item = NaiveDateTime> + 'a> {
    let zone = start.zone.clone();
    let rdates: Vec<NaiveDateTime> =
        list_moments(component, ICalendarProperty::Rdate, zones, problems)
            .iter()
            .map(|m| local_in(m, &zone, floating))
            .collect();
    let exdates: Vec<NaiveDateTime> =
        list_moments(component, ICalendarProperty::Exdate, zones, problems)
            .iter()
            .map(|m| local_in(m, &zone, floating))
            .collect();
    let until_zone = zone.clone();
    let until = move |until: &PartialDateTime| -> Option<NaiveDateTime> {
        let parsed = until.to_date_time()?;
        Some(match (parsed.offset, &until_zone) {
            (Some(_), Some(z)) => z.to_local(parsed.date_time.and_utc()),
            (Some(_), None) => parsed.date_time,
            // A date UNTIL includes that whole day.
            (None, _) if !until.has_time() => {
                parsed.date_time.date().and_time(NaiveTime::MIN) + TimeDelta::days(1)
                    - TimeDelta::seconds(1)
            }
            (None, _) => parsed.date_time,
        })
    };
    let rules: Vec<&ICalendarRecurrenceRule> = entries(component, ICalendarProperty::Rrule)
        .filter_map(|e| match e.values.first() {
            Some(ICalendarValue::RecurrenceRule(rule)) => Some(&**rule),
            _ => None,
        })
        .collect();
    let mut set = rrule::RRuleSet::new(floating_dt(start.local)).limit();
    for rule in rules {
        match to_rrule(rule, start.local, &until) {
            Ok(one) => {
                for r in one.get_rrule() {
                    set = set.rrule(r.clone());
                }
            }
            Err(problem) => problems.push(problem),
        }
    }
    set = set.rdate(floating_dt(start.local));
    for rdate in rdates {
        set = set.rdate(floating_dt(rdate));
    }
    for exdate in exdates {
        set = set.exdate(floating_dt(exdate));
    }
    // DTSTART is added as an RDATE; when the rule gives it too, once is enough.
    let mut previous = None;
    Box::new(set.into_iter().map(|at| at.naive_utc()).filter(move |at| {
        let fresh = previous != Some(*at);
        previous = Some(*at);
        fresh
    }))
}

fn floating_dt(local: NaiveDateTime) -> DateTime<rrule::Tz> {
    floating(local)
}

fn overlaps(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    due_only: bool,
    window: &Range<DateTime<Utc>>,
) -> bool {
    // RFC 4791 §9.9: an instant overlaps if it lies in [start, end); a
    // VTODO with DUE only if (start < DUE) AND (end >= DUE).
    if due_only {
        start > window.start && start <= window.end
    } else if end > start {
        start < window.end && end > window.start
    } else {
        start >= window.start && start < window.end
    }
}

/// When the component at `index` starts and ends by its own DTSTART and
/// DTEND or DURATION (for a series' master: its first occurrence), and
/// whether it is all-day; floating times are read in `floating`.
pub fn own_span(
    calendar: &ICalendar,
    index: usize,
    floating: &Zone,
) -> Option<(DateTime<Utc>, DateTime<Utc>, bool)> {
    let component = calendar.components.get(index)?;
    let kind = kind_of(component)?;
    let zones = Zones::of(calendar);
    let (start, span) = own_time(component, kind, &zones, floating, &mut Vec::new())?;
    let zone = start.zone.clone().unwrap_or_else(|| floating.clone());
    let start_utc = start.utc(floating);
    Some((
        start_utc,
        span.end(start.local, start_utc, &zone),
        start.date_only,
    ))
}

/// The instances of every event and task in `calendar` that overlap
/// `window`, sorted by start, within `limits`.
pub fn expand(
    calendar: &ICalendar,
    window: &Range<DateTime<Utc>>,
    limits: &ExpandLimits,
) -> Expansion {
    let zones = Zones::of(calendar);
    let mut by_uid: HashMap<String, Series<'_>> = HashMap::new();
    let mut order = Vec::new();
    for (index, component) in calendar.components.iter().enumerate() {
        if kind_of(component).is_none() {
            continue;
        }
        let uid = uid_of(component);
        let series = by_uid.entry(uid.clone()).or_insert_with(|| {
            order.push(uid.clone());
            Series {
                uid,
                master: None,
                overrides: Vec::new(),
            }
        });
        if component.has_property(&ICalendarProperty::RecurrenceId) {
            series.overrides.push((index, component));
        } else if series.master.is_none() {
            series.master = Some((index, component));
        }
    }
    let mut out = Expansion::default();
    let mut budget = limits.max_iterations;
    for uid in order {
        let Some(series) = by_uid.get(&uid) else {
            continue;
        };
        expand_series(
            calendar,
            series,
            &zones,
            window,
            limits,
            &mut budget,
            &mut out,
        );
    }
    out.instances
        .sort_by(|a, b| a.start.cmp(&b.start).then(a.uid.cmp(&b.uid)));
    if out.instances.len() > limits.max_instances {
        out.instances.truncate(limits.max_instances);
        out.truncated = true;
    }
    out
}

fn instance(
    calendar: &ICalendar,
    uid: &str,
    kind: Kind,
    placed: Placed,
    rid: Option<DateTime<Utc>>,
) -> Instance {
    let component = calendar.components.get(placed.component);
    let transparent = component
        .and_then(|c| c.transparency())
        .is_some_and(|t| *t == ICalendarTransparency::Transparent);
    let cancelled = component
        .and_then(|c| c.status())
        .is_some_and(|s| *s == ICalendarStatus::Cancelled);
    Instance {
        uid: uid.to_owned(),
        component: placed.component,
        kind,
        start: placed.start,
        end: placed.end,
        recurrence_id: rid,
        all_day: placed.all_day,
        transparent,
        cancelled,
    }
}

#[allow(clippy::too_many_arguments)] // the state of one expansion, passed along
fn expand_series(
    calendar: &ICalendar,
    series: &Series<'_>,
    zones: &Zones,
    window: &Range<DateTime<Utc>>,
    limits: &ExpandLimits,
    budget: &mut usize,
    out: &mut Expansion,
) {
    let floating = &limits.floating;
    let any = series.master.or_else(|| series.overrides.first().copied());
    let Some(kind) = any.and_then(|(_, c)| kind_of(c)) else {
        return;
    };
    let overrides = overrides_of(series, kind, zones, floating, &mut out.problems);
    let mut matched = vec![false; overrides.len()];
    let push = |out: &mut Expansion, placed: Placed, rid: Option<DateTime<Utc>>| {
        let due_only = kind == Kind::Todo
            && calendar
                .components
                .get(placed.component)
                .is_some_and(|c| !c.has_property(&ICalendarProperty::Dtstart));
        if overlaps(placed.start, placed.end, due_only, window) {
            out.instances
                .push(instance(calendar, &series.uid, kind, placed, rid));
        }
    };
    if let Some((index, master)) = series.master {
        let Some((start, span)) = own_time(master, kind, zones, floating, &mut out.problems) else {
            if kind == Kind::Event {
                out.problems
                    .push(format!("event {:?} has no start: ignored", series.uid));
            }
            return;
        };
        let zone = start.zone.clone().unwrap_or_else(|| floating.clone());
        let recurring = master.is_recurrent();
        // Local times past this cannot overlap the window (no zone is 14 h
        // or more from UTC), but a THISANDFUTURE shift may move instances.
        let shift_margin = overrides
            .iter()
            .filter(|o| o.this_and_future)
            .map(|o| (o.rid - o.placed.start).num_seconds().abs())
            .max()
            .unwrap_or(0);
        let last_local = add(
            window.end,
            TimeDelta::days(1) + TimeDelta::seconds(shift_margin),
        )
        .naive_utc();
        let locals: Box<dyn Iterator<Item = NaiveDateTime>> = if recurring {
            master_locals(master, &start, zones, floating, &mut out.problems)
        } else {
            Box::new(std::iter::once(start.local))
        };
        let periods = rdate_periods(master, &start.zone, zones, floating, &mut out.problems);
        for local in locals {
            if local > last_local {
                break;
            }
            let Some(left) = budget.checked_sub(1) else {
                out.truncated = true;
                break;
            };
            *budget = left;
            let rid = zone.to_utc(local);
            let exact = overrides.iter().position(|o| o.rid == rid);
            if let Some(position) = exact {
                if let (Some(slot), Some(o)) = (matched.get_mut(position), overrides.get(position))
                {
                    *slot = true;
                    let placed = Placed {
                        component: o.placed.component,
                        start: o.placed.start,
                        end: o.placed.end,
                        all_day: o.placed.all_day,
                    };
                    push(out, placed, recurring.then_some(rid));
                }
                continue;
            }
            // The latest THISANDFUTURE override before this instance shifts it.
            let shifted = overrides
                .iter()
                .rev()
                .find(|o| o.this_and_future && o.rid < rid);
            let placed = match shifted {
                Some(o) => {
                    let delta = o.placed.start - o.rid;
                    let start = add(rid, delta);
                    Placed {
                        component: o.placed.component,
                        start,
                        end: add(start, o.placed.end - o.placed.start),
                        all_day: o.placed.all_day,
                    }
                }
                None => Placed {
                    component: index,
                    start: rid,
                    // An RDATE period ends where it says; anything else
                    // lasts as long as the master.
                    end: periods
                        .iter()
                        .find(|(at, _)| *at == local)
                        .map_or_else(|| span.end(local, rid, &zone), |(_, end)| *end),
                    all_day: start.date_only,
                },
            };
            push(out, placed, recurring.then_some(rid));
        }
    }
    // Overrides whose instance the rule did not give (or no master): they exist all the same.
    for (o, done) in overrides.iter().zip(&matched) {
        if !done {
            let placed = Placed {
                component: o.placed.component,
                start: o.placed.start,
                end: o.placed.end,
                all_day: o.placed.all_day,
            };
            push(out, placed, Some(o.rid));
        }
    }
}
