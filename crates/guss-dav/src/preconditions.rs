//! Conditional requests: `If-Match` and `If-None-Match` (RFC 9110 §13.1,
//! evaluated in the order of §13.2.2), and the WebDAV `If` header against
//! the state of the resources it names (RFC 4918 §10.4).

use crate::if_header::{Condition, IfHeader};

/// What a precondition check decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Go on with the request.
    Proceed,
    /// Answer 304 Not Modified (a GET or HEAD whose `If-None-Match` matched).
    NotModified,
    /// Answer 412 Precondition Failed.
    Failed,
}

/// An entity tag with its weakness, parsed from `"xyz"` or `W/"xyz"`.
fn parse_tag(tag: &str) -> Option<(bool, &str)> {
    let tag = tag.trim();
    let (weak, quoted) = match tag.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, tag),
    };
    let opaque = quoted.strip_prefix('"')?.strip_suffix('"')?;
    (!opaque.contains('"')).then_some((weak, opaque))
}

/// Strong comparison (§8.8.3.2): both strong and equal.
fn strong_eq(a: &str, b: &str) -> bool {
    matches!((parse_tag(a), parse_tag(b)), (Some((false, x)), Some((false, y))) if x == y)
}

/// Weak comparison: equal opaque tags, weak or not.
fn weak_eq(a: &str, b: &str) -> bool {
    matches!((parse_tag(a), parse_tag(b)), (Some((_, x)), Some((_, y))) if x == y)
}

/// Splits a list header (`"a", W/"b"`) at commas outside quotes.
fn tags(list: &str) -> impl Iterator<Item = &str> {
    let mut in_quotes = false;
    list.split(move |c| {
        if c == '"' {
            in_quotes = !in_quotes;
        }
        c == ',' && !in_quotes
    })
    .map(str::trim)
    .filter(|t| !t.is_empty())
}

/// Evaluates `If-Match` and `If-None-Match` against the current entity tag
/// (`None` when the resource does not exist).
///
/// ```
/// use guss_dav::preconditions::{check, Outcome};
///
/// // Create only if absent (a client's "If-None-Match: *" PUT).
/// assert_eq!(check(false, Some("\"v1\""), None, Some("*")), Outcome::Failed);
/// assert_eq!(check(false, None, None, Some("*")), Outcome::Proceed);
/// // Lost-update protection.
/// assert_eq!(check(false, Some("\"v2\""), Some("\"v1\""), None), Outcome::Failed);
/// // A cache revalidation.
/// assert_eq!(check(true, Some("\"v2\""), None, Some("W/\"v2\"")), Outcome::NotModified);
/// ```
pub fn check(
    safe_method: bool,
    current: Option<&str>,
    if_match: Option<&str>,
    if_none_match: Option<&str>,
) -> Outcome {
    if let Some(list) = if_match {
        let matched = match current {
            None => false,
            Some(_) if list.trim() == "*" => true,
            Some(etag) => tags(list).any(|t| strong_eq(t, etag)),
        };
        if !matched {
            return Outcome::Failed;
        }
    }
    if let Some(list) = if_none_match {
        let matched = match current {
            None => false,
            Some(_) if list.trim() == "*" => true,
            Some(etag) => tags(list).any(|t| weak_eq(t, etag)),
        };
        if matched {
            return if safe_method {
                Outcome::NotModified
            } else {
                Outcome::Failed
            };
        }
    }
    Outcome::Proceed
}

/// The state of a resource as far as the `If` header asks about it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceState {
    /// Its current entity tag, if it exists.
    pub etag: Option<String>,
    /// Lock tokens of the locks on it (including inherited ones).
    pub lock_tokens: Vec<String>,
}

impl IfHeader {
    /// Whether the header holds (some list is true) given the state of the
    /// request URI and of any tagged resources (`state(None)` is the
    /// request URI, `state(Some(url))` a tagged one).
    pub fn holds(&self, mut state: impl FnMut(Option<&str>) -> ResourceState) -> bool {
        self.lists.iter().any(|list| {
            let resource = state(list.resource.as_deref());
            list.conditions.iter().all(|condition| match condition {
                Condition::StateToken { not, token } => {
                    resource.lock_tokens.iter().any(|t| t == token) != *not
                }
                Condition::ETag { not, tag } => {
                    resource
                        .etag
                        .as_deref()
                        .is_some_and(|etag| strong_eq(tag, etag))
                        != *not
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_if;

    #[test]
    fn if_match_uses_strong_comparison() {
        assert_eq!(
            check(false, Some("\"a\""), Some("\"a\""), None),
            Outcome::Proceed
        );
        assert_eq!(
            check(false, Some("W/\"a\""), Some("W/\"a\""), None),
            Outcome::Failed,
            "weak tags never match strongly"
        );
        assert_eq!(
            check(false, Some("\"a\""), Some("\"x\", \"a\""), None),
            Outcome::Proceed
        );
        assert_eq!(check(false, None, Some("*"), None), Outcome::Failed);
        assert_eq!(
            check(false, Some("\"a,b\""), Some("\"a,b\""), None),
            Outcome::Proceed,
            "commas inside tags"
        );
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        assert_eq!(
            check(false, Some("\"a\""), None, Some("W/\"a\"")),
            Outcome::Failed
        );
        assert_eq!(
            check(true, Some("\"a\""), None, Some("\"b\"")),
            Outcome::Proceed
        );
        assert_eq!(
            check(true, Some("\"a\""), None, Some("*")),
            Outcome::NotModified
        );
    }

    #[test]
    fn if_header_against_locks_and_etags() {
        let locked = ResourceState {
            etag: Some("\"e1\"".into()),
            lock_tokens: vec!["urn:uuid:1".into()],
        };
        let holds = |header: &str| parse_if(header).unwrap().holds(|_| locked.clone());
        assert!(holds("(<urn:uuid:1>)"));
        assert!(!holds("(<urn:uuid:2>)"));
        assert!(holds("(<urn:uuid:2>) (<urn:uuid:1>)"), "any list");
        assert!(
            !holds("(<urn:uuid:1> [\"e2\"])"),
            "all conditions of a list"
        );
        assert!(holds("(<urn:uuid:1> [\"e1\"])"));
        assert!(holds("(Not <DAV:no-lock>)"), "litmus' classic");
        assert!(!holds("(<DAV:no-lock>)"));
        // Tagged lists ask about the named resource.
        let header = parse_if("</other> (<urn:uuid:9>)").unwrap();
        assert!(header.holds(|r| if r == Some("/other") {
            ResourceState {
                etag: None,
                lock_tokens: vec!["urn:uuid:9".into()],
            }
        } else {
            ResourceState::default()
        }));
    }
}
