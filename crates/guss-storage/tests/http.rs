//! The WebDAV and JSON adapters over HTTP, on both backends: who may do
//! what (no credentials, wrong password, someone else's folder, another
//! tenant), and the JSON API's versions, trash, restores and share links.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use guss_blob::LocalBlobStore;
use guss_core::{
    Action, Authenticator, Authorizer, Context, Credentials, Decision, Error, MemoryEventSink,
    PersonId, Principal, Resource, Scope, SystemClock, TenantId,
};
use guss_storage::http::FilesApi;
use guss_storage::keys::MasterKey;
use guss_storage::store::{FileStore, StoreConfig};
use guss_storage::webdav::WebDav;
use guss_testkit::{Backend, TestDb, backend_tests};
use tower::ServiceExt as _;

/// Two people with app passwords; the tenant is fixed per test.
struct People {
    tenant: TenantId,
    people: HashMap<&'static str, (PersonId, &'static str)>,
}

#[async_trait]
impl Authenticator for People {
    async fn authenticate(
        &self,
        tenant: TenantId,
        credentials: &Credentials,
        _: Scope,
    ) -> Result<Principal, Error> {
        let Credentials::Basic { username, .. } = credentials else {
            return Err(Error::Unauthenticated);
        };
        let (person, secret) = self
            .people
            .get(username.as_str())
            .ok_or(Error::Unauthenticated)?;
        if *secret != credentials.secret() || tenant != self.tenant {
            return Err(Error::Unauthenticated);
        }
        Ok(Principal::Person {
            tenant,
            person: *person,
        })
    }
}

/// Each person works in `/<name>`; Anna administers the tenant.
struct Homes {
    names: HashMap<PersonId, &'static str>,
}

#[async_trait]
impl Authorizer for Homes {
    async fn authorize(
        &self,
        principal: &Principal,
        action: &Action,
        resource: &Resource,
        _: &Context,
    ) -> Decision {
        let Principal::Person { person, tenant } = principal else {
            return Decision::Deny;
        };
        let name = self.names[person];
        let home = format!("/{name}");
        let allowed = *tenant == resource.tenant()
            && if *action == Action::ADMINISTER {
                name == "anna"
            } else {
                resource.id() == home || resource.id().starts_with(&format!("{home}/"))
            };
        if allowed {
            Decision::Allow
        } else {
            Decision::Deny
        }
    }
}

struct App {
    dav: Router,
    api: Router,
    tenant: TenantId,
    _blobs: tempfile::TempDir,
}

async fn app(db: &TestDb) -> App {
    let blobs = tempfile::tempdir().unwrap();
    let location = match db.backend() {
        Backend::Sqlite => db.dir().unwrap().join("storage").display().to_string(),
        Backend::Postgres => db.url().to_owned(),
    };
    let store = FileStore::open(
        &location,
        Arc::new(LocalBlobStore::open(blobs.path()).await.unwrap()),
        MasterKey::from_bytes([5; 32]),
        Arc::new(SystemClock),
        Arc::new(MemoryEventSink::new()),
        StoreConfig::default(),
    )
    .await
    .unwrap();
    let tenant = TenantId::new();
    let (anna, ben) = (PersonId::new(), PersonId::new());
    let people: Arc<dyn Authenticator> = Arc::new(People {
        tenant,
        people: HashMap::from([
            ("anna", (anna, "anna-app-pw")),
            ("ben", (ben, "ben-app-pw")),
        ]),
    });
    let homes: Arc<dyn Authorizer> = Arc::new(Homes {
        names: HashMap::from([(anna, "anna"), (ben, "ben")]),
    });
    // Requests name their tenant in a header here; the bundle uses host names.
    let tenant_of = Arc::new(|parts: &axum::http::request::Parts| {
        parts
            .headers
            .get("x-tenant")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    });
    let service = Principal::Service {
        tenant,
        service: guss_core::ServiceName::new("setup").unwrap(),
    };
    for home in ["anna", "ben"] {
        let path = guss_dav::DavPath::from_segments([home]).unwrap();
        store
            .tenant(tenant)
            .create_folder(&path, &[], &service)
            .await
            .unwrap();
    }
    App {
        dav: WebDav::new(
            store.clone(),
            people.clone(),
            homes.clone(),
            "/",
            tenant_of.clone(),
        )
        .router(),
        api: FilesApi::new(store, people, homes, tenant_of).router(),
        tenant,
        _blobs: blobs,
    }
}

impl App {
    /// A request to this app's tenant, as `user`.
    fn request(
        &self,
        method: &str,
        uri: &str,
        user: Option<(&str, &str)>,
        body: impl Into<Body>,
    ) -> Request<Body> {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("x-tenant", self.tenant.to_string());
        if let Some((name, password)) = user {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"));
            builder = builder.header("authorization", format!("Basic {encoded}"));
        }
        builder.body(body.into()).unwrap()
    }

