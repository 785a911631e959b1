//! Who is asking: the tenant of a request and its principal, from HTTP
//! Basic (app passwords) or Bearer credentials through the
//! [`Authenticator`]; shared by the WebDAV and JSON adapters.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use guss_core::{Authenticator, Credentials, Principal, Scope, TenantId};

/// Which tenant a request is for (by host name, path or configuration).
pub type TenantOf = Arc<dyn Fn(&Parts) -> Option<TenantId> + Send + Sync>;

/// The answer to a request without valid credentials.
pub(crate) fn unauthorized() -> Response {
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

/// The tenant and principal of a request, or the response refusing it.
pub(crate) async fn authenticate(
    parts: &Parts,
    tenant_of: &TenantOf,
    authenticator: &dyn Authenticator,
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
        .authenticate(tenant, &credentials, Scope::Files)
        .await
    {
        Ok(principal) if principal.tenant() == tenant => Ok((tenant, principal)),
        _ => Err(unauthorized()),
    }
}
