//! Sender Policy Framework: `check_host()` of RFC 7208.
//!
//! [`check_host`] evaluates the SPF record of a domain for a client address
//! and a sender, through a [`SpfLookup`] that answers the DNS queries:
//!
//! - §4.3: a malformed domain gives `none` before any query;
//! - §4.4, §4.5: a DNS error fetching the record gives `temperror`, no
//!   `v=spf1` record `none`, more than one `permerror`;
//! - §4.6: the record is parsed by the grammar of §12 before evaluation
//!   ([`record`]), every syntax error a `permerror`;
//! - §5: the mechanisms, with the client's family deciding A or AAAA, and an
//!   IPv4-mapped IPv6 client counted as IPv4 (§5, last paragraph);
//! - §4.6.4: at most ten terms that query DNS, ten MX names per `mx` (more
//!   is a `permerror`), ten PTR names per `ptr` (the rest ignored), two void
//!   lookups;
//! - §6: `redirect=`, and `exp=` fetched once, after the result is known,
//!   with its macros (§7, [`macros`]) expanded.
//!
//! Every input is bounded: records of at most 4 KiB, macro expansions of
//! at most 8 KiB, and the recursion through `include` and `redirect` by the
//! lookup limit. Nothing here panics on any answer.

mod lookup;
mod macros;
mod record;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) use lookup::{Answer as LookupAnswer, DnsFailure, SpfLookup};

use macros::{MacroEnv, MacroString};
use record::{Mechanism, Qualifier, Record};

/// RFC 7208 §4.6.4: terms that cause DNS queries.
const MAX_DNS_TERMS: u32 = 10;
/// RFC 7208 §4.6.4: lookups that answer `NXDOMAIN` or no records.
const MAX_VOID_LOOKUPS: u32 = 2;
/// RFC 7208 §4.6.4: MX names per `mx`, PTR names per `ptr` or `%{p}`.
const MAX_NAMES: usize = 10;
/// An explanation longer than this is not used.
const MAX_EXPLANATION: usize = 2048;
/// RFC 1035: the longest name, in text form without the root dot.
const MAX_NAME_LEN: usize = 253;

/// The result of `check_host()` (RFC 7208 §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SpfResult {
    /// No SPF record, or no domain to check.
    None,
    /// The domain makes no assertion about the client.
    Neutral,
    /// The client is authorised.
    Pass,
    /// The client is not authorised.
    Fail,
    /// Probably not authorised.
    SoftFail,
    /// A transient (DNS) error.
    TempError,
    /// The domain's records cannot be interpreted.
    PermError,
}

/// The identity to check and what the macros need (RFC 7208 §4.1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Identity<'a> {
    /// The client's address.
    pub(crate) ip: IpAddr,
    /// `<sender>`: the reverse-path, or `postmaster@<HELO name>` when it is
    /// null or for the HELO identity.
    pub(crate) sender: &'a str,
    /// `<domain>`: the domain of `sender`, or the HELO name.
    pub(crate) domain: &'a str,
    /// The HELO/EHLO name, as given (`%{h}`).
    pub(crate) helo: &'a str,
    /// This host's name (`%{r}`).
    pub(crate) receiver: &'a str,
}

/// The outcome of [`check_host`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// The result.
    pub(crate) result: SpfResult,
    /// For `fail`: the domain's explanation (`exp=`), when it has a usable
    /// one.
    pub(crate) explanation: Option<String>,
}

impl Outcome {
    fn of(result: SpfResult) -> Outcome {
        Outcome {
            result,
            explanation: None,
        }
    }
}

/// RFC 7208 §4.3: a multi-label domain name whose labels are 1 to 63
/// octets (a single trailing dot allowed), at most 253 octets in all; not
/// an address literal.
pub(crate) fn is_checkable_domain(domain: &str) -> bool {
    if domain.starts_with('[') {
        return false;
    }
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    domain.len() <= MAX_NAME_LEN && domain.contains('.') && has_valid_labels(domain)
}

