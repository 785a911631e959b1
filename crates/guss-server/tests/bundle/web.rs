//! The bundle's pages and guards through its router, on SQLite and
//! PostgreSQL: the wizard from a fresh start, sign-in, CSRF and step-up,
//! and requests without a session or for another organisation refused on
//! every route.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use crate::support::{ADMIN_TOKEN, Browser, first_owner, office, token_of};
use axum::http::StatusCode;
use guss_testkit::backend_tests;

const LOCAL: &str = crate::support::LOCAL;

backend_tests! {
    async fn a_fresh_start_walks_the_owner_through_the_wizard(db: TestDb) {
        let office = office(&db).await;
        let visitor = Browser::new(&office.app, LOCAL);
        let first = visitor.get("/").await;
        assert_eq!(first.location.as_deref(), Some("/setup"));
        let page = visitor.get("/setup").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("<html lang=\"de\""), "German by default");
        assert!(page.body.contains("Kanzlei") && page.body.contains("Fahrschule"));
        let english = visitor.get("/setup?lang=en").await;
        assert!(english.body.contains("<html lang=\"en\"") && english.body.contains("Driving school"));
        assert!(english.set_cookie.iter().any(|c| c.starts_with("guss_lang=en")));
        // An IP address cannot hold passkeys: the trial moves to localhost.
        let by_ip = Browser::new(&office.app, "127.0.0.1:8080").get("/setup").await;
        assert_eq!(by_ip.location.as_deref(), Some("http://localhost:8080/setup"));

        // Bad input keeps the form and says what to fix.
        let bad = visitor
            .post_form("/setup", &[("organisation", "Kanzlei"), ("profession", "law_office"), ("owner_name", "Anna"), ("owner_email", "not an address")])
            .await;
        assert_eq!(bad.status, StatusCode::OK);
        assert!(bad.body.contains("role=\"alert\"") && bad.body.contains("value=\"Kanzlei\""));

        let mut owner = first_owner(&office.app).await;
        // Only the first visit creates an organisation.
        let again = Browser::new(&office.app, LOCAL)
            .post_form("/setup", &[("organisation", "Zweite"), ("profession", "other"), ("owner_name", "Eve"), ("owner_email", "eve@evil.example")])
            .await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);

        let page = owner.get("/setup/office").await;
        assert!(page.body.contains("data-step-up=\"needed\""), "joining is no admin confirmation");
        let csrf = page.csrf();

        // An admin form needs the step-up, the session's token and this origin.
        let no_step_up = owner.post_form("/setup/office", &[("csrf", &csrf), ("profession", "law_office")]).await;
        assert_eq!(no_step_up.status, StatusCode::BAD_REQUEST);
        owner.step_up().await;
        let forged = owner.post_form("/setup/office", &[("csrf", "forged"), ("profession", "law_office")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let cross_site = owner
            .post_form_from("/setup/office", &[("csrf", &csrf), ("profession", "law_office")], Some("https://evil.example"))
            .await;
        assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
        let no_origin = owner.post_form_from("/setup/office", &[("csrf", &csrf), ("profession", "law_office")], None).await;
        assert_eq!(no_origin.status, StatusCode::FORBIDDEN);
        let done = owner.post_form("/setup/office", &[("csrf", &csrf), ("profession", "law_office")]).await;
        assert_eq!(done.location.as_deref(), Some("/setup/mail"), "{}", done.body);

        // The law office's folders and calendars exist.
        let tenant = office.bundle.offices.tenant_at(LOCAL).await.unwrap();
        let files = office.bundle.files.tenant(tenant);
        for folder in ["Akten", "Buchhaltung", "Vorlagen", "Verwaltung"] {
            let path = guss_dav::DavPath::from_segments(["office", folder]).unwrap();
            assert!(files.stat(&path).await.unwrap().is_some(), "{folder}");
        }
        let calendars = office.bundle.calendars.tenant(tenant).calendars("office").await.unwrap();
        let slugs: Vec<_> = calendars.iter().map(|c| c.slug.as_str()).collect();
        assert!(slugs.contains(&"buero") && slugs.contains(&"fristen"), "{slugs:?}");

        // The mail domain and its records.
        let saved = owner.post_form("/setup/mail", &[("csrf", &csrf), ("domain", "kanzlei.example")]).await;
        assert_eq!(saved.location.as_deref(), Some("/setup/mail"), "{}", saved.body);
        let records = owner.get("/setup/mail").await;
        assert!(records.body.contains("_domainkey.kanzlei.example"), "{}", records.body);
        assert!(records.body.contains("MX"));
        let invalid = owner.post_form("/setup/mail", &[("csrf", &csrf), ("domain", "not a domain")]).await;
        assert!(invalid.body.contains("role=\"alert\""));

        // A colleague invited; the wizard does not end with one admin.
        let invited = owner
            .post_form("/setup/people", &[("csrf", &csrf), ("name", "Ben Beispiel"), ("email", "ben@kanzlei.example")])
            .await;
        assert_eq!(invited.status, StatusCode::OK, "{}", invited.body);
        assert!(invited.body.contains("http://localhost:8080/join/"));
        let blocked = owner.post_form("/setup/sheet", &[("csrf", &csrf)]).await;
        assert_eq!(blocked.status, StatusCode::OK);
        assert!(blocked.body.contains("zwei Personen verwalten"), "{}", blocked.body);
        assert_eq!(owner.get("/setup/sheet").await.location.as_deref(), Some("/setup/continuity"));

        let people = office.bundle.identity.store();
        let ben = {
            use guss_identity::store::{IdentityStore as _, TenantRegistry as _};
            people.scoped(tenant).await.unwrap()
                .person_by_email(&"ben@kanzlei.example".parse().unwrap()).await.unwrap().unwrap()
        };
        let anna_id = owner_id(&office, tenant).await;
        let admin = owner
            .post_form("/setup/continuity", &[("csrf", &csrf), ("action", "admin"), ("person", &ben.id.to_string())])
            .await;
        assert_eq!(admin.location.as_deref(), Some("/setup/continuity"), "{}", admin.body);
        let deputy = owner
            .post_form("/setup/continuity", &[("csrf", &csrf), ("action", "deputy"), ("represented", &anna_id), ("deputy", &ben.id.to_string())])
            .await;
        assert_eq!(deputy.location.as_deref(), Some("/setup/continuity"), "{}", deputy.body);
        let sheet = owner.get("/setup/sheet").await;
        assert!(sheet.body.contains("Ben Beispiel vertritt Anna Beispiel"), "{}", sheet.body);
        let finished = owner.post_form("/setup/sheet", &[("csrf", &csrf)]).await;
        assert_eq!(finished.location.as_deref(), Some("/home"));
        let home = owner.get("/home").await;
        assert_eq!(home.status, StatusCode::OK);
        assert!(home.body.contains("Heute") && home.body.contains("Ausfallsicherheit"));
        assert!(!home.body.contains("noch nicht abgeschlossen"));
        assert_eq!(owner.get("/").await.location.as_deref(), Some("/home"));

        // Every step is in the audit log, and the chain holds.
        let (entries, _) = office.bundle.audit.export(tenant).await.unwrap();
        for kind in ["guss.identity.tenant.created", "guss.identity.invitation.sent", "guss.identity.role.granted", "guss.policy.deputy.named"] {
            assert!(entries.iter().any(|e| e.event.contains(kind)), "{kind} in the audit log");
        }
        office.bundle.audit.verify(tenant).await.unwrap().unwrap();
    }

    async fn a_single_admin_finishes_only_with_a_break_glass_kit(db: TestDb) {
        let office = office(&db).await;
        let mut owner = first_owner(&office.app).await;
        owner.step_up().await;
        let csrf = owner.get("/setup/continuity").await.csrf();
        let blocked = owner.post_form("/setup/sheet", &[("csrf", &csrf)]).await;
        assert!(blocked.body.contains("Notfallset gedruckt"), "{}", blocked.body);
        let too_few = owner
            .post_form("/setup/kit", &[("csrf", &csrf), ("trustees", "Notar Meier"), ("threshold", "2")])
            .await;
        assert!(too_few.body.contains("role=\"alert\""), "a threshold above the trustees is refused: {}", too_few.body);
        let kit = owner
            .post_form("/setup/kit", &[("csrf", &csrf), ("trustees", "Notar Meier\nSteuerberaterin Schulz\n"), ("threshold", "2")])
            .await;
        assert_eq!(kit.status, StatusCode::OK, "{}", kit.body);
        assert_eq!(kit.body.matches("class=\"sheet\"").count(), 2, "one sheet per trustee");
        assert!(kit.body.contains("Notar Meier") && kit.body.contains("(2/2)"));
        let sheet = owner.get("/setup/sheet").await;
        assert!(sheet.body.contains("Steuerberaterin Schulz"), "the sheet says who holds recovery sheets");
        let finished = owner.post_form("/setup/sheet", &[("csrf", &csrf)]).await;
        assert_eq!(finished.location.as_deref(), Some("/home"));
    }

    async fn the_mail_records_are_published_where_the_zone_is_hosted(db: TestDb) {
        let Some(named) = crate::support::Named::start("kanzlei.example") else {
            return;
        };
        let office = crate::support::office_with(&db, |config| {
            config.dns.server = Some(named.server);
            config.dns.tsig_key_file = Some(named.key_file.clone());
        })
        .await;
        let mut owner = first_owner(&office.app).await;
        owner.step_up().await;
        let csrf = owner.get("/setup/mail").await.csrf();
        assert_eq!(named.dig("kanzlei.example", "MX"), "", "the zone starts empty");
        let published = owner.post_form("/setup/mail", &[("csrf", &csrf), ("domain", "kanzlei.example")]).await;
        assert_eq!(published.status, StatusCode::OK, "{}", published.body);
        assert!(published.body.contains("Alle Einträge sind richtig veröffentlicht."), "{}", published.body);
        assert_eq!(named.dig("kanzlei.example", "MX"), "10 localhost.");
        assert!(named.dig("_dmarc.kanzlei.example", "TXT").contains("v=DMARC1"));
        let tenant = office.bundle.offices.tenant_at(LOCAL).await.unwrap();
        let keys = office.bundle.mail.tenant(tenant).dkim_keys("kanzlei.example").await.unwrap();
        for key in keys.published() {
            let name = format!("{}._domainkey.kanzlei.example", key.dns_public_key().selector);
            assert!(named.dig(&name, "TXT").contains("v=DKIM1"), "{name}");
        }
        // A domain whose zone is not there: said on the page, nothing lost.
        let refused = owner.post_form("/setup/mail", &[("csrf", &csrf), ("domain", "anderswo.example")]).await;
        assert!(refused.body.contains("role=\"alert\"") && refused.body.contains("anderswo.example"), "{}", refused.body);
    }

    async fn calendar_invitations_to_outsiders_go_by_mail_and_their_replies_come_back(db: TestDb) {
        let office = crate::support::office_with(&db, |config| {
            config.mail.submission = Some("127.0.0.1:0".parse().unwrap());
        })
        .await;
        let mut tasks = tokio::task::JoinSet::new();
        guss_server::mail::start(&office.bundle, None, &mut tasks).await.unwrap();
        let mut anna = first_owner(&office.app).await;
        anna.step_up().await;
        let csrf = anna.get("/setup/mail").await.csrf();
        anna.post_form("/setup/mail", &[("csrf", &csrf), ("domain", "kanzlei.example")]).await;
        let created = anna
            .post_json("/api/identity/app-passwords", serde_json::json!({ "label": "Kalender", "scopes": ["calendar"] }))
            .await;
        let password = created.json()["password"].as_str().unwrap().to_owned();
        let invitation = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n\
            UID:mandant-1@kanzlei.example\r\nDTSTAMP:20301101T080000Z\r\nDTSTART:20301104T090000Z\r\n\
            DTEND:20301104T100000Z\r\nSUMMARY:Besprechung Akte 17\r\n\
            ORGANIZER:mailto:anna@kanzlei.example\r\n\
            ATTENDEE;PARTSTAT=ACCEPTED:mailto:anna@kanzlei.example\r\n\
            ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:mandant@extern.example\r\n\
            END:VEVENT\r\nEND:VCALENDAR\r\n";
        let put = {
            use base64::Engine as _;
            let credentials = base64::engine::general_purpose::STANDARD.encode(format!("anna@kanzlei.example:{password}"));
            axum::http::Request::put("/dav/calendars/anna@kanzlei.example/calendar/akte-17.ics")
                .header("host", LOCAL)
                .header("content-type", "text/calendar")
                .header("authorization", format!("Basic {credentials}"))
                .body(axum::body::Body::from(invitation))
                .unwrap()
        };
        let stored = crate::support::send(&office.app, put).await;
        assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);
        // The invitation waits in the outbound queue for the outsider's MX.
        let queued = office.bundle.outbound.get().unwrap().queued().await.unwrap();
        assert!(
            queued.iter().any(|q| q.sender == "anna@kanzlei.example" && q.recipients == ["mandant@extern.example"]),
            "{queued:?}"
        );

        // The outsider accepts by mail; the reply reaches Anna's copy.
        let tenant = office.bundle.offices.tenant_at(LOCAL).await.unwrap();
        let anna_id: guss_core::PersonId = owner_id(&office, tenant).await.parse().unwrap();
        let reply = "From: mandant@extern.example\r\nTo: anna@kanzlei.example\r\nSubject: Zugesagt\r\n\
            MIME-Version: 1.0\r\nContent-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n\
            BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//extern//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n\
            UID:mandant-1@kanzlei.example\r\nDTSTAMP:20301101T090000Z\r\nDTSTART:20301104T090000Z\r\n\
            ORGANIZER:mailto:anna@kanzlei.example\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:mandant@extern.example\r\n\
            END:VEVENT\r\nEND:VCALENDAR\r\n";
        office
            .bundle
            .mail
            .tenant(tenant)
            .deliver(
                &[(guss_mail::store::Account::Person(anna_id), guss_mail::store::Role::Inbox)],
                bytes::Bytes::from(reply),
            )
            .await
            .unwrap();
        let calendars = office.bundle.calendars.tenant(tenant);
        let calendar = calendars.calendar("anna@kanzlei.example", "calendar").await.unwrap().unwrap();
        let copy = calendars.object_by_uid(&calendar, "mandant-1@kanzlei.example").await.unwrap().unwrap();
        let unfolded = copy.ics.replace("\r\n ", "");
        assert!(
            unfolded.lines().any(|l| l.starts_with("ATTENDEE") && l.contains("PARTSTAT=ACCEPTED") && l.contains("mandant@extern.example")),
            "{}", copy.ics
        );
        tasks.abort_all();
    }

    async fn invitations_go_out_by_mail_once_the_bundle_sends_mail(db: TestDb) {
        let office = crate::support::office_with(&db, |config| {
            config.mail.submission = Some("127.0.0.1:0".parse().unwrap());
        })
        .await;
        let mut tasks = tokio::task::JoinSet::new();
        guss_server::mail::start(&office.bundle, None, &mut tasks).await.unwrap();
        let mut owner = first_owner(&office.app).await;
        owner.step_up().await;
        let csrf = owner.get("/setup/people").await.csrf();
        // Without a mail domain, the link is only shown.
        let shown = owner
            .post_form("/setup/people", &[("csrf", &csrf), ("name", "Clara Extern"), ("email", "clara@extern.example")])
            .await;
        assert!(shown.body.contains("/join/") && !shown.body.contains("data-invitation-mailed"));
        owner.post_form("/setup/mail", &[("csrf", &csrf), ("domain", "kanzlei.example")]).await;
        let mailed = owner
            .post_form("/setup/people", &[("csrf", &csrf), ("name", "Ben Beispiel"), ("email", "ben@kanzlei.example")])
            .await;
        assert!(mailed.body.contains("data-invitation-mailed"), "{}", mailed.body);
        let marker = "value=\"http://localhost:8080/join/";
        let start = mailed.body.find(marker).unwrap() + "value=\"".len();
        let link = &mailed.body[start..start + mailed.body[start..].find('"').unwrap()];

        // Ben's address is the office's own: the invitation waits in his inbox.
        let tenant = office.bundle.offices.tenant_at(LOCAL).await.unwrap();
        let ben = {
            use guss_identity::store::{IdentityStore as _, TenantRegistry as _};
            office.bundle.identity.store().scoped(tenant).await.unwrap()
                .person_by_email(&"ben@kanzlei.example".parse().unwrap()).await.unwrap().unwrap()
        };
        let mail = office.bundle.mail.tenant(tenant);
        let account = guss_mail::store::Account::Person(ben.id);
        let inbox = mail.mailboxes(&account).await.unwrap().into_iter().find(|m| m.name == "INBOX").unwrap();
        let messages = mail.messages(inbox.id, 1..=u32::MAX).await.unwrap();
        assert_eq!(messages.len(), 1);
        let raw = String::from_utf8(mail.raw(&messages[0]).await.unwrap().to_vec()).unwrap();
        assert!(raw.contains(link), "the mail carries the link: {raw}");
        assert!(raw.contains("From: \"Kanzlei Beispiel\" <noreply@kanzlei.example>"), "{raw}");
        assert!(raw.contains("DKIM-Signature:"), "signed with the office's key");
        tasks.abort_all();
    }

    async fn sign_in_sign_out_and_devices(db: TestDb) {
        // With a certificate configured, profiles are signed with it.
        let certificate = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let files = tempfile::tempdir().unwrap();
        let (chain, key) = (files.path().join("chain.pem"), files.path().join("key.pem"));
        std::fs::write(&chain, certificate.cert.pem()).unwrap();
        std::fs::write(&key, certificate.signing_key.serialize_pem()).unwrap();
        let office = crate::support::office_with(&db, |config| {
            config.tls.certificate_file = Some(chain.clone());
            config.tls.key_file = Some(key.clone());
        })
        .await;
        let mut owner = first_owner(&office.app).await;
        let signed_out = owner.post_json("/api/identity/sign-out", serde_json::json!({})).await;
        assert_eq!(signed_out.status, StatusCode::OK);
        owner.cookie = None;
        assert_eq!(owner.get("/home").await.location.as_deref(), Some("/sign-in"));
        let page = owner.get("/sign-in").await;
        assert!(page.body.contains("data-sign-in"));
        let signed_in = owner.sign_in("anna@kanzlei.example").await;
        assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
        assert!(owner.cookie.is_some());

        // A device's app password: only after a step-up, shown once.
        let devices = owner.get("/devices").await;
        let csrf = devices.csrf();
        let connect = [("csrf", csrf.as_str()), ("kind", "apple"), ("label", "Annas iPhone")];
        owner.step_up().await;
        let ready = owner.post_form("/devices", &connect).await;
        assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
        assert!(ready.body.contains("<svg"), "a QR code");
        let marker = "/devices/profile/";
        let start = ready.body.find(marker).unwrap() + marker.len();
        let token: String = ready.body[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
        let profile = owner.get_bytes(&format!("/devices/profile/{token}")).await;
        assert_eq!(profile.first(), Some(&0x30), "a signed profile is CMS (DER)");
        let signed = files.path().join("profile.mobileconfig");
        std::fs::write(&signed, &profile).unwrap();
        let verified = std::process::Command::new("openssl")
            .args(["cms", "-verify", "-inform", "DER", "-noverify", "-in"])
            .arg(&signed)
            .output()
            .expect("openssl");
        assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
        let plist = String::from_utf8(verified.stdout).unwrap();
        assert!(plist.contains("com.apple.caldav.account") && plist.contains("Annas iPhone"));
        assert_eq!(owner.get(&format!("/devices/profile/{token}")).await.status, StatusCode::GONE, "once only");
        let listed = owner.get("/devices").await;
        assert!(listed.body.contains("Annas iPhone"));
    }

    async fn nothing_without_a_session_and_nothing_across_organisations(db: TestDb) {
        let office = office(&db).await;
        let mut anna = first_owner(&office.app).await;
        // A second organisation, as a hosting firm makes it.
        let created = office
            .bundle
            .create_tenant("Praxis Zwei", "Zoe Zwei", "zoe@praxis.example", Some("praxis.localhost:8080"), None)
            .await
            .unwrap();
        assert_eq!(created.origin, "http://praxis.localhost:8080");

        // Anna's session and passkey, taken to Zoe's host.
        let mut intruder = Browser::new(&office.app, "praxis.localhost:8080");
        intruder.cookie = anna.cookie.clone();
        std::mem::swap(&mut intruder.device, &mut anna.device);
        let stranger = Browser::new(&office.app, "praxis.localhost:8080");
        let nowhere = Browser::new(&office.app, "unknown.localhost:8080");
        for path in PAGES {
            for browser in [&intruder, &stranger] {
                let answer = browser.get(path).await;
                assert!(
                    answer.location.as_deref() == Some("/sign-in")
                        || matches!(answer.status, StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED),
                    "GET {path}: {} {:?}", answer.status, answer.location
                );
                let posted = browser.post_form(path, &[("csrf", "x")]).await;
                assert!(
                    // (422: a form missing its fields, refused before anything else.)
                    matches!(posted.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::SEE_OTHER | StatusCode::UNPROCESSABLE_ENTITY),
                    "POST {path}: {}", posted.status
                );
                assert_ne!(posted.location.as_deref(), Some("/home"));
            }
            let answer = nowhere.get(path).await;
            assert!(
                matches!(answer.status, StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED)
                    || answer.location.as_deref() == Some("/sign-in"),
                "{path} on no host: {}", answer.status
            );
        }
        for path in ["/api/identity/me", "/api/identity/sessions", "/api/identity/app-passwords", "/api/identity/people"] {
            assert_eq!(intruder.get(path).await.status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(stranger.get(path).await.status, StatusCode::UNAUTHORIZED, "{path}");
        }
        for path in ["/dav/files/", "/dav/files/people/zoe@praxis.example/", "/dav/calendars/", "/dav/principals/", "/api/files/versions"] {
            let answer = stranger.get(path).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path}: {}", answer.body);
        }
        assert!(stranger.get("/.well-known/caldav").await.status.is_redirection());

        // Anna's app password works at home and nowhere else.
        let tenant = office.bundle.offices.tenant_at(LOCAL).await.unwrap();
        anna = Browser { device: intruder.device, ..Browser::new(&office.app, LOCAL) };
        anna.sign_in("anna@kanzlei.example").await;
        anna.step_up().await;
        let created = anna
            .post_json("/api/identity/app-passwords", serde_json::json!({ "label": "Laptop", "scopes": ["files", "calendar"] }))
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        let password = created.json()["password"].as_str().unwrap().to_owned();
        let basic = |host: &str, path: &str| {
            use base64::Engine as _;
            let credentials = base64::engine::general_purpose::STANDARD.encode(format!("anna@kanzlei.example:{password}"));
            axum::http::Request::builder()
                .method("PROPFIND")
                .uri(path)
                .header("host", host)
                .header("depth", if path.starts_with("/dav/calendars/") { "1" } else { "0" })
                .header("authorization", format!("Basic {credentials}"))
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let home = crate::support::send(&office.app, basic(LOCAL, "/dav/files/people/anna@kanzlei.example/")).await;
        assert_eq!(home.status, StatusCode::MULTI_STATUS, "{}", home.body);
        let shared = crate::support::send(&office.app, basic(LOCAL, "/dav/files/office/Akten/")).await;
        assert_eq!(shared.status, StatusCode::MULTI_STATUS, "{}", shared.body);
        let calendars = crate::support::send(&office.app, basic(LOCAL, "/dav/calendars/anna@kanzlei.example/")).await;
        assert_eq!(calendars.status, StatusCode::MULTI_STATUS, "{}", calendars.body);
        assert!(calendars.body.contains("office~buero"), "the office calendar is shared with everyone: {}", calendars.body);
        // A file goes in and comes back (on PostgreSQL, through S3).
        let put = |method: &str, body: &'static str| {
            use base64::Engine as _;
            let credentials = base64::engine::general_purpose::STANDARD.encode(format!("anna@kanzlei.example:{password}"));
            axum::http::Request::builder()
                .method(method)
                .uri("/dav/files/people/anna@kanzlei.example/Notiz.txt")
                .header("host", LOCAL)
                .header("authorization", format!("Basic {credentials}"))
                .body(axum::body::Body::from(body))
                .unwrap()
        };
        let stored = crate::support::send(&office.app, put("PUT", "Frist am Montag")).await;
        assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);
        let read = crate::support::send(&office.app, put("GET", "")).await;
        assert_eq!((read.status, read.body.as_str()), (StatusCode::OK, "Frist am Montag"));
        let elsewhere = crate::support::send(&office.app, basic("praxis.localhost:8080", "/dav/files/people/anna@kanzlei.example/")).await;
        assert_eq!(elsewhere.status, StatusCode::UNAUTHORIZED);
        // Within the office, others' folders stay closed.
        office.bundle.create_tenant("x", "x", "x@x.example", Some("x.localhost:8080"), None).await.unwrap();
        let invite = office.bundle.identity.provision_person(tenant, "ben@kanzlei.example".parse().unwrap(), "Ben", &[], None).await.unwrap();
        drop(invite);
        guss_server::access::home_folder(&office.bundle.files.tenant(tenant), "ben@kanzlei.example").await.unwrap();
        let bens = crate::support::send(&office.app, basic(LOCAL, "/dav/files/people/ben@kanzlei.example/")).await;
        assert!(matches!(bens.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND), "{}", bens.status);
    }

    async fn the_admin_api_needs_its_token(db: TestDb) {
        let office = office(&db).await;
        let request = |token: Option<&str>, body: &str| {
            let mut builder = axum::http::Request::post("/api/admin/tenants")
                .header("host", "admin.localhost:8080")
                .header("content-type", "application/json");
            if let Some(token) = token {
                builder = builder.header("authorization", format!("Bearer {token}"));
            }
            builder.body(axum::body::Body::from(body.to_owned())).unwrap()
        };
        let body = r#"{"name": "Fahrschule Rasant", "owner_email": "max.rasant@fahrschule.example"}"#;
        assert_eq!(crate::support::send(&office.app, request(None, body)).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(crate::support::send(&office.app, request(Some("wrong"), body)).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(crate::support::send(&office.app, request(Some(ADMIN_TOKEN), "{")).await.status, StatusCode::BAD_REQUEST);
        let created = crate::support::send(&office.app, request(Some(ADMIN_TOKEN), body)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let link = created.json()["setup_link"].as_str().unwrap().to_owned();
        // The first organisation of a local trial lives at localhost.
        assert!(link.starts_with("http://localhost:8080/join/"), "{link}");
        let mut owner = Browser::new(&office.app, LOCAL);
        owner.enroll(&token_of(&link)).await;
        assert_eq!(owner.get("/welcome").await.location.as_deref(), Some("/setup/office"));
        let second = crate::support::send(&office.app, request(Some(ADMIN_TOKEN), r#"{"name": "Praxis Zwei", "owner_email": "z@praxis.example"}"#)).await;
        let link = second.json()["setup_link"].as_str().unwrap().to_owned();
        assert!(link.starts_with("http://praxis-zwei.localhost:8080/join/"), "{link}");
        // The setup link works once.
        let mut again = Browser::new(&office.app, LOCAL);
        let replay = again
            .post_json("/api/identity/enroll/start", serde_json::json!({ "token": token_of(&owner_link_of(&created)), "label": "x" }))
            .await;
        assert_ne!(replay.status, StatusCode::OK);
        let _ = &mut again;
        // Operations.
        let health = crate::support::send(&office.app, axum::http::Request::get("/healthz").body(axum::body::Body::empty()).unwrap()).await;
        assert_eq!((health.status, health.body.as_str()), (StatusCode::OK, "ok\n"));
        let metrics = crate::support::send(&office.app, axum::http::Request::get("/metrics").body(axum::body::Body::empty()).unwrap()).await;
        assert_eq!(metrics.status, StatusCode::UNAUTHORIZED, "metrics are for the admin token or loopback");
    }
}

fn owner_link_of(answer: &crate::support::Answer) -> String {
    answer.json()["setup_link"].as_str().unwrap().to_owned()
}

async fn owner_id(office: &crate::support::Office, tenant: guss_core::TenantId) -> String {
    use guss_identity::store::{IdentityStore as _, TenantRegistry as _};
    let store = office.bundle.identity.store().scoped(tenant).await.unwrap();
    store
        .person_by_email(&"anna@kanzlei.example".parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string()
}

/// Every page route of the bundle.
const PAGES: &[&str] = &[
    "/home",
    "/welcome",
    "/devices",
    "/setup/office",
    "/setup/mail",
    "/setup/mail/check",
    "/setup/people",
    "/setup/continuity",
    "/setup/kit",
    "/setup/sheet",
    "/calendar",
    "/calendar?view=day&date=2027-01-01",
    "/calendar/new?date=2027-01-01",
    "/calendar/edit?cal=office/buero&name=x.ics",
    "/calendar/save",
    "/calendar/event?cal=office/buero&name=x.ics",
    "/calendar/occurrence/move",
    "/calendar/occurrence/cancel",
    "/calendar/delete",
    "/calendar/answer",
    "/calendar/bookables",
    "/calendar/bookables/add",
    "/calendar/bookables/remove",
    "/files",
    "/files?path=/office",
    "/files/item?path=/office/Akten",
    "/files/download?path=/office/Akten/x.txt",
    "/files/upload?path=/office&name=x.txt",
    "/files/folder",
    "/files/rename",
    "/files/move",
    "/files/delete",
    "/files/versions/restore",
    "/files/trash",
    "/files/trash/restore",
    "/files/restore?path=/office",
    "/files/release",
    "/files/share",
    "/files/shares",
    "/files/shares/revoke",
    "/people",
    "/people/invite",
    "/people/invitations/revoke",
    "/people/invitations/resend",
    "/people/person?id=00000000-0000-0000-0000-000000000000",
    "/people/role",
    "/people/suspend",
    "/people/reactivate",
    "/people/depart",
    "/people/deputy",
    "/people/represent",
    "/people/grants/revoke",
    "/security",
    "/security/sessions/revoke",
    "/security/app-passwords/revoke",
    "/security/passkeys/remove",
];
