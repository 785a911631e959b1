//! SPF records: selecting the `v=spf1` record (RFC 7208 §4.5) and parsing
//! it by the grammar of RFC 7208 §12.
//!
//! The whole record is parsed before anything is evaluated, so a syntax
//! error anywhere is a `permerror` (RFC 7208 §4.6).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::macros::{Context, MacroString};

/// Records longer than this are refused as a permanent error. One TXT
/// record can carry 64 KiB; SPF records in the wild stay well under 1 KiB
/// (RFC 7208 §3.4 asks publishers to fit a UDP answer of 512 octets).
const MAX_RECORD_LEN: usize = 4096;
/// Records with more terms than this are refused as a permanent error.
/// Only ten of them may query DNS (RFC 7208 §4.6.4); the others are
/// `all`, `ip4`, `ip6` and modifiers.
const MAX_TERMS: usize = 512;

/// Why a record does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError(String);

impl SyntaxError {
    pub(crate) fn new(reason: impl Into<String>) -> SyntaxError {
        SyntaxError(reason.into())
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed `v=spf1` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// The mechanisms, in order.
    pub(crate) directives: Vec<Directive>,
    /// `redirect=`.
    pub(crate) redirect: Option<MacroString>,
    /// `exp=`.
    pub(crate) explanation: Option<MacroString>,
}

impl Record {
    /// RFC 7208 §6.1: a `redirect` is ignored when the record has an `all`
    /// mechanism anywhere.
    pub(crate) fn has_all(&self) -> bool {
        self.directives
            .iter()
            .any(|d| d.mechanism == Mechanism::All)
    }
}

/// A qualifier and a mechanism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directive {
    /// What a match means.
    pub(crate) qualifier: Qualifier,
    /// What to match.
    pub(crate) mechanism: Mechanism,
}

/// RFC 7208 §4.6.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Qualifier {
    /// `+`, the default.
    Pass,
    /// `-`.
    Fail,
    /// `~`.
    SoftFail,
    /// `?`.
    Neutral,
}

/// RFC 7208 §5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mechanism {
    /// `all`.
    All,
    /// `include:<domain-spec>`.
    Include(MacroString),
    /// `a[:<domain-spec>][/<cidr4>][//<cidr6>]`.
    A {
        /// The target; the current domain when absent.
        domain: Option<MacroString>,
        /// IPv4 prefix length, 32 when absent.
        cidr4: u8,
        /// IPv6 prefix length, 128 when absent.
        cidr6: u8,
    },
    /// `mx[:<domain-spec>][/<cidr4>][//<cidr6>]`.
    Mx {
        /// The target; the current domain when absent.
        domain: Option<MacroString>,
        /// IPv4 prefix length, 32 when absent.
        cidr4: u8,
        /// IPv6 prefix length, 128 when absent.
        cidr6: u8,
    },
    /// `ptr[:<domain-spec>]`.
    Ptr(Option<MacroString>),
    /// `ip4:<network>[/<cidr>]`.
    Ip4(Ipv4Addr, u8),
    /// `ip6:<network>[/<cidr>]`.
    Ip6(Ipv6Addr, u8),
    /// `exists:<domain-spec>`.
    Exists(MacroString),
}

impl Mechanism {
    /// RFC 7208 §4.6.4: the mechanisms that count against the limit of ten
    /// DNS-querying terms.
    pub(crate) fn queries_dns(&self) -> bool {
        matches!(
            self,
            Mechanism::Include(_)
                | Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr(_)
                | Mechanism::Exists(_)
        )
    }
}

/// RFC 7208 §4.5: a record is an SPF record when it begins with `v=spf1`
/// (any case) followed by a space or the end.
pub(crate) fn is_spf_record(text: &[u8]) -> bool {
    text.get(..6)
        .is_some_and(|version| version.eq_ignore_ascii_case(b"v=spf1"))
        && matches!(text.get(6), None | Some(b' '))
}

