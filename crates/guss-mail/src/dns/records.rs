//! The record set of a mail domain, its zone-file form, and reading that
//! form back.

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::{DnsError, MailDomain, bare, fqdn, in_zone};

/// Longest character-string inside a TXT record (RFC 1035 §3.3.14).
const TXT_CHUNK: usize = 255;

/// One DNS record: `NAME TTL IN TYPE DATA`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Record {
    /// Fully qualified, lowercase, with the trailing dot: `_dmarc.example.test.`.
    pub name: String,
    /// Time to live in seconds.
    pub ttl: u32,
    /// Type and value.
    pub data: RecordData,
}

/// The type and value of a [`Record`]. Names inside are fully qualified with
/// the trailing dot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// An alias for another name.
    Cname(String),
    /// A mail exchanger.
    Mx {
        /// Lower is tried first.
        preference: u16,
        /// The host that receives the mail.
        exchange: String,
    },
    /// Text, as one string; split into strings of at most 255 bytes only
    /// when written out.
    Txt(String),
    /// A service location (RFC 2782). The target `.` says the service is
    /// not offered.
    Srv {
        /// Lower is tried first.
        priority: u16,
        /// Share among targets of equal priority.
        weight: u16,
        /// The port.
        port: u16,
        /// The host.
        target: String,
    },
    /// A certification authority authorization (RFC 8659).
    Caa {
        /// Flags; 128 is "issuer critical".
        flags: u8,
        /// The property: `issue`, `issuewild` or `iodef`.
        tag: String,
        /// The property value: `letsencrypt.org`.
        value: String,
    },
}

/// The record types guss publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Alias.
    Cname,
    /// Mail exchanger.
    Mx,
    /// Text.
    Txt,
    /// Service location.
    Srv,
    /// Certification authority authorization.
    Caa,
}

impl RecordType {
    /// The type's name in zone files: `AAAA`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Cname => "CNAME",
            Self::Mx => "MX",
            Self::Txt => "TXT",
            Self::Srv => "SRV",
            Self::Caa => "CAA",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordType {
    type Err = DnsError;

    fn from_str(s: &str) -> Result<Self, DnsError> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "A" => Self::A,
            "AAAA" => Self::Aaaa,
            "CNAME" => Self::Cname,
            "MX" => Self::Mx,
            "TXT" => Self::Txt,
            "SRV" => Self::Srv,
            "CAA" => Self::Caa,
            other => return Err(DnsError::Parse(format!("unsupported type {other}"))),
        })
    }
}

impl RecordData {
    /// The record type.
    pub fn record_type(&self) -> RecordType {
        match self {
            Self::A(_) => RecordType::A,
            Self::Aaaa(_) => RecordType::Aaaa,
            Self::Cname(_) => RecordType::Cname,
            Self::Mx { .. } => RecordType::Mx,
            Self::Txt(_) => RecordType::Txt,
            Self::Srv { .. } => RecordType::Srv,
            Self::Caa { .. } => RecordType::Caa,
        }
    }

    /// Whether this is an SPF record (`v=spf1`, RFC 7208 §4.5).
    pub fn is_spf(&self) -> bool {
        matches!(self, Self::Txt(text) if is_spf_text(text))
    }

    /// The value in a form where spellings that mean the same compare
    /// equal: names lowercased, TXT whitespace and case normalised where the
    /// record's syntax allows it.
    pub(crate) fn key(&self) -> String {
        match self {
            Self::A(ip) => ip.to_string(),
            Self::Aaaa(ip) => ip.to_string(),
            Self::Cname(name) => fqdn(name),
            Self::Mx {
                preference,
                exchange,
            } => format!("{preference} {}", fqdn(exchange)),
            Self::Txt(text) => normalise_txt(text),
            Self::Srv {
                priority,
                weight,
                port,
                target,
            } => format!("{priority} {weight} {port} {}", fqdn(target)),
            Self::Caa { flags, tag, value } => format!(
                "{flags} {} {}",
                tag.to_ascii_lowercase(),
                value.trim().to_ascii_lowercase()
            ),
        }
    }
}