/// Every label 1 to 63 octets.
fn has_valid_labels(name: &str) -> bool {
    name.split('.').all(|label| (1..=63).contains(&label.len()))
}

/// `check_host()` (RFC 7208 §4) for `identity`.
pub(crate) async fn check_host<L: SpfLookup>(lookup: &L, identity: &Identity<'_>) -> Outcome {
    // RFC 7208 §5: an IPv4-mapped IPv6 address is an IPv4 client.
    let ip = match identity.ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(identity.ip, IpAddr::V4),
        IpAddr::V4(_) => identity.ip,
    };
    if !is_checkable_domain(identity.domain) {
        return Outcome::of(SpfResult::None);
    }
    let domain = identity.domain.strip_suffix('.').unwrap_or(identity.domain);
    // RFC 7208 §4.3: a sender without a local-part is postmaster's.
    let (local, sender_domain) = match identity.sender.rsplit_once('@') {
        Some(("", domain)) => ("postmaster", domain),
        Some(parts) => parts,
        None => ("postmaster", identity.sender),
    };
    let mut evaluator = Evaluator {
        lookup,
        ip,
        sender: identity.sender,
        local,
        sender_domain,
        helo: identity.helo,
        receiver: identity.receiver,
        timestamp: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        dns_terms: 0,
        void_lookups: 0,
    };
    let evaluation = evaluator.check(domain.to_owned()).await;
    let explanation = match (evaluation.result, &evaluation.explanation) {
        (SpfResult::Fail, Some(source)) => evaluator.explain(source).await,
        _ => None,
    };
    Outcome {
        result: evaluation.result,
        explanation,
    }
}

/// What evaluating one domain's record gave.
struct Evaluation {
    result: SpfResult,
    /// For `fail`: the `exp=` of the record that decided it, and that
    /// record's domain (`%{d}` in the explanation).
    explanation: Option<(MacroString, String)>,
}

impl Evaluation {
    fn of(result: SpfResult) -> Evaluation {
        Evaluation {
            result,
            explanation: None,
        }
    }
}

/// Why evaluation stops early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abort {
    Temp,
    Perm,
}

impl Abort {
    fn result(self) -> SpfResult {
        match self {
            Abort::Temp => SpfResult::TempError,
            Abort::Perm => SpfResult::PermError,
        }
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The state of one `check_host()`, shared by its recursive evaluations
/// (the limits count across `include` and `redirect`).
struct Evaluator<'a, L> {
    lookup: &'a L,
    ip: IpAddr,
    sender: &'a str,
    local: &'a str,
    sender_domain: &'a str,
    helo: &'a str,
    receiver: &'a str,
    timestamp: u64,
    dns_terms: u32,
    void_lookups: u32,
}

impl<'a, L: SpfLookup> Evaluator<'a, L> {
    /// Fetches, selects, parses and evaluates `domain`'s record.
    fn check(&mut self, domain: String) -> BoxFuture<'_, Evaluation> {
        Box::pin(async move {
            let records = match self.lookup.txt(&domain).await {
                Ok(records) => records,
                // RFC 7208 §4.4.
                Err(DnsFailure) => return Evaluation::of(SpfResult::TempError),
            };
            let mut spf = records.iter().filter(|r| record::is_spf_record(r));
            let text = match (spf.next(), spf.next()) {
                (None, _) => return Evaluation::of(SpfResult::None),
                (Some(text), None) => text,
                // RFC 7208 §4.5.
                (Some(_), Some(_)) => {
                    tracing::debug!(%domain, "SPF: several v=spf1 records");
                    return Evaluation::of(SpfResult::PermError);
                }
            };
            let record = match record::parse(text) {
                Ok(record) => record,
                Err(error) => {
                    tracing::debug!(%domain, %error, "SPF: record does not parse");
                    return Evaluation::of(SpfResult::PermError);
                }
            };
            self.evaluate(record, domain).await
        })
    }

