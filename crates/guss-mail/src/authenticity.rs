//! Checks on inbound mail: SPF with guss's own evaluator (RFC 7208), DKIM,
//! ARC and DMARC with `mail-auth`.
//!
//! An SMTP server calls [`Verifier::check_sender`] at `MAIL FROM` (SPF needs
//! only the envelope) and [`Verifier::verify_with_spf`] once the message is
//! in. The [`Verdict`] carries each method's result, an
//! `Authentication-Results` header field (RFC 8601) to prepend, and what the
//! domain owner's DMARC policy asks for: the reply text when the message is
//! to be refused in the SMTP dialogue (`p=reject`), or that it goes to Junk
//! (`p=quarantine`).
//!
//! The caller bounds the message size; nothing here panics on any input.
//! Before prepending the new field the caller removes any
//! `Authentication-Results` field that claims its own host name
//! (RFC 8601 §5), since the sender could have forged it.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use mail_auth::common::cache::NoCache;
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::resolver::ToFqdn;
use mail_auth::common::verify::DomainKey;
use mail_auth::dkim::DkimError;
use mail_auth::dmarc::Dmarc;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::hickory_resolver::TokioResolver;
use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts,
};
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::spf::Macro;
use mail_auth::{
    AuthenticatedMessage, DkimResult, DmarcResult, MX, MessageAuthenticator, Parameters, RecordSet,
    ResolverCache, SpfOutput, SpfResult, Txt,
};

use crate::spf::{self, DnsFailure, LookupAnswer, SpfLookup};

/// RFC 7208 §4.6.4: "MTAs or other processors SHOULD impose a limit on the
/// maximum amount of elapsed time to evaluate check_host(). Such a limit
/// SHOULD allow at least 20 seconds." Past it the result is `temperror`.
const SPF_TIME_LIMIT: Duration = Duration::from_secs(20);

/// The result of one authentication method, with the names RFC 8601 §2.7
/// gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthResult {
    /// The method did not apply: no record, no signature.
    None,
    /// Authenticated.
    Pass,
    /// Checked, and not authenticated.
    Fail,
    /// SPF only: the domain believes the host is not authorised but is not
    /// willing to say so strongly (`~all`).
    SoftFail,
    /// The domain makes no statement, or a DKIM signature could not be
    /// processed.
    Neutral,
    /// A transient error, most often DNS: trying later may work.
    TempError,
    /// A permanent error in the domain's records.
    PermError,
}

impl AuthResult {
    /// The keyword used in `Authentication-Results`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthResult::None => "none",
            AuthResult::Pass => "pass",
            AuthResult::Fail => "fail",
            AuthResult::SoftFail => "softfail",
            AuthResult::Neutral => "neutral",
            AuthResult::TempError => "temperror",
            AuthResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for AuthResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The SPF outcome for one SMTP transaction (RFC 7208).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpfOutcome {
    /// The result for the `MAIL FROM` identity; for a null reverse-path
    /// (bounces), for `postmaster@<HELO name>` (RFC 7208 §2.4). DMARC uses
    /// this one.
    pub result: AuthResult,
    /// The domain that was checked.
    pub domain: String,
    /// The domain's explanation (`exp=`) when the result is `fail`.
    pub explanation: Option<String>,
    /// The separate check of the HELO identity (RFC 7208 §2.3), when the
    /// reverse-path is not null and the HELO name is a domain.
    pub helo: Option<AuthResult>,
    ip: IpAddr,
    helo_name: String,
    sender: String,
    receiver_host: String,
    output: SpfOutput,
}

impl SpfOutcome {
    /// The domain DMARC aligns the SPF result with: the reverse-path's, or
    /// the HELO name for a null reverse-path.
    fn aligned_domain(&self) -> &str {
        &self.domain
    }