fn is_spf_text(text: &str) -> bool {
    let text = text.trim_start().as_bytes();
    // "v=spf1" followed by a space or the end (RFC 7208 §4.5).
    text.len() >= 6
        && text
            .get(..6)
            .is_some_and(|v| v.eq_ignore_ascii_case(b"v=spf1"))
        && text.get(6).is_none_or(|b| *b == b' ')
}

/// TXT values compared by meaning rather than spelling: SPF terms are
/// separated by single spaces and case-insensitive (RFC 7208 §4.6.1,
/// §12); tag lists (DKIM, DMARC, MTA-STS, TLS-RPT, `path=`) ignore
/// whitespace around tags (RFC 6376 §3.2), and their trailing `;`.
fn normalise_txt(text: &str) -> String {
    let text = text.trim();
    if is_spf_text(text) {
        return text
            .split_ascii_whitespace()
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
            .join(" ");
    }
    if !text.contains('=') {
        return text.to_owned();
    }
    let mut out: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    while out.ends_with(';') {
        out.pop();
    }
    // DMARC, MTA-STS and TLS-RPT tag values are case-insensitive keywords
    // and mail addresses; DKIM keys and paths are not.
    let lower = out.to_ascii_lowercase();
    if ["v=dmarc1", "v=stsv1", "v=tlsrptv1"]
        .iter()
        .any(|v| lower.starts_with(v))
    {
        lower
    } else {
        out
    }
}

impl Record {
    /// A record; `name` is made fully qualified and lowercase.
    pub fn new(name: &str, ttl: u32, data: RecordData) -> Self {
        Self {
            name: fqdn(name),
            ttl,
            data,
        }
    }

    /// The record type.
    pub fn record_type(&self) -> RecordType {
        self.data.record_type()
    }

    /// What the record is for, in words a domain owner understands.
    pub fn purpose(&self) -> &'static str {
        let name = self.name.as_str();
        let label = name.split('.').next().unwrap_or_default();
        let service = name.split('.').take(2).collect::<Vec<_>>().join(".");
        let disabled = matches!(&self.data, RecordData::Srv { target, .. } if target == ".");
        match (&self.data, label, service.as_str()) {
            (RecordData::Txt(_), _, _) if self.data.is_spf() => {
                "SPF: the servers allowed to send mail for this name"
            }
            (RecordData::Mx { .. }, _, _) => "MX: the server that receives the domain's mail",
            (_, _, _) if name.contains("._domainkey.") => {
                "DKIM key: receivers check the signatures of outgoing mail with it"
            }
            (_, "_dmarc", _) => {
                "DMARC: what receivers do with mail that fails the checks, and where they report"
            }
            (_, "_mta-sts", _) => "MTA-STS: tells other mail servers to insist on encryption",
            (_, "mta-sts", _) => "MTA-STS: the web address the encryption policy is fetched from",
            (_, _, "_smtp._tls") => "TLS-RPT: where other mail servers report encryption problems",
            (RecordData::Srv { .. }, _, _) if disabled => {
                "tells apps that this service is not offered, so they do not try it"
            }
            (_, _, "_submissions._tcp" | "_submission._tcp") => {
                "lets mail apps find the server for sending mail"
            }
            (_, _, "_imaps._tcp" | "_imap._tcp") => {
                "lets mail apps find the server for reading mail"
            }
            (_, _, "_caldavs._tcp" | "_caldav._tcp") => {
                "lets calendar apps find the calendar server"
            }
            (_, _, "_carddavs._tcp" | "_carddav._tcp") => {
                "lets address book apps find the contacts server"
            }
            (_, "autoconfig", _) => "lets Thunderbird and other mail apps set themselves up",
            (_, "autodiscover", _) | (_, _, "_autodiscover._tcp") => "lets Outlook set itself up",
            (RecordData::Caa { .. }, _, _) => {
                "CAA: the only certificate authority allowed to issue certificates for the domain"
            }
            (RecordData::A(_) | RecordData::Aaaa(_), _, _) => "the address of a server",
            _ => "a record the mail domain needs",
        }
    }
}

