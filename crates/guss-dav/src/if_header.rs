//! The `If` header (RFC 4918 §10.4): lists of conditions on lock tokens and
//! entity tags, optionally tagged with the resource they apply to.

use crate::{Error, Result};

/// Longest `If` header accepted.
const MAX_LEN: usize = 8 * 1024;
/// Most lists, and most conditions in one list.
const MAX_ITEMS: usize = 64;

/// One condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// A state token (lock token), e.g. `urn:uuid:…`; `not` negates it.
    StateToken {
        /// Negated.
        not: bool,
        /// The token, without angle brackets.
        token: String,
    },
    /// An entity tag, as sent (with quotes, maybe `W/`); `not` negates it.
    ETag {
        /// Negated.
        not: bool,
        /// The tag.
        tag: String,
    },
}

/// A parenthesised list: true if all its conditions are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfList {
    /// The resource it is about (tagged lists), or `None` for the request URI.
    pub resource: Option<String>,
    /// Its conditions.
    pub conditions: Vec<Condition>,
}

/// A parsed `If` header: true if any list is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfHeader {
    /// The lists, in order.
    pub lists: Vec<IfList>,
}

impl IfHeader {
    /// Every state token mentioned (not negated): the locks the client holds.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.lists
            .iter()
            .flat_map(|l| &l.conditions)
            .filter_map(|c| match c {
                Condition::StateToken { not: false, token } => Some(token.as_str()),
                _ => None,
            })
    }
}

fn bad(why: &'static str) -> Error {
    Error::BadHeader { header: "If", why }
}

/// Parses an `If` header value.
///
/// ```
/// use guss_dav::{parse_if, Condition};
///
/// let header = parse_if(r#"</a/b> (<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2> ["I am an ETag"]) (Not <DAV:no-lock>)"#)?;
/// assert_eq!(header.lists.len(), 2);
/// assert_eq!(header.lists[1].resource.as_deref(), Some("/a/b"));
/// assert_eq!(header.tokens().collect::<Vec<_>>(), ["urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2"]);
/// # Ok::<(), guss_dav::Error>(())
/// ```
pub fn parse_if(value: &str) -> Result<IfHeader> {
    if value.len() > MAX_LEN {
        return Err(Error::TooLarge {
            what: "If header",
            limit: MAX_LEN as u64,
        });
    }
    let mut rest = value.trim_start();
    let mut lists = Vec::new();
    let mut resource: Option<String> = None;
    let mut tagged = None;
    while !rest.is_empty() {
        if lists.len() >= MAX_ITEMS {
            return Err(bad("too many lists"));
        }
        if let Some(after) = rest.strip_prefix('<') {
            // A resource tag: all lists that follow are about it.
            if tagged == Some(false) {
                return Err(bad("tagged and untagged lists mixed"));
            }
            tagged = Some(true);
            let end = after
                .find('>')
                .ok_or_else(|| bad("unterminated resource tag"))?;
            resource = Some(after.get(..end).unwrap_or_default().to_owned());
            rest = after.get(end + 1..).unwrap_or_default().trim_start();
            if !rest.starts_with('(') {
                return Err(bad("a resource tag needs a list"));
            }
            continue;
        }
        let Some(after) = rest.strip_prefix('(') else {
            return Err(bad("expected ( or <"));
        };
        if tagged.is_none() {
            tagged = Some(false);
        }
        let (conditions, remaining) = parse_list(after)?;
        lists.push(IfList {
            resource: resource.clone(),
            conditions,
        });
        rest = remaining.trim_start();
    }
    if lists.is_empty() {
        return Err(bad("no list"));
    }
    Ok(IfHeader { lists })
}

fn parse_list(mut rest: &str) -> Result<(Vec<Condition>, &str)> {
    let mut conditions = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix(')') {
            if conditions.is_empty() {
                return Err(bad("empty list"));
            }
            return Ok((conditions, after));
        }
        if conditions.len() >= MAX_ITEMS {
            return Err(bad("too many conditions"));
        }
        let not = match rest.get(..3) {
            Some(word) if word.eq_ignore_ascii_case("not") => {
                rest = rest.get(3..).unwrap_or_default().trim_start();
                true
            }
            _ => false,
        };
        if let Some(after) = rest.strip_prefix('<') {
            let end = after
                .find('>')
                .ok_or_else(|| bad("unterminated state token"))?;
            let token = after.get(..end).unwrap_or_default();
            if token.is_empty() || token.contains(char::is_whitespace) {
                return Err(bad("malformed state token"));
            }
            conditions.push(Condition::StateToken {
                not,
                token: token.to_owned(),
            });
            rest = after.get(end + 1..).unwrap_or_default();
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after
                .find(']')
                .ok_or_else(|| bad("unterminated entity tag"))?;
            let tag = after.get(..end).unwrap_or_default().trim();
            let quoted = tag.strip_prefix("W/").unwrap_or(tag);
            if quoted.len() < 2 || !quoted.starts_with('"') || !quoted.ends_with('"') {
                return Err(bad("malformed entity tag"));
            }
            conditions.push(Condition::ETag {
                not,
                tag: tag.to_owned(),
            });
            rest = after.get(end + 1..).unwrap_or_default();
        } else {
            return Err(bad("expected a state token or an entity tag"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_examples() {
        // RFC 4918 §10.4.6
        let h = parse_if(r#"(<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2> ["I am an ETag"]) (["I am another ETag"])"#).unwrap();
        assert_eq!(h.lists.len(), 2);
        assert!(h.lists.iter().all(|l| l.resource.is_none()));
        // §10.4.7
        let h = parse_if(r#"(Not <urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2> <urn:uuid:58f202ac-22cf-11d1-b12d-002035b29092>)"#).unwrap();
        assert_eq!(
            h.lists[0].conditions[0],
            Condition::StateToken {
                not: true,
                token: "urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2".into()
            }
        );
        assert_eq!(h.tokens().count(), 1);
        // §10.4.8
        let h =
            parse_if(r#"(<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2>) (Not <DAV:no-lock>)"#)
                .unwrap();
        assert_eq!(h.lists.len(), 2);
        // Tagged lists with weak tags.
        let h = parse_if(r#"<http://www.example.com/specs/> (<urn:uuid:1> [W/"3"]) <http://www.example.com/a> (["x"])"#).unwrap();
        assert_eq!(
            h.lists[1].resource.as_deref(),
            Some("http://www.example.com/a")
        );
    }

    #[test]
    fn malformed_headers_are_errors() {
        for bad in [
            "",
            "(",
            "()",
            "(<>)",
            "(<a b>)",
            "([noquotes])",
            "(<a>",
            "<x>",
            "<x> y",
            "x",
            "(<a>) <r> (<b>)",
            "(Not)",
        ] {
            assert!(parse_if(bad).is_err(), "{bad:?}");
        }
        assert!(parse_if(&format!("({})", "<a>".repeat(65))).is_err());
        assert!(parse_if(&"(<a>)".repeat(65)).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,300}") {
            let _ = parse_if(&s);
        }
    }
}
