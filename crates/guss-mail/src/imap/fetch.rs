//! FETCH: which data items a command asks for, and their rendering
//! (RFC 9051 §6.4.5, §7.5.2).

use imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName, Section};

use crate::store::MessageMeta;

/// Which bytes of a message a body item names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// All of it.
    Full,
    /// The header, with the empty line that ends it.
    Header,
    /// What follows the header.
    Text,
}

/// One data item to render.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Uid,
    Flags,
    InternalDate,
    Size,
    ModSeq,
    Body {
        /// The name in the response, without the origin (`BODY[HEADER]`).
        label: &'static str,
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
                    let (label, part) = match section {
                        None => ("BODY[]", Part::Full),
                        Some(Section::Header(None)) => ("BODY[HEADER]", Part::Header),
                        Some(Section::Text(None)) => ("BODY[TEXT]", Part::Text),
                        Some(_) => {
                            return Err(
                                "body sections other than HEADER and TEXT are not served yet"
                                    .to_owned(),
                            );
                        }
                    };
                    if !peek {
                        plan.sets_seen = true;
                    }
                    body(
                        label,
                        part,
                        partial.map(|(offset, length)| (offset, length.get())),
                    )
                }
                other => return Err(format!("{other:?} is not served yet")),
            };
            if matches!(item, Item::Body { .. }) {
                plan.needs_body = true;
            }
            if !plan.items.contains(&item) {
                plan.items.push(item);
            }
        }
        Ok(plan)
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
                Item::Body {
                    label,
                    part,
                    partial,
                } => {
                    out.extend_from_slice(label.as_bytes());
                    let bytes = select(raw, *part);
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

fn body(label: &'static str, part: Part, partial: Option<(u32, u32)>) -> Item {
    Item::Body {
        label,
        part,
        partial,
    }
}

/// The bytes of `part` of a message.
fn select(raw: &[u8], part: Part) -> &[u8] {
    if part == Part::Full {
        return raw;
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
        Part::Header => header,
        _ => text,
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
        assert_eq!(select(raw, Part::Header), b"Subject: x\r\n\r\n");
        assert_eq!(select(raw, Part::Text), b"body\r\n");
        assert_eq!(select(b"Subject: x\r\n", Part::Text), b"");
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
