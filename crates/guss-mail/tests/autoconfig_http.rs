#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! The autoconfig endpoints (feature `http`), driven through the router with
//! tower's `oneshot`.
#![cfg(feature = "http")]

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use guss_mail::autoconfig::{ClientSettings, http};
use tower::ServiceExt;

fn settings_for(domain: &str) -> Option<ClientSettings> {
    (domain == "kanzlei.example").then(|| {
        ClientSettings::new(
            "kanzlei.example",
            "mail.kanzlei.example",
            "guss.kanzlei.example",
        )
        .unwrap()
        .with_display_name("Kanzlei Muster")
        .unwrap()
    })
}

fn app() -> axum::Router {
    http::router(settings_for)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/autoconfig")
            .join(name),
    )
    .unwrap()
}

struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    body: String,
}

async fn send(app: axum::Router, request: Request<Body>) -> Answer {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        content_type,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

fn get(uri: &str, host: &str) -> Request<Body> {
    Request::builder()
        .uri(uri)
        .header(header::HOST, host)
        .body(Body::empty())
        .unwrap()
}

fn post(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::HOST, "autodiscover.kanzlei.example")
        .header(header::CONTENT_TYPE, "text/xml")
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn thunderbird_paths_answer_with_the_config() {
    for (uri, host) in [
        (
            "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=anna%40kanzlei.example",
            "kanzlei.example",
        ),
        (
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            "kanzlei.example",
        ),
        ("/mail/config-v1.1.xml", "autoconfig.kanzlei.example"),
        ("/mail/config-v1.1.xml", "Autoconfig.Kanzlei.Example:443"),
        (
            "/mail/config-v1.1.xml?emailaddress=Anna%40Kanzlei.Example",
            "autoconfig.kanzlei.example",
        ),
        (
            "/.well-known/mail-v1.xml?emailaddress=anna@kanzlei.example",
            "autoconfig.kanzlei.example",
        ),
        // The address decides, whatever host the request reached.
        (
            "/mail/config-v1.1.xml?emailaddress=anna%40kanzlei.example",
            "autoconfig.other.example",
        ),
    ] {
        let answer = send(app(), get(uri, host)).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{uri} on {host}: {}",
            answer.body
        );
        assert!(
            answer
                .content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("application/xml")),
            "{:?}",
            answer.content_type
        );
        assert!(
            answer
                .body
                .contains("<hostname>mail.kanzlei.example</hostname>")
        );
        assert!(
            answer
                .body
                .contains("<displayName>Kanzlei Muster</displayName>")
        );
    }
}

#[tokio::test]
async fn thunderbird_unknown_and_bad_requests() {
    for (uri, host, status) in [
        (
            "/mail/config-v1.1.xml?emailaddress=anna%40other.example",
            "autoconfig.kanzlei.example",
            StatusCode::NOT_FOUND,
        ),
        (
            "/mail/config-v1.1.xml",
            "autoconfig.other.example",
            StatusCode::NOT_FOUND,
        ),
        (
            "/mail/config-v1.1.xml?emailaddress=not-an-address",
            "autoconfig.kanzlei.example",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/mail/config-v1.1.xml",
            "bad host!",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/mail/config-v1.1.xml",
            "127.0.0.1:8080",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let answer = send(app(), get(uri, host)).await;
        assert_eq!(answer.status, status, "{uri} on {host}: {}", answer.body);
    }
    let post_instead = Request::builder()
        .method(Method::POST)
        .uri("/mail/config-v1.1.xml")
        .header(header::HOST, "autoconfig.kanzlei.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(app(), post_instead).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn autodiscover_answers_outlook_on_every_spelling_of_the_path() {
    for uri in [
        "/autodiscover/autodiscover.xml",
        "/Autodiscover/Autodiscover.xml",
        "/AutoDiscover/AutoDiscover.xml",
    ] {
        let answer = send(app(), post(uri, fixture("outlook-request.xml"))).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.body);
        assert!(
            answer
                .content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("text/xml")),
            "{:?}",
            answer.content_type
        );
        assert!(
            answer
                .body
                .contains("<LoginName>anna.schmidt@kanzlei.example</LoginName>")
        );
        assert!(answer.body.contains("<Type>IMAP</Type>"));
        assert!(answer.body.contains("<Port>465</Port>"));
    }
}

#[tokio::test]
async fn autodiscover_errors_are_autodiscover_documents() {
    let unknown = String::from_utf8(fixture("outlook-request.xml"))
        .unwrap()
        .replace("Kanzlei.Example", "other.example");
    let oversized = vec![b' '; 64 * 1024];
    for (body, status, code) in [
        (unknown.into_bytes(), StatusCode::NOT_FOUND, "500"),
        (fixture("activesync-request.xml"), StatusCode::OK, "601"),
        (b"<nonsense/>".to_vec(), StatusCode::BAD_REQUEST, "600"),
        (fixture("soap-request.xml"), StatusCode::BAD_REQUEST, "600"),
        (Vec::new(), StatusCode::BAD_REQUEST, "600"),
        (oversized, StatusCode::PAYLOAD_TOO_LARGE, "600"),
    ] {
        let answer = send(app(), post("/autodiscover/autodiscover.xml", body)).await;
        assert_eq!(answer.status, status, "{}", answer.body);
        assert!(
            answer
                .content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("text/xml"))
        );
        assert!(
            answer
                .body
                .contains(&format!("<ErrorCode>{code}</ErrorCode>")),
            "{}",
            answer.body
        );
    }
    let get_instead = get(
        "/autodiscover/autodiscover.xml",
        "autodiscover.kanzlei.example",
    );
    assert_eq!(
        send(app(), get_instead).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

/// A resolver that waits, as one backed by a database would.
struct Domains(HashMap<String, ClientSettings>);

impl http::SettingsResolver for Domains {
    fn settings_for(&self, domain: &str) -> impl Future<Output = Option<ClientSettings>> + Send {
        let found = self.0.get(domain).cloned();
        async move {
            tokio::task::yield_now().await;
            found
        }
    }
}

#[tokio::test]
async fn a_resolver_may_be_asynchronous() {
    let praxis =
        ClientSettings::new("praxis.example", "mx.praxis.example", "web.praxis.example").unwrap();
    let app = http::router(Domains(HashMap::from([(
        "praxis.example".to_owned(),
        praxis,
    )])));
    let answer = send(
        app.clone(),
        get(
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            "praxis.example",
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer
            .body
            .contains("<hostname>mx.praxis.example</hostname>")
    );
    let answer = send(
        app,
        get(
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            "kanzlei.example",
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}
