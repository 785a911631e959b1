//! A small, bounded XML tree for WebDAV request bodies.
//!
//! Bodies are parsed completely, under limits on size, depth and element
//! count, into [`Element`]s whose names carry their resolved namespace.
//! DTDs are refused (no entity expansion, no external entities); only the
//! five predefined entities and character references are resolved.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::{Error, Result};

/// Bounds on a request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest body, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of elements.
    pub max_depth: usize,
    /// Most elements in one body.
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1024 * 1024,
            max_depth: 32,
            max_elements: 10_000,
        }
    }
}

/// A namespace-qualified name, e.g. `DAV:` + `getetag`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PropertyName {
    /// The namespace URI (empty for none).
    pub namespace: String,
    /// The local name.
    pub local: String,
}

impl PropertyName {
    /// A name in `namespace`.
    pub fn new(namespace: impl Into<String>, local: impl Into<String>) -> Self {
        PropertyName {
            namespace: namespace.into(),
            local: local.into(),
        }
    }
}

/// What an element contains, in document order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Text (entities resolved).
    Text(String),
}

/// One element with its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    /// Its resolved name.
    pub name: PropertyName,
    /// Attributes as (local name, value); namespace declarations left out.
    pub attributes: Vec<(String, String)>,
    /// Child elements and text, in document order.
    pub content: Vec<Node>,
}

impl Element {
    /// The child elements, in order.
    pub fn children(&self) -> impl Iterator<Item = &Element> {
        self.content.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The text directly inside, concatenated.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }

    /// Whether this is `local` in the DAV: namespace.
    pub fn is_dav(&self, local: &str) -> bool {
        self.name.namespace == crate::DAV && self.name.local == local
    }

    /// The first child that is `local` in DAV:.
    pub fn dav_child(&self, local: &str) -> Option<&Element> {
        self.children().find(|c| c.is_dav(local))
    }

    /// The children as XML with explicit namespaces (`<x xmlns="…">`), for
    /// keeping dead property values and quoting lock owners: the value means
    /// the same wherever it is later embedded.
    pub fn inner_xml(&self) -> String {
        let mut out = String::new();
        for node in &self.content {
            match node {
                Node::Text(text) => out.push_str(&escape_text(text)),
                Node::Element(child) => child.write(&mut out),
            }
        }
        out
    }

    fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name.local);
        out.push_str(" xmlns=\"");
        out.push_str(&escape_attr(&self.name.namespace));
        out.push('"');
        for (name, value) in &self.attributes {
            out.push(' ');
            out.push_str(name);
            out.push_str("=\"");
            out.push_str(&escape_attr(value));
            out.push('"');
        }
        out.push('>');
        out.push_str(&self.inner_xml());
        out.push_str("</");
        out.push_str(&self.name.local);
        out.push('>');
    }
}

/// Escapes text for element content (`<`, `>`, `&`).
///
/// ```
/// assert_eq!(guss_dav::escape_text("Akten <2030> & Briefe"), "Akten &lt;2030&gt; &amp; Briefe");
/// ```
pub fn escape_text(text: &str) -> String {
    quick_xml::escape::partial_escape(text).into_owned()
}

/// Escapes text for a double-quoted attribute value.
///
/// ```
/// assert_eq!(guss_dav::escape_attr("a\"b"), "a&quot;b");
/// ```
pub fn escape_attr(text: &str) -> String {
    // For double-quoted values; whitespace as references survives
    // attribute-value normalization (XML 1.0 §3.3.3).
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// Parses a whole body into its root element.
///
/// ```
/// use guss_dav::{parse_xml, Limits};
///
/// let root = parse_xml(r#"<a:x xmlns:a="urn:a"><a:y>1 &amp; 2</a:y></a:x>"#, Limits::default())?;
/// assert_eq!(root.name.namespace, "urn:a");
/// assert_eq!(root.children().next().unwrap().text(), "1 & 2");
/// assert!(parse_xml("<!DOCTYPE x [<!ENTITY e 'boom'>]><x>&e;</x>", Limits::default()).is_err());
/// # Ok::<(), guss_dav::Error>(())
/// ```
pub fn parse(body: &str, limits: Limits) -> Result<Element> {
    if body.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            what: "XML body",
            limit: u64::try_from(limits.max_bytes).unwrap_or(u64::MAX),
        });
    }
    let mut reader = NsReader::from_str(body);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut elements = 0usize;
    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| Error::body(e.to_string()))?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let _ = start;
                return Err(Error::body("content after the root element"));
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                elements += 1;
                if elements > limits.max_elements {
                    return Err(Error::TooLarge {
                        what: "XML elements",
                        limit: u64::try_from(limits.max_elements).unwrap_or(u64::MAX),
                    });
                }
                let namespace = match resolved {
                    // Kept raw by the reader: refuse what would need (un)escaping.
                    ResolveResult::Bound(ns) if is_plain_uri(ns.as_ref()) => ns.as_ref().to_owned(),
                    ResolveResult::Bound(_) => return Err(Error::body("unusable namespace name")),
                    ResolveResult::Unbound => String::new(),
                    ResolveResult::Unknown(prefix) => {
                        return Err(Error::body(format!("undeclared namespace prefix {prefix}")));
                    }
                };
                let local = start.local_name().as_ref().to_owned();
                if !is_name(&local) {
                    return Err(Error::body("malformed element name"));
                }
                let mut attributes = Vec::new();
                for attribute in start.attributes() {
                    let attribute = attribute.map_err(|e| Error::body(e.to_string()))?;
                    let key = attribute.key.as_ref();
                    if key == "xmlns" || key.starts_with("xmlns:") {
                        continue;
                    }
                    let value = attribute
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| Error::body(e.to_string()))?
                        .into_owned();
                    let name = attribute.key.local_name().as_ref().to_owned();
                    if !is_name(&name) || !value.chars().all(is_xml_char) {
                        return Err(Error::body("malformed attribute"));
                    }
                    attributes.push((name, value));
                }
                let element = Element {
                    name: PropertyName { namespace, local },
                    attributes,
                    content: Vec::new(),
                };
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, &mut root, element);
                } else {
                    if stack.len() >= limits.max_depth {
                        return Err(Error::TooLarge {
                            what: "XML nesting depth",
                            limit: u64::try_from(limits.max_depth).unwrap_or(u64::MAX),
                        });
                    }
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| Error::body("unbalanced end tag"))?;
                close(&mut stack, &mut root, element);
            }
            Event::Text(text) => {
                let content = text.xml10_content();
                if !content.chars().all(is_xml_char) {
                    return Err(Error::body("characters not allowed in XML"));
                }
                match stack.last_mut() {
                    Some(open) => push_text(open, &content),
                    None if content.trim().is_empty() => {}
                    None => return Err(Error::body("text outside the root element")),
                }
            }
            Event::CData(data) => {
                let content = data.xml10_content();
                if !content.chars().all(is_xml_char) {
                    return Err(Error::body("characters not allowed in XML"));
                }
                let open = stack
                    .last_mut()
                    .ok_or_else(|| Error::body("CDATA outside the root element"))?;
                push_text(open, &content);
            }
            Event::GeneralRef(reference) => {
                let open = stack
                    .last_mut()
                    .ok_or_else(|| Error::body("reference outside the root element"))?;
                if let Some(c) = reference
                    .resolve_char_ref()
                    .map_err(|e| Error::body(e.to_string()))?
                {
                    push_text(open, c.encode_utf8(&mut [0; 4]));
                } else {
                    let name = reference.xml10_content();
                    let value = quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| Error::body(format!("undefined entity &{name};")))?;
                    push_text(open, value);
                }
            }
            Event::DocType(_) => return Err(Error::body("DTDs are not accepted")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(Error::body("unclosed element"));
    }
    root.ok_or_else(|| Error::body("no root element"))
}

