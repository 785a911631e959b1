//! Comparing the live DNS with the record set a domain needs.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, Record as WireRecord, RecordType as WireType};
use tokio::task::JoinSet;

use super::records::Group;
use super::{DnsError, Record, RecordData, RecordSet, RecordType};

/// How long one lookup may take, retries included.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(15);

/// At most this many records of one name and type are looked at; a real
/// zone has a handful.
const MAX_RECORDS: usize = 64;

/// Where [`check`] looks records up: the system's resolver, or one name
/// server asked directly (the domain's own authoritative server, or a test
/// server on loopback).
#[derive(Clone)]
pub struct LiveDns {
    resolver: TokioResolver,
}

impl fmt::Debug for LiveDns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveDns").finish_non_exhaustive()
    }
}

impl LiveDns {
    /// The resolver configured for this machine (`/etc/resolv.conf`).
    pub fn system() -> Result<Self, DnsError> {
        let builder =
            TokioResolver::builder_tokio().map_err(|e| DnsError::Resolver(e.to_string()))?;
        let resolver = builder
            .build()
            .map_err(|e| DnsError::Resolver(e.to_string()))?;
        Ok(Self { resolver })
    }

    /// Asks only the name server at `server`, over UDP and TCP, bypassing
    /// the hosts file. A server that does not answer within two seconds is
    /// asked once more, then reported as failing.
    pub fn name_server(server: SocketAddr) -> Result<Self, DnsError> {
        let mut udp = ConnectionConfig::udp();
        udp.port = server.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = server.port();
        let config = ResolverConfig::from_name_servers(vec![NameServerConfig::new(
            server.ip(),
            true,
            vec![udp, tcp],
        )]);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        let options = builder.options_mut();
        options.use_hosts_file = ResolveHosts::Never;
        options.timeout = Duration::from_secs(2);
        options.attempts = 1;
        let resolver = builder
            .build()
            .map_err(|e| DnsError::Resolver(e.to_string()))?;
        Ok(Self { resolver })
    }
}

/// One difference between the live DNS and the record set.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// The name, fully qualified: `_dmarc.example.test.`.
    pub name: String,
    /// The record type.
    pub record_type: RecordType,
    /// What is wrong.
    pub problem: Problem,
    /// What to do, in plain English, with the exact record line to add or
    /// remove on a line of its own (indented by two spaces).
    pub fix: String,
}

/// What is wrong with one name and type.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The record is not there.
    Missing {
        /// The record that should be there.
        expected: Record,
    },
    /// A record is there with another value.
    Different {
        /// What is there.
        found: Record,
        /// What should be there instead.
        expected: Record,
    },
    /// A second SPF record at a name: with two, SPF fails for every message
    /// (RFC 7208 §4.5), even when one of them is right.
    SecondSpf {
        /// The record to remove.
        found: Record,
    },
    /// A record that conflicts with the ones the domain needs: a further
    /// value, or a CNAME where the name needs records of its own.
    Extra {
        /// The record to remove.
        found: Record,
    },
    /// The name servers gave no usable answer.
    LookupFailed {
        /// What went wrong.
        error: String,
    },
}

impl Problem {
    /// A few words on what is wrong: `is missing`.
    pub fn summary(&self) -> &'static str {
        match self {
            Self::Missing { .. } => "is missing",
            Self::Different { .. } => "has a different value",
            Self::SecondSpf { .. } => "has a second SPF record",
            Self::Extra { .. } => "has a record that gets in the way",
            Self::LookupFailed { .. } => "could not be looked up",
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}.\n{}",
            self.name,
            self.record_type,
            self.problem.summary(),
            self.fix
        )
    }
}

