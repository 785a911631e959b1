//! The SMTP listeners end to end over TCP: inbound delivery byte for byte,
//! PIPELINING, refusals (unknown recipient, relaying, size, missing or
//! wrong authentication, foreign sender), STARTTLS command injection, and
//! submitted mail crossing the outbound queue to a second server, also
//! when that server is down at first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use guss_core::{MemoryEventSink, TenantId};
use guss_mail::queue::{Queue, QueueConfig, Transport};
use guss_mail::sending::Sending;
use guss_mail::smtp::{Listener, Smtp, SmtpConfig, SmtpParts};
use guss_mail::store::{Account, MailStore, Role};
use guss_testkit::accounts::{Accounts, MailAccounts, person_id};
use hickory_resolver::proto::rr::rdata::MX;
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use support::dns::{Answer, serve};

mod support;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

struct Server {
    mx: SocketAddr,
    submission: SocketAddr,
    store: MailStore,
    tenant: TenantId,
    queue: Queue,
    events: Arc<MemoryEventSink>,
    _dir: tempfile::TempDir,
}

/// Anna may send as Chef (a deputy); nothing else is allowed.
struct DeputyForChef;

#[async_trait::async_trait]
impl guss_core::Authorizer for DeputyForChef {
    async fn authorize(
        &self,
        principal: &guss_core::Principal,
        action: &guss_core::Action,
        resource: &guss_core::Resource,
        _: &guss_core::Context,
    ) -> guss_core::Decision {
        let anna = matches!(principal, guss_core::Principal::Person { person, .. } if *person == person_id("anna"));
        if anna
            && action.as_str() == "send_as"
            && resource.id() == Account::Person(person_id("chef")).key()
        {
            guss_core::Decision::Allow
        } else {
            guss_core::Decision::Deny
        }
    }
}

/// A server for `domain` with person `anna` (password `pw`), relaying to `relay`.
async fn server(domain: &str, relay: Option<SocketAddr>, max_size: usize) -> Server {
    let transport = match relay {
        Some(a) => Transport::relay(&a.ip().to_string(), a.port())
            .unwrap()
            .with_timeout(Duration::from_secs(5)),
        None => Transport::mx().unwrap(),
    };
    server_with_dns(domain, transport, max_size, Vec::new()).await
}

/// [`server`], its SPF, DKIM and DMARC lookups answered from `txt` only.
async fn server_with_dns(
    domain: &str,
    transport: Transport,
    max_size: usize,
    txt: Vec<(&str, &str)>,
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let support::office::Office {
        tenant,
        store,
        router,
        events,
    } = support::office::office(dir.path(), domain, &["anna", "chef"]).await;
    let config = QueueConfig {
        retry: vec![Duration::from_millis(200)],
        poll: Duration::from_millis(100),
        ..QueueConfig::default()
    };
    let hostname = format!("mail.{domain}");
    let queue = Queue::new(store.clone(), router.clone(), transport, &hostname, config);
    tokio::spawn(queue.clone().run());
    let mut smtp_config = SmtpConfig::new(&hostname);
    smtp_config.allow_plain_auth_on_loopback = true;
    smtp_config.max_message_size = max_size;
    smtp_config.max_recipients = 3;
    let smtp = Smtp::new(SmtpParts {
        config: smtp_config,
        store: store.clone(),
        router,
        authenticator: Arc::new(MailAccounts::new(
            Accounts::parse(["anna:pw"]).unwrap(),
            domain,
        )),
        authorizer: Arc::new(DeputyForChef),
        tls: Some(guss_mail::smtp::tls::self_signed(&hostname).unwrap()),
        sending: Sending::new(store.clone(), &hostname),
        queue: queue.clone(),
        checks: guss_mail::inbound::InboundChecks::new(
            guss_mail::authenticity::Verifier::offline(txt).unwrap(),
        ),
    });
    let mx = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let submission = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (mx_addr, sub_addr) = (mx.local_addr().unwrap(), submission.local_addr().unwrap());
    tokio::spawn(smtp.clone().serve(mx, Listener::Mx));
    tokio::spawn(smtp.serve(submission, Listener::Submission));
    Server {
        mx: mx_addr,
        submission: sub_addr,
        store,
        tenant,
        queue,
        events,
        _dir: dir,
    }
}

