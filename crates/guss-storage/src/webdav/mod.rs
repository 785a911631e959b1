//! The WebDAV adapter: serves a tenant's files through guss-dav's
//! handlers. Every request is authenticated through guss-core's
//! [`Authenticator`] (HTTP Basic with an app password) and every operation
//! is checked with the [`Authorizer`] before it touches the store.
//!
//! ```no_run
//! use std::sync::Arc;
//! use guss_core::{Authenticator, Authorizer, TenantId};
//! use guss_storage::store::FileStore;
//! use guss_storage::webdav::WebDav;
//!
//! fn app(store: FileStore, authn: Arc<dyn Authenticator>, authz: Arc<dyn Authorizer>) -> axum::Router {
//!     let tenant = TenantId::new();
//!     WebDav::new(store, authn, authz, "/dav/files/", Arc::new(move |_: &axum::http::request::Parts| Some(tenant)))
//!         .router()
//! }
//! ```

mod backend;
mod locks;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use guss_core::{Authenticator, Authorizer, Scope};

use crate::store::FileStore;
use guss_dav::server::{TenantOf, authenticate};

pub use backend::StorageDav;

/// The WebDAV service over a [`FileStore`].
#[derive(Clone)]
pub struct WebDav {
    store: FileStore,
    authenticator: Arc<dyn Authenticator>,
    authorizer: Arc<dyn Authorizer>,
    prefix: String,
    tenant_of: TenantOf,
}

impl std::fmt::Debug for WebDav {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebDav")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl WebDav {
    /// Serves `store` under `prefix` (e.g. `/` or `/dav/files/`).
    pub fn new(
        store: FileStore,
        authenticator: Arc<dyn Authenticator>,
        authorizer: Arc<dyn Authorizer>,
        prefix: &str,
        tenant_of: TenantOf,
    ) -> Self {
        WebDav {
            store,
            authenticator,
            authorizer,
            prefix: prefix.to_owned(),
            tenant_of,
        }
    }

    /// An axum router that answers every method on every path below the prefix.
    pub fn router(self) -> Router {
        let this = Arc::new(self);
        Router::new().fallback(move |request: Request| {
            let this = this.clone();
            async move { this.serve(request).await }
        })
    }

    /// Answers one request.
    pub async fn serve(&self, request: Request<Body>) -> Response {
        let (parts, body) = request.into_parts();
        let (tenant, principal) = match authenticate(
            &parts,
            &self.tenant_of,
            self.authenticator.as_ref(),
            Scope::Files,
        )
        .await
        {
            Ok(found) => found,
            Err(refused) => return refused,
        };
        let config = guss_dav::server::Config::new(&self.prefix, principal.to_string());
        let backend = StorageDav::new(
            self.store.tenant(tenant),
            principal,
            self.authorizer.clone(),
        );
        guss_dav::server::handle(&backend, &config, Request::from_parts(parts, body)).await
    }
}
