//! The IMAP listener end to end over TCP: login (LOGIN and AUTHENTICATE
//! PLAIN, wrong passwords), LIST with special-use attributes, SELECT and
//! EXAMINE, FETCH of flags, sizes, dates and bodies (whole, header,
//! partial), STORE, EXPUNGE, APPEND with a literal, the literal limit, and
//! changes made elsewhere reaching a selected session; CREATE, RENAME,
//! DELETE, SUBSCRIBE with LSUB, STATUS, NAMESPACE, COPY and MOVE; IDLE
//! pushing what other sessions and deliveries change; SEARCH; CONDSTORE;
//! the session limit per person; STARTTLS command injection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::sync::Arc;

use guss_core::{MemoryEventSink, Principal, TenantId};
use guss_mail::imap::{Imap, ImapConfig, ImapListener, ImapParts};
use guss_mail::store::{Account, MailStore, Role};
use guss_testkit::accounts::{Accounts, MailAccounts, person_id};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

mod support;

const DOMAIN: &str = "example.test";
const FIRST: &[u8] = b"From: ben@example.test\r\nTo: anna@example.test\r\nSubject: Termin\r\n\r\nMorgen um neun?\r\n";
const SECOND: &[u8] = b"From: chef@example.test\r\nSubject: Akte\r\n\r\nBitte pruefen.\r\n";

struct Server {
    addr: SocketAddr,
    store: MailStore,
    tenant: TenantId,
    events: Arc<MemoryEventSink>,
    /// Set: every deputy grant is withdrawn.
    withdrawn: Arc<std::sync::atomic::AtomicBool>,
    _dir: tempfile::TempDir,
}

