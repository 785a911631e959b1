//! The DNS queries SPF makes (RFC 7208 §4.4, §5), and their answer over
//! `hickory-resolver`.
//!
//! Names are handed over as text, labels separated by dots and without the
//! root dot. SPF targets come from macro expansion and may hold any octet a
//! DNS label can (spaces, `:`, `%`…), so the resolver implementation builds
//! its query names label by label from the raw octets rather than parsing
//! them as presentation format.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_resolver::TokioResolver;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};

/// A DNS query failed in a way that may pass: a timeout, `SERVFAIL`, a
/// refused query. (A name that does not exist, or has no records of the
/// type, is an empty answer instead.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DnsFailure;

/// An answer: the records, empty for `NXDOMAIN` and for no data (a "void
/// lookup", RFC 7208 §4.6.4).
pub(crate) type Answer<T> = Result<Vec<T>, DnsFailure>;

/// The lookups `check_host()` needs.
pub(crate) trait SpfLookup: Sync {
    /// The TXT records at `name`, each with its strings joined with nothing
    /// between them (RFC 7208 §3.3).
    fn txt(&self, name: &str) -> impl Future<Output = Answer<Vec<u8>>> + Send;

    /// The A records at `name`.
    fn a(&self, name: &str) -> impl Future<Output = Answer<Ipv4Addr>> + Send;

    /// The AAAA records at `name`.
    fn aaaa(&self, name: &str) -> impl Future<Output = Answer<Ipv6Addr>> + Send;

    /// The exchanges of the MX records at `name`, most preferred first; the
    /// root (a null MX, RFC 7505) as the empty string.
    fn mx(&self, name: &str) -> impl Future<Output = Answer<String>> + Send;

    /// The names the PTR records for `ip` point to.
    fn ptr(&self, ip: IpAddr) -> impl Future<Output = Answer<String>> + Send;
}

impl SpfLookup for TokioResolver {
    async fn txt(&self, name: &str) -> Answer<Vec<u8>> {
        let answer = query(self, name, RecordType::TXT).await?;
        Ok(answer
            .iter()
            .filter_map(|data| match data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .flat_map(|s| s.iter().copied())
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    async fn a(&self, name: &str) -> Answer<Ipv4Addr> {
        let answer = query(self, name, RecordType::A).await?;
        Ok(answer
            .iter()
            .filter_map(|data| match data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect())
    }

    async fn aaaa(&self, name: &str) -> Answer<Ipv6Addr> {
        let answer = query(self, name, RecordType::AAAA).await?;
        Ok(answer
            .iter()
            .filter_map(|data| match data {
                RData::AAAA(aaaa) => Some(aaaa.0),
                _ => None,
            })
            .collect())
    }

    async fn mx(&self, name: &str) -> Answer<String> {
        let answer = query(self, name, RecordType::MX).await?;
        let mut exchanges: Vec<(u16, String)> = answer
            .iter()
            .filter_map(|data| match data {
                RData::MX(mx) => Some((mx.preference, name_text(&mx.exchange))),
                _ => None,
            })
            .collect();
        exchanges.sort_by_key(|(preference, _)| *preference);
        Ok(exchanges.into_iter().map(|(_, name)| name).collect())
    }

    async fn ptr(&self, ip: IpAddr) -> Answer<String> {
        let answer = query(self, &reverse_name(ip), RecordType::PTR).await?;
        Ok(answer
            .iter()
            .filter_map(|data| match data {
                RData::PTR(ptr) => Some(name_text(&ptr.0)),
                _ => None,
            })
            .collect())
    }
}

/// One query, its answer records' data (CNAMEs followed by the resolver).
async fn query(resolver: &TokioResolver, name: &str, kind: RecordType) -> Answer<RData> {
    // A name that cannot be put in a query (an empty or over-long label)
    // names nothing.
    let Some(name) = query_name(name) else {
        return Ok(Vec::new());
    };
    match resolver.lookup(name, kind).await {
        Ok(lookup) => Ok(lookup
            .answers()
            .iter()
            .filter(|record| record.record_type() == kind)
            .map(|record| record.data.clone())
            .collect()),
        Err(NetError::Dns(DnsError::NoRecordsFound(none)))
            if matches!(
                none.response_code,
                ResponseCode::NoError | ResponseCode::NXDomain
            ) =>
        {
            Ok(Vec::new())
        }
        Err(error) => {
            tracing::debug!(%error, ?kind, "SPF: DNS query failed");
            Err(DnsFailure)
        }
    }
}

/// A fully qualified query name from dot-separated labels, taken as raw
/// octets.
fn query_name(name: &str) -> Option<Name> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return None;
    }
    Name::from_labels(name.split('.').map(str::as_bytes)).ok()
}

/// A name from an answer as text: its labels joined with dots, without the
/// root dot.
fn name_text(name: &Name) -> String {
    name.iter()
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(".")
}

/// The `in-addr.arpa` or `ip6.arpa` name for `ip`.
pub(crate) fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut name = String::with_capacity(73);
            for byte in v6.octets().iter().rev() {
                for nibble in [byte & 0x0f, byte >> 4] {
                    name.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                    name.push('.');
                }
            }
            name.push_str("ip6.arpa");
            name
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("192.0.2.3".parse().unwrap()),
            "3.2.0.192.in-addr.arpa"
        );
        assert_eq!(
            reverse_name("2001:db8::cb01".parse().unwrap()),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }

    #[test]
    fn query_names_take_raw_labels() {
        let name = query_name("macro%percent  space%20url-space.example.com").unwrap();
        assert!(name.is_fqdn());
        assert_eq!(name.num_labels(), 3);
        assert_eq!(
            name_text(&name),
            "macro%percent  space%20url-space.example.com"
        );
        assert_eq!(
            name_text(&query_name("foo:bar/baz.example.com.").unwrap()),
            "foo:bar/baz.example.com"
        );
        assert!(query_name("a..example.com").is_none());
        assert!(query_name(&format!("{}.example.com", "a".repeat(64))).is_none());
        assert!(query_name("").is_none());
        assert_eq!(name_text(&Name::root()), "");
    }
}