/// Looks every record of `expected` up through `dns` and reports each
/// difference; an empty list means the live DNS has everything.
///
/// Values are compared by meaning: names regardless of case, TXT records
/// regardless of how they are split into strings and of the spacing inside
/// tag lists, TTLs not at all. At a name with an SPF record only the
/// `v=spf1` records count; other TXT records there are left alone, but a
/// second SPF record is reported even when the other one is right.
///
/// Lookups run in parallel, each bounded in time; whatever the name servers
/// answer, the result is a list of findings, never a panic.
pub async fn check(expected: &RecordSet, dns: &LiveDns) -> Vec<Finding> {
    dns.resolver.clear_cache();
    let groups = expected.groups();
    let mut lookups = JoinSet::new();
    for (index, group) in groups.iter().enumerate() {
        let resolver = dns.resolver.clone();
        let name = group.name.clone();
        let record_type = group.record_type;
        lookups.spawn(async move { (index, observe(&resolver, &name, record_type).await) });
    }
    let mut observed = HashMap::new();
    while let Some(joined) = lookups.join_next().await {
        if let Ok((index, observation)) = joined {
            observed.insert(index, observation);
        }
    }
    groups
        .iter()
        .enumerate()
        .flat_map(|(index, group)| {
            let observation = observed
                .remove(&index)
                .unwrap_or_else(|| Err("the lookup did not finish".to_owned()));
            compare(group, observation)
        })
        .collect()
}

/// What the live DNS holds for one name and type.
#[derive(Debug, Default)]
pub(crate) struct Observed {
    /// Records of the type asked for, at the name or at the end of its
    /// CNAME chain.
    pub(crate) records: Vec<Record>,
    /// Records at the name itself that keep ours from being there: a CNAME
    /// where the name needs records of another type, or addresses where it
    /// needs to be a CNAME.
    pub(crate) blocking: Vec<Record>,
}

type Observation = Result<Observed, String>;

enum LookupError {
    /// The server answered with an error (refused, server failure…).
    Answered(String),
    /// No usable answer came back.
    Unanswered(String),
}

async fn observe(resolver: &TokioResolver, name: &str, record_type: RecordType) -> Observation {
    let observation = match lookup(resolver, name, record_type).await {
        Ok(observed) if observed.records.is_empty() => Ok(observed),
        Ok(observed) => return Ok(observed),
        // The server answered, with an error: look further, below.
        Err(LookupError::Answered(error)) => Err(error),
        // Nobody answered in time: asking again would only take longer.
        Err(LookupError::Unanswered(error)) => return Err(error),
    };
    let mut blocking = Vec::new();
    if record_type == RecordType::Cname {
        // No CNAME: addresses at the name would keep one from being added.
        for other in [RecordType::A, RecordType::Aaaa] {
            if let Ok(found) = lookup(resolver, name, other).await {
                let fqdn = super::fqdn(name);
                blocking.extend(found.records.into_iter().filter(|r| r.name == fqdn));
            }
        }
    } else {
        // Nothing, or an error: a CNAME at the name whose end cannot be
        // resolved, or holds nothing of the type, looks just like that. Ask
        // for the CNAME itself, so the report can name what is in the way.
        if let Ok(found) = lookup(resolver, name, RecordType::Cname).await {
            blocking.extend(found.records.into_iter().take(1));
        }
    }
    if blocking.is_empty() {
        return observation;
    }
    Ok(Observed {
        records: Vec::new(),
        blocking,
    })
}

async fn lookup(
    resolver: &TokioResolver,
    name: &str,
    record_type: RecordType,
) -> Result<Observed, LookupError> {
    let wire_type = wire_type(record_type);
    let lookup = match tokio::time::timeout(LOOKUP_TIMEOUT, resolver.lookup(name, wire_type)).await
    {
        Err(_) => {
            return Err(LookupError::Unanswered(format!(
                "no answer within {} seconds",
                LOOKUP_TIMEOUT.as_secs()
            )));
        }
        Ok(Err(e)) if e.is_no_records_found() => return Ok(Observed::default()),
        Ok(Err(e @ NetError::Dns(_))) => return Err(LookupError::Answered(e.to_string())),
        Ok(Err(e)) => return Err(LookupError::Unanswered(e.to_string())),
        Ok(Ok(lookup)) => lookup,
    };
    let mut observed = Observed::default();
    for answer in lookup.answers().iter().take(MAX_RECORDS * 2) {
        let Some(record) = from_wire(answer) else {
            continue;
        };
        if record.record_type() == record_type {
            if observed.records.len() < MAX_RECORDS {
                observed.records.push(record);
            }
        } else if record.record_type() == RecordType::Cname
            && record.name == super::fqdn(name)
            && observed.blocking.is_empty()
        {
            observed.blocking.push(record);
        }
    }
    Ok(observed)
}