    /// The reply to refuse the transaction with when SPF says `fail`:
    /// `550 5.7.23` (RFC 7372 §3.2) with the domain's explanation
    /// (RFC 7208 §8.4). Whether to refuse on SPF alone is the caller's
    /// choice; DMARC, which [`Verdict::reject`] reports, is the usual one.
    pub fn fail_reply(&self) -> Option<String> {
        if self.result != AuthResult::Fail {
            return None;
        }
        let mut reply = format!(
            "550 5.7.23 SPF validation failed: {} does not designate {} as a permitted sender",
            printable(&self.domain, 255),
            self.ip
        );
        if let Some(explanation) = &self.explanation {
            reply.push_str(" (");
            reply.push_str(&printable(explanation, 200));
            reply.push(')');
        }
        Some(reply)
    }
}

/// One DKIM signature's outcome (RFC 6376).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DkimCheck {
    /// The result for this signature.
    pub result: AuthResult,
    /// The signing domain (`d=`), empty if the signature could not be read.
    pub domain: String,
    /// The selector (`s=`).
    pub selector: String,
    /// The signature algorithm (`a=`), e.g. `ed25519-sha256`.
    pub algorithm: &'static str,
    /// Why it did not pass.
    pub reason: Option<String>,
    header_b: String,
}

/// The ARC chain's outcome (RFC 8617).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ArcCheck {
    /// `pass`, `fail` or `none`.
    pub result: AuthResult,
    /// How many ARC sets the message carries.
    pub instances: usize,
    /// Why it did not pass.
    pub reason: Option<String>,
}

/// What the author domain's owner asks receivers to do with mail that fails
/// DMARC, after its subdomain and test-mode rules were applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DmarcPolicy {
    /// `p=none`, or no DMARC record.
    None,
    /// `p=quarantine`: deliver as suspicious (to Junk).
    Quarantine,
    /// `p=reject`: refuse in the SMTP dialogue.
    Reject,
}

impl DmarcPolicy {
    /// The policy's name as in the record.
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcPolicy::None => "none",
            DmarcPolicy::Quarantine => "quarantine",
            DmarcPolicy::Reject => "reject",
        }
    }
}

/// The DMARC outcome (RFC 7489; `mail-auth` follows its successor's DNS
/// tree walk).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DmarcCheck {
    /// The result.
    pub result: AuthResult,
    /// The author domain (of the `From` field); empty when the message has
    /// none or several.
    pub domain: String,
    /// The policy that applies to this message.
    pub policy: DmarcPolicy,
    /// An SPF pass aligned with the author domain.
    pub spf_aligned: bool,
    /// A DKIM pass aligned with the author domain.
    pub dkim_aligned: bool,
}

/// Everything the checks found about one message.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Verdict {
    /// SPF, as [`Verifier::check_sender`] found it.
    pub spf: SpfOutcome,
    /// One entry per `DKIM-Signature` field, in message order.
    pub dkim: Vec<DkimCheck>,
    /// The ARC chain.
    pub arc: ArcCheck,
    /// DMARC.
    pub dmarc: DmarcCheck,
    /// The complete `Authentication-Results:` header field, CRLF-terminated,
    /// to prepend to the message.
    pub authentication_results: String,
    /// When DMARC fails and the policy is `p=reject`: the SMTP reply to send
    /// instead of accepting the message (`550 5.7.1 …`).
    pub reject: Option<String>,
    /// When DMARC fails and the policy is `p=quarantine`: file the message
    /// into Junk.
    pub quarantine: bool,
}

/// Why a [`Verifier`] could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifierError {
    /// The DNS resolver could not be set up (for the system resolver: no
    /// usable `/etc/resolv.conf`).
    #[error("DNS resolver: {0}")]
    Resolver(String),
}

/// Runs the SPF, DKIM, ARC and DMARC checks. Cheap to clone; share one per
/// server, since its DNS cache is what makes repeated checks fast.
#[derive(Clone)]
pub struct Verifier {
    authenticator: MessageAuthenticator,
    records: Arc<TxtRecords>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("txt_records", &self.records.entries.len())
            .field("authoritative", &self.records.authoritative)
            .finish_non_exhaustive()
    }
}

type Params<'x, P> = Parameters<
    'x,
    P,
    TxtRecords,
    NoCache<Box<str>, RecordSet<MX>>,
    NoCache<Box<str>, RecordSet<std::net::Ipv4Addr>>,
    NoCache<Box<str>, RecordSet<std::net::Ipv6Addr>>,
    NoCache<IpAddr, RecordSet<Box<str>>>,
>;

impl Verifier {
    /// Resolves through the system's configured name servers.
    pub fn system() -> Result<Self, VerifierError> {
        let authenticator = MessageAuthenticator::new_system_conf()
            .map_err(|e| VerifierError::Resolver(e.to_string()))?;
        Ok(Self::from_authenticator(authenticator))
    }

