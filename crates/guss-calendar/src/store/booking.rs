//! Booking against stored calendars: busy time, bookable slots for a
//! booking page, and "all of" bookings (a student, an instructor and any
//! car of the pool) written to every chosen resource in one transaction,
//! or to none.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use guss_core::Principal;

use super::sql::Sql;
use super::{CalendarInfo, CollectionKind, TenantCalendars, micros};
use crate::booking::{
    Availability, BusyById, Interval, Requirement, Slots, book_all, bookable_slots,
};
use crate::ical;
use crate::recurrence::{ExpandLimits, expand};
use crate::{Error, Result};

/// The calendar a bookable user's bookings go to.
const BOOKINGS: &str = "calendar";

/// The blocking instances of `text` in `range`.
fn busy_in(text: &str, range: &Interval, limits: &ExpandLimits) -> Vec<Interval> {
    let Ok(parsed) = ical::parse(text, &ical::Limits::default()) else {
        return Vec::new();
    };
    expand(&parsed.calendar, range, limits)
        .instances
        .into_iter()
        .filter(|i| !i.transparent && !i.cancelled && i.end > i.start)
        .map(|i| i.start..i.end)
        .collect()
}

impl TenantCalendars {
    /// When `owner` is busy in `range`, from all their calendars (not the inbox).
    pub async fn busy_of(&self, owner: &str, range: &Interval) -> Result<Vec<Interval>> {
        self.busy_except(owner, range, None).await
    }

    /// When `owner` is busy in `range`, not counting the event with UID
    /// `except`: what that event, moved, would clash with.
    pub async fn busy_except(
        &self,
        owner: &str,
        range: &Interval,
        except: Option<&str>,
    ) -> Result<Vec<Interval>> {
        let mut busy = Vec::new();
        for calendar in self
            .calendars(owner)
            .await?
            .iter()
            .filter(|c| c.kind != CollectionKind::Inbox)
        {
            for object in self
                .objects_in_range(calendar, range)
                .await?
                .iter()
                .filter(|o| Some(o.uid.as_str()) != except)
            {
                busy.extend(busy_in(&object.ics, range, &self.limits().expand));
            }
        }
        Ok(crate::booking::normalize(&busy))
    }

    /// The slots a booking page offers for `owner` under `rules` in `range`:
    /// everything already in their calendars counts as a booking.
    pub async fn bookable_slots(
        &self,
        owner: &str,
        rules: &Availability,
        range: &Interval,
        now: DateTime<Utc>,
    ) -> Result<Slots> {
        let bookings = self.busy_of(owner, range).await?;
        Ok(bookable_slots(rules, &[], &bookings, now, range))
    }

    /// Books the single event in `text` for all `requirements` (handles of
    /// bookable users; `AnyOf` a pool) at once: chooses free members, and
    /// writes the event into each chosen one's bookings, all or nothing,
    /// while no one else can book them. Returns (requirement, chosen handle).
    pub async fn book_together(
        &self,
        requirements: &[Requirement],
        text: &str,
        by: &Principal,
    ) -> Result<Vec<(usize, String)>> {
        let handles: BTreeSet<&str> = requirements
            .iter()
            .flat_map(|r| match r {
                Requirement::One(id) => vec![id.as_str()],
                Requirement::AnyOf(ids) => ids.iter().map(String::as_str).collect(),
            })
            .collect();
        let mut calendars: HashMap<String, CalendarInfo> = HashMap::new();
        for handle in &handles {
            let calendar = self
                .calendar(handle, BOOKINGS)
                .await?
                .filter(|c| c.kind == CollectionKind::Bookable)
                .ok_or(Error::NotFound("bookable calendar"))?;
            calendars.insert((*handle).to_owned(), calendar);
        }
        let Some(any) = calendars.values().next().cloned() else {
            return Err(Error::invalid("booking", "nothing to book"));
        };
        let (parsed, found, row) = self.prepare(&any, "booking.ics", text)?;
        if parsed.calendar.components.iter().any(|c| c.is_recurrent()) {
            return Err(Error::invalid(
                "booking",
                "book a series one instance at a time",
            ));
        }
        let (Some(start), Some(end)) = (found.first_start, found.last_end) else {
            return Err(Error::invalid(
                "booking",
                "the event needs a start and an end",
            ));
        };
        let wanted = start..end;
        let name = format!(
            "{}.ics",
            found
                .uid
                .chars()
                .map(
                    |c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@') {
                        c
                    } else {
                        '_'
                    }
                )
                .take(200)
                .collect::<String>()
        );
        let limits = self.limits().expand.clone();
        let max = i64::try_from(self.limits().max_objects).unwrap_or(i64::MAX);
        let chosen = cal_tx!(self, |sql| {
            // Lock every candidate in a fixed order, then decide on what is there now.
            let mut seqs = HashMap::new();
            let mut busy: BusyById = HashMap::new();
            for handle in &handles {
                let Some(calendar) = calendars.get(*handle) else {
                    continue;
                };
                seqs.insert((*handle).to_owned(), sql.next_seq(calendar.id).await?);
                let mut times = Vec::new();
                for other in sql
                    .objects_in_range(calendar.id, micros(start), micros(end), max)
                    .await?
                {
                    if other.uid != found.uid {
                        times.extend(busy_in(&other.ics, &wanted, &limits));
                    }
                }
                busy.insert((*handle).to_owned(), times);
            }
            let chosen = book_all(requirements, &busy, &wanted, chrono_tz::UTC)
                .map_err(|e| Error::Conflict(format!("booked: {e}")))?;
            for (_, handle) in &chosen {
                let (Some(calendar), Some(seq)) = (calendars.get(handle), seqs.get(handle)) else {
                    continue;
                };
                let mut booked = row.clone();
                booked.name = name.clone();
                sql.upsert_object(calendar.id, &booked, Some(micros(start)), Some(micros(end)))
                    .await?;
                sql.log_change(calendar.id, *seq, &name, false).await?;
            }
            chosen
        });
        self.emit(
            "guss.calendar.booking.made",
            Some(by),
            &found.uid,
            serde_json::json!({ "resources": chosen.iter().map(|(_, h)| h.clone()).collect::<Vec<_>>() }),
        )
        .await;
        Ok(chosen)
    }
}
