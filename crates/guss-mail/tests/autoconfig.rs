#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! Client autoconfiguration: every document is parsed back by an
//! independent reader (quick-xml, the `plist` crate, Python's `plistlib`,
//! OpenSSL) and its important fields are checked.

use std::path::{Path, PathBuf};
use std::process::Command;

use guss_core::EmailAddress;
use guss_mail::autoconfig::{
    self, AUTODISCOVER_RESPONSE_SCHEMA, AutodiscoverError, ClientSettings, DeviceAccount, Error,
    ProfileSigner,
};
use proptest::prelude::*;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

// ---------------------------------------------------------------------------
// helpers

fn settings() -> ClientSettings {
    ClientSettings::new(
        "kanzlei.example",
        "mail.kanzlei.example",
        "guss.kanzlei.example",
    )
    .unwrap()
    .with_display_name("Kanzlei Muster & Partner <KMP>")
    .unwrap()
}

fn address() -> EmailAddress {
    "anna.schmidt@kanzlei.example".parse().unwrap()
}

fn account(device: &str) -> DeviceAccount {
    DeviceAccount::new(
        address(),
        "Anna Schmidt",
        "anna.schmidt@kanzlei.example",
        "pw-<&>\"'-Ünïcode-42".to_owned().into(),
        device,
    )
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/autoconfig")
        .join(name);
    let read = std::fs::read(&path);
    assert!(read.is_ok(), "{}: {read:?}", path.display());
    read.unwrap()
}

/// An element read back from a document: resolved namespace, local name,
/// attributes, text and children.
#[derive(Debug, Default)]
struct Node {
    namespace: String,
    name: String,
    attributes: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn all(&self, name: &str) -> Vec<&Node> {
        self.children.iter().filter(|c| c.name == name).collect()
    }

    fn child(&self, name: &str) -> &Node {
        let found = self.all(name);
        assert_eq!(found.len(), 1, "exactly one <{name}> in <{}>", self.name);
        found[0]
    }

