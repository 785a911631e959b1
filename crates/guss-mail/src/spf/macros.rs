//! Macro strings (RFC 7208 §7): their syntax, and their expansion.
//!
//! A macro string is parsed once, with the record, so that a syntax error
//! anywhere in the record is a `permerror` before anything is evaluated
//! (RFC 7208 §4.6). Expansion is pure: the one macro that needs DNS, `%{p}`,
//! is resolved by the evaluator beforehand and handed in through
//! [`MacroEnv::validated`].

use std::fmt::Write as _;
use std::net::IpAddr;

use super::record::SyntaxError;

/// The most an expansion may grow to, in bytes. A domain name is cut to 253
/// octets after expansion anyway (RFC 7208 §7.3); this bounds the work a
/// hostile record can cause with many macros over a long sender.
const MAX_EXPANSION: usize = 8 * 1024;

/// Where a macro string stands, which decides the macro letters it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// A `domain-spec`: the letters `c`, `r` and `t` are for explanations
    /// only (RFC 7208 §7.2).
    Domain,
    /// The value of an unknown modifier: any macro letter of the grammar.
    Modifier,
    /// The text of an explanation (`explain-string`): spaces allowed, and
    /// every macro letter.
    Explanation,
}

/// A parsed macro string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MacroString {
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Literal text, kept as written.
    Literal(String),
    /// `%%`, `%_` or `%-`: a macro-expand of the grammar that stands for
    /// fixed text.
    Escape(&'static str),
    /// `%{…}`.
    Macro(Macro),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Macro {
    letter: Letter,
    /// An upper-case letter: the expansion is URL-escaped (RFC 7208 §7.3).
    escape: bool,
    /// Keep this many right-hand parts (nonzero).
    keep: Option<usize>,
    reverse: bool,
    /// The characters to split on; `.` when none are given.
    delimiters: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Letter {
    Sender,
    Local,
    SenderDomain,
    Domain,
    Ip,
    Validated,
    Version,
    Helo,
    ClientIp,
    Receiver,
    Timestamp,
}

impl Letter {
    fn from_ascii(c: u8) -> Option<Letter> {
        Some(match c.to_ascii_lowercase() {
            b's' => Letter::Sender,
            b'l' => Letter::Local,
            b'o' => Letter::SenderDomain,
            b'd' => Letter::Domain,
            b'i' => Letter::Ip,
            b'p' => Letter::Validated,
            b'v' => Letter::Version,
            b'h' => Letter::Helo,
            b'c' => Letter::ClientIp,
            b'r' => Letter::Receiver,
            b't' => Letter::Timestamp,
            _ => return None,
        })
    }

    /// RFC 7208 §7.2: `c`, `r` and `t` only in explanation text.
    fn explanation_only(self) -> bool {
        matches!(
            self,
            Letter::ClientIp | Letter::Receiver | Letter::Timestamp
        )
    }
}

/// What macros expand to (RFC 7208 §7.2).
#[derive(Debug, Clone)]
pub(crate) struct MacroEnv<'a> {
    /// `s`: the identity checked, `local-part@domain`.
    pub(crate) sender: &'a str,
    /// `l`.
    pub(crate) local: &'a str,
    /// `o`.
    pub(crate) sender_domain: &'a str,
    /// `d`: the domain whose record is being evaluated.
    pub(crate) domain: &'a str,
    /// `i`, `c`, `v`: the client's address, IPv4-mapped addresses already
    /// made IPv4.
    pub(crate) ip: IpAddr,
    /// `p`: the validated domain name of the client, when one was found.
    pub(crate) validated: Option<&'a str>,
    /// `h`.
    pub(crate) helo: &'a str,
    /// `r`: this host's name.
    pub(crate) receiver: &'a str,
    /// `t`: seconds since the epoch.
    pub(crate) timestamp: u64,
}

impl MacroString {
    /// Parses `text` as a macro string for `context`.
    pub(crate) fn parse(text: &str, context: Context) -> Result<MacroString, SyntaxError> {
        let bytes = text.as_bytes();
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut at = 0usize;
        while let Some(&byte) = bytes.get(at) {
            if byte != b'%' {
                let allowed = matches!(byte, 0x21..=0x7e)
                    || (byte == b' ' && context == Context::Explanation);
                if !allowed {
                    return Err(SyntaxError::new(format!(
                        "character 0x{byte:02x} is not allowed in a macro string"
                    )));
                }
                literal.push(char::from(byte));
                at += 1;
                continue;
            }
            let escape = match bytes.get(at + 1) {
                Some(b'%') => Some("%"),
                Some(b'_') => Some(" "),
                Some(b'-') => Some("%20"),
                Some(b'{') => None,
                _ => return Err(SyntaxError::new("'%' not followed by '{', '%', '_' or '-'")),
            };
            if !literal.is_empty() {
                tokens.push(Token::Literal(std::mem::take(&mut literal)));
            }
            if let Some(escape) = escape {
                tokens.push(Token::Escape(escape));
                at += 2;
                continue;
            }
            let (parsed, next) = parse_macro(bytes, at + 2, context)?;
            tokens.push(Token::Macro(parsed));
            at = next;
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(MacroString { tokens })
    }

    /// Parses a `domain-spec` (RFC 7208 §7.1): a macro string that ends in
    /// a macro or in `.` and a top label (not all digits), with an optional
    /// trailing dot.
    pub(crate) fn domain_spec(text: &str) -> Result<MacroString, SyntaxError> {
        let spec = MacroString::parse(text, Context::Domain)?;
        match spec.tokens.last() {
            None => Err(SyntaxError::new("empty domain-spec")),
            Some(Token::Macro(_) | Token::Escape(_)) => Ok(spec),
            Some(Token::Literal(tail)) => {
                let tail = tail.strip_suffix('.').unwrap_or(tail);
                match tail.rsplit_once('.') {
                    Some((_, top)) if is_toplabel(top) => Ok(spec),
                    _ => Err(SyntaxError::new(format!(
                        "domain-spec {text:?} does not end in a valid top label"
                    ))),
                }
            }
        }
    }

    /// Parses the text of an explanation (RFC 7208 §6.2).
    pub(crate) fn explanation(text: &str) -> Result<MacroString, SyntaxError> {
        MacroString::parse(text, Context::Explanation)
    }

    /// Whether expanding needs the validated domain name (`%{p}`).
    pub(crate) fn uses_validated(&self) -> bool {
        self.tokens
            .iter()
            .any(|t| matches!(t, Token::Macro(m) if m.letter == Letter::Validated))
    }

    /// Expands the string, or `None` when the result would grow past a sane
    /// size.
    pub(crate) fn expand(&self, env: &MacroEnv<'_>) -> Option<String> {
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(text) => out.push_str(text),
                Token::Escape(text) => out.push_str(text),
                Token::Macro(m) => m.expand_into(env, &mut out),
            }
            if out.len() > MAX_EXPANSION {
                return None;
            }
        }
        Some(out)
    }
}