/// `NAME TTL IN TYPE DATA` on one line; TXT values longer than 255 bytes
/// become several quoted strings on the same line.
impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} IN {} ", self.name, self.ttl, self.record_type())?;
        match &self.data {
            RecordData::A(ip) => write!(f, "{ip}"),
            RecordData::Aaaa(ip) => write!(f, "{ip}"),
            RecordData::Cname(target) => f.write_str(target),
            RecordData::Mx {
                preference,
                exchange,
            } => write!(f, "{preference} {exchange}"),
            RecordData::Txt(text) => f.write_str(&quote_txt(text)),
            RecordData::Srv {
                priority,
                weight,
                port,
                target,
            } => write!(f, "{priority} {weight} {port} {target}"),
            RecordData::Caa { flags, tag, value } => {
                write!(f, "{flags} {tag} {}", quote(value.as_bytes()))
            }
        }
    }
}

/// The TXT value as quoted strings of at most 255 bytes, separated by
/// spaces.
fn quote_txt(text: &str) -> String {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return "\"\"".to_owned();
    }
    bytes
        .chunks(TXT_CHUNK)
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One quoted zone-file string (RFC 1035 §5.1).
fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
    out
}

/// Reads one line in the shape [`Record`]'s `Display` writes:
/// `NAME TTL IN TYPE DATA`.
impl FromStr for Record {
    type Err = DnsError;

    fn from_str(line: &str) -> Result<Self, DnsError> {
        let tokens = tokenize(line)?;
        let mut tokens = tokens.into_iter();
        let mut word = |what: &str| match tokens.next() {
            Some(Token::Word(w)) => Ok(w),
            Some(Token::Quoted(_)) => Err(DnsError::Parse(format!("{what}: unexpected quotes"))),
            None => Err(DnsError::Parse(format!("{what} is missing"))),
        };
        let name = word("name")?;
        let ttl = number(&word("TTL")?, "TTL")?;
        let class = word("class")?;
        if !class.eq_ignore_ascii_case("IN") {
            return Err(DnsError::Parse(format!("class {class} is not IN")));
        }
        let record_type: RecordType = word("type")?.parse()?;
        let data = match record_type {
            RecordType::A => RecordData::A(address(&word("address")?)?),
            RecordType::Aaaa => RecordData::Aaaa(address(&word("address")?)?),
            RecordType::Cname => RecordData::Cname(fqdn(&word("target")?)),
            RecordType::Mx => RecordData::Mx {
                preference: number(&word("preference")?, "preference")?,
                exchange: fqdn(&word("exchange")?),
            },
            RecordType::Srv => RecordData::Srv {
                priority: number(&word("priority")?, "priority")?,
                weight: number(&word("weight")?, "weight")?,
                port: number(&word("port")?, "port")?,
                target: fqdn(&word("target")?),
            },
            RecordType::Caa => {
                let flags = number(&word("flags")?, "flags")?;
                let tag = word("tag")?;
                let value = match tokens.next() {
                    Some(Token::Quoted(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
                    Some(Token::Word(w)) => w,
                    None => return Err(DnsError::Parse("CAA value is missing".into())),
                };
                RecordData::Caa { flags, tag, value }
            }
            RecordType::Txt => {
                let mut bytes = Vec::new();
                let mut any = false;
                for token in tokens.by_ref() {
                    any = true;
                    match token {
                        Token::Quoted(b) => bytes.extend_from_slice(&b),
                        Token::Word(w) => bytes.extend_from_slice(w.as_bytes()),
                    }
                }
                if !any {
                    return Err(DnsError::Parse("TXT value is missing".into()));
                }
                RecordData::Txt(String::from_utf8_lossy(&bytes).into_owned())
            }
        };
        if tokens.next().is_some() {
            return Err(DnsError::Parse("unexpected text after the value".into()));
        }
        Ok(Record::new(&name, ttl, data))
    }
}

enum Token {
    Word(String),
    Quoted(Vec<u8>),
}

fn tokenize(line: &str) -> Result<Vec<Token>, DnsError> {
    let mut tokens = Vec::new();
    let mut chars = line.trim_end_matches(['\r', '\n']).chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut bytes = Vec::new();
            loop {
                match chars.next() {
                    None => return Err(DnsError::Parse("unterminated quoted string".into())),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        None => return Err(DnsError::Parse("dangling backslash".into())),
                        Some(d) if d.is_ascii_digit() => {
                            let mut value = d.to_digit(10).unwrap_or(0);
                            for _ in 0..2 {
                                let digit =
                                    chars.next().and_then(|c| c.to_digit(10)).ok_or_else(|| {
                                        DnsError::Parse("\\DDD needs three digits".into())
                                    })?;
                                value = value * 10 + digit;
                            }
                            let byte = u8::try_from(value)
                                .map_err(|_| DnsError::Parse("\\DDD above 255".into()))?;
                            bytes.push(byte);
                        }
                        Some(other) => push_char(&mut bytes, other),
                    },
                    Some(other) => push_char(&mut bytes, other),
                }
            }
            tokens.push(Token::Quoted(bytes));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(Token::Word(word));
        }
    }
    Ok(tokens)
}

