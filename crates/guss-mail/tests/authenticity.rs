#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! DKIM signing and verification, DMARC outcomes and the
//! `Authentication-Results` field, with DNS answers given in advance.

use std::net::IpAddr;

use guss_mail::authenticity::{AuthResult, DmarcPolicy, Verdict, Verifier};
use guss_mail::dkim::{self, Algorithm, DkimKey};
use proptest::prelude::*;

const SENDER_IP: &str = "192.0.2.10";
const RECEIVER: &str = "mx.guss.example";

fn message(from: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Alice <{from}>\r\n\
         To: bob@guss.example\r\n\
         Subject: Quarterly numbers\r\n\
         Date: Mon, 02 Nov 2026 09:00:00 +0100\r\n\
         Message-ID: <q3@example.com>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         {body}"
    )
    .into_bytes()
}

fn keys() -> (DkimKey, DkimKey) {
    (
        DkimKey::generate(Algorithm::Ed25519, "guss-ed-202611").unwrap(),
        DkimKey::generate(Algorithm::Rsa, "guss-rsa-202611").unwrap(),
    )
}

/// DNS for example.com: both keys, SPF for 192.0.2.10, and `dmarc`.
fn verifier(keys: &[&DkimKey], dmarc: &str) -> Verifier {
    let mut records: Vec<(String, String)> = keys
        .iter()
        .map(|k| (k.dns_name("example.com"), k.dns_txt()))
        .collect();
    records.push(("example.com".into(), format!("v=spf1 ip4:{SENDER_IP} -all")));
    records.push(("_dmarc.example.com".into(), dmarc.into()));
    Verifier::offline(records).unwrap()
}

fn signed(msg: &[u8], keys: &[DkimKey]) -> Vec<u8> {
    let mut out = dkim::sign(msg, "example.com", keys).unwrap().into_bytes();
    out.extend_from_slice(msg);
    out
}

async fn verify(verifier: &Verifier, msg: &[u8], ip: &str, mail_from: &str) -> Verdict {
    let ip: IpAddr = ip.parse().unwrap();
    verifier
        .verify(msg, ip, "mail.example.com", mail_from, RECEIVER)
        .await
}

#[tokio::test]
async fn both_signatures_verify() {
    let (ed, rsa) = keys();
    let verifier = verifier(&[&ed, &rsa], "v=DMARC1; p=reject");
    let msg = signed(&message("alice@example.com", "Hello Bob\r\n"), &[ed, rsa]);
    let verdict = verify(&verifier, &msg, SENDER_IP, "alice@example.com").await;

    assert_eq!(verdict.dkim.len(), 2, "{verdict:#?}");
    for check in &verdict.dkim {
        assert_eq!(check.result, AuthResult::Pass, "{check:?}");
        assert_eq!(check.domain, "example.com");
    }
    let algorithms: Vec<_> = verdict.dkim.iter().map(|c| c.algorithm).collect();
    assert!(algorithms.contains(&"ed25519-sha256") && algorithms.contains(&"rsa-sha256"));
    assert_eq!(verdict.spf.result, AuthResult::Pass);
    assert_eq!(verdict.dmarc.result, AuthResult::Pass);
    assert!(verdict.dmarc.spf_aligned && verdict.dmarc.dkim_aligned);
    assert_eq!(verdict.dmarc.policy, DmarcPolicy::Reject);
    assert_eq!(verdict.reject, None);
    assert!(!verdict.quarantine);

    let ar = &verdict.authentication_results;
    assert!(
        ar.starts_with("Authentication-Results: mx.guss.example;\r\n\t"),
        "{ar}"
    );
    assert!(ar.ends_with("\r\n") && !ar.ends_with("\r\n\r\n"), "{ar}");
    for part in [
        "spf=pass smtp.mailfrom=alice@example.com",
        "dkim=pass header.d=example.com header.s=guss-ed-202611 header.a=ed25519-sha256 header.b=",
        "dkim=pass header.d=example.com header.s=guss-rsa-202611 header.a=rsa-sha256",
        "arc=none",
        "dmarc=pass (p=reject) header.from=example.com",
    ] {
        assert!(ar.contains(part), "{part} missing from\n{ar}");
    }
    // Every line but the last ends with ";".
    let lines: Vec<_> = ar.trim_end().split("\r\n").collect();
    assert!(
        lines[..lines.len() - 1].iter().all(|l| l.ends_with(';')),
        "{ar}"
    );
}

