//! BODYSTRUCTURE and BODY (RFC 9051 §7.5.2): a message's MIME tree as
//! mail-parser sees it.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use super::fetch::{envelope, string};

/// Deepest MIME nesting described; deeper parts are shown as plain text.
const MAX_DEPTH: usize = 32;

/// A part that cannot be described otherwise: empty plain text.
const EMPTY_TEXT: &[u8] = b"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)";

/// The body structure of `raw`; `extended` adds the extension data of
/// BODYSTRUCTURE (MD5, disposition, language, location).
pub(super) fn structure(out: &mut Vec<u8>, raw: &[u8], extended: bool) {
    match MessageParser::default().parse(raw) {
        Some(message) => part(out, &message, 0, extended, 0),
        None => out.extend_from_slice(EMPTY_TEXT),
    }
}

fn nstring(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => string(out, text),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// `("NAME" "value" …)` or NIL.
fn parameters(out: &mut Vec<u8>, attributes: Option<&[mail_parser::Attribute<'_>]>) {
    match attributes {
        Some(attributes) if !attributes.is_empty() => {
            out.push(b'(');
            for (i, a) in attributes.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                string(out, &a.name.to_ascii_uppercase());
                out.push(b' ');
                string(out, &a.value);
            }
            out.push(b')');
        }
        _ => out.extend_from_slice(b"NIL"),
    }
}

/// Disposition, language and location (body-ext-mpart / body-ext-1part
/// after MD5 or the parameters).
fn extension(out: &mut Vec<u8>, part: &mail_parser::MessagePart<'_>) {
    out.push(b' ');
    match part.content_disposition() {
        Some(disposition) => {
            out.push(b'(');
            string(out, &disposition.ctype().to_ascii_uppercase());
            out.push(b' ');
            parameters(out, disposition.attributes());
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.extend_from_slice(b" NIL ");
    nstring(out, part.content_location());
}

fn part(out: &mut Vec<u8>, message: &Message<'_>, id: usize, extended: bool, depth: usize) {
    let Some(p) = message.parts.get(id) else {
        out.extend_from_slice(EMPTY_TEXT);
        return;
    };
    let raw: &[u8] = &message.raw_message;
    let content_type = p.content_type();
    let kind = content_type
        .map(|c| c.ctype().to_ascii_uppercase())
        .unwrap_or_else(|| "TEXT".to_owned());
    let subtype = content_type
        .and_then(|c| c.subtype())
        .map(str::to_ascii_uppercase)
        .unwrap_or_else(|| {
            if kind == "TEXT" {
                "PLAIN".to_owned()
            } else {
                "OCTET-STREAM".to_owned()
            }
        });
    let attributes = content_type.and_then(|c| c.attributes());
    if let PartType::Multipart(children) = &p.body {
        if depth >= MAX_DEPTH || children.is_empty() {
            out.extend_from_slice(EMPTY_TEXT);
            return;
        }
        out.push(b'(');
        for child in children {
            part(out, message, *child as usize, extended, depth + 1);
        }
        out.push(b' ');
        string(out, &subtype);
        if extended {
            out.push(b' ');
            parameters(out, attributes);
            extension(out, p);
        }
        out.push(b')');
        return;
    }
    let start = usize::try_from(p.offset_body).unwrap_or(usize::MAX);
    let end = usize::try_from(p.offset_end).unwrap_or(usize::MAX);
    let body = raw.get(start..end).unwrap_or_default();
    let lines = body.iter().filter(|&&b| b == b'\n').count();
    out.push(b'(');
    string(out, &kind);
    out.push(b' ');
    string(out, &subtype);
    out.push(b' ');
    if kind == "TEXT" && attributes.is_none_or(|a| a.is_empty()) {
        // RFC 2045 §5.2: text without a charset is US-ASCII.
        out.extend_from_slice(b"(\"CHARSET\" \"US-ASCII\")");
    } else {
        parameters(out, attributes);
    }
    out.push(b' ');
    nstring(out, p.content_id());
    out.push(b' ');
    nstring(out, p.content_description());
    out.push(b' ');
    let encoding = p
        .content_transfer_encoding()
        .map(str::to_ascii_uppercase)
        .unwrap_or_else(|| "7BIT".to_owned());
    string(out, &encoding);
    out.extend_from_slice(format!(" {}", body.len()).as_bytes());
    match &p.body {
        PartType::Message(inner) if kind == "MESSAGE" && depth < MAX_DEPTH => {
            out.push(b' ');
            envelope(out, &inner.raw_message);
            out.push(b' ');
            part(out, inner, 0, extended, depth + 1);
            out.extend_from_slice(format!(" {lines}").as_bytes());
        }
        _ if kind == "TEXT" => out.extend_from_slice(format!(" {lines}").as_bytes()),
        _ => {}
    }
    if extended {
        out.extend_from_slice(b" NIL");
        extension(out, p);
    }
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(raw: &[u8], extended: bool) -> String {
        let mut out = Vec::new();
        structure(&mut out, raw, extended);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plain_text() {
        assert_eq!(
            of(b"Subject: x\r\n\r\nHallo\r\nWelt\r\n", false),
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 13 2)"
        );
    }

    #[test]
    fn multipart_with_an_attachment() {
        let raw = b"Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHallo\r\n\
--b\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\n\r\nJVBERg==\r\n\
--b--\r\n";
        let text = of(raw, true);
        assert!(
            text.starts_with("((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" "),
            "{text}"
        );
        assert!(
            text.contains("(\"APPLICATION\" \"PDF\" (\"NAME\" \"a.pdf\") NIL NIL \"BASE64\" "),
            "{text}"
        );
        assert!(
            text.contains("(\"ATTACHMENT\" (\"FILENAME\" \"a.pdf\"))"),
            "{text}"
        );
        assert!(
            text.contains(") \"MIXED\" (\"BOUNDARY\" \"b\") NIL NIL NIL)"),
            "{text}"
        );
        let plain = of(raw, false);
        assert!(plain.ends_with(" \"MIXED\")"), "{plain}");
    }
}
