//! SEARCH: which messages match a list of search keys (RFC 9051 §6.4.4).

use chrono::NaiveDate;
use imap_types::search::SearchKey;
use mail_parser::{MessageParser, PartType};

use super::sequence;
use crate::store::MessageMeta;

/// A message as SEARCH looks at it.
pub(super) struct Candidate<'a> {
    /// Its sequence number.
    pub(super) seq: u32,
    /// What the store keeps of it.
    pub(super) meta: &'a MessageMeta,
    /// Its bytes, when a key needs them.
    pub(super) raw: Option<&'a [u8]>,
    /// The number of messages and the largest UID (for `*`).
    pub(super) largest: (u32, u32),
}

/// Fails with a reason for a key not served yet.
pub(super) fn check(key: &SearchKey<'_>) -> Result<(), String> {
    match key {
        SearchKey::And(keys) => keys.as_ref().iter().try_for_each(check),
        SearchKey::Not(key) => check(key),
        SearchKey::Or(a, b) => check(a).and_then(|()| check(b)),
        SearchKey::All
        | SearchKey::Answered
        | SearchKey::Bcc(_)
        | SearchKey::Before(_)
        | SearchKey::Body(_)
        | SearchKey::Cc(_)
        | SearchKey::Deleted
        | SearchKey::Draft
        | SearchKey::Flagged
        | SearchKey::From(_)
        | SearchKey::Header(..)
        | SearchKey::Keyword(_)
        | SearchKey::Larger(_)
        | SearchKey::New
        | SearchKey::Old
        | SearchKey::On(_)
        | SearchKey::Recent
        | SearchKey::Seen
        | SearchKey::SentBefore(_)
        | SearchKey::SentOn(_)
        | SearchKey::SentSince(_)
        | SearchKey::SequenceSet(_)
        | SearchKey::Since(_)
        | SearchKey::Smaller(_)
        | SearchKey::Subject(_)
        | SearchKey::Text(_)
        | SearchKey::To(_)
        | SearchKey::Uid(_)
        | SearchKey::Unanswered
        | SearchKey::Undeleted
        | SearchKey::Undraft
        | SearchKey::Unflagged
        | SearchKey::Unkeyword(_)
        | SearchKey::Unseen
        | SearchKey::ModSequence { .. } => Ok(()),
        #[allow(unreachable_patterns)]
        other => Err(format!("{other:?} is not served")),
    }
}

/// Whether a key reads the message's bytes.
pub(super) fn needs_body(key: &SearchKey<'_>) -> bool {
    match key {
        SearchKey::And(keys) => keys.as_ref().iter().any(needs_body),
        SearchKey::Not(key) => needs_body(key),
        SearchKey::Or(a, b) => needs_body(a) || needs_body(b),
        SearchKey::Bcc(_)
        | SearchKey::Body(_)
        | SearchKey::Cc(_)
        | SearchKey::From(_)
        | SearchKey::Header(..)
        | SearchKey::SentBefore(_)
        | SearchKey::SentOn(_)
        | SearchKey::SentSince(_)
        | SearchKey::Subject(_)
        | SearchKey::Text(_)
        | SearchKey::To(_) => true,
        _ => false,
    }
}

/// Whether `key` is or holds a MODSEQ key.
pub(super) fn uses_modseq(key: &SearchKey<'_>) -> bool {
    match key {
        SearchKey::ModSequence { .. } => true,
        SearchKey::And(keys) => keys.as_ref().iter().any(uses_modseq),
        SearchKey::Not(key) => uses_modseq(key),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        _ => false,
    }
}

