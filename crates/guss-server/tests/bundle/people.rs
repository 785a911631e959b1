//! The people pages through the bundle's router, on SQLite and PostgreSQL:
//! members cannot open them; an admin invites, sends an invitation again
//! and revokes it, changes a role, suspends a colleague (whose app password
//! then stops working over WebDAV), lifts the suspension, and records a
//! departure that hands the folder and the mailbox to a successor.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use crate::support::{Browser, LOCAL, first_owner, office, send, token_of};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use guss_identity::store::{IdentityStore as _, TenantRegistry as _};
use guss_testkit::backend_tests;

/// The invitation link shown on a page.
fn shown_link(body: &str) -> String {
    let marker = "data-invitation-link";
    let at = body.find(marker).expect("an invitation link on the page");
    let start = body[..at].rfind("value=\"").unwrap() + "value=\"".len();
    let end = body[start..].find('"').unwrap() + start;
    body[start..end].to_owned()
}

fn propfind(path: &str, user: &str, password: &str) -> Request<Body> {
    use base64::Engine as _;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    Request::builder()
        .method("PROPFIND")
        .uri(path)
        .header("host", LOCAL)
        .header("depth", "0")
        .header("authorization", format!("Basic {credentials}"))
        .body(Body::empty())
        .unwrap()
}