async fn server(max_literal: u32) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let support::office::Office {
        tenant,
        store,
        router,
        events,
    } = support::office::office(dir.path(), DOMAIN, &["anna", "ben", "chef"]).await;
    let withdrawn = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut config = ImapConfig::new(&format!("mail.{DOMAIN}"));
    config.allow_plain_auth_on_loopback = true;
    config.max_literal_size = max_literal;
    // Idling sessions must be woken by the store's notices, not by polling.
    config.idle_poll = std::time::Duration::from_secs(3600);
    config.max_sessions_per_person = 3;
    config.storage_quota = 256 * 1024;
    let imap = Imap::new(ImapParts {
        config,
        store: store.clone(),
        router,
        authenticator: Arc::new(MailAccounts::new(
            Accounts::parse(["anna:pw", "ben:pw", "chef:pw"]).unwrap(),
            DOMAIN,
        )),
        authorizer: Arc::new(Grants(withdrawn.clone())),
        tls: Some(guss_mail::smtp::tls::self_signed(&format!("mail.{DOMAIN}")).unwrap()),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(imap.serve(listener, ImapListener::Plain));
    Server {
        addr,
        store,
        tenant,
        events,
        withdrawn,
        _dir: dir,
    }
}

/// Anna stands in for Chef (read and write) and works in the shared
/// `kanzlei` account; Ben may only read Chef's mail. The flag withdraws
/// the deputies' grants.
struct Grants(Arc<std::sync::atomic::AtomicBool>);

#[async_trait::async_trait]
impl guss_core::Authorizer for Grants {
    async fn authorize(
        &self,
        principal: &Principal,
        action: &guss_core::Action,
        resource: &guss_core::Resource,
        _: &guss_core::Context,
    ) -> guss_core::Decision {
        let chef = Account::Person(person_id("chef")).key();
        let read = action.as_str() == "read";
        let allowed = match principal {
            Principal::Deputy {
                deputy,
                represented,
                ..
            } if *represented == person_id("chef")
                && resource.id() == chef
                && !self.0.load(std::sync::atomic::Ordering::SeqCst) =>
            {
                *deputy == person_id("anna") || (*deputy == person_id("ben") && read)
            }
            Principal::Person { person, .. } => {
                *person == person_id("anna") && resource.id() == "shared:kanzlei"
            }
            _ => false,
        };
        if allowed {
            guss_core::Decision::Allow
        } else {
            guss_core::Decision::Deny
        }
    }
}

fn anna() -> Account {
    Account::Person(person_id("anna"))
}

/// Delivers each of `messages` to Anna's INBOX.
async fn deliver(mail: &guss_mail::store::TenantMail, messages: &[&[u8]]) {
    for raw in messages {
        mail.deliver(&[(anna(), Role::Inbox)], raw.to_vec().into())
            .await
            .unwrap();
    }
}

struct Client {
    reader: BufReader<tokio::io::ReadHalf<TcpStream>>,
    writer: tokio::io::WriteHalf<TcpStream>,
    tags: u32,
}

impl Client {
    async fn connect(addr: SocketAddr) -> (Client, String) {
        let (r, w) = tokio::io::split(TcpStream::connect(addr).await.unwrap());
        let mut client = Client {
            reader: BufReader::new(r),
            writer: w,
            tags: 0,
        };
        let greeting = client.line().await;
        (client, greeting)
    }

    /// One line, with the literals it announces read into it.
    async fn line(&mut self) -> String {
        let mut line = String::new();
        loop {
            let mut part = String::new();
            self.reader.read_line(&mut part).await.unwrap();
            assert!(!part.is_empty(), "connection closed");
            line.push_str(&part);
            let trimmed = part.trim_end();
            let Some(size) = trimmed
                .strip_suffix('}')
                .and_then(|t| t.rsplit_once('{'))
                .and_then(|(_, n)| n.parse::<usize>().ok())
            else {
                return line;
            };
            let mut literal = vec![0; size];
            self.reader.read_exact(&mut literal).await.unwrap();
            line.push_str(std::str::from_utf8(&literal).unwrap());
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// Sends `command` with a fresh tag; everything up to the tagged reply.
    async fn command(&mut self, command: &str) -> (String, String) {
        self.tags += 1;
        let tag = format!("a{}", self.tags);
        self.send(format!("{tag} {command}\r\n").as_bytes()).await;
        self.until(&tag).await
    }

    /// Untagged lines and the tagged one of `tag`.
    async fn until(&mut self, tag: &str) -> (String, String) {
        let mut untagged = String::new();
        loop {
            let line = self.line().await;
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                return (untagged, rest.trim_end().to_owned());
            }
            untagged.push_str(&line);
        }
    }

    async fn ok(&mut self, command: &str) -> String {
        let (untagged, tagged) = self.command(command).await;
        assert!(tagged.starts_with("OK"), "{command}: {tagged}\n{untagged}");
        untagged
    }
}

#[tokio::test]
async fn a_session_from_login_to_logout() {
    let server = server(1024 * 1024).await;
    let mail = server.store.tenant(server.tenant);
    mail.deliver(&[(anna(), Role::Inbox)], FIRST.to_vec().into())
        .await
        .unwrap();
    mail.deliver(&[(anna(), Role::Inbox)], SECOND.to_vec().into())
        .await
        .unwrap();

    let (mut c, greeting) = Client::connect(server.addr).await;
    assert!(
        greeting.starts_with("* OK [CAPABILITY IMAP4rev1"),
        "{greeting}"
    );
    assert!(greeting.contains("AUTH=PLAIN"));

    let (_, tagged) = c.command("SELECT INBOX").await;
    assert!(tagged.starts_with("BAD"), "{tagged}");
    let (_, tagged) = c.command("LOGIN anna@example.test wrong").await;
    assert!(tagged.starts_with("NO [AUTHENTICATIONFAILED]"), "{tagged}");
    let (_, tagged) = c.command("LOGIN anna@nowhere.test pw").await;
    assert!(tagged.starts_with("NO"), "{tagged}");
    let (_, tagged) = c.command("LOGIN anna@example.test pw").await;
    assert!(tagged.starts_with("OK [CAPABILITY"), "{tagged}");
    assert!(tagged.contains("UIDPLUS"));

    let list = c.ok("LIST \"\" \"*\"").await;
    assert!(
        list.contains("* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"),
        "{list}"
    );
    assert!(list.contains("* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n"));
    assert!(list.contains("\\Drafts) \"/\" \"Drafts\""));
    assert!(list.contains("\\Trash) \"/\" \"Trash\""));
    assert!(list.contains("\\Junk) \"/\" \"Junk\""));
    assert!(list.contains("\\Archive) \"/\" \"Archive\""));
    assert!(list.find("INBOX") < list.find("Archive"), "INBOX first");
    let root = c.ok("LIST \"\" \"\"").await;
    assert_eq!(root, "* LIST (\\Noselect) \"/\" \"\"\r\n");
    let some = c.ok("LIST \"\" \"S%\"").await;
    assert_eq!(some.lines().count(), 1, "{some}");

    let inbox = mail.mailbox_by_role(&anna(), Role::Inbox).await.unwrap();
    let (select, tagged) = c.command("SELECT inbox").await;
    assert_eq!(tagged, "OK [READ-WRITE] SELECT completed");
    assert!(select.contains("* 2 EXISTS\r\n"), "{select}");
    assert!(select.contains(&format!("* OK [UIDVALIDITY {}]", inbox.uid_validity)));
    assert!(select.contains(&format!("* OK [UIDNEXT {}]", inbox.uid_next)));
    assert!(select.contains("* OK [UNSEEN 1]"));
    assert!(select.contains("[HIGHESTMODSEQ "));
    assert!(select.contains("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)"));

    let fetch = c.ok("FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)").await;
    let lines: Vec<&str> = fetch.lines().collect();
    assert_eq!(lines.len(), 2, "{fetch}");
    assert!(
        lines[0].starts_with("* 1 FETCH (UID 1 FLAGS () RFC822.SIZE "),
        "{fetch}"
    );
    assert!(lines[0].contains(&format!("RFC822.SIZE {} ", FIRST.len())));
    assert!(lines[1].contains("INTERNALDATE \""));

    // PEEK leaves \Seen alone; the body comes back byte for byte.
    let body = c.ok("UID FETCH 2 (BODY.PEEK[])").await;
    let expected = format!(
        "* 2 FETCH (UID 2 BODY[] {{{}}}\r\n{})\r\n",
        SECOND.len(),
        std::str::from_utf8(SECOND).unwrap()
    );
    assert_eq!(body, expected);
    let flags = c.ok("FETCH 2 FLAGS").await;
    assert_eq!(flags, "* 2 FETCH (FLAGS ())\r\n");

    let header = c
        .ok("FETCH 1 (BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[]<0.4>)")
        .await;
    assert!(header.contains("BODY[HEADER] {"), "{header}");
    assert!(
        header.contains("Subject: Termin\r\n\r\n BODY[TEXT] {17}\r\nMorgen um neun?\r\n"),
        "{header}"
    );
    assert!(header.contains("BODY[]<0> {4}\r\nFrom)"), "{header}");

    let fields = c
        .ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject DATE)])")
        .await;
    assert_eq!(
        fields,
        "* 1 FETCH (BODY[HEADER.FIELDS (Subject DATE)] {19}\r\nSubject: Termin\r\n\r\n)\r\n"
    );

    let structure = c.ok("FETCH 1 (BODYSTRUCTURE BODY)").await;
    assert_eq!(
        structure,
        "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 17 1 NIL NIL NIL NIL) \
         BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 17 1))\r\n"
    );
    let binary = c.ok("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])").await;
    assert_eq!(
        binary,
        "* 1 FETCH (BINARY[1] {17}\r\nMorgen um neun?\r\n BINARY.SIZE[1] 17)\r\n"
    );
    let full = c.ok("FETCH 1 FULL").await;
    assert!(
        full.contains("ENVELOPE (NIL \"Termin\" ((NIL NIL \"ben\" \"example.test\"))"),
        "{full}"
    );

    // BODY[] without PEEK sets \Seen, and the client hears of it.
    let read = c.ok("FETCH 1 BODY[TEXT]").await;
    assert!(read.contains("FLAGS (\\Seen)"), "{read}");
    let messages = mail.messages(inbox.id, 1..=u32::MAX).await.unwrap();
    assert!(messages[0].flags.contains("\\Seen"));

    // A second session sees what the first one does.
    let (mut other, _) = Client::connect(server.addr).await;
    other.ok("LOGIN anna@example.test pw").await;
    other.ok("EXAMINE INBOX").await;

    let store = c.ok("STORE 1 +FLAGS (\\Deleted)").await;
    assert_eq!(store, "* 1 FETCH (FLAGS (\\Deleted \\Seen))\r\n");
    let silent = c.ok("UID STORE 2 +FLAGS.SILENT ($Forwarded)").await;
    assert_eq!(silent, "");
    let store = c.ok("STORE 1:2 -FLAGS (\\Seen)").await;
    assert!(store.contains("* 2 FETCH (FLAGS ($Forwarded))"), "{store}");

    let noop = other.ok("NOOP").await;
    assert!(
        noop.contains("* 1 FETCH (FLAGS (\\Deleted) UID 1)"),
        "{noop}"
    );
    assert!(
        noop.contains("* 2 FETCH (FLAGS ($Forwarded) UID 2)"),
        "{noop}"
    );
    let (_, tagged) = other.command("STORE 1 +FLAGS (\\Seen)").await;
    assert!(tagged.starts_with("NO [READ-ONLY]"), "{tagged}");

    // New mail arrives while selected.
    mail.deliver(&[(anna(), Role::Inbox)], FIRST.to_vec().into())
        .await
        .unwrap();
    let noop = c.ok("NOOP").await;
    assert!(noop.contains("* 3 EXISTS"), "{noop}");

    let expunge = c.ok("EXPUNGE").await;
    assert_eq!(expunge, "* 1 EXPUNGE\r\n");
    let left = mail.messages(inbox.id, 1..=u32::MAX).await.unwrap();
    assert_eq!(left.iter().map(|m| m.uid).collect::<Vec<_>>(), [2, 3]);
    // The other session hears of it at its next command, but not
    // during a FETCH by sequence number.
    let during = other.ok("FETCH 1 UID").await;
    assert!(during.contains("* 3 EXISTS"), "{during}");
    assert!(!during.contains("EXPUNGE"), "{during}");
    let after = other.ok("NOOP").await;
    assert_eq!(after, "* 1 EXPUNGE\r\n");
    let numbers = other.ok("FETCH 1:* UID").await;
    assert_eq!(numbers, "* 1 FETCH (UID 2)\r\n* 2 FETCH (UID 3)\r\n");

    // UID EXPUNGE removes only the UIDs named.
    c.ok("UID STORE 2:3 +FLAGS (\\Deleted)").await;
    let expunge = c.ok("UID EXPUNGE 3").await;
    assert_eq!(expunge, "* 2 EXPUNGE\r\n");

    // APPEND with a synchronizing literal.
    let drafts = mail.mailbox_by_role(&anna(), Role::Drafts).await.unwrap();
    c.send(format!("t1 APPEND Drafts (\\Draft) {{{}}}\r\n", FIRST.len()).as_bytes())
        .await;
    let go = c.line().await;
    assert!(go.starts_with("+ "), "{go}");
    c.send(FIRST).await;
    c.send(b"\r\n").await;
    let (_, tagged) = c.until("t1").await;
    assert_eq!(
        tagged,
        format!("OK [APPENDUID {} 1] APPEND completed", drafts.uid_validity)
    );
    let stored = mail.messages(drafts.id, 1..=u32::MAX).await.unwrap();
    assert_eq!(&mail.raw(&stored[0]).await.unwrap()[..], FIRST);
    assert!(stored[0].flags.contains("\\Draft"));
    let (_, tagged) = c.command("APPEND Nowhere {3+}\r\nabc").await;
    assert!(tagged.starts_with("NO [TRYCREATE]"), "{tagged}");

    c.ok("CLOSE").await;
    let (_, tagged) = c.command("FETCH 1 UID").await;
    assert!(tagged.starts_with("BAD"), "{tagged}");
    c.ok("EXAMINE INBOX").await;
    c.ok("UNSELECT").await;

    let (bye, tagged) = c.command("LOGOUT").await;
    assert!(bye.starts_with("* BYE"));
    assert_eq!(tagged, "OK LOGOUT completed");
}