/// Parses a record that [`is_spf_record`] selected.
pub(crate) fn parse(text: &[u8]) -> Result<Record, SyntaxError> {
    if text.len() > MAX_RECORD_LEN {
        return Err(SyntaxError::new(format!(
            "record of {} octets, longer than {MAX_RECORD_LEN}",
            text.len()
        )));
    }
    // Terms are visible ASCII separated by spaces (RFC 7208 §3.1, §12):
    // any other octet is an error wherever it stands.
    if let Some(bad) = text.iter().find(|b| !matches!(b, 0x20..=0x7e)) {
        return Err(SyntaxError::new(format!(
            "octet 0x{bad:02x} in the record; only printable ASCII is allowed"
        )));
    }
    let text = std::str::from_utf8(text).map_err(|_| SyntaxError::new("record is not ASCII"))?;
    let Some(terms) = text
        .get(..6)
        .filter(|v| v.eq_ignore_ascii_case("v=spf1"))
        .and_then(|_| text.get(6..))
    else {
        return Err(SyntaxError::new("record does not begin with v=spf1"));
    };
    if !terms.is_empty() && !terms.starts_with(' ') {
        return Err(SyntaxError::new("v=spf1 not followed by a space"));
    }

    let mut record = Record {
        directives: Vec::new(),
        redirect: None,
        explanation: None,
    };
    for (count, term) in terms.split(' ').filter(|t| !t.is_empty()).enumerate() {
        if count >= MAX_TERMS {
            return Err(SyntaxError::new(format!("more than {MAX_TERMS} terms")));
        }
        if let Some((name, value)) = modifier(term) {
            if name.eq_ignore_ascii_case("redirect") {
                if record.redirect.is_some() {
                    return Err(SyntaxError::new("redirect= given twice"));
                }
                record.redirect = Some(MacroString::domain_spec(value)?);
            } else if name.eq_ignore_ascii_case("exp") {
                if record.explanation.is_some() {
                    return Err(SyntaxError::new("exp= given twice"));
                }
                record.explanation = Some(MacroString::domain_spec(value)?);
            } else {
                // RFC 7208 §6: unknown modifiers are ignored, but their
                // syntax is checked.
                MacroString::parse(value, Context::Modifier)?;
            }
        } else {
            record.directives.push(directive(term)?);
        }
    }
    Ok(record)
}

/// `name "=" value` when `term` is a modifier: `name = ALPHA *( ALPHA /
/// DIGIT / "-" / "_" / "." )` directly followed by `=`.
fn modifier(term: &str) -> Option<(&str, &str)> {
    let (name, value) = term.split_once('=')?;
    let mut chars = name.bytes();
    let first = chars.next()?;
    let valid = first.is_ascii_alphabetic()
        && chars.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    valid.then_some((name, value))
}

fn directive(term: &str) -> Result<Directive, SyntaxError> {
    let (qualifier, rest) = match term.as_bytes().first() {
        Some(b'+') => (Qualifier::Pass, term.get(1..)),
        Some(b'-') => (Qualifier::Fail, term.get(1..)),
        Some(b'~') => (Qualifier::SoftFail, term.get(1..)),
        Some(b'?') => (Qualifier::Neutral, term.get(1..)),
        _ => (Qualifier::Pass, Some(term)),
    };
    let rest = rest.unwrap_or_default();
    let split = rest.find([':', '/']).unwrap_or(rest.len());
    let (name, args) = rest.split_at_checked(split).unwrap_or((rest, ""));
    let name = name.to_ascii_lowercase();
    let mechanism = match name.as_str() {
        "all" if args.is_empty() => Mechanism::All,
        "include" => Mechanism::Include(required_domain(args)?),
        "exists" => Mechanism::Exists(required_domain(args)?),
        "ptr" => Mechanism::Ptr(optional_domain(args)?),
        "a" | "mx" => {
            let (args, cidr4, cidr6) = dual_cidr(args)?;
            let domain = optional_domain(args)?;
            let cidr4 = cidr4.unwrap_or(32);
            let cidr6 = cidr6.unwrap_or(128);
            if name == "a" {
                Mechanism::A {
                    domain,
                    cidr4,
                    cidr6,
                }
            } else {
                Mechanism::Mx {
                    domain,
                    cidr4,
                    cidr6,
                }
            }
        }
        "ip4" => {
            let network = args
                .strip_prefix(':')
                .ok_or_else(|| SyntaxError::new("ip4 without an address"))?;
            let (address, cidr) = match network.split_once('/') {
                Some((address, cidr)) => (address, Some(cidr_length(cidr, 32)?)),
                None => (network, None),
            };
            let address = ip4_network(address)
                .ok_or_else(|| SyntaxError::new(format!("{address:?} is not an IPv4 address")))?;
            Mechanism::Ip4(address, cidr.unwrap_or(32))
        }
        "ip6" => {
            let network = args
                .strip_prefix(':')
                .ok_or_else(|| SyntaxError::new("ip6 without an address"))?;
            let (address, cidr) = match network.split_once('/') {
                Some((address, cidr)) => (address, Some(cidr_length(cidr, 128)?)),
                None => (network, None),
            };
            let address: Ipv6Addr = address
                .parse()
                .map_err(|_| SyntaxError::new(format!("{address:?} is not an IPv6 address")))?;
            Mechanism::Ip6(address, cidr.unwrap_or(128))
        }
        _ => return Err(SyntaxError::new(format!("unknown mechanism {term:?}"))),
    };
    Ok(Directive {
        qualifier,
        mechanism,
    })
}

