//! FETCH: which data items a command asks for, and their rendering
//! (RFC 9051 §6.4.5, §7.5.2).

use imap_types::core::AString;
use imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName, Section};

use crate::store::MessageMeta;

/// Which bytes of a message a body item names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Part {
    /// All of it.
    Full,
    /// The header, with the empty line that ends it.
    Header,
    /// What follows the header.
    Text,
    /// A body part's own MIME header fields.
    Mime,
    /// The header fields named (`HEADER.FIELDS`), or all others
    /// (`HEADER.FIELDS.NOT`), with the empty line.
    Fields {
        /// The names, lowercase.
        names: Vec<String>,
        /// Whether the named ones are left out.
        not: bool,
    },
}

/// One data item to render.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Uid,
    Flags,
    InternalDate,
    Size,
    ModSeq,
    Envelope,
    /// BODYSTRUCTURE (`true`) or BODY (`false`).
    Structure(bool),
    /// BINARY[path] (RFC 3516), or only its size.
    Binary {
        path: Vec<u32>,
        partial: Option<(u32, u32)>,
        size_only: bool,
    },
    Body {
        /// The name in the response, without the origin (`BODY[HEADER]`).
        label: String,
        /// The body part (`1.2`); empty for the whole message.
        path: Vec<u32>,
        part: Part,
        /// `<offset.length>`.
        partial: Option<(u32, u32)>,
    },
}

/// What a FETCH renders for every message.
#[derive(Clone, Debug, Default)]
pub(super) struct Plan {
    items: Vec<Item>,
    /// Whether an item reads the message's bytes.
    pub(super) needs_body: bool,
    /// Whether an item sets `\Seen` (BODY[] without PEEK, RFC822, RFC822.TEXT).
    pub(super) sets_seen: bool,
}

impl Plan {
    /// The plan for `names`; `uid` (a UID FETCH) always includes UID.
    /// Fails with a reason for items not yet served.
    pub(super) fn new(names: &MacroOrMessageDataItemNames<'_>, uid: bool) -> Result<Plan, String> {
        let expanded;
        let names: &[MessageDataItemName<'_>] = match names {
            MacroOrMessageDataItemNames::Macro(m) => {
                expanded = m.expand();
                &expanded
            }
            MacroOrMessageDataItemNames::MessageDataItemNames(names) => names,
        };
        let mut plan = Plan::default();
        if uid {
            plan.items.push(Item::Uid);
        }
        for name in names {
            let item = match name {
                MessageDataItemName::Uid => Item::Uid,
                MessageDataItemName::Flags => Item::Flags,
                MessageDataItemName::InternalDate => Item::InternalDate,
                MessageDataItemName::Rfc822Size => Item::Size,
                MessageDataItemName::ModSeq => Item::ModSeq,
                MessageDataItemName::Envelope => Item::Envelope,
                MessageDataItemName::BodyStructure => Item::Structure(true),
                MessageDataItemName::Body => Item::Structure(false),
                MessageDataItemName::Binary {
                    section,
                    partial,
                    peek,
                } => {
                    if !peek {
                        plan.sets_seen = true;
                    }
                    Item::Binary {
                        path: section.iter().map(|n| n.get()).collect(),
                        partial: partial.map(|(offset, length)| (offset, length.get())),
                        size_only: false,
                    }
                }
                MessageDataItemName::BinarySize { section } => Item::Binary {
                    path: section.iter().map(|n| n.get()).collect(),
                    partial: None,
                    size_only: true,
                },
                MessageDataItemName::Rfc822 => {
                    plan.sets_seen = true;
                    body("RFC822", Part::Full, None)
                }
                MessageDataItemName::Rfc822Header => body("RFC822.HEADER", Part::Header, None),
                MessageDataItemName::Rfc822Text => {
                    plan.sets_seen = true;
                    body("RFC822.TEXT", Part::Text, None)
                }
                MessageDataItemName::BodyExt {
                    section,
                    partial,
                    peek,
                } => {
                    let numbers = |p: &Option<imap_types::fetch::Part>| -> Vec<u32> {
                        p.as_ref()
                            .map(|p| p.0.as_ref().iter().map(|n| n.get()).collect())
                            .unwrap_or_default()
                    };
                    let (path, spec, part) = match section {
                        None => (Vec::new(), String::new(), Part::Full),
                        Some(Section::Part(p)) => {
                            (numbers(&Some(p.clone())), String::new(), Part::Full)
                        }
                        Some(Section::Header(p)) => (numbers(p), "HEADER".to_owned(), Part::Header),
                        Some(Section::Text(p)) => (numbers(p), "TEXT".to_owned(), Part::Text),
                        Some(Section::Mime(p)) => {
                            (numbers(&Some(p.clone())), "MIME".to_owned(), Part::Mime)
                        }
                        Some(Section::HeaderFields(p, names)) => {
                            let (spec, part) = fields(names.as_ref(), false);
                            (numbers(p), spec, part)
                        }
                        Some(Section::HeaderFieldsNot(p, names)) => {
                            let (spec, part) = fields(names.as_ref(), true);
                            (numbers(p), spec, part)
                        }
                    };
                    let numbered = path
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(".");
                    let dot = if numbered.is_empty() || spec.is_empty() {
                        ""
                    } else {
                        "."
                    };
                    let label = format!("BODY[{numbered}{dot}{spec}]");
                    if !peek {
                        plan.sets_seen = true;
                    }
                    Item::Body {
                        label,
                        path,
                        part,
                        partial: partial.map(|(offset, length)| (offset, length.get())),
                    }
                }
            };
            if matches!(
                item,
                Item::Body { .. } | Item::Envelope | Item::Structure(_) | Item::Binary { .. }
            ) {
                plan.needs_body = true;
            }
            if !plan.items.contains(&item) {
                plan.items.push(item);
            }
        }
        Ok(plan)
    }