    /// Resolves through the one name server at `addr` (UDP, then TCP for
    /// truncated answers), waiting `timeout` for each answer and trying
    /// once: for a local validating resolver, or a test server.
    pub fn with_name_server(addr: SocketAddr, timeout: Duration) -> Result<Self, VerifierError> {
        let mut udp = ConnectionConfig::udp();
        udp.port = addr.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = addr.port();
        let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
        let mut options = ResolverOpts::default();
        options.timeout = timeout;
        options.attempts = 1;
        let authenticator =
            MessageAuthenticator::new(ResolverConfig::from_name_servers(vec![server]), options)
                .map_err(|e| VerifierError::Resolver(e.to_string()))?;
        Ok(Self::from_authenticator(authenticator))
    }

    /// Uses no DNS at all: TXT records come from `records` (see
    /// [`Verifier::with_txt_records`]) and every other TXT name does not
    /// exist. Other record types (A, MX, PTR for SPF) fail as temporary
    /// errors. For tools and tests that verify DKIM against known keys.
    pub fn offline<I, N, V>(records: I) -> Result<Self, VerifierError>
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str>,
        V: AsRef<str>,
    {
        // A name server on the discard port of the loopback address: nothing
        // answers, and nothing leaves the machine.
        let verifier = Self::with_name_server(
            SocketAddr::from(([127, 0, 0, 1], 9)),
            Duration::from_millis(200),
        )?;
        let mut records = TxtRecords::from_iter(records);
        records.authoritative = true;
        Ok(Verifier {
            records: Arc::new(records),
            ..verifier
        })
    }

