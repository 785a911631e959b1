//! JSON endpoints for the ceremonies, sessions, passkeys, invitations, app
//! passwords and recovery (feature `http`), as an axum [`Router`](axum::Router).
//!
//! Sessions travel in a `__Host-guss_session` cookie (`Secure`, `HttpOnly`,
//! `SameSite=Strict`, path `/`) or as `Authorization: Bearer`. Requests that
//! change state with a cookie must be JSON and carry an `Origin` the tenant
//! allows: a cross-site form cannot do either. Failed attempts are limited
//! per account and per source address by the service itself.
//!
//! ```no_run
//! use std::sync::Arc;
//! use guss_identity::{http, Identity, store::SqlStore};
//! # fn serve(identity: Arc<Identity<SqlStore>>, tenant: guss_core::TenantId) {
//! let app = axum::Router::new().nest("/api/identity", http::router(identity, http::fixed_tenant(tenant)));
//! # }
//! ```

mod handlers;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts};
use axum::http::header::{
    AUTHORIZATION, CONTENT_TYPE, COOKIE, ORIGIN, RETRY_AFTER, SET_COOKIE, USER_AGENT,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use guss_core::TenantId;

use crate::store::TenantRegistry;
use crate::{Client, Error, Identity, Session};

/// The session cookie's name. `__Host-` makes browsers insist on `Secure`,
/// path `/` and no `Domain`, so no other host can set or read it.
pub const SESSION_COOKIE: &str = "__Host-guss_session";

/// Largest request body accepted (credentials are a few KiB).
const MAX_BODY: usize = 64 * 1024;

/// Finds the tenant a request is for (by host name, path, …).
pub type TenantResolver = Arc<dyn Fn(&Parts) -> Option<TenantId> + Send + Sync>;

/// Every request goes to one tenant.
pub fn fixed_tenant(tenant: TenantId) -> TenantResolver {
    Arc::new(move |_| Some(tenant))
}

/// The endpoints, to be nested under a prefix such as `/api/identity`.
pub fn router<R: TenantRegistry + 'static>(
    identity: Arc<Identity<R>>,
    tenants: TenantResolver,
) -> axum::Router {
    use handlers::*;
    axum::Router::new()
        .route("/sign-in/start", post(sign_in_start::<R>))
        .route("/sign-in/finish", post(sign_in_finish::<R>))
        .route("/enroll/start", post(enroll_start::<R>))
        .route("/enroll/finish", post(enroll_finish::<R>))
        .route("/sign-out", post(sign_out::<R>))
        .route("/me", get(me::<R>))
        .route("/sessions", get(sessions::<R>))
        .route("/sessions/{id}", delete(revoke_session::<R>))
        .route("/step-up/start", post(step_up_start::<R>))
        .route("/step-up/finish", post(step_up_finish::<R>))
        .route("/passkeys", get(passkeys::<R>))
        .route("/passkeys/start", post(add_passkey_start::<R>))
        .route("/passkeys/finish", post(add_passkey_finish::<R>))
        .route("/passkeys/{id}", delete(remove_passkey::<R>))
        .route(
            "/app-passwords",
            get(app_passwords::<R>).post(create_app_password::<R>),
        )
        .route("/app-passwords/{id}", delete(revoke_app_password::<R>))
        .route("/people", get(people::<R>))
        .route("/people/{id}/suspend", post(suspend::<R>))
        .route("/people/{id}/depart", post(depart::<R>))
        .route("/people/{id}/reactivate", post(reactivate::<R>))
        .route("/people/{id}/roles", post(grant_role::<R>))
        .route("/people/{id}/roles/{role}", delete(revoke_role::<R>))
        .route("/people/{id}/recovery-link", post(recovery_link::<R>))
        .route("/invitations", get(invitations::<R>).post(invite::<R>))
        .route("/enrollments/{id}", delete(revoke_enrollment::<R>))
        .route("/trustees", post(configure_trustees::<R>))
        .route("/break-glass", post(break_glass_start::<R>))
        .route("/break-glass/{id}", get(break_glass::<R>))
        .route("/break-glass/{id}/veto", post(break_glass_veto::<R>))
        .route("/break-glass/{id}/finish", post(break_glass_finish::<R>))
        .route("/continuity", get(continuity::<R>))
        .route("/relying-party", post(set_relying_party::<R>))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(App { identity, tenants })
}