/// Whether `c` matches `key`.
pub(super) fn matches(key: &SearchKey<'_>, c: &Candidate<'_>) -> bool {
    let flag = |name: &str| c.meta.flags.contains(name);
    let date = c.meta.internal_date.date_naive();
    let raw = c.raw.unwrap_or_default();
    match key {
        SearchKey::And(keys) => keys.as_ref().iter().all(|k| matches(k, c)),
        SearchKey::Not(key) => !matches(key, c),
        SearchKey::Or(a, b) => matches(a, c) || matches(b, c),
        SearchKey::All => true,
        SearchKey::Answered => flag("\\Answered"),
        SearchKey::Deleted => flag("\\Deleted"),
        SearchKey::Draft => flag("\\Draft"),
        SearchKey::Flagged => flag("\\Flagged"),
        SearchKey::Seen => flag("\\Seen"),
        SearchKey::Unanswered => !flag("\\Answered"),
        SearchKey::Undeleted => !flag("\\Deleted"),
        SearchKey::Undraft => !flag("\\Draft"),
        SearchKey::Unflagged => !flag("\\Flagged"),
        SearchKey::Unseen => !flag("\\Seen"),
        // No message is \Recent here (RFC 9051 removed it).
        SearchKey::New | SearchKey::Recent => false,
        SearchKey::Old => true,
        SearchKey::Keyword(atom) => flag(atom.as_ref()),
        SearchKey::Unkeyword(atom) => !flag(atom.as_ref()),
        SearchKey::Larger(n) => c.meta.size > u64::from(*n),
        SearchKey::Smaller(n) => c.meta.size < u64::from(*n),
        SearchKey::Before(d) => date < *d.as_ref(),
        SearchKey::On(d) => date == *d.as_ref(),
        SearchKey::Since(d) => date >= *d.as_ref(),
        SearchKey::SentBefore(d) => sent(raw).is_some_and(|s| s < *d.as_ref()),
        SearchKey::SentOn(d) => sent(raw).is_some_and(|s| s == *d.as_ref()),
        SearchKey::SentSince(d) => sent(raw).is_some_and(|s| s >= *d.as_ref()),
        SearchKey::SequenceSet(set) => sequence::contains(set, c.seq, c.largest.0),
        SearchKey::Uid(set) => sequence::contains(set, c.meta.uid, c.largest.1),
        SearchKey::ModSequence { modseq, .. } => c.meta.modseq >= *modseq,
        SearchKey::Bcc(s) => address(raw, "bcc", s.as_ref()),
        SearchKey::Cc(s) => address(raw, "cc", s.as_ref()),
        SearchKey::From(s) => address(raw, "from", s.as_ref()),
        SearchKey::To(s) => address(raw, "to", s.as_ref()),
        SearchKey::Subject(s) => {
            header(raw, "subject", s.as_ref())
                || MessageParser::default()
                    .parse_headers(raw)
                    .and_then(|m| m.subject().map(|s| s.to_lowercase()))
                    .is_some_and(|subject| subject.contains(&lower(s.as_ref())))
        }
        SearchKey::Header(name, value) => header(raw, &lower(name.as_ref()), value.as_ref()),
        SearchKey::Body(s) => contains(body(raw), s.as_ref()) || in_text(raw, s.as_ref(), false),
        SearchKey::Text(s) => contains(raw, s.as_ref()) || in_text(raw, s.as_ref(), true),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

fn lower(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_lowercase()
}

/// Case-insensitive substring search (RFC 9051 §6.4.4).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    lower(haystack).contains(&lower(needle))
}

/// Whether an address field `name` holds `value`, as written or with its
/// encoded words decoded (`=?utf-8?q?J=C3=BCrgen?=` is found as `Jürgen`).
fn address(raw: &[u8], name: &str, value: &[u8]) -> bool {
    if header(raw, name, value) {
        return true;
    }
    let Some(message) = MessageParser::default().parse_headers(raw) else {
        return false;
    };
    let field = match name {
        "from" => message.from(),
        "to" => message.to(),
        "cc" => message.cc(),
        _ => message.bcc(),
    };
    let needle = lower(value);
    field.is_some_and(|field| {
        field.iter().any(|addr| {
            [addr.name(), addr.address()]
                .into_iter()
                .flatten()
                .any(|text| text.to_lowercase().contains(&needle))
        })
    })
}

/// Whether the text parts of the message, decoded (base64 and
/// quoted-printable undone, charsets made UTF-8), hold `value`; with
/// `headers`, also its decoded subject and addresses.
fn in_text(raw: &[u8], value: &[u8], headers: bool) -> bool {
    let Some(message) = MessageParser::default().parse(raw) else {
        return false;
    };
    let needle = lower(value);
    let found = |text: &str| text.to_lowercase().contains(&needle);
    let in_parts = message.parts.iter().any(|part| match &part.body {
        PartType::Text(text) | PartType::Html(text) => found(text),
        _ => false,
    });
    in_parts
        || (headers
            && (message.subject().is_some_and(found)
                || ["from", "to", "cc", "bcc"]
                    .iter()
                    .any(|name| address(raw, name, value))))
}

/// What follows the header.
fn body(raw: &[u8]) -> &[u8] {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .and_then(|i| raw.get(i + 4..))
        .unwrap_or_default()
}

/// Whether a header field `name` (lowercase) contains `value`; an empty
/// value asks only that the field be there. Folded lines are joined.
fn header(raw: &[u8], name: &str, value: &[u8]) -> bool {
    let mut field: Option<Vec<u8>> = None;
    let mut found = false;
    let mut finish = |field: &mut Option<Vec<u8>>| {
        if let Some(text) = field.take() {
            found |= value.is_empty() || contains(&text, value);
        }
    };
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            if let Some(text) = &mut field {
                text.extend_from_slice(line.trim_ascii_end());
            }
            continue;
        }
        finish(&mut field);
        let mut parts = line.splitn(2, |&b| b == b':');
        let (Some(n), Some(v)) = (parts.next(), parts.next()) else {
            continue;
        };
        if lower(n).trim() == name {
            field = Some(v.trim_ascii().to_vec());
        }
    }
    finish(&mut field);
    found
}

