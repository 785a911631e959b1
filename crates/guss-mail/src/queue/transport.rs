//! How queued mail leaves: to a configured relay, or to each recipient
//! domain's MX hosts (RFC 5321 §5), with STARTTLS whenever offered.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;
use mail_send::SmtpClient;
use mail_send::smtp::AssertReply;
use mail_send::smtp::message::Parameters;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_rustls::TlsConnector;

/// What became of one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted by the next server.
    Delivered,
    /// Failed for now; try again later.
    Retry(String),
    /// Refused for good.
    Failed(String),
}

/// Where queued mail goes.
#[derive(Clone)]
pub struct Transport {
    kind: Kind,
    timeout: Duration,
    tls: TlsConnector,
}

#[derive(Clone)]
enum Kind {
    Relay {
        host: String,
        port: u16,
    },
    Mx {
        resolver: Arc<TokioResolver>,
        port: u16,
    },
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Relay { host, port } => write!(f, "Transport::Relay({host}:{port})"),
            Kind::Mx { port, .. } => write!(f, "Transport::Mx(port {port})"),
        }
    }
}

/// Most MX hosts tried per domain.
const MAX_HOSTS: usize = 5;

impl Transport {
    /// Everything through the relay at `host:port`.
    pub fn relay(host: &str, port: u16) -> crate::Result<Self> {
        Ok(Transport {
            kind: Kind::Relay {
                host: host.to_owned(),
                port,
            },
            timeout: Duration::from_secs(300),
            tls: connector()?,
        })
    }

    /// Straight to each domain's MX hosts, found with the system resolver.
    pub fn mx() -> crate::Result<Self> {
        let resolver = TokioResolver::builder_tokio()
            .map_err(|e| crate::Error::Backend(format!("DNS resolver: {e}")))?
            .build()
            .map_err(|e| crate::Error::Backend(format!("DNS resolver: {e}")))?;
        Ok(Transport {
            kind: Kind::Mx {
                resolver: Arc::new(resolver),
                port: 25,
            },
            timeout: Duration::from_secs(300),
            tls: connector()?,
        })
    }

    /// Straight to each domain's MX hosts on `port`, found through the one
    /// name server at `name_server` (a local resolver, or a test's).
    pub fn mx_via(name_server: SocketAddr, port: u16) -> crate::Result<Self> {
        use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
        let mut udp = ConnectionConfig::udp();
        udp.port = name_server.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = name_server.port();
        let server = NameServerConfig::new(name_server.ip(), true, vec![udp, tcp]);
        let resolver = TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(vec![server]),
            hickory_resolver::net::runtime::TokioRuntimeProvider::default(),
        )
        .build()
        .map_err(|e| crate::Error::Backend(format!("DNS resolver: {e}")))?;
        Ok(Transport {
            kind: Kind::Mx {
                resolver: Arc::new(resolver),
                port,
            },
            timeout: Duration::from_secs(300),
            tls: connector()?,
        })
    }

    /// The same transport with another time limit per step.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Delivers `raw` for `recipients` (all of `domain`); one outcome per
    /// recipient, in order.
    pub async fn deliver(
        &self,
        helo: &str,
        domain: &str,
        sender: &str,
        recipients: &[String],
        raw: &[u8],
    ) -> Vec<Outcome> {
        let hosts = match &self.kind {
            Kind::Relay { host, port } => vec![(host.clone(), *port)],
            Kind::Mx { resolver, port } => match mx_hosts(resolver, domain).await {
                Ok(hosts) => hosts.into_iter().map(|h| (h, *port)).collect(),
                Err(outcome) => return vec![outcome; recipients.len()],
            },
        };
        let mut last =
            vec![Outcome::Retry(format!("no mail server for {domain} answered")); recipients.len()];
        for (host, port) in hosts.into_iter().take(MAX_HOSTS) {
            match self
                .session(helo, &host, port, sender, recipients, raw)
                .await
            {
                Ok(outcomes) => return outcomes,
                Err(why) => {
                    tracing::debug!(%host, why = ?why, "delivery attempt failed");
                    let permanent = matches!(why, Outcome::Failed(_));
                    last = vec![why; recipients.len()];
                    if permanent {
                        break;
                    }
                }
            }
        }
        last
    }

    async fn session(
        &self,
        helo: &str,
        host: &str,
        port: u16,
        sender: &str,
        recipients: &[String],
        raw: &[u8],
    ) -> Result<Vec<Outcome>, Outcome> {
        let mut client = None;
        let mut last = Outcome::Retry(format!("{host} has no address"));
        // Every address of the host in turn (IPv6 and IPv4, RFC 5321 §5.1).
        for address in resolve(host, port).await? {
            match SmtpClient::connect(address, self.timeout).await {
                Ok(connected) => {
                    client = Some(connected);
                    break;
                }
                Err(e) => last = retry(e),
            }
        }
        let Some(mut client) = client else {
            return Err(last);
        };
        client
            .read()
            .await
            .map_err(retry)?
            .assert_positive_completion()
            .map_err(classify)?;
        let ehlo = client.ehlo(helo).await.map_err(classify)?;
        if ehlo.has_capability(smtp_proto::EXT_START_TLS) {
            let name = if host.parse::<std::net::IpAddr>().is_ok() {
                "localhost"
            } else {
                host
            };
            match client.start_tls(&self.tls, name).await {
                Ok(mut tls) => {
                    tls.ehlo(helo).await.map_err(classify)?;
                    return transaction(&mut tls, sender, recipients, raw).await;
                }
                Err(e) => return Err(retry(e)),
            }
        }
        transaction(&mut client, sender, recipients, raw).await
    }
}

