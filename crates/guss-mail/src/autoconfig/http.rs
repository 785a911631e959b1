//! The autoconfig endpoints as an axum [`Router`] (feature `http`).
//!
//! | path | method | for |
//! |---|---|---|
//! | `/.well-known/autoconfig/mail/config-v1.1.xml` | GET | Thunderbird, on the mail domain |
//! | `/mail/config-v1.1.xml` | GET | Thunderbird, on `autoconfig.<domain>` |
//! | `/.well-known/mail-v1.xml` | GET | the current autoconfig draft's URL |
//! | `/autodiscover/autodiscover.xml` (and `Autodiscover/Autodiscover.xml`, `AutoDiscover/AutoDiscover.xml`) | POST | Outlook |
//!
//! The mail domain comes from Thunderbird's `?emailaddress=` parameter,
//! else from the `Host` (less a leading `autoconfig.`), and from the
//! address inside an Autodiscover request. A [`SettingsResolver`] turns it
//! into [`ClientSettings`]; a domain it does not know is answered with 404,
//! so that clients go on to their next way of finding settings.
//!
//! Configuration profiles are not served here: they carry an app password,
//! so the bundle serves them behind sign-in.
//!
//! ```
//! use guss_mail::autoconfig::{http, ClientSettings};
//!
//! let app: axum::Router = http::router(|domain: &str| {
//!     (domain == "kanzlei.example").then(|| {
//!         ClientSettings::new("kanzlei.example", "mail.kanzlei.example", "guss.kanzlei.example").ok()
//!     }).flatten()
//! });
//! ```

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use guss_core::EmailAddress;
use serde::Deserialize;

use super::settings::host_name;
use super::{
    AutodiscoverError, ClientSettings, Error, MAX_AUTODISCOVER_REQUEST,
    autodiscover_error_response, autodiscover_response, parse_autodiscover_request, thunderbird,
};

/// Media type of the Thunderbird document.
const THUNDERBIRD_CONTENT_TYPE: &str = "application/xml; charset=utf-8";
/// Media type of Autodiscover responses.
const AUTODISCOVER_CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// Finds the settings for a mail domain (ASCII, lowercased), or `None` for a
/// domain this server does not host.
///
/// Any `Fn(&str) -> Option<ClientSettings>` is one; implement the trait for
/// lookups that wait (a database, say).
pub trait SettingsResolver: Send + Sync + 'static {
    /// The settings for `domain`.
    fn settings_for(&self, domain: &str) -> impl Future<Output = Option<ClientSettings>> + Send;
}

impl<F> SettingsResolver for F
where
    F: Fn(&str) -> Option<ClientSettings> + Send + Sync + 'static,
{
    fn settings_for(&self, domain: &str) -> impl Future<Output = Option<ClientSettings>> + Send {
        std::future::ready(self(domain))
    }
}

/// The endpoints, to be merged into the server's router at the root (the
/// paths are fixed by the clients).
pub fn router<R: SettingsResolver>(resolver: R) -> Router {
    let state = Arc::new(resolver);
    Router::new()
        .route(
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            get(thunderbird_config::<R>),
        )
        .route("/mail/config-v1.1.xml", get(thunderbird_config::<R>))
        .route("/.well-known/mail-v1.xml", get(thunderbird_config::<R>))
        .route("/autodiscover/autodiscover.xml", post(autodiscover::<R>))
        .route("/Autodiscover/Autodiscover.xml", post(autodiscover::<R>))
        .route("/AutoDiscover/AutoDiscover.xml", post(autodiscover::<R>))
        .with_state(state)
}

#[derive(Deserialize)]
struct ThunderbirdQuery {
    emailaddress: Option<String>,
}

async fn thunderbird_config<R: SettingsResolver>(
    State(resolver): State<Arc<R>>,
    Query(query): Query<ThunderbirdQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let domain = match query.emailaddress {
        Some(address) => match address.trim().parse::<EmailAddress>() {
            Ok(address) => host_name("mail domain", address.domain()),
            Err(e) => Err(Error::invalid("emailaddress", e.to_string())),
        },
        None => request_host(&uri, &headers).and_then(|host| {
            let host = host_name("Host", &host)?;
            Ok(host
                .strip_prefix("autoconfig.")
                .map(str::to_owned)
                .unwrap_or(host))
        }),
    };
    let domain = match domain {
        Ok(domain) => domain,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    match resolver.settings_for(&domain).await {
        Some(settings) => xml(
            StatusCode::OK,
            THUNDERBIRD_CONTENT_TYPE,
            thunderbird(&settings),
        ),
        None => (StatusCode::NOT_FOUND, "no mail settings for this domain").into_response(),
    }
}

/// The host the request was sent to (HTTP/1.1 `Host`, or the authority of
/// an HTTP/2 request), without a port.
fn request_host(uri: &Uri, headers: &HeaderMap) -> Result<String, Error> {
    let authority = match headers.get(HOST) {
        Some(value) => value
            .to_str()
            .map_err(|_| Error::invalid("Host", "not ASCII"))?
            .to_owned(),
        None => uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .ok_or_else(|| Error::invalid("Host", "missing"))?,
    };
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority.as_str(),
    };
    Ok(host.to_owned())
}

async fn autodiscover<R: SettingsResolver>(State(resolver): State<Arc<R>>, body: Body) -> Response {
    let limit = usize::try_from(MAX_AUTODISCOVER_REQUEST.max()).unwrap_or(usize::MAX);
    let body: Bytes = match axum::body::to_bytes(body, limit).await {
        Ok(body) => body,
        Err(_) => {
            return xml(
                StatusCode::PAYLOAD_TOO_LARGE,
                AUTODISCOVER_CONTENT_TYPE,
                autodiscover_error_response(AutodiscoverError::InvalidRequest),
            );
        }
    };
    let address = match parse_autodiscover_request(&body) {
        Ok(address) => address,
        Err(e) => {
            tracing::debug!(error = %e, "refused an Autodiscover request");
            let error = AutodiscoverError::for_error(&e);
            // A schema guss does not offer is an answer, not a fault
            // (Exchange sends 601 with 200); a malformed request is a 400.
            let status = match (&e, error) {
                (_, AutodiscoverError::UnsupportedSchema) => StatusCode::OK,
                (Error::LimitExceeded { .. }, _) => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            return xml(
                status,
                AUTODISCOVER_CONTENT_TYPE,
                autodiscover_error_response(error),
            );
        }
    };
    let settings = match host_name("mail domain", address.domain()) {
        Ok(domain) => resolver.settings_for(&domain).await,
        Err(_) => None,
    };
    match settings {
        Some(settings) => xml(
            StatusCode::OK,
            AUTODISCOVER_CONTENT_TYPE,
            autodiscover_response(&settings, &address),
        ),
        None => xml(
            StatusCode::NOT_FOUND,
            AUTODISCOVER_CONTENT_TYPE,
            autodiscover_error_response(AutodiscoverError::UnknownAddress),
        ),
    }
}

fn xml(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}
