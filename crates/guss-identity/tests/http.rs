//! The HTTP adapter's guards: CSRF, authentication, body limits, error shape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use guss_core::{DenyAll, MemoryEventSink, SystemClock};
use guss_identity::store::SqlStore;
use guss_identity::{Identity, RelyingParty, http};
use tower::ServiceExt as _;

async fn app() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open(&dir.path().display().to_string())
        .await
        .unwrap();
    let identity = Arc::new(Identity::new(
        store,
        Arc::new(SystemClock),
        Arc::new(MemoryEventSink::new()),
        Arc::new(DenyAll),
    ));
    let rp = RelyingParty::new("kanzlei.example", ["https://kanzlei.example"]).unwrap();
    let (tenant, _) = identity
        .create_tenant(
            "Kanzlei",
            rp,
            "Anna",
            "anna@kanzlei.example".parse().unwrap(),
        )
        .await
        .unwrap();
    (http::router(identity, http::fixed_tenant(tenant.id)), dir)
}

fn post(path: &str, content_type: &str, origin: Option<&str>, body: &str) -> Request<Body> {
    let mut request = Request::post(path).header(header::CONTENT_TYPE, content_type);
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

async fn status_and_json(
    app: &axum::Router,
    request: Request<Body>,
) -> (StatusCode, serde_json::Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test]
async fn sign_in_starts_from_the_tenants_origin_only() {
    let (app, _dir) = app().await;
    let (status, body) = status_and_json(
        &app,
        post(
            "/sign-in/start",
            "application/json",
            Some("https://kanzlei.example"),
            "{}",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["ceremony"].is_string());
    assert!(body["options"]["publicKey"]["challenge"].is_string());

    // Cross-site: another origin, or a form post.
    let (status, _) = status_and_json(
        &app,
        post(
            "/sign-in/start",
            "application/json",
            Some("https://evil.example"),
            "{}",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = status_and_json(
        &app,
        post(
            "/sign-in/start",
            "application/x-www-form-urlencoded",
            None,
            "a=b",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("application/json"));
}

#[tokio::test]
async fn bad_input_gets_clear_errors() {
    let (app, _dir) = app().await;
    let origin = Some("https://kanzlei.example");
    // A forged ceremony id.
    let forged = r#"{"ceremony": "nope", "credential": {"id": "x"}}"#;
    let (status, _) = status_and_json(
        &app,
        post("/sign-in/finish", "application/json", origin, forged),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "malformed credential JSON is rejected before the ceremony"
    );
    // An oversized body.
    let huge = format!(r#"{{"email": "{}"}}"#, "a".repeat(100_000));
    let (status, _) = status_and_json(
        &app,
        post("/sign-in/start", "application/json", origin, &huge),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // An unknown enrolment token.
    let (status, body) = status_and_json(
        &app,
        post(
            "/enroll/start",
            "application/json",
            origin,
            r#"{"token": "abc"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn signed_in_endpoints_need_a_session() {
    let (app, _dir) = app().await;
    let (status, _) = status_and_json(&app, Request::get("/me").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let request = Request::get("/sessions")
        .header(header::COOKIE, format!("{}=forged", http::SESSION_COOKIE))
        .body(Body::empty())
        .unwrap();
    let (status, _) = status_and_json(&app, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let request = Request::get("/people")
        .header(header::AUTHORIZATION, "Bearer forged")
        .body(Body::empty())
        .unwrap();
    let (status, _) = status_and_json(&app, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