    /// RFC 7208 §4.6.2, §6.1: the first matching mechanism decides, then
    /// `redirect=`, then `neutral`.
    async fn evaluate(&mut self, record: Record, domain: String) -> Evaluation {
        for directive in &record.directives {
            match self.matches(&directive.mechanism, &domain).await {
                Ok(false) => {}
                Ok(true) => {
                    let result = match directive.qualifier {
                        Qualifier::Pass => SpfResult::Pass,
                        Qualifier::Fail => SpfResult::Fail,
                        Qualifier::SoftFail => SpfResult::SoftFail,
                        Qualifier::Neutral => SpfResult::Neutral,
                    };
                    let explanation = match (result, record.explanation) {
                        (SpfResult::Fail, Some(spec)) => Some((spec, domain)),
                        _ => None,
                    };
                    return Evaluation {
                        result,
                        explanation,
                    };
                }
                Err(abort) => return Evaluation::of(abort.result()),
            }
        }
        match &record.redirect {
            Some(spec) if !record.has_all() => {
                if let Err(abort) = self.count_dns_term() {
                    return Evaluation::of(abort.result());
                }
                // RFC 7208 §6.1: a malformed target, or one without a
                // record, is a permerror; the explanation is the target's.
                let Some(target) = self.target(spec, &domain).await else {
                    return Evaluation::of(SpfResult::PermError);
                };
                let inner = self.check(target).await;
                if inner.result == SpfResult::None {
                    Evaluation::of(SpfResult::PermError)
                } else {
                    inner
                }
            }
            _ => Evaluation::of(SpfResult::Neutral),
        }
    }