pub(crate) fn wire_type(record_type: RecordType) -> WireType {
    match record_type {
        RecordType::A => WireType::A,
        RecordType::Aaaa => WireType::AAAA,
        RecordType::Cname => WireType::CNAME,
        RecordType::Mx => WireType::MX,
        RecordType::Txt => WireType::TXT,
        RecordType::Srv => WireType::SRV,
        RecordType::Caa => WireType::CAA,
    }
}

fn from_wire(record: &WireRecord) -> Option<Record> {
    let data = match &record.data {
        RData::A(a) => RecordData::A(a.0),
        RData::AAAA(aaaa) => RecordData::Aaaa(aaaa.0),
        RData::CNAME(cname) => RecordData::Cname(cname.0.to_ascii()),
        RData::MX(mx) => RecordData::Mx {
            preference: mx.preference,
            exchange: mx.exchange.to_ascii(),
        },
        RData::TXT(txt) => RecordData::Txt(
            txt.txt_data
                .iter()
                .map(|chunk| String::from_utf8_lossy(chunk))
                .collect(),
        ),
        RData::SRV(srv) => RecordData::Srv {
            priority: srv.priority,
            weight: srv.weight,
            port: srv.port,
            target: srv.target.to_ascii(),
        },
        RData::CAA(caa) => RecordData::Caa {
            flags: if caa.issuer_critical { 0x80 } else { 0 } | caa.reserved_flags,
            tag: caa.tag.clone(),
            value: String::from_utf8_lossy(&caa.value).into_owned(),
        },
        _ => return None,
    };
    Some(Record::new(&record.name.to_ascii(), record.ttl, data))
}

/// The findings for one name and type, given what the live DNS holds.
pub(crate) fn compare(group: &Group<'_>, observation: Observation) -> Vec<Finding> {
    let finding = |problem: Problem, fix: String| Finding {
        name: group.name.clone(),
        record_type: group.record_type,
        problem,
        fix,
    };
    let observed = match observation {
        Ok(observed) => observed,
        Err(error) => {
            let fix = format!(
                "The name servers gave no usable answer ({error}). Check that the domain's \
                 name servers are reachable and answer for {}, then run the check again.",
                group.name
            );
            return vec![finding(Problem::LookupFailed { error }, fix)];
        }
    };
    let spf = group.is_spf();
    let expected: Vec<&Record> = group.records.clone();
    let found: Vec<Record> = observed
        .records
        .into_iter()
        .filter(|r| !spf || r.data.is_spf())
        .collect();
    let expected_keys: Vec<String> = expected.iter().map(|r| r.data.key()).collect();
    let found_keys: Vec<String> = found.iter().map(|r| r.data.key()).collect();
    let missing: Vec<&Record> = expected
        .iter()
        .zip(&expected_keys)
        .filter(|(_, key)| !found_keys.contains(key))
        .map(|(r, _)| *r)
        .collect();

    let mut findings = Vec::new();
    // A CNAME at the name hides whatever records the name has of its own.
    // It is fine only when the records at its end are exactly right.
    if !observed.blocking.is_empty() {
        let extra_at_target = found_keys.iter().any(|k| !expected_keys.contains(k));
        if group.record_type != RecordType::Cname && missing.is_empty() && !extra_at_target {
            return findings;
        }
        let purpose = expected.first().map_or("", |r| r.purpose());
        for found in observed.blocking {
            let fix = if group.record_type == RecordType::Cname {
                format!(
                    "Remove this record: {} must be an alias (CNAME) ({purpose}), and a name \
                     that is an alias can hold no other record. If your DNS provider does not \
                     list it, it comes from a wildcard (*) record and can stay:\n  {found}",
                    group.name,
                )
            } else {
                format!(
                    "Remove this record: {} needs its own {} record ({purpose}), and a name \
                     that is an alias (CNAME) can hold no other record:\n  {found}",
                    group.name, group.record_type,
                )
            };
            findings.push(finding(Problem::Extra { found }, fix));
        }
        for record in expected {
            findings.push(finding(
                Problem::Missing {
                    expected: record.clone(),
                },
                add_fix(record),
            ));
        }
        return findings;
    }

    let extra: Vec<Record> = found
        .into_iter()
        .zip(&found_keys)
        .filter(|(_, key)| !expected_keys.contains(key))
        .map(|(r, _)| r)
        .collect();
    let mut extra = extra.into_iter();
    for record in missing {
        match extra.next() {
            Some(found) => {
                let fix = format!(
                    "Replace this record ({}):\n  {found}\nwith this one:\n  {record}",
                    record.purpose()
                );
                findings.push(finding(
                    Problem::Different {
                        found,
                        expected: record.clone(),
                    },
                    fix,
                ));
            }
            None => findings.push(finding(
                Problem::Missing {
                    expected: record.clone(),
                },
                add_fix(record),
            )),
        }
    }
    for found in extra {
        if spf {
            let fix = format!(
                "Remove this record: a name may have only one SPF record, and with two, \
                 receivers treat the SPF check of every message as failed:\n  {found}"
            );
            findings.push(finding(Problem::SecondSpf { found }, fix));
        } else {
            let fix = format!(
                "Remove this record: only the {} record{} listed by guss belong at this name:\n  {found}",
                group.record_type,
                if group.records.len() == 1 { "" } else { "s" },
            );
            findings.push(finding(Problem::Extra { found }, fix));
        }
    }
    findings
}