/// Parses the inside of `%{…}` from `at` (just after the brace); returns
/// the macro and the index after the closing brace.
fn parse_macro(bytes: &[u8], at: usize, context: Context) -> Result<(Macro, usize), SyntaxError> {
    let mut at = at;
    let first = bytes
        .get(at)
        .copied()
        .ok_or_else(|| SyntaxError::new("unterminated macro"))?;
    let letter = Letter::from_ascii(first)
        .ok_or_else(|| SyntaxError::new(format!("unknown macro letter {:?}", char::from(first))))?;
    if letter.explanation_only() && context == Context::Domain {
        return Err(SyntaxError::new(format!(
            "macro letter {:?} is allowed in explanations only",
            char::from(first)
        )));
    }
    at += 1;
    let mut keep: Option<usize> = None;
    while let Some(digit) = bytes.get(at).filter(|b| b.is_ascii_digit()) {
        let value = keep.unwrap_or(0);
        keep = Some(
            value
                .saturating_mul(10)
                .saturating_add(usize::from(digit - b'0')),
        );
        at += 1;
    }
    if keep == Some(0) {
        // RFC 7208 §7.3: if a DIGIT is specified, the value MUST be nonzero.
        return Err(SyntaxError::new("macro keeps zero parts"));
    }
    let mut reverse = false;
    if matches!(bytes.get(at), Some(b'r' | b'R')) {
        reverse = true;
        at += 1;
    }
    let mut delimiters = Vec::new();
    loop {
        match bytes.get(at) {
            Some(b'}') => break,
            Some(&d @ (b'.' | b'-' | b'+' | b',' | b'/' | b'_' | b'=')) => {
                if !delimiters.contains(&d) {
                    delimiters.push(d);
                }
                at += 1;
            }
            Some(&other) => {
                return Err(SyntaxError::new(format!(
                    "character {:?} is not a macro delimiter",
                    char::from(other)
                )));
            }
            None => return Err(SyntaxError::new("unterminated macro")),
        }
    }
    let parsed = Macro {
        letter,
        escape: first.is_ascii_uppercase(),
        keep,
        reverse,
        delimiters,
    };
    Ok((parsed, at + 1))
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) /
/// ( 1*alphanum "-" *( alphanum / "-" ) alphanum )` (RFC 7208 §7.1).
fn is_toplabel(label: &str) -> bool {
    let bytes = label.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if bytes.iter().all(u8::is_ascii_alphanumeric) {
        return bytes.iter().any(u8::is_ascii_alphabetic);
    }
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

impl Macro {
    fn expand_into(&self, env: &MacroEnv<'_>, out: &mut String) {
        let value = match self.letter {
            Letter::Sender => env.sender.to_owned(),
            Letter::Local => env.local.to_owned(),
            Letter::SenderDomain => env.sender_domain.to_owned(),
            Letter::Domain => env.domain.to_owned(),
            Letter::Ip => dotted_ip(env.ip),
            Letter::Validated => env.validated.unwrap_or("unknown").to_owned(),
            Letter::Version => match env.ip {
                IpAddr::V4(_) => "in-addr".to_owned(),
                IpAddr::V6(_) => "ip6".to_owned(),
            },
            Letter::Helo => env.helo.to_owned(),
            Letter::ClientIp => env.ip.to_string(),
            Letter::Receiver if env.receiver.is_empty() => "unknown".to_owned(),
            Letter::Receiver => env.receiver.to_owned(),
            Letter::Timestamp => env.timestamp.to_string(),
        };
        let value = self.transform(value);
        if self.escape {
            url_escape_into(&value, out);
        } else {
            out.push_str(&value);
        }
    }

    /// RFC 7208 §7.3: split on the delimiters, optionally reverse, keep the
    /// right-hand parts, and join with dots.
    fn transform(&self, value: String) -> String {
        let plain = self.keep.is_none()
            && !self.reverse
            && (self.delimiters.is_empty() || self.delimiters == b".");
        if plain {
            return value;
        }
        let delimiters: &[u8] = if self.delimiters.is_empty() {
            b"."
        } else {
            &self.delimiters
        };
        let mut parts: Vec<&str> = value
            .split(|c: char| u8::try_from(c).is_ok_and(|b| delimiters.contains(&b)))
            .collect();
        if self.reverse {
            parts.reverse();
        }
        let skip = self.keep.map_or(0, |keep| parts.len().saturating_sub(keep));
        parts.get(skip..).unwrap_or_default().join(".")
    }
}

/// `%{i}`: dotted quad for IPv4; for IPv6 the 32 nibbles, dot-separated,
/// upper-case (RFC 7208 §7.3, and as the RFC 7208 test suite expects).
fn dotted_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(63);
            for byte in v6.octets() {
                for nibble in [byte >> 4, byte & 0x0f] {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    let _ = write!(out, "{nibble:X}");
                }
            }
            out
        }
    }
}

