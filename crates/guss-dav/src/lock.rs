//! Write locks as the protocol sees them (RFC 4918 §6, §10.7, §14): the
//! `Timeout` header, lock tokens, and the `activelock` element clients read
//! in `lockdiscovery`. Where locks are kept is the server's business.

use crate::body::LockScope;
use crate::headers::Depth;
use crate::xml::escape_text;
use crate::{Error, Result};

/// The longest lock guss grants: clients that ask for more (or for
/// `Infinite`) get this, and refresh.
pub const MAX_TIMEOUT_SECONDS: u64 = 3600;

/// Parses a `Timeout` header (RFC 4918 §10.7): the first acceptable entry,
/// capped at [`MAX_TIMEOUT_SECONDS`]; absent means the maximum.
///
/// ```
/// use guss_dav::lock::timeout_seconds;
///
/// assert_eq!(timeout_seconds(Some("Second-600"))?, 600);
/// assert_eq!(timeout_seconds(Some("Infinite, Second-4100000000"))?, 3600);
/// assert_eq!(timeout_seconds(None)?, 3600);
/// # Ok::<(), guss_dav::Error>(())
/// ```
pub fn timeout_seconds(value: Option<&str>) -> Result<u64> {
    let Some(value) = value else {
        return Ok(MAX_TIMEOUT_SECONDS);
    };
    if value.len() > 256 {
        return Err(Error::BadHeader {
            header: "Timeout",
            why: "too long",
        });
    }
    for entry in value.split(',').map(str::trim) {
        if entry.eq_ignore_ascii_case("infinite") {
            return Ok(MAX_TIMEOUT_SECONDS);
        }
        let seconds = entry
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("second-"))
            .and_then(|_| entry.get(7..))
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
        if let Some(seconds) = seconds {
            // Values past u64 mean "very long": the cap applies either way.
            let seconds = seconds.parse::<u64>().unwrap_or(u64::MAX);
            return Ok(seconds.clamp(1, MAX_TIMEOUT_SECONDS));
        }
    }
    Err(Error::BadHeader {
        header: "Timeout",
        why: "Second-N or Infinite",
    })
}

/// A lock as reported in `lockdiscovery`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveLock {
    /// Exclusive or shared.
    pub scope: LockScope,
    /// `Zero` or `Infinity` (RFC 4918 §9.10.3: no depth 1).
    pub depth: Depth,
    /// The owner as the client gave it (XML), echoed back.
    pub owner: Option<String>,
    /// Seconds left.
    pub timeout_seconds: u64,
    /// The lock token, a URI such as `urn:uuid:…`.
    pub token: String,
    /// The root of the lock (an href).
    pub root: String,
}

impl ActiveLock {
    /// The `<D:activelock>` element (in a document where `D` is `DAV:`).
    pub fn to_xml(&self) -> String {
        let scope = match self.scope {
            LockScope::Exclusive => "exclusive",
            LockScope::Shared => "shared",
        };
        let depth = match self.depth {
            Depth::Zero => "0",
            Depth::One => "1",
            Depth::Infinity => "infinity",
        };
        let owner = self
            .owner
            .as_deref()
            .map(|o| format!("<D:owner>{o}</D:owner>"))
            .unwrap_or_default();
        format!(
            "<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:{scope}/></D:lockscope>\
             <D:depth>{depth}</D:depth>{owner}<D:timeout>Second-{}</D:timeout>\
             <D:locktoken><D:href>{}</D:href></D:locktoken><D:lockroot><D:href>{}</D:href></D:lockroot></D:activelock>",
            self.timeout_seconds,
            escape_text(&self.token),
            escape_text(&self.root),
        )
    }

    /// The body of a successful LOCK response: the `prop` with `lockdiscovery`.
    pub fn to_lock_response(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:prop xmlns:D=\"DAV:\"><D:lockdiscovery>{}</D:lockdiscovery></D:prop>\n",
            self.to_xml()
        )
    }
}

/// Reads a `Lock-Token` header (`<urn:uuid:…>`) as used by UNLOCK (RFC 4918 §10.5).
pub fn lock_token_header(value: &str) -> Result<&str> {
    value
        .trim()
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .filter(|t| !t.is_empty() && t.len() <= 256 && !t.contains(['<', '>', ' ']))
        .ok_or(Error::BadHeader {
            header: "Lock-Token",
            why: "a coded URL: <urn:uuid:…>",
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limits, parse};
    use proptest::prelude::*;

    #[test]
    fn timeouts() {
        assert_eq!(timeout_seconds(Some("second-30")).unwrap(), 30);
        assert_eq!(timeout_seconds(Some("Second-0")).unwrap(), 1);
        assert_eq!(
            timeout_seconds(Some("Second-99999999999999999999999")).unwrap(),
            3600
        );
        assert_eq!(timeout_seconds(Some("Bogus, Second-10")).unwrap(), 10);
        for bad in ["", "Second-", "Second--1", "Minute-3", "Second-1e3"] {
            assert!(timeout_seconds(Some(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lock_responses_are_well_formed_and_echo_the_owner() {
        let lock = ActiveLock {
            scope: LockScope::Exclusive,
            depth: Depth::Infinity,
            owner: Some(r#"<href xmlns="DAV:">http://example.org/~ejw/contact.html</href>"#.into()),
            timeout_seconds: 3600,
            token: "urn:uuid:e71d4fae-5dec-22d6-fea5-00a0c91e6be4".into(),
            root: "/workspace/webdav/".into(),
        };
        let body = lock.to_lock_response();
        let root = parse(&body, Limits::default()).unwrap();
        let active = root
            .dav_child("lockdiscovery")
            .unwrap()
            .dav_child("activelock")
            .unwrap();
        assert_eq!(
            active
                .dav_child("locktoken")
                .unwrap()
                .dav_child("href")
                .unwrap()
                .text(),
            lock.token
        );
        assert_eq!(
            active
                .dav_child("owner")
                .unwrap()
                .dav_child("href")
                .unwrap()
                .text(),
            "http://example.org/~ejw/contact.html"
        );
        assert_eq!(active.dav_child("depth").unwrap().text(), "infinity");
    }

    #[test]
    fn lock_token_headers() {
        assert_eq!(lock_token_header("<urn:uuid:1>").unwrap(), "urn:uuid:1");
        for bad in ["urn:uuid:1", "<>", "<a b>", "<<a>>"] {
            assert!(lock_token_header(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn timeout_parsing_never_panics_and_stays_capped(s in ".{0,80}") {
            if let Ok(seconds) = timeout_seconds(Some(&s)) {
                prop_assert!((1..=MAX_TIMEOUT_SECONDS).contains(&seconds));
            }
        }
    }
}