struct Client {
    reader: BufReader<tokio::io::ReadHalf<TcpStream>>,
    writer: tokio::io::WriteHalf<TcpStream>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let (r, w) = tokio::io::split(TcpStream::connect(addr).await.unwrap());
        let mut client = Client {
            reader: BufReader::new(r),
            writer: w,
        };
        assert!(client.reply().await.starts_with("220 "));
        client
    }

    /// One whole (possibly multi-line) reply.
    async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).await.unwrap();
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] == b' ' {
                return all;
            }
        }
    }

    async fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).await.unwrap();
    }

    async fn cmd(&mut self, line: &str) -> String {
        self.send(&format!("{line}\r\n")).await;
        self.reply().await
    }

    /// MAIL FROM, RCPT TO for each of `to` and DATA, each accepted.
    async fn envelope(&mut self, from: &str, to: &[&str]) {
        self.expect(&format!("MAIL FROM:<{from}>"), "250 ", "sender")
            .await;
        for to in to {
            self.expect(&format!("RCPT TO:<{to}>"), "250 ", "recipient")
                .await;
        }
        self.expect("DATA", "354 ", "").await;
    }

    /// Sends `line` and checks that the reply starts with `code`.
    async fn expect(&mut self, line: &str, code: &str, why: &str) {
        let reply = self.cmd(line).await;
        assert!(reply.starts_with(code), "{line}: {reply} ({why})");
    }

    async fn login(&mut self) {
        assert!(
            self.cmd("EHLO client.test")
                .await
                .contains("AUTH PLAIN LOGIN")
        );
        let token = base64::engine::general_purpose::STANDARD.encode("\0anna@kanzlei.example\0pw");
        assert!(
            self.cmd(&format!("AUTH PLAIN {token}"))
                .await
                .starts_with("235 ")
        );
    }
}

async fn inbox(server: &Server) -> Vec<bytes::Bytes> {
    inbox_of(server, "anna").await
}

async fn inbox_of(server: &Server, name: &str) -> Vec<bytes::Bytes> {
    let mail = server.store.tenant(server.tenant);
    let account = Account::Person(person_id(name));
    let inbox = mail.mailbox_by_role(&account, Role::Inbox).await.unwrap();
    let mut out = Vec::new();
    for m in mail.messages(inbox.id, 1..=u32::MAX).await.unwrap() {
        out.push(mail.raw(&m).await.unwrap());
    }
    out
}

/// The types of the events `server` emitted so far.
fn event_kinds(server: &Server) -> Vec<String> {
    server
        .events
        .events()
        .iter()
        .map(|e| e.kind().to_string())
        .collect()
}

/// The inbox of `name` once something has arrived (within ten seconds).
async fn arrived(server: &Server, name: &str) -> Vec<bytes::Bytes> {
    eventually(|| inbox_of(server, name), |messages| !messages.is_empty()).await
}

/// What `read` gives once `done` holds for it, or its last answer after ten
/// seconds: the queue records an attempt's outcome, and a delivery its
/// events, only after the effect a test waits for.
async fn eventually<T, F: Future<Output = T>>(
    read: impl Fn() -> F,
    done: impl Fn(&T) -> bool,
) -> T {
    let mut last = read().await;
    for _ in 0..100 {
        if done(&last) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        last = read().await;
    }
    last
}

fn has_all(kinds: &[String], wanted: &[&str]) -> bool {
    wanted.iter().all(|w| kinds.iter().any(|k| k == w))
}