    /// Whether MODSEQ was asked for (which turns CONDSTORE on, RFC 7162
    /// §3.1).
    pub(super) fn asks_modseq(&self) -> bool {
        self.items.contains(&Item::ModSeq)
    }

    /// Adds MODSEQ (CONDSTORE is on).
    pub(super) fn with_modseq(&mut self) {
        if !self.items.contains(&Item::ModSeq) {
            self.items.push(Item::ModSeq);
        }
    }

    /// `* SEQ FETCH (...)` for one message; `raw` is there when
    /// [`Plan::needs_body`].
    pub(super) fn render(&self, out: &mut Vec<u8>, seq: u32, meta: &MessageMeta, raw: &[u8]) {
        out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            match item {
                Item::Uid => out.extend_from_slice(format!("UID {}", meta.uid).as_bytes()),
                Item::Flags => {
                    out.extend_from_slice(b"FLAGS ");
                    flag_list(out, meta);
                }
                Item::InternalDate => out.extend_from_slice(
                    format!("INTERNALDATE \"{}\"", internal_date(meta)).as_bytes(),
                ),
                Item::Size => {
                    out.extend_from_slice(format!("RFC822.SIZE {}", meta.size).as_bytes())
                }
                Item::ModSeq => {
                    out.extend_from_slice(format!("MODSEQ ({})", meta.modseq.max(1)).as_bytes());
                }
                Item::Structure(extended) => {
                    out.extend_from_slice(if *extended {
                        b"BODYSTRUCTURE "
                    } else {
                        b"BODY "
                    });
                    super::body::structure(out, raw, *extended);
                }
                Item::Binary {
                    path,
                    partial,
                    size_only,
                } => {
                    let numbered = path
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(".");
                    let decoded = super::body::binary(raw, path);
                    if *size_only {
                        let size = decoded.as_ref().map_or(0, Vec::len);
                        out.extend_from_slice(format!("BINARY.SIZE[{numbered}] {size}").as_bytes());
                    } else {
                        out.extend_from_slice(format!("BINARY[{numbered}]").as_bytes());
                        let bytes = decoded.unwrap_or_default();
                        let bytes = match partial {
                            Some((offset, length)) => {
                                out.extend_from_slice(format!("<{offset}>").as_bytes());
                                slice(&bytes, *offset, *length)
                            }
                            None => &bytes,
                        };
                        out.push(b' ');
                        // RFC 3516 §4.2: binary data as a literal8 when it holds NULs.
                        if bytes.contains(&0) {
                            out.push(b'~');
                        }
                        literal(out, bytes);
                    }
                }
                Item::Envelope => {
                    out.extend_from_slice(b"ENVELOPE ");
                    envelope(out, raw);
                }
                Item::Body {
                    label,
                    path,
                    part,
                    partial,
                } => {
                    out.extend_from_slice(label.as_bytes());
                    let selected = if path.is_empty() {
                        select(raw, part)
                    } else {
                        std::borrow::Cow::Owned(
                            super::body::section(raw, path, part).unwrap_or_default(),
                        )
                    };
                    let bytes: &[u8] = &selected;
                    let bytes = match partial {
                        Some((offset, length)) => {
                            out.extend_from_slice(format!("<{offset}>").as_bytes());
                            let start = usize::try_from(*offset)
                                .unwrap_or(usize::MAX)
                                .min(bytes.len());
                            let end = start
                                .saturating_add(usize::try_from(*length).unwrap_or(usize::MAX))
                                .min(bytes.len());
                            bytes.get(start..end).unwrap_or_default()
                        }
                        None => bytes,
                    };
                    out.push(b' ');
                    literal(out, bytes);
                }
            }
        }
        out.extend_from_slice(b")\r\n");
    }
}