#[tokio::test]
async fn authenticate_plain_and_literal_limits() {
    let server = server(100).await;
    let (mut c, _) = Client::connect(server.addr).await;
    let (_, tagged) = c.command("AUTHENTICATE CRAM-MD5").await;
    assert!(tagged.starts_with("NO"), "{tagged}");

    // Without an initial response: an empty challenge, then the answer.
    c.send(b"p1 AUTHENTICATE PLAIN\r\n").await;
    assert_eq!(c.line().await, "+ \r\n");
    use base64::Engine as _;
    let answer = base64::engine::general_purpose::STANDARD.encode("\0anna@example.test\0pw");
    c.send(format!("{answer}\r\n").as_bytes()).await;
    let (_, tagged) = c.until("p1").await;
    assert!(tagged.starts_with("OK"), "{tagged}");

    // A literal over the limit is refused before it is sent.
    c.send(b"t1 APPEND INBOX {500}\r\n").await;
    let (_, tagged) = c.until("t1").await;
    assert!(tagged.starts_with("BAD [TOOBIG]"), "{tagged}");
    // A non-synchronizing one over 4096 bytes is read and refused.
    let big = vec![b'x'; 5000];
    c.send(b"t2 APPEND INBOX {5000+}\r\n").await;
    c.send(&big).await;
    c.send(b"\r\n").await;
    let (_, tagged) = c.until("t2").await;
    assert!(tagged.starts_with("BAD [TOOBIG]"), "{tagged}");
    // The session goes on.
    c.ok("NOOP").await;
    // A literal within the limit is fine, also a big one split over reads.
    c.send(b"t3 APPEND INBOX {90}\r\n").await;
    assert!(c.line().await.starts_with("+ "));
    c.send(&[b'y'; 90]).await;
    c.send(b"\r\n").await;
    let (_, tagged) = c.until("t3").await;
    assert!(tagged.starts_with("OK [APPENDUID"), "{tagged}");
    // A line without an end is cut off.
    let (mut f, _) = Client::connect(server.addr).await;
    let long = vec![b'z'; 70 * 1024];
    let _ = f.writer.write_all(&long).await;
    assert_eq!(f.line().await, "* BYE Line too long\r\n");

    // SASL-IR, in a session of its own (anna's second).
    let (mut d, _) = Client::connect(server.addr).await;
    let (_, tagged) = d.command(&format!("AUTHENTICATE PLAIN {answer}")).await;
    assert!(tagged.starts_with("OK"), "{tagged}");
    let wrong = base64::engine::general_purpose::STANDARD.encode("\0anna@example.test\0no");
    let (mut e, _) = Client::connect(server.addr).await;
    let (_, tagged) = e.command(&format!("AUTHENTICATE PLAIN {wrong}")).await;
    assert!(tagged.starts_with("NO [AUTHENTICATIONFAILED]"), "{tagged}");
}

