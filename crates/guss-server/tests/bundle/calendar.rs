//! The calendar pages through the bundle's router, on SQLite and
//! PostgreSQL: a weekly series in the office calendar, one occurrence moved
//! and another cancelled (seen on the week and over CalDAV), a stale form
//! refused, the series changed and deleted; rooms added by admins only,
//! booked once and refused clearly the second time, colleagues invited
//! with their free/busy shown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use crate::support::{Browser, LOCAL, field, first_owner, office, send, token_of};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use guss_testkit::backend_tests;

/// The object name in an event page's address.
fn object_of(location: &str) -> String {
    let name = location.split("name=").nth(1).unwrap();
    name.split('&').next().unwrap().to_owned()
}

/// The events listed under the day `iso` of a week page.
fn day<'a>(page: &'a str, iso: &str) -> &'a str {
    let from = page
        .find(&format!("data-day=\"{iso}\""))
        .expect("the day is on the page");
    let rest = &page[from..];
    &rest[..rest.find("</section>").unwrap()]
}

fn get_ics(path: &str, user: &str, password: &str) -> Request<Body> {
    use base64::Engine as _;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    Request::builder()
        .method("GET")
        .uri(path)
        .header("host", LOCAL)
        .header("authorization", format!("Basic {credentials}"))
        .body(Body::empty())
        .unwrap()
}

/// The event form's fields for an event on `date` from `start` to `end`.
fn event<'a>(
    csrf: &'a str,
    cal: &'a str,
    title: &'a str,
    date: &'a str,
    start: &'a str,
    end: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("cal", cal),
        ("title", title),
        ("start_date", date),
        ("start_time", start),
        ("end_date", date),
        ("end_time", end),
    ]
}

