//! The one HTTP router of the bundle: every request is first given its
//! organisation (by host name), then goes to the service that owns its
//! path.
//!
//! | path | served by |
//! |---|---|
//! | `/dav/files/…` | guss-storage WebDAV (app passwords, scope `files`) |
//! | `/dav/…`, `/.well-known/caldav` | guss-calendar CalDAV (scope `calendar`) |
//! | `/api/identity/…` | guss-identity JSON (passkeys, sessions) |
//! | `/api/files/…` | guss-storage JSON (versions, trash, share links) |
//! | `/api/admin/…` | the hosting firm's admin API (bearer token) |
//! | autoconfig paths | guss-mail client configuration |
//! | `/healthz`, `/metrics` | operations |
//! | everything else | the web pages |

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{
    AUTHORIZATION, CONTENT_SECURITY_POLICY, HOST, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use guss_calendar::caldav::CalDav;
use guss_core::TenantId;
use guss_mail::autoconfig::{ClientSettings, http::SettingsResolver};
use guss_storage::http::FilesApi;
use guss_storage::webdav::WebDav;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::bundle::Bundle;
use crate::web::{self, RequestTenant};

/// Where WebDAV serves the files.
pub const FILES_MOUNT: &str = "/dav/files/";

/// The whole application.
pub fn app(bundle: Arc<Bundle>, metrics: Option<PrometheusHandle>) -> Router {
    let tenant_of: guss_dav::server::TenantOf = Arc::new(|parts: &axum::http::request::Parts| {
        parts.extensions.get::<RequestTenant>().and_then(|t| t.0)
    });
    let authenticator: Arc<dyn guss_core::Authenticator> = bundle.identity.clone();
    let webdav = WebDav::new(
        bundle.files.clone(),
        authenticator.clone(),
        bundle.authorizer.clone(),
        FILES_MOUNT,
        tenant_of.clone(),
    )
    .router();
    let caldav = CalDav::new(
        bundle.calendars.clone(),
        bundle.calendar_users.clone(),
        authenticator.clone(),
        bundle.authorizer.clone(),
        tenant_of.clone(),
    )
    .router();
    let files_api = FilesApi::new(
        bundle.files.clone(),
        authenticator,
        bundle.authorizer.clone(),
        tenant_of.clone(),
    )
    .router();
    let identity_api = guss_identity::http::router(
        bundle.identity.clone(),
        Arc::new(|parts: &axum::http::request::Parts| {
            parts.extensions.get::<RequestTenant>().and_then(|t| t.0)
        }),
    );
    let autoconfig = guss_mail::autoconfig::http::router(MailSettings {
        bundle: bundle.clone(),
    });
    let ops = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_page))
        .route("/api/admin/tenants", post(admin_create_tenant))
        .with_state(Ops {
            bundle: bundle.clone(),
            metrics,
        });
    let security_headers = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::if_not_present(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                 object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        // Invitation and profile links carry secrets in their path: they
        // never go to other sites. (`no-referrer` would also make browsers
        // send `Origin: null` on the pages' own forms.)
        .layer(SetResponseHeaderLayer::overriding(
            REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ));
    // The DAV services read the whole path themselves, so they are not
    // nested (which would strip it) but chosen by prefix.
    let dav = move |request: Request| {
        let (webdav, caldav) = (webdav.clone(), caldav.clone());
        async move {
            let path = request.uri().path();
            let service = if path == "/dav/files" || path.starts_with(FILES_MOUNT) {
                webdav
            } else if path == "/dav"
                || path.starts_with("/dav/")
                || path.starts_with("/.well-known/caldav")
            {
                caldav
            } else {
                return (StatusCode::NOT_FOUND, "not found\n").into_response();
            };
            match tower::ServiceExt::oneshot(service, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    };
    Router::new()
        .nest("/api/identity", identity_api)
        .nest("/api/files", files_api)
        .merge(autoconfig)
        .merge(ops)
        .merge(web::router(bundle.clone()))
        .fallback(dav)
        .layer(security_headers)
        .layer(axum::middleware::from_fn_with_state(bundle, find_tenant))
        .layer(axum::middleware::from_fn(count_requests))
}

/// The plain-HTTP listener next to HTTPS: ACME HTTP-01 answers, and a
/// redirect to HTTPS for everything else.
pub fn plain_http(bundle: Arc<Bundle>, certificates: Arc<crate::acme::Certificates>) -> Router {
    let https_port = bundle
        .config
        .public_url
        .as_ref()
        .and_then(|u| u.port())
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    Router::new()
        .route(
            "/.well-known/acme-challenge/{token}",
            get(
                move |axum::extract::Path(token): axum::extract::Path<String>| async move {
                    match certificates.challenge_answer(&token) {
                        Some(answer) => (StatusCode::OK, answer).into_response(),
                        None => (StatusCode::NOT_FOUND, "no such challenge\n").into_response(),
                    }
                },
            ),
        )
        .fallback(move |request: Request| async move {
            let host = request
                .headers()
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .map(|h| h.split(':').next().unwrap_or(h).to_owned());
            let Some(host) = host else {
                return (StatusCode::BAD_REQUEST, "no Host\n").into_response();
            };
            let path = request
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            axum::response::Redirect::permanent(&format!("https://{host}{https_port}{path}"))
                .into_response()
        })
}

/// Gives the request its organisation, from the `Host` header.
async fn find_tenant(
    State(bundle): State<Arc<Bundle>>,
    mut request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    let tenant = match host {
        Some(host) => bundle.offices.tenant_at(&host).await,
        None => None,
    };
    request.extensions_mut().insert(RequestTenant(tenant));
    next.run(request).await
}

/// Counts requests by status class and times them.
async fn count_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    let class = match response.status().as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::counter!("guss_http_requests_total", "status" => class).increment(1);
    metrics::histogram!("guss_http_request_seconds").record(started.elapsed().as_secs_f64());
    response
}

#[derive(Clone)]
struct Ops {
    bundle: Arc<Bundle>,
    metrics: Option<PrometheusHandle>,
}

/// Alive, and the stores answer.
async fn healthz(State(ops): State<Ops>) -> Response {
    match ops.bundle.offices.any().await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database does not answer\n",
            )
                .into_response()
        }
    }
}

