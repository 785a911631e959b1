//! What the MX checks before it accepts a message: SPF, DKIM, DMARC and
//! ARC, summed up in an `Authentication-Results` header.

use std::net::IpAddr;

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
#[derive(Clone, Debug, Default)]
pub struct InboundChecks {}

impl InboundChecks {
    /// Checks `message` from `ip` (which said `helo` and `MAIL FROM:<mail_from>`).
    pub async fn check(
        &self,
        _message: &[u8],
        _ip: IpAddr,
        _helo: &str,
        _mail_from: &str,
        receiver: &str,
    ) -> InboundVerdict {
        InboundVerdict {
            header: format!("Authentication-Results: {receiver}; none\r\n"),
            reject: None,
            junk: false,
        }
    }
}