/// `":" domain-spec`.
fn required_domain(args: &str) -> Result<MacroString, SyntaxError> {
    let spec = args
        .strip_prefix(':')
        .ok_or_else(|| SyntaxError::new("mechanism needs \":\" and a domain"))?;
    MacroString::domain_spec(spec)
}

/// `[ ":" domain-spec ]`.
fn optional_domain(args: &str) -> Result<Option<MacroString>, SyntaxError> {
    if args.is_empty() {
        return Ok(None);
    }
    required_domain(args).map(Some)
}

/// Splits `[ ip4-cidr-length ] [ "/" ip6-cidr-length ]` off the end of
/// the arguments of `a` or `mx`. A domain-spec may itself contain `/`, so
/// only the tail counts.
fn dual_cidr(args: &str) -> Result<(&str, Option<u8>, Option<u8>), SyntaxError> {
    let mut rest = args;
    let mut cidr6 = None;
    let mut cidr4 = None;
    if let Some((head, digits)) = trailing_digits(rest)
        && let Some(head) = head.strip_suffix("//")
    {
        cidr6 = Some(cidr_length(digits, 128)?);
        rest = head;
    }
    if let Some((head, digits)) = trailing_digits(rest)
        && let Some(head) = head.strip_suffix('/')
    {
        cidr4 = Some(cidr_length(digits, 32)?);
        rest = head;
    }
    Ok((rest, cidr4, cidr6))
}

/// `text` split into what comes before a final run of digits, and the run.
fn trailing_digits(text: &str) -> Option<(&str, &str)> {
    let start = text.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (head, digits) = text.split_at_checked(start)?;
    (!digits.is_empty()).then_some((head, digits))
}

/// A prefix length: digits without a leading zero, at most `max`
/// (RFC 7208 §5.6: "0" / %x31-39 0*1DIGIT, value range 0-32, and likewise
/// up to 128 for IPv6).
fn cidr_length(digits: &str, max: u8) -> Result<u8, SyntaxError> {
    let well_formed = !digits.is_empty()
        && digits.len() <= 3
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    let value = digits
        .parse::<u8>()
        .ok()
        .filter(|v| well_formed && *v <= max);
    value
        .ok_or_else(|| SyntaxError::new(format!("invalid prefix length /{digits} (at most {max})")))
}

