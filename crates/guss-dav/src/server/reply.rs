//! Building responses: plain statuses with a short text, `DAV:error`
//! bodies, multistatus bodies, and errors from the backend and the parsers.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::backend::BackendError;
use crate::multistatus::Multistatus;

/// Why a request ends early: turned into a response by the dispatcher.
#[derive(Debug)]
pub(crate) enum Problem {
    /// A status with a short text/plain body.
    Status(StatusCode, String),
    /// A status with `<D:error>` around a precondition element (XML, `D` is DAV:).
    Condition(StatusCode, String),
    /// A finished response (e.g. 304 with headers).
    Done(Box<Response>),
}

impl Problem {
    pub(crate) fn status(status: StatusCode, text: impl Into<String>) -> Self {
        Problem::Status(status, text.into())
    }

    pub(crate) fn condition(status: StatusCode, element: impl Into<String>) -> Self {
        Problem::Condition(status, element.into())
    }

    pub(crate) fn bad_request(text: impl Into<String>) -> Self {
        Problem::status(StatusCode::BAD_REQUEST, text)
    }

    pub(crate) fn not_found() -> Self {
        Problem::status(StatusCode::NOT_FOUND, "not found")
    }

    pub(crate) fn conflict(text: impl Into<String>) -> Self {
        Problem::status(StatusCode::CONFLICT, text)
    }

    pub(crate) fn precondition_failed() -> Self {
        Problem::status(StatusCode::PRECONDITION_FAILED, "precondition failed")
    }

    pub(crate) fn into_response(self) -> Response {
        match self {
            Problem::Status(status, text) => {
                let mut text = text;
                text.push('\n');
                with_body(status, "text/plain; charset=utf-8", text)
            }
            Problem::Condition(status, element) => with_body(
                status,
                "application/xml; charset=utf-8",
                format!(
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\">{element}</D:error>\n"
                ),
            ),
            Problem::Done(response) => *response,
        }
    }
}

impl From<crate::Error> for Problem {
    fn from(e: crate::Error) -> Self {
        match e {
            crate::Error::InfiniteDepth => {
                Problem::condition(StatusCode::FORBIDDEN, "<D:propfind-finite-depth/>")
            }
            other => Problem::status(
                StatusCode::from_u16(other.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
                other.to_string(),
            ),
        }
    }
}

impl From<BackendError> for Problem {
    fn from(e: BackendError) -> Self {
        let status =
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match e {
            BackendError::InvalidSyncToken => {
                Problem::condition(StatusCode::FORBIDDEN, "<D:valid-sync-token/>")
            }
            BackendError::Condition { condition, .. } => Problem::condition(status, condition),
            // The message is for the log, not the client.
            BackendError::Internal(_) => Problem::status(status, "internal error"),
            other => Problem::status(status, other.to_string()),
        }
    }
}

/// A response with a body and its content type.
pub(crate) fn with_body(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A response without a body.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// A `207 Multi-Status` response.
pub(crate) fn multistatus(body: &Multistatus) -> Response {
    with_body(
        StatusCode::MULTI_STATUS,
        "application/xml; charset=utf-8",
        body.to_xml(),
    )
}

/// Sets a header whose value we built (skipped if it is not a valid value).
pub(crate) fn set_header(response: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// Reads an XML request body of at most `limit` bytes as UTF-8 (413 above, 400 when not UTF-8).
pub(crate) async fn read_xml_body(
    headers: &axum::http::HeaderMap,
    body: Body,
    limit: usize,
) -> Result<String, Problem> {
    let too_large = || {
        Problem::status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body exceeds {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    String::from_utf8(bytes.to_vec()).map_err(|_| Problem::bad_request("the body is not UTF-8"))
}

/// The quoted form of a backend entity tag.
pub(crate) fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// An HTTP date (RFC 9110 §5.6.7, IMF-fixdate).
pub(crate) fn http_date(time: chrono::DateTime<chrono::Utc>) -> String {
    time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The response for a backend's own [`Reply`](crate::backend::Reply).
pub(crate) fn from_reply(reply: crate::backend::Reply) -> Response {
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    set_header(&mut response, header::CONTENT_TYPE, &reply.content_type);
    for (name, value) in &reply.headers {
        if let Ok(name) = header::HeaderName::from_bytes(name.as_bytes()) {
            set_header(&mut response, name, value);
        }
    }
    response
}
