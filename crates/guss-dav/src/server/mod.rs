//! The WebDAV method handlers (RFC 4918 class 1, 2 and 3, RFC 5689 extended
//! MKCOL, RFC 6578 sync-collection, RFC 4331 quota) over a [`DavBackend`].
//!
//! The caller authenticates the request, builds a backend handle bound to
//! the principal, and hands both to [`handle`], which answers every request
//! with a response: errors become an HTTP status with a short text or
//! `DAV:error` body, never a panic.
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{Router, extract::Request};
//! use guss_dav::backend::DavBackend;
//! use guss_dav::server::{Config, handle};
//!
//! fn router(backend: Arc<dyn DavBackend>) -> Router {
//!     let config = Arc::new(Config::new("/dav/files/", "anna"));
//!     Router::new().fallback(move |request: Request| {
//!         let (backend, config) = (backend.clone(), config.clone());
//!         async move { handle(&*backend, &config, request).await }
//!     })
//! }
//! ```

mod access;
mod conditions;
mod copy_move;
pub(crate) mod href;
mod locking;
mod options;
mod propfind;
mod proppatch;
mod props;
mod read;
mod reply;
mod report;
mod well_known;
mod write;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::response::Response;
use guss_core::{Clock, SystemClock};

use crate::backend::{DavBackend, DavPath};
use crate::xml::Limits;

pub use access::{TenantOf, authenticate, unauthorized};
pub use well_known::{WellKnown, well_known};

use reply::Problem;

/// How a WebDAV tree is served: fixed per mount, shared by all requests.
///
/// ```
/// use guss_dav::server::Config;
///
/// let config = Config::new("/dav/files", "anna");
/// assert_eq!(config.prefix(), "/dav/files/");
/// assert!(!config.allow_depth_infinity_propfind);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    prefix: String,
    /// The authenticated principal's id: lock owner, and whose lock tokens count.
    pub principal: String,
    /// Bounds on XML request bodies (size, nesting, element count).
    pub xml_limits: Limits,
    /// Largest XML request body read before parsing (413 above).
    pub max_xml_body: usize,
    /// Whether PROPFIND with `Depth: infinity` is answered (RFC 4918 §9.1
    /// lets a server refuse it; refused by default).
    pub allow_depth_infinity_propfind: bool,
    /// Most responses in one PROPFIND with `Depth: infinity`, and the most
    /// changes one sync-collection report returns.
    pub max_results: usize,
    /// Where time comes from (lock expiry).
    pub clock: Arc<dyn Clock>,
}

impl Config {
    /// A configuration serving the tree below `prefix` (an absolute,
    /// already percent-encoded path such as `/dav/files/anna/`) to `principal`.
    ///
    /// ```
    /// let config = guss_dav::server::Config::new("/anna/", "anna");
    /// assert_eq!(config.max_xml_body, 1024 * 1024);
    /// ```
    pub fn new(prefix: &str, principal: impl Into<String>) -> Self {
        let trimmed = prefix.trim_matches('/');
        let prefix = if trimmed.is_empty() {
            "/".to_owned()
        } else {
            format!("/{trimmed}/")
        };
        Config {
            prefix,
            principal: principal.into(),
            xml_limits: Limits::default(),
            max_xml_body: 1024 * 1024,
            allow_depth_infinity_propfind: false,
            max_results: 10_000,
            clock: Arc::new(SystemClock),
        }
    }

    /// The mount prefix, starting and ending with `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// This configuration with another clock (tests use a fixed one).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use chrono::Utc;
    /// use guss_core::{Clock, FixedClock};
    ///
    /// let now = Utc::now();
    /// let config = guss_dav::server::Config::new("/", "anna").with_clock(Arc::new(FixedClock::new(now)));
    /// assert_eq!(config.clock.now(), now);
    /// ```
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

/// One request, as the handlers see it.
pub(crate) struct Ctx<'a, B: DavBackend + ?Sized> {
    pub(crate) backend: &'a B,
    pub(crate) config: &'a Config,
    pub(crate) headers: HeaderMap,
    /// The request URI's path inside the tree.
    pub(crate) path: DavPath,
}

impl<B: DavBackend + ?Sized> Ctx<'_, B> {
    /// A header's value, when present and visible ASCII.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The href of `path` (with a trailing `/` for collections).
    pub(crate) fn href(&self, path: &DavPath, collection: bool) -> String {
        href::href(&self.config.prefix, path, collection)
    }
}

/// Answers one WebDAV request against `backend`. The request must already
/// be authenticated; `config.principal` names who sent it.
///
/// ```no_run
/// # async fn demo(backend: &dyn guss_dav::backend::DavBackend) {
/// use axum::body::Body;
/// use axum::http::Request;
/// use guss_dav::server::{Config, handle};
///
/// let config = Config::new("/dav/", "anna");
/// let request = Request::builder().method("PROPFIND").uri("/dav/").header("Depth", "1")
///     .body(Body::empty()).unwrap();
/// let response = handle(backend, &config, request).await;
/// assert_eq!(response.status().as_u16(), 207);
/// # }
/// ```
pub async fn handle<B: DavBackend + ?Sized>(
    backend: &B,
    config: &Config,
    request: Request<Body>,
) -> Response {
    match dispatch(backend, config, request).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

async fn dispatch<B: DavBackend + ?Sized>(
    backend: &B,
    config: &Config,
    request: Request<Body>,
) -> Result<Response, Problem> {
    let (parts, body) = request.into_parts();
    let (path, _) = href::request_path(&config.prefix, parts.uri.path())?;
    let ctx = Ctx {
        backend,
        config,
        headers: parts.headers,
        path,
    };
    let method = parts.method;
    match method.as_str() {
        "OPTIONS" => Ok(options::options(
            &backend.compliance_classes(),
            &backend.extra_methods(),
        )),
        "GET" => read::get(&ctx, true).await,
        "HEAD" => read::get(&ctx, false).await,
        "PUT" => write::put(&ctx, body).await,
        "DELETE" => write::delete(&ctx).await,
        "MKCOL" => write::mkcol(&ctx, body).await,
        "PROPFIND" => propfind::propfind(&ctx, body).await,
        "PROPPATCH" => proppatch::proppatch(&ctx, body).await,
        "COPY" => copy_move::copy_move(&ctx, &parts.uri, false).await,
        "MOVE" => copy_move::copy_move(&ctx, &parts.uri, true).await,
        "LOCK" => locking::lock(&ctx, body).await,
        "UNLOCK" => locking::unlock(&ctx).await,
        "REPORT" => report::report(&ctx, body).await,
        other => {
            let content_type = ctx.header("content-type").map(str::to_owned);
            let body = axum::body::to_bytes(body, config.max_xml_body)
                .await
                .map_err(|_| {
                    Problem::status(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "the request body is too large",
                    )
                })?;
            let mount = crate::backend::Mount::new(&config.prefix);
            match backend
                .other_method(&mount, other, &ctx.path, content_type.as_deref(), body)
                .await
            {
                Some(reply) => Ok(reply::from_reply(reply?)),
                None if method == Method::POST => {
                    Err(write::not_allowed("POST is not supported here"))
                }
                None => Err(Problem::status(
                    StatusCode::NOT_IMPLEMENTED,
                    "method not implemented",
                )),
            }
        }
    }
}
