//! IMAP command input, as a client sends it: the session never panics,
//! greets first and ends every line it writes, logged in or not.
#![no_main]

use std::sync::{Arc, OnceLock};

use guss_core::{DenyAll, MemoryDirectory, MemoryEventSink, PersonEntry, PersonId, Principal, SystemClock, TenantId};
use guss_mail::imap::{Imap, ImapConfig, ImapListener, ImapParts};
use guss_mail::routing::Router;
use guss_mail::store::{Account, MailStore, Role};
use libfuzzer_sys::fuzz_target;

#[path = "common/pipe.rs"]
mod pipe;

/// `anna@kanzlei.example` with the password `pw`.
struct Anna(TenantId, PersonId);

#[async_trait::async_trait]
impl guss_core::Authenticator for Anna {
    async fn authenticate(&self, _: TenantId, credentials: &guss_core::Credentials, _: guss_core::Scope) -> Result<Principal, guss_core::Error> {
        match credentials {
            guss_core::Credentials::Basic { username, .. } if username == "anna@kanzlei.example" && credentials.secret() == "pw" => {
                Ok(Principal::Person { tenant: self.0, person: self.1 })
            }
            _ => Err(guss_core::Error::Unauthenticated),
        }
    }
}

const MESSAGE: &[u8] = b"From: Ben <ben@example.test>\r\nTo: anna@kanzlei.example\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHallo\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n--b--\r\n";

fn setup() -> &'static (tokio::runtime::Runtime, Imap) {
    static SETUP: OnceLock<(tokio::runtime::Runtime, Imap)> = OnceLock::new();
    SETUP.get_or_init(|| {
        // Real time (SQLite works on its own threads), without the pause after failed logins.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let imap = runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap().keep();
            let (tenant, anna) = (TenantId::new(), PersonId::new());
            let directory = Arc::new(MemoryDirectory::new());
            directory.add_domain(tenant, "kanzlei.example");
            directory.add_person(PersonEntry::new(tenant, anna, "Anna").with_email("anna@kanzlei.example".parse().unwrap()));
            let blobs = Arc::new(guss_blob::LocalBlobStore::open(&dir.join("blobs")).await.unwrap());
            let store = MailStore::open(dir.join("db").to_str().unwrap(), blobs, Arc::new(SystemClock), Arc::new(MemoryEventSink::new())).await.unwrap();
            let mail = store.tenant(tenant);
            for _ in 0..3 {
                mail.deliver(&[(Account::Person(anna), Role::Inbox)], MESSAGE.to_vec().into()).await.unwrap();
            }
            let mut config = ImapConfig::new("mail.kanzlei.example");
            config.allow_plain_auth_on_loopback = true;
            config.auth_failure_delay = std::time::Duration::ZERO;
            config.max_literal_size = 4096;
            config.max_command_size = 8192;
            config.max_line_length = 8192;
            Imap::new(ImapParts {
                config,
                store: store.clone(),
                router: Router::new(directory, store),
                authenticator: Arc::new(Anna(tenant, anna)),
                authorizer: Arc::new(DenyAll),
                tls: None,
            })
        });
        (runtime, imap)
    })
}

fuzz_target!(|data: &[u8]| {
    let (runtime, imap) = setup();
    let output = pipe::talk(runtime, data, |server, peer| imap.handle_stream(server, peer, ImapListener::Plain));
    assert!(output.starts_with(b"* OK [CAPABILITY "), "{:?}", String::from_utf8_lossy(&output));
    assert!(output.ends_with(b"\r\n"), "{:?}", String::from_utf8_lossy(&output));
});
