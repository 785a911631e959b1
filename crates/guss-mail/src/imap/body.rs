//! BODYSTRUCTURE and BODY (RFC 9051 §7.5.2): a message's MIME tree as
//! mail-parser sees it.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use super::fetch::{Part, envelope, nstring, select, string};

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
    // The parser drops the angle brackets; the field has them (RFC 2045
    // §7), and clients compare `cid:` links with what they get here.
    let id = p.content_id().map(|id| format!("<{id}>"));
    nstring(out, id.as_deref());
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
            envelope(out, inner.raw_message());
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

/// The bytes of body part `path` (`[1, 2]` for `1.2`), or of its
/// `HEADER`, `TEXT`, `HEADER.FIELDS` (when it is a message/rfc822 part) or
/// `MIME`; `None` when there is no such part (RFC 9051 §6.4.5).
pub(super) fn section(raw: &[u8], path: &[u32], part: &Part) -> Option<Vec<u8>> {
    let message = MessageParser::default().parse(raw)?;
    locate(&message, 0, path, part, 0)
}

fn locate(
    message: &Message<'_>,
    id: usize,
    path: &[u32],
    part: &Part,
    depth: usize,
) -> Option<Vec<u8>> {
    let (message, id) = part_at(message, id, path, depth)?;
    let p = message.parts.get(id)?;
    let raw: &[u8] = &message.raw_message;
    let offset = |o: u32| usize::try_from(o).ok();
    let (header, body, end) = (
        offset(p.offset_header)?,
        offset(p.offset_body)?,
        offset(p.offset_end)?,
    );
    match (part, &p.body) {
        (Part::Full, _) => raw.get(body..end).map(<[u8]>::to_vec),
        (Part::Mime, _) => raw.get(header..body).map(<[u8]>::to_vec),
        (_, PartType::Message(inner)) => Some(select(inner.raw_message(), part).into_owned()),
        _ => None,
    }
}

/// The message and part id that `path` names.
fn part_at<'a, 'x>(
    message: &'a Message<'x>,
    id: usize,
    path: &[u32],
    depth: usize,
) -> Option<(&'a Message<'x>, usize)> {
    if depth > MAX_DEPTH {
        return None;
    }
    let p = message.parts.get(id)?;
    let Some((&n, rest)) = path.split_first() else {
        return Some((message, id));
    };
    match &p.body {
        PartType::Multipart(children) => {
            let index = usize::try_from(n).ok()?.checked_sub(1)?;
            let child = usize::try_from(*children.get(index)?).ok()?;
            part_at(message, child, rest, depth + 1)
        }
        // The parts of an attached message are numbered inside it.
        PartType::Message(inner) if id != 0 => part_at(inner, 0, path, depth + 1),
        // A message that is not multipart has one part: its body.
        body if id == 0 && n == 1 => match (rest.is_empty(), body) {
            (true, _) => Some((message, 0)),
            (false, PartType::Message(inner)) => part_at(inner, 0, rest, depth + 1),
            (false, _) => None,
        },
        _ => None,
    }
}

/// BINARY (RFC 3516): body part `path` with its content transfer encoding
/// (base64, quoted-printable) undone; the charset is left as it is.
pub(super) fn binary(raw: &[u8], path: &[u32]) -> Option<Vec<u8>> {
    if path.is_empty() {
        return Some(raw.to_vec());
    }
    let message = MessageParser::default().parse(raw)?;
    let (message, id) = part_at(&message, 0, path, 0)?;
    let p = message.parts.get(id)?;
    if matches!(p.body, PartType::Multipart(_)) {
        return None;
    }
    let start = usize::try_from(p.offset_body).ok()?;
    let end = usize::try_from(p.offset_end).ok()?;
    let body = message.raw_message.get(start..end)?;
    let encoding = p
        .content_transfer_encoding()
        .unwrap_or("7bit")
        .to_ascii_lowercase();
    Some(match encoding.as_str() {
        "base64" => {
            use base64::Engine as _;
            let text: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(&text)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&text))
                .ok()?
        }
        "quoted-printable" => quoted_printable(body),
        _ => body.to_vec(),
    })
}

/// Undoes quoted-printable (RFC 2045 §6.7): `=XX` and soft line breaks.
fn quoted_printable(text: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        match (text.get(i + 1), text.get(i + 2)) {
            (Some(b'\r'), Some(b'\n')) => i += 3,
            (Some(b'\n'), _) => i += 2,
            (Some(&h), Some(&l)) => match (hex(h), hex(l)) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                }
                _ => {
                    out.push(b);
                    i += 1;
                }
            },
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(raw: &[u8], extended: bool) -> String {
        let mut out = Vec::new();
        structure(&mut out, raw, extended);
        String::from_utf8(out).unwrap()
    }

    const MIXED: &[u8] =
        b"Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nHallo\r\n\
--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nInnen\r\n\
--b--\r\n";

    #[test]
    fn sections_by_part_number() {
        let text = |path: &[u32], part: Part| {
            section(MIXED, path, &part).map(|b| String::from_utf8(b).unwrap())
        };
        assert_eq!(text(&[1], Part::Full).as_deref(), Some("Hallo"));
        assert_eq!(
            text(&[1], Part::Mime).as_deref(),
            Some("Content-Type: text/plain\r\n\r\n")
        );
        assert_eq!(text(&[2, 1], Part::Full).as_deref(), Some("Innen"));
        assert_eq!(
            text(&[2], Part::Header).as_deref(),
            Some("Subject: inner\r\n\r\n")
        );
        assert_eq!(text(&[3], Part::Full), None);
        let single = b"Subject: x\r\n\r\nHallo\r\n";
        assert_eq!(
            section(single, &[1], &Part::Full).as_deref(),
            Some(&b"Hallo\r\n"[..])
        );
        assert_eq!(section(single, &[2], &Part::Full), None);
    }

    #[test]
    fn binary_undoes_the_transfer_encoding() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=\r\nsse\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n/w==\r\n\
--b--\r\n";
        assert_eq!(binary(raw, &[1]).unwrap(), "Gr\u{fc}sse".as_bytes());
        assert_eq!(binary(raw, &[2]).unwrap(), [0, 1, 2, 255]);
        assert_eq!(binary(raw, &[3]), None);
    }

    #[test]
    fn an_attached_message() {
        let text = of(MIXED, false);
        assert!(
            text.contains("(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 23 (NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\""),
            "{text}"
        );
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

    #[test]
    fn content_ids_keep_their_angle_brackets() {
        let raw = b"Content-Type: image/png\r\nContent-ID: <logo@kanzlei>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0K\r\n";
        let body = of(raw, false);
        assert!(body.contains("\"<logo@kanzlei>\""), "{body}");
    }
}
