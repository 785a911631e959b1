//! What the store and the transport need to know about a message: its ids
//! for threading, a subject and sender to list it by, and an invitation
//! (`text/calendar` part) to hand on to the calendar.

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// Longest header value kept in the summary (subject, sender, ids).
const MAX_FIELD: usize = 998;
/// Most thread references followed.
const MAX_REFERENCES: usize = 64;
/// Largest calendar part handed on.
const MAX_CALENDAR: usize = 1024 * 1024;

/// The parts of a message the store indexes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// `Message-ID` without angle brackets.
    pub message_id: Option<String>,
    /// `In-Reply-To` and `References` ids, nearest ancestor first.
    pub ancestors: Vec<String>,
    /// The decoded `Subject`.
    pub subject: Option<String>,
    /// The first `From` address.
    pub from: Option<String>,
    /// The text of the first `text/calendar` part (an iTIP message).
    pub calendar: Option<String>,
}

/// Summarises `raw`; a message that does not parse yields an empty summary
/// (it is stored all the same: mail is never dropped for being odd).
///
/// ```
/// let raw = b"From: Anna <anna@kanzlei.example>\r\nSubject: =?utf-8?q?Akte_M=C3=BCller?=\r\n\
/// Message-ID: <2@kanzlei.example>\r\nIn-Reply-To: <1@kanzlei.example>\r\n\r\nHallo\r\n";
/// let summary = guss_mail::message::summarize(raw);
/// assert_eq!(summary.subject.as_deref(), Some("Akte Müller"));
/// assert_eq!(summary.from.as_deref(), Some("anna@kanzlei.example"));
/// assert_eq!(summary.message_id.as_deref(), Some("2@kanzlei.example"));
/// assert_eq!(summary.ancestors, ["1@kanzlei.example"]);
/// ```
pub fn summarize(raw: &[u8]) -> Summary {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Summary::default();
    };
    let mut ancestors = Vec::new();
    for value in [message.in_reply_to(), message.references()] {
        let ids: Vec<&str> = match (value.as_text(), value.as_text_list()) {
            (Some(one), _) => vec![one],
            (None, Some(list)) => list.iter().rev().map(|id| id.as_ref()).collect(),
            (None, None) => Vec::new(),
        };
        for id in ids {
            if ancestors.len() < MAX_REFERENCES && !ancestors.iter().any(|a| a == id) {
                ancestors.push(bounded(id));
            }
        }
    }
    let from = message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(|a| bounded(&a.to_lowercase()));
    let calendar = message.parts.iter().find_map(|part| {
        let ctype = part.content_type()?;
        let is_calendar = ctype.ctype().eq_ignore_ascii_case("text")
            && ctype
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("calendar"));
        match &part.body {
            PartType::Text(text) if is_calendar && text.len() <= MAX_CALENDAR => {
                Some(text.to_string())
            }
            _ => None,
        }
    });
    Summary {
        message_id: message.message_id().map(bounded),
        ancestors,
        subject: message.subject().map(bounded),
        from,
        calendar,
    }
}

/// The addresses in the `From` header of `raw` (lowercased); empty when
/// there is none or the headers do not parse.
///
/// ```
/// let raw = b"From: Anna <Anna@Kanzlei.example>, ben@kanzlei.example\r\n\r\nText\r\n";
/// assert_eq!(guss_mail::message::from_addresses(raw), ["anna@kanzlei.example", "ben@kanzlei.example"]);
/// ```
pub fn from_addresses(raw: &[u8]) -> Vec<String> {
    let Some(message) = MessageParser::default().parse_headers(raw) else {
        return Vec::new();
    };
    message
        .from()
        .map(|from| {
            from.iter()
                .filter_map(|a| a.address())
                .take(MAX_REFERENCES)
                .map(str::to_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the header section of `raw` has a field called `name`.
pub fn has_header(raw: &[u8], name: &str) -> bool {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    raw.get(..end)
        .unwrap_or_default()
        .split(|&b| b == b'\n')
        .any(|line| {
            line.len() > name.len()
                && line.get(name.len()) == Some(&b':')
                && line
                    .get(..name.len())
                    .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
        })
}

fn bounded(text: &str) -> String {
    let mut end = text.len().min(MAX_FIELD);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_an_invitation() {
        let raw = b"From: a@x.example\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nEinladung\r\n--b\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\n\
BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n--b--\r\n";
        let summary = summarize(raw);
        assert!(summary.calendar.unwrap().contains("METHOD:REQUEST"));
    }

    #[test]
    fn garbage_gives_an_empty_summary() {
        assert_eq!(summarize(b"").subject, None);
        let _ = summarize(&[0xff; 4096]);
    }
}
