//! Hrefs: percent-encoding paths for responses, and decoding request URIs,
//! `Destination` headers (RFC 4918 §10.3) and tagged `If` lists into
//! [`DavPath`]s.

use axum::http::StatusCode;

use super::reply::Problem;
use crate::backend::DavPath;

/// Bytes kept as they are in a path segment: RFC 3986 unreserved plus the
/// sub-delimiters and `:`/`@` that are safe there.
fn keep(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

/// Percent-encodes one segment.
pub(crate) fn encode_segment(segment: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in segment.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(
                HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
            ));
            out.push(char::from(
                HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
            ));
        }
    }
}

/// Decodes `%XX` escapes; `None` for a broken escape or bytes that are not UTF-8.
pub(crate) fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|h| char::from(*h).to_digit(16))?;
            let lo = bytes.get(i + 2).and_then(|l| char::from(*l).to_digit(16))?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The href of `path` below `prefix` (which starts and ends with `/`).
pub(crate) fn href(prefix: &str, path: &DavPath, collection: bool) -> String {
    let mut out = prefix.to_owned();
    for (i, segment) in path.segments().iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        encode_segment(segment, &mut out);
    }
    if collection && !path.is_root() {
        out.push('/');
    }
    out
}

/// The path inside the tree of an absolute URI path, and whether it ended
/// with `/`. `None` when it lies outside `prefix` or is not a valid path.
fn inside(prefix: &str, uri_path: &str) -> Option<Result<(DavPath, bool), Problem>> {
    let bare = prefix.trim_end_matches('/');
    let rest = if uri_path == bare {
        ""
    } else {
        uri_path.strip_prefix(prefix)?
    };
    let trailing = rest.ends_with('/') || rest.is_empty();
    let mut segments = Vec::new();
    for raw in rest.split('/').filter(|s| !s.is_empty()) {
        match decode(raw) {
            Some(segment) => segments.push(segment),
            None => return Some(Err(Problem::bad_request("malformed percent-encoding"))),
        }
    }
    Some(
        DavPath::from_segments(segments)
            .map(|path| (path, trailing))
            .map_err(Problem::from),
    )
}

/// The request URI's path inside the tree (404 outside the prefix).
pub(crate) fn request_path(prefix: &str, uri_path: &str) -> Result<(DavPath, bool), Problem> {
    inside(prefix, uri_path).unwrap_or_else(|| Err(Problem::not_found()))
}

/// Splits an absolute URI (`http://host/path`) into authority and path;
/// an absolute path stays a path.
fn split_uri(value: &str) -> Option<(Option<&str>, &str)> {
    let value = value.trim();
    let value = value.split(['?', '#']).next().unwrap_or_default();
    if value.starts_with('/') {
        return Some((None, value));
    }
    let (scheme, rest) = value.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+')
    {
        return None;
    }
    let (authority, path) = match rest.find('/') {
        Some(slash) => (rest.get(..slash)?, rest.get(slash..)?),
        None => (rest, "/"),
    };
    Some((Some(authority), path))
}

/// Whether two authorities name the same server (ports compared too;
/// default ports are implied).
fn same_authority(a: &str, b: &str) -> bool {
    let strip = |s: &str| -> String {
        let s = s.rsplit('@').next().unwrap_or(s).to_ascii_lowercase();
        s.strip_suffix(":80")
            .or_else(|| s.strip_suffix(":443"))
            .map(str::to_owned)
            .unwrap_or(s)
    };
    strip(a) == strip(b)
}

/// Resolves a `Destination` header (absolute URI or absolute path) against
/// the served tree: 400 when malformed, 502 when it names another server or
/// lies outside the tree (RFC 4918 §9.8.5).
pub(crate) fn destination(
    value: &str,
    host: Option<&str>,
    prefix: &str,
) -> Result<DavPath, Problem> {
    let (authority, path) =
        split_uri(value).ok_or_else(|| Problem::bad_request("malformed Destination header"))?;
    if let (Some(authority), Some(host)) = (authority, host)
        && !same_authority(authority, host)
    {
        return Err(Problem::status(
            StatusCode::BAD_GATEWAY,
            "the destination is on another server",
        ));
    }
    match inside(prefix, path) {
        Some(result) => result.map(|(path, _)| path),
        None => Err(Problem::status(
            StatusCode::BAD_GATEWAY,
            "the destination is outside this tree",
        )),
    }
}

/// The path a tagged `If` list names, when it lies in this tree.
pub(crate) fn tagged(value: &str, host: Option<&str>, prefix: &str) -> Option<DavPath> {
    let (authority, path) = split_uri(value)?;
    if let (Some(authority), Some(host)) = (authority, host)
        && !same_authority(authority, host)
    {
        return None;
    }
    inside(prefix, path)?.ok().map(|(path, _)| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(segments: &[&str]) -> DavPath {
        DavPath::from_segments(segments.iter().copied()).unwrap()
    }

    #[test]
    fn hrefs_round_trip() {
        let p = path(&["Akten 2026", "Brief #1 ü%.odt"]);
        let h = href("/dav/", &p, false);
        assert_eq!(h, "/dav/Akten%202026/Brief%20%231%20%C3%BC%25.odt");
        assert_eq!(request_path("/dav/", &h).unwrap(), (p, false));
        assert_eq!(href("/dav/", &path(&["a"]), true), "/dav/a/");
        assert_eq!(href("/dav/", &DavPath::root(), true), "/dav/");
        assert_eq!(
            request_path("/dav/", "/dav").unwrap(),
            (DavPath::root(), true)
        );
        assert!(request_path("/dav/", "/other/x").is_err());
        assert!(request_path("/dav/", "/dav/%zz").is_err());
        assert!(request_path("/dav/", "/dav/%FF").is_err());
        assert!(request_path("/dav/", "/dav/a/../b").is_err());
    }

    #[test]
    fn destinations() {
        let host = Some("example.org:8080");
        assert_eq!(
            destination("http://example.org:8080/dav/a%20b", host, "/dav/").unwrap(),
            path(&["a b"])
        );
        assert_eq!(
            destination("/dav/x/y/", host, "/dav/").unwrap(),
            path(&["x", "y"])
        );
        let status = |r: Result<DavPath, Problem>| match r {
            Err(Problem::Status(s, _)) => s,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            status(destination("http://elsewhere/dav/a", host, "/dav/")),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            status(destination("/outside/a", host, "/dav/")),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            status(destination("not a uri", host, "/dav/")),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            tagged("http://EXAMPLE.org:8080/dav/a", host, "/dav/"),
            Some(path(&["a"]))
        );
    }
}