    fn text_of(&self, name: &str) -> &str {
        self.child(name).text.as_str()
    }

    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a whole document with quick-xml (namespaces resolved, entities
/// unescaped) into a tree.
fn parse_xml(xml: &str) -> Node {
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        let (resolved, event) = reader.read_resolved_event().unwrap();
        let namespace = match resolved {
            ResolveResult::Bound(ns) => ns.as_ref().to_owned(),
            _ => String::new(),
        };
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let node = Node {
                    namespace,
                    name: start.local_name().as_ref().to_owned(),
                    attributes: start
                        .attributes()
                        .map(|a| {
                            let a = a.unwrap();
                            (
                                a.key.as_ref().to_owned(),
                                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                    .unwrap()
                                    .into_owned(),
                            )
                        })
                        .collect(),
                    ..Node::default()
                };
                if matches!(event, Event::Empty(_)) {
                    stack.last_mut().unwrap().children.push(node);
                } else {
                    stack.push(node);
                }
            }
            Event::End(_) => {
                let node = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(node);
            }
            Event::Text(text) => stack
                .last_mut()
                .unwrap()
                .text
                .push_str(&text.xml10_content()),
            Event::GeneralRef(reference) => {
                let name = reference.xml10_content();
                let resolved = quick_xml::escape::resolve_predefined_entity(&name).unwrap();
                stack.last_mut().unwrap().text.push_str(resolved);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1);
    let mut document = stack.pop().unwrap();
    assert_eq!(document.children.len(), 1, "one root element");
    let mut root = document.children.pop().unwrap();
    trim(&mut root);
    root
}

fn trim(node: &mut Node) {
    node.text = node.text.trim().to_owned();
    node.children.iter_mut().for_each(trim);
}

fn command_available(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        || Command::new(program)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
}

// ---------------------------------------------------------------------------
// Thunderbird

#[test]
fn thunderbird_lists_imap_and_both_submission_ports() {
    let xml = autoconfig::thunderbird(&settings());
    let root = parse_xml(&xml);
    assert_eq!(root.name, "clientConfig");
    assert_eq!(root.attribute("version"), Some("1.1"));

    let provider = root.child("emailProvider");
    assert_eq!(provider.attribute("id"), Some("kanzlei.example"));
    assert_eq!(provider.text_of("domain"), "kanzlei.example");
    assert_eq!(
        provider.text_of("displayName"),
        "Kanzlei Muster & Partner <KMP>"
    );

    let incoming = provider.all("incomingServer");
    assert_eq!(incoming.len(), 1);
    let imap = incoming[0];
    assert_eq!(imap.attribute("type"), Some("imap"));
    assert_eq!(imap.text_of("hostname"), "mail.kanzlei.example");
    assert_eq!(imap.text_of("port"), "993");
    assert_eq!(imap.text_of("socketType"), "SSL");
    assert_eq!(imap.text_of("authentication"), "password-cleartext");
    assert_eq!(imap.text_of("username"), "%EMAILADDRESS%");

    let outgoing = provider.all("outgoingServer");
    assert_eq!(outgoing.len(), 2);
    for (server, port, socket) in [
        (outgoing[0], "465", "SSL"),
        (outgoing[1], "587", "STARTTLS"),
    ] {
        assert_eq!(server.attribute("type"), Some("smtp"));
        assert_eq!(server.text_of("hostname"), "mail.kanzlei.example");
        assert_eq!(server.text_of("port"), port);
        assert_eq!(server.text_of("socketType"), socket);
        assert_eq!(server.text_of("authentication"), "password-cleartext");
        assert_eq!(server.text_of("username"), "%EMAILADDRESS%");
    }

    let book = root.child("addressBook");
    assert_eq!(book.attribute("type"), Some("carddav"));
    assert_eq!(
        book.text_of("serverURL"),
        "https://guss.kanzlei.example/.well-known/carddav"
    );
    assert_eq!(book.text_of("authentication"), "http-basic");
    assert_eq!(book.text_of("username"), "%EMAILADDRESS%");
    let calendar = root.child("calendar");
    assert_eq!(calendar.attribute("type"), Some("caldav"));
    assert_eq!(
        calendar.text_of("serverURL"),
        "https://guss.kanzlei.example/.well-known/caldav"
    );
}

#[test]
fn thunderbird_follows_the_settings() {
    let settings = settings()
        .with_imap("imap.kanzlei.example", 10993)
        .unwrap()
        .with_submission("smtp.kanzlei.example", 10465, None)
        .unwrap()
        .with_dav_urls(
            "https://dav.kanzlei.example/dav/?",
            "https://dav.kanzlei.example/dav/",
        );
    assert!(settings.is_err(), "a query is refused");
    let settings = self::settings()
        .with_imap("imap.kanzlei.example", 10993)
        .unwrap()
        .with_submission("smtp.kanzlei.example", 10465, None)
        .unwrap()
        .with_dav_urls(
            "https://dav.kanzlei.example/dav/calendars/",
            "https://dav.kanzlei.example/dav/contacts/",
        )
        .unwrap();
    let root = parse_xml(&autoconfig::thunderbird(&settings));
    let provider = root.child("emailProvider");
    let imap = provider.child("incomingServer");
    assert_eq!(imap.text_of("hostname"), "imap.kanzlei.example");
    assert_eq!(imap.text_of("port"), "10993");
    let smtp = provider.child("outgoingServer");
    assert_eq!(smtp.text_of("hostname"), "smtp.kanzlei.example");
    assert_eq!(smtp.text_of("port"), "10465");
    assert_eq!(
        root.child("calendar").text_of("serverURL"),
        "https://dav.kanzlei.example/dav/calendars/"
    );
}

// ---------------------------------------------------------------------------
// Autodiscover requests

#[test]
fn autodiscover_reads_outlook_shaped_requests() {
    for name in [
        "outlook-request.xml",
        "outlook-request-compact.xml",
        "outlook-request-legacydn.xml",
        "outlook-request-prefixed.xml",
    ] {
        let address = autoconfig::parse_autodiscover_request(&fixture(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(address.as_str(), "anna.schmidt@kanzlei.example", "{name}");
    }

    // With a UTF-8 byte order mark, as some Windows clients send.
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend(fixture("outlook-request.xml"));
    assert_eq!(
        autoconfig::parse_autodiscover_request(&with_bom)
            .unwrap()
            .as_str(),
        "anna.schmidt@kanzlei.example"
    );

    // Without a namespace and without AcceptableResponseSchema: lenient.
    let bare = b"<Autodiscover><Request><EMailAddress> ben@praxis.example </EMailAddress></Request></Autodiscover>";
    assert_eq!(
        autoconfig::parse_autodiscover_request(bare)
            .unwrap()
            .as_str(),
        "ben@praxis.example"
    );

    // Escaped characters and CDATA inside the address are read as text.
    let escaped = b"<Autodiscover><Request><EMailAddress>b&#101;n<![CDATA[@praxis]]>&#x2e;example</EMailAddress></Request></Autodiscover>";
    assert_eq!(
        autoconfig::parse_autodiscover_request(escaped)
            .unwrap()
            .as_str(),
        "ben@praxis.example"
    );
}

#[test]
fn autodiscover_refuses_activesync_with_601() {
    let err =
        autoconfig::parse_autodiscover_request(&fixture("activesync-request.xml")).unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedSchema(s) if s.contains("mobilesync")),
        "{err}"
    );
    assert_eq!(
        AutodiscoverError::for_error(&err),
        AutodiscoverError::UnsupportedSchema
    );

    // The Outlook request namespace asking for a schema guss does not offer.
    let other = String::from_utf8(fixture("outlook-request.xml"))
        .unwrap()
        .replace("responseschema/2006a", "responseschema/2099");
    let err = autoconfig::parse_autodiscover_request(other.as_bytes()).unwrap_err();
    assert_eq!(
        AutodiscoverError::for_error(&err),
        AutodiscoverError::UnsupportedSchema
    );

    let xml = autoconfig::autodiscover_error_response(AutodiscoverError::for_error(&err));
    let root = parse_xml(&xml);
    assert_eq!(root.name, "Autodiscover");
    assert_eq!(
        root.namespace,
        "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
    );
    let error = root.child("Response").child("Error");
    assert_eq!(error.text_of("ErrorCode"), "601");
    assert_eq!(error.text_of("Message"), "Provider is not available");
    error.child("DebugData");
}

#[test]
fn autodiscover_refuses_hostile_and_malformed_requests() {
    let valid = String::from_utf8(fixture("outlook-request-compact.xml")).unwrap();
    let billion_laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>&lol3;</EMailAddress></Request></Autodiscover>"#;
    let external_entity = r#"<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Autodiscover><Request><EMailAddress>&xxe;@kanzlei.example</EMailAddress></Request></Autodiscover>"#;
    let deep = format!(
        "<Autodiscover><Request>{}{}<EMailAddress>a@kanzlei.example</EMailAddress></Request></Autodiscover>",
        "<x>".repeat(20),
        "</x>".repeat(20)
    );
    let wide = format!(
        "<Autodiscover><Request>{}<EMailAddress>a@kanzlei.example</EMailAddress></Request></Autodiscover>",
        "<x/>".repeat(100)
    );
    let huge = valid.replace("<Request>", &format!("<Request>{}", " ".repeat(20_000)));

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("whitespace", b"  \n ".to_vec()),
        ("json", br#"{"EMailAddress":"a@kanzlei.example"}"#.to_vec()),
        ("not xml", b"EMailAddress=a@kanzlei.example".to_vec()),
        ("billion laughs", billion_laughs.as_bytes().to_vec()),
        ("external entity", external_entity.as_bytes().to_vec()),
        (
            "undefined entity",
            b"<Autodiscover><Request><EMailAddress>&xxe;</EMailAddress></Request></Autodiscover>".to_vec(),
        ),
        ("deep nesting", deep.into_bytes()),
        ("many elements", wide.into_bytes()),
        ("too large", huge.into_bytes()),
        ("invalid UTF-8", b"<Autodiscover><Request><EMailAddress>\xff\xfe@kanzlei.example</EMailAddress></Request></Autodiscover>".to_vec()),
        (
            "UTF-16",
            "\u{feff}<Autodiscover/>"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect(),
        ),
        ("SOAP", fixture("soap-request.xml")),
        ("wrong root", valid.replace("Autodiscover", "Autodetect").into_bytes()),
        (
            "foreign namespace",
            valid
                .replace(
                    "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006",
                    "urn:evil",
                )
                .into_bytes(),
        ),
        (
            "address in another namespace",
            b"<Autodiscover><Request><EMailAddress xmlns=\"urn:x\">a@kanzlei.example</EMailAddress></Request></Autodiscover>".to_vec(),
        ),
        (
            "undeclared prefix",
            b"<Autodiscover><Request><p:EMailAddress>a@kanzlei.example</p:EMailAddress></Request></Autodiscover>".to_vec(),
        ),
        (
            "two addresses",
            valid
                .replace(
                    "<Request>",
                    "<Request><EMailAddress>mallory@evil.example</EMailAddress>",
                )
                .into_bytes(),
        ),
        (
            "two schemas",
            valid
                .replace(
                    "</Request>",
                    &format!("<AcceptableResponseSchema>{AUTODISCOVER_RESPONSE_SCHEMA}</AcceptableResponseSchema></Request>"),
                )
                .into_bytes(),
        ),
        (
            "markup in the address",
            b"<Autodiscover><Request><EMailAddress>a<b/>@kanzlei.example</EMailAddress></Request></Autodiscover>".to_vec(),
        ),
        (
            "no address",
            b"<Autodiscover><Request><LegacyDN>/o=x</LegacyDN></Request></Autodiscover>".to_vec(),
        ),
        (
            "empty address",
            b"<Autodiscover><Request><EMailAddress/></Request></Autodiscover>".to_vec(),
        ),
        (
            "not an address",
            b"<Autodiscover><Request><EMailAddress>anna</EMailAddress></Request></Autodiscover>".to_vec(),
        ),
        (
            "display name",
            b"<Autodiscover><Request><EMailAddress>Anna &lt;a@kanzlei.example&gt;</EMailAddress></Request></Autodiscover>".to_vec(),
        ),
        (
            "unclosed",
            b"<Autodiscover><Request><EMailAddress>a@kanzlei.example</EMailAddress>".to_vec(),
        ),
        (
            "mismatched end tag",
            b"<Autodiscover><Request><EMailAddress>a@kanzlei.example</Request></EMailAddress></Autodiscover>".to_vec(),
        ),
        ("second root", format!("{valid}<Autodiscover/>").into_bytes()),
        ("text after the root", format!("{valid}trailing").into_bytes()),
    ];
    for (what, body) in cases {
        let err = match autoconfig::parse_autodiscover_request(&body) {
            Ok(address) => panic!("{what}: accepted as {address}"),
            Err(err) => err,
        };
        assert_eq!(
            AutodiscoverError::for_error(&err),
            AutodiscoverError::InvalidRequest,
            "{what}: {err}"
        );
        assert!(!err.to_string().is_empty());
    }

    // The bounds are named in the error.
    let err = autoconfig::parse_autodiscover_request(&vec![b' '; 16 * 1024 + 1]).unwrap_err();
    assert!(
        matches!(err, Error::LimitExceeded { limit: 16384, .. }),
        "{err}"
    );
}

proptest! {
    #[test]
    fn autodiscover_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = autoconfig::parse_autodiscover_request(&body);
    }