/// Shared by every handler.
pub(crate) struct App<R: TenantRegistry> {
    pub(crate) identity: Arc<Identity<R>>,
    tenants: TenantResolver,
}

impl<R: TenantRegistry> Clone for App<R> {
    fn clone(&self) -> Self {
        App {
            identity: self.identity.clone(),
            tenants: self.tenants.clone(),
        }
    }
}

/// Errors answer with their status and a JSON `{ "error": … }`.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = match &self {
            // Backend details stay in the log.
            Error::Backend(source) => {
                tracing::error!(error = %source, "identity backend failure");
                "the service is unavailable, try again".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = (status, Json(serde_json::json!({ "error": message }))).into_response();
        if let Error::RateLimited {
            retry_after_seconds,
        } = self
            && let Ok(value) = HeaderValue::from_str(&retry_after_seconds.to_string())
        {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        response
    }
}

/// The tenant and client of a request.
pub(crate) struct Request {
    pub(crate) tenant: TenantId,
    pub(crate) client: Client,
}

impl<R: TenantRegistry + 'static> FromRequestParts<App<R>> for Request {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App<R>) -> Result<Self, Error> {
        let tenant = (app.tenants)(parts).ok_or_else(|| Error::not_found("organisation"))?;
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let label = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown client");
        let request = Request {
            tenant,
            client: Client::new(address, label),
        };
        if changes_state(&parts.method) {
            check_same_origin(app, tenant, &parts.headers).await?;
        }
        Ok(request)
    }
}

/// A signed-in request.
pub(crate) struct Authed {
    pub(crate) session: Session,
}

impl<R: TenantRegistry + 'static> FromRequestParts<App<R>> for Authed {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App<R>) -> Result<Self, Error> {
        let request = Request::from_request_parts(parts, app).await?;
        let token = bearer(&parts.headers)
            .or_else(|| cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned))
            .ok_or(Error::Unauthenticated)?;
        let session = app.identity.session(request.tenant, &token).await?;
        Ok(Authed { session })
    }
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// CSRF: a state-changing request must be JSON (a cross-site form cannot send
/// that without a CORS preflight) and, when the browser says where it comes
/// from, come from one of the tenant's origins.
async fn check_same_origin<R: TenantRegistry>(
    app: &App<R>,
    tenant: TenantId,
    headers: &HeaderMap,
) -> Result<(), Error> {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    let has_body_less_auth = headers.get(AUTHORIZATION).is_some() && headers.get(COOKIE).is_none();
    if !json && !has_body_less_auth {
        return Err(Error::invalid("request", "must be application/json"));
    }
    if let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) {
        let allowed = app.identity.tenant(tenant).await?.relying_party.origins;
        let matches = allowed.iter().any(|o| {
            o.origin()
                .ascii_serialization()
                .eq_ignore_ascii_case(origin)
        });
        if !matches {
            return Err(Error::Forbidden);
        }
    }
    Ok(())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    match guss_core::Credentials::from_authorization_header(value).ok()? {
        credentials @ guss_core::Credentials::Bearer { .. } => {
            Some(credentials.secret().to_owned())
        }
        _ => None,
    }
}

/// The value of the cookie `name` in a request's `Cookie` headers.
///
/// ```
/// use axum::http::{HeaderMap, HeaderValue, header::COOKIE};
/// let mut headers = HeaderMap::new();
/// headers.insert(COOKIE, HeaderValue::from_static("a=1; __Host-guss_session=tok"));
/// assert_eq!(guss_identity::http::cookie(&headers, guss_identity::http::SESSION_COOKIE), Some("tok"));
/// assert_eq!(guss_identity::http::cookie(&headers, "b"), None);
/// ```
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value)
}

/// The `Set-Cookie` header for a new session (or, with `None`, its removal).
pub(crate) fn session_cookie(
    token: Option<&str>,
    max_age_seconds: i64,
) -> (axum::http::HeaderName, String) {
    let value = match token {
        Some(token) => format!(
            "{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}"
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
    };
    (SET_COOKIE, value)
}
