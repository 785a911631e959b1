//! The CalDAV adapter over HTTP on both backends: discovery, making
//! calendars, queries with expansion, sync, sharing and its limits,
//! scheduling with a resource that refuses a double booking, free/busy
//! without titles, and what strangers may not do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use guss_calendar::caldav::{CalDav, CalendarUser, CalendarUsers};
use guss_calendar::itip::UserKind;
use guss_calendar::store::{CalendarStore, NewCalendar};
use guss_core::{
    Action, Authorizer, Context, ContextValue, Decision, MemoryEventSink, Principal, Resource,
    SystemClock, TenantId,
};
use guss_testkit::accounts::{Accounts, person_id};
use guss_testkit::{Backend, TestDb, backend_tests};
use tower::ServiceExt as _;

struct Users {
    accounts: Accounts,
    users: BTreeMap<String, CalendarUser>,
}

#[async_trait]
impl CalendarUsers for Users {
    async fn user_of(&self, principal: &Principal) -> Option<CalendarUser> {
        let Principal::Person { person, .. } = principal else {
            return None;
        };
        self.users.get(self.accounts.name_of(*person)?).cloned()
    }
    async fn by_handle(&self, _: TenantId, handle: &str) -> Option<CalendarUser> {
        self.users.get(handle).cloned()
    }
    async fn by_address(&self, _: TenantId, address: &str) -> Option<CalendarUser> {
        self.users.values().find(|u| u.address == address).cloned()
    }
}

/// Owners everything, sharees what the share says, everyone free/busy.
struct Rules;

#[async_trait]
impl Authorizer for Rules {
    async fn authorize(
        &self,
        principal: &Principal,
        action: &Action,
        resource: &Resource,
        context: &Context,
    ) -> Decision {
        let owner = matches!(context.attribute("owner"), Some(ContextValue::Bool(true)));
        let shared = match context.attribute("shared") {
            Some(ContextValue::String(s)) => s.clone(),
            _ => String::new(),
        };
        let ok = principal.tenant() == resource.tenant()
            && (owner
                || action.as_str() == "read_free_busy"
                || (*action == Action::READ && (shared == "read" || shared == "write"))
                || (*action == Action::WRITE && shared == "write"));
        if ok { Decision::Allow } else { Decision::Deny }
    }
}

struct App {
    router: Router,
}

async fn app(db: &TestDb) -> App {
    let location = match db.backend() {
        Backend::Sqlite => db.dir().unwrap().join("calendar").display().to_string(),
        Backend::Postgres => db.url().to_owned(),
    };
    let store = CalendarStore::open(
        &location,
        Arc::new(SystemClock),
        Arc::new(MemoryEventSink::new()),
    )
    .await
    .unwrap();
    let tenant = TenantId::new();
    let accounts = Accounts::parse(["anna:pw-a", "ben:pw-b", "eve:pw-e"]).unwrap();
    let mut users = BTreeMap::new();
    for (name, kind) in [
        ("anna", UserKind::Individual),
        ("ben", UserKind::Individual),
        ("eve", UserKind::Individual),
        ("car-1", UserKind::Resource),
    ] {
        users.insert(
            name.to_owned(),
            CalendarUser {
                handle: name.into(),
                address: format!("{name}@example.test"),
                display_name: name.into(),
                kind,
            },
        );
    }
    let team = store
        .tenant(tenant)
        .ensure_calendar("anna", "team", NewCalendar::named("Team"))
        .await
        .unwrap();
    store
        .tenant(tenant)
        .share(
            &team,
            "ben",
            true,
            &Principal::Person {
                tenant,
                person: person_id("anna"),
            },
        )
        .await
        .unwrap();
    let router = CalDav::new(
        store,
        Arc::new(Users {
            accounts: accounts.clone(),
            users,
        }),
        Arc::new(accounts),
        Arc::new(Rules),
        Arc::new(move |_: &axum::http::request::Parts| Some(tenant)),
    )
    .router();
    App { router }
}

