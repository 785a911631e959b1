//! DNS records for a mail domain: what to publish, whether the live zone has
//! it, and publishing it.
//!
//! Three steps, each usable on its own:
//!
//! 1. [`records`] turns a [`MailDomain`] into the complete [`RecordSet`] the
//!    domain needs: MX, one SPF record per name, DKIM keys, DMARC, MTA-STS
//!    with its policy file ([`mta_sts_policy`]), TLS-RPT, SRV records for
//!    submission, IMAP, CalDAV and CardDAV (RFC 6186, RFC 6764), the
//!    `autoconfig` and `autodiscover` names and CAA.
//!    [`RecordSet::to_zone_file`] prints it with one record per line
//!    (`NAME TTL IN TYPE DATA`), ready to hand to a DNS provider.
//! 2. [`check`] looks the records up in the live DNS through a [`LiveDns`]
//!    (the system resolver, or one named server) and returns a [`Finding`]
//!    for every difference, each with the exact fix in plain English.
//! 3. [`publish`] writes the records to an authoritative server with RFC
//!    2136 dynamic updates signed with a [`TsigKey`]. Publishing twice
//!    changes nothing the second time, and a stray second SPF record is
//!    removed.
//!
//! ```
//! use guss_mail::dns::{records, DkimAlgorithm, DkimPublicKey, MailDomain};
//!
//! let mut domain = MailDomain::new("example.test", "mail.example.test", "web.example.test");
//! domain.dkim_keys.push(DkimPublicKey::new(
//!     "guss1",
//!     DkimAlgorithm::Ed25519,
//!     "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
//! ));
//! domain.caa_issuer = Some("letsencrypt.org".into());
//!
//! let zone = records(&domain).to_zone_file();
//! assert!(zone.lines().any(|line| line == "example.test. 3600 IN MX 10 mail.example.test."));
//! assert!(zone.lines().any(|line| line
//!     == "guss1._domainkey.example.test. 3600 IN TXT \
//!         \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\""));
//! assert_eq!(zone.lines().filter(|line| line.starts_with("example.test. ")
//!     && line.contains("v=spf1")).count(), 1);
//! ```
//!
//! # Decisions
//!
//! - **Only implicit TLS is advertised.** `_submissions._tcp` (465) is
//!   preferred over `_submission._tcp` (587, STARTTLS) by its lower priority
//!   (RFC 8314 §5.1). IMAP is offered on 993 only: `_imap._tcp`, `_pop3._tcp`
//!   and `_pop3s._tcp` carry the target `.`, which says the service is
//!   decidedly not available (RFC 6186 §3.4, RFC 2782), so that a client
//!   configuring itself does not fall back to cleartext IMAP on 143, where
//!   STARTTLS can be stripped, or to POP3, which guss does not serve.
//!   `_caldav._tcp` and `_carddav._tcp` are disabled the same way; only
//!   `_caldavs._tcp` and `_carddavs._tcp` point at the web host (RFC 6764).
//! - **One SPF record per name** (RFC 7208 §3.2, §4.5: with two, every check
//!   fails with `permerror`). The check reports a second one even when the
//!   other matches; publishing removes it and keeps every other TXT record at
//!   that name (site-verification tokens and the like), which are none of
//!   guss's business. Every other name and type guss publishes is guss's
//!   alone and is replaced as a whole; that includes the CAA records of the
//!   domain when an issuer is configured, since CAA only works as a whole.
//! - **The mail host gets an SPF record of its own** (`v=spf1 a -all`) when it
//!   lies inside the domain and its addresses are known (so its A/AAAA
//!   records are published too), so that receivers checking the HELO
//!   identity (RFC 7208 §2.3) get a pass. A mail host without known
//!   addresses may be an alias managed elsewhere and is left alone.
//! - **The MTA-STS policy id follows the policy**: unless one is set, it is
//!   derived from the policy text, so it changes whenever the policy does
//!   (RFC 8461 §3.1).

mod check;
mod publish;
mod records;

use std::net::IpAddr;

pub use check::{Finding, LiveDns, Problem, check};
pub use publish::{Published, TsigAlgorithm, TsigKey, publish};
pub use records::{Record, RecordData, RecordSet, RecordType, mta_sts_policy, records};

/// Time to live of generated records unless [`MailDomain::ttl`] says otherwise.
pub const DEFAULT_TTL: u32 = 3600;

/// `max_age` of the MTA-STS policy unless [`MailDomain::mta_sts_max_age`]
/// says otherwise: one week, long enough to protect against downgrades
/// between a sender's visits, short enough to recover from a mistake
/// (RFC 8461 §3.2 suggests weeks or more).
pub const DEFAULT_MTA_STS_MAX_AGE: u32 = 604_800;

