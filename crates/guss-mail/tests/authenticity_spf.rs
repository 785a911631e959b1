#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! The RFC 7208 SPF test suite (openspf.org, release 2014.04, with the 2019
//! additions, as shipped in the pyspf 2.0.14 source package) against
//! [`Verifier::check_sender`].
//!
//! Each scenario's zone data is served by a small DNS server on the loopback
//! interface, which answers the way the suite's own driver (pyspf's
//! `testspf.py`) does: `SPF` records double as `TXT` records unless the name
//! has its own `TXT` entries, `TIMEOUT` makes queries for types the name does
//! not hold go unanswered, names that are not listed do not exist (those
//! under `error.` time out), and a `CNAME` is followed one level. Names are
//! taken as the suite writes them, label by label, so that names with
//! spaces, `:` or `/` are served too. The verifier resolves through that
//! server with a fresh cache for every case.
//!
//! Every case runs, and every case must give one of the results the suite
//! allows, and the explanation where the suite gives one.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

mod support;

use guss_mail::authenticity::Verifier;
use mail_auth::hickory_resolver::proto::rr::rdata::{A, AAAA, CNAME, MX, PTR, TXT};
use mail_auth::hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use support::dns::{Answer, serve};
use yaml_rust2::{Yaml, YamlLoader};

const SUITE: &str = include_str!("data/rfc7208-tests.yml");

/// How long the verifier waits for an answer; `TIMEOUT` cases wait this long.
/// Long enough that a busy machine never turns a slow answer into a timeout.
const DNS_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
enum Entry {
    Timeout,
    Record(String, Value),
}

#[derive(Debug, Clone)]
enum Value {
    Text(Vec<String>),
    Scalar(String),
    Mx(u16, String),
}

/// A scenario's zone, shaped as pyspf's `testspf.py` shapes it.
#[derive(Debug, Default)]
struct Zone {
    names: HashMap<String, Vec<Entry>>,
}

impl Zone {
    fn load(zonedata: &Yaml) -> Zone {
        let mut zone = Zone::default();
        let Some(names) = zonedata.as_hash() else {
            return zone;
        };
        for (name, entries) in names {
            let name = yaml_text(name).to_lowercase();
            let mut out = Vec::new();
            // `getrdata`: SPF records are also TXT records, unless the name
            // has TXT entries of its own (even `TXT: NONE`).
            let mut generate = true;
            let mut generated = Vec::new();
            for entry in entries.as_vec().into_iter().flatten() {
                if entry.as_str() == Some("TIMEOUT") {
                    out.push(Entry::Timeout);
                    continue;
                }
                let Some(map) = entry.as_hash() else { continue };
                for (kind, value) in map {
                    let kind = yaml_text(kind);
                    let value = match (kind.as_str(), value) {
                        // A record of no strings at all cannot be sent; one
                        // empty string reads the same to SPF (no "v=spf1").
                        ("TXT" | "SPF", Yaml::Array(parts)) if parts.is_empty() => {
                            Value::Text(vec![String::new()])
                        }
                        ("TXT" | "SPF", Yaml::Array(parts)) => {
                            Value::Text(parts.iter().map(yaml_text).collect())
                        }
                        ("TXT" | "SPF", v) => Value::Text(vec![yaml_text(v)]),
                        ("MX", Yaml::Array(parts)) if parts.len() == 2 => Value::Mx(
                            u16::try_from(parts[0].as_i64().unwrap_or(0)).unwrap_or(0),
                            yaml_text(&parts[1]),
                        ),
                        (_, v) => Value::Scalar(yaml_text(v)),
                    };
                    if kind == "TXT" {
                        generate = false;
                    } else if kind == "SPF" && generate {
                        generated.push(value.clone());
                    }
                    let none = matches!(&value, Value::Text(t) if t.len() == 1 && t[0] == "NONE");
                    if !none {
                        out.push(Entry::Record(kind, value));
                    }
                }
            }
            if generate {
                out.extend(
                    generated
                        .into_iter()
                        .map(|v| Entry::Record("TXT".to_owned(), v)),
                );
            }
            zone.names.insert(name, out);
        }
        zone
    }