    #[test]
    fn autodiscover_parser_never_panics_on_odd_values(value in ".{0,300}", schema in ".{0,100}") {
        let body = format!(
            "<Autodiscover><Request><EMailAddress>{value}</EMailAddress><AcceptableResponseSchema>{schema}</AcceptableResponseSchema></Request></Autodiscover>"
        );
        let _ = autoconfig::parse_autodiscover_request(body.as_bytes());
    }

    #[test]
    fn autodiscover_parser_never_panics_on_cut_requests(cut in 0usize..361) {
        let body = fixture("outlook-request-compact.xml");
        let _ = autoconfig::parse_autodiscover_request(&body[..cut.min(body.len())]);
    }
}

// ---------------------------------------------------------------------------
// Autodiscover responses

#[test]
fn autodiscover_response_gives_imap_and_smtp_with_tls() {
    let xml = autoconfig::autodiscover_response(&settings(), &address());
    let root = parse_xml(&xml);
    assert_eq!(root.name, "Autodiscover");
    assert_eq!(
        root.namespace,
        "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
    );
    let response = root.child("Response");
    assert_eq!(response.namespace, AUTODISCOVER_RESPONSE_SCHEMA);
    let account = response.child("Account");
    assert_eq!(account.namespace, AUTODISCOVER_RESPONSE_SCHEMA);
    assert_eq!(account.text_of("AccountType"), "email");
    assert_eq!(account.text_of("Action"), "settings");
    let protocols = account.all("Protocol");
    assert_eq!(protocols.len(), 2);
    for (protocol, kind, port) in [(protocols[0], "IMAP", "993"), (protocols[1], "SMTP", "465")] {
        assert_eq!(protocol.text_of("Type"), kind);
        assert_eq!(protocol.text_of("Server"), "mail.kanzlei.example");
        assert_eq!(protocol.text_of("Port"), port);
        assert_eq!(protocol.text_of("SSL"), "on");
        assert_eq!(protocol.text_of("SPA"), "off");
        assert_eq!(protocol.text_of("AuthRequired"), "on");
        assert_eq!(protocol.text_of("DomainRequired"), "off");
        assert_eq!(
            protocol.text_of("LoginName"),
            "anna.schmidt@kanzlei.example"
        );
    }
}