    fn json_request(
        &self,
        method: &str,
        uri: &str,
        user: Option<(&str, &str)>,
        body: serde_json::Value,
    ) -> Request<Body> {
        let mut request = self.request(method, uri, user, body.to_string());
        request
            .headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        request
    }
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, Vec<u8>) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .unwrap();
    (status, body.to_vec())
}

async fn json(router: &Router, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let (status, body) = send(router, request).await;
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

const ANNA: Option<(&str, &str)> = Some(("anna", "anna-app-pw"));
const BEN: Option<(&str, &str)> = Some(("ben", "ben-app-pw"));

backend_tests! {
    async fn webdav_lets_in_only_who_may(db: TestDb) {
        let mut app = app(&db).await;
        let (status, _) = send(&app.dav, app.request("PROPFIND", "/anna/", None, "")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = send(&app.dav, app.request("PROPFIND", "/anna/", Some(("anna", "wrong")), "")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = send(&app.dav, app.request("PUT", "/anna/Brief.txt", ANNA, "Hallo")).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, body) = send(&app.dav, app.request("GET", "/anna/Brief.txt", ANNA, "")).await;
        assert_eq!((status, body.as_slice()), (StatusCode::OK, b"Hallo".as_slice()));
        // Ben may not read, list, overwrite, move or delete Anna's files.
        for (method, uri) in [("GET", "/anna/Brief.txt"), ("PROPFIND", "/anna/"), ("PUT", "/anna/Brief.txt"), ("DELETE", "/anna/Brief.txt"), ("LOCK", "/anna/Brief.txt")] {
            let (status, _) = send(&app.dav, app.request(method, uri, BEN, "")).await;
            assert!(status == StatusCode::FORBIDDEN || status == StatusCode::BAD_REQUEST, "{method} {uri}: {status}");
        }
        let mut copy = app.request("COPY", "/anna/Brief.txt", BEN, "");
        copy.headers_mut().insert("destination", "/ben/Brief.txt".parse().unwrap());
        assert_eq!(send(&app.dav, copy).await.0, StatusCode::FORBIDDEN);
        let mut steal = app.request("MOVE", "/ben/", BEN, "");
        steal.headers_mut().insert("destination", "/anna/ben/".parse().unwrap());
        assert_eq!(send(&app.dav, steal).await.0, StatusCode::FORBIDDEN);
        // Another tenant's name in the request finds nobody.
        app.tenant = TenantId::new();
        let (status, _) = send(&app.dav, app.request("GET", "/anna/Brief.txt", ANNA, "")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    async fn the_json_api_restores_what_webdav_destroyed(db: TestDb) {
        let app = app(&db).await;
        send(&app.dav, app.request("MKCOL", "/anna/Akten/", ANNA, "")).await;
        send(&app.dav, app.request("PUT", "/anna/Akten/a.txt", ANNA, "erste Fassung")).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let good = chrono::Utc::now();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        send(&app.dav, app.request("PUT", "/anna/Akten/a.txt", ANNA, "verschluesselt")).await;
        send(&app.dav, app.request("PUT", "/anna/Akten/b.txt", ANNA, "neu")).await;

        let (status, versions) = json(&app.api, app.request("GET", "/versions?path=/anna/Akten/a.txt", ANNA, "")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(versions.as_array().unwrap().len(), 2);
        let first = versions[0]["id"].as_str().unwrap().to_owned();
        let (status, body) = send(&app.api, app.request("GET", &format!("/versions/{first}/content"), ANNA, "")).await;
        assert_eq!((status, body.as_slice()), (StatusCode::OK, b"erste Fassung".as_slice()));
        assert_eq!(send(&app.api, app.request("GET", &format!("/versions/{first}/content"), BEN, "")).await.0, StatusCode::FORBIDDEN);
        assert_eq!(json(&app.api, app.request("GET", "/versions?path=/anna/Akten/a.txt", BEN, "")).await.0, StatusCode::FORBIDDEN);

        // Without application/json, a state change is refused.
        let plain = app.request("POST", "/restore", ANNA, serde_json::json!({ "path": "/anna/Akten", "at": good }).to_string());
        assert_eq!(send(&app.api, plain).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let (status, report) = json(&app.api, app.json_request("POST", "/restore", ANNA, serde_json::json!({ "path": "/anna/Akten", "at": good }))).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["contents_restored"], 1);
        assert_eq!(report["moved_to_trash"], 1);
        let (_, body) = send(&app.dav, app.request("GET", "/anna/Akten/a.txt", ANNA, "")).await;
        assert_eq!(body, b"erste Fassung");

        // The file created since is in the trash; Ben does not see it there.
        let (_, trash) = json(&app.api, app.request("GET", "/trash", ANNA, "")).await;
        assert_eq!(trash.as_array().unwrap().len(), 1);
        assert_eq!(json(&app.api, app.request("GET", "/trash", BEN, "")).await.1.as_array().unwrap().len(), 0);
        let id = trash[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(send(&app.api, app.request("POST", &format!("/trash/{id}/restore"), BEN, "")).await.0, StatusCode::FORBIDDEN);
        let (status, restored) = json(&app.api, app.request("POST", &format!("/trash/{id}/restore"), ANNA, "")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(restored["path"], "/anna/Akten/b.txt");

        // The tripwire release is for administrators.
        assert_eq!(send(&app.api, app.request("POST", "/tripwire/release", BEN, "")).await.0, StatusCode::FORBIDDEN);
        assert_eq!(send(&app.api, app.request("POST", "/tripwire/release", ANNA, "")).await.0, StatusCode::NO_CONTENT);
    }

    async fn share_links_work_without_an_account(db: TestDb) {
        let app = app(&db).await;
        send(&app.dav, app.request("MKCOL", "/anna/Abgabe/", ANNA, "")).await;
        send(&app.dav, app.request("PUT", "/anna/Abgabe/Aufgabe.txt", ANNA, "Aufgabe 1")).await;
        let create = |mode: &str| app.json_request("POST", "/share-links", ANNA, serde_json::json!({ "path": "/anna/Abgabe", "mode": mode, "expires_at": null, "access_code": "2468", "max_downloads": null }));
        assert_eq!(send(&app.api, app.json_request("POST", "/share-links", BEN, serde_json::json!({ "path": "/anna/Abgabe", "mode": "view", "expires_at": null, "access_code": null, "max_downloads": null }))).await.0, StatusCode::FORBIDDEN);
        let (status, view) = json(&app.api, create("view")).await;
        assert_eq!(status, StatusCode::CREATED);
        let token = view["token"].as_str().unwrap().to_owned();
        assert_eq!(send(&app.api, app.request("GET", &format!("/s/{token}/Aufgabe.txt"), None, "")).await.0, StatusCode::FORBIDDEN);
        let mut coded = app.request("GET", &format!("/s/{token}/Aufgabe.txt"), None, "");
        coded.headers_mut().insert("x-access-code", "2468".parse().unwrap());
        let (status, body) = send(&app.api, coded).await;
        assert_eq!((status, body.as_slice()), (StatusCode::OK, b"Aufgabe 1".as_slice()));
        let mut listing = app.request("GET", &format!("/s/{token}"), None, "");
        listing.headers_mut().insert("x-access-code", "2468".parse().unwrap());
        let (status, listed) = json(&app.api, listing).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(listed[0]["path"], "/anna/Abgabe/Aufgabe.txt");
        assert_eq!(send(&app.api, app.request("GET", "/s/not-a-token/Aufgabe.txt", None, "")).await.0, StatusCode::NOT_FOUND);

        let (_, drop) = json(&app.api, create("upload")).await;
        let drop_token = drop["token"].as_str().unwrap().to_owned();
        let mut upload = app.request("PUT", &format!("/s/{drop_token}/Loesung.txt"), None, "42");
        upload.headers_mut().insert("x-access-code", "2468".parse().unwrap());
        assert_eq!(send(&app.api, upload).await.0, StatusCode::CREATED);
        let (_, body) = send(&app.dav, app.request("GET", "/anna/Abgabe/Loesung.txt", ANNA, "")).await;
        assert_eq!(body, b"42");
        let mut peek = app.request("GET", &format!("/s/{drop_token}"), None, "");
        peek.headers_mut().insert("x-access-code", "2468".parse().unwrap());
        assert_eq!(send(&app.api, peek).await.0, StatusCode::FORBIDDEN, "a drop box shows nothing");

        let id = view["link"]["id"].as_str().unwrap().to_owned();
        assert_eq!(send(&app.api, app.request("DELETE", &format!("/share-links/{id}"), ANNA, "")).await.0, StatusCode::NO_CONTENT);
        let mut revoked = app.request("GET", &format!("/s/{token}/Aufgabe.txt"), None, "");
        revoked.headers_mut().insert("x-access-code", "2468".parse().unwrap());
        assert_eq!(send(&app.api, revoked).await.0, StatusCode::NOT_FOUND);
        let (_, links) = json(&app.api, app.request("GET", "/share-links", ANNA, "")).await;
        assert_eq!(links.as_array().unwrap().len(), 2);
    }
}
