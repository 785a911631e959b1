//! Who is asking: the tenant of a request and its principal, from HTTP
//! Basic (app passwords) or Bearer credentials through guss-core's
//! [`Authenticator`]; for every adapter that serves DAV or JSON next to it.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use guss_core::{Authenticator, Credentials, Principal, Scope, TenantId};

/// Which tenant a request is for (by host name, path or configuration).
pub type TenantOf = Arc<dyn Fn(&Parts) -> Option<TenantId> + Send + Sync>;

/// The answer to a request without valid credentials.
///
/// ```
/// let response = guss_dav::server::unauthorized();
/// assert_eq!(response.status(), 401);
/// assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
/// ```
pub fn unauthorized() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "Sign in with your name and an app password.\n",
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"guss\", charset=\"UTF-8\""),
    );
    response
}

/// The tenant and principal of a request for `scope`, or the response
/// refusing it (404 for no tenant, 401 for missing or wrong credentials or
/// a principal of another tenant).
pub async fn authenticate(
    parts: &Parts,
    tenant_of: &TenantOf,
    authenticator: &dyn Authenticator,
    scope: Scope,
) -> Result<(TenantId, Principal), Response> {
    let Some(tenant) = tenant_of(parts) else {
        return Err((StatusCode::NOT_FOUND, "No organisation here.\n").into_response());
    };
    let credentials = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Credentials::from_authorization_header(v).ok())
        .ok_or_else(unauthorized)?;
    match authenticator
        .authenticate(tenant, &credentials, scope)
        .await
    {
        Ok(principal) if principal.tenant() == tenant => Ok((tenant, principal)),
        _ => Err(unauthorized()),
    }
}
