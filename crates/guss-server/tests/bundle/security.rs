//! The security page through the bundle's router, on SQLite and
//! PostgreSQL: one's passkeys (a nudge at one, the last never removed),
//! sessions signed out from elsewhere, a device's app password revoked (and
//! refused over WebDAV after), and the audit log for admins only, filtered
//! and with its chain verified.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use crate::support::{Browser, LOCAL, field, first_owner, office, send};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use guss_testkit::backend_tests;

backend_tests! {
    async fn people_see_and_end_their_own_access_and_admins_read_the_log(db: TestDb) {
        let office = office(&db).await;
        let mut anna = first_owner(&office.app).await;
        let page = anna.get("/security").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("href=\"/security\""), "in the navigation");
        assert!(page.body.contains("data-passkey-nudge"), "one passkey: the page asks for a second");
        assert!(!page.body.contains("/security/passkeys/remove"), "the only passkey has no remove button");
        assert!(page.body.contains("dieser Browser"));
        let csrf = anna.get("/devices").await.csrf();

        // The last passkey is never removed, even when asked directly.
        anna.step_up().await;
        let passkeys = anna.get("/api/identity/passkeys").await.json();
        let only = passkeys[0]["id"].as_str().unwrap().to_owned();
        let refused = anna.post_form("/security/passkeys/remove", &[("csrf", &csrf), ("id", &only)]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);

        // A second browser of Anna's, signed out from the first.
        let mut laptop = Browser::new(&office.app, LOCAL);
        std::mem::swap(&mut laptop.device, &mut anna.device);
        laptop.sign_in("anna@kanzlei.example").await;
        std::mem::swap(&mut laptop.device, &mut anna.device);
        assert_eq!(laptop.get("/home").await.status, StatusCode::OK);
        let page = anna.get("/security").await;
        let other = field(&page.body, "/security/sessions/revoke", "id");
        let out = anna.post_form("/security/sessions/revoke", &[("csrf", &csrf), ("id", &other)]).await;
        assert_eq!(out.location.as_deref(), Some("/security?done=session_revoked"));
        assert_eq!(laptop.get("/home").await.location.as_deref(), Some("/sign-in"));
        assert_eq!(anna.get("/home").await.status, StatusCode::OK, "this browser stays signed in");

        // A device's app password, revoked here, stops over WebDAV.
        let tenant = office.bundle.offices.tenant_at(LOCAL).await.unwrap();
        guss_server::access::home_folder(&office.bundle.files.tenant(tenant), "anna@kanzlei.example").await.unwrap();
        let created = anna.post_json("/api/identity/app-passwords", serde_json::json!({ "label": "Telefon", "scopes": ["files"] })).await;
        let password = created.json()["password"].as_str().unwrap().to_owned();
        let propfind = || {
            use base64::Engine as _;
            let credentials = base64::engine::general_purpose::STANDARD.encode(format!("anna@kanzlei.example:{password}"));
            Request::builder().method("PROPFIND").uri("/dav/files/people/anna@kanzlei.example/")
                .header("host", LOCAL).header("depth", "0")
                .header("authorization", format!("Basic {credentials}"))
                .body(Body::empty()).unwrap()
        };
        assert_eq!(send(&office.app, propfind()).await.status, StatusCode::MULTI_STATUS);
        let page = anna.get("/security").await;
        assert!(page.body.contains("Telefon"), "{}", page.body);
        let id = field(&page.body, "/security/app-passwords/revoke", "id");
        let revoked = anna.post_form("/security/app-passwords/revoke", &[("csrf", &csrf), ("id", &id)]).await;
        assert_eq!(revoked.location.as_deref(), Some("/security?done=app_password_revoked"));
        assert_eq!(send(&office.app, propfind()).await.status, StatusCode::UNAUTHORIZED);
        assert!(anna.get("/security?done=app_password_revoked").await.body.contains("Das Gerät hat keinen Zugang mehr"));

        // The audit log: for admins, filtered, its chain verified.
        let log = anna.get("/security?kind=app_password").await;
        assert!(log.body.contains("Protokoll"), "{}", log.body);
        let table = log.body.split("<table class=\"listing audit\">").nth(1).expect("the log's table");
        let kinds: Vec<&str> = table.split("<tr><td>").skip(1).filter_map(|row| row.split("</td><td>").nth(2)).collect();
        assert!(!kinds.is_empty() && kinds.iter().all(|k| k.contains("app_password")), "{kinds:?}");
        assert!(anna.get("/security?verify=1").await.body.contains("data-chain=\"ok\""));
        let nothing = anna.get("/security?from=2001-01-01&until=2001-01-02").await;
        assert!(nothing.body.contains("Keine Einträge passen"), "{}", nothing.body);
        // Anna's own acts, by the id the person filter offers for her.
        let anna_id = log.body.split("<option value=\"").skip(1)
            .find(|option| option.contains("\">Anna"))
            .and_then(|option| option.split('"').next())
            .expect("Anna in the person filter")
            .to_owned();
        let hers = anna.get(&format!("/security?person={anna_id}")).await;
        let actors: Vec<&str> = hers.body.split("<table class=\"listing audit\">").nth(1).expect("the log's table")
            .split("<tr><td>").skip(1).filter_map(|row| row.split("</td><td>").nth(3)).collect();
        assert!(!actors.is_empty() && actors.iter().all(|a| a.starts_with("Anna")), "{actors:?}");
        let nobody = anna.get(&format!("/security?person={}", uuid::Uuid::new_v4())).await;
        assert!(nobody.body.contains("Keine Einträge passen"), "{}", nobody.body);
        assert!(!anna.get("/security?kind=APP_PASSWORD").await.body.contains("Keine Einträge passen"), "kinds match in any case");

        // A member sees their own things and no log.
        let (_, link) = office.bundle.identity.provision_person(tenant, "ben@kanzlei.example".parse().unwrap(), "Ben", &[], None).await.unwrap();
        let mut ben = Browser::new(&office.app, LOCAL);
        ben.enroll(&link.token).await;
        let his = ben.get("/security").await;
        assert_eq!(his.status, StatusCode::OK);
        assert!(!his.body.contains("Protokoll") && !his.body.contains("data-chain"), "{}", his.body);
        // Nor can he end Anna's access.
        let ben_csrf = ben.get("/devices").await.csrf();
        let theirs = ben.post_form("/security/app-passwords/revoke", &[("csrf", &ben_csrf), ("id", &id)]).await;
        assert_ne!(theirs.status, StatusCode::SEE_OTHER);
    }
}
