//! What the MX does to a message before it accepts it: SPF, DKIM, DMARC
//! and ARC through [`Verifier`], summed up in an `Authentication-Results`
//! header; forged results that claim to come from us are removed first
//! (RFC 8601 §5).

use std::net::IpAddr;

use crate::authenticity::Verifier;

/// The result of the checks on one inbound message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InboundVerdict {
    /// The `Authentication-Results` field to prepend, CRLF-terminated.
    pub header: String,
    /// The SMTP reply refusing the message (DMARC `p=reject` failed).
    pub reject: Option<String>,
    /// Whether it belongs in Junk (DMARC `p=quarantine` failed).
    pub junk: bool,
}

/// The inbound checks.
#[derive(Clone, Debug)]
pub struct InboundChecks {
    verifier: Verifier,
}

impl InboundChecks {
    /// Checks through `verifier`.
    pub fn new(verifier: Verifier) -> Self {
        InboundChecks { verifier }
    }

    /// Checks `message` from `ip` (which said `helo` and `MAIL FROM:<mail_from>`),
    /// as `receiver` names itself in the header.
    pub async fn check(
        &self,
        message: &[u8],
        ip: IpAddr,
        helo: &str,
        mail_from: &str,
        receiver: &str,
    ) -> InboundVerdict {
        let verdict = self
            .verifier
            .verify(message, ip, helo, mail_from, receiver)
            .await;
        InboundVerdict {
            header: verdict.authentication_results,
            reject: verdict.reject,
            junk: verdict.quarantine,
        }
    }
}

/// `message` without `Authentication-Results` fields that name `receiver`
/// as their authserv-id: only we may write those, so any that arrive are
/// forgeries. Everything else stays byte for byte.
///
/// ```
/// let raw = b"Authentication-Results: mx.kanzlei.example;\r\n dkim=pass\r\nAuthentication-Results: other.example; spf=fail\r\nSubject: x\r\n\r\nBody\r\n";
/// let clean = guss_mail::inbound::strip_forged_results(raw, "MX.kanzlei.example");
/// assert_eq!(clean, b"Authentication-Results: other.example; spf=fail\r\nSubject: x\r\n\r\nBody\r\n");
/// ```
pub fn strip_forged_results(message: &[u8], receiver: &str) -> Vec<u8> {
    const NAME: &[u8] = b"authentication-results:";
    let header_end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(message.len(), |p| p + 2);
    let (head, body) = message.split_at(header_end.min(message.len()));
    let mut out = Vec::with_capacity(message.len());
    let mut dropping = false;
    for line in head.split_inclusive(|&b| b == b'\n') {
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continuation {
            dropping = line.len() > NAME.len()
                && line
                    .get(..NAME.len())
                    .is_some_and(|n| n.eq_ignore_ascii_case(NAME))
                && {
                    let value = String::from_utf8_lossy(line.get(NAME.len()..).unwrap_or_default());
                    let id = value
                        .trim_start()
                        .split(|c: char| c == ';' || c.is_whitespace())
                        .next()
                        .unwrap_or_default();
                    id.eq_ignore_ascii_case(receiver)
                };
        }
        if !dropping {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(body);
    out
}