/// Upper-case macro letters URL-escape their expansion: every byte outside
/// `unreserved` (RFC 3986) becomes `%XX`.
fn url_escape_into(value: &str, out: &mut String) {
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(ip: &str) -> MacroEnv<'static> {
        MacroEnv {
            sender: "strong-bad@email.example.com",
            local: "strong-bad",
            sender_domain: "email.example.com",
            domain: "email.example.com",
            ip: ip.parse().unwrap(),
            validated: None,
            helo: "mx.example.org",
            receiver: "receiver.example",
            timestamp: 1_700_000_000,
        }
    }

    fn expand(text: &str, ip: &str) -> String {
        MacroString::parse(text, Context::Explanation)
            .unwrap()
            .expand(&env(ip))
            .unwrap()
    }

    /// The examples of RFC 7208 §7.4.
    #[test]
    fn rfc_examples_expand() {
        let v4 = "192.0.2.3";
        for (text, expected) in [
            ("%{s}", "strong-bad@email.example.com"),
            ("%{o}", "email.example.com"),
            ("%{d}", "email.example.com"),
            ("%{d4}", "email.example.com"),
            ("%{d3}", "email.example.com"),
            ("%{d2}", "example.com"),
            ("%{d1}", "com"),
            ("%{dr}", "com.example.email"),
            ("%{d2r}", "example.email"),
            ("%{l}", "strong-bad"),
            ("%{l-}", "strong.bad"),
            ("%{lr}", "strong-bad"),
            ("%{lr-}", "bad.strong"),
            ("%{l1r-}", "strong"),
            (
                "%{ir}.%{v}._spf.%{d2}",
                "3.2.0.192.in-addr._spf.example.com",
            ),
            ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
            (
                "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
                "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
            ),
            (
                "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
                "3.2.0.192.in-addr.strong.lp._spf.example.com",
            ),
            (
                "%{d2}.trusted-domains.example.net",
                "example.com.trusted-domains.example.net",
            ),
        ] {
            assert_eq!(expand(text, v4), expected, "{text}");
        }
        assert_eq!(
            expand("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01"),
            "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com"
        );
    }

    #[test]
    fn escapes_and_explanation_letters_expand() {
        assert_eq!(expand("%%%_%-", "192.0.2.3"), "% %20");
        assert_eq!(
            expand("%{c} %{r} %{t} %{p} %{h}", "2001:db8::1"),
            "2001:db8::1 receiver.example 1700000000 unknown mx.example.org"
        );
        assert_eq!(
            expand("%{S}", "192.0.2.3"),
            "strong-bad%40email.example.com"
        );
        let mut e = env("192.0.2.3");
        e.local = "~jack&jill=up-a_b3.c";
        let text = MacroString::explanation("l=%{L}")
            .unwrap()
            .expand(&e)
            .unwrap();
        assert_eq!(text, "l=~jack%26jill%3Dup-a_b3.c");
        e.validated = Some("mx.example.com");
        let text = MacroString::explanation("%{p}")
            .unwrap()
            .expand(&e)
            .unwrap();
        assert_eq!(text, "mx.example.com");
    }

    #[test]
    fn several_delimiters_split() {
        let mut e = env("192.0.2.3");
        e.local = "foo-bar+zip+quux";
        let spec = MacroString::domain_spec("%{l2r+-}.user.%{d2}").unwrap();
        assert_eq!(spec.expand(&e).unwrap(), "bar.foo.user.example.com");
        // Huge digit counts keep everything.
        let spec = MacroString::domain_spec("%{d99999999999999999999999}").unwrap();
        assert_eq!(spec.expand(&e).unwrap(), "email.example.com");
    }

    #[test]
    fn syntax_errors_are_found() {
        for bad in [
            "%", "%a", "%{", "%{d", "%{x}", "%{d0}", "%{d2r+x}", "%(ir)", "foo%.bar", "a b",
            "\u{e9}", "%{dr2}",
        ] {
            assert!(
                MacroString::parse(bad, Context::Modifier).is_err(),
                "{bad:?} should not parse"
            );
        }
        assert!(MacroString::parse("%{c}", Context::Modifier).is_ok());
        assert!(MacroString::parse("%{c}", Context::Domain).is_err());
        assert!(MacroString::parse("a b", Context::Explanation).is_ok());
        assert!(MacroString::parse("a\tb", Context::Explanation).is_err());
    }

    #[test]
    fn domain_specs_need_a_top_label_or_a_macro() {
        for good in [
            "example.com",
            "example.com.",
            "foo:bar/baz.example.com",
            "foo.example.xn--zckzah",
            "%{d}",
            "%{H}",
            "%{d}.d.spf.example.com.",
            "macro%%percent%_%_space%-url-space.example.com",
            ".com",
            "a.123-456",
        ] {
            assert!(MacroString::domain_spec(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "museum",
            "museum.",
            "foo-bar",
            "111.222.33.44",
            "abc.123",
            "example.-com",
            "example.com-",
            "example.com:8080",
            "example.com/24",
            "%{d}.",
            "%{d}com",
            "foo.example.com\0",
            "%{r}.example.com",
        ] {
            assert!(MacroString::domain_spec(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn expansion_is_bounded() {
        let mut e = env("192.0.2.3");
        let long = "x".repeat(4000);
        e.local = &long;
        let spec = MacroString::domain_spec("%{L}%{L}%{L}.example.com").unwrap();
        assert_eq!(spec.expand(&e), None);
    }
}