/// Everything the DNS records of one mail domain are made from.
///
/// Build it with [`MailDomain::new`], which fills in the defaults, and set
/// the fields that differ. Host names are plain DNS names (A-labels for
/// international names), with or without the trailing dot; case does not
/// matter.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailDomain {
    /// The mail domain, the part after `@`: `example.test`.
    pub domain: String,
    /// The host that receives mail (MX) and serves SMTP submission and IMAP:
    /// `mail.example.test`.
    pub mail_host: String,
    /// The host that serves CalDAV, CardDAV, the MTA-STS policy and the
    /// client autoconfiguration files: `web.example.test`.
    pub web_host: String,
    /// Addresses of the mail host. When known they go into the SPF record,
    /// and into A/AAAA records when the mail host lies inside the domain.
    pub mail_host_addrs: Vec<IpAddr>,
    /// Addresses of the web host, published as A/AAAA records when the web
    /// host lies inside the domain.
    pub web_host_addrs: Vec<IpAddr>,
    /// The DKIM public keys to publish, one TXT record per selector.
    pub dkim_keys: Vec<DkimPublicKey>,
    /// What receivers should do with mail that fails DMARC (default
    /// [`DmarcPolicy::Quarantine`]).
    pub dmarc_policy: DmarcPolicy,
    /// Where DMARC aggregate reports go (`rua`), a mail address (default
    /// `postmaster@` the domain).
    pub dmarc_rua: String,
    /// Where TLS reports go (RFC 8460), a mail address (default `postmaster@`
    /// the domain).
    pub tls_rpt_rua: String,
    /// The MTA-STS mode (default [`MtaStsMode::Enforce`]).
    pub mta_sts_mode: MtaStsMode,
    /// The MTA-STS policy id: 1 to 32 letters and digits. `None` derives it
    /// from the policy text, so that it changes whenever the policy does.
    pub mta_sts_id: Option<String>,
    /// The MTA-STS `max_age` in seconds (default [`DEFAULT_MTA_STS_MAX_AGE`]).
    pub mta_sts_max_age: u32,
    /// The certificate authority allowed to issue certificates for the
    /// domain (`letsencrypt.org`); `None` publishes no CAA record.
    pub caa_issuer: Option<String>,
    /// Time to live of every record (default [`DEFAULT_TTL`]).
    pub ttl: u32,
}

impl MailDomain {
    /// A domain with the defaults: no addresses, no DKIM keys, DMARC
    /// `quarantine` with reports to `postmaster@domain`, TLS reports to the
    /// same address, MTA-STS `enforce` for a week, no CAA record.
    pub fn new(
        domain: impl Into<String>,
        mail_host: impl Into<String>,
        web_host: impl Into<String>,
    ) -> Self {
        let domain = domain.into();
        let postmaster = format!("postmaster@{}", bare(&domain).to_ascii_lowercase());
        Self {
            mail_host: mail_host.into(),
            web_host: web_host.into(),
            mail_host_addrs: Vec::new(),
            web_host_addrs: Vec::new(),
            dkim_keys: Vec::new(),
            dmarc_policy: DmarcPolicy::Quarantine,
            dmarc_rua: postmaster.clone(),
            tls_rpt_rua: postmaster,
            mta_sts_mode: MtaStsMode::Enforce,
            mta_sts_id: None,
            mta_sts_max_age: DEFAULT_MTA_STS_MAX_AGE,
            caa_issuer: None,
            ttl: DEFAULT_TTL,
            domain,
        }
    }

    /// Checks that every field can go into a DNS record: host names and
    /// selectors are valid DNS names, keys are base64, addresses are mail
    /// addresses, the MTA-STS id is 1 to 32 letters and digits.
    ///
    /// [`records`] does not check; call this first on input from a person.
    pub fn validate(&self) -> Result<(), DnsError> {
        check_host("domain", &self.domain)?;
        check_host("mail_host", &self.mail_host)?;
        check_host("web_host", &self.web_host)?;
        for key in &self.dkim_keys {
            if !is_label(&key.selector) {
                return Err(DnsError::invalid(
                    "dkim selector",
                    format!("{:?} is not a DNS label", key.selector),
                ));
            }
            let base64_ok = !key.public_key_base64.is_empty()
                && key
                    .public_key_base64
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
            if !base64_ok {
                return Err(DnsError::invalid(
                    "dkim public key",
                    format!("the key of selector {:?} is not base64", key.selector),
                ));
            }
        }
        check_mailbox("dmarc_rua", &self.dmarc_rua)?;
        check_mailbox("tls_rpt_rua", &self.tls_rpt_rua)?;
        if let Some(id) = &self.mta_sts_id
            && (!(1..=32).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(DnsError::invalid(
                "mta_sts_id",
                "must be 1 to 32 letters and digits (RFC 8461 §3.1)",
            ));
        }
        if let Some(issuer) = &self.caa_issuer {
            check_host("caa_issuer", issuer)?;
        }
        Ok(())
    }
}

/// One DKIM public key as published under `SELECTOR._domainkey`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DkimPublicKey {
    /// The selector, a single DNS label: `guss2026`.
    pub selector: String,
    /// The key algorithm.
    pub algorithm: DkimAlgorithm,
    /// The public key in base64, exactly the `p=` value: for Ed25519 the 32
    /// raw key bytes (RFC 8463), for RSA the DER SubjectPublicKeyInfo.
    pub public_key_base64: String,
}