#[tokio::test]
async fn mailboxes_status_copy_and_move() {
    let server = server(1024 * 1024).await;
    let mail = server.store.tenant(server.tenant);
    deliver(&mail, &[FIRST, SECOND]).await;
    let (mut c, _) = Client::connect(server.addr).await;
    c.ok("LOGIN anna@example.test pw").await;
    assert_eq!(
        c.ok("NAMESPACE").await,
        "* NAMESPACE ((\"\" \"/\")) ((\"Other Users/\" \"/\")) ((\"Shared/\" \"/\"))\r\n"
    );

    // Parents are made with their children (RFC 9051 §6.3.4).
    c.ok("CREATE Akten/2026/Q1/").await;
    let (_, tagged) = c.command("CREATE Akten").await;
    assert!(tagged.starts_with("NO [ALREADYEXISTS]"), "{tagged}");
    let list = c.ok("LIST \"\" \"Akten*\"").await;
    assert_eq!(
        list,
        "* LIST (\\HasChildren) \"/\" \"Akten\"\r\n* LIST (\\HasChildren) \"/\" \"Akten/2026\"\r\n\
         * LIST (\\HasNoChildren) \"/\" \"Akten/2026/Q1\"\r\n"
    );
    assert_eq!(
        c.ok("LIST \"\" \"Akten/%\"").await,
        "* LIST (\\HasChildren) \"/\" \"Akten/2026\"\r\n"
    );
    // Children move with their parent (RFC 9051 §6.3.6).
    c.ok("RENAME Akten/2026 Akten/Mandat").await;
    let (_, tagged) = c.command("RENAME Akten/Mandat/Q1 Akten").await;
    assert!(tagged.starts_with("NO [ALREADYEXISTS]"), "{tagged}");
    let (_, tagged) = c.command("RENAME INBOX Posteingang").await;
    assert!(tagged.starts_with("NO"), "{tagged}");
    c.ok("UNSUBSCRIBE Akten").await;
    let lsub = c.ok("LSUB \"\" \"Akten*\"").await;
    assert_eq!(
        lsub,
        "* LSUB (\\HasChildren) \"/\" \"Akten/Mandat\"\r\n* LSUB (\\HasNoChildren) \"/\" \"Akten/Mandat/Q1\"\r\n"
    );
    let (_, tagged) = c.command("DELETE Akten").await;
    assert!(tagged.starts_with("NO [HASCHILDREN]"), "{tagged}");

    let status = c
        .ok("STATUS INBOX (MESSAGES UNSEEN UIDNEXT UIDVALIDITY DELETED)")
        .await;
    let inbox = mail.mailbox_by_role(&anna(), Role::Inbox).await.unwrap();
    assert_eq!(
        status,
        format!(
            "* STATUS \"INBOX\" (MESSAGES 2 UNSEEN 2 UIDNEXT 3 UIDVALIDITY {} DELETED 0)\r\n",
            inbox.uid_validity
        )
    );

    c.ok("SELECT INBOX").await;
    let target = c.ok("STATUS Akten/Mandat (UIDVALIDITY)").await;
    let validity = target
        .split_whitespace()
        .nth(4)
        .unwrap()
        .trim_end_matches(')');
    let (_, tagged) = c.command("COPY 1:2 Akten/Mandat").await;
    assert_eq!(
        tagged,
        format!("OK [COPYUID {validity} 1:2 1:2] COPY completed")
    );
    let (_, tagged) = c.command("COPY 1 Nirgends").await;
    assert!(tagged.starts_with("NO [TRYCREATE]"), "{tagged}");

    let (untagged, tagged) = c.command("UID MOVE 2 Akten/Mandat").await;
    assert_eq!(
        untagged,
        format!("* OK [COPYUID {validity} 2 3] Moved\r\n* 2 EXPUNGE\r\n")
    );
    assert_eq!(tagged, "OK MOVE completed");
    let status = c.ok("STATUS Akten/Mandat (MESSAGES)").await;
    assert!(status.ends_with("(MESSAGES 3)\r\n"), "{status}");

    c.ok("SELECT Akten/Mandat").await;
    c.ok("DELETE Akten/Mandat/Q1").await;
    c.ok("DELETE Akten/Mandat").await;
    let (_, tagged) = c.command("FETCH 1 UID").await;
    assert!(tagged.starts_with("BAD"), "{tagged}");
    let (_, tagged) = c.command("DELETE Sent").await;
    assert!(tagged.starts_with("NO"), "{tagged}");
    let list = c.ok("LIST \"\" \"Akten*\"").await;
    assert_eq!(list, "* LIST (\\HasNoChildren) \"/\" \"Akten\"\r\n");
}

#[tokio::test]
async fn idle_pushes_changes() {
    let server = server(1024 * 1024).await;
    let mail = server.store.tenant(server.tenant);
    mail.deliver(&[(anna(), Role::Inbox)], FIRST.to_vec().into())
        .await
        .unwrap();
    let (mut c, _) = Client::connect(server.addr).await;
    c.ok("LOGIN anna@example.test pw").await;
    c.ok("SELECT INBOX").await;
    let (mut other, _) = Client::connect(server.addr).await;
    other.ok("LOGIN anna@example.test pw").await;
    other.ok("SELECT INBOX").await;

    c.send(b"i1 IDLE\r\n").await;
    assert_eq!(c.line().await, "+ idling\r\n");
    mail.deliver(&[(anna(), Role::Inbox)], SECOND.to_vec().into())
        .await
        .unwrap();
    let pushed = tokio::time::timeout(std::time::Duration::from_secs(5), c.line())
        .await
        .expect("a delivery is pushed while idling");
    assert_eq!(pushed, "* 2 EXISTS\r\n");
    other.ok("STORE 1 +FLAGS (\\Deleted)").await;
    assert_eq!(c.line().await, "* 1 FETCH (FLAGS (\\Deleted) UID 1)\r\n");
    other.ok("EXPUNGE").await;
    assert_eq!(c.line().await, "* 1 EXPUNGE\r\n");
    c.send(b"DONE\r\n").await;
    let (rest, tagged) = c.until("i1").await;
    assert_eq!((rest.as_str(), tagged.as_str()), ("", "OK IDLE terminated"));
    c.ok("NOOP").await;
}