    /// Answers TXT queries for the given names from `records` instead of
    /// DNS: `(name, text)` pairs such as
    /// `("sel._domainkey.example.com", "v=DKIM1; k=ed25519; p=…")`. A name
    /// may be given several times; for SPF the `v=spf1` text is used. Other
    /// names still go to DNS.
    pub fn with_txt_records<I, N, V>(self, records: I) -> Self
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let authoritative = self.records.authoritative;
        let mut records = TxtRecords::from_iter(records);
        records.authoritative = authoritative;
        Verifier {
            records: Arc::new(records),
            ..self
        }
    }

    fn from_authenticator(authenticator: MessageAuthenticator) -> Self {
        Verifier {
            authenticator,
            records: Arc::new(TxtRecords::default()),
        }
    }

    fn params<P>(&self, params: P) -> Params<'_, P> {
        Parameters::new(params).with_txt_cache(&*self.records)
    }

    /// SPF for the `MAIL FROM` identity, and separately for the HELO
    /// identity, of a client at `ip` (RFC 7208 §2.3, §2.4). `mail_from` is
    /// the reverse-path, with or without angle brackets; empty or `<>` for
    /// a bounce. `receiver_host` is this server's name (the `%{r}` macro).
    pub async fn check_sender(
        &self,
        ip: IpAddr,
        helo: &str,
        mail_from: &str,
        receiver_host: &str,
    ) -> SpfOutcome {
        // RFC 7208 §5: an IPv4-mapped IPv6 address is an IPv4 client.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        let helo = helo.trim();
        let sender = reverse_path(mail_from);
        let helo_identity = format!("postmaster@{helo}");
        // RFC 7208 §2.4: the MAIL FROM identity of a bounce is the HELO
        // identity; a reverse-path without a domain has none of its own
        // either.
        let (identity, domain) = match sender.rsplit_once('@') {
            Some((_, domain)) => (sender.as_str(), domain),
            None => (helo_identity.as_str(), helo),
        };
        let dns = SpfDns {
            resolver: self.authenticator.resolver(),
            records: &self.records,
        };
        let mail_from_check = check_host(
            &dns,
            spf::Identity {
                ip,
                sender: identity,
                domain,
                helo,
                receiver: receiver_host,
            },
        );
        let (outcome, helo_result) = if !sender.is_empty() && spf::is_checkable_domain(helo) {
            let helo_check = check_host(
                &dns,
                spf::Identity {
                    ip,
                    sender: &helo_identity,
                    domain: helo,
                    helo,
                    receiver: receiver_host,
                },
            );
            let (outcome, helo_outcome) = tokio::join!(mail_from_check, helo_check);
            (outcome, Some(spf_result(helo_outcome.result)))
        } else {
            // A bounce (checked above as the HELO identity), an address
            // literal or a bare host name: no separate HELO check
            // (RFC 7208 §2.3).
            (mail_from_check.await, None)
        };
        let result = spf_result(outcome.result);
        let mut output = SpfOutput::new(domain.to_owned()).with_result(mail_auth_spf(result));
        if let Some(explanation) = &outcome.explanation {
            output = output.with_explanation(explanation.clone());
        }
        SpfOutcome {
            result,
            domain: domain.to_owned(),
            explanation: outcome.explanation,
            helo: helo_result,
            ip,
            helo_name: helo.to_owned(),
            sender,
            receiver_host: receiver_host.to_owned(),
            output,
        }
    }

    /// SPF, DKIM, ARC and DMARC for a message received from `ip`.
    pub async fn verify(
        &self,
        message: &[u8],
        ip: IpAddr,
        helo: &str,
        mail_from: &str,
        receiver_host: &str,
    ) -> Verdict {
        let spf = self.check_sender(ip, helo, mail_from, receiver_host).await;
        self.verify_with_spf(message, spf).await
    }

    /// DKIM, ARC and DMARC for a message whose sender SPF already checked
    /// at `MAIL FROM`.
    pub async fn verify_with_spf(&self, message: &[u8], spf: SpfOutcome) -> Verdict {
        let parsed = parse_message(message);
        let (dkim_outputs, arc_output) = match &parsed {
            Some(parsed) => {
                let (dkim, arc) = tokio::join!(
                    self.authenticator.verify_dkim(self.params(parsed)),
                    self.authenticator.verify_arc(self.params(parsed)),
                );
                (dkim, Some(arc))
            }
            None => (Vec::new(), None),
        };
        let dmarc_output = match &parsed {
            Some(parsed) => Some(
                self.authenticator
                    .verify_dmarc(self.params(DmarcParameters::new(
                        parsed,
                        &dkim_outputs,
                        spf.aligned_domain(),
                        &spf.output,
                    )))
                    .await,
            ),
            None => None,
        };

        let dkim: Vec<DkimCheck> = dkim_outputs.iter().map(dkim_check).collect();
        let arc = match &arc_output {
            Some(output) => arc_check(output.result(), output.sets().len()),
            None => arc_check(&DkimResult::None, 0),
        };
        let dmarc = match &dmarc_output {
            Some(output) => DmarcCheck {
                result: dmarc_result(&output.result()),
                domain: output.domain().to_owned(),
                policy: match output.policy() {
                    mail_auth::dmarc::Policy::Reject => DmarcPolicy::Reject,
                    mail_auth::dmarc::Policy::Quarantine => DmarcPolicy::Quarantine,
                    mail_auth::dmarc::Policy::None | mail_auth::dmarc::Policy::Unspecified => {
                        DmarcPolicy::None
                    }
                },
                spf_aligned: *output.spf_result() == DmarcResult::Pass,
                dkim_aligned: *output.dkim_result() == DmarcResult::Pass,
            },
            None => DmarcCheck {
                result: AuthResult::None,
                domain: String::new(),
                policy: DmarcPolicy::None,
                spf_aligned: false,
                dkim_aligned: false,
            },
        };

        let failed = dmarc.result == AuthResult::Fail;
        let reject = (failed && dmarc.policy == DmarcPolicy::Reject).then(|| {
            format!(
                "550 5.7.1 Message rejected: it fails the DMARC policy of {}",
                printable(&dmarc.domain, 255)
            )
        });
        let quarantine = failed && dmarc.policy == DmarcPolicy::Quarantine;
        let authentication_results = authentication_results(&spf, &dkim, &arc, &dmarc);
        Verdict {
            spf,
            dkim,
            arc,
            dmarc,
            authentication_results,
            reject,
            quarantine,
        }
    }
}

/// Parses the message's header for the checks. `mail-auth` indexes into the
/// offsets `mail-parser` reports; should the two ever disagree on some
/// input, the message is treated as unsigned rather than taking the
/// connection down.
fn parse_message(message: &[u8]) -> Option<AuthenticatedMessage<'_>> {
    std::panic::catch_unwind(|| AuthenticatedMessage::parse(message))
        .ok()
        .flatten()
}

/// The reverse-path without angle brackets, surrounding space or a source
/// route (which RFC 5321 §4.1.2 says to ignore); a missing local-part
/// becomes `postmaster` (RFC 7208 §4.3).
fn reverse_path(mail_from: &str) -> String {
    let path = mail_from.trim();
    let path = path
        .strip_prefix('<')
        .and_then(|p| p.strip_suffix('>'))
        .unwrap_or(path)
        .trim();
    let path = match path.split_once(':') {
        Some((route, mailbox)) if route.starts_with('@') => mailbox,
        _ => path,
    };
    if path.starts_with('@') {
        format!("postmaster{path}")
    } else {
        path.to_owned()
    }
}