fn push_char(bytes: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

fn number<T: FromStr>(text: &str, what: &str) -> Result<T, DnsError> {
    text.parse()
        .map_err(|_| DnsError::Parse(format!("{what} {text:?} is not a number in range")))
}

fn address<T: FromStr>(text: &str) -> Result<T, DnsError> {
    text.parse()
        .map_err(|_| DnsError::Parse(format!("{text:?} is not an address")))
}

/// The records a mail domain needs, in a stable order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordSet {
    records: Vec<Record>,
}

impl RecordSet {
    /// The records.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The records, one by one.
    pub fn iter(&self) -> std::slice::Iter<'_, Record> {
        self.records.iter()
    }

    /// How many records there are.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The zone-file form: one record per line, `NAME TTL IN TYPE DATA`,
    /// every line ending in a newline.
    pub fn to_zone_file(&self) -> String {
        let mut out = String::new();
        for record in &self.records {
            let _ = writeln!(out, "{record}");
        }
        out
    }

    /// The records grouped by name and type, in order of first appearance.
    pub(crate) fn groups(&self) -> Vec<Group<'_>> {
        let mut groups: Vec<Group<'_>> = Vec::new();
        for record in &self.records {
            let record_type = record.record_type();
            match groups
                .iter_mut()
                .find(|g| g.name == record.name && g.record_type == record_type)
            {
                Some(group) => group.records.push(record),
                None => groups.push(Group {
                    name: record.name.clone(),
                    record_type,
                    records: vec![record],
                }),
            }
        }
        groups
    }
}

/// The records of one name and type.
#[derive(Debug)]
pub(crate) struct Group<'a> {
    pub(crate) name: String,
    pub(crate) record_type: RecordType,
    pub(crate) records: Vec<&'a Record>,
}

impl Group<'_> {
    /// An SPF group governs only the `v=spf1` records at its name: other
    /// TXT records there are left alone.
    pub(crate) fn is_spf(&self) -> bool {
        self.records.iter().any(|r| r.data.is_spf())
    }

    /// The TTL to publish the group with.
    pub(crate) fn ttl(&self) -> u32 {
        self.records.first().map_or(super::DEFAULT_TTL, |r| r.ttl)
    }
}

impl<'a> IntoIterator for &'a RecordSet {
    type Item = &'a Record;
    type IntoIter = std::slice::Iter<'a, Record>;

    fn into_iter(self) -> Self::IntoIter {
        self.records.iter()
    }
}

impl FromIterator<Record> for RecordSet {
    fn from_iter<I: IntoIterator<Item = Record>>(iter: I) -> Self {
        Self {
            records: iter.into_iter().collect(),
        }
    }
}