#[tokio::test]
async fn each_algorithm_verifies_on_its_own() {
    let (ed, rsa) = keys();
    for key in [ed, rsa] {
        let verifier = verifier(&[&key], "v=DMARC1; p=none");
        let msg = signed(
            &message("alice@example.com", "Hi\r\n"),
            std::slice::from_ref(&key),
        );
        let verdict = verify(&verifier, &msg, SENDER_IP, "alice@example.com").await;
        assert_eq!(verdict.dkim.len(), 1);
        assert_eq!(
            verdict.dkim[0].result,
            AuthResult::Pass,
            "{:?}",
            key.algorithm()
        );
        assert_eq!(verdict.dkim[0].selector, key.selector());
    }
}

#[tokio::test]
async fn a_changed_body_fails_and_dmarc_rejects() {
    let (ed, rsa) = keys();
    let verifier = verifier(&[&ed, &rsa], "v=DMARC1; p=reject");
    let mut msg = signed(&message("alice@example.com", "Pay 100 EUR\r\n"), &[ed, rsa]);
    let at = msg.len() - "100 EUR\r\n".len();
    msg[at..at + 3].copy_from_slice(b"900");
    // From another address, so SPF cannot rescue DMARC.
    let verdict = verify(&verifier, &msg, "198.51.100.7", "alice@example.com").await;

    assert_eq!(verdict.spf.result, AuthResult::Fail);
    assert_eq!(verdict.dkim.len(), 2);
    for check in &verdict.dkim {
        assert_eq!(check.result, AuthResult::Fail, "{check:?}");
        assert!(check.reason.as_deref().unwrap().contains("body hash"));
    }
    assert_eq!(verdict.dmarc.result, AuthResult::Fail);
    let reject = verdict.reject.as_deref().unwrap();
    assert!(reject.starts_with("550 5.7.1 "), "{reject}");
    assert!(reject.contains("example.com"));
    assert!(!reject.contains('\r') && !reject.contains('\n'));
    assert!(verdict.authentication_results.contains("dkim=fail reason="));
    assert!(
        verdict
            .authentication_results
            .contains("dmarc=fail (p=reject)")
    );
}

#[tokio::test]
async fn a_changed_header_fails() {
    let (ed, _) = keys();
    let verifier = verifier(&[&ed], "v=DMARC1; p=reject");
    let msg = signed(
        &message("alice@example.com", "Hi\r\n"),
        std::slice::from_ref(&ed),
    );
    let text = String::from_utf8(msg).unwrap();
    let msg = text
        .replace("Quarterly numbers", "Quarterly numberz")
        .into_bytes();
    let verdict = verify(&verifier, &msg, SENDER_IP, "alice@example.com").await;
    assert_eq!(verdict.dkim[0].result, AuthResult::Fail);
    // SPF still aligns, so DMARC passes.
    assert_eq!(verdict.dmarc.result, AuthResult::Pass);
}

#[tokio::test]
async fn an_added_from_field_breaks_the_signature() {
    let (ed, _) = keys();
    let verifier = verifier(&[&ed], "v=DMARC1; p=none");
    let msg = signed(
        &message("alice@example.com", "Hi\r\n"),
        std::slice::from_ref(&ed),
    );
    let mut forged = b"From: ceo@example.com\r\n".to_vec();
    forged.extend_from_slice(&msg);
    let verdict = verify(&verifier, &forged, SENDER_IP, "alice@example.com").await;
    assert_ne!(verdict.dkim[0].result, AuthResult::Pass);
}