fn add_fix(record: &Record) -> String {
    let mut fix = format!("Add this record ({}):\n  {record}", record.purpose());
    if record.record_type() == RecordType::Cname {
        fix.push_str(&format!(
            "\nA name that is an alias (CNAME) can hold no other record: if your DNS provider \
             lists other records for {}, remove them first.",
            record.name
        ));
    }
    fix
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{MailDomain, records};

    fn set() -> RecordSet {
        let mut d = MailDomain::new("example.test", "mail.example.test", "web.example.test");
        d.mail_host_addrs = vec!["192.0.2.25".parse().unwrap()];
        records(&d)
    }

    fn group<'a>(set: &'a RecordSet, name: &str, t: RecordType) -> Group<'a> {
        set.groups()
            .into_iter()
            .find(|g| g.name == name && g.record_type == t)
            .unwrap()
    }

    fn line(text: &str) -> Record {
        text.parse().unwrap()
    }

    fn found(lines: &[&str]) -> Observation {
        Ok(Observed {
            records: lines.iter().map(|l| line(l)).collect(),
            blocking: Vec::new(),
        })
    }

    #[test]
    fn an_empty_zone_is_missing_everything() {
        let set = set();
        let findings: Vec<Finding> = set
            .groups()
            .iter()
            .flat_map(|g| compare(g, Ok(Observed::default())))
            .collect();
        assert_eq!(findings.len(), set.len());
        for f in &findings {
            let Problem::Missing { expected } = &f.problem else {
                panic!("{f}");
            };
            assert!(f.fix.contains(&format!("\n  {expected}")), "{}", f.fix);
        }
    }

    #[test]
    fn a_matching_zone_has_no_findings_whatever_the_spelling() {
        let set = set();
        let g = group(&set, "example.test.", RecordType::Txt);
        let f = compare(
            &g,
            found(&[
                "EXAMPLE.test. 300 IN TXT \"v=spf1 ip4:192.0.2.25 \" \"mx -all\"",
                "example.test. 300 IN TXT \"google-site-verification=abc\"",
            ]),
        );
        assert!(f.is_empty(), "{f:?}");
        let g = group(&set, "_dmarc.example.test.", RecordType::Txt);
        let f = compare(
            &g,
            found(&[
                "_dmarc.example.test. 1 IN TXT \"v=DMARC1;p=quarantine;\" \"rua=mailto:postmaster@example.test\"",
            ]),
        );
        assert!(f.is_empty(), "{f:?}");
        let g = group(&set, "_imaps._tcp.example.test.", RecordType::Srv);
        let f = compare(
            &g,
            found(&["_imaps._tcp.example.test. 1 IN SRV 0 1 993 MAIL.example.test."]),
        );
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn a_second_spf_record_is_reported_even_when_one_matches() {
        let set = set();
        let g = group(&set, "example.test.", RecordType::Txt);
        let f = compare(
            &g,
            found(&[
                "example.test. 300 IN TXT \"v=spf1 ip4:192.0.2.25 mx -all\"",
                "example.test. 300 IN TXT \"v=spf1 include:old.example ~all\"",
            ]),
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(matches!(f[0].problem, Problem::SecondSpf { .. }));
        assert!(f[0].fix.starts_with("Remove this record"));
        assert!(
            f[0].fix
                .ends_with("\n  example.test. 300 IN TXT \"v=spf1 include:old.example ~all\"")
        );

        // Two wrong ones: one to replace, one to remove.
        let f = compare(
            &g,
            found(&[
                "example.test. 300 IN TXT \"v=spf1 a -all\"",
                "example.test. 300 IN TXT \"v=spf1 include:old.example ~all\"",
            ]),
        );
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(matches!(f[0].problem, Problem::Different { .. }));
        assert!(matches!(f[1].problem, Problem::SecondSpf { .. }));
    }

    #[test]
    fn a_different_value_says_what_to_replace() {
        let set = set();
        let g = group(&set, "example.test.", RecordType::Mx);
        let f = compare(&g, found(&["example.test. 300 IN MX 10 mx.old.example."]));
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].fix,
            "Replace this record (MX: the server that receives the domain's mail):\n  \
             example.test. 300 IN MX 10 mx.old.example.\nwith this one:\n  \
             example.test. 3600 IN MX 10 mail.example.test."
        );
        let f = compare(
            &g,
            found(&[
                "example.test. 300 IN MX 10 mail.example.test.",
                "example.test. 300 IN MX 20 backup.old.example.",
            ]),
        );
        assert_eq!(f.len(), 1);
        assert!(matches!(f[0].problem, Problem::Extra { .. }));
    }

    #[test]
    fn a_cname_in_the_way_is_reported() {
        let set = set();
        let g = group(&set, "_dmarc.example.test.", RecordType::Txt);
        let f = compare(
            &g,
            Ok(Observed {
                records: vec![line(
                    "dmarc.provider.example. 60 IN TXT \"v=DMARC1; p=none\"",
                )],
                blocking: vec![line(
                    "_dmarc.example.test. 60 IN CNAME dmarc.provider.example.",
                )],
            }),
        );
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(matches!(f[0].problem, Problem::Extra { .. }));
        assert!(f[0].fix.contains("CNAME dmarc.provider.example."));
        assert!(matches!(f[1].problem, Problem::Missing { .. }));
    }

    #[test]
    fn addresses_where_an_alias_belongs_are_reported() {
        let set = set();
        let g = group(&set, "autoconfig.example.test.", RecordType::Cname);
        let f = compare(
            &g,
            Ok(Observed {
                records: Vec::new(),
                blocking: vec![line("autoconfig.example.test. 60 IN A 192.0.2.99")],
            }),
        );
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(matches!(f[0].problem, Problem::Extra { .. }));
        assert!(
            f[0].fix
                .ends_with("\n  autoconfig.example.test. 60 IN A 192.0.2.99")
        );
        assert!(matches!(f[1].problem, Problem::Missing { .. }));
    }

    #[test]
    fn a_failed_lookup_is_a_finding() {
        let set = set();
        let g = group(&set, "example.test.", RecordType::Mx);
        let f = compare(&g, Err("timed out".into()));
        assert_eq!(f.len(), 1);
        assert!(matches!(f[0].problem, Problem::LookupFailed { .. }));
        assert!(
            f[0].to_string()
                .starts_with("example.test. MX could not be looked up.")
        );
    }

    proptest::proptest! {
        #[test]
        fn anything_found_gives_findings_not_panics(
            texts in proptest::collection::vec(".{0,600}", 0..8),
            numbers in proptest::collection::vec(proptest::num::u16::ANY, 0..8),
        ) {
            let set = set();
            for g in set.groups() {
                let mut records = Vec::new();
                for text in &texts {
                    records.push(Record::new(&g.name, 1, RecordData::Txt(text.clone())));
                    records.push(Record::new(&g.name, 1, RecordData::Cname(text.clone())));
                }
                for n in &numbers {
                    records.push(Record::new(&g.name, 1, RecordData::Srv {
                        priority: *n, weight: *n, port: *n, target: texts.first().cloned().unwrap_or_default(),
                    }));
                }
                records.retain(|r| r.record_type() == g.record_type);
                let f = compare(&g, Ok(Observed { records, blocking: Vec::new() }));
                for finding in f {
                    let _ = finding.to_string();
                }
            }
        }
    }
}