/// The complete record set of `domain`. See the [module docs](super) for the
/// decisions behind it.
pub fn records(domain: &MailDomain) -> RecordSet {
    let ttl = domain.ttl;
    let apex = fqdn(&domain.domain);
    let mail = fqdn(&domain.mail_host);
    let web = fqdn(&domain.web_host);
    let at = |label: &str| format!("{label}.{apex}");
    let mut out = Vec::new();
    let mut push = |name: &str, data: RecordData| out.push(Record::new(name, ttl, data));

    // Addresses of the hosts that live inside the domain.
    let mut hosts: Vec<(&str, Vec<IpAddr>)> = vec![(&mail, domain.mail_host_addrs.clone())];
    if web == mail {
        if let Some((_, addrs)) = hosts.first_mut() {
            addrs.extend(domain.web_host_addrs.iter().copied());
        }
    } else {
        hosts.push((&web, domain.web_host_addrs.clone()));
    }
    for (host, addrs) in hosts {
        if !in_zone(host, &apex) {
            continue;
        }
        let mut seen = HashSet::new();
        for addr in addrs.into_iter().filter(|a| seen.insert(*a)) {
            match addr {
                IpAddr::V4(v4) => push(host, RecordData::A(v4)),
                IpAddr::V6(v6) => push(host, RecordData::Aaaa(v6)),
            }
        }
    }

    push(
        &apex,
        RecordData::Mx {
            preference: 10,
            exchange: mail.clone(),
        },
    );

    // RFC 7208 §3.2: exactly one SPF record for the domain. The mail host's
    // addresses make the common case need no further lookup; `mx` keeps it
    // right when they change with the MX.
    let mut spf = vec!["v=spf1".to_owned()];
    let mut seen = HashSet::new();
    for addr in domain.mail_host_addrs.iter().filter(|a| seen.insert(**a)) {
        spf.push(match addr {
            IpAddr::V4(v4) => format!("ip4:{v4}"),
            IpAddr::V6(v6) => format!("ip6:{v6}"),
        });
    }
    spf.push("mx".into());
    spf.push("-all".into());
    push(&apex, RecordData::Txt(spf.join(" ")));
    // RFC 7208 §2.3: an SPF record for the HELO name of the mail host, when
    // that name is ours: inside the domain, with the addresses published
    // above (a mail host that is an alias elsewhere is left alone).
    if mail != apex && in_zone(&mail, &apex) && !domain.mail_host_addrs.is_empty() {
        push(&mail, RecordData::Txt("v=spf1 a -all".into()));
    }

    let mut selectors = HashSet::new();
    for key in &domain.dkim_keys {
        let selector = key.selector.trim().to_ascii_lowercase();
        // A selector listed twice would make two keys at one name: the first wins.
        if !selectors.insert(selector.clone()) {
            continue;
        }
        push(
            &at(&format!("{selector}._domainkey")),
            RecordData::Txt(format!(
                "v=DKIM1; k={}; p={}",
                key.algorithm.key_type(),
                key.public_key_base64.trim()
            )),
        );
    }

    push(
        &at("_dmarc"),
        RecordData::Txt(format!(
            "v=DMARC1; p={}; rua=mailto:{}",
            domain.dmarc_policy.tag(),
            domain.dmarc_rua.trim()
        )),
    );

    push(
        &at("_mta-sts"),
        RecordData::Txt(format!("v=STSv1; id={}", mta_sts_id(domain))),
    );
    push(
        &at("_smtp._tls"),
        RecordData::Txt(format!(
            "v=TLSRPTv1; rua=mailto:{}",
            domain.tls_rpt_rua.trim()
        )),
    );

    let srv = |priority, port, target: &str| RecordData::Srv {
        priority,
        weight: if port == 0 { 0 } else { 1 },
        port,
        target: target.to_owned(),
    };
    // RFC 6186, RFC 8314 §5.1: implicit TLS first; cleartext IMAP and POP3
    // decidedly not available.
    push(&at("_submissions._tcp"), srv(0, 465, &mail));
    push(&at("_submission._tcp"), srv(10, 587, &mail));
    push(&at("_imaps._tcp"), srv(0, 993, &mail));
    push(&at("_imap._tcp"), srv(0, 0, "."));
    push(&at("_pop3s._tcp"), srv(0, 0, "."));
    push(&at("_pop3._tcp"), srv(0, 0, "."));
    // RFC 6764 §3, §4: CalDAV and CardDAV over TLS only, with their context path.
    push(&at("_caldavs._tcp"), srv(0, 443, &web));
    push(
        &at("_caldavs._tcp"),
        RecordData::Txt("path=/.well-known/caldav".into()),
    );
    push(&at("_caldav._tcp"), srv(0, 0, "."));
    push(&at("_carddavs._tcp"), srv(0, 443, &web));
    push(
        &at("_carddavs._tcp"),
        RecordData::Txt("path=/.well-known/carddav".into()),
    );
    push(&at("_carddav._tcp"), srv(0, 0, "."));
    push(&at("_autodiscover._tcp"), srv(0, 443, &web));

    // Aliases to the web host, unless the name is a host of its own (a
    // CNAME cannot share its name with other records).
    for label in ["mta-sts", "autoconfig", "autodiscover"] {
        let name = at(label);
        if name != web && name != mail {
            push(&name, RecordData::Cname(web.clone()));
        }
    }

    if let Some(issuer) = &domain.caa_issuer {
        push(
            &apex,
            RecordData::Caa {
                flags: 0,
                tag: "issue".into(),
                value: bare(issuer).to_ascii_lowercase(),
            },
        );
    }

    RecordSet { records: out }
}

