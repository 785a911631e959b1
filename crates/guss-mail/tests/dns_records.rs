//! The public DNS API: the zone file of a fixed domain is a contract, and a
//! check against name servers that do not answer properly ends in time with
//! findings, not a panic. The check and publishing against a real BIND are
//! in `scripts/interop/mail-dns.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use guss_mail::dns::{
    DkimAlgorithm, DkimPublicKey, LiveDns, MailDomain, Problem, Record, RecordSet, check,
    mta_sts_policy, records,
};

const ZONE: &str = "\
mail.example.test. 3600 IN A 192.0.2.25
mail.example.test. 3600 IN AAAA 2001:db8::25
web.example.test. 3600 IN A 192.0.2.80
example.test. 3600 IN MX 10 mail.example.test.
example.test. 3600 IN TXT \"v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 mx -all\"
mail.example.test. 3600 IN TXT \"v=spf1 a -all\"
guss1._domainkey.example.test. 3600 IN TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"
_dmarc.example.test. 3600 IN TXT \"v=DMARC1; p=quarantine; rua=mailto:postmaster@example.test\"
_mta-sts.example.test. 3600 IN TXT \"v=STSv1; id=3bd8c20313d04b43cf9d\"
_smtp._tls.example.test. 3600 IN TXT \"v=TLSRPTv1; rua=mailto:postmaster@example.test\"
_submissions._tcp.example.test. 3600 IN SRV 0 1 465 mail.example.test.
_submission._tcp.example.test. 3600 IN SRV 10 1 587 mail.example.test.
_imaps._tcp.example.test. 3600 IN SRV 0 1 993 mail.example.test.
_imap._tcp.example.test. 3600 IN SRV 0 0 0 .
_pop3s._tcp.example.test. 3600 IN SRV 0 0 0 .
_pop3._tcp.example.test. 3600 IN SRV 0 0 0 .
_caldavs._tcp.example.test. 3600 IN SRV 0 1 443 web.example.test.
_caldavs._tcp.example.test. 3600 IN TXT \"path=/.well-known/caldav\"
_caldav._tcp.example.test. 3600 IN SRV 0 0 0 .
_carddavs._tcp.example.test. 3600 IN SRV 0 1 443 web.example.test.
_carddavs._tcp.example.test. 3600 IN TXT \"path=/.well-known/carddav\"
_carddav._tcp.example.test. 3600 IN SRV 0 0 0 .
_autodiscover._tcp.example.test. 3600 IN SRV 0 1 443 web.example.test.
mta-sts.example.test. 3600 IN CNAME web.example.test.
autoconfig.example.test. 3600 IN CNAME web.example.test.
autodiscover.example.test. 3600 IN CNAME web.example.test.
example.test. 3600 IN CAA 0 issue \"letsencrypt.org\"
";

fn domain() -> MailDomain {
    let mut domain = MailDomain::new("example.test", "mail.example.test", "web.example.test");
    domain.mail_host_addrs = vec![
        "192.0.2.25".parse().unwrap(),
        "2001:db8::25".parse().unwrap(),
    ];
    domain.web_host_addrs = vec!["192.0.2.80".parse().unwrap()];
    domain.dkim_keys.push(DkimPublicKey::new(
        "guss1",
        DkimAlgorithm::Ed25519,
        "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    ));
    domain.caa_issuer = Some("letsencrypt.org".into());
    domain.validate().unwrap();
    domain
}

#[test]
fn the_zone_file_of_a_domain_is_exactly_this() {
    assert_eq!(records(&domain()).to_zone_file(), ZONE);
}

#[test]
fn the_zone_file_reads_back_into_the_same_records() {
    let set = records(&domain());
    let back: RecordSet = ZONE
        .lines()
        .map(|line| line.parse::<Record>().unwrap())
        .collect();
    assert_eq!(back, set);
}

#[test]
fn the_mta_sts_policy_file() {
    assert_eq!(
        mta_sts_policy(&domain()),
        "version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmax_age: 604800\r\n"
    );
}

#[tokio::test]
async fn a_server_that_is_not_there_gives_lookup_failures_in_time() {
    // Reserve a port, then free it: nothing answers there.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dns = LiveDns::name_server(([127, 0, 0, 1], port).into()).unwrap();
    let set = records(&domain());
    let started = Instant::now();
    let findings = check(&set, &dns).await;
    assert!(started.elapsed() < Duration::from_secs(40));
    assert!(!findings.is_empty());
    assert!(
        findings
            .iter()
            .all(|f| matches!(f.problem, Problem::LookupFailed { .. })),
        "{findings:?}"
    );
}

#[tokio::test]
async fn a_server_that_answers_garbage_gives_findings_not_a_panic() {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        let mut n = 0u8;
        while let Ok((len, peer)) = socket.recv_from(&mut buf).await {
            n = n.wrapping_add(1);
            // The query's id and a response header, then nonsense: counts
            // that promise records which are not there, or random bytes.
            let mut reply = buf[..len.min(2)].to_vec();
            reply.extend_from_slice(&[0x84, 0x00, 0, 1, 0, 200, 0, 0, 0, 0]);
            reply.extend((0..u16::from(n) * 7).map(|i| (i as u8).wrapping_mul(n)));
            let _ = socket.send_to(&reply, peer).await;
        }
    });
    let dns = LiveDns::name_server(addr).unwrap();
    let set = records(&domain());
    let started = Instant::now();
    let findings = check(&set, &dns).await;
    assert!(started.elapsed() < Duration::from_secs(40));
    assert!(findings.len() >= set.len() / 2, "{findings:?}");
    for finding in &findings {
        assert!(!finding.fix.is_empty());
    }
}
