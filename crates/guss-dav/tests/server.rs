//! The WebDAV handlers driven through `handle` against the in-memory backend.

// The helpers below serve the tests only; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]

#[path = "support/memory.rs"]
mod memory;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::{TimeDelta, TimeZone, Utc};
use guss_core::FixedClock;
use guss_dav::server::{Config, WellKnown, handle, well_known};
use guss_dav::{Limits, parse_xml};
use memory::MemoryDav;

struct Dav {
    backend: MemoryDav,
    config: Config,
    clock: Arc<FixedClock>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// The root element of an XML body.
    fn xml(&self) -> guss_dav::Element {
        parse_xml(&self.body, Limits::default()).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

const LOCKINFO: &str = r#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>anna</D:owner></D:lockinfo>"#;
const SHARED: &str = r#"<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"#;

impl Dav {
    fn new() -> Self {
        let clock = Arc::new(FixedClock::new(
            Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
        ));
        let config = Config::new("/dav/", "anna").with_clock(clock.clone());
        Dav {
            backend: MemoryDav::new(),
            config,
            clock,
        }
    }

    async fn call(&self, method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "dav.example");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::from(body.to_owned())).unwrap();
        let response = handle(&self.backend, &self.config, request).await;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn put(&self, uri: &str, body: &str) -> Answer {
        self.call("PUT", uri, &[], body).await
    }

    async fn lock(&self, uri: &str, depth: &str, body: &str) -> String {
        let answer = self.call("LOCK", uri, &[("depth", depth)], body).await;
        assert!(answer.status.is_success(), "{}", answer.body);
        let token = answer.header("lock-token");
        token
            .strip_prefix('<')
            .and_then(|t| t.strip_suffix('>'))
            .unwrap()
            .to_owned()
    }
}

fn status_of(body: &str) -> Vec<String> {
    let root = parse_xml(body, Limits::default()).unwrap();
    root.children()
        .filter(|c| c.is_dav("response"))
        .flat_map(|r| {
            r.children()
                .filter_map(|c| {
                    if c.is_dav("status") {
                        Some(c.text())
                    } else {
                        c.dav_child("status").map(|s| s.text())
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn options_announce_classes_and_methods() {
    let dav = Dav::new();
    let a = dav.call("OPTIONS", "/dav/", &[], "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.header("dav").starts_with("1, 2, 3"));
    assert!(a.header("dav").contains("extended-mkcol"));
    assert!(a.header("allow").contains("PROPFIND"));
    assert_eq!(a.header("ms-author-via"), "DAV");
    assert_eq!(
        dav.call("OPTIONS", "/elsewhere/", &[], "").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        dav.call("BREW", "/dav/", &[], "").await.status,
        StatusCode::NOT_IMPLEMENTED
    );
    let post = dav.call("POST", "/dav/", &[], "").await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(post.header("allow").contains("GET"));
}

#[tokio::test]
async fn put_get_head_and_ranges() {
    let dav = Dav::new();
    let created = dav.put("/dav/brief%201.txt", "hello world").await;
    assert_eq!(created.status, StatusCode::CREATED);
    let etag = created.header("etag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'));

    let got = dav.call("GET", "/dav/brief%201.txt", &[], "").await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, "hello world");
    assert_eq!(got.header("etag"), etag);
    assert_eq!(got.header("content-length"), "11");
    assert_eq!(got.header("accept-ranges"), "bytes");
    assert!(got.header("last-modified").ends_with("GMT"));

    let head = dav.call("HEAD", "/dav/brief%201.txt", &[], "").await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.body, "");
    assert_eq!(head.header("content-length"), "11");

    let part = dav
        .call("GET", "/dav/brief%201.txt", &[("range", "bytes=6-")], "")
        .await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.body, "world");
    assert_eq!(part.header("content-range"), "bytes 6-10/11");
    let suffix = dav
        .call("GET", "/dav/brief%201.txt", &[("range", "bytes=-3")], "")
        .await;
    assert_eq!(suffix.body, "rld");
    let many = dav
        .call(
            "GET",
            "/dav/brief%201.txt",
            &[("range", "bytes=0-1,3-4")],
            "",
        )
        .await;
    assert_eq!(
        many.status,
        StatusCode::OK,
        "several ranges: the whole body"
    );
    assert_eq!(many.body, "hello world");
    let unsatisfiable = dav
        .call("GET", "/dav/brief%201.txt", &[("range", "bytes=50-")], "")
        .await;
    assert_eq!(unsatisfiable.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(unsatisfiable.header("content-range"), "bytes */11");
    let stale = dav
        .call(
            "GET",
            "/dav/brief%201.txt",
            &[("range", "bytes=0-1"), ("if-range", "\"old\"")],
            "",
        )
        .await;
    assert_eq!(
        stale.status,
        StatusCode::OK,
        "If-Range with another tag: whole body"
    );

    let replaced = dav.put("/dav/brief%201.txt", "bye").await;
    assert_eq!(replaced.status, StatusCode::NO_CONTENT);
    assert_ne!(replaced.header("etag"), etag);
    assert_eq!(
        dav.call("GET", "/dav/missing", &[], "").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn conditional_requests() {
    let dav = Dav::new();
    let etag = dav.put("/dav/a.txt", "1").await.header("etag").to_owned();
    let not_modified = dav
        .call("GET", "/dav/a.txt", &[("if-none-match", &etag)], "")
        .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert_eq!(not_modified.header("etag"), etag);
    let later = "Sun, 01 Mar 2099 10:00:00 GMT";
    assert_eq!(
        dav.call("GET", "/dav/a.txt", &[("if-modified-since", later)], "")
            .await
            .status,
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        dav.call("GET", "/dav/a.txt", &[("if-match", "\"other\"")], "")
            .await
            .status,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        dav.call("PUT", "/dav/a.txt", &[("if-none-match", "*")], "2")
            .await
            .status,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        dav.call("PUT", "/dav/new.txt", &[("if-none-match", "*")], "2")
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        dav.call("PUT", "/dav/a.txt", &[("if-match", "\"stale\"")], "2")
            .await
            .status,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        dav.call("PUT", "/dav/a.txt", &[("if-match", &etag)], "2")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // The If header with an entity tag (RFC 4918 §10.4).
    assert_eq!(
        dav.call("PUT", "/dav/a.txt", &[("if", &format!("([{etag}])"))], "3")
            .await
            .status,
        StatusCode::PRECONDITION_FAILED,
        "the etag changed with the last PUT"
    );
    assert_eq!(
        dav.call("PUT", "/dav/a.txt", &[("if", "(Not <DAV:no-lock>)")], "3")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        dav.call("PUT", "/dav/a.txt", &[("if", "(<DAV:no-lock>)")], "3")
            .await
            .status,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        dav.call("PUT", "/dav/a.txt", &[("if", "(garbage")], "3")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn put_refusals() {
    let dav = Dav::new();
    assert_eq!(
        dav.put("/dav/no/parent.txt", "x").await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        dav.call("MKCOL", "/dav/c", &[], "").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        dav.put("/dav/c/", "x").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        dav.put("/dav/", "x").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    dav.put("/dav/f", "x").await;
    assert_eq!(
        dav.put("/dav/f/g", "x").await.status,
        StatusCode::CONFLICT,
        "parent is a file"
    );
    assert_eq!(
        dav.put("/dav/%2e%2e/x", "x").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        dav.put("/dav/%ZZ", "x").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn mkcol_plain_extended_and_refused() {
    let dav = Dav::new();
    assert_eq!(
        dav.call("MKCOL", "/dav/akten/", &[], "").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        dav.call("MKCOL", "/dav/akten/", &[], "").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        dav.call("MKCOL", "/dav/x/y/", &[], "").await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        dav.call(
            "MKCOL",
            "/dav/b/",
            &[("content-type", "xzy-foo/bar-512")],
            "afafafaf"
        )
        .await
        .status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let extended = r#"<D:mkcol xmlns:D="DAV:"><D:set><D:prop><D:resourcetype><D:collection/></D:resourcetype><D:displayname>Akten 2026</D:displayname></D:prop></D:set></D:mkcol>"#;
    let a = dav
        .call(
            "MKCOL",
            "/dav/ext/",
            &[("content-type", "application/xml")],
            extended,
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let found = dav
        .call(
            "PROPFIND",
            "/dav/ext/",
            &[("depth", "0")],
            r#"<D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:propfind>"#,
        )
        .await;
    assert!(
        found
            .body
            .contains("<D:displayname>Akten 2026</D:displayname>"),
        "{}",
        found.body
    );
    let calendar = r#"<D:mkcol xmlns:D="DAV:"><D:set><D:prop><D:resourcetype><D:collection/><C:calendar xmlns:C="urn:ietf:params:xml:ns:caldav"/></D:resourcetype></D:prop></D:set></D:mkcol>"#;
    let refused = dav.call("MKCOL", "/dav/cal/", &[], calendar).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("valid-resourcetype"));
}

#[tokio::test]
async fn propfind_depths_and_properties() {
    let dav = Dav::new();
    dav.call("MKCOL", "/dav/akten/", &[], "").await;
    dav.call(
        "PUT",
        "/dav/akten/brief.txt",
        &[("content-type", "text/plain")],
        "hallo",
    )
    .await;
    dav.call("MKCOL", "/dav/akten/sub/", &[], "").await;

    let infinite = dav.call("PROPFIND", "/dav/", &[], "").await;
    assert_eq!(infinite.status, StatusCode::FORBIDDEN);
    assert!(infinite.body.contains("propfind-finite-depth"));
    // Without Depth, a file is answered (infinity is Depth 0 for it) and a
    // missing path is missing, not forbidden.
    let file = dav.call("PROPFIND", "/dav/akten/brief.txt", &[], "").await;
    assert_eq!(file.status, StatusCode::MULTI_STATUS, "{}", file.body);
    assert!(file.body.contains("brief.txt"));
    let missing = dav.call("PROPFIND", "/dav/akten/nichts.txt", &[], "").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let one = dav
        .call("PROPFIND", "/dav/akten/", &[("depth", "1")], "")
        .await;
    assert_eq!(one.status, StatusCode::MULTI_STATUS);
    let root = one.xml();
    let hrefs: Vec<String> = root
        .children()
        .map(|r| r.dav_child("href").unwrap().text())
        .collect();
    assert_eq!(
        hrefs,
        ["/dav/akten/", "/dav/akten/brief.txt", "/dav/akten/sub/"]
    );
    assert!(
        one.body
            .contains("<D:resourcetype><D:collection/></D:resourcetype>")
    );
    assert!(
        one.body
            .contains("<D:getcontentlength>5</D:getcontentlength>")
    );
    assert!(
        one.body
            .contains("<D:getcontenttype>text/plain</D:getcontenttype>")
    );
    assert!(one.body.contains("<D:supportedlock>"));
    assert!(one.body.contains("<D:creationdate>"));
    assert!(
        !one.body.contains("quota-used-bytes"),
        "quota only when asked"
    );
    assert!(
        !one.body.contains("sync-token"),
        "sync-token only when asked"
    );

    let zero = dav
        .call("PROPFIND", "/dav/akten/", &[("depth", "0")], "")
        .await;
    assert_eq!(zero.xml().children().count(), 1);

    let named = dav
        .call(
            "PROPFIND",
            "/dav/akten/",
            &[("depth", "0")],
            r#"<D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop><D:getetag/><D:quota-used-bytes/><D:quota-available-bytes/><D:sync-token/><Z:missing/></D:prop></D:propfind>"#,
        )
        .await;
    assert!(
        named
            .body
            .contains("<D:quota-used-bytes>5</D:quota-used-bytes>"),
        "{}",
        named.body
    );
    assert!(
        named
            .body
            .contains("<D:sync-token>http://guss.invalid/sync/")
    );
    assert!(named.body.contains("<D:getetag>&quot;") || named.body.contains("<D:getetag>\""));
    assert_eq!(
        status_of(&named.body),
        ["HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found"]
    );

    let names = dav
        .call(
            "PROPFIND",
            "/dav/akten/brief.txt",
            &[("depth", "0")],
            r#"<propfind xmlns="DAV:"><propname/></propfind>"#,
        )
        .await;
    assert!(names.body.contains("<D:getetag/>"));
    assert!(names.body.contains("<D:getcontentlength/>"));

    assert_eq!(
        dav.call("PROPFIND", "/dav/akten/", &[("depth", "0")], "<nope")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        dav.call("PROPFIND", "/dav/none/", &[("depth", "0")], "")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        dav.call("PROPFIND", "/dav/", &[("depth", "2")], "")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn xml_bodies_are_bounded() {
    let mut dav = Dav::new();
    dav.config.max_xml_body = 100;
    let big = format!(
        r#"<D:propfind xmlns:D="DAV:"><D:prop>{}</D:prop></D:propfind>"#,
        "<D:getetag/>".repeat(20)
    );
    let a = dav.call("PROPFIND", "/dav/", &[("depth", "0")], &big).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    let not_utf8 = Request::builder()
        .method("PROPFIND")
        .uri("/dav/")
        .header("depth", "0")
        .body(Body::from(vec![0xff, 0xfe]))
        .unwrap();
    let response = handle(&dav.backend, &dav.config, not_utf8).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn proppatch_is_all_or_nothing() {
    let dav = Dav::new();
    dav.put("/dav/a.txt", "x").await;
    let set = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="http://ns.example.com/z/">
        <D:set><D:prop><Z:Authors><Z:Author>Jim &amp; Roy</Z:Author></Z:Authors><D:displayname>Brief</D:displayname></D:prop></D:set>
    </D:propertyupdate>"#;
    let a = dav.call("PROPPATCH", "/dav/a.txt", &[], set).await;
    assert_eq!(a.status, StatusCode::MULTI_STATUS);
    assert_eq!(status_of(&a.body), ["HTTP/1.1 200 OK"]);
    let got = dav
        .call(
            "PROPFIND",
            "/dav/a.txt",
            &[("depth", "0")],
            r#"<D:propfind xmlns:D="DAV:" xmlns:Z="http://ns.example.com/z/"><D:prop><Z:Authors/><D:displayname/></D:prop></D:propfind>"#,
        )
        .await;
    let root = got.xml();
    let prop = root
        .dav_child("response")
        .unwrap()
        .dav_child("propstat")
        .unwrap()
        .dav_child("prop")
        .unwrap();
    let authors = prop.children().next().unwrap();
    assert_eq!(authors.name.local, "Authors");
    assert_eq!(authors.children().next().unwrap().text(), "Jim & Roy");

    let protected = r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getetag>x</D:getetag><D:displayname>Neu</D:displayname></D:prop></D:set></D:propertyupdate>"#;
    let refused = dav.call("PROPPATCH", "/dav/a.txt", &[], protected).await;
    assert_eq!(refused.status, StatusCode::MULTI_STATUS);
    assert_eq!(
        status_of(&refused.body),
        ["HTTP/1.1 403 Forbidden", "HTTP/1.1 424 Failed Dependency"]
    );
    assert!(refused.body.contains("cannot-modify-protected-property"));
    let still = dav
        .call(
            "PROPFIND",
            "/dav/a.txt",
            &[("depth", "0")],
            r#"<D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:propfind>"#,
        )
        .await;
    assert!(
        still.body.contains(">Brief<"),
        "nothing changed: {}",
        still.body
    );

    let remove = r#"<D:propertyupdate xmlns:D="DAV:"><D:remove><D:prop><D:displayname/></D:prop></D:remove></D:propertyupdate>"#;
    assert_eq!(
        status_of(&dav.call("PROPPATCH", "/dav/a.txt", &[], remove).await.body),
        ["HTTP/1.1 200 OK"]
    );
    assert_eq!(
        dav.call("PROPPATCH", "/dav/missing", &[], remove)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        dav.call("PROPPATCH", "/dav/a.txt", &[], "<x/>")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn delete_is_recursive() {
    let dav = Dav::new();
    dav.call("MKCOL", "/dav/a/", &[], "").await;
    dav.call("MKCOL", "/dav/a/b/", &[], "").await;
    dav.put("/dav/a/b/c.txt", "x").await;
    assert_eq!(
        dav.call("DELETE", "/dav/a/", &[("depth", "0")], "")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        dav.call("DELETE", "/dav/a/", &[], "").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        dav.call("GET", "/dav/a/b/c.txt", &[], "").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        dav.call("DELETE", "/dav/a/", &[], "").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        dav.call("DELETE", "/dav/", &[], "").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn copy_and_move() {
    let dav = Dav::new();
    dav.call("MKCOL", "/dav/src/", &[], "").await;
    dav.put("/dav/src/a.txt", "A").await;
    dav.put("/dav/other.txt", "O").await;
    let dest = |path: &str| ("destination", format!("http://dav.example/dav/{path}"));

    let (h, v) = dest("copy/");
    assert_eq!(
        dav.call("COPY", "/dav/src/", &[(h, &v)], "").await.status,
        StatusCode::CREATED
    );
    assert_eq!(dav.call("GET", "/dav/copy/a.txt", &[], "").await.body, "A");

    let (h, v) = dest("shallow/");
    assert_eq!(
        dav.call("COPY", "/dav/src/", &[(h, &v), ("depth", "0")], "")
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        dav.call("GET", "/dav/shallow/a.txt", &[], "").await.status,
        StatusCode::NOT_FOUND
    );

    let (h, v) = dest("copy/");
    assert_eq!(
        dav.call("COPY", "/dav/other.txt", &[(h, &v), ("overwrite", "F")], "")
            .await
            .status,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        dav.call("COPY", "/dav/other.txt", &[(h, &v)], "")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        dav.call("GET", "/dav/copy/", &[], "").await.status,
        StatusCode::OK
    );
    assert_eq!(
        dav.call("GET", "/dav/copy", &[], "").await.body,
        "O",
        "replaced by the file"
    );

    let (h, v) = dest("nowhere/x.txt");
    assert_eq!(
        dav.call("COPY", "/dav/other.txt", &[(h, &v)], "")
            .await
            .status,
        StatusCode::CONFLICT
    );
    let (h, v) = dest("other.txt");
    assert_eq!(
        dav.call("COPY", "/dav/other.txt", &[(h, &v)], "")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let (h, v) = dest("src/inner/");
    assert_eq!(
        dav.call("COPY", "/dav/src/", &[(h, &v)], "").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        dav.call(
            "COPY",
            "/dav/other.txt",
            &[("destination", "http://elsewhere.example/dav/x")],
            ""
        )
        .await
        .status,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(
        dav.call("COPY", "/dav/other.txt", &[], "").await.status,
        StatusCode::BAD_REQUEST
    );
    let (h, v) = dest("x");
    assert_eq!(
        dav.call("COPY", "/dav/none", &[(h, &v)], "").await.status,
        StatusCode::NOT_FOUND
    );

    // MOVE keeps dead properties, takes Depth infinity only.
    dav.call(
        "PROPPATCH",
        "/dav/src/a.txt",
        &[],
        r#"<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>A</D:displayname></D:prop></D:set></D:propertyupdate>"#,
    )
    .await;
    let (h, v) = dest("moved/");
    assert_eq!(
        dav.call("MOVE", "/dav/src/", &[(h, &v), ("depth", "0")], "")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        dav.call("MOVE", "/dav/src/", &[(h, &v)], "").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        dav.call("GET", "/dav/src/a.txt", &[], "").await.status,
        StatusCode::NOT_FOUND
    );
    let props = dav
        .call(
            "PROPFIND",
            "/dav/moved/a.txt",
            &[("depth", "0")],
            r#"<D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:propfind>"#,
        )
        .await;
    assert!(props.body.contains("<D:displayname>A</D:displayname>"));
    let (h, v) = ("destination", "/dav/shallow/".to_owned());
    assert_eq!(
        dav.call("MOVE", "/dav/moved/", &[(h, &v), ("overwrite", "F")], "")
            .await
            .status,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(
        dav.call("MOVE", "/dav/moved/", &[(h, &v)], "").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        dav.call("GET", "/dav/shallow/a.txt", &[], "").await.body,
        "A"
    );
}

#[tokio::test]
async fn locks_guard_writes() {
    let dav = Dav::new();
    dav.put("/dav/a.txt", "x").await;
    let a = dav
        .call("LOCK", "/dav/a.txt", &[("timeout", "Second-600")], LOCKINFO)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let token = a.header("lock-token").trim_matches(['<', '>']).to_owned();
    assert!(token.starts_with("urn:uuid:"));
    assert!(a.body.contains("<D:owner>anna</D:owner>"));
    assert!(
        a.body
            .contains("<D:lockroot><D:href>/dav/a.txt</D:href></D:lockroot>")
    );

    let blocked = dav.put("/dav/a.txt", "y").await;
    assert_eq!(blocked.status, StatusCode::LOCKED);
    assert!(
        blocked
            .body
            .contains("<D:lock-token-submitted><D:href>/dav/a.txt</D:href>")
    );
    for method in ["DELETE", "PROPPATCH"] {
        assert_eq!(
            dav.call(method, "/dav/a.txt", &[], "").await.status,
            StatusCode::LOCKED
        );
    }
    assert_eq!(
        dav.call("MOVE", "/dav/a.txt", &[("destination", "/dav/b.txt")], "")
            .await
            .status,
        StatusCode::LOCKED
    );
    let with_token = format!("(<{token}>)");
    assert_eq!(
        dav.call("PUT", "/dav/a.txt", &[("if", &with_token)], "y")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // A false If header is 412 even when it names the token.
    let bad_etag = format!("(<{token}> [\"nope\"])");
    assert_eq!(
        dav.call("PUT", "/dav/a.txt", &[("if", &bad_etag)], "y")
            .await
            .status,
        StatusCode::PRECONDITION_FAILED
    );
    // A true If header without the token: 423.
    assert_eq!(
        dav.call("PUT", "/dav/a.txt", &[("if", "(Not <urn:uuid:x>)")], "y")
            .await
            .status,
        StatusCode::LOCKED
    );
    // A tagged list names the resource by URI.
    let tagged = format!("<http://dav.example/dav/a.txt> (<{token}>)");
    assert_eq!(
        dav.call("PUT", "/dav/a.txt", &[("if", &tagged)], "z")
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    // A conflicting lock.
    let conflict = dav.call("LOCK", "/dav/a.txt", &[], LOCKINFO).await;
    assert_eq!(conflict.status, StatusCode::LOCKED);
    assert!(conflict.body.contains("no-conflicting-lock"));

    // Another principal with the same token is still refused.
    let mut other = dav.config.clone();
    other.principal = "bert".into();
    let request = Request::builder()
        .method("PUT")
        .uri("/dav/a.txt")
        .header("if", &with_token)
        .body(Body::from("evil"))
        .unwrap();
    assert_eq!(
        handle(&dav.backend, &other, request).await.status(),
        StatusCode::LOCKED
    );

    // Discovery, refresh, unlock.
    let found = dav
        .call(
            "PROPFIND",
            "/dav/a.txt",
            &[("depth", "0")],
            r#"<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>"#,
        )
        .await;
    assert!(found.body.contains(&token));
    assert!(found.body.contains("<D:timeout>Second-600</D:timeout>"));
    let refresh = dav
        .call(
            "LOCK",
            "/dav/a.txt",
            &[("if", &with_token), ("timeout", "Second-100")],
            "",
        )
        .await;
    assert_eq!(refresh.status, StatusCode::OK);
    assert!(refresh.body.contains("Second-100"));
    assert!(refresh.headers.get("lock-token").is_none());
    assert_eq!(
        dav.call("LOCK", "/dav/a.txt", &[("if", "(<urn:uuid:unknown>)")], "")
            .await
            .status,
        StatusCode::PRECONDITION_FAILED
    );
    let wrong = dav
        .call(
            "UNLOCK",
            "/dav/a.txt",
            &[("lock-token", "<urn:uuid:nope>")],
            "",
        )
        .await;
    assert_eq!(wrong.status, StatusCode::CONFLICT);
    assert!(wrong.body.contains("lock-token-matches-request-uri"));
    assert_eq!(
        dav.call("UNLOCK", "/dav/a.txt", &[], "").await.status,
        StatusCode::BAD_REQUEST
    );
    let token_header = format!("<{token}>");
    assert_eq!(
        dav.call("UNLOCK", "/dav/a.txt", &[("lock-token", &token_header)], "")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        dav.put("/dav/a.txt", "free").await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn expired_locks_are_ignored() {
    let dav = Dav::new();
    dav.put("/dav/a.txt", "x").await;
    dav.call("LOCK", "/dav/a.txt", &[("timeout", "Second-60")], LOCKINFO)
        .await;
    assert_eq!(dav.put("/dav/a.txt", "y").await.status, StatusCode::LOCKED);
    dav.clock.advance(TimeDelta::seconds(61));
    assert_eq!(
        dav.put("/dav/a.txt", "y").await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn collection_locks_cover_members() {
    let dav = Dav::new();
    dav.call("MKCOL", "/dav/c/", &[], "").await;
    dav.put("/dav/c/in.txt", "x").await;
    let token = dav.lock("/dav/c/", "infinity", LOCKINFO).await;
    let if_token = format!("(<{token}>)");
    // New members and existing ones need the token.
    let blocked = dav.put("/dav/c/new.txt", "x").await;
    assert_eq!(blocked.status, StatusCode::LOCKED);
    assert!(blocked.body.contains("<D:href>/dav/c/</D:href>"));
    assert_eq!(
        dav.call("MKCOL", "/dav/c/sub/", &[], "").await.status,
        StatusCode::LOCKED
    );
    assert_eq!(
        dav.call("DELETE", "/dav/c/in.txt", &[], "").await.status,
        StatusCode::LOCKED
    );
    assert_eq!(
        dav.call("PUT", "/dav/c/new.txt", &[("if", &if_token)], "x")
            .await
            .status,
        StatusCode::CREATED
    );
    // Refreshing through a member (indirect refresh).
    assert_eq!(
        dav.call("LOCK", "/dav/c/in.txt", &[("if", &if_token)], "")
            .await
            .status,
        StatusCode::OK
    );
    // A member cannot be locked exclusively by anyone else meanwhile.
    assert_eq!(
        dav.call("LOCK", "/dav/c/in.txt", &[("depth", "0")], LOCKINFO)
            .await
            .status,
        StatusCode::LOCKED
    );
    // Deleting the collection with the token drops the lock too.
    assert_eq!(
        dav.call("DELETE", "/dav/c/", &[("if", &if_token)], "")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        dav.call("MKCOL", "/dav/c/", &[], "").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        dav.put("/dav/c/new.txt", "x").await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn locks_below_block_delete_and_move() {
    let dav = Dav::new();
    dav.call("MKCOL", "/dav/c/", &[], "").await;
    dav.put("/dav/c/in.txt", "x").await;
    let token = dav.lock("/dav/c/in.txt", "0", LOCKINFO).await;
    let blocked = dav.call("DELETE", "/dav/c/", &[], "").await;
    assert_eq!(blocked.status, StatusCode::LOCKED);
    assert!(blocked.body.contains("/dav/c/in.txt"));
    assert_eq!(
        dav.call("MOVE", "/dav/c/", &[("destination", "/dav/d/")], "")
            .await
            .status,
        StatusCode::LOCKED
    );
    // The untagged list is about the request URI, which does not hold that
    // lock: the If header is false (RFC 4918 §10.4.1).
    let untagged = format!("(<{token}>)");
    assert_eq!(
        dav.call(
            "MOVE",
            "/dav/c/",
            &[("destination", "/dav/d/"), ("if", &untagged)],
            ""
        )
        .await
        .status,
        StatusCode::PRECONDITION_FAILED
    );
    let if_token = format!("</dav/c/in.txt> (<{token}>)");
    assert_eq!(
        dav.call(
            "MOVE",
            "/dav/c/",
            &[("destination", "/dav/d/"), ("if", &if_token)],
            ""
        )
        .await
        .status,
        StatusCode::CREATED
    );
    // The lock stayed behind (RFC 4918 §7.7): the moved file is free.
    assert_eq!(
        dav.put("/dav/d/in.txt", "y").await.status,
        StatusCode::NO_CONTENT
    );
    // COPY onto a locked destination needs its token, not the source's.
    let dest_token = dav.lock("/dav/d/in.txt", "0", LOCKINFO).await;
    dav.put("/dav/src.txt", "s").await;
    assert_eq!(
        dav.call(
            "COPY",
            "/dav/src.txt",
            &[("destination", "/dav/d/in.txt")],
            ""
        )
        .await
        .status,
        StatusCode::LOCKED
    );
    let tagged = format!("</dav/d/in.txt> (<{dest_token}>)");
    assert_eq!(
        dav.call(
            "COPY",
            "/dav/src.txt",
            &[("destination", "/dav/d/in.txt"), ("if", &tagged)],
            ""
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn shared_locks_and_unmapped_urls() {
    let dav = Dav::new();
    let created = dav.call("LOCK", "/dav/new.txt", &[], SHARED).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(dav.call("GET", "/dav/new.txt", &[], "").await.body, "");
    assert!(created.headers.contains_key("lock-token"));
    assert_eq!(
        dav.call("LOCK", "/dav/new.txt", &[], SHARED).await.status,
        StatusCode::OK
    );
    assert_eq!(
        dav.call("LOCK", "/dav/new.txt", &[], LOCKINFO).await.status,
        StatusCode::LOCKED
    );
    assert_eq!(
        dav.call("LOCK", "/dav/no/new.txt", &[], LOCKINFO)
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        dav.call("LOCK", "/dav/new.txt", &[("depth", "1")], LOCKINFO)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        dav.call("LOCK", "/dav/new.txt", &[], "<lockinfo")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn sync_collection_reports_changes() {
    let dav = Dav::new();
    dav.call("MKCOL", "/dav/c/", &[], "").await;
    dav.put("/dav/c/a.txt", "a").await;
    dav.put("/dav/c/b.txt", "b").await;
    let initial = r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#;
    let first = dav
        .call("REPORT", "/dav/c/", &[("depth", "0")], initial)
        .await;
    assert_eq!(first.status, StatusCode::MULTI_STATUS, "{}", first.body);
    let root = first.xml();
    assert_eq!(root.children().filter(|c| c.is_dav("response")).count(), 2);
    let token = root.dav_child("sync-token").unwrap().text();

    dav.call("DELETE", "/dav/c/a.txt", &[], "").await;
    dav.put("/dav/c/b.txt", "bb").await;
    let body = format!(
        r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#
    );
    let next = dav
        .call("REPORT", "/dav/c/", &[("depth", "0")], &body)
        .await;
    assert!(
        next.body
            .contains("<D:href>/dav/c/a.txt</D:href><D:status>HTTP/1.1 404 Not Found</D:status>"),
        "{}",
        next.body
    );
    assert!(
        next.body
            .contains("<D:href>/dav/c/b.txt</D:href><D:propstat>")
    );

    let limited = r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:limit><D:nresults>1</D:nresults></D:limit><D:prop/></D:sync-collection>"#;
    dav.put("/dav/c/c.txt", "c").await;
    let truncated = dav
        .call("REPORT", "/dav/c/", &[("depth", "0")], limited)
        .await;
    assert!(
        truncated.body.contains(
            "<D:href>/dav/c/</D:href><D:status>HTTP/1.1 507 Insufficient Storage</D:status>"
        ),
        "{}",
        truncated.body
    );

    let invalid = r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token>http://guss.invalid/sync/999999</D:sync-token><D:sync-level>1</D:sync-level><D:prop/></D:sync-collection>"#;
    let refused = dav
        .call("REPORT", "/dav/c/", &[("depth", "0")], invalid)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("<D:valid-sync-token/>"));
    let other = dav
        .call(
            "REPORT",
            "/dav/c/",
            &[],
            r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#,
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert!(other.body.contains("supported-report"));
    assert_eq!(
        dav.call("REPORT", "/dav/c/a.txt", &[], initial)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn well_known_redirects() {
    let targets = WellKnown {
        caldav: Some("/dav/calendars/".into()),
        carddav: Some("/dav/contacts/".into()),
    };
    let response = well_known("/.well-known/carddav", &targets).unwrap();
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(response.headers()["location"], "/dav/contacts/");
    assert!(well_known("/.well-known/other", &targets).is_none());
}

#[tokio::test]
async fn collections_list_their_members_as_html() {
    let dav = Dav::new();
    dav.put("/dav/%3Cb%3E.txt", "x").await;
    let page = dav.call("GET", "/dav/", &[], "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(page.body.contains("href=\"/dav/%3Cb%3E.txt\""));
    assert!(page.body.contains("&lt;b&gt;.txt"));
}

#[tokio::test]
async fn infinite_propfind_when_allowed() {
    let mut dav = Dav::new();
    dav.config.allow_depth_infinity_propfind = true;
    dav.call("MKCOL", "/dav/a/", &[], "").await;
    dav.call("MKCOL", "/dav/a/b/", &[], "").await;
    dav.put("/dav/a/b/c.txt", "x").await;
    let all = dav
        .call("PROPFIND", "/dav/", &[("depth", "infinity")], "")
        .await;
    assert_eq!(all.status, StatusCode::MULTI_STATUS);
    assert_eq!(all.xml().children().count(), 4);
    dav.config.max_results = 2;
    let bounded = dav
        .call("PROPFIND", "/dav/", &[("depth", "infinity")], "")
        .await;
    assert_eq!(bounded.status, StatusCode::FORBIDDEN);
}