/// The MTA-STS policy file served at
/// `https://mta-sts.DOMAIN/.well-known/mta-sts.txt` (RFC 8461 §3.2), with
/// CRLF line ends.
pub fn mta_sts_policy(domain: &MailDomain) -> String {
    format!(
        "version: STSv1\r\nmode: {}\r\nmx: {}\r\nmax_age: {}\r\n",
        domain.mta_sts_mode.tag(),
        bare(&domain.mail_host).to_ascii_lowercase(),
        domain.mta_sts_max_age
    )
}

/// The configured policy id, or one derived from the policy text: 20 hex
/// digits of its SHA-256, so that any change of the policy changes the id.
fn mta_sts_id(domain: &MailDomain) -> String {
    if let Some(id) = &domain.mta_sts_id {
        return id.trim().to_owned();
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, mta_sts_policy(domain).as_bytes());
    digest
        .as_ref()
        .iter()
        .take(10)
        .fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{DkimAlgorithm, DkimPublicKey, MtaStsMode};

    fn domain() -> MailDomain {
        let mut d = MailDomain::new("Example.test", "mail.example.test.", "web.example.test");
        d.mail_host_addrs = vec![
            "192.0.2.25".parse().unwrap(),
            "2001:db8::25".parse().unwrap(),
        ];
        d.web_host_addrs = vec!["192.0.2.80".parse().unwrap()];
        d.dkim_keys = vec![
            DkimPublicKey::new("ed", DkimAlgorithm::Ed25519, "A".repeat(44)),
            DkimPublicKey::new("rsa", DkimAlgorithm::Rsa, "B".repeat(392)),
        ];
        d.caa_issuer = Some("letsencrypt.org".into());
        d
    }

    fn find<'a>(set: &'a RecordSet, name: &str, t: RecordType) -> Vec<&'a Record> {
        set.iter()
            .filter(|r| r.name == name && r.record_type() == t)
            .collect()
    }

    #[test]
    fn every_kind_of_record_is_there() {
        let set = records(&domain());
        let expect = [
            ("mail.example.test.", RecordType::A),
            ("mail.example.test.", RecordType::Aaaa),
            ("web.example.test.", RecordType::A),
            ("example.test.", RecordType::Mx),
            ("example.test.", RecordType::Txt),
            ("mail.example.test.", RecordType::Txt),
            ("ed._domainkey.example.test.", RecordType::Txt),
            ("rsa._domainkey.example.test.", RecordType::Txt),
            ("_dmarc.example.test.", RecordType::Txt),
            ("_mta-sts.example.test.", RecordType::Txt),
            ("mta-sts.example.test.", RecordType::Cname),
            ("_smtp._tls.example.test.", RecordType::Txt),
            ("_submissions._tcp.example.test.", RecordType::Srv),
            ("_submission._tcp.example.test.", RecordType::Srv),
            ("_imaps._tcp.example.test.", RecordType::Srv),
            ("_imap._tcp.example.test.", RecordType::Srv),
            ("_caldavs._tcp.example.test.", RecordType::Srv),
            ("_caldavs._tcp.example.test.", RecordType::Txt),
            ("_carddavs._tcp.example.test.", RecordType::Srv),
            ("_carddavs._tcp.example.test.", RecordType::Txt),
            ("_autodiscover._tcp.example.test.", RecordType::Srv),
            ("autoconfig.example.test.", RecordType::Cname),
            ("autodiscover.example.test.", RecordType::Cname),
            ("example.test.", RecordType::Caa),
        ];
        for (name, t) in expect {
            assert_eq!(find(&set, name, t).len(), 1, "{name} {t}");
        }
        let zone = set.to_zone_file();
        for line in [
            "example.test. 3600 IN MX 10 mail.example.test.",
            "example.test. 3600 IN TXT \"v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 mx -all\"",
            "_dmarc.example.test. 3600 IN TXT \"v=DMARC1; p=quarantine; rua=mailto:postmaster@example.test\"",
            "_smtp._tls.example.test. 3600 IN TXT \"v=TLSRPTv1; rua=mailto:postmaster@example.test\"",
            "_submissions._tcp.example.test. 3600 IN SRV 0 1 465 mail.example.test.",
            "_submission._tcp.example.test. 3600 IN SRV 10 1 587 mail.example.test.",
            "_imaps._tcp.example.test. 3600 IN SRV 0 1 993 mail.example.test.",
            "_imap._tcp.example.test. 3600 IN SRV 0 0 0 .",
            "_caldavs._tcp.example.test. 3600 IN SRV 0 1 443 web.example.test.",
            "_caldavs._tcp.example.test. 3600 IN TXT \"path=/.well-known/caldav\"",
            "_carddavs._tcp.example.test. 3600 IN TXT \"path=/.well-known/carddav\"",
            "autoconfig.example.test. 3600 IN CNAME web.example.test.",
            "mta-sts.example.test. 3600 IN CNAME web.example.test.",
            "example.test. 3600 IN CAA 0 issue \"letsencrypt.org\"",
            "mail.example.test. 3600 IN AAAA 2001:db8::25",
        ] {
            assert!(zone.lines().any(|l| l == line), "{line} missing in\n{zone}");
        }
    }

    #[test]
    fn one_spf_record_per_name() {
        let set = records(&domain());
        for group in set.groups() {
            let spf = group.records.iter().filter(|r| r.data.is_spf()).count();
            assert!(spf <= 1, "{} has {spf} SPF records", group.name);
        }
        let apex_spf = find(&set, "example.test.", RecordType::Txt);
        assert_eq!(apex_spf.len(), 1);
        assert!(apex_spf[0].data.is_spf());

        // Without addresses: the plain form.
        let plain = records(&MailDomain::new(
            "example.test",
            "mail.example.test",
            "example.test",
        ));
        assert!(
            plain
                .to_zone_file()
                .contains("example.test. 3600 IN TXT \"v=spf1 mx -all\"")
        );
    }

    #[test]
    fn long_dkim_keys_are_split_on_one_line() {
        let set = records(&domain());
        let rsa = find(&set, "rsa._domainkey.example.test.", RecordType::Txt)[0];
        let line = rsa.to_string();
        assert_eq!(line.lines().count(), 1);
        let strings: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        assert_eq!(strings.len(), 2, "{line}");
        assert_eq!(strings[0].len(), 255);
        assert_eq!(
            strings.concat(),
            format!("v=DKIM1; k=rsa; p={}", "B".repeat(392))
        );
        let ed = find(&set, "ed._domainkey.example.test.", RecordType::Txt)[0];
        assert_eq!(
            ed.to_string(),
            format!(
                "ed._domainkey.example.test. 3600 IN TXT \"v=DKIM1; k=ed25519; p={}\"",
                "A".repeat(44)
            )
        );
    }

    #[test]
    fn zone_file_lines_parse_back() {
        let set = records(&domain());
        let zone = set.to_zone_file();
        assert_eq!(zone.lines().count(), set.len());
        let parsed: RecordSet = zone.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(parsed, set);
        for line in zone.lines() {
            let fields: Vec<&str> = line.splitn(5, ' ').collect();
            assert_eq!(fields.len(), 5, "{line}");
            assert!(fields[0].ends_with('.'), "{line}");
            fields[1].parse::<u32>().unwrap();
            assert_eq!(fields[2], "IN");
            fields[3].parse::<RecordType>().unwrap();
        }
    }

    #[test]
    fn quoting_round_trips() {
        let record = Record::new(
            "x.example.test",
            60,
            RecordData::Txt("a \"quoted\" back\\slash \u{7f} é".into()),
        );
        let line = record.to_string();
        assert_eq!(line.parse::<Record>().unwrap(), record);
    }

    #[test]
    fn bad_lines_are_errors_not_panics() {
        for line in [
            "",
            "a.",
            "a. 1",
            "a. 1 CH A 1.2.3.4",
            "a. x IN A 1.2.3.4",
            "a. 1 IN A 1.2.3",
            "a. 1 IN TXT \"open",
            "a. 1 IN TXT \"\\9\"",
            "a. 1 IN TXT \"\\999\"",
            "a. 1 IN TXT",
            "a. 1 IN MX 10",
            "a. 1 IN MX 99999 b.",
            "a. 1 IN SRV 1 2 3",
            "a. 1 IN NS b.",
            "a. 1 IN A 1.2.3.4 extra",
            "\"a\" 1 IN A 1.2.3.4",
        ] {
            assert!(line.parse::<Record>().is_err(), "{line:?}");
        }
    }

    #[test]
    fn mta_sts_policy_file_and_id() {
        let mut d = domain();
        let policy = mta_sts_policy(&d);
        assert_eq!(
            policy,
            "version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmax_age: 604800\r\n"
        );
        let id_of = |d: &MailDomain| {
            find(&records(d), "_mta-sts.example.test.", RecordType::Txt)[0]
                .data
                .clone()
        };
        let enforce = id_of(&d);
        d.mta_sts_mode = MtaStsMode::Testing;
        assert!(mta_sts_policy(&d).contains("mode: testing\r\n"));
        assert_ne!(id_of(&d), enforce, "a new policy needs a new id");
        d.mta_sts_id = Some("20260101".into());
        assert_eq!(id_of(&d), RecordData::Txt("v=STSv1; id=20260101".into()));
    }

    #[test]
    fn hosts_outside_the_domain_get_no_address_records() {
        let mut d = MailDomain::new("example.test", "mx.hosting.test", "web.hosting.test");
        d.mail_host_addrs = vec!["192.0.2.1".parse().unwrap()];
        let set = records(&d);
        assert!(set.iter().all(|r| r.name.ends_with("example.test.")));
        assert!(
            !set.iter()
                .any(|r| matches!(r.record_type(), RecordType::A | RecordType::Aaaa))
        );
    }

    #[test]
    fn txt_comparison_ignores_spelling() {
        let a = RecordData::Txt("v=DKIM1; k=ed25519; p=AbC".into());
        let b = RecordData::Txt("v=DKIM1;k=ed25519;p=AbC;".into());
        assert_eq!(a.key(), b.key());
        let c = RecordData::Txt("v=DKIM1; k=ed25519; p=abc".into());
        assert_ne!(a.key(), c.key(), "keys are case-sensitive");
        let s1 = RecordData::Txt("v=spf1 mx -all".into());
        let s2 = RecordData::Txt("V=SPF1  MX   -all ".into());
        assert_eq!(s1.key(), s2.key());
        assert!(s2.is_spf());
        assert!(!RecordData::Txt("v=spf10 mx".into()).is_spf());
    }
}