/// `ip4-network = qnum "." qnum "." qnum "." qnum`, with `qnum` a decimal
/// from 0 to 255 without leading zeros.
fn ip4_network(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        let well_formed = !part.is_empty()
            && part.len() <= 3
            && part.bytes().all(|b| b.is_ascii_digit())
            && (part == "0" || !part.starts_with('0'));
        if !well_formed {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Record, SyntaxError> {
        parse(text.as_bytes())
    }

    #[test]
    fn records_are_selected_by_version() {
        assert!(is_spf_record(b"v=spf1"));
        assert!(is_spf_record(b"V=SpF1 -all"));
        assert!(!is_spf_record(b"v=spf10"));
        assert!(!is_spf_record(b"v=spf1mx"));
        assert!(!is_spf_record(b"v=spf"));
        assert!(!is_spf_record(b"\x96"));
    }

    #[test]
    fn a_full_record_parses() {
        let record = parse_str(
            "v=spf1  +a -mx:mail.example.com/24//64 ~ptr ?ip4:192.0.2.0/24 ip6:2001:db8::/32 \
             include:_spf.example.net exists:%{ir}.bl.example.org a//0 A:foo:bar/baz.example.com \
             moo.cow-far_out=man:dog/cat redirect=other.example exp=why.%{d} all ",
        )
        .unwrap();
        let mechanisms: Vec<_> = record.directives.iter().map(|d| &d.mechanism).collect();
        assert_eq!(mechanisms.len(), 10);
        assert_eq!(record.directives[0].qualifier, Qualifier::Pass);
        assert_eq!(
            *mechanisms[0],
            Mechanism::A {
                domain: None,
                cidr4: 32,
                cidr6: 128
            }
        );
        assert_eq!(record.directives[1].qualifier, Qualifier::Fail);
        assert!(matches!(
            mechanisms[1],
            Mechanism::Mx {
                domain: Some(_),
                cidr4: 24,
                cidr6: 64
            }
        ));
        assert_eq!(record.directives[2].qualifier, Qualifier::SoftFail);
        assert_eq!(*mechanisms[2], Mechanism::Ptr(None));
        assert_eq!(
            *mechanisms[3],
            Mechanism::Ip4(Ipv4Addr::new(192, 0, 2, 0), 24)
        );
        assert_eq!(
            *mechanisms[4],
            Mechanism::Ip6("2001:db8::".parse().unwrap(), 32)
        );
        assert!(matches!(mechanisms[5], Mechanism::Include(_)));
        assert!(matches!(mechanisms[6], Mechanism::Exists(_)));
        assert_eq!(
            *mechanisms[7],
            Mechanism::A {
                domain: None,
                cidr4: 32,
                cidr6: 0
            }
        );
        assert!(matches!(
            mechanisms[8],
            Mechanism::A {
                domain: Some(_),
                cidr4: 32,
                cidr6: 128
            }
        ));
        assert_eq!(*mechanisms[9], Mechanism::All);
        assert!(record.redirect.is_some() && record.explanation.is_some());
        assert!(record.has_all());
        assert!(parse_str("v=spf1").unwrap().directives.is_empty());
    }

    #[test]
    fn syntax_errors_are_permanent() {
        for bad in [
            "v=spf1 ip4:1.2.3.4 -all moo",
            "v=spf1 moo.cow/far_out=man:dog/cat",
            "v=spf1 moo.cow:far_out=man:dog/cat",
            "v=spf1 redirect:t2.example.com",
            "v=spf1 1up=foo",
            "v=spf1 =all",
            "v=spf1 -all.",
            "v=spf1 -all:foobar",
            "v=spf1 -all/8",
            "v=spf1 ptr/0",
            "v=spf1 ptr:",
            "v=spf1 include",
            "v=spf1 include:",
            "v=spf1 include:ip5.example.com/24",
            "v=spf1 exists",
            "v=spf1 exists:mail.example.com/24",
            "v=spf1 a:foo-bar",
            "v=spf1 a:example.com:8080",
            "v=spf1 a:111.222.33.44",
            "v=spf1 a:museum",
            "v=spf1 a:museum.",
            "v=spf1 a:example.-com",
            "v=spf1 a:",
            "v=spf1 a/33",
            "v=spf1 a//129",
            "v=spf1 a/24/64",
            "v=spf1 a/024",
            "v=spf1 mx: -all",
            "v=spf1 ip4",
            "v=spf1 ip4:1.2.3.4/33",
            "v=spf1 ip4:1.2.3.4/032",
            "v=spf1 ip4:1.2.3.4//32",
            "v=spf1 ip4:1.2.3.4:8080",
            "v=spf1 ip4:1.2.3",
            "v=spf1 ip4:01.2.3.4",
            "v=spf1 ip4:256.2.3.4",
            "v=spf1 ip6",
            "v=spf1 ip6::CAFE::BABE",
            "v=spf1 ip6:::1.1.1.1/129",
            "v=spf1 ip6:::1.1.1.1//33",
            "v=spf1 exp= -all",
            "v=spf1 exp=-all",
            "v=spf1 redirect=-all ?all",
            "v=spf1 ?all redirect=",
            "v=spf1 exp=a.example.com -all exp=b.example.com",
            "v=spf1 redirect=a.example.com redirect=a.example.com",
            "v=spf1 -all foo=%abc",
            "v=spf1 -exists:%(ir).sbl.example.com ?all",
            "v=spf1 a:%{a}.example.com -all",
            "v=spf1 -all exp=%{r}.example.com",
            "v=spf1 a:ctrl.example.com\rptr -all",
            "v=spf1 ip4:192.0.2.5\n include:spf.example.com",
            "v=spf1 \u{80}a:example.net -all",
            "v=spf1 a:foo.example.com\0",
            "v=spf1mx",
        ] {
            assert!(parse_str(bad).is_err(), "{bad:?} should not parse");
        }
        let long = format!("v=spf1 {}", "a ".repeat(MAX_RECORD_LEN));
        assert!(parse_str(&long).is_err());
        let many = format!("v=spf1{}", " ?all".repeat(MAX_TERMS + 1));
        assert!(many.len() <= MAX_RECORD_LEN && parse_str(&many).is_err());
        let enough = format!("v=spf1{}", " ?all".repeat(MAX_TERMS));
        assert!(parse_str(&enough).is_ok());
    }

    #[test]
    fn valid_edge_cases_parse() {
        for good in [
            "v=spf1 default=pass",
            "v=spf1 default=+",
            "v=spf1 foo=",
            "v=spf1 a:foo.example.xn--zckzah -all",
            "v=spf1 a//0 mx/0",
            "v=spf1 ip4:0.0.0.0/0 ip6:::/0",
            "v=spf1 ip6:::FFFF:1.2.3.4",
            "v=spf1 exists:%{l2r+-}.user.%{d2}",
            "v=spf1 redirect=%{d}.d.spf.example.com.",
            "V=SPF1 INCLUDE:EXAMPLE.COM -ALL",
            "v=spf1 a:%{H} -all",
        ] {
            assert!(parse_str(good).is_ok(), "{good:?}: {:?}", parse_str(good));
        }
    }
}