/// The name and part of `HEADER.FIELDS (…)` or `HEADER.FIELDS.NOT (…)`.
fn fields(names: &[AString<'_>], not: bool) -> (String, Part) {
    let names: Vec<String> = names
        .iter()
        .map(|n| String::from_utf8_lossy(n.as_ref()).into_owned())
        .collect();
    let label = format!(
        "HEADER.FIELDS{} ({})",
        if not { ".NOT" } else { "" },
        names.join(" ")
    );
    let names = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    (label, Part::Fields { names, not })
}

fn body(label: &str, part: Part, partial: Option<(u32, u32)>) -> Item {
    Item::Body {
        label: label.to_owned(),
        path: Vec::new(),
        part,
        partial,
    }
}

/// `<offset.length>` of `bytes`.
fn slice(bytes: &[u8], offset: u32, length: u32) -> &[u8] {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let end = start
        .saturating_add(usize::try_from(length).unwrap_or(usize::MAX))
        .min(bytes.len());
    bytes.get(start..end).unwrap_or_default()
}

/// The bytes of `part` of a message.
pub(super) fn select<'a>(raw: &'a [u8], part: &Part) -> std::borrow::Cow<'a, [u8]> {
    use std::borrow::Cow;
    if *part == Part::Full {
        return Cow::Borrowed(raw);
    }
    // The header ends with the first empty line (CRLF CRLF; bare LF tolerated).
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))
        .unwrap_or(raw.len());
    let (header, text) = raw.split_at(end.min(raw.len()));
    match part {
        Part::Header => Cow::Borrowed(header),
        Part::Fields { names, not } => {
            // A field runs from a line that does not start with white
            // space up to the next such line (RFC 5322 §2.2.3).
            let mut out = Vec::new();
            let mut keep = false;
            for line in header.split_inclusive(|&b| b == b'\n') {
                if line == b"\r\n" || line == b"\n" {
                    break;
                }
                if !line.starts_with(b" ") && !line.starts_with(b"\t") {
                    let name = line.split(|&b| b == b':').next().unwrap_or_default();
                    let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
                    keep = names.contains(&name) != *not;
                }
                if keep {
                    out.extend_from_slice(line);
                }
            }
            out.extend_from_slice(b"\r\n");
            Cow::Owned(out)
        }
        _ => Cow::Borrowed(text),
    }
}

/// The unfolded value of the first header field `name` (lowercase).
fn header_value(raw: &[u8], name: &str) -> Option<String> {
    let mut value: Option<Vec<u8>> = None;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        let continued = line.starts_with(b" ") || line.starts_with(b"\t");
        match &mut value {
            Some(v) if continued => v.extend_from_slice(line.trim_ascii_end()),
            Some(_) => break,
            None if continued => {}
            None => {
                let mut parts = line.splitn(2, |&b| b == b':');
                if let (Some(n), Some(v)) = (parts.next(), parts.next())
                    && String::from_utf8_lossy(n).trim().eq_ignore_ascii_case(name)
                {
                    value = Some(v.trim_ascii().to_vec());
                }
            }
        }
    }
    value.map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// A string, or NIL.
pub(super) fn nstring(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => string(out, text),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// ENVELOPE (RFC 9051 §7.5.2): date, subject, from, sender, reply-to, to,
/// cc, bcc, in-reply-to and message-id; sender and reply-to default to
/// from. Strings are the header fields as they are; addresses come from
/// mail-parser.
pub(super) fn envelope(out: &mut Vec<u8>, raw: &[u8]) {
    let parsed = mail_parser::MessageParser::default().parse_headers(raw);
    let parsed = parsed.as_ref();
    out.push(b'(');
    nstring(out, header_value(raw, "date").as_deref());
    out.push(b' ');
    nstring(out, header_value(raw, "subject").as_deref());
    let from = parsed.and_then(|m| m.from());
    let lists = [
        from,
        parsed.and_then(|m| m.sender()).or(from),
        parsed.and_then(|m| m.reply_to()).or(from),
        parsed.and_then(|m| m.to()),
        parsed.and_then(|m| m.cc()),
        parsed.and_then(|m| m.bcc()),
    ];
    for list in lists {
        out.push(b' ');
        addresses(out, list);
    }
    out.push(b' ');
    nstring(out, header_value(raw, "in-reply-to").as_deref());
    out.push(b' ');
    nstring(out, header_value(raw, "message-id").as_deref());
    out.push(b')');
}

/// An address list: `((name NIL mailbox host) …)`, groups between
/// `(NIL NIL group NIL)` and `(NIL NIL NIL NIL)`; NIL when empty.
fn addresses(out: &mut Vec<u8>, list: Option<&mail_parser::Address<'_>>) {
    let mut items = Vec::new();
    let one = |items: &mut Vec<u8>, addr: &mail_parser::Addr<'_>| {
        let address = addr.address.as_deref().unwrap_or_default();
        let (mailbox, host) = address.rsplit_once('@').unwrap_or((address, ""));
        items.push(b'(');
        nstring(items, addr.name.as_deref());
        items.extend_from_slice(b" NIL ");
        string(items, mailbox);
        items.push(b' ');
        string(items, host);
        items.push(b')');
    };
    match list {
        Some(mail_parser::Address::List(list)) => {
            for addr in list {
                one(&mut items, addr);
            }
        }
        Some(mail_parser::Address::Group(groups)) => {
            for group in groups {
                match &group.name {
                    Some(name) => {
                        items.extend_from_slice(b"(NIL NIL ");
                        string(&mut items, name);
                        items.extend_from_slice(b" NIL)");
                        for addr in &group.addresses {
                            one(&mut items, addr);
                        }
                        items.extend_from_slice(b"(NIL NIL NIL NIL)");
                    }
                    None => {
                        for addr in &group.addresses {
                            one(&mut items, addr);
                        }
                    }
                }
            }
        }
        None => {}
    }
    if items.is_empty() {
        out.extend_from_slice(b"NIL");
    } else {
        out.push(b'(');
        out.extend_from_slice(&items);
        out.push(b')');
    }
}

