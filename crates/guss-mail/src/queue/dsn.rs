//! Delivery status notifications (RFC 3464) for recipients that failed.

use chrono::{DateTime, Utc};
use std::fmt::Write as _;

/// How much of the original message a bounce quotes.
const QUOTED: usize = 16 * 1024;

/// A `multipart/report` telling `sender` that `failed` recipients could
/// not be reached, with the original's headers attached.
pub(super) fn report(
    hostname: &str,
    sender: &str,
    failed: &[(String, String)],
    original: &[u8],
    now: DateTime<Utc>,
) -> Vec<u8> {
    let boundary = format!("guss-dsn-{}", uuid::Uuid::now_v7().simple());
    let headers_end = original
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(original.len().min(QUOTED), |p| (p + 4).min(QUOTED));
    let headers = String::from_utf8_lossy(original.get(..headers_end).unwrap_or_default());
    let mut text = String::new();
    let _ = write!(
        text,
        "From: Mail Delivery System <postmaster@{hostname}>\r\nTo: <{sender}>\r\n\
Subject: Undelivered Mail: {} recipient(s) could not be reached\r\n\
Date: {}\r\nMessage-ID: <{}@{hostname}>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\r\n\
--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
Your message could not be delivered to these recipients:\r\n\r\n",
        failed.len(),
        now.to_rfc2822(),
        uuid::Uuid::now_v7().simple(),
    );
    for (rcpt, why) in failed {
        let _ = write!(text, "  <{rcpt}>: {}\r\n", one_line(why));
    }
    let _ = write!(
        text,
        "\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; {hostname}\r\nArrival-Date: {}\r\n",
        now.to_rfc2822()
    );
    for (rcpt, why) in failed {
        let status = status_code(why);
        let _ = write!(
            text,
            "\r\nFinal-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {}\r\n",
            one_line(why)
        );
    }
    let _ = write!(
        text,
        "\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}"
    );
    if !text.ends_with("\r\n") {
        text.push_str("\r\n");
    }
    let _ = write!(text, "\r\n--{boundary}--\r\n");
    text.into_bytes()
}

fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(512)
        .collect()
}

/// The enhanced status code in a reply text, or a generic one.
fn status_code(why: &str) -> String {
    why.split_whitespace()
        .find(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map_or_else(|| "5.0.0".to_owned(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_names_each_recipient_and_status() {
        let original = b"From: anna@kanzlei.example\r\nSubject: Akte\r\n\r\nBody\r\n";
        let failed = [(
            "x@nowhere.example".to_owned(),
            "550 5.1.1 no such user".to_owned(),
        )];
        let report = String::from_utf8(report(
            "mail.kanzlei.example",
            "anna@kanzlei.example",
            &failed,
            original,
            Utc::now(),
        ))
        .unwrap();
        assert!(report.contains("Final-Recipient: rfc822; x@nowhere.example"));
        assert!(report.contains("Status: 5.1.1"));
        assert!(report.contains("Subject: Akte"));
        assert!(!report.contains("Body"), "only the headers are quoted");
        let parsed = mail_parser::MessageParser::default()
            .parse(report.as_bytes())
            .unwrap();
        assert_eq!(parsed.parts.len(), 4);
    }
}