    /// `DNSLookup` in `testspf.py`.
    fn answer(&self, qname: &Name, qtype: RecordType, level: u8) -> Answer {
        // The labels as sent, unescaped (the zone has names with spaces).
        let key = qname
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect::<Vec<_>>()
            .join(".")
            .to_lowercase();
        let Some(entries) = self.names.get(&key) else {
            return if key.starts_with("error.") {
                Answer::Timeout
            } else {
                Answer::NxDomain
            };
        };
        let wanted = qtype.to_string();
        let mut timeout = true;
        let mut records = Vec::new();
        for entry in entries {
            match entry {
                Entry::Timeout if timeout => return Answer::Timeout,
                Entry::Timeout => break,
                Entry::Record(kind, value) => {
                    if *kind == wanted {
                        timeout = false;
                        if let Some(rdata) = rdata(kind, value) {
                            records.push(Record::from_rdata(qname.clone(), 300, rdata));
                        }
                    } else if kind == "CNAME" {
                        let Some(rdata @ RData::CNAME(_)) = rdata(kind, value) else {
                            continue;
                        };
                        let RData::CNAME(CNAME(target)) = &rdata else {
                            continue;
                        };
                        let target = target.clone();
                        records.push(Record::from_rdata(qname.clone(), 300, rdata));
                        if level == 0 {
                            match self.answer(&target, qtype, 1) {
                                Answer::Timeout => return Answer::Timeout,
                                Answer::NxDomain => {}
                                Answer::Records(more) => records.extend(more),
                            }
                        }
                    }
                }
            }
        }
        Answer::Records(records)
    }
}

/// A name as the suite writes it, label by label as raw octets (the root
/// for an empty name).
fn name(text: &str) -> Option<Name> {
    Name::from_labels(text.split('.').filter(|l| !l.is_empty()).map(str::as_bytes)).ok()
}

fn rdata(kind: &str, value: &Value) -> Option<RData> {
    Some(match (kind, value) {
        ("TXT", Value::Text(parts)) => RData::TXT(TXT::new(parts.clone())),
        ("A", Value::Scalar(ip)) => RData::A(A(ip.parse::<Ipv4Addr>().ok()?)),
        ("AAAA", Value::Scalar(ip)) => RData::AAAA(AAAA(ip.parse::<Ipv6Addr>().ok()?)),
        ("MX", Value::Mx(preference, exchange)) => RData::MX(MX::new(*preference, name(exchange)?)),
        ("PTR", Value::Scalar(target)) => RData::PTR(PTR(name(target)?)),
        ("CNAME", Value::Scalar(target)) => RData::CNAME(CNAME(name(target)?)),
        _ => return None,
    })
}

fn yaml_text(value: &Yaml) -> String {
    match value {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        _ => String::new(),
    }
}

struct Case {
    scenario: String,
    name: String,
    helo: String,
    host: IpAddr,
    mailfrom: String,
    results: Vec<String>,
    explanation: Option<String>,
}

fn cases(doc: &Yaml) -> Vec<Case> {
    let scenario = yaml_text(&doc["description"]);
    let mut out = Vec::new();
    for (name, test) in doc["tests"].as_hash().into_iter().flatten() {
        let results = match &test["result"] {
            Yaml::Array(list) => list.iter().map(yaml_text).collect(),
            one => vec![yaml_text(one)],
        };
        out.push(Case {
            scenario: scenario.clone(),
            name: yaml_text(name),
            helo: yaml_text(&test["helo"]),
            host: yaml_text(&test["host"])
                .parse()
                .expect("every case has a client address"),
            mailfrom: yaml_text(&test["mailfrom"]),
            results,
            explanation: match &test["explanation"] {
                Yaml::BadValue => None,
                v => Some(yaml_text(v)),
            },
        });
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc7208_test_suite() {
    let docs = YamlLoader::load_from_str(SUITE).unwrap();
    let mut total = 0usize;
    let mut failures = Vec::new();

    for doc in &docs {
        let zone = Zone::load(&doc["zonedata"]);
        let (addr, server) = serve(move |name, qtype| zone.answer(name, qtype, 0)).await;
        for case in cases(doc) {
            total += 1;
            // A fresh resolver, so that no answer from another case is cached.
            let verifier = Verifier::with_name_server(addr, DNS_TIMEOUT).unwrap();
            let spf = verifier
                .check_sender(case.host, &case.helo, &case.mailfrom, "receiver.example")
                .await;
            let got = spf.result.as_str();
            let problem = if !case.results.iter().any(|r| r == got) {
                Some(format!("result {got}, expected {:?}", case.results))
            } else {
                // pyspf reports its default explanation as "DEFAULT"; guss
                // gives none when the domain has no usable exp=.
                let ours = spf.explanation.as_deref().unwrap_or("DEFAULT");
                case.explanation
                    .as_deref()
                    .filter(|expected| *expected != ours)
                    .map(|expected| format!("explanation {ours:?}, expected {expected:?}"))
            };
            if let Some(problem) = problem {
                failures.push(format!(
                    "{} ({}): {problem}; mailfrom={:?} helo={:?} host={}",
                    case.name, case.scenario, case.mailfrom, case.helo, case.host
                ));
            }
        }
        server.abort();
    }

    println!(
        "RFC 7208 suite: {} of {total} cases agree with the suite",
        total - failures.len()
    );
    assert_eq!(total, 203, "the suite has 203 cases");
    assert!(
        failures.is_empty(),
        "{} of {total} SPF cases differ from RFC 7208's test suite:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