#[test]
fn autodiscover_error_responses_carry_their_codes() {
    for (error, code) in [
        (AutodiscoverError::UnknownAddress, "500"),
        (AutodiscoverError::InvalidRequest, "600"),
        (AutodiscoverError::UnsupportedSchema, "601"),
    ] {
        let root = parse_xml(&autoconfig::autodiscover_error_response(error));
        let error_element = root.child("Response").child("Error");
        assert_eq!(error_element.text_of("ErrorCode"), code);
        assert_eq!(error_element.text_of("Message"), error.message());
    }
}

// ---------------------------------------------------------------------------
// Apple configuration profiles

fn string<'a>(dict: &'a plist::Dictionary, key: &str) -> &'a str {
    let value = dict.get(key).and_then(plist::Value::as_string);
    assert!(value.is_some(), "string {key}");
    value.unwrap()
}

fn integer(dict: &plist::Dictionary, key: &str) -> u64 {
    let value = dict.get(key).and_then(plist::Value::as_unsigned_integer);
    assert!(value.is_some(), "integer {key}");
    value.unwrap()
}

fn boolean(dict: &plist::Dictionary, key: &str) -> bool {
    let value = dict.get(key).and_then(plist::Value::as_boolean);
    assert!(value.is_some(), "boolean {key}");
    value.unwrap()
}

fn read_profile(bytes: &[u8]) -> plist::Dictionary {
    plist::Value::from_reader_xml(bytes)
        .unwrap()
        .into_dictionary()
        .unwrap()
}

fn payloads(profile: &plist::Dictionary) -> Vec<&plist::Dictionary> {
    profile
        .get("PayloadContent")
        .and_then(plist::Value::as_array)
        .unwrap()
        .iter()
        .map(|p| p.as_dictionary().unwrap())
        .collect()
}