/// `check_host()` within [`SPF_TIME_LIMIT`].
async fn check_host(dns: &SpfDns<'_>, identity: spf::Identity<'_>) -> spf::Outcome {
    let check = spf::check_host(dns, &identity);
    match tokio::time::timeout(SPF_TIME_LIMIT, check).await {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::debug!(domain = identity.domain, "SPF: check_host() took too long");
            spf::Outcome {
                result: spf::SpfResult::TempError,
                explanation: None,
            }
        }
    }
}

fn spf_result(result: spf::SpfResult) -> AuthResult {
    match result {
        spf::SpfResult::Pass => AuthResult::Pass,
        spf::SpfResult::Fail => AuthResult::Fail,
        spf::SpfResult::SoftFail => AuthResult::SoftFail,
        spf::SpfResult::Neutral => AuthResult::Neutral,
        spf::SpfResult::TempError => AuthResult::TempError,
        spf::SpfResult::PermError => AuthResult::PermError,
        spf::SpfResult::None => AuthResult::None,
    }
}

/// The result as `mail-auth`'s DMARC evaluation takes it.
fn mail_auth_spf(result: AuthResult) -> SpfResult {
    match result {
        AuthResult::Pass => SpfResult::Pass,
        AuthResult::Fail => SpfResult::Fail,
        AuthResult::SoftFail => SpfResult::SoftFail,
        AuthResult::Neutral => SpfResult::Neutral,
        AuthResult::TempError => SpfResult::TempError,
        AuthResult::PermError => SpfResult::PermError,
        AuthResult::None => SpfResult::None,
    }
}

fn dmarc_result(result: &DmarcResult) -> AuthResult {
    match result {
        DmarcResult::Pass => AuthResult::Pass,
        DmarcResult::Fail(_) => AuthResult::Fail,
        DmarcResult::TempError(_) => AuthResult::TempError,
        DmarcResult::PermError(_) => AuthResult::PermError,
        DmarcResult::None => AuthResult::None,
    }
}

fn dkim_check(output: &mail_auth::DkimOutput<'_>) -> DkimCheck {
    let (result, reason) = match output.result() {
        DkimResult::Pass => (AuthResult::Pass, None),
        // mail-auth reports a body that no longer matches its hash as
        // neutral; it is a failed verification (RFC 6376 §6.1.3).
        DkimResult::Neutral(e @ mail_auth::Error::Dkim(DkimError::FailedBodyHashMatch)) => {
            (AuthResult::Fail, Some(e.to_string()))
        }
        DkimResult::Neutral(e) => (AuthResult::Neutral, Some(e.to_string())),
        DkimResult::Fail(e) => (AuthResult::Fail, Some(e.to_string())),
        DkimResult::PermError(e) => (AuthResult::PermError, Some(e.to_string())),
        DkimResult::TempError(e) => (AuthResult::TempError, Some(e.to_string())),
        DkimResult::None => (AuthResult::None, None),
    };
    let signature = output.signature();
    DkimCheck {
        result,
        domain: signature.map(|s| s.d.clone()).unwrap_or_default(),
        selector: signature.map(|s| s.s.clone()).unwrap_or_default(),
        algorithm: signature.map_or("", |s| s.a.name()),
        reason,
        // RFC 6008: the first 8 characters of b= tell signatures apart.
        header_b: signature
            .map(|s| BASE64.encode(s.b.get(..6).unwrap_or(&s.b)))
            .unwrap_or_default(),
    }
}

fn arc_check(result: &DkimResult, instances: usize) -> ArcCheck {
    // RFC 8617 §4.4 knows none, pass and fail.
    let (result, reason) = match result {
        DkimResult::Pass => (AuthResult::Pass, None),
        DkimResult::None => (AuthResult::None, None),
        DkimResult::Neutral(e)
        | DkimResult::Fail(e)
        | DkimResult::PermError(e)
        | DkimResult::TempError(e) => (AuthResult::Fail, Some(e.to_string())),
    };
    ArcCheck {
        result,
        instances,
        reason,
    }
}