impl DkimPublicKey {
    /// A key for `selector`.
    pub fn new(
        selector: impl Into<String>,
        algorithm: DkimAlgorithm,
        public_key_base64: impl Into<String>,
    ) -> Self {
        Self {
            selector: selector.into(),
            algorithm,
            public_key_base64: public_key_base64.into(),
        }
    }
}

/// The algorithm of a DKIM key (`k=` tag): the one [`crate::dkim`] signs with.
pub use crate::dkim::Algorithm as DkimAlgorithm;

/// What receivers should do with mail that fails DMARC (`p=`, RFC 7489 §6.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DmarcPolicy {
    /// Deliver it; only send reports.
    None,
    /// Treat it as suspicious, usually the spam folder.
    #[default]
    Quarantine,
    /// Refuse it.
    Reject,
}

impl DmarcPolicy {
    /// The `p=` value.
    pub fn tag(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Quarantine => "quarantine",
            Self::Reject => "reject",
        }
    }
}

/// The MTA-STS mode (RFC 8461 §5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MtaStsMode {
    /// Senders refuse to deliver without a valid TLS certificate for the MX.
    #[default]
    Enforce,
    /// Senders deliver anyway and only report failures (TLS-RPT).
    Testing,
}

impl MtaStsMode {
    /// The `mode:` value of the policy file.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Testing => "testing",
        }
    }
}

/// What can go wrong with DNS records.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// A field of a [`MailDomain`] or a [`TsigKey`] cannot be used.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A zone-file line could not be read.
    #[error("cannot read the record line: {0}")]
    Parse(String),
    /// The resolver could not be set up.
    #[error("resolver: {0}")]
    Resolver(String),
    /// A record lies outside the zone that is being updated.
    #[error("{name} is not inside the zone {zone}")]
    OutsideZone {
        /// The record's name.
        name: String,
        /// The zone.
        zone: String,
    },
    /// The name server refused or failed a dynamic update.
    #[error("updating {record_type} records of {name}: {message}")]
    Update {
        /// The name being updated.
        name: String,
        /// The record type being updated.
        record_type: RecordType,
        /// What the server or the connection said.
        message: String,
    },
}

impl DnsError {
    fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// `name` lowercased with exactly one trailing dot: `example.test.`.
pub(crate) fn fqdn(name: &str) -> String {
    let mut out = bare(name).to_ascii_lowercase();
    out.push('.');
    out
}

/// `name` without surrounding blanks and trailing dot.
pub(crate) fn bare(name: &str) -> &str {
    let name = name.trim();
    name.strip_suffix('.').unwrap_or(name)
}

/// Whether `name` equals `zone` or lies below it (both fully qualified).
pub(crate) fn in_zone(name: &str, zone: &str) -> bool {
    let name = fqdn(name);
    let zone = fqdn(zone);
    zone == "." || name == zone || name.ends_with(&format!(".{zone}"))
}

fn is_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        && !label.starts_with('-')
        && !label.ends_with('-')
}

fn check_host(field: &'static str, name: &str) -> Result<(), DnsError> {
    let name = bare(name);
    if name.is_empty() || name.len() > 253 || !name.split('.').all(is_label) {
        return Err(DnsError::invalid(
            field,
            format!("{name:?} is not a DNS name"),
        ));
    }
    Ok(())
}

fn check_mailbox(field: &'static str, address: &str) -> Result<(), DnsError> {
    // The address goes into a `mailto:` URI inside a tag list: separators of
    // either would change the record's meaning (RFC 7489 §6.4, RFC 8460 §3).
    let Some((local, host)) = address.rsplit_once('@') else {
        return Err(DnsError::invalid(field, format!("{address:?} has no @")));
    };
    if local.is_empty()
        || local
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b",;!\"\\".contains(&b))
    {
        return Err(DnsError::invalid(
            field,
            format!("{address:?} is not a plain mail address"),
        ));
    }
    check_host(field, host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised() {
        assert_eq!(fqdn("Example.TEST"), "example.test.");
        assert_eq!(fqdn("example.test."), "example.test.");
        assert!(in_zone("mail.example.test.", "example.test"));
        assert!(in_zone("example.test", "example.test."));
        assert!(!in_zone("mail.otherexample.test", "example.test"));
    }

    #[test]
    fn validation_catches_what_would_break_a_record() {
        let good = MailDomain::new("example.test", "mail.example.test", "web.example.test");
        good.validate().unwrap();

        let mut bad = good.clone();
        bad.dkim_keys
            .push(DkimPublicKey::new("a b", DkimAlgorithm::Rsa, "AAAA"));
        assert!(bad.validate().is_err());

        let mut bad = good.clone();
        bad.dkim_keys
            .push(DkimPublicKey::new("sel", DkimAlgorithm::Rsa, "AA\"; p=x"));
        assert!(bad.validate().is_err());

        let mut bad = good.clone();
        bad.dmarc_rua = "a@b.test, mailto:evil@x.test".into();
        assert!(bad.validate().is_err());

        let mut bad = good.clone();
        bad.mta_sts_id = Some("2026-01-01".into());
        assert!(bad.validate().is_err());

        let mut bad = good;
        bad.mail_host = "mail..example.test".into();
        assert!(bad.validate().is_err());
    }
}