#[test]
fn mobileconfig_sets_up_mail_calendar_and_contacts() {
    let bytes = autoconfig::mobileconfig(&settings(), &account("Annas iPhone"), None).unwrap();
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(text.contains("<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\""));

    let profile = read_profile(&bytes);
    assert_eq!(string(&profile, "PayloadType"), "Configuration");
    assert_eq!(integer(&profile, "PayloadVersion"), 1);
    assert!(!boolean(&profile, "PayloadRemovalDisallowed"));
    assert_eq!(
        string(&profile, "PayloadOrganization"),
        "Kanzlei Muster & Partner <KMP>"
    );
    assert_eq!(
        string(&profile, "PayloadDisplayName"),
        "Mail, Calendar and Contacts for Anna Schmidt"
    );
    assert!(string(&profile, "PayloadDescription").contains("Annas iPhone"));
    let password = "pw-<&>\"'-Ünïcode-42";

    let payloads = payloads(&profile);
    let types: Vec<&str> = payloads.iter().map(|p| string(p, "PayloadType")).collect();
    assert_eq!(
        types,
        [
            "com.apple.mail.managed",
            "com.apple.caldav.account",
            "com.apple.carddav.account"
        ]
    );

    let mail = payloads[0];
    assert_eq!(string(mail, "EmailAccountType"), "EmailTypeIMAP");
    assert_eq!(string(mail, "EmailAddress"), "anna.schmidt@kanzlei.example");
    assert_eq!(string(mail, "EmailAccountName"), "Anna Schmidt");
    assert_eq!(
        string(mail, "IncomingMailServerHostName"),
        "mail.kanzlei.example"
    );
    assert_eq!(integer(mail, "IncomingMailServerPortNumber"), 993);
    assert!(boolean(mail, "IncomingMailServerUseSSL"));
    assert_eq!(
        string(mail, "IncomingMailServerAuthentication"),
        "EmailAuthPassword"
    );
    assert_eq!(
        string(mail, "IncomingMailServerUsername"),
        "anna.schmidt@kanzlei.example"
    );
    assert_eq!(string(mail, "IncomingPassword"), password);
    assert_eq!(
        string(mail, "OutgoingMailServerHostName"),
        "mail.kanzlei.example"
    );
    assert_eq!(integer(mail, "OutgoingMailServerPortNumber"), 465);
    assert!(boolean(mail, "OutgoingMailServerUseSSL"));
    assert_eq!(
        string(mail, "OutgoingMailServerAuthentication"),
        "EmailAuthPassword"
    );
    assert_eq!(
        string(mail, "OutgoingMailServerUsername"),
        "anna.schmidt@kanzlei.example"
    );
    assert_eq!(string(mail, "OutgoingPassword"), password);
    assert!(boolean(mail, "OutgoingPasswordSameAsIncomingPassword"));

    for (payload, prefix, service) in [
        (payloads[1], "CalDAV", "caldav"),
        (payloads[2], "CardDAV", "carddav"),
    ] {
        assert_eq!(
            string(payload, &format!("{prefix}HostName")),
            "guss.kanzlei.example"
        );
        assert_eq!(integer(payload, &format!("{prefix}Port")), 443);
        assert!(boolean(payload, &format!("{prefix}UseSSL")));
        assert_eq!(
            string(payload, &format!("{prefix}PrincipalURL")),
            format!("https://guss.kanzlei.example/.well-known/{service}")
        );
        assert_eq!(
            string(payload, &format!("{prefix}Username")),
            "anna.schmidt@kanzlei.example"
        );
        assert_eq!(string(payload, &format!("{prefix}Password")), password);
        assert!(!string(payload, &format!("{prefix}AccountDescription")).is_empty());
    }

    // Every payload has its version, a unique UUID and an identifier under
    // the profile's.
    let top = string(&profile, "PayloadIdentifier");
    assert!(top.starts_with("example.kanzlei.guss.autoconfig."), "{top}");
    let mut uuids = vec![string(&profile, "PayloadUUID")];
    let mut identifiers = vec![top];
    for payload in &payloads {
        assert_eq!(integer(payload, "PayloadVersion"), 1);
        assert!(!string(payload, "PayloadDisplayName").is_empty());
        uuids.push(string(payload, "PayloadUUID"));
        let identifier = string(payload, "PayloadIdentifier");
        assert!(identifier.starts_with(&format!("{top}.")), "{identifier}");
        identifiers.push(identifier);
    }
    for uuid in &uuids {
        let parsed = uuid::Uuid::parse_str(uuid).unwrap();
        assert_eq!(parsed.hyphenated().to_string().to_uppercase(), *uuid);
    }
    uuids.sort_unstable();
    uuids.dedup();
    assert_eq!(uuids.len(), 4);
    identifiers.sort_unstable();
    identifiers.dedup();
    assert_eq!(identifiers.len(), 4);
}

fn identities(bytes: &[u8]) -> Vec<String> {
    let profile = read_profile(bytes);
    let mut ids = vec![
        string(&profile, "PayloadUUID").to_owned(),
        string(&profile, "PayloadIdentifier").to_owned(),
    ];
    for payload in payloads(&profile) {
        ids.push(string(payload, "PayloadUUID").to_owned());
        ids.push(string(payload, "PayloadIdentifier").to_owned());
    }
    ids
}