backend_tests! {
    async fn a_weekly_series_with_one_occurrence_moved_and_one_cancelled(db: TestDb) {
        let office = office(&db).await;
        let mut anna = first_owner(&office.app).await;
        let page = anna.get("/calendar?date=2027-03-01").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("href=\"/calendar\""), "in the navigation");
        assert!(page.body.contains("/dav/calendars/anna@kanzlei.example/office~buero/"), "the subscribe address of the office calendar");
        let csrf = anna.get("/devices").await.csrf();
        let form = anna.get("/calendar/new?date=2027-03-01").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        assert!(form.body.contains("value=\"office/buero\""), "the office calendar can be chosen");

        // A weekly series in the office calendar, from Monday 1 March 2027.
        let mut fields = event(&csrf, "office/buero", "Teamrunde", "2027-03-01", "09:00", "10:00");
        fields.push(("repeat", "weekly"));
        let saved = anna.post_form("/calendar/save", &fields).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let location = saved.location.unwrap();
        assert!(location.ends_with("&done=saved"), "{location}");
        let name = object_of(&location);
        let shown = anna.get(&location).await;
        assert!(shown.body.contains("Der Termin ist gespeichert."), "{}", shown.body);
        // Across the change to summer time (28 March) it stays at 09:00.
        let week = anna.get("/calendar?date=2027-03-29").await;
        assert!(day(&week.body, "2027-03-29").contains("09:00–10:00"), "{}", week.body);
        assert!(day(&week.body, "2027-03-29").contains("Teamrunde"));

        // Move the occurrence of 15 March (08:00 UTC) to Tuesday afternoon.
        let rid = 1_805_097_600; // 2027-03-15T08:00:00Z
        let occurrence = anna.get(&format!("/calendar/event?cal=office/buero&name={name}&at={rid}")).await;
        assert_eq!(occurrence.status, StatusCode::OK, "{}", occurrence.body);
        let etag = field(&occurrence.body, "/calendar/occurrence/move", "etag");
        let moved = anna.post_form("/calendar/occurrence/move", &[
            ("csrf", &csrf), ("cal", "office/buero"), ("name", &name), ("etag", &etag), ("at", &rid.to_string()),
            ("start_date", "2027-03-16"), ("start_time", "14:00"), ("end_date", "2027-03-16"), ("end_time", "15:00"),
        ]).await;
        assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
        assert!(moved.location.as_deref().unwrap().ends_with("&done=moved"));
        let week = anna.get("/calendar?date=2027-03-15").await;
        assert!(!day(&week.body, "2027-03-15").contains("Teamrunde"), "{}", week.body);
        assert!(day(&week.body, "2027-03-16").contains("14:00–15:00"), "{}", week.body);

        // A form made before the move is refused, not applied.
        let stale = anna.post_form("/calendar/occurrence/cancel", &[
            ("csrf", &csrf), ("cal", "office/buero"), ("name", &name), ("etag", &etag), ("at", "1805702400"),
        ]).await;
        assert_eq!(stale.status, StatusCode::BAD_REQUEST);
        assert!(stale.body.contains("inzwischen anderswo geändert"), "{}", stale.body);

        // Cancel the occurrence of 22 March (08:00 UTC).
        let page = anna.get(&format!("/calendar/event?cal=office/buero&name={name}&at=1805702400")).await;
        let etag = field(&page.body, "/calendar/occurrence/cancel", "etag");
        let cancelled = anna.post_form("/calendar/occurrence/cancel", &[
            ("csrf", &csrf), ("cal", "office/buero"), ("name", &name), ("etag", &etag), ("at", "1805702400"),
        ]).await;
        assert_eq!(cancelled.location.as_deref(), Some("/calendar?date=2027-03-22&done=occurrence_cancelled"));
        let week = anna.get("/calendar?date=2027-03-22").await;
        assert!(!week.body.contains("Teamrunde"), "{}", week.body);

        // Over CalDAV, with an app password: the series, its exception and its exclusion.
        anna.step_up().await;
        let created = anna.post_json("/api/identity/app-passwords", serde_json::json!({ "label": "Kalender", "scopes": ["calendar"] })).await;
        let password = created.json()["password"].as_str().unwrap().to_owned();
        let ics = send(&office.app, get_ics(&format!("/dav/calendars/anna@kanzlei.example/office~buero/{name}"), "anna@kanzlei.example", &password)).await;
        assert_eq!(ics.status, StatusCode::OK, "{}", ics.body);
        assert!(ics.body.contains("RRULE:FREQ=WEEKLY"), "{}", ics.body);
        assert!(ics.body.contains("RECURRENCE-ID;TZID=Europe/Berlin:20270315T090000"), "{}", ics.body);
        assert!(ics.body.contains("DTSTART;TZID=Europe/Berlin:20270316T140000"), "{}", ics.body);
        assert!(ics.body.contains("EXDATE;TZID=Europe/Berlin:20270322T090000"), "{}", ics.body);

        // The whole series changed: the new title everywhere, the exception kept.
        let edit = anna.get(&format!("/calendar/edit?cal=office/buero&name={name}")).await;
        assert!(edit.body.contains("value=\"Teamrunde\""), "{}", edit.body);
        let etag = field(&edit.body, "name=\"name\"", "etag");
        let mut fields = event(&csrf, "office/buero", "Teamrunde (neu)", "2027-03-01", "09:00", "10:00");
        fields.extend([("repeat", "weekly"), ("name", name.as_str()), ("etag", etag.as_str())]);
        let changed = anna.post_form("/calendar/save", &fields).await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
        let week = anna.get("/calendar?date=2027-03-29").await;
        assert!(week.body.contains("Teamrunde (neu)"), "{}", week.body);
        let week = anna.get("/calendar?date=2027-03-15").await;
        assert!(day(&week.body, "2027-03-16").contains("14:00–15:00"), "{}", week.body);

        // Bad times are said on the form, and nothing is saved.
        let bad = anna.post_form("/calendar/save", &event(&csrf, "office/buero", "Falsch", "2027-03-02", "11:00", "10:00")).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("Das Ende muss nach dem Beginn liegen"), "{}", bad.body);
        assert!(bad.body.contains("value=\"Falsch\""), "the form keeps what was typed");
        let gap = anna.post_form("/calendar/save", &event(&csrf, "office/buero", "Lücke", "2027-03-28", "02:30", "04:00")).await;
        assert!(gap.body.contains("Zeitumstellung"), "{}", gap.body);

        // Dates far out are refused with a sentence, and pages stay whole.
        let far = anna.post_form("/calendar/save", &event(&csrf, "office/buero", "Fern", "3000-12-31", "09:00", "10:00")).await;
        assert_eq!(far.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(far.body.contains("zwischen den Jahren 1900 und 2099"), "{}", far.body);
        for path in ["/calendar?date=262143-12-31", "/calendar?date=-262143-01-01&view=day", "/calendar/new?date=9999-12-31"] {
            assert_eq!(anna.get(path).await.status, StatusCode::OK, "{path}");
        }
        let nowhere = anna.get(&format!("/calendar/event?cal=office/buero&name={name}&at=-8334601228800")).await;
        assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
        // Only occurrences the series has can be moved or cancelled.
        let page = anna.get(&format!("/calendar/event?cal=office/buero&name={name}")).await;
        let etag = field(&page.body, "/calendar/delete", "etag");
        for at in ["8210298412799", "1805097601"] {
            let made_up = anna.post_form("/calendar/occurrence/cancel", &[("csrf", &csrf), ("cal", "office/buero"), ("name", &name), ("etag", &etag), ("at", at)]).await;
            assert_eq!(made_up.status, StatusCode::NOT_FOUND, "{at}");
        }

        // Deleted: gone from the week.
        let page = anna.get(&format!("/calendar/event?cal=office/buero&name={name}")).await;
        let etag = field(&page.body, "/calendar/delete", "etag");
        let deleted = anna.post_form("/calendar/delete", &[("csrf", &csrf), ("cal", "office/buero"), ("name", &name), ("etag", &etag)]).await;
        assert_eq!(deleted.location.as_deref(), Some("/calendar?date=2027-03-01&done=deleted"));
        let week = anna.get("/calendar?date=2027-03-29").await;
        assert!(!week.body.contains("Teamrunde"), "{}", week.body);
        let day_view = anna.get("/calendar?view=day&date=2027-03-29&lang=en").await;
        assert!(day_view.body.contains("No events"), "{}", day_view.body);
    }

    async fn rooms_are_booked_once_and_colleagues_free_busy_is_shown(db: TestDb) {
        let office = office(&db).await;
        let mut anna = first_owner(&office.app).await;
        let csrf = anna.get("/devices").await.csrf();

        // Rooms are added by admins, after a passkey confirmation.
        let early = anna.post_form("/calendar/bookables/add", &[("csrf", &csrf), ("name", "Besprechung"), ("kind", "room")]).await;
        assert_eq!(early.status, StatusCode::BAD_REQUEST, "a step-up first");
        anna.step_up().await;
        let added = anna.post_form("/calendar/bookables/add", &[("csrf", &csrf), ("name", "Besprechung"), ("kind", "room")]).await;
        assert_eq!(added.location.as_deref(), Some("/calendar/bookables?done=bookable_added"));
        let car = anna.post_form("/calendar/bookables/add", &[("csrf", &csrf), ("name", "Dienstwagen"), ("kind", "car")]).await;
        assert_eq!(car.status, StatusCode::SEE_OTHER);
        let list = anna.get("/calendar/bookables").await;
        assert!(list.body.contains("data-bookable=\"raum-besprechung\""), "{}", list.body);
        assert!(list.body.contains("raum-besprechung@localhost"), "{}", list.body);
        assert!(list.body.contains("data-bookable=\"fahrzeug-dienstwagen\""), "{}", list.body);

        // Ben joins as a member.
        let invited = anna.post_form("/people/invite", &[("csrf", &csrf), ("name", "Ben Meier"), ("email", "ben@kanzlei.example")]).await;
        let link = invited.body.split("data-invitation-link").next().unwrap();
        let link = &link[link.rfind("value=\"").unwrap() + 7..];
        let mut ben = Browser::new(&office.app, LOCAL);
        ben.enroll(&token_of(&link[..link.find('"').unwrap()])).await;
        let ben_csrf = ben.get("/devices").await.csrf();
        let refused = ben.post_form("/calendar/bookables/add", &[("csrf", &ben_csrf), ("name", "Keller"), ("kind", "room")]).await;
        assert_ne!(refused.status, StatusCode::SEE_OTHER, "members add no rooms");
        assert!(!ben.get("/calendar/bookables").await.body.contains("/calendar/bookables/add"));

        // Anna books the room and invites Ben.
        let mut fields = event(&csrf, "anna@kanzlei.example/calendar", "Mandantengespräch", "2027-04-05", "10:00", "11:00");
        fields.extend([("bookable", "raum-besprechung"), ("people", "ben@kanzlei.example")]);
        let saved = anna.post_form("/calendar/save", &fields).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let shown = anna.get(saved.location.as_deref().unwrap()).await;
        assert!(shown.body.contains("Besprechung: zugesagt"), "{}", shown.body);
        assert!(shown.body.contains("Ben Meier: noch offen"), "{}", shown.body);
        let week = ben.get("/calendar?date=2027-04-05").await;
        assert!(day(&week.body, "2027-04-05").contains("Mandantengespräch"), "the invitation is in Ben's calendar: {}", week.body);

        // Ben accepts on his copy; Anna's copy learns it.
        let his = &week.body[week.body.find("Mandantengespräch").unwrap() - 400..];
        let his = his[his.find("/calendar/event?").unwrap()..].split('"').next().unwrap().replace("&#38;", "&");
        let page = ben.get(&his).await;
        assert!(page.body.contains("data-my-answer>noch offen"), "{}", page.body);
        assert!(!page.body.contains("/calendar/edit"), "an attendee does not edit the organizer's event");
        let (cal, name) = (field(&page.body, "/calendar/answer", "cal"), field(&page.body, "/calendar/answer", "name"));
        let etag = field(&page.body, "/calendar/answer", "etag");
        let answered = ben.post_form("/calendar/answer", &[("csrf", &ben_csrf), ("cal", &cal), ("name", &name), ("etag", &etag), ("answer", "accepted")]).await;
        assert!(answered.location.as_deref().unwrap().ends_with("done=answered"), "{:?}", answered.location);
        assert!(ben.get(answered.location.as_deref().unwrap()).await.body.contains("data-my-answer>zugesagt"));
        assert!(anna.get(saved.location.as_deref().unwrap()).await.body.contains("Ben Meier: zugesagt"));

        // Ben sees Anna busy while choosing a time.
        let mut check = event(&ben_csrf, "ben@kanzlei.example/calendar", "Akte Müller", "2027-04-05", "10:30", "11:30");
        check.extend([("people", "anna@kanzlei.example"), ("bookable", "raum-besprechung"), ("check", "1")]);
        let free_busy = ben.post_form("/calendar/save", &check).await;
        assert_eq!(free_busy.status, StatusCode::OK, "{}", free_busy.body);
        let availability = &free_busy.body[free_busy.body.find("data-availability").unwrap()..];
        assert!(availability.contains("Anna Beispiel</strong>: belegt 10:00–11:00"), "{availability}");
        assert!(availability.contains("Besprechung</strong>: belegt 10:00–11:00"), "{availability}");

        // The same room at an overlapping time is refused, clearly.
        check.pop();
        let taken = ben.post_form("/calendar/save", &check).await;
        assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(taken.body.contains("Besprechung ist zu dieser Zeit schon gebucht: Mo 05.04.2027 10:00–11:00"), "{}", taken.body);
        assert!(taken.body.contains("value=\"Akte Müller\""), "the form keeps what was typed");
        assert!(!ben.get("/calendar?date=2027-04-05").await.body.contains("Akte Müller"), "nothing was saved");

        // A weekly series that hits the booking in its sixth week is refused too.
        let mut series = event(&ben_csrf, "ben@kanzlei.example/calendar", "Jour fixe", "2027-03-01", "10:15", "10:45");
        series.extend([("repeat", "weekly"), ("bookable", "raum-besprechung")]);
        let refused = ben.post_form("/calendar/save", &series).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);

        // Right after, the room is free.
        let later = event(&ben_csrf, "ben@kanzlei.example/calendar", "Akte Müller", "2027-04-05", "11:00", "12:00");
        let mut later = later;
        later.push(("bookable", "raum-besprechung"));
        let booked = ben.post_form("/calendar/save", &later).await;
        assert_eq!(booked.status, StatusCode::SEE_OTHER, "{}", booked.body);
        assert!(booked.location.as_deref().unwrap().ends_with("done=saved"));
        let list = ben.get("/calendar/bookables").await;
        assert!(list.status == StatusCode::OK);

        // Anna takes Ben and the room off her event: both are told, the
        // room is free again.
        let edit = anna.get(&format!("/calendar/edit?cal=anna@kanzlei.example/calendar&name={}", object_of(saved.location.as_deref().unwrap()))).await;
        assert!(edit.body.contains("value=\"raum-besprechung\" selected"), "{}", edit.body);
        let etag = field(&edit.body, "name=\"name\"", "etag");
        let anna_name = object_of(saved.location.as_deref().unwrap());
        let mut alone = event(&csrf, "anna@kanzlei.example/calendar", "Mandantengespräch", "2027-04-05", "10:00", "11:00");
        alone.extend([("name", anna_name.as_str()), ("etag", etag.as_str())]);
        let changed = anna.post_form("/calendar/save", &alone).await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
        assert!(!ben.get("/calendar?date=2027-04-05").await.body.contains("Mandantengespräch"), "Ben's copy is cancelled");
        let mut again = event(&ben_csrf, "ben@kanzlei.example/calendar", "Akte Meier", "2027-04-05", "10:00", "10:45");
        again.push(("bookable", "raum-besprechung"));
        let rebooked = ben.post_form("/calendar/save", &again).await;
        assert_eq!(rebooked.status, StatusCode::SEE_OTHER, "the room is free again: {}", rebooked.body);
        assert!(ben.get(rebooked.location.as_deref().unwrap()).await.body.contains("Besprechung: zugesagt"));

        // Ben may not change Anna's event, which he only attends.
        let anna_event = saved.location.unwrap();
        let name = object_of(&anna_event);
        let theirs = ben.get(&format!("/calendar/edit?cal=anna@kanzlei.example/calendar&name={name}")).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "not even visible to him");
    }
}
