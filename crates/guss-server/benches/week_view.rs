//! Server time for the calendar's week view of a calendar with 10,000
//! events: 9,900 single events over 100 weeks and 100 weekly series, so
//! that the week shown holds about 200 occurrences. The whole router
//! (session, the person's calendars, the range query, recurrence
//! expansion in the office's zone, the template) per request.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/bundle/support/mod.rs"]
mod support;

use chrono::{Days, NaiveDate, TimeDelta, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use guss_calendar::edit::{self, Draft, Frequency, Repeat};
use guss_calendar::store::Precondition;
use guss_core::{PersonId, Principal};
use guss_testkit::{Backend, TestDb};

const EVENTS: usize = 10_000;
const SERIES: usize = 100;
const WEEKS: u64 = 100;

fn week_view(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new(Backend::Sqlite)).unwrap();
    let first = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap(); // a Monday
    let (office, owner) = runtime.block_on(async {
        let office = support::office(&db).await;
        let owner = support::first_owner(&office.app).await;
        // The page makes Anna's calendar home on her first visit.
        assert_eq!(
            owner.get("/calendar").await.status,
            axum::http::StatusCode::OK
        );
        let tenant = office
            .bundle
            .offices
            .tenant_at(support::LOCAL)
            .await
            .unwrap();
        let calendars = office.bundle.calendars.tenant(tenant);
        let calendar = calendars
            .calendar("anna@kanzlei.example", "calendar")
            .await
            .unwrap()
            .unwrap();
        let anna = Principal::Person {
            tenant,
            person: PersonId::new(),
        };
        let now = Utc::now();
        for i in 0..EVENTS {
            let series = i < SERIES;
            // Single events: 14 a day on weekdays, spread over the weeks.
            let day = first + Days::new((i as u64 / 14) % (WEEKS * 7));
            let hour = 7 + (i % 12) as u32;
            let start = day.and_hms_opt(hour, 0, 0).unwrap();
            let draft = Draft {
                summary: format!("Termin {i}"),
                location: "Büro".into(),
                start,
                end: start + TimeDelta::minutes(45),
                repeat: series.then_some(Repeat {
                    frequency: Frequency::Weekly,
                    until: None,
                }),
                ..Draft::new(chrono_tz::Europe::Berlin)
            };
            let text = edit::create(&format!("bench-{i}@kanzlei.example"), &draft, now).unwrap();
            calendars
                .put_object(
                    &calendar,
                    &format!("bench-{i}.ics"),
                    &text,
                    Precondition::None,
                    &anna,
                )
                .await
                .unwrap();
        }
        (office, owner)
    });
    let week = first + Days::new(7 * (WEEKS / 2));
    let path = format!("/calendar?date={week}");
    let answer = runtime.block_on(owner.get(&path));
    assert_eq!(answer.status, axum::http::StatusCode::OK, "{}", answer.body);
    let shown = answer.body.matches("data-event>").count();
    assert_eq!(shown, 198, "every occurrence of the week is shown");
    let mut group = c.benchmark_group("calendar week view");
    group.sample_size(20);
    group.bench_function("calendar with 10,000 events", |b| {
        b.iter(|| runtime.block_on(owner.get(&path)));
    });
    group.finish();
    drop(office);
}

criterion_group!(benches, week_view);
criterion_main!(benches);