#[tokio::test]
async fn quarantine_is_reported_without_rejecting() {
    let (ed, _) = keys();
    let verifier = verifier(&[&ed], "v=DMARC1; p=quarantine");
    let verdict = verify(
        &verifier,
        &message("alice@example.com", "unsigned\r\n"),
        "198.51.100.7",
        "alice@example.com",
    )
    .await;
    assert!(verdict.dkim.is_empty());
    assert_eq!(verdict.dmarc.result, AuthResult::Fail);
    assert_eq!(verdict.dmarc.policy, DmarcPolicy::Quarantine);
    assert!(verdict.quarantine);
    assert_eq!(verdict.reject, None);
    assert!(verdict.authentication_results.contains("dkim=none"));
}

#[tokio::test]
async fn test_mode_lowers_reject_to_quarantine() {
    let (ed, _) = keys();
    let verifier = verifier(&[&ed], "v=DMARC1; p=reject; t=y");
    let verdict = verify(
        &verifier,
        &message("alice@example.com", "unsigned\r\n"),
        "198.51.100.7",
        "alice@example.com",
    )
    .await;
    assert_eq!(verdict.reject, None);
    assert!(verdict.quarantine);
}

#[tokio::test]
async fn no_dmarc_record_means_no_policy() {
    let (ed, _) = keys();
    let verifier = Verifier::offline([(ed.dns_name("example.com"), ed.dns_txt())]).unwrap();
    let verdict = verify(
        &verifier,
        &message("alice@example.com", "unsigned\r\n"),
        "198.51.100.7",
        "alice@example.com",
    )
    .await;
    assert_eq!(verdict.spf.result, AuthResult::None);
    assert_eq!(verdict.dmarc.result, AuthResult::None);
    assert_eq!(verdict.reject, None);
    assert!(!verdict.quarantine);
}

#[tokio::test]
async fn a_signature_from_an_unknown_key_is_a_permanent_error() {
    let (ed, _) = keys();
    let verifier = Verifier::offline(Vec::<(String, String)>::new()).unwrap();
    let msg = signed(&message("alice@example.com", "Hi\r\n"), &[ed]);
    let verdict = verify(&verifier, &msg, SENDER_IP, "alice@example.com").await;
    assert_eq!(verdict.dkim[0].result, AuthResult::PermError);
}

#[tokio::test]
async fn bounces_are_checked_against_the_helo_name() {
    let verifier = Verifier::offline([("mail.example.com", "v=spf1 ip4:192.0.2.10 -all")]).unwrap();
    let ip: IpAddr = SENDER_IP.parse().unwrap();
    let spf = verifier
        .check_sender(ip, "mail.example.com", "<>", RECEIVER)
        .await;
    assert_eq!(spf.result, AuthResult::Pass);
    assert_eq!(spf.domain, "mail.example.com");
    assert_eq!(spf.helo, None);
    let verdict = verifier
        .verify_with_spf(
            &message("mailer-daemon@mail.example.com", "bounce\r\n"),
            spf,
        )
        .await;
    assert!(
        verdict
            .authentication_results
            .contains("spf=pass smtp.helo=mail.example.com"),
        "{}",
        verdict.authentication_results
    );
}

#[tokio::test]
async fn spf_fail_reply_carries_the_explanation() {
    let verifier = Verifier::offline([
        (
            "example.com",
            "v=spf1 ip4:192.0.2.10 -all exp=why.example.com",
        ),
        ("why.example.com", "%{i} may not send for %{d}"),
    ])
    .unwrap();
    let ip: IpAddr = "198.51.100.7".parse().unwrap();
    let spf = verifier
        .check_sender(ip, "evil.example.net", "alice@example.com", RECEIVER)
        .await;
    assert_eq!(spf.result, AuthResult::Fail);
    let reply = spf.fail_reply().unwrap();
    assert!(reply.starts_with("550 5.7.23 "), "{reply}");
    assert!(
        reply.contains("198.51.100.7 may not send for example.com"),
        "{reply}"
    );
}