#[tokio::test]
async fn search_by_flags_headers_text_and_numbers() {
    let server = server(1024 * 1024).await;
    let mail = server.store.tenant(server.tenant);
    let third = b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.test>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\n\r\nViele Gruesse\r\n";
    for raw in [FIRST, SECOND, &third[..]] {
        mail.deliver(&[(anna(), Role::Inbox)], raw.to_vec().into())
            .await
            .unwrap();
    }
    let (mut c, _) = Client::connect(server.addr).await;
    c.ok("LOGIN anna@example.test pw").await;
    c.ok("SELECT INBOX").await;
    c.ok("STORE 2 +FLAGS (\\Flagged $Akte)").await;

    let mut search = async |criteria: &str| c.ok(&format!("SEARCH {criteria}")).await;
    assert_eq!(search("ALL").await, "* SEARCH 1 2 3\r\n");
    assert_eq!(search("FLAGGED").await, "* SEARCH 2\r\n");
    assert_eq!(search("UNFLAGGED KEYWORD $Akte").await, "* SEARCH\r\n");
    assert_eq!(
        search("OR KEYWORD $Akte SUBJECT termin").await,
        "* SEARCH 1 2\r\n"
    );
    assert_eq!(search("NOT FROM ben@").await, "* SEARCH 2 3\r\n");
    assert_eq!(search("HEADER To anna").await, "* SEARCH 1\r\n");
    assert_eq!(search("BODY pruefen").await, "* SEARCH 2\r\n");
    assert_eq!(search("TEXT \"chef@example\"").await, "* SEARCH 2\r\n");
    assert_eq!(
        search("CHARSET UTF-8 SUBJECT {7+}\r\nGR\u{dc}\u{df}E").await,
        "* SEARCH 3\r\n"
    );
    assert_eq!(search("SENTON 2-Mar-2026").await, "* SEARCH 3\r\n");
    assert_eq!(search("SENTBEFORE 1-Jan-2026").await, "* SEARCH\r\n");
    assert_eq!(search("2:* SINCE 1-Jan-2000").await, "* SEARCH 2 3\r\n");
    assert_eq!(search("UID 3 LARGER 10").await, "* SEARCH 3\r\n");
    let uids = c.ok("UID SEARCH UID 2:*").await;
    assert_eq!(uids, "* SEARCH 2 3\r\n");
    let (_, tagged) = c.command("SEARCH CHARSET KOI8-R ALL").await;
    assert!(tagged.starts_with("NO [BADCHARSET"), "{tagged}");
}

