//! The files pages through the bundle's router, on SQLite and PostgreSQL
//! (+ S3): upload and overwrite, a version restored byte for byte, a
//! deleted folder back from the trash, a folder put back as it was at a
//! moment, rename and move, share links (with and without an access code,
//! revoked), the tripwire's notice and its release, and what a member may
//! not see.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use crate::support::{Browser, LOCAL, first_owner, office};
use axum::http::StatusCode;
use guss_server::presets::Profession;
use guss_testkit::backend_tests;

const ANNA: &str = "/people/anna@kanzlei.example";

fn q(path: &str) -> String {
    url::form_urlencoded::byte_serialize(path.as_bytes()).collect()
}

/// The value of the first `name="NAME" value="…"` after `after`.
fn field(body: &str, after: &str, name: &str) -> String {
    let from = body.find(after).expect("the marker is on the page");
    let marker = format!("name=\"{name}\" value=\"");
    let start = body[from..].find(&marker).unwrap() + from + marker.len();
    let end = body[start..].find('"').unwrap() + start;
    body[start..end].to_owned()
}

/// The owner of a fresh law office with its folders, and their form token.
async fn owner_with_folders(office: &crate::support::Office) -> (Browser, String) {
    let owner = first_owner(&office.app).await;
    let tenant = office.bundle.offices.tenant_at(LOCAL).await.unwrap();
    let files = office.bundle.files.tenant(tenant);
    let calendars = office.bundle.calendars.tenant(tenant);
    guss_server::access::furnish(&files, &calendars, Profession::LawOffice, false)
        .await
        .unwrap();
    guss_server::access::home_folder(&files, "anna@kanzlei.example")
        .await
        .unwrap();
    let page = owner.get(&format!("/files?path={}", q(ANNA))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.csrf();
    (owner, csrf)
}

async fn upload(
    browser: &Browser,
    csrf: &str,
    folder: &str,
    name: &str,
    body: &[u8],
) -> StatusCode {
    let path = format!("/files/upload?path={}&name={}", q(folder), q(name));
    browser
        .post_bytes(&path, body, csrf, Some(&browser.origin()))
        .await
        .status
}

backend_tests! {
    async fn files_come_back_as_they_were(db: TestDb) {
        let office = office(&db).await;
        let (anna, csrf) = owner_with_folders(&office).await;

        // The top: her own folder and the office's.
        let top = anna.get("/files").await;
        assert_eq!(top.status, StatusCode::OK);
        assert!(top.body.contains("Meine Dateien") && top.body.contains("Büro"), "{}", top.body);
        assert!(top.body.contains("href=\"/files\">Dateien</a>"), "the navigation has the files");

        // Upload, then overwrite: two versions.
        assert_eq!(upload(&anna, &csrf, ANNA, "Brief.txt", b"erste Fassung").await, StatusCode::CREATED);
        assert_eq!(upload(&anna, &csrf, ANNA, "Brief.txt", b"zweite Fassung").await, StatusCode::OK);
        // Without the token, or from elsewhere, nothing is written.
        let forged = anna.post_bytes(&format!("/files/upload?path={}&name=x.txt", q(ANNA)), b"x", "forged", Some(&anna.origin())).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let elsewhere = anna.post_bytes(&format!("/files/upload?path={}&name=x.txt", q(ANNA)), b"x", &csrf, Some("http://evil.example")).await;
        assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
        let bad_name = anna.post_bytes(&format!("/files/upload?path={}&name=..", q(ANNA)), b"x", &csrf, Some(&anna.origin())).await;
        assert_eq!(bad_name.status, StatusCode::BAD_REQUEST);
        assert!(bad_name.body.contains("Dieser Name geht nicht"), "{}", bad_name.body);
        let listing = anna.get(&format!("/files?path={}", q(ANNA))).await;
        assert!(listing.body.contains("Brief.txt") && !listing.body.contains("x.txt"), "{}", listing.body);
        let brief = format!("{ANNA}/Brief.txt");
        assert_eq!(anna.get_bytes(&format!("/files/download?path={}", q(&brief))).await, b"zweite Fassung");

        // The first version, restored, is the file again, byte for byte.
        let item = anna.get(&format!("/files/item?path={}", q(&brief))).await;
        assert_eq!(item.status, StatusCode::OK);
        assert_eq!(item.body.matches("name=\"version\"").count(), 1, "one version to restore: {}", item.body);
        let first = field(&item.body, "<table class=\"versions\">", "version");
        let restored = anna.post_form("/files/versions/restore", &[("csrf", &csrf), ("path", &brief), ("version", &first)]).await;
        assert_eq!(restored.status, StatusCode::SEE_OTHER, "{}", restored.body);
        let back = anna.get(restored.location.as_deref().unwrap()).await;
        assert!(back.body.contains("data-done") && back.body.contains("Die Version ist wiederhergestellt"), "{}", back.body);
        assert_eq!(anna.get_bytes(&format!("/files/download?path={}", q(&brief))).await, b"erste Fassung");

        // Rename, then move into the office's templates.
        let renamed = anna.post_form("/files/rename", &[("csrf", &csrf), ("path", &brief), ("name", "Brief an Weber.txt")]).await;
        assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.body);
        let moved = anna.post_form("/files/move", &[("csrf", &csrf), ("path", &format!("{ANNA}/Brief an Weber.txt")), ("name", "/office/Vorlagen")]).await;
        assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
        assert_eq!(anna.get_bytes(&format!("/files/download?path={}", q("/office/Vorlagen/Brief an Weber.txt"))).await, b"erste Fassung");
        let nowhere = anna.post_form("/files/move", &[("csrf", &csrf), ("path", "/office/Vorlagen/Brief an Weber.txt"), ("name", "/office/Vorlagen/Brief an Weber.txt")]).await;
        assert_eq!(nowhere.status, StatusCode::BAD_REQUEST);

        // A folder deleted with what is in it comes back from the trash.
        let made = anna.post_form("/files/folder", &[("csrf", &csrf), ("path", "/office/Akten"), ("name", "Weber")]).await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
        assert_eq!(upload(&anna, &csrf, "/office/Akten/Weber", "Klage.txt", b"Klageschrift").await, StatusCode::CREATED);
        // Hand files are kept as the law says, and the page says until when.
        let kept = anna.get(&format!("/files/item?path={}", q("/office/Akten/Weber/Klage.txt"))).await;
        assert!(kept.body.contains("Aufbewahrt bis") && kept.body.contains("BRAO"), "{}", kept.body);
        let deleted = anna.post_form("/files/delete", &[("csrf", &csrf), ("path", "/office/Akten/Weber")]).await;
        assert_eq!(deleted.status, StatusCode::SEE_OTHER);
        assert!(anna.get(&format!("/files?path={}", q("/office/Akten/Weber"))).await.status == StatusCode::NOT_FOUND);
        let trash = anna.get("/files/trash").await;
        assert!(trash.body.contains("/office/Akten/Weber"), "{}", trash.body);
        let id = field(&trash.body, "/office/Akten/Weber", "id");
        let back = anna.post_form("/files/trash/restore", &[("csrf", &csrf), ("id", &id)]).await;
        assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
        assert_eq!(anna.get_bytes(&format!("/files/download?path={}", q("/office/Akten/Weber/Klage.txt"))).await, b"Klageschrift");
        // The top folders stay.
        let top_delete = anna.post_form("/files/delete", &[("csrf", &csrf), ("path", ANNA)]).await;
        assert_eq!(top_delete.status, StatusCode::BAD_REQUEST);

        // A folder put back as it was at a moment, after several changes.
        let project = format!("{ANNA}/Projekt");
        anna.post_form("/files/folder", &[("csrf", &csrf), ("path", ANNA), ("name", "Projekt")]).await;
        upload(&anna, &csrf, &project, "Plan.txt", b"Plan A").await;
        upload(&anna, &csrf, &project, "Liste.txt", b"Liste").await;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let moment = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Berlin).format("%Y-%m-%dT%H:%M:%S").to_string();
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        upload(&anna, &csrf, &project, "Plan.txt", b"Plan B").await;
        anna.post_form("/files/rename", &[("csrf", &csrf), ("path", &format!("{project}/Liste.txt")), ("name", "Alt.txt")]).await;
        upload(&anna, &csrf, &project, "Neu.txt", b"neu").await;
        let form = anna.get(&format!("/files/restore?path={}", q(&project))).await;
        assert_eq!(form.status, StatusCode::OK);
        let restored = anna.post_form("/files/restore", &[("csrf", &csrf), ("path", &project), ("at", &moment)]).await;
        assert_eq!(restored.status, StatusCode::SEE_OTHER, "{}", restored.body);
        let listing = anna.get(restored.location.as_deref().unwrap()).await;
        assert!(listing.body.contains("Der Ordner ist auf den gewählten Stand zurückgesetzt"), "{}", listing.body);
        assert!(listing.body.contains("Liste.txt") && !listing.body.contains("Alt.txt") && !listing.body.contains("Neu.txt"), "{}", listing.body);
        assert_eq!(anna.get_bytes(&format!("/files/download?path={}", q(&format!("{project}/Plan.txt")))).await, b"Plan A");
        let future = anna.post_form("/files/restore", &[("csrf", &csrf), ("path", &project), ("at", "2999-01-01T00:00")]).await;
        assert_eq!(future.status, StatusCode::BAD_REQUEST);
    }

    async fn share_links_work_without_a_session_until_revoked(db: TestDb) {
        let office = office(&db).await;
        let (anna, csrf) = owner_with_folders(&office).await;
        upload(&anna, &csrf, ANNA, "Gutachten.txt", b"Gutachten").await;
        let shared = format!("{ANNA}/Gutachten.txt");
        let made = anna.post_form("/files/share", &[("csrf", &csrf), ("path", &shared), ("mode", "view"), ("expires", ""), ("code", "")]).await;
        assert_eq!(made.status, StatusCode::OK, "{}", made.body);
        let start = made.body.find("http://localhost:8080/s/").expect("the link is shown");
        let end = made.body[start..].find('"').unwrap() + start;
        let path = made.body[start..end].trim_start_matches("http://localhost:8080").to_owned();

        // Someone with the link and no session.
        let holder = Browser::new(&office.app, LOCAL);
        let page = holder.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("data-shared-download"), "{}", page.body);
        assert_eq!(holder.get_bytes(&format!("{path}/download?path=")).await, b"Gutachten");
        // It does not reach past what it shares.
        let past = holder.get(&format!("{path}/download?path={}", q("../Brief.txt"))).await;
        assert_ne!(past.status, StatusCode::OK);

        // The list shows the download; revoking ends the link.
        let list = anna.get("/files/shares").await;
        assert!(list.body.contains("Gutachten.txt") && list.body.contains("<td>1</td>"), "{}", list.body);
        let id = field(&list.body, "Gutachten.txt", "id");
        let revoked = anna.post_form("/files/shares/revoke", &[("csrf", &csrf), ("id", &id)]).await;
        assert_eq!(revoked.location.as_deref(), Some("/files/shares?done=revoked"));
        let gone = holder.get(&path).await;
        assert_eq!(gone.status, StatusCode::BAD_REQUEST);
        assert!(gone.body.contains("Dieser Link gilt nicht"), "{}", gone.body);
        assert!(!anna.get("/files/shares").await.body.contains("Gutachten.txt"));

        // With an access code: asked for, refused when wrong, then open.
        let made = anna.post_form("/files/share", &[("csrf", &csrf), ("path", ANNA), ("mode", "view"), ("expires", "2999-12-31"), ("code", "Sommer-2026")]).await;
        let start = made.body.find("http://localhost:8080/s/").unwrap();
        let end = made.body[start..].find('"').unwrap() + start;
        let coded = made.body[start..end].trim_start_matches("http://localhost:8080").to_owned();
        let mut holder = Browser::new(&office.app, LOCAL);
        let asked = holder.get(&coded).await;
        assert!(asked.body.contains("name=\"code\""), "{}", asked.body);
        let wrong = holder.post_form(&coded, &[("csrf", ""), ("code", "Winter")]).await;
        holder.cookie = Some(wrong.set_cookie[0].split(';').next().unwrap().to_owned());
        assert!(holder.get(&coded).await.body.contains("Der Code stimmt nicht"));
        let right = holder.post_form(&coded, &[("csrf", ""), ("code", "Sommer-2026")]).await;
        assert_eq!(right.status, StatusCode::SEE_OTHER);
        holder.cookie = Some(right.set_cookie[0].split(';').next().unwrap().to_owned());
        let folder = holder.get(&coded).await;
        assert!(folder.body.contains("Gutachten.txt"), "{}", folder.body);
        assert_eq!(holder.get_bytes(&format!("{coded}/download?path=Gutachten.txt")).await, b"Gutachten");
        // The list shows that link's accesses, the wrong code among them.
        let list = anna.get("/files/shares").await;
        let accesses = &list.body[list.body.find("data-accesses").unwrap()..];
        let accesses = &accesses[..accesses.find("</td>").unwrap()];
        assert!(accesses.contains("heruntergeladen") && accesses.contains("geöffnet"), "{accesses}");
        assert!(accesses.contains("abgewiesen (falscher Code)"), "{accesses}");
        // A code that a cookie cannot carry is refused with a sentence.
        let odd = anna.post_form("/files/share", &[("csrf", &csrf), ("path", ANNA), ("mode", "view"), ("expires", ""), ("code", "zwei Wörter")]).await;
        assert_eq!(odd.status, StatusCode::BAD_REQUEST);
        let past = anna.post_form("/files/share", &[("csrf", &csrf), ("path", ANNA), ("mode", "view"), ("expires", "2001-01-01"), ("code", "")]).await;
        assert_eq!(past.status, StatusCode::BAD_REQUEST);

        // An upload-only link takes files and shows nothing.
        let made = anna.post_form("/files/share", &[("csrf", &csrf), ("path", "/office/Akten"), ("mode", "upload"), ("expires", ""), ("code", "")]).await;
        assert_eq!(made.status, StatusCode::OK, "{}", made.body);
        let start = made.body.find("http://localhost:8080/s/").unwrap();
        let end = made.body[start..].find('"').unwrap() + start;
        let drop = made.body[start..end].trim_start_matches("http://localhost:8080").to_owned();
        let holder = Browser::new(&office.app, LOCAL);
        let page = holder.get(&drop).await;
        assert!(page.body.contains("data-upload") && !page.body.contains("Weber"), "{}", page.body);
        let sent = holder.post_bytes(&format!("{drop}/upload?name=Vollmacht.txt"), b"Vollmacht", "", Some(&holder.origin())).await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
        assert_eq!(anna.get_bytes(&format!("/files/download?path={}", q("/office/Akten/Vollmacht.txt"))).await, b"Vollmacht");
        assert_ne!(holder.get(&format!("{drop}/download?path=Vollmacht.txt")).await.status, StatusCode::OK);
    }

    async fn members_see_their_own_and_the_office_and_admins_release_the_tripwire(db: TestDb) {
        let office = office(&db).await;
        let (mut anna, csrf) = owner_with_folders(&office).await;
        upload(&anna, &csrf, ANNA, "Privat.txt", b"privat").await;
        let tenant = office.bundle.offices.tenant_at(LOCAL).await.unwrap();
        let (_, link) = office.bundle.identity.provision_person(tenant, "ben@kanzlei.example".parse().unwrap(), "Ben", &[], None).await.unwrap();
        let files = office.bundle.files.tenant(tenant);
        guss_server::access::home_folder(&files, "ben@kanzlei.example").await.unwrap();
        let mut ben = Browser::new(&office.app, LOCAL);
        ben.enroll(&link.token).await;
        let top = ben.get("/files").await;
        assert!(top.body.contains("Meine Dateien") && top.body.contains("Büro"));
        let own = ben.get(&format!("/files?path={}", q("/people/ben@kanzlei.example"))).await;
        assert_eq!(own.status, StatusCode::OK);
        let ben_csrf = own.csrf();
        assert_eq!(ben.get(&format!("/files?path={}", q(ANNA))).await.status, StatusCode::FORBIDDEN);
        assert_eq!(ben.get(&format!("/files/download?path={}", q(&format!("{ANNA}/Privat.txt")))).await.status, StatusCode::FORBIDDEN);
        assert_eq!(ben.get(&format!("/files/item?path={}", q(&format!("{ANNA}/Privat.txt")))).await.status, StatusCode::FORBIDDEN);
        assert_eq!(upload(&ben, &ben_csrf, ANNA, "Kuckuck.txt", b"x").await, StatusCode::FORBIDDEN);
        let people = ben.get("/files?path=/people").await;
        assert!(people.body.contains("Meine Dateien") && !people.body.contains("anna@"), "{}", people.body);
        let steal = ben.post_form("/files/delete", &[("csrf", &ben_csrf), ("path", &format!("{ANNA}/Privat.txt"))]).await;
        assert_eq!(steal.status, StatusCode::FORBIDDEN);
        assert!(!ben.get("/files/trash").await.body.contains("Privat"));
        // A member writes in the office's folders.
        assert_eq!(upload(&ben, &ben_csrf, "/office/Vorlagen", "Vorlage.txt", b"v").await, StatusCode::CREATED);
        // Only admins share the office's folders by link; their own, everyone.
        let office_link = ben.post_form("/files/share", &[("csrf", &ben_csrf), ("path", "/office/Vorlagen"), ("mode", "view")]).await;
        assert_eq!(office_link.status, StatusCode::FORBIDDEN);
        let own_link = ben.post_form("/files/share", &[("csrf", &ben_csrf), ("path", "/people/ben@kanzlei.example"), ("mode", "view")]).await;
        assert_eq!(own_link.status, StatusCode::OK);

        // A burst of deletes trips the ransomware tripwire: everyone sees
        // the notice; only an admin, after a step-up, releases it.
        let service = guss_core::Principal::Person { tenant, person: guss_core::PersonId::new() };
        let burst = guss_dav::DavPath::from_segments(["office", "Vorlagen", "burst.txt"]).unwrap();
        for _ in 0..201 {
            files.write_bytes(&burst, b"x".to_vec(), None, &service).await.unwrap();
            if files.frozen().await.unwrap().is_some() {
                break;
            }
        }
        assert!(files.frozen().await.unwrap().is_some(), "the tripwire tripped");
        let seen = ben.get("/files?path=/office").await;
        assert!(seen.body.contains("data-frozen") && !seen.body.contains("action=\"/files/release\""), "{}", seen.body);
        assert_eq!(ben.post_form("/files/release", &[("csrf", &ben_csrf), ("path", "/office")]).await.status, StatusCode::FORBIDDEN);
        let notice = anna.get("/files?path=/office").await;
        assert!(notice.body.contains("action=\"/files/release\"") && notice.body.contains("data-step-up=\"needed\""), "{}", notice.body);
        let early = anna.post_form("/files/release", &[("csrf", &csrf), ("path", "/office")]).await;
        assert_eq!(early.status, StatusCode::BAD_REQUEST, "a step-up first");
        anna.step_up().await;
        let released = anna.post_form("/files/release", &[("csrf", &csrf), ("path", "/office")]).await;
        assert_eq!(released.status, StatusCode::SEE_OTHER, "{}", released.body);
        assert!(files.frozen().await.unwrap().is_none());
        assert!(!anna.get("/files?path=/office").await.body.contains("data-frozen"));
    }
}