#[tokio::test]
async fn hostile_values_cannot_break_the_field() {
    let verifier = Verifier::offline(Vec::<(String, String)>::new()).unwrap();
    let ip: IpAddr = SENDER_IP.parse().unwrap();
    let verdict = verifier
        .verify(
            b"From: x@example.com\r\nDKIM-Signature: v=1; a=rsa-sha256; d=a;b\r\n\r\n",
            ip,
            "evil\r\nX-Injected: yes",
            "<\"a;b\r\nc\"@example.com>",
            RECEIVER,
        )
        .await;
    let ar = &verdict.authentication_results;
    assert!(!ar.contains("\r\nX-Injected"), "{ar}");
    // CRLF appears only as folding (followed by a tab) and at the end.
    assert_eq!(
        ar.matches("\r\n").count(),
        ar.matches("\r\n\t").count() + 1,
        "{ar}"
    );
}

/// A mailing list seals what it forwards (RFC 8617); the chain verifies, and
/// breaks when the message changes after sealing.
#[tokio::test]
async fn an_arc_sealed_message_verifies() {
    use mail_auth::arc::ArcSealer;
    use mail_auth::common::crypto::Ed25519Key;
    use mail_auth::common::headers::HeaderWriter;
    use mail_auth::{ArcOutput, AuthenticatedMessage, AuthenticationResults};

    let list_key = DkimKey::generate(Algorithm::Ed25519, "arc").unwrap();
    let original = message("alice@example.com", "To the list\r\n");
    let parsed = AuthenticatedMessage::parse(&original).unwrap();
    let results = AuthenticationResults::new("lists.example.net");
    let seal = ArcSealer::from_key(
        Ed25519Key::from_pkcs8_maybe_unchecked_der(&list_key.to_pkcs8()).unwrap(),
    )
    .domain("lists.example.net")
    .selector("arc")
    .headers(["From", "To", "Subject", "Date"])
    .seal(&parsed, &results, &ArcOutput::default())
    .unwrap();
    let mut sealed = seal.to_header().into_bytes();
    sealed.extend_from_slice(&original);

    let verifier =
        Verifier::offline([(list_key.dns_name("lists.example.net"), list_key.dns_txt())]).unwrap();
    let verdict = verify(
        &verifier,
        &sealed,
        SENDER_IP,
        "list-bounces@lists.example.net",
    )
    .await;
    assert_eq!(verdict.arc.result, AuthResult::Pass, "{:?}", verdict.arc);
    assert_eq!(verdict.arc.instances, 1);
    assert!(verdict.authentication_results.contains("arc=pass"));

    let mut changed = sealed.clone();
    let len = changed.len();
    changed[len - 3] = b'X';
    let verdict = verify(
        &verifier,
        &changed,
        SENDER_IP,
        "list-bounces@lists.example.net",
    )
    .await;
    assert_eq!(verdict.arc.result, AuthResult::Fail, "{:?}", verdict.arc);
}

fn verdict_for(bytes: &[u8]) -> Verdict {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let verifier = Verifier::offline([("example.com", "v=spf1 -all")]).unwrap();
    runtime.block_on(verify(&verifier, bytes, SENDER_IP, "a@example.com"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary bytes, and signed messages cut or altered anywhere, give a
    /// verdict and a well-formed field, never a panic.
    #[test]
    fn any_input_gives_a_verdict(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let verdict = verdict_for(&bytes);
        prop_assert!(verdict.authentication_results.ends_with("\r\n"));
    }

    #[test]
    fn damaged_signed_messages_give_a_verdict(cut in 0usize..2000, at in 0usize..2000, byte in any::<u8>()) {
        let key = DkimKey::generate(Algorithm::Ed25519, "s").unwrap();
        let mut msg = signed(&message("alice@example.com", "Hello\r\n"), &[key]);
        let at = at % msg.len();
        msg[at] = byte;
        msg.truncate(cut.min(msg.len()));
        let verdict = verdict_for(&msg);
        prop_assert!(verdict.authentication_results.ends_with("\r\n"));
    }
}