#[tokio::test]
async fn sessions_per_person_are_limited() {
    let server = server(1024).await;
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let (mut c, _) = Client::connect(server.addr).await;
        c.ok("LOGIN anna@example.test pw").await;
        sessions.push(c);
    }
    let (mut fourth, _) = Client::connect(server.addr).await;
    let (_, tagged) = fourth.command("LOGIN anna@example.test pw").await;
    assert!(tagged.starts_with("NO [LIMIT]"), "{tagged}");
    sessions[0].ok("LOGOUT").await;
    let mut tries = 0;
    loop {
        let (_, tagged) = fourth.command("LOGIN anna@example.test pw").await;
        if tagged.starts_with("OK") {
            break;
        }
        tries += 1;
        assert!(tries < 50, "the slot of a closed session comes back");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The number after `word (` in `text`: `MODSEQ (12)`.
fn number_after(text: &str, word: &str) -> u64 {
    let rest = &text[text.find(word).unwrap() + word.len()..];
    rest.trim_start_matches([' ', '(', '['])
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn condstore_basics() {
    let server = server(1024 * 1024).await;
    let mail = server.store.tenant(server.tenant);
    deliver(&mail, &[FIRST, SECOND]).await;
    let (mut c, _) = Client::connect(server.addr).await;
    let (_, tagged) = c.command("LOGIN anna@example.test pw").await;
    assert!(
        tagged.contains("CONDSTORE") && tagged.contains("ENABLE"),
        "{tagged}"
    );
    assert_eq!(c.ok("ENABLE CONDSTORE").await, "* ENABLED CONDSTORE\r\n");
    let select = c.ok("SELECT INBOX (CONDSTORE)").await;
    let highest = number_after(&select, "HIGHESTMODSEQ");

    let flags = c.ok("FETCH 1:* (FLAGS)").await;
    assert_eq!(flags.matches("MODSEQ (").count(), 2, "{flags}");
    let stored = c.ok("STORE 1 +FLAGS (\\Seen)").await;
    let modseq = number_after(&stored, "MODSEQ");
    assert!(modseq > highest, "{stored}");

    let changed = c
        .ok(&format!("FETCH 1:* (FLAGS) (CHANGEDSINCE {highest})"))
        .await;
    assert_eq!(
        changed,
        format!("* 1 FETCH (FLAGS (\\Seen) MODSEQ ({modseq}))\r\n")
    );

    let (untagged, tagged) = c
        .command(&format!(
            "STORE 1 (UNCHANGEDSINCE {}) +FLAGS (\\Flagged)",
            modseq - 1
        ))
        .await;
    assert_eq!(tagged, "OK [MODIFIED 1] Conditional STORE failed for some");
    assert!(!untagged.contains("Flagged"), "{untagged}");
    let stored = c
        .ok(&format!(
            "UID STORE 1 (UNCHANGEDSINCE {modseq}) +FLAGS (\\Flagged)"
        ))
        .await;
    assert!(
        stored.contains("FLAGS (\\Flagged \\Seen) UID 1 MODSEQ ("),
        "{stored}"
    );
    let latest = number_after(&stored, "MODSEQ");
    let found = c.ok(&format!("SEARCH MODSEQ {}", highest + 1)).await;
    assert_eq!(found, format!("* SEARCH 1 (MODSEQ {latest})\r\n"));
    let silent = c
        .ok(&format!(
            "STORE 2 (UNCHANGEDSINCE {latest}) +FLAGS.SILENT (\\Answered)"
        ))
        .await;
    assert!(
        silent.starts_with("* 2 FETCH (FLAGS (\\Answered) MODSEQ ("),
        "{silent}"
    );
    let (_, tagged) = c.command("SELECT INBOX (QRESYNC (1 1))").await;
    assert!(tagged.starts_with("BAD"), "before ENABLE QRESYNC: {tagged}");
}

#[tokio::test]
async fn qresync_tells_what_vanished_and_changed_since_a_modseq() {
    let server = server(1024 * 1024).await;
    let mail = server.store.tenant(server.tenant);
    deliver(&mail, &[FIRST, SECOND, FIRST]).await;
    let (mut a, _) = Client::connect(server.addr).await;
    a.ok("LOGIN anna@example.test pw").await;
    assert_eq!(a.ok("ENABLE QRESYNC").await, "* ENABLED QRESYNC\r\n");
    let select = a.ok("SELECT INBOX").await;
    let (validity, since) = (
        number_after(&select, "UIDVALIDITY"),
        number_after(&select, "HIGHESTMODSEQ"),
    );

    let (mut b, _) = Client::connect(server.addr).await;
    b.ok("LOGIN anna@example.test pw").await;
    b.ok("SELECT INBOX").await;
    b.ok("STORE 1 +FLAGS (\\Seen)").await;
    b.ok("STORE 2:3 +FLAGS (\\Deleted)").await;
    b.ok("ENABLE QRESYNC").await;
    let (_, tagged) = b.command("EXPUNGE").await;
    assert!(tagged.starts_with("OK [HIGHESTMODSEQ "), "{tagged}");

    // The session that was there all along hears VANISHED, not EXPUNGE.
    let heard = a.ok("NOOP").await;
    assert!(heard.contains("* VANISHED 2:3\r\n"), "{heard}");
    assert!(!heard.contains("EXPUNGE"), "{heard}");

    // A client coming back with what it knew.
    let (mut c, _) = Client::connect(server.addr).await;
    c.ok("LOGIN anna@example.test pw").await;
    c.ok("ENABLE QRESYNC").await;
    let resync = c
        .ok(&format!("SELECT INBOX (QRESYNC ({validity} {since} 1:3))"))
        .await;
    assert!(resync.contains("* VANISHED (EARLIER) 2:3\r\n"), "{resync}");
    let last = resync.lines().last().unwrap();
    assert!(
        last.starts_with("* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ ("),
        "{resync}"
    );
    let fetched = c
        .ok(&format!(
            "UID FETCH 1:* (FLAGS) (CHANGEDSINCE {since} VANISHED)"
        ))
        .await;
    assert!(
        fetched.starts_with("* VANISHED (EARLIER) 2:3\r\n"),
        "{fetched}"
    );
    assert!(fetched.contains("UID 1"), "{fetched}");
    // Another UIDVALIDITY: nothing to resynchronise.
    let stale = c.ok("SELECT INBOX (QRESYNC (1 1))").await;
    assert!(!stale.contains("VANISHED"), "{stale}");
    let (_, tagged) = c.command("FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)").await;
    assert!(
        tagged.starts_with("BAD"),
        "VANISHED needs UID FETCH: {tagged}"
    );
}

#[tokio::test]
async fn starttls_drops_what_was_sent_with_it_in_clear() {
    let server = server(1024).await;
    let (mut c, greeting) = Client::connect(server.addr).await;
    assert!(greeting.contains("STARTTLS"), "{greeting}");
    // RFC 9051 §6.2.1: a command sent in clear after STARTTLS must not be
    // taken as sent inside TLS; the server hangs up instead.
    c.send(b"a1 STARTTLS\r\na2 LOGIN anna@example.test pw\r\n")
        .await;
    assert_eq!(c.line().await, "a1 OK Begin TLS negotiation now\r\n");
    let mut rest = Vec::new();
    let n = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        c.reader.read_to_end(&mut rest),
    )
    .await
    .unwrap()
    .unwrap_or(0);
    assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&rest));
}