/// The `Authentication-Results` field (RFC 8601 §2.2), one result per line.
fn authentication_results(
    spf: &SpfOutcome,
    dkim: &[DkimCheck],
    arc: &ArcCheck,
    dmarc: &DmarcCheck,
) -> String {
    let mut field = String::from("Authentication-Results: ");
    push_value(&mut field, &spf.receiver_host);

    if spf.sender.is_empty() {
        result_line(&mut field, "spf", spf.result, None);
        field.push_str(" smtp.helo=");
        push_value(&mut field, &spf.helo_name);
    } else {
        result_line(&mut field, "spf", spf.result, None);
        field.push_str(" smtp.mailfrom=");
        push_value(&mut field, &spf.sender);
        if let Some(helo) = spf.helo {
            result_line(&mut field, "spf", helo, None);
            field.push_str(" smtp.helo=");
            push_value(&mut field, &spf.helo_name);
        }
    }

    if dkim.is_empty() {
        result_line(&mut field, "dkim", AuthResult::None, None);
    }
    for check in dkim {
        result_line(&mut field, "dkim", check.result, check.reason.as_deref());
        if !check.domain.is_empty() {
            field.push_str(" header.d=");
            push_value(&mut field, &check.domain);
            field.push_str(" header.s=");
            push_value(&mut field, &check.selector);
            field.push_str(" header.a=");
            push_value(&mut field, check.algorithm);
            field.push_str(" header.b=");
            push_value(&mut field, &check.header_b);
        }
    }

    result_line(&mut field, "arc", arc.result, arc.reason.as_deref());

    result_line(&mut field, "dmarc", dmarc.result, None);
    if dmarc.result != AuthResult::None {
        field.push_str(" (p=");
        field.push_str(dmarc.policy.as_str());
        field.push(')');
    }
    if !dmarc.domain.is_empty() {
        field.push_str(" header.from=");
        push_value(&mut field, &dmarc.domain);
    }
    field.push_str("\r\n");
    field
}

/// `;` CRLF TAB `method=result`, and `reason="…"` when there is one.
fn result_line(field: &mut String, method: &str, result: AuthResult, reason: Option<&str>) {
    field.push_str(";\r\n\t");
    field.push_str(method);
    field.push('=');
    field.push_str(result.as_str());
    if let Some(reason) = reason {
        field.push_str(" reason=");
        push_quoted(field, reason);
    }
}

/// A `pvalue` (RFC 8601 §2.2): as it is when it is a token or an address
/// made of atext, as a quoted-string otherwise. Values come from the sender
/// and from DNS, so they are bounded and stripped of control characters.
fn push_value(field: &mut String, value: &str) {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-._+!#$%&'*^`{|}~".contains(c);
    let ats = value.matches('@').count();
    let bare = !value.is_empty()
        && value.len() <= 255
        && ats <= 1
        && !value.starts_with('@')
        && value.chars().all(|c| plain(c) || c == '@');
    if bare {
        field.push_str(value);
    } else {
        push_quoted(field, value);
    }
}

fn push_quoted(field: &mut String, value: &str) {
    field.push('"');
    for c in value.chars().filter(|c| !c.is_control()).take(255) {
        if c == '"' || c == '\\' {
            field.push('\\');
        }
        field.push(c);
    }
    field.push('"');
}

/// Printable ASCII only, at most `max` characters: for reply text.
fn printable(value: &str, max: usize) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(max)
        .collect()
}

/// TXT answers given in advance, consulted before DNS: by guss's SPF
/// evaluator as the texts given, and by `mail-auth` (DKIM, DMARC) through
/// its TXT cache. `mail-auth` asks that cache by name and expects the
/// record already parsed as the type it is looking for; the type follows
/// from the name (`_domainkey`, `_dmarc`).
#[derive(Default)]
struct TxtRecords {
    entries: HashMap<Box<str>, Txt>,
    /// The texts, by lower-case name without the root dot.
    texts: HashMap<String, Vec<Vec<u8>>>,
    /// Names not listed do not exist, rather than being asked of DNS.
    authoritative: bool,
}