    /// Whether `mechanism` matches the client (RFC 7208 §5).
    async fn matches(&mut self, mechanism: &Mechanism, domain: &str) -> Result<bool, Abort> {
        if mechanism.queries_dns() {
            self.count_dns_term()?;
        }
        match mechanism {
            Mechanism::All => Ok(true),
            Mechanism::Ip4(network, prefix) => Ok(match self.ip {
                IpAddr::V4(ip) => in_network4(ip, *network, *prefix),
                IpAddr::V6(_) => false,
            }),
            Mechanism::Ip6(network, prefix) => Ok(match self.ip {
                IpAddr::V6(ip) => in_network6(ip, *network, *prefix),
                IpAddr::V4(_) => false,
            }),
            Mechanism::Include(spec) => {
                // RFC 7208 §5.2: pass matches; fail, softfail and neutral do
                // not; temperror and permerror propagate; none is a
                // permerror. The included record's exp= is not used.
                let Some(target) = self.target(spec, domain).await else {
                    return Err(Abort::Perm);
                };
                match self.check(target).await.result {
                    SpfResult::Pass => Ok(true),
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => Ok(false),
                    SpfResult::TempError => Err(Abort::Temp),
                    SpfResult::PermError | SpfResult::None => Err(Abort::Perm),
                }
            }
            Mechanism::A {
                domain: spec,
                cidr4,
                cidr6,
            } => {
                let Some(target) = self.optional_target(spec.as_ref(), domain).await else {
                    return Ok(false);
                };
                let found = self.addresses_match(&target, *cidr4, *cidr6, true).await?;
                Ok(found.unwrap_or(false))
            }
            Mechanism::Mx {
                domain: spec,
                cidr4,
                cidr6,
            } => {
                let Some(target) = self.optional_target(spec.as_ref(), domain).await else {
                    return Ok(false);
                };
                let exchanges = self.lookup.mx(&target).await.map_err(|_| Abort::Temp)?;
                if exchanges.is_empty() {
                    self.count_void()?;
                    return Ok(false);
                }
                // A null MX (the root) names no host.
                let exchanges: Vec<String> =
                    exchanges.into_iter().filter(|n| !n.is_empty()).collect();
                // RFC 7208 §4.6.4: more than ten MX names is a permerror.
                if exchanges.len() > MAX_NAMES {
                    return Err(Abort::Perm);
                }
                for exchange in &exchanges {
                    if self
                        .addresses_match(exchange, *cidr4, *cidr6, false)
                        .await?
                        == Some(true)
                    {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Mechanism::Ptr(spec) => {
                let Some(target) = self.optional_target(spec.as_ref(), domain).await else {
                    return Ok(false);
                };
                // RFC 7208 §5.5: a DNS error on the PTR query is no match.
                let Ok(names) = self.lookup.ptr(self.ip).await else {
                    return Ok(false);
                };
                if names.is_empty() {
                    self.count_void()?;
                    return Ok(false);
                }
                let target = target.to_ascii_lowercase();
                let suffix = format!(".{target}");
                for name in names.iter().take(MAX_NAMES) {
                    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
                    if (name == target || name.ends_with(&suffix)) && self.validates(&name).await {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Mechanism::Exists(spec) => {
                let Some(target) = self.target(spec, domain).await else {
                    return Ok(false);
                };
                // RFC 7208 §5.7: an A query, whatever the client's family.
                let addresses = self.lookup.a(&target).await.map_err(|_| Abort::Temp)?;
                if addresses.is_empty() {
                    self.count_void()?;
                    return Ok(false);
                }
                Ok(true)
            }
        }
    }

    /// Whether any A (IPv4 client) or AAAA (IPv6 client) record of `name`
    /// is in the client's network; `None` for no records. A DNS error is a
    /// temperror (RFC 7208 §5).
    async fn addresses_match(
        &mut self,
        name: &str,
        cidr4: u8,
        cidr6: u8,
        count_void: bool,
    ) -> Result<Option<bool>, Abort> {
        let found = match self.ip {
            IpAddr::V4(ip) => {
                let addresses = self.lookup.a(name).await.map_err(|_| Abort::Temp)?;
                (!addresses.is_empty())
                    .then(|| addresses.iter().any(|a| in_network4(ip, *a, cidr4)))
            }
            IpAddr::V6(ip) => {
                let addresses = self.lookup.aaaa(name).await.map_err(|_| Abort::Temp)?;
                (!addresses.is_empty())
                    .then(|| addresses.iter().any(|a| in_network6(ip, *a, cidr6)))
            }
        };
        if found.is_none() && count_void {
            self.count_void()?;
        }
        Ok(found)
    }

    /// Whether `name` has an address record for the client (the
    /// validation of RFC 7208 §5.5); DNS errors make it not validate.
    async fn validates(&self, name: &str) -> bool {
        match self.ip {
            IpAddr::V4(ip) => self
                .lookup
                .a(name)
                .await
                .is_ok_and(|addresses| addresses.contains(&ip)),
            IpAddr::V6(ip) => self
                .lookup
                .aaaa(name)
                .await
                .is_ok_and(|addresses| addresses.contains(&ip)),
        }
    }

    /// `%{p}` (RFC 7208 §7.3): a validated name of the client; `domain`
    /// itself if it is one, else a subdomain of it, else the first. `None`
    /// becomes "unknown".
    async fn validated_name(&self, domain: &str) -> Option<String> {
        let names = self.lookup.ptr(self.ip).await.ok()?;
        let mut validated = Vec::new();
        for name in names.iter().take(MAX_NAMES) {
            let name = name.strip_suffix('.').unwrap_or(name);
            if !name.is_empty() && self.validates(name).await {
                validated.push(name.to_owned());
            }
        }
        let domain = domain.to_ascii_lowercase();
        let suffix = format!(".{domain}");
        let pick = validated
            .iter()
            .position(|n| n.eq_ignore_ascii_case(&domain))
            .or_else(|| {
                validated
                    .iter()
                    .position(|n| n.to_ascii_lowercase().ends_with(&suffix))
            })
            .unwrap_or(0);
        validated.into_iter().nth(pick)
    }

    /// The target of a mechanism whose domain-spec may be left out.
    async fn optional_target(&self, spec: Option<&MacroString>, domain: &str) -> Option<String> {
        match spec {
            Some(spec) => self.target(spec, domain).await,
            None => Some(domain.to_owned()),
        }
    }

    /// Expands a domain-spec into a name to query (RFC 7208 §4.8, §7.3):
    /// without its trailing dot, cut from the left to 253 octets. `None`
    /// when it cannot be a DNS name (an empty or over-long label): such a
    /// name does not exist.
    async fn target(&self, spec: &MacroString, domain: &str) -> Option<String> {
        let validated = if spec.uses_validated() {
            self.validated_name(domain).await
        } else {
            None
        };
        let expanded = spec.expand(&self.env(domain, validated.as_deref()))?;
        let name = fit_name(&expanded);
        if name.is_empty() || !has_valid_labels(name) {
            tracing::debug!(name, "SPF: target is not a DNS name");
            return None;
        }
        Some(name.to_owned())
    }

    fn env<'e>(&'e self, domain: &'e str, validated: Option<&'e str>) -> MacroEnv<'e> {
        MacroEnv {
            sender: self.sender,
            local: self.local,
            sender_domain: self.sender_domain,
            domain,
            ip: self.ip,
            validated,
            helo: self.helo,
            receiver: self.receiver,
            timestamp: self.timestamp,
        }
    }

    /// RFC 7208 §6.2: the explanation for a `fail`. Anything wrong (the
    /// name, DNS, not exactly one TXT record, a syntax error, non-ASCII
    /// text) means no explanation. The query does not count against the
    /// limits.
    async fn explain(&self, (spec, domain): &(MacroString, String)) -> Option<String> {
        let name = self.target(spec, domain).await?;
        let records = self.lookup.txt(&name).await.ok()?;
        let [text] = records.as_slice() else {
            return None;
        };
        if text.len() > MAX_EXPLANATION || !text.is_ascii() {
            return None;
        }
        let text = std::str::from_utf8(text).ok()?;
        let explanation = MacroString::explanation(text).ok()?;
        let validated = if explanation.uses_validated() {
            self.validated_name(domain).await
        } else {
            None
        };
        let expanded = explanation.expand(&self.env(domain, validated.as_deref()))?;
        (expanded.len() <= MAX_EXPLANATION).then_some(expanded)
    }

    fn count_dns_term(&mut self) -> Result<(), Abort> {
        self.dns_terms += 1;
        if self.dns_terms > MAX_DNS_TERMS {
            tracing::debug!("SPF: more than {MAX_DNS_TERMS} terms that query DNS");
            return Err(Abort::Perm);
        }
        Ok(())
    }

    fn count_void(&mut self) -> Result<(), Abort> {
        self.void_lookups += 1;
        if self.void_lookups > MAX_VOID_LOOKUPS {
            tracing::debug!("SPF: more than {MAX_VOID_LOOKUPS} void lookups");
            return Err(Abort::Perm);
        }
        Ok(())
    }
}

/// RFC 7208 §4.8: a trailing dot removed, then labels removed from the
/// left until the name is at most 253 octets.
fn fit_name(name: &str) -> &str {
    let mut name = name.strip_suffix('.').unwrap_or(name);
    while name.len() > MAX_NAME_LEN {
        match name.split_once('.') {
            Some((_, rest)) => name = rest,
            None => return "",
        }
    }
    name
}

fn in_network4(ip: Ipv4Addr, network: Ipv4Addr, prefix: u8) -> bool {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0);
    u32::from(ip) & mask == u32::from(network) & mask
}

fn in_network6(ip: Ipv6Addr, network: Ipv6Addr, prefix: u8) -> bool {
    let mask = u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0);
    u128::from(ip) & mask == u128::from(network) & mask
}

#[cfg(test)]
mod tests;