#[test]
fn mobileconfig_identifiers_are_stable_per_device_and_unique_across_devices() {
    let first = autoconfig::mobileconfig(&settings(), &account("Annas iPhone"), None).unwrap();
    let again = autoconfig::mobileconfig(&settings(), &account("Annas iPhone"), None).unwrap();
    assert_eq!(first, again, "same inputs, same profile");

    let mut new_password = account("Annas iPhone");
    new_password.app_password = "a-fresh-password".to_owned().into();
    let replaced = autoconfig::mobileconfig(&settings(), &new_password, None).unwrap();
    assert_eq!(
        identities(&first),
        identities(&replaced),
        "a new profile for the same device replaces the old one"
    );

    let ipad = autoconfig::mobileconfig(&settings(), &account("Annas iPad"), None).unwrap();
    let mut ben = account("Annas iPhone");
    ben.username = "ben@kanzlei.example".to_owned();
    let ben = autoconfig::mobileconfig(&settings(), &ben, None).unwrap();
    let other_domain = ClientSettings::new(
        "praxis.example",
        "mail.praxis.example",
        "guss.praxis.example",
    )
    .unwrap();
    let other_domain =
        autoconfig::mobileconfig(&other_domain, &account("Annas iPhone"), None).unwrap();

    let mut all: Vec<String> = [&first, &ipad, &ben, &other_domain]
        .into_iter()
        .flat_map(|p| identities(p))
        .collect();
    let count = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), count, "no identifier is shared between profiles");
}

#[test]
fn mobileconfig_refuses_bad_accounts() {
    let cases: Vec<(&str, DeviceAccount)> = vec![
        ("empty device label", account("")),
        ("control character in the label", account("iPhone\u{7}")),
        ("newline in the label", account("iPhone\nx")),
        ("overlong label", account(&"x".repeat(300))),
        ("empty name", {
            let mut a = account("iPhone");
            a.full_name = " ".to_owned();
            a
        }),
        ("space in user name", {
            let mut a = account("iPhone");
            a.username = "anna schmidt".to_owned();
            a
        }),
        ("empty user name", {
            let mut a = account("iPhone");
            a.username = String::new();
            a
        }),
        ("empty password", {
            let mut a = account("iPhone");
            a.app_password = String::new().into();
            a
        }),
        ("control character in the password", {
            let mut a = account("iPhone");
            a.app_password = "pw\u{0}".to_owned().into();
            a
        }),
        ("overlong password", {
            let mut a = account("iPhone");
            a.app_password = "p".repeat(2000).into();
            a
        }),
    ];
    for (what, account) in cases {
        assert!(
            autoconfig::mobileconfig(&settings(), &account, None).is_err(),
            "{what}"
        );
    }
    assert!(
        !format!("{:?}", account("iPhone")).contains("Ünïcode"),
        "the password stays out of debug output"
    );
}

#[test]
fn mobileconfig_parses_in_python_plistlib() {
    if !command_available("python3") {
        eprintln!("SKIPPED: python3 is not installed; the plist was not read by plistlib");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.mobileconfig");
    std::fs::write(
        &path,
        autoconfig::mobileconfig(&settings(), &account("Annas iPhone"), None).unwrap(),
    )
    .unwrap();
    let script = r#"
import json, plistlib, sys
with open(sys.argv[1], "rb") as f:
    p = plistlib.load(f)
mail, cal, card = p["PayloadContent"]
print(json.dumps([p["PayloadType"], p["PayloadOrganization"], p["PayloadRemovalDisallowed"],
                  mail["IncomingMailServerPortNumber"], mail["OutgoingMailServerPortNumber"],
                  mail["IncomingPassword"], cal["CalDAVPort"], card["CardDAVUseSSL"]]))
"#;
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let values: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        values,
        serde_json::json!([
            "Configuration",
            "Kanzlei Muster & Partner <KMP>",
            false,
            993,
            465,
            "pw-<&>\"'-Ünïcode-42",
            443,
            true
        ])
    );
}

// ---------------------------------------------------------------------------
// Signed profiles, verified by OpenSSL

struct OpenSsl {
    dir: tempfile::TempDir,
}

