//! The profession's retention rules on the shared folders, on SQLite and
//! PostgreSQL: files written, moved or copied into a filed folder are held
//! until the law lets them go; a driving school's training records go to
//! the trash when their maximum is over, unless a legal hold stops it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use crate::support::office;
use chrono::{Datelike as _, NaiveDate};
use guss_core::{PersonId, Principal};
use guss_dav::DavPath;
use guss_server::presets::Profession;
use guss_server::retention::{Sweep, today};
use guss_testkit::backend_tests;

fn path(p: &str) -> DavPath {
    DavPath::from_segments(p.split('/').filter(|s| !s.is_empty())).unwrap()
}

/// Midnight in Berlin on 1 January of `year`, as the holds store it.
fn new_year(year: i32) -> chrono::DateTime<chrono::Utc> {
    format!("{}-12-31T23:00:00Z", year - 1).parse().unwrap()
}

backend_tests! {
    async fn filed_folders_keep_their_files_as_the_law_says(db: TestDb) {
        let office = office(&db).await;
        let bundle = &office.bundle;
        let made = bundle
            .create_tenant("Fahrschule Weber", "Ute Weber", "ute@fahrschule.example", None, Some(Profession::DrivingSchool))
            .await
            .unwrap();
        let files = bundle.files.tenant(made.tenant);
        let calendars = bundle.calendars.tenant(made.tenant);
        guss_server::access::furnish(&files, &calendars, Profession::DrivingSchool, false).await.unwrap();
        let ute = Principal::Person { tenant: made.tenant, person: PersonId::new() };
        let year = today(bundle.clock.as_ref()).year();

        // Written into the training records: five years after the end of
        // this year, and then it must go (FahrlG).
        files.create_folder(&path("office/Ausbildungsnachweise/Max Muster"), &[], &ute).await.unwrap();
        let record = path("office/Ausbildungsnachweise/Max Muster/Nachweis.pdf");
        files.write_bytes(&record, b"Fahrstunden 1-12".to_vec(), None, &ute).await.unwrap();
        let hold = files.hold(&record).await.unwrap().expect("the record is held");
        assert_eq!(hold.until, Some(new_year(year + 6)));
        assert!(hold.reason.contains("Ausbildungsnachweis") && hold.reason.contains("FahrlG"), "{}", hold.reason);

        // Templates are not filed; moved into the books, a file is.
        let template = path("office/Vorlagen/Rechnung.odt");
        files.write_bytes(&template, b"Rechnung".to_vec(), None, &ute).await.unwrap();
        assert_eq!(files.hold(&template).await.unwrap(), None);
        let invoice = path("office/Buchhaltung/Rechnung 2026-041.odt");
        files.rename(&template, &invoice, &ute).await.unwrap();
        let hold = files.hold(&invoice).await.unwrap().expect("the invoice is held");
        assert_eq!(hold.until, Some(new_year(year + 11)), "books: ten years");
        // Copied in as a folder, every file inside is held.
        files.create_folder(&path("office/Vorlagen/Briefe"), &[], &ute).await.unwrap();
        files.write_bytes(&path("office/Vorlagen/Briefe/Mahnung.odt"), b"Mahnung".to_vec(), None, &ute).await.unwrap();
        files.copy(&path("office/Vorlagen/Briefe"), &path("office/Verwaltung/Briefe"), true, &ute).await.unwrap();
        let letter = files.hold(&path("office/Verwaltung/Briefe/Mahnung.odt")).await.unwrap().expect("the letter is held");
        assert_eq!(letter.until, Some(new_year(year + 7)), "letters: six years");

        // A hold is never shortened: the pass finds nothing to do today.
        let now = today(bundle.clock.as_ref());
        assert_eq!(bundle.retention.sweep(made.tenant, now).await.unwrap(), Sweep::default());
        // A hold the events missed (lifted here) is set again by the pass.
        files.remove_hold(&invoice).await.unwrap();
        assert_eq!(bundle.retention.sweep(made.tenant, now).await.unwrap(), Sweep { held: 1, deleted: 0 });
        assert!(files.hold(&invoice).await.unwrap().is_some());

        // A second record under a legal hold (a court asked for it).
        let disputed = path("office/Ausbildungsnachweise/Max Muster/Prüfung.pdf");
        files.write_bytes(&disputed, b"Pruefungsprotokoll".to_vec(), None, &ute).await.unwrap();
        files.set_hold(&disputed, "Verfahren 3 O 12/26", None).await.unwrap();

        // On the first day after the period, the record goes to the trash;
        // the disputed one and everything else stays.
        let due = NaiveDate::from_ymd_opt(year + 6, 1, 1).unwrap();
        let day_before = due.pred_opt().unwrap();
        assert_eq!(bundle.retention.sweep(made.tenant, day_before).await.unwrap().deleted, 0);
        assert_eq!(bundle.retention.sweep(made.tenant, due).await.unwrap(), Sweep { held: 0, deleted: 1 });
        assert!(files.stat(&record).await.unwrap().is_none());
        assert!(files.stat(&disputed).await.unwrap().is_some(), "a legal hold stops deletion");
        assert_eq!(files.hold(&disputed).await.unwrap().unwrap().until, None);
        assert!(files.stat(&invoice).await.unwrap().is_some());
        let trash = files.trash().await.unwrap();
        assert_eq!(trash.len(), 1);
        assert_eq!(trash[0].original_path, record);
        assert_eq!(trash[0].deleted_by, format!("service:{}", guss_server::SERVICE.as_str()));
    }

    async fn an_office_without_a_profession_holds_nothing(db: TestDb) {
        let office = office(&db).await;
        let made = office
            .bundle
            .create_tenant("Büro", "Ute Weber", "ute@buero.example", None, None)
            .await
            .unwrap();
        let files = office.bundle.files.tenant(made.tenant);
        let ute = Principal::Person { tenant: made.tenant, person: PersonId::new() };
        files.create_folder(&path("office"), &[], &ute).await.unwrap();
        files.create_folder(&path("office/Buchhaltung"), &[], &ute).await.unwrap();
        files.write_bytes(&path("office/Buchhaltung/a.txt"), b"a".to_vec(), None, &ute).await.unwrap();
        assert_eq!(files.hold(&path("office/Buchhaltung/a.txt")).await.unwrap(), None);
        let now = today(office.bundle.clock.as_ref());
        assert_eq!(office.bundle.retention.sweep(made.tenant, now).await.unwrap(), Sweep::default());
    }
}
