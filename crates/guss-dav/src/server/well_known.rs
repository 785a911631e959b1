//! RFC 6764 §5: `/.well-known/caldav` and `/.well-known/carddav` redirect
//! to the context path where the service lives.
//!
//! The redirect is a 307, one of the codes §5 allows: clients repeat their
//! PROPFIND with its body at the target, where after a 301 some (python's
//! requests among them) drop the body and get a different answer.

use axum::http::{StatusCode, header};
use axum::response::Response;

use super::reply::{empty, set_header};

/// Where the well-known DAV URIs point.
///
/// ```
/// use guss_dav::server::{WellKnown, well_known};
///
/// let targets = WellKnown { caldav: Some("/dav/calendars/".into()), carddav: None };
/// let response = well_known("/.well-known/caldav", &targets).unwrap();
/// assert_eq!(response.status().as_u16(), 307);
/// assert_eq!(response.headers()["location"], "/dav/calendars/");
/// assert!(well_known("/.well-known/carddav", &targets).is_none());
/// assert!(well_known("/anna/", &targets).is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WellKnown {
    /// The CalDAV context path (RFC 6764 §5), e.g. `/dav/calendars/`.
    pub caldav: Option<String>,
    /// The CardDAV context path, e.g. `/dav/contacts/`.
    pub carddav: Option<String>,
}

/// The redirect for a well-known DAV path, or `None` when `path` is not
/// one (or that service is not offered).
pub fn well_known(path: &str, targets: &WellKnown) -> Option<Response> {
    let target = match path.trim_end_matches('/') {
        "/.well-known/caldav" => targets.caldav.as_deref()?,
        "/.well-known/carddav" => targets.carddav.as_deref()?,
        _ => return None,
    };
    let mut response = empty(StatusCode::TEMPORARY_REDIRECT);
    set_header(&mut response, header::LOCATION, target);
    response.headers().get(header::LOCATION)?;
    Some(response)
}