/// The day of the `Date` header field, in its own time zone.
fn sent(raw: &[u8]) -> Option<NaiveDate> {
    let message = MessageParser::default().parse_headers(raw)?;
    let date = message.date()?;
    NaiveDate::from_ymd_opt(
        i32::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_are_searched_unfolded_and_case_insensitively() {
        let raw = b"From: Ben <ben@example.test>\r\nSubject: Termin\r\n am Montag\r\n\r\nText\r\n";
        assert!(header(raw, "subject", b"MONTAG"));
        assert!(header(raw, "from", b"ben@"));
        assert!(!header(raw, "to", b""));
        assert!(header(raw, "subject", b""));
        assert!(!header(raw, "subject", b"Text"));
        assert!(contains(body(raw), b"text"));
    }

    #[test]
    fn encoded_text_and_names_are_searched_decoded() {
        let raw = b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.test>\r\n\
Subject: =?iso-8859-1?q?Gr=FC=DFe?=\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Die Kl=C3=A4ger sind da.\r\n--x\r\nContent-Type: text/html; charset=utf-8\r\n\
Content-Transfer-Encoding: base64\r\n\r\nPHA+U2Now7ZuZW4gR3LDvMOfPC9wPg==\r\n--x--\r\n";
        assert!(address(raw, "from", "jürgen".as_bytes()));
        assert!(address(raw, "from", b"jm@example"));
        assert!(!address(raw, "to", b"j"));
        assert!(in_text(raw, "KLÄGER".as_bytes(), false));
        assert!(in_text(raw, "schönen".as_bytes(), false));
        assert!(
            !in_text(raw, "grüße".as_bytes(), false),
            "BODY leaves out the header"
        );
        assert!(in_text(raw, "grüße".as_bytes(), true));
        assert!(in_text(raw, "müller".as_bytes(), true));
    }
}