/// The sender's queue once `done` holds for it (within ten seconds).
async fn queue_when(
    server: &Server,
    done: impl Fn(&[guss_mail::queue::Queued]) -> bool,
) -> Vec<guss_mail::queue::Queued> {
    eventually(
        || async { server.queue.pending().await.unwrap() },
        |q| done(q),
    )
    .await
}

fn body_of(stored: &[u8]) -> &[u8] {
    // Everything after the trace fields we prepend (Return-Path,
    // Authentication-Results, Received) is the message as sent.
    let text = stored;
    let start = text
        .windows(12)
        .position(|w| w == b"\r\nX-Original")
        .map(|p| p + 2)
        .unwrap();
    &text[start..]
}

#[tokio::test]
async fn inbound_mail_arrives_byte_for_byte_with_pipelining() {
    let server = server("kanzlei.example", None, 1 << 20).await;
    let mut client = Client::connect(server.mx).await;
    assert!(client.cmd("EHLO sender.test").await.contains("PIPELINING"));
    let message = "X-Original: yes\r\nFrom: ben@sender.test\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n\r\nZeile 1\r\n.\r\n..zwei Punkte\r\nUmlaute: äöü\r\n\r\n";
    let stuffed = message.replace("\r\n.", "\r\n..");
    // Everything in one write: MAIL, RCPT, DATA pipelined.
    client
        .send(
            "MAIL FROM:<ben@sender.test>
RCPT TO:<anna@kanzlei.example>
DATA
",
        )
        .await;
    assert!(client.reply().await.starts_with("250 "));
    assert!(client.reply().await.starts_with("250 "));
    assert!(client.reply().await.starts_with("354 "));
    client.send(&format!("{stuffed}.\r\n")).await;
    assert!(client.reply().await.starts_with("250 2.0.0"));
    let stored = inbox(&server).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(body_of(&stored[0]), message.as_bytes());
    let text = String::from_utf8_lossy(&stored[0]);
    assert!(text.starts_with(
        "Return-Path: <ben@sender.test>\r\nAuthentication-Results: mail.kanzlei.example;"
    ));
    assert!(text.contains("Received: from sender.test ([127.0.0.1])"));
    client.expect("QUIT", "221 ", "").await;
}

#[tokio::test]
async fn the_mx_refuses_what_it_must() {
    let server = server("kanzlei.example", None, 2048).await;
    let mut client = Client::connect(server.mx).await;
    client
        .expect("MAIL FROM:<a@b.test>", "503 ", "EHLO first")
        .await;
    client.cmd("EHLO sender.test").await;
    client
        .expect("AUTH PLAIN AGFubmEAcHc=", "503 ", "no AUTH on the MX")
        .await;
    client
        .expect("MAIL FROM:<a@b.test> SIZE=999999", "552 ", "")
        .await;
    client.expect("MAIL FROM:<a@b.test>", "250 ", "").await;
    client
        .expect("RCPT TO:<nobody@kanzlei.example>", "550 5.1.1", "")
        .await;
    client
        .expect(
            "RCPT TO:<someone@elsewhere.test>",
            "550 5.7.1",
            "no open relay",
        )
        .await;
    client
        .expect(
            "RCPT TO:<anna+akten@kanzlei.example>",
            "250 ",
            "sub-addressing",
        )
        .await;
    client
        .expect("RCPT TO:<anna@kanzlei.example>", "250 ", "")
        .await;
    client
        .expect("RCPT TO:<anna@kanzlei.example>", "250 ", "")
        .await;
    client
        .expect("RCPT TO:<anna@kanzlei.example>", "452 ", "recipient limit")
        .await;
    client.expect("DATA", "354 ", "").await;
    client
        .send(&format!(
            "Subject: big\r\n\r\n{}\r\n.\r\n",
            "x".repeat(4000)
        ))
        .await;
    assert!(
        client.reply().await.starts_with("552 5.3.4"),
        "too big, and nothing stored"
    );
    assert!(inbox(&server).await.is_empty());
    client.expect("NOOP", "250 ", "the session goes on").await;
    client.expect("HELLO", "500 ", "").await;
    let long = format!("NOOP {}", "a".repeat(5000));
    client.expect(&long, "500 ", "").await;
}