#[tokio::test]
async fn deputies_open_what_they_are_granted_and_every_step_is_recorded() {
    let server = server(1024 * 1024).await;
    let mail = server.store.tenant(server.tenant);
    let chef = Account::Person(person_id("chef"));
    mail.deliver(&[(chef.clone(), Role::Inbox)], FIRST.to_vec().into())
        .await
        .unwrap();
    mail.deliver(&[(anna(), Role::Inbox)], SECOND.to_vec().into())
        .await
        .unwrap();
    mail.create_shared("kanzlei", "Kanzlei", "kanzlei@example.test")
        .await
        .unwrap();

    let (mut anna_c, _) = Client::connect(server.addr).await;
    anna_c.ok("LOGIN anna@example.test pw").await;
    let namespace = anna_c.ok("NAMESPACE").await;
    assert_eq!(
        namespace,
        "* NAMESPACE ((\"\" \"/\")) ((\"Other Users/\" \"/\")) ((\"Shared/\" \"/\"))\r\n"
    );
    let list = anna_c.ok("LIST \"\" \"*\"").await;
    for name in [
        "\"Other Users/chef/INBOX\"",
        "\"Other Users/chef/Sent\"",
        "\"Shared/kanzlei/INBOX\"",
    ] {
        assert!(list.contains(name), "{name} in {list}");
    }
    assert!(list.contains("* LIST (\\Noselect \\HasChildren) \"/\" \"Other Users/chef\""));
    assert!(!list.contains("ben"), "no grant from Ben: {list}");
    // Special uses belong to one's own mailboxes only.
    assert!(list.contains("* LIST (\\HasNoChildren) \"/\" \"Other Users/chef/Sent\""));
    let (_, tagged) = anna_c.command("SELECT \"Other Users/chef/INBOX\"").await;
    assert_eq!(tagged, "OK [READ-WRITE] SELECT completed");
    let body = anna_c.ok("FETCH 1 BODY.PEEK[]").await;
    assert!(body.contains("Morgen um neun?"), "{body}");
    anna_c.ok("STORE 1 +FLAGS (\\Flagged)").await;
    let (_, tagged) = anna_c.command("CREATE \"Other Users/chef/Neu\"").await;
    assert!(tagged.starts_with("NO [NOPERM]"), "{tagged}");
    anna_c
        .ok("APPEND \"Shared/kanzlei/INBOX\" {5}\r\nHallo")
        .await;
    let (_, tagged) = anna_c.command("SELECT \"Other Users/ben/INBOX\"").await;
    assert!(tagged.starts_with("NO [NONEXISTENT]"), "{tagged}");

    // Ben may read Chef's mail, not change it.
    let (mut ben, _) = Client::connect(server.addr).await;
    ben.ok("LOGIN ben@example.test pw").await;
    let list = ben.ok("LIST \"\" \"*\"").await;
    assert!(list.contains("Other Users/chef/INBOX"), "{list}");
    assert!(!list.contains("Shared/kanzlei"), "{list}");
    let (_, tagged) = ben.command("SELECT \"Other Users/chef/INBOX\"").await;
    assert_eq!(tagged, "OK [READ-ONLY] SELECT completed");
    let flags = ben.ok("FETCH 1 FLAGS").await;
    assert_eq!(flags, "* 1 FETCH (FLAGS (\\Flagged))\r\n");
    let (_, tagged) = ben.command("STORE 1 +FLAGS (\\Seen)").await;
    assert!(tagged.starts_with("NO [READ-ONLY]"), "{tagged}");
    let (_, tagged) = ben
        .command("APPEND \"Other Users/chef/INBOX\" {5}\r\nHallo")
        .await;
    assert!(tagged.starts_with("NO [NOPERM]"), "{tagged}");

    // Chef has granted nothing to anyone: Anna's mail stays hers.
    let (mut chef_c, _) = Client::connect(server.addr).await;
    chef_c.ok("LOGIN chef@example.test pw").await;
    let (_, tagged) = chef_c.command("EXAMINE \"Other Users/anna/INBOX\"").await;
    assert!(tagged.starts_with("NO [NONEXISTENT]"), "{tagged}");
    let list = chef_c.ok("LIST \"\" \"*\"").await;
    assert!(!list.contains("Other Users"), "{list}");

    let recorded: Vec<(String, String, String)> = server
        .events
        .events()
        .iter()
        .filter(|e| e.kind().as_str() == guss_mail::imap::DELEGATED_ACCESS.as_str())
        .map(|e| {
            let data = e.data().unwrap();
            (
                e.actor().unwrap_or_default().to_owned(),
                data["account"].as_str().unwrap().to_owned(),
                data["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let actions: Vec<(&str, &str)> = recorded
        .iter()
        .map(|(_, account, action)| (account.as_str(), action.as_str()))
        .collect();
    let chef_key = chef.key();
    assert_eq!(
        actions,
        [
            (chef_key.as_str(), "select"),
            (chef_key.as_str(), "read"),
            (chef_key.as_str(), "flags"),
            ("shared:kanzlei", "append"),
            (chef_key.as_str(), "examine"),
            (chef_key.as_str(), "fetch"),
        ]
    );
    assert!(
        recorded.iter().all(|(actor, _, _)| !actor.is_empty()),
        "every step names who acted: {recorded:?}"
    );

    // A grant withdrawn while the mailbox is open ends the session.
    anna_c.ok("SELECT \"Other Users/chef/INBOX\"").await;
    server
        .withdrawn
        .store(true, std::sync::atomic::Ordering::SeqCst);
    anna_c.send(b"w1 FETCH 1 BODY.PEEK[]\r\n").await;
    assert_eq!(
        anna_c.line().await,
        "* BYE Your access to this mailbox was withdrawn\r\n"
    );
}

#[tokio::test]
async fn quota_roots_usage_and_refusal_over_quota() {
    let server = server(1024 * 1024).await;
    let mail = server.store.tenant(server.tenant);
    mail.deliver(&[(anna(), Role::Inbox)], FIRST.to_vec().into())
        .await
        .unwrap();
    let (mut c, greeting) = Client::connect(server.addr).await;
    assert!(!greeting.contains("QUOTA"), "offered once logged in");
    let login = c.ok("LOGIN anna@example.test pw").await;
    assert!(login.is_empty());
    let caps = c.ok("CAPABILITY").await;
    assert!(caps.contains(" QUOTA QUOTA=RES-STORAGE"), "{caps}");
    let root = c.ok("GETQUOTAROOT INBOX").await;
    assert_eq!(
        root,
        "* QUOTAROOT \"INBOX\" \"\"\r\n* QUOTA \"\" (STORAGE 1 256)\r\n"
    );
    let big = "x".repeat(200 * 1024);
    c.ok(&format!("APPEND Drafts {{{}}}\r\n{big}", big.len()))
        .await;
    let quota = c.ok("GETQUOTA \"\"").await;
    assert_eq!(quota, "* QUOTA \"\" (STORAGE 201 256)\r\n");
    let (_, tagged) = c
        .command(&format!("APPEND Drafts {{{}}}\r\n{big}", big.len()))
        .await;
    assert!(tagged.starts_with("NO [OVERQUOTA]"), "{tagged}");
    c.ok("SELECT Drafts").await;
    let (_, tagged) = c.command("COPY 1 INBOX").await;
    assert!(tagged.starts_with("NO [OVERQUOTA]"), "{tagged}");
    let (_, tagged) = c.command("SETQUOTA \"\" (STORAGE 1000000)").await;
    assert!(tagged.starts_with("NO [NOPERM]"), "{tagged}");
    let (_, tagged) = c.command("GETQUOTA \"Other Users/ben\"").await;
    assert!(
        tagged.starts_with("NO [NONEXISTENT]"),
        "no grant from Ben: {tagged}"
    );
    let chef = c.ok("GETQUOTA \"Other Users/chef\"").await;
    assert_eq!(chef, "* QUOTA \"Other Users/chef\" (STORAGE 0 256)\r\n");
}

#[tokio::test]
async fn imap4rev2_esearch_list_extended_and_mailbox_names() {
    let server = server(1024 * 1024).await;
    let mail = server.store.tenant(server.tenant);
    deliver(&mail, &[FIRST, SECOND, FIRST]).await;
    let (mut c, _) = Client::connect(server.addr).await;
    let (_, login) = c.command("LOGIN anna@example.test pw").await;
    assert!(login.contains("IMAP4rev1 IMAP4rev2"), "{login}");
    for capability in ["ESEARCH", "LIST-EXTENDED", "LIST-STATUS", "STATUS=SIZE"] {
        assert!(login.contains(capability), "{capability} in {login}");
    }
    // IMAP4rev1: names in modified UTF-7, SEARCH as before.
    c.ok("CREATE Entw&APw-rfe").await;
    let list = c.ok("LIST \"\" Entw*").await;
    assert_eq!(list, "* LIST (\\HasNoChildren) \"/\" \"Entw&APw-rfe\"\r\n");
    let (_, tagged) = c.command("CREATE \"Entw&APw\"").await;
    assert!(tagged.starts_with("BAD"), "broken UTF-7: {tagged}");
    let select = c.ok("SELECT INBOX").await;
    assert!(select.contains("* 0 RECENT"), "{select}");
    assert_eq!(c.ok("SEARCH SUBJECT termin").await, "* SEARCH 1 3\r\n");
    let (untagged, tagged) = c
        .command("SEARCH RETURN (MIN MAX COUNT) SUBJECT termin")
        .await;
    assert_eq!(
        (untagged, tagged.as_str()),
        (
            format!("* ESEARCH (TAG \"a{}\") MIN 1 MAX 3 COUNT 2\r\n", c.tags),
            "OK SEARCH completed"
        )
    );
    let (untagged, _) = c.command("UID SEARCH RETURN () ALL").await;
    assert_eq!(
        untagged,
        format!("* ESEARCH (TAG \"a{}\") UID ALL 1:3\r\n", c.tags)
    );

    // LIST-EXTENDED with LIST-STATUS.
    let listed = c
        .ok("LIST (SPECIAL-USE) \"\" (\"*\") RETURN (SUBSCRIBED STATUS (MESSAGES SIZE))")
        .await;
    assert!(
        listed.starts_with("* LIST (\\HasNoChildren \\Sent \\Subscribed) \"/\" \"Sent\"\r\n")
            || listed.contains("\\Sent"),
        "{listed}"
    );
    assert!(!listed.contains("INBOX"), "only special uses: {listed}");
    assert!(
        listed.contains("* STATUS \"Archive\" (MESSAGES 0 SIZE 0)\r\n"),
        "{listed}"
    );
    let inbox = c
        .ok("LIST \"\" (INBOX Entw*) RETURN (STATUS (MESSAGES))")
        .await;
    assert!(
        inbox.contains("* STATUS \"INBOX\" (MESSAGES 3)\r\n"),
        "{inbox}"
    );
    assert!(inbox.contains("\"Entw&APw-rfe\""), "{inbox}");
    let (_, tagged) = c.command("LIST (RECURSIVEMATCH) \"\" *").await;
    assert!(tagged.starts_with("BAD"), "{tagged}");
    c.ok("CREATE Ablage/2026").await;
    c.ok("UNSUBSCRIBE Ablage").await;
    let recursive = c.ok("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" Ablage").await;
    assert_eq!(
        recursive,
        "* LIST (\\HasChildren) \"/\" \"Ablage\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
    );
    let size = c.ok("STATUS INBOX (SIZE DELETED-STORAGE)").await;
    let expected = 2 * FIRST.len() + SECOND.len();
    assert_eq!(
        size,
        format!("* STATUS \"INBOX\" (SIZE {expected} DELETED-STORAGE 0)\r\n")
    );

    // IMAP4rev2: UTF-8 names, ESEARCH always, no RECENT.
    assert_eq!(c.ok("ENABLE IMAP4rev2").await, "* ENABLED IMAP4rev2\r\n");
    let list = c.ok("LIST \"\" Entw*").await;
    // UTF-8 goes as a literal, which every client reads.
    assert_eq!(list, "* LIST (\\HasNoChildren) \"/\" {9}\r\nEntwürfe\r\n");
    let select = c.ok("SELECT \"Entwürfe\"").await;
    assert!(!select.contains("RECENT"), "{select}");
    assert!(
        select.contains("* LIST () \"/\" {9}\r\nEntwürfe\r\n"),
        "{select}"
    );
    let sent = c.ok("SELECT Sent").await;
    assert!(
        sent.contains("* LIST (\\Sent) \"/\" \"Sent\"\r\n"),
        "{sent}"
    );
    c.ok("SELECT INBOX").await;
    let (untagged, _) = c.command("SEARCH SUBJECT termin").await;
    assert_eq!(
        untagged,
        format!("* ESEARCH (TAG \"a{}\") ALL 1,3\r\n", c.tags)
    );

    // SEARCHRES: a saved result used as `$`.
    assert_eq!(c.ok("SEARCH RETURN (SAVE) SUBJECT termin").await, "");
    assert_eq!(
        c.ok("FETCH $ (UID)").await,
        "* 1 FETCH (UID 1)\r\n* 3 FETCH (UID 3)\r\n"
    );
    let (untagged, _) = c.command("UID SEARCH UID $ NOT SEEN").await;
    assert_eq!(
        untagged,
        format!("* ESEARCH (TAG \"a{}\") UID ALL 1,3\r\n", c.tags)
    );
    let (untagged, _) = c.command("SEARCH RETURN (SAVE MAX) SUBJECT termin").await;
    assert_eq!(
        untagged,
        format!("* ESEARCH (TAG \"a{}\") MAX 3\r\n", c.tags)
    );
    assert_eq!(c.ok("FETCH $ (UID)").await, "* 3 FETCH (UID 3)\r\n");
    c.ok("SEARCH RETURN (SAVE) SUBJECT nirgends").await;
    assert_eq!(c.ok("FETCH $ (FLAGS)").await, "");
    assert_eq!(c.ok("STORE $ +FLAGS (\\Seen)").await, "");
}
