//! Booking as a driving school and a therapy practice meet it: sessions
//! with buffers, rooms that answer invitations, cars from a pool, lessons
//! that need a student, an instructor and a car, and booking pages across
//! changes to and from summer time.
// Test helpers build known-good dates; a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Europe::Berlin;
use guss_calendar::booking::{
    Availability, BusyById, Decision, Interval, Reason, Requirement, Unavailable, book_all,
    bookable_slots, common_slots, decide, is_free, normalize, pick_from_pool,
};
use proptest::prelude::*;

const WORKDAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];
const EVERY_DAY: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

/// A local time in Berlin, in UTC.
fn berlin(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Berlin
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// The whole local day in Berlin.
fn berlin_day(y: i32, mo: u32, d: u32) -> Interval {
    let next = NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .succ_opt()
        .unwrap();
    use chrono::Datelike;
    berlin(y, mo, d, 0, 0)..berlin(next.year(), next.month(), next.day(), 0, 0)
}

/// Slot starts as local "HH:MM" in Berlin.
fn local_starts(slots: &[Interval]) -> Vec<String> {
    slots
        .iter()
        .map(|s| s.start.with_timezone(&Berlin).format("%H:%M").to_string())
        .collect()
}

/// A therapy practice: Monday to Friday 08:00–12:00 in Berlin, hour-long sessions.
fn practice() -> Availability {
    Availability::new(Berlin).open(&WORKDAYS, t(8, 0), t(12, 0))
}

/// Booked a week ahead, so notice never matters unless a test says so.
fn week_before() -> DateTime<Utc> {
    berlin(2030, 1, 1, 12, 0)
}

fn busy_by_id(entries: &[(&str, Vec<Interval>)]) -> BusyById {
    entries
        .iter()
        .map(|(id, busy)| ((*id).to_owned(), busy.clone()))
        .collect()
}

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

// 2030-01-07 is a Monday.

#[test]
fn back_to_back_sessions_are_allowed_without_buffers() {
    let rules = practice();
    let booked = [berlin(2030, 1, 7, 9, 0)..berlin(2030, 1, 7, 10, 0)];
    let slots = bookable_slots(&rules, &[], &booked, week_before(), &berlin_day(2030, 1, 7));
    assert_eq!(local_starts(&slots.slots), ["08:00", "10:00", "11:00"]);
    assert!(!slots.truncated);
    let next = berlin(2030, 1, 7, 10, 0)..berlin(2030, 1, 7, 11, 0);
    assert_eq!(
        decide(&rules, &[], &booked, &next, week_before()),
        Decision::Accept
    );
}

#[test]
fn back_to_back_sessions_are_refused_with_buffers() {
    let mut rules = practice();
    rules.buffer_after = TimeDelta::minutes(15);
    rules.slot_step = TimeDelta::minutes(15);
    let booked = [berlin(2030, 1, 7, 9, 0)..berlin(2030, 1, 7, 10, 0)];
    let slots = bookable_slots(&rules, &[], &booked, week_before(), &berlin_day(2030, 1, 7));
    // Before 09:00 a session and its notes would run into the booking;
    // after it, its own 15 minutes of notes come first.
    assert_eq!(
        local_starts(&slots.slots),
        ["10:15", "10:30", "10:45", "11:00"]
    );
    let next = berlin(2030, 1, 7, 10, 0)..berlin(2030, 1, 7, 11, 0);
    assert_eq!(
        decide(&rules, &[], &booked, &next, week_before()),
        Decision::Decline(Reason::Busy)
    );
}

#[test]
fn buffers_before_and_private_appointments_block_too() {
    let mut rules = practice();
    rules.buffer_before = TimeDelta::minutes(30);
    // A private appointment 10:00–10:30. Sessions every 45 minutes: 09:30
    // overlaps it, 10:15 would prepare from 09:45, 11:00 prepares from
    // 10:30, just after it.
    rules.slot_step = TimeDelta::minutes(45);
    let private = [berlin(2030, 1, 7, 10, 0)..berlin(2030, 1, 7, 10, 30)];
    let slots = bookable_slots(
        &rules,
        &private,
        &[],
        week_before(),
        &berlin_day(2030, 1, 7),
    );
    assert_eq!(local_starts(&slots.slots), ["08:00", "08:45", "11:00"]);
}

#[test]
fn a_room_declines_when_taken_and_accepts_once_the_booking_is_cancelled() {
    let room = Availability::new(Berlin).open(&WORKDAYS, t(7, 0), t(20, 0));
    let meeting = berlin(2030, 1, 8, 14, 0)..berlin(2030, 1, 8, 15, 30);
    let mut bookings = vec![
        berlin(2030, 1, 8, 9, 0)..berlin(2030, 1, 8, 10, 0),
        berlin(2030, 1, 8, 15, 0)..berlin(2030, 1, 8, 16, 0),
    ];
    let decision = decide(&room, &[], &bookings, &meeting, week_before());
    assert_eq!(decision, Decision::Decline(Reason::Busy));
    assert_eq!(decision.partstat(), "DECLINED");
    // The 15:00 booking is cancelled: the store passes the list without it.
    bookings.remove(1);
    let decision = decide(&room, &[], &bookings, &meeting, week_before());
    assert_eq!(decision, Decision::Accept);
    assert_eq!(decision.partstat(), "ACCEPTED");
    // Outside opening hours, on a Saturday, or in the past.
    let late = berlin(2030, 1, 8, 19, 30)..berlin(2030, 1, 8, 20, 30);
    assert_eq!(
        decide(&room, &[], &bookings, &late, week_before()),
        Decision::Decline(Reason::OutsideHours)
    );
    let saturday = berlin(2030, 1, 12, 10, 0)..berlin(2030, 1, 12, 11, 0);
    assert_eq!(
        decide(&room, &[], &bookings, &saturday, week_before()),
        Decision::Decline(Reason::OutsideHours)
    );
    assert_eq!(
        decide(&room, &[], &bookings, &meeting, berlin(2030, 1, 9, 0, 0)),
        Decision::Decline(Reason::TooShortNotice)
    );
    let empty = meeting.end..meeting.start;
    assert_eq!(
        decide(&room, &[], &bookings, &empty, week_before()),
        Decision::Decline(Reason::Empty)
    );
}

#[test]
fn busy_lists_are_normalized_and_checked_in_any_order() {
    let at = |h| berlin(2030, 1, 7, h, 0);
    let busy = [
        at(14)..at(15),
        at(9)..at(11),
        at(10)..at(12),
        at(12)..at(13),
    ];
    assert_eq!(normalize(&busy), [at(9)..at(13), at(14)..at(15)]);
    assert!(is_free(&busy, &(at(13)..at(14))));
    assert!(!is_free(&busy, &(at(12)..at(14))));
    assert!(!is_free(&busy, &(at(13)..at(13))));
}

#[test]
fn the_pool_picks_a_free_car_and_never_a_busy_one() {
    let lesson = berlin(2030, 1, 7, 10, 0)..berlin(2030, 1, 7, 11, 30);
    let busy = busy_by_id(&[
        // Busy during the lesson.
        (
            "car-a",
            vec![berlin(2030, 1, 7, 10, 30)..berlin(2030, 1, 7, 12, 0)],
        ),
        // Free then, but already out three hours that day.
        (
            "car-b",
            vec![berlin(2030, 1, 7, 13, 0)..berlin(2030, 1, 7, 16, 0)],
        ),
        // Free then, out one hour that day (and a lot the day before).
        (
            "car-c",
            vec![
                berlin(2030, 1, 6, 8, 0)..berlin(2030, 1, 6, 18, 0),
                berlin(2030, 1, 7, 8, 0)..berlin(2030, 1, 7, 9, 0),
            ],
        ),
    ]);
    let pool = ids(&["car-a", "car-b", "car-c"]);
    assert_eq!(pick_from_pool(&pool, &busy, &lesson, Berlin), Some("car-c"));
    // Equal load: the smallest id.
    let even = busy_by_id(&[("car-b", vec![]), ("car-c", vec![]), ("car-a", vec![])]);
    assert_eq!(pick_from_pool(&pool, &even, &lesson, Berlin), Some("car-a"));
    // Everything busy, or unknown to the store: no car.
    let only_a = ids(&["car-a", "car-x"]);
    assert_eq!(pick_from_pool(&only_a, &busy, &lesson, Berlin), None);
}

#[test]
fn two_any_car_requirements_get_two_cars_or_fail() {
    let lesson = berlin(2030, 1, 7, 10, 0)..berlin(2030, 1, 7, 11, 0);
    let cars = Requirement::AnyOf(ids(&["car-1", "car-2", "car-3"]));
    let two_cars = [cars.clone(), cars.clone()];
    let busy = busy_by_id(&[
        ("car-1", vec![]),
        ("car-2", vec![lesson.clone()]),
        ("car-3", vec![]),
    ]);
    assert_eq!(
        book_all(&two_cars, &busy, &lesson, Berlin),
        Ok(vec![(0, "car-1".to_owned()), (1, "car-3".to_owned())])
    );
    let busy = busy_by_id(&[
        ("car-1", vec![]),
        ("car-2", vec![lesson.clone()]),
        ("car-3", vec![lesson.clone()]),
    ]);
    assert_eq!(
        book_all(&two_cars, &busy, &lesson, Berlin),
        Err(Unavailable {
            requirements: vec![1]
        })
    );
}

#[test]
fn a_lesson_needs_student_instructor_and_a_car() {
    let lesson = berlin(2030, 1, 7, 10, 0)..berlin(2030, 1, 7, 11, 0);
    let requirements = [
        Requirement::One("student-lena".into()),
        Requirement::One("instructor-jonas".into()),
        Requirement::AnyOf(ids(&["car-1", "car-2"])),
    ];
    let mut busy = busy_by_id(&[
        ("student-lena", vec![]),
        ("instructor-jonas", vec![]),
        ("car-1", vec![lesson.clone()]),
        ("car-2", vec![]),
    ]);
    assert_eq!(
        book_all(&requirements, &busy, &lesson, Berlin),
        Ok(vec![
            (0, "student-lena".to_owned()),
            (1, "instructor-jonas".to_owned()),
            (2, "car-2".to_owned()),
        ])
    );
    // The instructor is busy and the last car goes out: both fail, the student does not.
    busy.insert("instructor-jonas".into(), vec![lesson.clone()]);
    busy.insert("car-2".into(), vec![lesson.clone()]);
    assert_eq!(
        book_all(&requirements, &busy, &lesson, Berlin),
        Err(Unavailable {
            requirements: vec![1, 2]
        })
    );
    // The same person twice in one booking cannot be met twice.
    let twice = [
        Requirement::One("student-lena".into()),
        Requirement::One("student-lena".into()),
    ];
    assert_eq!(
        book_all(&twice, &busy, &lesson, Berlin),
        Err(Unavailable {
            requirements: vec![1]
        })
    );
    assert_eq!(book_all(&[], &busy, &lesson, Berlin), Ok(vec![]));
}

#[test]
fn lesson_slots_need_the_instructor_and_some_car_of_the_pool() {
    let mut instructor = Availability::new(Berlin).open(&WORKDAYS, t(8, 0), t(12, 0));
    instructor.slot_length = TimeDelta::minutes(90);
    instructor.slot_step = TimeDelta::minutes(90);
    let busy = busy_by_id(&[
        ("student-lena", vec![]),
        // Both cars out 09:30–11:00: the 09:30 lesson has no car.
        (
            "car-1",
            vec![berlin(2030, 1, 7, 9, 30)..berlin(2030, 1, 7, 11, 0)],
        ),
        (
            "car-2",
            vec![berlin(2030, 1, 7, 8, 0)..berlin(2030, 1, 7, 11, 0)],
        ),
    ]);
    let slots = bookable_slots(
        &instructor,
        &[],
        &[],
        week_before(),
        &berlin_day(2030, 1, 7),
    );
    assert_eq!(local_starts(&slots.slots), ["08:00", "09:30"]);
    let needs = [
        Requirement::One("student-lena".into()),
        Requirement::AnyOf(ids(&["car-1", "car-2"])),
    ];
    let lessons = common_slots(&slots.slots, &needs, &busy, Berlin);
    assert_eq!(local_starts(&lessons), ["08:00"]);
}

#[test]
fn working_hours_stay_local_across_the_spring_change() {
    let rules = Availability::new(Berlin).open(&EVERY_DAY, t(8, 0), t(12, 0));
    let now = berlin(2030, 3, 1, 0, 0);
    let range = berlin(2030, 3, 30, 0, 0)..berlin(2030, 4, 2, 0, 0);
    let slots = bookable_slots(&rules, &[], &[], now, &range).slots;
    assert_eq!(
        local_starts(&slots),
        ["08:00", "09:00", "10:00", "11:00"].repeat(3)
    );
    let utc: Vec<u32> = slots.iter().map(|s| s.start.hour()).collect();
    assert_eq!(utc, [7, 8, 9, 10, 6, 7, 8, 9, 6, 7, 8, 9]);
    // Every slot lasts exactly an hour, on the day of the change too.
    assert!(slots.iter().all(|s| s.end - s.start == TimeDelta::hours(1)));
}

#[test]
fn working_hours_stay_local_across_the_autumn_change() {
    let rules = Availability::new(Berlin).open(&EVERY_DAY, t(8, 0), t(12, 0));
    let now = berlin(2030, 10, 1, 0, 0);
    let range = berlin(2030, 10, 26, 0, 0)..berlin(2030, 10, 29, 0, 0);
    let slots = bookable_slots(&rules, &[], &[], now, &range).slots;
    assert_eq!(
        local_starts(&slots),
        ["08:00", "09:00", "10:00", "11:00"].repeat(3)
    );
    let utc: Vec<u32> = slots.iter().map(|s| s.start.hour()).collect();
    assert_eq!(utc, [6, 7, 8, 9, 7, 8, 9, 10, 7, 8, 9, 10]);
}

#[test]
fn minimum_notice_and_booking_window_cut_slots() {
    let mut rules = practice();
    rules.min_notice = TimeDelta::hours(24);
    rules.booking_window = Some(TimeDelta::days(2));
    // Now: Monday 09:30. The earliest slot is Tuesday 10:00; the last
    // starts no later than Wednesday 09:30.
    let now = berlin(2030, 1, 7, 9, 30);
    let week = berlin(2030, 1, 7, 0, 0)..berlin(2030, 1, 14, 0, 0);
    let slots = bookable_slots(&rules, &[], &[], now, &week).slots;
    let starts: Vec<String> = slots
        .iter()
        .map(|s| {
            s.start
                .with_timezone(&Berlin)
                .format("%a %H:%M")
                .to_string()
        })
        .collect();
    assert_eq!(starts, ["Tue 10:00", "Tue 11:00", "Wed 08:00", "Wed 09:00"]);
    let too_soon = berlin(2030, 1, 8, 9, 0)..berlin(2030, 1, 8, 10, 0);
    assert_eq!(
        decide(&rules, &[], &[], &too_soon, now),
        Decision::Decline(Reason::TooShortNotice)
    );
    let too_far = berlin(2030, 1, 9, 10, 0)..berlin(2030, 1, 9, 11, 0);
    assert_eq!(
        decide(&rules, &[], &[], &too_far, now),
        Decision::Decline(Reason::TooFarAhead)
    );
}

#[test]
fn the_daily_cap_counts_existing_bookings_of_that_local_day() {
    let mut rules = practice();
    rules.daily_cap = Some(2);
    let monday = berlin_day(2030, 1, 7);
    let one = [berlin(2030, 1, 7, 8, 0)..berlin(2030, 1, 7, 9, 0)];
    let slots = bookable_slots(&rules, &[], &one, week_before(), &monday);
    assert_eq!(local_starts(&slots.slots), ["09:00", "10:00", "11:00"]);
    // A second booking that day, made outside the practice's hours
    // (00:30 local is still Sunday 23:30 in UTC), reaches the cap.
    let two = [
        one[0].clone(),
        berlin(2030, 1, 7, 0, 30)..berlin(2030, 1, 7, 1, 0),
    ];
    assert_eq!(two[1].start.to_rfc3339(), "2030-01-06T23:30:00+00:00");
    let slots = bookable_slots(&rules, &[], &two, week_before(), &monday);
    assert!(slots.slots.is_empty());
    let wanted = berlin(2030, 1, 7, 10, 0)..berlin(2030, 1, 7, 11, 0);
    assert_eq!(
        decide(&rules, &[], &two, &wanted, week_before()),
        Decision::Decline(Reason::DailyCapReached)
    );
    // Tuesday is a new day.
    let slots = bookable_slots(&rules, &[], &two, week_before(), &berlin_day(2030, 1, 8));
    assert_eq!(slots.slots.len(), 4);
}

#[test]
fn holidays_give_no_slots() {
    let mut rules = practice();
    // Good Friday and Easter Monday 2030.
    let good_friday = NaiveDate::from_ymd_opt(2030, 4, 19).unwrap();
    let easter_monday = NaiveDate::from_ymd_opt(2030, 4, 22).unwrap();
    rules.closed.extend([good_friday, easter_monday]);
    let now = berlin(2030, 4, 1, 0, 0);
    let easter = berlin(2030, 4, 18, 0, 0)..berlin(2030, 4, 24, 0, 0);
    let slots = bookable_slots(&rules, &[], &[], now, &easter).slots;
    let days: Vec<String> = slots
        .iter()
        .map(|s| s.start.with_timezone(&Berlin).format("%d %H").to_string())
        .collect();
    assert_eq!(
        days,
        [
            "18 08", "18 09", "18 10", "18 11", "23 08", "23 09", "23 10", "23 11"
        ]
    );
    let wanted = berlin(2030, 4, 19, 9, 0)..berlin(2030, 4, 19, 10, 0);
    assert_eq!(
        decide(&rules, &[], &[], &wanted, now),
        Decision::Decline(Reason::Closed)
    );
}

#[test]
fn split_days_and_the_slot_limit() {
    let mut rules = Availability::new(Berlin)
        .open(&[Weekday::Tue], t(8, 0), t(10, 0))
        .open(&[Weekday::Tue], t(14, 0), t(16, 0));
    let tuesday = berlin_day(2030, 1, 8);
    let slots = bookable_slots(&rules, &[], &[], week_before(), &tuesday);
    assert_eq!(
        local_starts(&slots.slots),
        ["08:00", "09:00", "14:00", "15:00"]
    );
    rules.limits.max_slots = 3;
    let slots = bookable_slots(&rules, &[], &[], week_before(), &tuesday);
    assert_eq!(local_starts(&slots.slots), ["08:00", "09:00", "14:00"]);
    assert!(slots.truncated);
    // Exactly as many slots as the limit: nothing was cut. A limit of zero
    // returns nothing and says so.
    rules.limits.max_slots = 4;
    assert!(!bookable_slots(&rules, &[], &[], week_before(), &tuesday).truncated);
    rules.limits.max_slots = 0;
    let none = bookable_slots(&rules, &[], &[], week_before(), &tuesday);
    assert!(none.slots.is_empty() && none.truncated);
    // Nonsense lengths give nothing rather than looping.
    rules.slot_step = TimeDelta::zero();
    assert!(
        bookable_slots(&rules, &[], &[], week_before(), &tuesday)
            .slots
            .is_empty()
    );
}

fn hours_strategy() -> impl Strategy<Value = Vec<(u8, u32, u32)>> {
    // (weekday index, start quarter hour from 06:00, length in quarter hours)
    prop::collection::vec((0u8..7, 0u32..56, 1u32..20), 1..6)
}

fn intervals_strategy(base: DateTime<Utc>) -> impl Strategy<Value = Vec<Interval>> {
    prop::collection::vec((0i64..(60 * 24 * 21), 1i64..300), 0..25).prop_map(move |raw| {
        raw.into_iter()
            .map(|(offset, length)| {
                let start = base + TimeDelta::minutes(offset);
                start..start + TimeDelta::minutes(length)
            })
            .collect()
    })
}

fn overlaps(a: &Interval, b: &Interval) -> bool {
    a.start < b.end && b.start < a.end
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn slots_never_overlap_busy_time_nor_leave_working_hours(
        hours in hours_strategy(),
        // Three weeks starting at a day in 2030, so the changes to and
        // from summer time are among the cases.
        start_day in 0i64..340,
        before in 0i64..40,
        after in 0i64..40,
        length in 15i64..120,
        step in 5i64..90,
        (busy, bookings) in (intervals_strategy(berlin(2030, 1, 1, 0, 0)), intervals_strategy(berlin(2030, 1, 1, 0, 0))),
    ) {
        let shift = TimeDelta::days(start_day);
        let busy: Vec<Interval> = busy.into_iter().map(|b| b.start + shift..b.end + shift).collect();
        let bookings: Vec<Interval> = bookings.into_iter().map(|b| b.start + shift..b.end + shift).collect();
        let mut rules = Availability::new(Berlin);
        for (day, quarter, quarters) in &hours {
            let start = 6 * 60 + 15 * quarter;
            let end = (start + 15 * quarters).min(23 * 60 + 45);
            rules = rules.open(&[EVERY_DAY[usize::from(*day)]], t(start / 60, start % 60), t(end / 60, end % 60));
        }
        rules.limits.max_slots = 100_000;
        rules.buffer_before = TimeDelta::minutes(before);
        rules.buffer_after = TimeDelta::minutes(after);
        rules.slot_length = TimeDelta::minutes(length);
        rules.slot_step = TimeDelta::minutes(step);
        let now = berlin(2029, 12, 1, 0, 0);
        let range = berlin(2030, 1, 1, 0, 0) + shift..berlin(2030, 1, 22, 0, 0) + shift;
        let found = bookable_slots(&rules, &busy, &bookings, now, &range);
        prop_assert!(!found.truncated);
        for pair in found.slots.windows(2) {
            prop_assert!(pair[0].start < pair[1].start);
        }
        for slot in &found.slots {
            prop_assert!(range.start <= slot.start && slot.start < range.end);
            prop_assert_eq!(slot.end - slot.start, rules.slot_length);
            let padded = slot.start - rules.buffer_before..slot.end + rules.buffer_after;
            for b in &busy {
                prop_assert!(!overlaps(&padded, b), "{:?} overlaps busy {:?}", slot, b);
            }
            for b in &bookings {
                let b_padded = b.start - rules.buffer_before..b.end + rules.buffer_after;
                prop_assert!(!overlaps(&padded, &b_padded), "{:?} overlaps booking {:?}", slot, b);
            }
            // Within the union of that weekday's local hours.
            let local_start = slot.start.with_timezone(&Berlin);
            let local_end = slot.end.with_timezone(&Berlin);
            prop_assert_eq!(local_start.date_naive(), local_end.date_naive());
            let weekday = chrono::Datelike::weekday(&local_start);
            let mut day_hours: Vec<(NaiveTime, NaiveTime)> = rules
                .hours
                .iter()
                .filter(|h| h.day == weekday && h.start < h.end)
                .map(|h| (h.start, h.end))
                .collect();
            day_hours.sort();
            let mut merged: Vec<(NaiveTime, NaiveTime)> = Vec::new();
            for (s, e) in day_hours {
                match merged.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => merged.push((s, e)),
                }
            }
            let (from, to) = (local_start.time(), local_end.time());
            prop_assert!(
                merged.iter().any(|(s, e)| *s <= from && to <= *e),
                "{:?}..{:?} outside {:?}", from, to, merged
            );
            // What the page offers, the practitioner's calendar accepts.
            prop_assert_eq!(decide(&rules, &busy, &bookings, slot, now), Decision::Accept);
        }
    }

    #[test]
    fn book_all_never_assigns_an_id_twice_nor_a_busy_one(
        requirements in prop::collection::vec(
            prop_oneof![
                (0usize..6).prop_map(|i| Requirement::One(format!("id-{i}"))),
                prop::collection::vec(0usize..6, 0..4)
                    .prop_map(|m| Requirement::AnyOf(m.into_iter().map(|i| format!("id-{i}")).collect())),
            ],
            0..5,
        ),
        busy_flags in prop::collection::vec(prop_oneof![3 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)], 6),
    ) {
        let wanted = berlin(2030, 1, 7, 10, 0)..berlin(2030, 1, 7, 11, 0);
        // 0: free, 1: busy during the lesson, 2: unknown to the store.
        let mut busy = BusyById::new();
        for (i, flag) in busy_flags.iter().enumerate() {
            match flag {
                0 => { busy.insert(format!("id-{i}"), vec![berlin(2030, 1, 7, 8, 0)..berlin(2030, 1, 7, 10, 0)]); }
                1 => { busy.insert(format!("id-{i}"), vec![berlin(2030, 1, 7, 10, 30)..berlin(2030, 1, 7, 12, 0)]); }
                _ => {}
            }
        }
        let options: Vec<Vec<String>> = requirements
            .iter()
            .map(|r| match r {
                Requirement::One(id) => vec![id.clone()],
                Requirement::AnyOf(ids) => ids.clone(),
            })
            .collect();
        let usable = |id: &String| busy.get(id).is_some_and(|b| is_free(b, &wanted));
        match book_all(&requirements, &busy, &wanted, Berlin) {
            Ok(chosen) => {
                prop_assert_eq!(chosen.len(), requirements.len());
                let mut seen = std::collections::HashSet::new();
                for (index, (requirement, id)) in chosen.iter().enumerate() {
                    prop_assert_eq!(*requirement, index);
                    prop_assert!(seen.insert(id.clone()), "{} chosen twice", id);
                    prop_assert!(usable(id), "{} is busy or unknown", id);
                    prop_assert!(options[index].contains(id));
                }
            }
            Err(Unavailable { requirements: failed }) => {
                prop_assert!(!failed.is_empty());
                prop_assert!(failed.windows(2).all(|p| p[0] < p[1]));
                // No assignment exists at all (brute force over the options).
                prop_assert!(!assignable(&options, &usable, &mut Vec::new()));
            }
        }
    }
}

/// Whether each requirement from `taken.len()` on can get a distinct usable id.
fn assignable(
    options: &[Vec<String>],
    usable: &dyn Fn(&String) -> bool,
    taken: &mut Vec<String>,
) -> bool {
    let Some(choices) = options.get(taken.len()) else {
        return true;
    };
    for id in choices {
        if usable(id) && !taken.contains(id) {
            taken.push(id.clone());
            let found = assignable(options, usable, taken);
            taken.pop();
            if found {
                return true;
            }
        }
    }
    false
}