#[tokio::test]
async fn submission_needs_a_login_and_an_own_address() {
    let server = server("kanzlei.example", None, 1 << 20).await;
    let mut client = Client::connect(server.submission).await;
    client.cmd("EHLO client.test").await;
    client
        .expect("MAIL FROM:<anna@kanzlei.example>", "530 ", "")
        .await;
    let wrong = base64::engine::general_purpose::STANDARD.encode("\0anna@kanzlei.example\0nope");
    client
        .expect(&format!("AUTH PLAIN {wrong}"), "535 ", "")
        .await;
    // AUTH LOGIN, step by step.
    client.expect("AUTH LOGIN", "334 ", "").await;
    client
        .expect(
            &base64::engine::general_purpose::STANDARD.encode("anna@kanzlei.example"),
            "334 ",
            "",
        )
        .await;
    client
        .expect(
            &base64::engine::general_purpose::STANDARD.encode("pw"),
            "235 ",
            "",
        )
        .await;
    client
        .expect("MAIL FROM:<ben@kanzlei.example>", "553 ", "not her address")
        .await;
    client
        .envelope("anna@kanzlei.example", &["anna@kanzlei.example"])
        .await;
    client
        .send("From: ben@kanzlei.example\r\nSubject: forged\r\n\r\nx\r\n.\r\n")
        .await;
    assert!(
        client.reply().await.starts_with("550 5.7.1"),
        "the From header is checked too"
    );
    assert!(inbox(&server).await.is_empty());
}

#[tokio::test]
async fn commands_pipelined_after_starttls_are_refused() {
    let server = server("kanzlei.example", None, 1 << 20).await;
    let mut client = Client::connect(server.submission).await;
    assert!(client.cmd("EHLO client.test").await.contains("STARTTLS"));
    client.send("STARTTLS\r\nRSET\r\n").await;
    let reply = client.reply().await;
    assert!(reply.starts_with("220 "), "{reply}");
    // The server drops the connection rather than run the injected RSET.
    let mut rest = String::new();
    let n = client.reader.read_line(&mut rest).await.unwrap_or(0);
    assert!(n == 0 || !rest.starts_with("250"), "{rest}");
}

#[tokio::test]
async fn submitted_mail_crosses_the_queue_even_when_the_next_hop_is_down_at_first() {
    // The next hop: a second guss server, not yet listening.
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        probe.local_addr().unwrap()
    };
    let sender = server("kanzlei.example", Some(port), 1 << 20).await;
    let mut client = Client::connect(sender.submission).await;
    client.login().await;
    client
        .envelope("anna@kanzlei.example", &["anna@praxis.example"])
        .await;
    let message = "From: anna@kanzlei.example\r\nTo: anna@praxis.example\r\nSubject: Termin\r\n\r\nBis morgen.\r\n";
    client.send(&format!("{message}.\r\n")).await;
    assert!(client.reply().await.starts_with("250 "));
    // The first attempt fails while the next hop is down.
    let waiting = queue_when(&sender, |q| q.iter().any(|w| w.attempts >= 1)).await;
    assert_eq!(waiting.len(), 1, "queued while the next hop is down");
    assert!(waiting[0].attempts >= 1, "tried once");

    // Now the next hop comes up on that port.
    let receiver = server_on("praxis.example", port).await;
    let delivered = arrived(&receiver, "anna").await;
    assert_eq!(delivered.len(), 1);
    let text = String::from_utf8_lossy(&delivered[0]);
    assert!(
        text.ends_with(message),
        "bytes intact after the added fields"
    );
    assert!(
        text.contains("Message-ID: <"),
        "a missing Message-ID is added"
    );
    assert!(
        queue_when(&sender, <[_]>::is_empty).await.is_empty(),
        "and it left the queue"
    );
}