impl TxtRecords {
    fn key(name: &str) -> String {
        name.strip_suffix('.').unwrap_or(name).to_lowercase()
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for TxtRecords {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut texts: HashMap<Box<str>, Vec<String>> = HashMap::new();
        let mut raw: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        for (name, text) in iter {
            raw.entry(TxtRecords::key(name.as_ref()))
                .or_default()
                .push(text.as_ref().as_bytes().to_vec());
            let name = name.as_ref().to_fqdn().into_owned().into_boxed_str();
            texts
                .entry(name)
                .or_default()
                .push(text.as_ref().to_owned());
        }
        let entries = texts
            .into_iter()
            .map(|(name, texts)| {
                let txt = parse_txt(&name, &texts);
                (name, txt)
            })
            .collect();
        TxtRecords {
            entries,
            texts: raw,
            authoritative: false,
        }
    }
}

fn parse_txt(name: &str, texts: &[String]) -> Txt {
    fn first<T: TxtRecordParser + Into<Txt>>(texts: &[String]) -> Txt {
        let mut last = Err(mail_auth::Error::Dns(
            mail_auth::DnsError::InvalidRecordType,
        ));
        for text in texts {
            last = T::parse(text.as_bytes());
            if last.is_ok() {
                break;
            }
        }
        last.into()
    }
    if name.contains("._domainkey.") {
        first::<DomainKey>(texts)
    } else if name.starts_with("_dmarc.") {
        first::<Dmarc>(texts)
    } else {
        first::<Macro>(texts)
    }
}

/// The DNS SPF sees: the TXT answers given in advance, then the resolver.
/// An offline verifier has no resolver: names not given do not exist, and
/// other record types fail as temporary errors.
struct SpfDns<'a> {
    resolver: &'a TokioResolver,
    records: &'a TxtRecords,
}

impl SpfDns<'_> {
    fn offline(&self) -> bool {
        self.records.authoritative
    }
}

impl SpfLookup for SpfDns<'_> {
    async fn txt(&self, name: &str) -> LookupAnswer<Vec<u8>> {
        if let Some(texts) = self.records.texts.get(&TxtRecords::key(name)) {
            return Ok(texts.clone());
        }
        if self.offline() {
            return Ok(Vec::new());
        }
        SpfLookup::txt(self.resolver, name).await
    }

    async fn a(&self, name: &str) -> LookupAnswer<Ipv4Addr> {
        if self.offline() {
            return Err(DnsFailure);
        }
        SpfLookup::a(self.resolver, name).await
    }

    async fn aaaa(&self, name: &str) -> LookupAnswer<Ipv6Addr> {
        if self.offline() {
            return Err(DnsFailure);
        }
        SpfLookup::aaaa(self.resolver, name).await
    }

    async fn mx(&self, name: &str) -> LookupAnswer<String> {
        if self.offline() {
            return Err(DnsFailure);
        }
        SpfLookup::mx(self.resolver, name).await
    }

    async fn ptr(&self, ip: IpAddr) -> LookupAnswer<String> {
        if self.offline() {
            return Err(DnsFailure);
        }
        SpfLookup::ptr(self.resolver, ip).await
    }
}

impl ResolverCache<Box<str>, Txt> for TxtRecords {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.entries.get(name) {
            Some(txt) => Some(txt.clone()),
            None if self.authoritative => Some(Txt::Error(mail_auth::Error::Dns(
                mail_auth::DnsError::RecordNotFound(ResponseCode::NXDomain),
            ))),
            None => None,
        }
    }

    fn remove<Q>(&self, _name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        None
    }

    // The records are fixed; the resolver keeps its own cache.
    fn insert(&self, _key: Box<str>, _value: Txt, _valid_until: std::time::Instant) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_when_they_must_be() {
        let mut s = String::new();
        push_value(&mut s, "user@example.com");
        push_value(&mut s, " ");
        push_value(&mut s, "a;b");
        push_value(&mut s, "x\r\ny\"z");
        push_value(&mut s, "a@b@c");
        assert_eq!(s, "user@example.com\" \"\"a;b\"\"xy\\\"z\"\"a@b@c\"");
    }

    #[test]
    fn reverse_paths_are_unwrapped() {
        assert_eq!(reverse_path("<a@example.com>"), "a@example.com");
        assert_eq!(reverse_path(" <> "), "");
        assert_eq!(reverse_path(""), "");
        assert_eq!(reverse_path("@example.com"), "postmaster@example.com");
        assert_eq!(
            reverse_path("<@a.example,@b.example:u@example.com>"),
            "u@example.com"
        );
    }

    #[test]
    fn printable_strips_line_breaks() {
        assert_eq!(printable("a\r\nb c\u{7f}é", 100), "ab c");
        assert_eq!(printable("abcdef", 3), "abc");
    }
}
