//! The calendar store on SQLite and PostgreSQL: calendars, objects,
//! preconditions, UID uniqueness, sync with deletions, shares, time-range
//! candidates, bookable calendars that never double-book, tenant isolation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use guss_calendar::Error;
use guss_calendar::store::{
    CalendarStore, CollectionKind, NewCalendar, Precondition, TenantCalendars,
};
use guss_core::{MemoryEventSink, PersonId, Principal, SystemClock, TenantId};
use guss_testkit::{Backend, TestDb, backend_tests};

async fn store(db: &TestDb) -> CalendarStore {
    let location = match db.backend() {
        Backend::Sqlite => db.dir().unwrap().join("calendar").display().to_string(),
        Backend::Postgres => db.url().to_owned(),
    };
    CalendarStore::open(
        &location,
        Arc::new(SystemClock),
        Arc::new(MemoryEventSink::new()),
    )
    .await
    .unwrap()
}

fn who(calendars: &TenantCalendars) -> Principal {
    Principal::Person {
        tenant: calendars.tenant_id(),
        person: PersonId::new(),
    }
}

fn event(uid: &str, start: &str, end: &str, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:Termin {uid}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

backend_tests! {
    async fn objects_are_stored_with_preconditions(db: TestDb) {
        let calendars = store(&db).await.tenant(TenantId::new());
        let anna = who(&calendars);
        let calendar = calendars.create_calendar("anna", "praxis", NewCalendar::named("Praxis")).await.unwrap();
        assert!(matches!(calendars.create_calendar("anna", "praxis", NewCalendar::named("again")).await, Err(Error::Conflict(_))));
        let text = event("e1", "20300506T090000Z", "20300506T100000Z", "X-PRAXIS-RAUM:2\r\n");
        let (first, created) = calendars.put_object(&calendar, "e1.ics", &text, Precondition::IfNoneMatch, &anna).await.unwrap();
        assert!(created);
        assert!(first.ics.contains("X-PRAXIS-RAUM:2"), "unknown properties are kept");
        assert!(matches!(calendars.put_object(&calendar, "e1.ics", &text, Precondition::IfNoneMatch, &anna).await, Err(Error::PreconditionFailed)));
        assert!(matches!(calendars.put_object(&calendar, "e1.ics", &text, Precondition::IfMatch("stale".into()), &anna).await, Err(Error::PreconditionFailed)));
        let (second, created) = calendars.put_object(&calendar, "e1.ics", &text, Precondition::IfMatch(first.etag.clone()), &anna).await.unwrap();
        assert!(!created);
        assert_ne!(second.etag, first.etag);
        // The same UID under another name is refused (RFC 4791 no-uid-conflict).
        assert!(matches!(calendars.put_object(&calendar, "other.ics", &text, Precondition::None, &anna).await, Err(Error::Conflict(_))));
        // Not one calendar object: refused with the reason.
        let two = text.replace("END:VCALENDAR", "BEGIN:VEVENT\r\nUID:e2\r\nDTSTART:20300101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR");
        assert!(matches!(calendars.put_object(&calendar, "two.ics", &two, Precondition::None, &anna).await, Err(Error::Object(_))));
        assert!(matches!(calendars.put_object(&calendar, "bad.ics", "no calendar", Precondition::None, &anna).await, Err(Error::Object(_))));
        let tasks = calendars.create_calendar("anna", "aufgaben", NewCalendar::named("Aufgaben").components(&["VTODO"])).await.unwrap();
        assert!(matches!(calendars.put_object(&tasks, "e1.ics", &text, Precondition::None, &anna).await, Err(Error::Object(_))));
        calendars.delete_object(&calendar, "e1.ics", Precondition::IfMatch(second.etag.clone()), &anna).await.unwrap();
        assert!(calendars.object(&calendar, "e1.ics").await.unwrap().is_none());
        assert_eq!(calendars.calendars("anna").await.unwrap().len(), 2);
    }

    async fn sync_reports_changes_and_deletions(db: TestDb) {
        let calendars = store(&db).await.tenant(TenantId::new());
        let anna = who(&calendars);
        let calendar = calendars.create_calendar("anna", "kanzlei", NewCalendar::named("Fristen")).await.unwrap();
        for i in 0..5 {
            let text = event(&format!("f{i}"), "20300506T090000Z", "20300506T100000Z", "");
            calendars.put_object(&calendar, &format!("f{i}.ics"), &text, Precondition::None, &anna).await.unwrap();
        }
        let all = calendars.changes(&calendar, None, 100).await.unwrap();
        assert_eq!(all.changed.len(), 5);
        let token = all.position;
        calendars.delete_object(&calendar, "f1.ics", Precondition::None, &anna).await.unwrap();
        let text = event("f2", "20300507T090000Z", "20300507T100000Z", "");
        calendars.put_object(&calendar, "f2.ics", &text, Precondition::None, &anna).await.unwrap();
        let since = calendars.changes(&calendar, Some(token), 100).await.unwrap();
        assert_eq!(since.removed, ["f1.ics"]);
        assert_eq!(since.changed.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["f2.ics"]);
        assert!(since.position > token);
        // Nothing since the newest position; an unknown position is refused.
        assert!(calendars.changes(&calendar, Some(since.position), 100).await.unwrap().changed.is_empty());
        assert!(calendars.changes(&calendar, Some(since.position + 100), 100).await.is_err());
        // A small limit reports whole changes and says more remain.
        let first = calendars.changes(&calendar, Some(0), 2).await.unwrap();
        assert!(first.truncated);
        let rest = calendars.changes(&calendar, Some(first.position), 100).await.unwrap();
        assert!(!rest.truncated);
    }

    async fn time_range_candidates_include_open_ended_series(db: TestDb) {
        let calendars = store(&db).await.tenant(TenantId::new());
        let anna = who(&calendars);
        let calendar = calendars.create_calendar("anna", "c", NewCalendar::named("c")).await.unwrap();
        calendars.put_object(&calendar, "old.ics", &event("old", "20200101T090000Z", "20200101T100000Z", ""), Precondition::None, &anna).await.unwrap();
        calendars.put_object(&calendar, "weekly.ics", &event("weekly", "20200106T090000Z", "20200106T100000Z", "RRULE:FREQ=WEEKLY\r\n"), Precondition::None, &anna).await.unwrap();
        calendars.put_object(&calendar, "soon.ics", &event("soon", "20300506T090000Z", "20300506T100000Z", ""), Precondition::None, &anna).await.unwrap();
        let window = Utc.with_ymd_and_hms(2030, 5, 1, 0, 0, 0).unwrap()..Utc.with_ymd_and_hms(2030, 6, 1, 0, 0, 0).unwrap();
        let mut names: Vec<String> = calendars.objects_in_range(&calendar, &window).await.unwrap().into_iter().map(|o| o.name).collect();
        names.sort();
        assert_eq!(names, ["soon.ics", "weekly.ics"]);
    }

    async fn bookable_calendars_never_double_book(db: TestDb) {
        let calendars = store(&db).await.tenant(TenantId::new());
        let anna = who(&calendars);
        let car = calendars.create_calendar("car-1", "calendar", NewCalendar::named("Fahrschulwagen 1").kind(CollectionKind::Bookable)).await.unwrap();
        calendars.put_object(&car, "a.ics", &event("a", "20300506T100000Z", "20300506T110000Z", ""), Precondition::None, &anna).await.unwrap();
        let clash = event("b", "20300506T103000Z", "20300506T113000Z", "");
        assert!(matches!(calendars.put_object(&car, "b.ics", &clash, Precondition::None, &anna).await, Err(Error::Conflict(_))));
        // Back to back is fine; a transparent entry blocks nothing.
        calendars.put_object(&car, "c.ics", &event("c", "20300506T110000Z", "20300506T120000Z", ""), Precondition::None, &anna).await.unwrap();
        calendars.put_object(&car, "d.ics", &event("d", "20300506T100000Z", "20300506T120000Z", "TRANSP:TRANSPARENT\r\n"), Precondition::None, &anna).await.unwrap();
        // A recurring booking that hits an existing one in its third week is refused.
        let weekly = event("w", "20300422T100000Z", "20300422T103000Z", "RRULE:FREQ=WEEKLY;COUNT=4\r\n");
        assert!(matches!(calendars.put_object(&car, "w.ics", &weekly, Precondition::None, &anna).await, Err(Error::Conflict(_))));
        // Moving an existing booking onto itself is no clash.
        calendars.put_object(&car, "a.ics", &event("a", "20300506T093000Z", "20300506T103000Z", ""), Precondition::None, &anna).await.unwrap();
        // Many writers at once: exactly one of them gets the slot.
        let mut tasks = Vec::new();
        for i in 0..6 {
            let calendars = calendars.clone();
            let car = car.clone();
            let anna = anna.clone();
            tasks.push(tokio::spawn(async move {
                let text = event(&format!("race{i}"), "20300507T100000Z", "20300507T110000Z", "");
                calendars.put_object(&car, &format!("race{i}.ics"), &text, Precondition::None, &anna).await.is_ok()
            }));
        }
        let mut won = 0;
        for task in tasks {
            if task.await.unwrap() {
                won += 1;
            }
        }
        assert_eq!(won, 1);
    }

    async fn all_of_bookings_are_all_or_nothing(db: TestDb) {
        use guss_calendar::booking::Requirement;
        let calendars = store(&db).await.tenant(TenantId::new());
        let office = who(&calendars);
        for handle in ["kai", "lea", "mia", "car-1", "car-2"] {
            calendars.create_calendar(handle, "calendar", NewCalendar::named(handle).kind(CollectionKind::Bookable)).await.unwrap();
        }
        let pool = || Requirement::AnyOf(vec!["car-1".into(), "car-2".into()]);
        let lesson = |uid: &str| event(uid, "20300506T100000Z", "20300506T113000Z", "");
        let first = calendars.book_together(&[Requirement::One("kai".into()), pool()], &lesson("l1"), &office).await.unwrap();
        assert_eq!(first, [(0, "kai".to_owned()), (1, "car-1".to_owned())]);
        let second = calendars.book_together(&[Requirement::One("lea".into()), pool()], &lesson("l2"), &office).await.unwrap();
        assert_eq!(second[1], (1, "car-2".to_owned()), "the other car");
        // No car left: nothing is booked, Mia stays free.
        assert!(matches!(calendars.book_together(&[Requirement::One("mia".into()), pool()], &lesson("l3"), &office).await, Err(Error::Conflict(_))));
        let mia = calendars.calendar("mia", "calendar").await.unwrap().unwrap();
        assert!(calendars.objects(&mia).await.unwrap().is_empty());
        // Kai is taken at that time even with a free car later.
        assert!(calendars.book_together(&[Requirement::One("kai".into())], &lesson("l4"), &office).await.is_err());
        // Slots for a booking page skip what is booked.
        let rules = guss_calendar::booking::Availability::new(chrono_tz::Europe::Berlin)
            .open(&[chrono::Weekday::Mon], chrono::NaiveTime::from_hms_opt(10, 0, 0).unwrap(), chrono::NaiveTime::from_hms_opt(16, 0, 0).unwrap());
        let day = Utc.with_ymd_and_hms(2030, 5, 6, 0, 0, 0).unwrap()..Utc.with_ymd_and_hms(2030, 5, 7, 0, 0, 0).unwrap();
        let slots = calendars.bookable_slots("kai", &rules, &day, Utc.with_ymd_and_hms(2030, 5, 1, 0, 0, 0).unwrap()).await.unwrap();
        assert!(!slots.slots.is_empty());
        assert!(slots.slots.iter().all(|s| s.end <= Utc.with_ymd_and_hms(2030, 5, 6, 10, 0, 0).unwrap() || s.start >= Utc.with_ymd_and_hms(2030, 5, 6, 11, 30, 0).unwrap()), "{:?}", slots.slots);
    }

    async fn shares_and_tenants(db: TestDb) {
        let store = store(&db).await;
        let one = store.tenant(TenantId::new());
        let two = store.tenant(TenantId::new());
        let anna = who(&one);
        let team = one.create_calendar("anna", "team", NewCalendar::named("Team")).await.unwrap();
        one.share(&team, "ben", true, &anna).await.unwrap();
        one.share(&team, "carla", false, &anna).await.unwrap();
        assert_eq!(one.shares(&team).await.unwrap(), [("ben".to_owned(), true), ("carla".to_owned(), false)]);
        let shared = one.shared_with("ben").await.unwrap();
        assert_eq!(shared.len(), 1);
        assert_eq!(shared[0].0.slug, "team");
        one.unshare(&team, "carla", &anna).await.unwrap();
        assert!(one.shared_with("carla").await.unwrap().is_empty());
        one.put_object(&team, "x.ics", &event("x", "20300506T090000Z", "20300506T100000Z", ""), Precondition::None, &anna).await.unwrap();
        // Another tenant sees nothing of it, not even by id.
        assert!(two.calendar("anna", "team").await.unwrap().is_none());
        assert!(two.calendar_by_id(team.id).await.unwrap().is_none());
        assert!(two.calendars("anna").await.unwrap().is_empty());
        assert!(two.shared_with("ben").await.unwrap().is_empty());
    }
}