/// A receiving server whose MX listens on `port`.
async fn server_on(domain: &str, port: SocketAddr) -> Server {
    let server = server(domain, None, 1 << 20).await;
    let listener = TcpListener::bind(port).await.unwrap();
    let forward = server.mx;
    tokio::spawn(async move {
        loop {
            let (mut inbound, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut outbound = TcpStream::connect(forward).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    server
}

#[tokio::test]
async fn a_deputy_sends_as_the_boss_and_a_refused_recipient_bounces() {
    // The next hop knows nobody called "nobody": it refuses at RCPT, for good.
    let receiver = server("praxis.example", None, 1 << 20).await;
    let sender = server("kanzlei.example", Some(receiver.mx), 1 << 20).await;
    let mut client = Client::connect(sender.submission).await;
    client.login().await;
    client
        .expect(
            "MAIL FROM:<chef@kanzlei.example>",
            "250 ",
            "send_as granted",
        )
        .await;
    client
        .expect("RCPT TO:<nobody@praxis.example>", "250 ", "")
        .await;
    client
        .expect("RCPT TO:<anna@praxis.example>", "250 ", "")
        .await;
    client.expect("DATA", "354 ", "").await;
    let invitation = "From: chef@kanzlei.example\r\nSubject: Einladung\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n";
    client.send(&format!("{invitation}.\r\n")).await;
    assert!(client.reply().await.starts_with("250 "));

    // Anna at the praxis gets it; the invitation is announced there.
    let delivered = arrived(&receiver, "anna").await;
    assert_eq!(delivered.len(), 1);
    let kinds = eventually(
        || async { event_kinds(&receiver) },
        |kinds| {
            has_all(
                kinds,
                &[
                    "guss.mail.message.received",
                    "guss.mail.invitation.received",
                ],
            )
        },
    )
    .await;
    assert!(
        kinds.contains(&"guss.mail.message.received".to_owned()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"guss.mail.invitation.received".to_owned()),
        "{kinds:?}"
    );

    // Chef, the sender, gets a bounce for "nobody".
    let bounces = arrived(&sender, "chef").await;
    assert_eq!(bounces.len(), 1, "a bounce");
    let bounce = String::from_utf8(bounces[0].to_vec()).unwrap();
    assert!(
        bounce.contains("Final-Recipient: rfc822; nobody@praxis.example"),
        "{bounce}"
    );
    assert!(bounce.contains("Status: 5.1.1"), "{bounce}");
    assert!(
        !bounce.contains("anna@praxis.example>:"),
        "only the failed recipient is listed"
    );
    let kinds = eventually(
        || async { event_kinds(&sender) },
        |kinds| {
            has_all(
                kinds,
                &["guss.mail.message.sent", "guss.mail.delivery.failed"],
            )
        },
    )
    .await;
    assert!(
        kinds.contains(&"guss.mail.message.sent".to_owned()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"guss.mail.delivery.failed".to_owned()),
        "{kinds:?}"
    );
    assert!(queue_when(&sender, <[_]>::is_empty).await.is_empty());
}

#[tokio::test]
async fn dmarc_reject_is_refused_in_the_dialogue_and_aliases_and_shared_addresses_deliver() {
    let server = server_with_dns(
        "kanzlei.example",
        Transport::mx().unwrap(),
        1 << 20,
        vec![
            ("_dmarc.bank.example", "v=DMARC1; p=reject"),
            ("_dmarc.shop.example", "v=DMARC1; p=quarantine"),
        ],
    )
    .await;
    let mail = server.store.tenant(server.tenant);
    mail.add_alias("info@kanzlei.example", &Account::Person(person_id("anna")))
        .await
        .unwrap();
    let shared = mail
        .create_shared("kanzlei", "Kanzlei", "post@kanzlei.example")
        .await
        .unwrap();

    let mut client = Client::connect(server.mx).await;
    client.cmd("EHLO phisher.test").await;
    client
        .envelope("alerts@bank.example", &["anna@kanzlei.example"])
        .await;
    client.send("From: Bank <alerts@bank.example>\r\nSubject: Konto gesperrt\r\n\r\nKlicken Sie hier.\r\n.\r\n").await;
    let reply = client.reply().await;
    assert!(
        reply.starts_with("550 5.7.1"),
        "unsigned mail in the bank's name: {reply}"
    );
    assert!(inbox(&server).await.is_empty());

    // Quarantine: accepted, but into Junk.
    client
        .envelope("news@shop.example", &["info@kanzlei.example"])
        .await;
    client
        .send("From: news@shop.example\r\nSubject: Angebot\r\n\r\nx\r\n.\r\n")
        .await;
    assert!(client.reply().await.starts_with("250 "));
    let anna = Account::Person(person_id("anna"));
    let junk = mail.mailbox_by_role(&anna, Role::Junk).await.unwrap();
    assert_eq!(mail.messages(junk.id, 1..=u32::MAX).await.unwrap().len(), 1);

    // The shared address reaches the shared account's inbox.
    client
        .expect("MAIL FROM:<ben@praxis.example>", "250 ", "")
        .await;
    client
        .expect(
            "RCPT TO:<post@kanzlei.example>",
            "250 ",
            "the shared address",
        )
        .await;
    client.expect("DATA", "354 ", "").await;
    client
        .send("From: ben@praxis.example\r\nSubject: Akte\r\n\r\nx\r\n.\r\n")
        .await;
    assert!(client.reply().await.starts_with("250 "));
    let post = mail.mailbox_by_role(&shared, Role::Inbox).await.unwrap();
    let stored = mail.messages(post.id, 1..=u32::MAX).await.unwrap();
    assert_eq!(stored.len(), 1);
    let text = String::from_utf8(mail.raw(&stored[0]).await.unwrap().to_vec()).unwrap();
    assert!(text.contains("dmarc=none"), "{text}");
}

#[tokio::test]
async fn outbound_mail_finds_the_next_server_by_mx() {
    let receiver = server("praxis.example", None, 1 << 20).await;
    // praxis.example's MX is localhost; other names do not exist.
    let (dns, _dns_task) = serve(|name: &Name, qtype| {
        let name_text = name.to_ascii().to_lowercase();
        match (name_text.as_str(), qtype) {
            ("praxis.example.", RecordType::MX) => Answer::Records(vec![Record::from_rdata(
                name.clone(),
                300,
                RData::MX(MX::new(10, Name::from_ascii("localhost.").unwrap())),
            )]),
            ("praxis.example.", _) => Answer::Records(Vec::new()),
            _ => Answer::NxDomain,
        }
    })
    .await;
    let transport = Transport::mx_via(dns, receiver.mx.port())
        .unwrap()
        .with_timeout(Duration::from_secs(5));
    let sender = server_with_dns("kanzlei.example", transport, 1 << 20, Vec::new()).await;
    let mut client = Client::connect(sender.submission).await;
    client.login().await;
    client
        .envelope(
            "anna@kanzlei.example",
            &["anna@praxis.example", "anna@nowhere.example"],
        )
        .await;
    client
        .send("From: anna@kanzlei.example\r\nSubject: MX\r\n\r\nHallo\r\n.\r\n")
        .await;
    assert!(client.reply().await.starts_with("250 "));
    let delivered = arrived(&receiver, "anna").await;
    assert_eq!(delivered.len(), 1, "found through praxis.example's MX");
    // nowhere.example does not exist: that recipient waits for a retry.
    let waiting = queue_when(&sender, |q| {
        q.iter().all(|w| w.recipients == ["anna@nowhere.example"])
    })
    .await;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].recipients, ["anna@nowhere.example"]);
}