/// Prometheus metrics: for the admin token, or from loopback.
async fn metrics_page(State(ops): State<Ops>, request: Request) -> Response {
    let loopback = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|peer| peer.0.ip().is_loopback());
    if !loopback && !admin_token_ok(&ops.bundle, request.headers()) {
        return (StatusCode::UNAUTHORIZED, "metrics need the admin token\n").into_response();
    }
    match &ops.metrics {
        Some(handle) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are off\n").into_response(),
    }
}

/// Whether the request carries the configured admin token (compared in
/// constant time, as HMACs).
fn admin_token_ok(bundle: &Bundle, headers: &axum::http::HeaderMap) -> bool {
    let Some(expected) = &bundle.config.admin_token else {
        return false;
    };
    let Some(given) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let tag = ring::hmac::sign(&bundle.form_key, expected.as_bytes());
    ring::hmac::verify(&bundle.form_key, given.trim().as_bytes(), tag.as_ref()).is_ok()
}

#[derive(Deserialize)]
struct CreateTenant {
    name: String,
    owner_email: String,
    owner_name: Option<String>,
    host: Option<String>,
}

/// `POST /api/admin/tenants`: the hosting firm creates an organisation and
/// gets the owner's setup link.
async fn admin_create_tenant(
    State(ops): State<Ops>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !admin_token_ok(&ops.bundle, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({ "error": "the admin API needs the admin token" })),
        )
            .into_response();
    }
    if body.len() > 16 * 1024 {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request too large\n").into_response();
    }
    let request: CreateTenant = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(
                    serde_json::json!({ "error": format!("expected {{name, owner_email}}: {e}") }),
                ),
            )
                .into_response();
        }
    };
    let owner_name = request
        .owner_name
        .clone()
        .unwrap_or_else(|| owner_name_from(&request.owner_email));
    match ops
        .bundle
        .create_tenant(
            &request.name,
            &owner_name,
            &request.owner_email,
            request.host.as_deref(),
            None,
        )
        .await
    {
        Ok(created) => (
            StatusCode::CREATED,
            axum::Json(serde_json::json!({
                "tenant": created.tenant,
                "address": created.origin,
                "setup_link": created.setup_link,
            })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({ "error": format!("{e:#}") })),
        )
            .into_response(),
    }
}

/// A first guess at a person's name from their address (`anna.schmidt@…`
/// → `Anna Schmidt`); they can change it.
pub fn owner_name_from(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email);
    let words: Vec<String> = local
        .split(['.', '_', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        })
        .collect();
    if words.is_empty() {
        "Owner".to_owned()
    } else {
        words.join(" ")
    }
}

/// Mail client settings for the domains organisations have set up.
struct MailSettings {
    bundle: Arc<Bundle>,
}

impl SettingsResolver for MailSettings {
    async fn settings_for(&self, domain: &str) -> Option<ClientSettings> {
        use guss_identity::store::TenantRegistry as _;
        let registry = self.bundle.identity.store();
        let tenant: TenantId = registry.tenant_for_domain(domain).await.ok()??;
        let organisation = registry.tenant(tenant).await.ok()??;
        let web_host = organisation.relying_party.id.clone();
        ClientSettings::new(domain, &self.bundle.config.mail_hostname(), &web_host)
            .and_then(|s| s.with_display_name(&organisation.name))
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_names_are_guessed_from_addresses() {
        assert_eq!(
            owner_name_from("anna.schmidt@kanzlei.example"),
            "Anna Schmidt"
        );
        assert_eq!(owner_name_from("chef@kanzlei.example"), "Chef");
        assert_eq!(owner_name_from("@x"), "Owner");
    }
}