backend_tests! {
    async fn admins_manage_people_and_members_cannot(db: TestDb) {
        let office = office(&db).await;
        let mut anna = first_owner(&office.app).await;
        let tenant = office.bundle.offices.tenant_at(LOCAL).await.unwrap();
        let page = anna.get("/people").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("href=\"/people\""), "admins have it in the navigation");
        let csrf = page.csrf();

        // Inviting needs a fresh passkey confirmation.
        let early = anna.post_form("/people/invite", &[("csrf", &csrf), ("name", "Ben Meier"), ("email", "ben@kanzlei.example")]).await;
        assert_eq!(early.status, StatusCode::BAD_REQUEST);
        anna.step_up().await;
        let invited = anna.post_form("/people/invite", &[("csrf", &csrf), ("name", "Ben Meier"), ("email", "ben@kanzlei.example")]).await;
        assert_eq!(invited.status, StatusCode::OK, "{}", invited.body);
        let mut ben = Browser::new(&office.app, LOCAL);
        ben.enroll(&token_of(&shown_link(&invited.body))).await;
        let bad = anna.post_form("/people/invite", &[("csrf", &csrf), ("name", "X"), ("email", "kein-at")]).await;
        assert!(bad.body.contains("role=\"alert\""), "a bad address is said on the form");

        // Ben is a member: the pages and their forms are closed to him.
        assert!(!ben.get("/home").await.body.contains("href=\"/people\""));
        assert_eq!(ben.get("/people").await.status, StatusCode::FORBIDDEN);
        ben.step_up().await;
        let ben_csrf = ben.get("/devices").await.csrf();
        let me = ben.get("/api/identity/me").await.json();
        let ben_id = me["person"]["id"].as_str().unwrap().to_owned();
        let anna_id = anna.get("/api/identity/me").await.json()["person"]["id"].as_str().unwrap().to_owned();
        assert_eq!(ben.get(&format!("/people/person?id={anna_id}")).await.status, StatusCode::FORBIDDEN);
        let refused = ben.post_form("/people/suspend", &[("csrf", &ben_csrf), ("id", &anna_id)]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

        // Ben's device: an app password that works over WebDAV.
        let created = ben.post_json("/api/identity/app-passwords", serde_json::json!({ "label": "Laptop", "scopes": ["files"] })).await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        let password = created.json()["password"].as_str().unwrap().to_owned();
        guss_server::access::home_folder(&office.bundle.files.tenant(tenant), "ben@kanzlei.example").await.unwrap();
        let home = "/dav/files/people/ben@kanzlei.example/";
        assert_eq!(send(&office.app, propfind(home, "ben@kanzlei.example", &password)).await.status, StatusCode::MULTI_STATUS);
        let put = Request::builder().method("PUT").uri(format!("{home}Notiz.txt")).header("host", LOCAL)
            .header("authorization", propfind(home, "ben@kanzlei.example", &password).headers()["authorization"].clone())
            .body(Body::from("Bens Notiz")).unwrap();
        assert_eq!(send(&office.app, put).await.status, StatusCode::CREATED);

        // A role, given and taken back.
        let person = anna.get(&format!("/people/person?id={ben_id}")).await;
        assert!(person.body.contains("Mitglied"), "{}", person.body);
        let made = anna.post_form("/people/role", &[("csrf", &csrf), ("id", &ben_id), ("value", "admin")]).await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
        assert!(anna.get(made.location.as_deref().unwrap()).await.body.contains("Die Rolle ist geändert"));
        assert!(office.bundle.identity.store().scoped(tenant).await.unwrap().person(ben_id.parse().unwrap()).await.unwrap().unwrap().is_admin());
        anna.post_form("/people/role", &[("csrf", &csrf), ("id", &ben_id), ("value", "member")]).await;
        let odd = anna.post_form("/people/role", &[("csrf", &csrf), ("id", &ben_id), ("value", "owner")]).await;
        assert_eq!(odd.status, StatusCode::BAD_REQUEST);

        // The risks to continuity, each with the page that fixes it: one
        // admin only (the fix opens Ben's page), single passkeys.
        let list = anna.get("/people").await;
        assert!(list.body.contains(&format!("href=\"/people/person?id={ben_id}\" data-fix")), "{}", list.body);
        assert!(list.body.contains("href=\"/security\" data-fix"), "Anna's own single passkey: {}", list.body);

        // A standing deputy, and a representation for a week.
        let named = anna.post_form("/people/deputy", &[("csrf", &csrf), ("id", &ben_id), ("value", &anna_id)]).await;
        assert_eq!(named.status, StatusCode::SEE_OTHER, "{}", named.body);
        assert!(anna.get(named.location.as_deref().unwrap()).await.body.contains("data-deputy>Anna Beispiel"));
        let berlin = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Berlin).date_naive();
        let (today, week) = (berlin.to_string(), (berlin + chrono::Days::new(7)).to_string());
        let form = |from: &str, until: &str, deputy: &str, mail: bool| {
            let mut fields = vec![("csrf", csrf.clone()), ("id", ben_id.clone()), ("deputy", deputy.to_owned()),
                ("from", from.to_owned()), ("until", until.to_owned()), ("write", "yes".to_owned()), ("reason", "Urlaub".to_owned())];
            if mail {
                fields.push(("mail", "yes".to_owned()));
            }
            fields
        };
        let post = |fields: Vec<(&'static str, String)>| {
            let anna = &anna;
            async move {
                let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                anna.post_form("/people/represent", &pairs).await
            }
        };
        assert_eq!(post(form(&today, &week, &anna_id, false)).await.status, StatusCode::BAD_REQUEST, "nothing chosen");
        assert_eq!(post(form("2001-01-01", &week, &anna_id, true)).await.status, StatusCode::BAD_REQUEST, "in the past");
        assert_eq!(post(form(&today, &week, &ben_id, true)).await.status, StatusCode::BAD_REQUEST, "oneself");
        let granted = post(form(&today, &week, &anna_id, true)).await;
        assert_eq!(granted.status, StatusCode::SEE_OTHER, "{}", granted.body);
        let grants = office.bundle.delegations.grants_concerning(tenant, ben_id.parse().unwrap()).await.unwrap();
        let grant = grants.iter().find(|g| g.reason == "Urlaub").expect("the grant");
        assert!(grant.is_active(chrono::Utc::now()) && grant.write && grant.scopes == [guss_core::Scope::Mail]);
        assert!(grant.ends_at - grant.starts_at >= chrono::TimeDelta::days(7), "through the whole last day");
        let page = anna.get(&format!("/people/person?id={ben_id}")).await;
        let marker = "name=\"grant\" value=\"";
        let start = page.body.find(marker).unwrap() + marker.len();
        let grant_id = page.body[start..start + 36].to_owned();
        assert_eq!(grant_id, grant.id.to_string());
        let ended = anna.post_form("/people/grants/revoke", &[("csrf", &csrf), ("id", &ben_id), ("grant", &grant_id)]).await;
        assert_eq!(ended.status, StatusCode::SEE_OTHER, "{}", ended.body);
        assert!(office.bundle.delegations.grants_concerning(tenant, ben_id.parse().unwrap()).await.unwrap().iter().all(|g| g.reason != "Urlaub"));

        // Suspended: his app password stops at once, and his session too.
        let suspended = anna.post_form("/people/suspend", &[("csrf", &csrf), ("id", &ben_id)]).await;
        assert_eq!(suspended.status, StatusCode::SEE_OTHER, "{}", suspended.body);
        assert_eq!(send(&office.app, propfind(home, "ben@kanzlei.example", &password)).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(ben.get("/files").await.location.as_deref(), Some("/sign-in"));
        let shown = anna.get(&format!("/people/person?id={ben_id}")).await;
        assert!(shown.body.contains("data-status>gesperrt"), "{}", shown.body);
        let back = anna.post_form("/people/reactivate", &[("csrf", &csrf), ("id", &ben_id)]).await;
        assert_eq!(back.status, StatusCode::SEE_OTHER);
        assert!(anna.get(&format!("/people/person?id={ben_id}")).await.body.contains("data-status>aktiv"));
        let again = anna.post_form("/people/reactivate", &[("csrf", &csrf), ("id", &ben_id)]).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST, "not suspended");
        // Nobody locks themselves out.
        let own = anna.post_form("/people/suspend", &[("csrf", &csrf), ("id", &anna_id)]).await;
        assert_eq!(own.status, StatusCode::BAD_REQUEST);

        // Departure: the folder goes to Anna, the mailbox by a grant.
        let no_successor = anna.post_form("/people/depart", &[("csrf", &csrf), ("id", &ben_id), ("value", &ben_id)]).await;
        assert_eq!(no_successor.status, StatusCode::BAD_REQUEST);
        // A folder of that name is there already: the handover takes the next.
        let files = office.bundle.files.tenant(tenant);
        let anna_home = guss_dav::DavPath::from_segments(["people", "anna@kanzlei.example"]).unwrap();
        guss_server::access::home_folder(&files, "anna@kanzlei.example").await.unwrap();
        let service = guss_core::Principal::Person { tenant, person: anna_id.parse().unwrap() };
        files.create_folder(&anna_home.join("Übergabe Ben Meier").unwrap(), &[], &service).await.unwrap();
        let departed = anna.post_form("/people/depart", &[("csrf", &csrf), ("id", &ben_id), ("value", &anna_id)]).await;
        assert_eq!(departed.status, StatusCode::SEE_OTHER, "{}", departed.body);
        let handed = guss_dav::DavPath::from_segments(["people", "anna@kanzlei.example", "Übergabe Ben Meier (2)", "Notiz.txt"]).unwrap();
        assert_eq!(files.read_all(&handed).await.unwrap(), b"Bens Notiz");
        let grants = office.bundle.delegations.grants_concerning(tenant, ben_id.parse().unwrap()).await.unwrap();
        assert!(grants.iter().any(|g| g.deputy.to_string() == anna_id && g.scopes == [guss_core::Scope::Mail] && g.write), "{grants:?}");
        assert!(anna.get(&format!("/people/person?id={ben_id}")).await.body.contains("data-status>ausgeschieden"));

        // An invitation sent again: the old link is dead; then revoked.
        let carla = anna.post_form("/people/invite", &[("csrf", &csrf), ("name", "Carla"), ("email", "carla@kanzlei.example")]).await;
        let first = shown_link(&carla.body);
        let list = anna.get("/people").await;
        let marker = "name=\"id\" value=\"";
        let at = list.body.find("/people/invitations/resend").unwrap();
        let start = list.body[at..].find(marker).unwrap() + at + marker.len();
        let id = list.body[start..start + 36].to_owned();
        let resent = anna.post_form("/people/invitations/resend", &[("csrf", &csrf), ("id", &id)]).await;
        assert_eq!(resent.status, StatusCode::OK, "{}", resent.body);
        let second = shown_link(&resent.body);
        assert_ne!(first, second);
        let mut late = Browser::new(&office.app, LOCAL);
        let old = late.post_json("/api/identity/enroll/start", serde_json::json!({ "token": token_of(&first), "label": "x" })).await;
        assert_ne!(old.status, StatusCode::OK, "the first link is dead");
        let list = anna.get("/people").await;
        let at = list.body.find("/people/invitations/revoke").unwrap();
        let start = list.body[at..].find(marker).unwrap() + at + marker.len();
        let id = list.body[start..start + 36].to_owned();
        let revoked = anna.post_form("/people/invitations/revoke", &[("csrf", &csrf), ("id", &id)]).await;
        assert_eq!(revoked.location.as_deref(), Some("/people?done=invitation_revoked"));
        assert!(anna.get("/people").await.body.contains("Keine offenen Einladungen"));
        late.cookie = None;
        let dead = late.post_json("/api/identity/enroll/start", serde_json::json!({ "token": token_of(&second), "label": "x" })).await;
        assert_ne!(dead.status, StatusCode::OK, "the revoked link is dead");
    }
}