impl OpenSsl {
    /// `None` (with a message) when `openssl` is not installed.
    fn new() -> Option<Self> {
        if !command_available("openssl") {
            eprintln!(
                "SKIPPED: openssl is not installed; the CMS signature was not verified independently"
            );
            return None;
        }
        Some(OpenSsl {
            dir: tempfile::tempdir().unwrap(),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    fn run_ok(&self, args: &[&str]) {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Verifies `signed` with `openssl cms` and `openssl smime` (extra
    /// arguments choose how the signer is trusted) and returns the content
    /// both recovered, after checking they agree.
    fn verify(&self, signed: &[u8], trust: &[&str]) -> Vec<u8> {
        self.write("signed.der", signed);
        let mut recovered = Vec::new();
        for tool in ["cms", "smime"] {
            let out = format!("content-{tool}.out");
            let mut args = vec![
                tool,
                "-verify",
                "-inform",
                "DER",
                "-in",
                "signed.der",
                "-out",
                &out,
            ];
            args.extend_from_slice(trust);
            self.run_ok(&args);
            recovered.push(std::fs::read(self.path(&out)).unwrap());
        }
        assert_eq!(recovered[0], recovered[1]);
        recovered.swap_remove(0)
    }
}

#[test]
fn signed_profile_verifies_with_openssl_ecdsa() {
    let Some(openssl) = OpenSsl::new() else {
        return;
    };
    let certified =
        rcgen::generate_simple_self_signed(vec!["guss.kanzlei.example".to_owned()]).unwrap();
    let signer = ProfileSigner::from_pem(
        certified.cert.pem().as_bytes(),
        certified.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let unsigned = autoconfig::mobileconfig(&settings(), &account("Annas iPhone"), None).unwrap();
    let signed =
        autoconfig::mobileconfig(&settings(), &account("Annas iPhone"), Some(&signer)).unwrap();
    assert_ne!(signed, unsigned);
    assert_eq!(signed.first(), Some(&0x30), "DER");

    let content = openssl.verify(&signed, &["-noverify"]);
    assert_eq!(
        content, unsigned,
        "the signed content is the unsigned plist"
    );

    // The embedded certificate is the signer's.
    openssl.write("signed.der", &signed);
    openssl.run_ok(&[
        "pkcs7",
        "-inform",
        "DER",
        "-in",
        "signed.der",
        "-print_certs",
        "-out",
        "certs.pem",
    ]);
    let certs = std::fs::read_to_string(openssl.path("certs.pem")).unwrap();
    assert!(certs.contains(certified.cert.pem().trim()), "{certs}");
}

#[test]
fn signed_profile_verifies_with_openssl_p384() {
    let Some(openssl) = OpenSsl::new() else {
        return;
    };
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["guss.kanzlei.example".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let signer =
        ProfileSigner::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
    let unsigned = autoconfig::mobileconfig(&settings(), &account("Annas Mac"), None).unwrap();
    let signed =
        autoconfig::mobileconfig(&settings(), &account("Annas Mac"), Some(&signer)).unwrap();
    assert_eq!(openssl.verify(&signed, &["-noverify"]), unsigned);
}

#[test]
fn signed_profile_verifies_with_openssl_rsa_pkcs8_and_pkcs1() {
    let Some(openssl) = OpenSsl::new() else {
        return;
    };
    openssl.run_ok(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "rsa.pem",
        "-out",
        "rsa-cert.pem",
        "-subj",
        "/CN=guss.kanzlei.example",
        "-days",
        "2",
    ]);
    openssl.run_ok(&[
        "rsa",
        "-in",
        "rsa.pem",
        "-traditional",
        "-out",
        "rsa-pkcs1.pem",
    ]);
    let cert = std::fs::read(openssl.path("rsa-cert.pem")).unwrap();
    let pkcs1 = std::fs::read_to_string(openssl.path("rsa-pkcs1.pem")).unwrap();
    assert!(pkcs1.contains("BEGIN RSA PRIVATE KEY"));
    let unsigned = autoconfig::mobileconfig(&settings(), &account("Annas iPad"), None).unwrap();
    for key in ["rsa.pem", "rsa-pkcs1.pem"] {
        let key = std::fs::read(openssl.path(key)).unwrap();
        let signer = ProfileSigner::from_pem(&cert, &key).unwrap();
        let signed =
            autoconfig::mobileconfig(&settings(), &account("Annas iPad"), Some(&signer)).unwrap();
        assert_eq!(openssl.verify(&signed, &["-noverify"]), unsigned);
    }
}

#[test]
fn signed_profile_verifies_with_openssl_sec1_ec_key() {
    let Some(openssl) = OpenSsl::new() else {
        return;
    };
    openssl.run_ok(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "sec1.pem",
    ]);
    openssl.run_ok(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "sec1.pem",
        "-out",
        "ec-cert.pem",
        "-subj",
        "/CN=guss.kanzlei.example",
        "-days",
        "2",
    ]);
    let key = std::fs::read(openssl.path("sec1.pem")).unwrap();
    assert!(String::from_utf8_lossy(&key).contains("BEGIN EC PRIVATE KEY"));
    let cert = std::fs::read(openssl.path("ec-cert.pem")).unwrap();
    let signer = ProfileSigner::from_pem(&cert, &key).unwrap();
    let signed = signer.sign(b"any content at all").unwrap();
    assert_eq!(
        openssl.verify(&signed, &["-noverify"]),
        b"any content at all"
    );
}

#[test]
fn signed_profile_chains_to_its_ca_and_detects_tampering() {
    let Some(openssl) = OpenSsl::new() else {
        return;
    };
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "guss test CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();

    let mut leaf_params =
        rcgen::CertificateParams::new(vec!["guss.kanzlei.example".to_owned()]).unwrap();
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "guss.kanzlei.example");
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();

    // Leaf first, then the CA, as a server's fullchain.pem.
    let chain = format!("{}{}", leaf.pem(), ca.pem());
    let signer =
        ProfileSigner::from_pem(chain.as_bytes(), leaf_key.serialize_pem().as_bytes()).unwrap();
    assert!(format!("{signer:?}").contains("guss.kanzlei.example"));
    let unsigned = autoconfig::mobileconfig(&settings(), &account("Annas iPhone"), None).unwrap();
    let signed =
        autoconfig::mobileconfig(&settings(), &account("Annas iPhone"), Some(&signer)).unwrap();

    // Full path validation against the CA, not just the signature.
    openssl.write("ca.pem", ca.pem().as_bytes());
    assert_eq!(
        openssl.verify(&signed, &["-CAfile", "ca.pem", "-purpose", "any"]),
        unsigned
    );

    // A changed byte in the content breaks the signature.
    let needle = b"Configuration";
    let at = signed
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    let mut tampered = signed.clone();
    tampered[at] = b'X';
    openssl.write("tampered.der", &tampered);
    let output = openssl.run(&[
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        "tampered.der",
        "-noverify",
        "-out",
        "tampered.out",
    ]);
    assert!(!output.status.success(), "tampered content must not verify");

    // Another CA does not vouch for it.
    let other_key = rcgen::KeyPair::generate().unwrap();
    let mut other_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    other_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let other = other_params.self_signed(&other_key).unwrap();
    openssl.write("other-ca.pem", other.pem().as_bytes());
    openssl.write("signed.der", &signed);
    let output = openssl.run(&[
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        "signed.der",
        "-CAfile",
        "other-ca.pem",
        "-purpose",
        "any",
        "-out",
        "other.out",
    ]);
    assert!(
        !output.status.success(),
        "an unrelated CA must not verify it"
    );
}

#[test]
fn profile_signer_refuses_unusable_inputs() {
    let certified =
        rcgen::generate_simple_self_signed(vec!["guss.kanzlei.example".to_owned()]).unwrap();
    let cert = certified.cert.pem();
    let key = certified.signing_key.serialize_pem();

    let ed_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let ed_cert = rcgen::CertificateParams::new(vec!["guss.kanzlei.example".to_owned()])
        .unwrap()
        .self_signed(&ed_key)
        .unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["other.example".to_owned()]).unwrap();

    let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("no certificate", Vec::new(), key.clone().into_bytes()),
        ("no key", cert.clone().into_bytes(), Vec::new()),
        (
            "garbage certificate",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
            key.clone().into_bytes(),
        ),
        (
            "garbage key",
            cert.clone().into_bytes(),
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_vec(),
        ),
        (
            "someone else's key",
            cert.clone().into_bytes(),
            other.signing_key.serialize_pem().into_bytes(),
        ),
        (
            "Ed25519",
            ed_cert.pem().into_bytes(),
            ed_key.serialize_pem().into_bytes(),
        ),
        (
            "oversized chain",
            cert.repeat(600).into_bytes(),
            key.clone().into_bytes(),
        ),
        (
            "too many certificates",
            cert.repeat(11).into_bytes(),
            key.clone().into_bytes(),
        ),
    ];
    for (what, chain, key) in cases {
        let err = ProfileSigner::from_pem(&chain, &key).unwrap_err();
        assert!(
            matches!(err, Error::Signing(_) | Error::LimitExceeded { .. }),
            "{what}: {err}"
        );
    }

    // One file with the chain and the key serves as both.
    let combined = format!("{key}{cert}");
    assert!(ProfileSigner::from_pem(combined.as_bytes(), combined.as_bytes()).is_ok());
    // A repeated certificate is embedded once.
    let twice = cert.repeat(2);
    let signer = ProfileSigner::from_pem(twice.as_bytes(), key.as_bytes()).unwrap();
    assert!(format!("{signer:?}").contains("chain_length: 1"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever a person calls themselves, their organisation or their
    /// device, the documents either refuse it or carry it exactly.
    #[test]
    fn names_round_trip_through_every_document(
        organisation in "\\PC{1,40}",
        full_name in "\\PC{1,40}",
        device in "\\PC{1,40}",
        password in "[!-~]{1,40}",
    ) {
        let Ok(settings) = settings().with_display_name(&organisation) else {
            return Ok(());
        };
        let root = parse_xml(&autoconfig::thunderbird(&settings));
        prop_assert_eq!(root.child("emailProvider").text_of("displayName"), organisation.trim());

        let mut account = account(&device);
        account.full_name = full_name.clone();
        account.app_password = password.clone().into();
        if let Ok(bytes) = autoconfig::mobileconfig(&settings, &account, None) {
            let profile = read_profile(&bytes);
            prop_assert_eq!(string(&profile, "PayloadOrganization"), organisation.trim());
            let mail = payloads(&profile)[0];
            prop_assert_eq!(string(mail, "EmailAccountName"), full_name.trim());
            prop_assert_eq!(string(mail, "IncomingPassword"), password.as_str());
            prop_assert!(string(&profile, "PayloadDescription").contains(device.trim()));
        }
    }
}
