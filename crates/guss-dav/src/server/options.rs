//! OPTIONS: the compliance classes and methods (RFC 4918 §10.1, §18).

use axum::http::{StatusCode, header};
use axum::response::Response;

use super::reply::{empty, set_header};

/// The methods every resource of the tree answers.
pub(crate) const ALLOW: &str =
    "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK, REPORT";

/// The OPTIONS response: class 1, 2 and 3 plus extended MKCOL (RFC 5689 §3).
pub(crate) fn options(extra_classes: &[&str], extra_methods: &[&str]) -> Response {
    let mut response = empty(StatusCode::OK);
    let mut classes = String::from("1, 2, 3, extended-mkcol");
    for class in extra_classes {
        classes.push_str(", ");
        classes.push_str(class);
    }
    set_header(
        &mut response,
        header::HeaderName::from_static("dav"),
        &classes,
    );
    let mut allow = String::from(ALLOW);
    for method in extra_methods {
        allow.push_str(", ");
        allow.push_str(method);
    }
    set_header(&mut response, header::ALLOW, &allow);
    set_header(
        &mut response,
        header::HeaderName::from_static("ms-author-via"),
        "DAV",
    );
    set_header(&mut response, header::CONTENT_LENGTH, "0");
    response
}