fn close(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.content.push(Node::Element(element)),
        None => *root = Some(element),
    }
}

/// XML 1.0 §2.2 `Char`: what may appear in a document at all.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// A local name that can be written back as it was read (NCName, simplified:
/// letters, digits, `-`, `.`, `_`, and any non-ASCII name character).
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// A namespace name that needs no escaping in either direction: URIs have
/// no whitespace, and the reader keeps namespace values raw.
fn is_plain_uri(uri: &str) -> bool {
    uri.chars()
        .all(|c| is_xml_char(c) && !c.is_whitespace() && !matches!(c, '&' | '<' | '"'))
}

/// Appends text, joining it with text right before (entities split text events).
fn push_text(element: &mut Element, text: &str) {
    match element.content.last_mut() {
        Some(Node::Text(last)) => last.push_str(text),
        _ => element.content.push(Node::Text(text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_hold() {
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert!(matches!(
            parse(&deep, Limits::default()),
            Err(Error::TooLarge {
                what: "XML nesting depth",
                ..
            })
        ));
        let wide = format!("<a>{}</a>", "<b/>".repeat(10_001));
        assert!(matches!(
            parse(&wide, Limits::default()),
            Err(Error::TooLarge {
                what: "XML elements",
                ..
            })
        ));
        let big = "x".repeat(2 * 1024 * 1024);
        assert!(matches!(
            parse(&big, Limits::default()),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn what_cannot_be_written_back_is_refused() {
        for bad in [
            "<a>\u{0}</a>",
            "<a>&#0;</a>",
            "<a b=\"\u{1}\"/>",
            "<x:a xmlns:x=\"urn:\u{0}\"/>",
            "<x:a xmlns:x=\"a&amp;b\"/>",
            "<x:a xmlns:x=\"urn:a\r\"/>",
            "<D::l xmlns:D=\"DAV:\"/>",
        ] {
            assert!(parse(bad, Limits::default()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn malformed_bodies_are_errors() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "</a>",
            "<a/><b/>",
            "<x:a/>",
            "text",
            "<a>&nope;</a>",
            "<a>&#xFFFFFFFF;</a>",
        ] {
            assert!(parse(bad, Limits::default()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn inner_xml_keeps_meaning_with_explicit_namespaces() {
        let root = parse(r#"<D:prop xmlns:D="DAV:" xmlns:Z="urn:z"><Z:author lang="de">A &lt;b&gt; <Z:n>1</Z:n></Z:author></D:prop>"#, Limits::default()).unwrap();
        let author = root.children().next().unwrap();
        assert_eq!(author.inner_xml(), r#"A &lt;b&gt; <n xmlns="urn:z">1</n>"#);
        let again = parse(
            &format!("<v xmlns=\"urn:z\">{}</v>", author.inner_xml()),
            Limits::default(),
        )
        .unwrap();
        assert_eq!(
            again.children().next().unwrap().name,
            PropertyName::new("urn:z", "n")
        );
        // Mixed content keeps its order.
        let mixed = parse(r#"<p>a<b/>c</p>"#, Limits::default()).unwrap();
        assert_eq!(mixed.inner_xml(), r#"a<b xmlns=""></b>c"#);
    }
}