impl App {
    async fn call(
        &self,
        method: &str,
        uri: &str,
        user: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (StatusCode, String) {
        let mut builder = Request::builder().method(method).uri(uri);
        let password = format!("pw-{}", &user[..1]);
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        builder = builder.header("authorization", format!("Basic {encoded}"));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let response = self
            .router
            .clone()
            .oneshot(builder.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 16 << 20)
            .await
            .unwrap();
        // Unfolded (RFC 5545 §3.1), so that assertions see whole lines.
        (status, String::from_utf8_lossy(&bytes).replace("\r\n ", ""))
    }
}

fn event(uid: &str, start: &str, end: &str, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:Geheimer Termin {uid}\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

const QUERY: &str = r#"<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data><C:expand start="20300501T000000Z" end="20300601T000000Z"/></C:calendar-data></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20300501T000000Z" end="20300601T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#;

backend_tests! {
    async fn discovery_calendars_and_queries(db: TestDb) {
        let app = app(&db).await;
        let (status, _) = app.call("PROPFIND", "/.well-known/caldav", "anna", &[("depth", "0")], "").await;
        assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
        let (status, body) = app.call("PROPFIND", "/dav/", "anna", &[("depth", "0")], r#"<D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>"#).await;
        assert_eq!(status, StatusCode::MULTI_STATUS);
        assert!(body.contains("<D:href>/dav/principals/anna/</D:href>"));
        let mk = r#"<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>Sprechstunden &amp; Termine</D:displayname><C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"#;
        assert_eq!(app.call("MKCALENDAR", "/dav/calendars/anna/praxis/", "anna", &[], mk).await.0, StatusCode::CREATED);
        assert_eq!(app.call("MKCALENDAR", "/dav/calendars/anna/praxis/", "anna", &[], mk).await.0, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(app.call("MKCALENDAR", "/dav/calendars/ben/x/", "anna", &[], mk).await.0, StatusCode::FORBIDDEN);
        let (_, body) = app.call("PROPFIND", "/dav/calendars/anna/praxis/", "anna", &[("depth", "0")], r#"<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:displayname/><D:resourcetype/><C:supported-calendar-component-set/></D:prop></D:propfind>"#).await;
        assert!(body.contains("Sprechstunden &amp; Termine"), "{body}");
        assert!(body.contains("calendar xmlns:C"));
        assert!(body.contains("name=\"VEVENT\"") && !body.contains("VTODO"));
        // A weekly series with one moved instance and one exception.
        let series = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:s1\r\nDTSTAMP:20300101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20300506T090000\r\nDTEND;TZID=Europe/Berlin:20300506T100000\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE;TZID=Europe/Berlin:20300513T090000\r\nSUMMARY:Supervision\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:s1\r\nDTSTAMP:20300101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20300520T090000\r\nDTSTART;TZID=Europe/Berlin:20300521T140000\r\nDTEND;TZID=Europe/Berlin:20300521T150000\r\nSUMMARY:Supervision (verschoben)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert_eq!(app.call("PUT", "/dav/calendars/anna/praxis/s1.ics", "anna", &[("content-type", "text/calendar")], series).await.0, StatusCode::CREATED);
        let (status, body) = app.call("REPORT", "/dav/calendars/anna/praxis/", "anna", &[("depth", "1")], QUERY).await;
        assert_eq!(status, StatusCode::MULTI_STATUS);
        for start in ["DTSTART:20300506T070000Z", "DTSTART:20300521T120000Z", "DTSTART:20300527T070000Z"] {
            assert!(body.contains(start), "{start} in {body}");
        }
        assert!(!body.contains("20300513T070000Z"), "the exception is gone");
        assert!(!body.contains("RRULE"), "expanded instances carry no rule");
        // A task does not fit a VEVENT-only calendar.
        let todo = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTODO\r\nUID:t1\r\nDTSTAMP:20300101T000000Z\r\nSUMMARY:Akte\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        let (status, body) = app.call("PUT", "/dav/calendars/anna/praxis/t1.ics", "anna", &[], todo).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.contains("supported-calendar-component"));
        // An undated task matches any time range (RFC 4791 §9.9); a dated one only its own.
        assert_eq!(app.call("PUT", "/dav/calendars/anna/calendar/t1.ics", "anna", &[], todo).await.0, StatusCode::CREATED);
        let dated = todo.replace("UID:t1", "UID:t2").replace("SUMMARY:Akte", "DUE:20300101T090000Z\r\nSUMMARY:Frist");
        assert_eq!(app.call("PUT", "/dav/calendars/anna/calendar/t2.ics", "anna", &[], &dated).await.0, StatusCode::CREATED);
        let tasks = QUERY.replace("VEVENT", "VTODO").replace("<C:calendar-data><C:expand start=\"20300501T000000Z\" end=\"20300601T000000Z\"/></C:calendar-data>", "");
        let (_, body) = app.call("REPORT", "/dav/calendars/anna/calendar/", "anna", &[("depth", "1")], &tasks).await;
        assert!(body.contains("t1.ics") && !body.contains("t2.ics"), "{body}");
        // Multiget and sync.
        let multiget = r#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><D:href>/dav/calendars/anna/praxis/s1.ics</D:href><D:href>/dav/calendars/anna/praxis/nope.ics</D:href></C:calendar-multiget>"#;
        let (_, body) = app.call("REPORT", "/dav/calendars/anna/praxis/", "anna", &[], multiget).await;
        assert!(body.contains("RRULE:FREQ=WEEKLY;COUNT=4") && body.contains("HTTP/1.1 404"));
        let sync = r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#;
        let (_, body) = app.call("REPORT", "/dav/calendars/anna/praxis/", "anna", &[], sync).await;
        let token = body.split("<D:sync-token>").nth(1).unwrap().split('<').next().unwrap().to_owned();
        assert_eq!(app.call("DELETE", "/dav/calendars/anna/praxis/s1.ics", "anna", &[], "").await.0, StatusCode::NO_CONTENT);
        let again = sync.replace("<D:sync-token/>", &format!("<D:sync-token>{token}</D:sync-token>"));
        let (_, body) = app.call("REPORT", "/dav/calendars/anna/praxis/", "anna", &[], &again).await;
        assert!(body.contains("s1.ics") && body.contains("404"), "the deletion is reported: {body}");
    }

    async fn sharing_and_strangers(db: TestDb) {
        let app = app(&db).await;
        assert_eq!(app.call("PUT", "/dav/calendars/anna/calendar/private.ics", "anna", &[], &event("p", "20300506T090000Z", "20300506T100000Z", "")).await.0, StatusCode::CREATED);
        // Ben writes into the shared team calendar, through his own home too.
        assert_eq!(app.call("PUT", "/dav/calendars/anna/team/t.ics", "ben", &[], &event("t", "20300507T090000Z", "20300507T100000Z", "")).await.0, StatusCode::CREATED);
        let (_, home) = app.call("PROPFIND", "/dav/calendars/ben/", "ben", &[("depth", "1")], "").await;
        assert!(home.contains("/dav/calendars/ben/anna~team/"), "{home}");
        assert_eq!(app.call("GET", "/dav/calendars/ben/anna~team/t.ics", "ben", &[], "").await.0, StatusCode::OK);
        // Anna's own calendar and home stay hers.
        for (method, uri) in [("GET", "/dav/calendars/anna/calendar/private.ics"), ("PROPFIND", "/dav/calendars/anna/"), ("PUT", "/dav/calendars/anna/calendar/x.ics"), ("DELETE", "/dav/calendars/anna/calendar/private.ics")] {
            let body = if method == "PUT" { event("x", "20300506T090000Z", "20300506T100000Z", "") } else { String::new() };
            let (status, _) = app.call(method, uri, "ben", &[("depth", "1")], &body).await;
            assert!(status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN || status == StatusCode::CONFLICT, "{method} {uri}: {status}");
        }
        // Free/busy: Ben sees when Anna is busy, not what.
        let fb = r#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20300506T000000Z" end="20300507T000000Z"/></C:free-busy-query>"#;
        let (status, body) = app.call("REPORT", "/dav/calendars/anna/calendar/", "ben", &[("depth", "1")], fb).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("FREEBUSY;FBTYPE=BUSY:20300506T090000Z/20300506T100000Z"), "{body}");
        assert!(!body.contains("Geheimer"));
        // The outbox answers a free/busy request for Anna the same way.
        let request = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:fb1\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:20300506T000000Z\r\nDTEND:20300507T000000Z\r\nORGANIZER:mailto:ben@example.test\r\nATTENDEE:mailto:anna@example.test\r\nATTENDEE:mailto:nobody@elsewhere.example\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
        let (status, body) = app.call("POST", "/dav/calendars/ben/outbox/", "ben", &[("content-type", "text/calendar")], request).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("2.0;Success") && body.contains("20300506T090000Z/20300506T100000Z") && body.contains("3.7;"), "{body}");
        assert_eq!(app.call("POST", "/dav/calendars/anna/outbox/", "ben", &[], request).await.0, StatusCode::FORBIDDEN);
    }

    async fn scheduling_books_resources_and_tells_organizers(db: TestDb) {
        let app = app(&db).await;
        let invite = |uid: &str, organizer: &str, start: &str, end: &str, attendees: &[&str]| {
            let lines: String = attendees.iter().map(|a| {
                let cutype = if a.starts_with("car") { "CUTYPE=RESOURCE;" } else { "" };
                format!("ATTENDEE;{cutype}PARTSTAT=NEEDS-ACTION:mailto:{a}@example.test\r\n")
            }).collect();
            event(uid, start, end, &format!("ORGANIZER:mailto:{organizer}@example.test\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{organizer}@example.test\r\n{lines}"))
        };
        let first = invite("lesson-1", "anna", "20300506T100000Z", "20300506T110000Z", &["car-1", "eve"]);
        assert_eq!(app.call("PUT", "/dav/calendars/anna/calendar/lesson-1.ics", "anna", &[], &first).await.0, StatusCode::CREATED);
        let (_, mine) = app.call("GET", "/dav/calendars/anna/calendar/lesson-1.ics", "anna", &[], "").await;
        assert!(mine.contains("PARTSTAT=ACCEPTED") && mine.contains("car-1@example.test"), "{mine}");
        let car_line = mine.lines().find(|l| l.contains("car-1@")).unwrap();
        assert!(car_line.contains("PARTSTAT=ACCEPTED"), "{car_line}");
        // Ben wants the same car at an overlapping time: declined, his event kept.
        let second = invite("lesson-2", "ben", "20300506T103000Z", "20300506T113000Z", &["car-1"]);
        assert_eq!(app.call("PUT", "/dav/calendars/ben/calendar/lesson-2.ics", "ben", &[], &second).await.0, StatusCode::CREATED);
        let (_, his) = app.call("GET", "/dav/calendars/ben/calendar/lesson-2.ics", "ben", &[], "").await;
        let car_line = his.lines().find(|l| l.contains("car-1@")).unwrap();
        assert!(car_line.contains("PARTSTAT=DECLINED"), "{his}");
        // Eve got the invitation in her calendar and inbox; her acceptance reaches Anna.
        let (_, eve_home) = app.call("PROPFIND", "/dav/calendars/eve/calendar/", "eve", &[("depth", "1")], "").await;
        assert!(eve_home.contains("lesson-1.ics"), "{eve_home}");
        let (_, inbox) = app.call("PROPFIND", "/dav/calendars/eve/inbox/", "eve", &[("depth", "1")], "").await;
        assert!(inbox.contains("request-"), "{inbox}");
        let (_, copy) = app.call("GET", "/dav/calendars/eve/calendar/lesson-1.ics", "eve", &[], "").await;
        let accepted = copy.replace("PARTSTAT=NEEDS-ACTION:mailto:eve@", "PARTSTAT=ACCEPTED:mailto:eve@");
        assert_ne!(accepted, copy);
        assert_eq!(app.call("PUT", "/dav/calendars/eve/calendar/lesson-1.ics", "eve", &[], &accepted).await.0, StatusCode::NO_CONTENT);
        let (_, mine) = app.call("GET", "/dav/calendars/anna/calendar/lesson-1.ics", "anna", &[], "").await;
        let eve_line = mine.lines().find(|l| l.contains("eve@")).unwrap();
        assert!(eve_line.contains("PARTSTAT=ACCEPTED"), "{mine}");
        // Cancelling frees the car: Ben can book it now.
        assert_eq!(app.call("DELETE", "/dav/calendars/anna/calendar/lesson-1.ics", "anna", &[], "").await.0, StatusCode::NO_CONTENT);
        assert_eq!(app.call("PUT", "/dav/calendars/ben/calendar/lesson-2.ics", "ben", &[], &second.replace("SUMMARY", "SEQUENCE:1\r\nSUMMARY")).await.0, StatusCode::NO_CONTENT);
        let (_, his) = app.call("GET", "/dav/calendars/ben/calendar/lesson-2.ics", "ben", &[], "").await;
        let car_line = his.lines().find(|l| l.contains("car-1@")).unwrap();
        assert!(car_line.contains("PARTSTAT=ACCEPTED"), "{his}");
        assert_eq!(app.call("GET", "/dav/calendars/eve/calendar/lesson-1.ics", "eve", &[], "").await.0, StatusCode::NOT_FOUND, "the cancel removed Eve's copy");
    }

    async fn taking_everyone_off_an_event_cancels_for_them(db: TestDb) {
        let app = app(&db).await;
        let people = "ORGANIZER:mailto:anna@example.test\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:anna@example.test\r\n\
                      ATTENDEE;CUTYPE=RESOURCE;PARTSTAT=NEEDS-ACTION:mailto:car-1@example.test\r\n\
                      ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:eve@example.test\r\n";
        let booked = event("trip", "20300507T100000Z", "20300507T110000Z", people);
        assert_eq!(app.call("PUT", "/dav/calendars/anna/calendar/trip.ics", "anna", &[], &booked).await.0, StatusCode::CREATED);
        assert_eq!(app.call("GET", "/dav/calendars/eve/calendar/trip.ics", "eve", &[], "").await.0, StatusCode::OK);
        // The same event without ORGANIZER and attendees: Eve's copy and the car's booking go.
        let alone = event("trip", "20300507T100000Z", "20300507T110000Z", "SEQUENCE:1\r\n");
        assert_eq!(app.call("PUT", "/dav/calendars/anna/calendar/trip.ics", "anna", &[], &alone).await.0, StatusCode::NO_CONTENT);
        assert_eq!(app.call("GET", "/dav/calendars/eve/calendar/trip.ics", "eve", &[], "").await.0, StatusCode::NOT_FOUND);
        let wanted = event("other", "20300507T103000Z", "20300507T113000Z",
            "ORGANIZER:mailto:ben@example.test\r\nATTENDEE;CUTYPE=RESOURCE;PARTSTAT=NEEDS-ACTION:mailto:car-1@example.test\r\n");
        assert_eq!(app.call("PUT", "/dav/calendars/ben/calendar/other.ics", "ben", &[], &wanted).await.0, StatusCode::CREATED);
        let (_, his) = app.call("GET", "/dav/calendars/ben/calendar/other.ics", "ben", &[], "").await;
        let car_line = his.lines().find(|l| l.contains("car-1@")).unwrap();
        assert!(car_line.contains("PARTSTAT=ACCEPTED"), "the car is free again: {his}");
    }
}
