//! Writing `207 Multi-Status` bodies (RFC 4918 §13, §14.16), with the
//! RFC 6578 `sync-token` when answering a sync-collection report.

use crate::DAV;
use crate::xml::{PropertyName, escape_attr, escape_text};

/// Properties that share a status, e.g. all found (200) or all missing (404).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PropStat {
    /// The HTTP status.
    pub status: u16,
    /// Properties with their values as XML (`None`: the name only).
    pub props: Vec<(PropertyName, Option<String>)>,
}

/// The answer for one resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// The resource's href (already percent-encoded).
    pub href: String,
    /// Property results (PROPFIND, PROPPATCH).
    pub propstats: Vec<PropStat>,
    /// A status for the whole resource (DELETE, COPY, sync-collection removals).
    pub status: Option<u16>,
    /// A precondition or postcondition element (XML), e.g. `<lock-token-submitted xmlns="DAV:"/>`.
    pub error: Option<String>,
}

/// A multistatus body.
///
/// ```
/// use guss_dav::{Multistatus, PropStat, PropertyName, Response, DAV};
///
/// let body = Multistatus {
///     responses: vec![Response {
///         href: "/anna/Akten/".into(),
///         propstats: vec![PropStat { status: 200, props: vec![(PropertyName::new(DAV, "displayname"), Some("Akten &amp; Briefe".into()))] }],
///         ..Response::default()
///     }],
///     sync_token: None,
/// }
/// .to_xml();
/// assert!(body.contains("<D:href>/anna/Akten/</D:href>"));
/// assert!(body.contains("<D:status>HTTP/1.1 200 OK</D:status>"));
/// guss_dav::parse_xml(&body, guss_dav::Limits::default())?;
/// # Ok::<(), guss_dav::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Multistatus {
    /// One response per resource.
    pub responses: Vec<Response>,
    /// The collection's new sync token (RFC 6578 §6.4).
    pub sync_token: Option<String>,
}

impl Multistatus {
    /// The body, as UTF-8 XML.
    pub fn to_xml(&self) -> String {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">",
        );
        for response in &self.responses {
            out.push_str("<D:response><D:href>");
            out.push_str(&escape_text(&response.href));
            out.push_str("</D:href>");
            if let Some(status) = response.status {
                push_status(&mut out, status);
            }
            for propstat in &response.propstats {
                out.push_str("<D:propstat><D:prop>");
                for (name, value) in &propstat.props {
                    push_property(&mut out, name, value.as_deref());
                }
                out.push_str("</D:prop>");
                push_status(&mut out, propstat.status);
                out.push_str("</D:propstat>");
            }
            if let Some(error) = &response.error {
                out.push_str("<D:error>");
                out.push_str(error);
                out.push_str("</D:error>");
            }
            out.push_str("</D:response>");
        }
        if let Some(token) = &self.sync_token {
            out.push_str("<D:sync-token>");
            out.push_str(&escape_text(token));
            out.push_str("</D:sync-token>");
        }
        out.push_str("</D:multistatus>\n");
        out
    }
}

fn push_status(out: &mut String, status: u16) {
    out.push_str("<D:status>HTTP/1.1 ");
    out.push_str(&status.to_string());
    out.push(' ');
    out.push_str(reason(status));
    out.push_str("</D:status>");
}

fn push_property(out: &mut String, name: &PropertyName, value: Option<&str>) {
    let (open, close) = if name.namespace == DAV {
        (format!("D:{}", name.local), format!("D:{}", name.local))
    } else if name.namespace.is_empty() {
        // No prefix can be bound to "no namespace" (Namespaces in XML 1.0
        // §3): undeclare the default namespace instead; the body uses none.
        (format!("{} xmlns=\"\"", name.local), name.local.clone())
    } else {
        (
            format!(
                "X:{} xmlns:X=\"{}\"",
                name.local,
                escape_attr(&name.namespace)
            ),
            format!("X:{}", name.local),
        )
    };
    match value {
        None | Some("") => {
            out.push('<');
            out.push_str(&open);
            out.push_str("/>");
        }
        Some(value) => {
            out.push('<');
            out.push_str(&open);
            out.push('>');
            out.push_str(value);
            out.push_str("</");
            out.push_str(&close);
            out.push('>');
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        423 => "Locked",
        424 => "Failed Dependency",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        507 => "Insufficient Storage",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limits, parse};

    #[test]
    fn dead_properties_in_other_namespaces_round_trip() {
        let name = PropertyName::new("http://ns.example.com/z/", "Authors");
        let body = Multistatus {
            responses: vec![Response {
                href: "/a?b&c".into(),
                propstats: vec![
                    PropStat {
                        status: 200,
                        props: vec![(
                            name.clone(),
                            Some(r#"<Author xmlns="http://ns.example.com/z/">Jim</Author>"#.into()),
                        )],
                    },
                    PropStat {
                        status: 404,
                        props: vec![(PropertyName::new(DAV, "getetag"), None)],
                    },
                ],
                ..Response::default()
            }],
            sync_token: Some("http://guss/sync/7".into()),
        }
        .to_xml();
        assert!(body.contains("<D:status>HTTP/1.1 404 Not Found</D:status>"));
        let root = parse(&body, Limits::default()).unwrap();
        let response = root.dav_child("response").unwrap();
        assert_eq!(response.dav_child("href").unwrap().text(), "/a?b&c");
        let prop = response
            .dav_child("propstat")
            .unwrap()
            .dav_child("prop")
            .unwrap();
        let authors = prop.children().next().unwrap();
        assert_eq!(authors.name, name);
        assert_eq!(authors.children().next().unwrap().text(), "Jim");
        assert_eq!(
            root.dav_child("sync-token").unwrap().text(),
            "http://guss/sync/7"
        );
    }

    #[test]
    fn properties_without_namespace_stay_well_formed() {
        let body = Multistatus {
            responses: vec![Response {
                href: "/a".into(),
                propstats: vec![PropStat {
                    status: 200,
                    props: vec![
                        (PropertyName::new("", "nons"), Some("v".into())),
                        (PropertyName::new("", "empty"), None),
                    ],
                }],
                ..Response::default()
            }],
            sync_token: None,
        }
        .to_xml();
        let root = parse(&body, Limits::default()).unwrap();
        let prop = root
            .dav_child("response")
            .unwrap()
            .dav_child("propstat")
            .unwrap()
            .dav_child("prop")
            .unwrap();
        let names: Vec<_> = prop.children().map(|c| c.name.clone()).collect();
        assert_eq!(
            names,
            [
                PropertyName::new("", "nons"),
                PropertyName::new("", "empty")
            ]
        );
        assert_eq!(prop.children().next().unwrap().text(), "v");
    }
}
