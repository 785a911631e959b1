//! Modified UTF-7 (RFC 3501 §5.1.3): how IMAP4rev1 clients spell mailbox
//! names outside ASCII (`Entwürfe` is `Entw&APw-rfe`). IMAP4rev2 clients
//! use UTF-8 instead (RFC 9051 §5.1).

use base64::Engine as _;
use base64::alphabet::Alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Base64 with `,` for `/`, without padding.
fn engine() -> GeneralPurpose {
    // The alphabet is a constant of 64 distinct printable characters.
    #[allow(clippy::expect_used)]
    let alphabet =
        Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")
            .expect("a valid alphabet");
    GeneralPurpose::new(
        &alphabet,
        GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_padding_mode(DecodePaddingMode::RequireNone),
    )
}

/// `name` in modified UTF-7.
pub(super) fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut wide: Vec<u16> = Vec::new();
    let flush = |wide: &mut Vec<u16>, out: &mut String| {
        if !wide.is_empty() {
            let bytes: Vec<u8> = wide.iter().flat_map(|u| u.to_be_bytes()).collect();
            out.push('&');
            out.push_str(&engine().encode(bytes));
            out.push('-');
            wide.clear();
        }
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut wide, &mut out);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            let mut units = [0u16; 2];
            wide.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut wide, &mut out);
    out
}

/// The name spelled in modified UTF-7; `None` if it is not well formed
/// or not spelled the one way [`encode`] spells it (`&AC8-` for `/` would
/// otherwise be a second name for the same mailbox).
pub(super) fn decode(name: &str) -> Option<String> {
    let decoded = decode_any(name)?;
    (encode(&decoded) == name).then_some(decoded)
}

fn decode_any(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(start) = rest.find('&') {
        let (plain, shifted) = rest.split_at(start);
        if !plain.chars().all(|c| (' '..='~').contains(&c)) {
            return None;
        }
        out.push_str(plain);
        let shifted = shifted.get(1..)?;
        let end = shifted.find('-')?;
        let encoded = shifted.get(..end)?;
        if encoded.is_empty() {
            out.push('&');
        } else {
            let bytes = engine().decode(encoded).ok()?;
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units = bytes
                .chunks_exact(2)
                .filter_map(|pair| <[u8; 2]>::try_from(pair).ok())
                .map(u16::from_be_bytes);
            for c in char::decode_utf16(units) {
                out.push(c.ok()?);
            }
        }
        rest = shifted.get(end + 1..)?;
    }
    if !rest.chars().all(|c| (' '..='~').contains(&c)) {
        return None;
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_of_rfc_3501() {
        assert_eq!(
            encode("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(
            decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-").as_deref(),
            Some("~peter/mail/台北/日本語")
        );
        assert_eq!(encode("Entwürfe & Co"), "Entw&APw-rfe &- Co");
        assert_eq!(
            decode("Entw&APw-rfe &- Co").as_deref(),
            Some("Entwürfe & Co")
        );
        assert_eq!(encode("Akten 😀"), "Akten &2D3eAA-");
        assert_eq!(decode("Akten &2D3eAA-").as_deref(), Some("Akten 😀"));
    }

    #[test]
    fn malformed_names_are_refused() {
        for bad in [
            "&",
            "&Jjo",
            "&Jjo!-",
            "Entwürfe",
            "&AP-",
            "&2D0-",
            "&AC8-",
            "INB&AE8-X",
            "&AGE-",
        ] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trips() {
        for name in [
            "INBOX",
            "Ablage/2026",
            "Gesendete Objekte",
            "Ünterlagen/Ärzte & Co",
            "a&b",
        ] {
            assert_eq!(decode(&encode(name)).as_deref(), Some(name));
        }
    }
}