/// `(\Seen $Forwarded)`.
pub(super) fn flag_list(out: &mut Vec<u8>, meta: &MessageMeta) {
    out.push(b'(');
    for (i, flag) in meta.flags.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(flag.as_bytes());
    }
    out.push(b')');
}

/// INTERNALDATE's form: `28-Nov-2026 10:09:35 +0000`.
fn internal_date(meta: &MessageMeta) -> String {
    meta.internal_date
        .format("%d-%b-%Y %H:%M:%S +0000")
        .to_string()
}

/// `{N}\r\n` and the bytes (RFC 9051 §4.3).
pub(super) fn literal(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
}

/// A string as a quoted string when it can be one, else as a literal.
pub(super) fn string(out: &mut Vec<u8>, text: &str) {
    if text.len() <= 1024
        && text
            .bytes()
            .all(|b| b.is_ascii() && b != b'\r' && b != b'\n' && b != 0)
    {
        out.push(b'"');
        for b in text.bytes() {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        literal(out, text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_text() {
        let raw = b"Subject: x\r\n\r\nbody\r\n";
        assert_eq!(&*select(raw, &Part::Header), b"Subject: x\r\n\r\n");
        assert_eq!(&*select(raw, &Part::Text), b"body\r\n");
        assert_eq!(&*select(b"Subject: x\r\n", &Part::Text), b"");
    }

    #[test]
    fn envelope_of_a_message() {
        let raw = b"Date: Mon, 2 Mar 2026 10:00:00 +0100\r\nFrom: Ben Berg <ben@example.test>\r\nTo: anna@example.test, \"Chef, Kanzlei\" <chef@example.test>\r\nSubject: Termin\r\n morgen\r\nMessage-ID: <1@example.test>\r\n\r\nx\r\n";
        let mut out = Vec::new();
        envelope(&mut out, raw);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "(\"Mon, 2 Mar 2026 10:00:00 +0100\" \"Termin morgen\" \
             ((\"Ben Berg\" NIL \"ben\" \"example.test\")) \
             ((\"Ben Berg\" NIL \"ben\" \"example.test\")) \
             ((\"Ben Berg\" NIL \"ben\" \"example.test\")) \
             ((NIL NIL \"anna\" \"example.test\")(\"Chef, Kanzlei\" NIL \"chef\" \"example.test\")) \
             NIL NIL NIL \"<1@example.test>\")"
        );
    }

    #[test]
    fn header_fields() {
        let raw = b"From: a@b\r\nSubject: one\r\n two\r\nTo: c@d\r\n\r\nSubject: not a header\r\n";
        let subject = Part::Fields {
            names: vec!["subject".to_owned()],
            not: false,
        };
        assert_eq!(&*select(raw, &subject), b"Subject: one\r\n two\r\n\r\n");
        let others = Part::Fields {
            names: vec!["subject".to_owned()],
            not: true,
        };
        assert_eq!(&*select(raw, &others), b"From: a@b\r\nTo: c@d\r\n\r\n");
    }

    #[test]
    fn strings_are_quoted_or_literal() {
        let mut out = Vec::new();
        string(&mut out, "a \"b\" \\c");
        assert_eq!(out, b"\"a \\\"b\\\" \\\\c\"");
        out.clear();
        string(&mut out, "Entw\u{fc}rfe");
        assert_eq!(out, "{9}\r\nEntw\u{fc}rfe".as_bytes());
    }
}