/// MAIL, RCPT for each recipient, DATA: outcomes per recipient.
async fn transaction<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<T>,
    sender: &str,
    recipients: &[String],
    raw: &[u8],
) -> Result<Vec<Outcome>, Outcome> {
    let mut params = Parameters::new();
    params.add(("SIZE".to_owned(), raw.len().to_string()));
    if raw.iter().any(|b| !b.is_ascii()) {
        params.add("BODY=8BITMIME");
    }
    client.mail_from(sender, &params).await.map_err(classify)?;
    let mut outcomes = Vec::with_capacity(recipients.len());
    for rcpt in recipients {
        match client.rcpt_to(rcpt, &Parameters::new()).await {
            Ok(()) => outcomes.push(None),
            Err(e) => outcomes.push(Some(classify(e))),
        }
    }
    if outcomes.iter().all(Option::is_some) {
        let _ = client.rset().await;
        return Ok(outcomes.into_iter().flatten().collect());
    }
    client
        .cmd(b"DATA\r\n")
        .await
        .map_err(retry)?
        .assert_code(354)
        .map_err(classify)?;
    write_data(&mut client.stream, raw)
        .await
        .map_err(|e| Outcome::Retry(format!("connection: {e}")))?;
    let reply = client.read().await.map_err(retry)?;
    let accepted = reply.assert_positive_completion().map_err(classify);
    let _ = client.cmd(b"QUIT\r\n").await;
    Ok(outcomes
        .into_iter()
        .map(|o| match (o, &accepted) {
            (Some(refused), _) => refused,
            (None, Ok(())) => Outcome::Delivered,
            (None, Err(e)) => e.clone(),
        })
        .collect())
}

/// Writes a message as DATA: dot-stuffed, ended by CRLF.CRLF, with the
/// message's own bytes unchanged (a final CRLF is added only if missing).
async fn write_data<S: AsyncWrite + Unpin>(stream: &mut S, raw: &[u8]) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 64 + 8);
    let mut line_start = true;
    for &b in raw {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    if !raw.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    stream.write_all(&out).await?;
    stream.flush().await
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Outcome> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| Outcome::Retry(format!("{host}: {e}")))?
        .take(MAX_HOSTS)
        .collect();
    if addresses.is_empty() {
        return Err(Outcome::Retry(format!("{host} has no address")));
    }
    Ok(addresses)
}

/// The domain's MX hosts by preference; the domain itself when it has
/// none (RFC 5321 §5.1); a null MX (RFC 7505) fails for good.
async fn mx_hosts(resolver: &TokioResolver, domain: &str) -> Result<Vec<String>, Outcome> {
    match resolver.mx_lookup(format!("{domain}.")).await {
        Ok(lookup) => {
            let mut hosts: Vec<(u16, String)> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => Some((
                        mx.preference,
                        mx.exchange.to_ascii().trim_end_matches('.').to_owned(),
                    )),
                    _ => None,
                })
                .collect();
            hosts.sort();
            if hosts.iter().any(|(_, h)| h.is_empty()) {
                return Err(Outcome::Failed(format!(
                    "{domain} accepts no mail (null MX)"
                )));
            }
            if hosts.is_empty() {
                return Ok(vec![domain.to_owned()]);
            }
            Ok(hosts.into_iter().map(|(_, h)| h).collect())
        }
        Err(e) if e.is_no_records_found() => Ok(vec![domain.to_owned()]),
        Err(e) => Err(Outcome::Retry(format!(
            "DNS lookup of {domain} failed: {e}"
        ))),
    }
}

fn retry(e: mail_send::Error) -> Outcome {
    Outcome::Retry(e.to_string())
}

/// 5xx replies fail for good, everything else is worth another try.
fn classify(e: mail_send::Error) -> Outcome {
    match e {
        mail_send::Error::UnexpectedReply(reply) => {
            let [class, subject, detail] = reply.esc;
            let text = if class == 0 {
                format!("{} {}", reply.code, reply.message)
            } else {
                format!(
                    "{} {class}.{subject}.{detail} {}",
                    reply.code, reply.message
                )
            };
            if reply.code >= 500 {
                Outcome::Failed(text)
            } else {
                Outcome::Retry(text)
            }
        }

        other => Outcome::Retry(other.to_string()),
    }
}

/// Opportunistic TLS (RFC 7435): without MTA-STS or DANE a certificate
/// cannot be checked against anything, so any is accepted (the handshake
/// signature still is); it still hides the message from passive listeners.
fn connector() -> crate::Result<TlsConnector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| crate::Error::Backend(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
