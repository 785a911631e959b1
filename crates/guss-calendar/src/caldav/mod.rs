//! The CalDAV adapter (RFC 4791, RFC 6578, RFC 6638, RFC 6764) on
//! guss-dav's handlers. Every request is authenticated through guss-core's
//! [`Authenticator`] (app passwords) and every calendar it touches is
//! checked with the [`Authorizer`] (resource kind `calendar`, id
//! `OWNER/CALENDAR`, with the context attributes `owner` and `shared`
//! saying whether the caller owns it or how it is shared with them).
//!
//! The tree below the mount (`/dav/`):
//!
//! | path | what |
//! |---|---|
//! | `principals/HANDLE/` | a calendar user (person, room or resource) |
//! | `calendars/HANDLE/` | their calendar home |
//! | `calendars/HANDLE/CAL/` | a calendar; `OWNER~CAL/` in a home is a calendar shared with its owner |
//! | `calendars/HANDLE/inbox/`, `outbox/` | schedule inbox and outbox (RFC 6638) |
//! | `calendars/HANDLE/CAL/NAME.ics` | a calendar object |
//!
//! ```no_run
//! use std::sync::Arc;
//! use guss_calendar::caldav::{CalDav, CalendarUsers};
//! use guss_calendar::store::CalendarStore;
//! use guss_core::{Authenticator, Authorizer, TenantId};
//!
//! fn app(store: CalendarStore, users: Arc<dyn CalendarUsers>, authn: Arc<dyn Authenticator>, authz: Arc<dyn Authorizer>) -> axum::Router {
//!     let tenant = TenantId::new();
//!     CalDav::new(store, users, authn, authz, Arc::new(move |_: &axum::http::request::Parts| Some(tenant))).router()
//! }
//! ```

mod backend;
mod editor;
mod mkcalendar;
mod paths;
mod props;
mod report;
mod schedule;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use guss_core::{Authenticator, Authorizer, Principal, Scope, TenantId};
use guss_dav::server::{Config, TenantOf, WellKnown, authenticate, handle, well_known};
use serde::Serialize;

use crate::itip::UserKind;
use crate::store::CalendarStore;

pub use backend::CalDavBackend;

/// The CalDAV namespace.
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// The namespace of `getctag` and other calendar-server properties.
pub const CALENDARSERVER: &str = "http://calendarserver.org/ns/";
/// The namespace of `calendar-color` and `calendar-order`.
pub const APPLE_ICAL: &str = "http://apple.com/ns/ical/";
/// Where the tree is mounted.
pub const MOUNT: &str = "/dav/";

/// A calendar user: a person, room or resource with a calendar home.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CalendarUser {
    /// The path segment of their principal and home.
    pub handle: String,
    /// Their calendar user address (an e-mail address, without `mailto:`).
    pub address: String,
    /// The name people see.
    pub display_name: String,
    /// Person, room, resource or group.
    pub kind: UserKind,
}

impl CalendarUser {
    /// Whether they are booked rather than invited (rooms and resources).
    pub fn is_bookable(&self) -> bool {
        matches!(self.kind, UserKind::Room | UserKind::Resource)
    }
}

/// Who the calendar users are: the bundle answers from the directory
/// (people) and the resource list (rooms, cars).
#[async_trait]
pub trait CalendarUsers: Send + Sync {
    /// The calendar user a principal acts as.
    async fn user_of(&self, principal: &Principal) -> Option<CalendarUser>;
    /// The calendar user with this handle.
    async fn by_handle(&self, tenant: TenantId, handle: &str) -> Option<CalendarUser>;
    /// The calendar user with this address (normalized: no `mailto:`, lower case).
    async fn by_address(&self, tenant: TenantId, address: &str) -> Option<CalendarUser>;
}

/// The CalDAV service.
#[derive(Clone)]
pub struct CalDav {
    store: CalendarStore,
    users: Arc<dyn CalendarUsers>,
    authenticator: Arc<dyn Authenticator>,
    authorizer: Arc<dyn Authorizer>,
    tenant_of: TenantOf,
    /// Homes known to exist, so that requests do not check them again.
    homes: Arc<Mutex<HashSet<(TenantId, String)>>>,
}

impl std::fmt::Debug for CalDav {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalDav").finish_non_exhaustive()
    }
}

impl CalDav {
    /// The service over `store`.
    pub fn new(
        store: CalendarStore,
        users: Arc<dyn CalendarUsers>,
        authenticator: Arc<dyn Authenticator>,
        authorizer: Arc<dyn Authorizer>,
        tenant_of: TenantOf,
    ) -> Self {
        CalDav {
            store,
            users,
            authenticator,
            authorizer,
            tenant_of,
            homes: Arc::default(),
        }
    }

    /// A router answering `/.well-known/caldav` and everything below `/dav/`.
    pub fn router(self) -> Router {
        let this = Arc::new(self);
        Router::new().fallback(move |request: Request| {
            let this = this.clone();
            async move { this.serve(request).await }
        })
    }

    /// Answers one request.
    pub async fn serve(&self, request: Request<Body>) -> Response {
        let targets = WellKnown {
            caldav: Some(MOUNT.to_owned()),
            carddav: None,
        };
        if let Some(redirect) = well_known(request.uri().path(), &targets) {
            return redirect;
        }
        if !request.uri().path().starts_with(MOUNT) && request.uri().path() != "/dav" {
            return (StatusCode::NOT_FOUND, "not found\n").into_response();
        }
        let (parts, body) = request.into_parts();
        let (tenant, principal) = match authenticate(
            &parts,
            &self.tenant_of,
            self.authenticator.as_ref(),
            Scope::Calendar,
        )
        .await
        {
            Ok(found) => found,
            Err(refused) => return refused,
        };
        let Some(me) = self.users.user_of(&principal).await else {
            return (StatusCode::FORBIDDEN, "This account has no calendar.\n").into_response();
        };
        let calendars = self.store.tenant(tenant);
        let home = (tenant, me.handle.clone());
        // The default calendar and inbox cannot be deleted: once made, they stay.
        let known = self
            .homes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&home);
        if !known {
            if let Err(e) = backend::ensure_home(&calendars, &me).await {
                tracing::error!(error = %e, "calendar home");
                return (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response();
            }
            self.homes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(home);
        }
        let backend = CalDavBackend::new(
            calendars,
            self.users.clone(),
            me,
            principal.clone(),
            self.authorizer.clone(),
        );
        let config = Config::new(MOUNT, principal.to_string());
        handle(&backend, &config, Request::from_parts(parts, body)).await
    }
}
