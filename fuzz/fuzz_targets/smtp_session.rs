//! SMTP command input, as a client sends it to the MX: the session never
//! panics, answers every line with a reply code, and stays bounded.
#![no_main]

use std::sync::{Arc, OnceLock};

use guss_core::{DenyAll, MemoryDirectory, MemoryEventSink, PersonEntry, PersonId, SystemClock, TenantId};
use guss_mail::queue::{Queue, QueueConfig, Transport};
use guss_mail::routing::Router;
use guss_mail::sending::Sending;
use guss_mail::smtp::{Listener, Smtp, SmtpConfig, SmtpParts};
use guss_mail::store::MailStore;
use libfuzzer_sys::fuzz_target;

#[path = "common/pipe.rs"]
mod pipe;

struct Nobody;

#[async_trait::async_trait]
impl guss_core::Authenticator for Nobody {
    async fn authenticate(&self, _: TenantId, _: &guss_core::Credentials, _: guss_core::Scope) -> Result<guss_core::Principal, guss_core::Error> {
        Err(guss_core::Error::Unauthenticated)
    }
}

fn setup() -> &'static (tokio::runtime::Runtime, Smtp) {
    static SETUP: OnceLock<(tokio::runtime::Runtime, Smtp)> = OnceLock::new();
    SETUP.get_or_init(|| {
        // Paused time: the pauses after failed logins and the timeouts pass at once.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        let smtp = runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap().keep();
            let tenant = TenantId::new();
            let directory = Arc::new(MemoryDirectory::new());
            directory.add_domain(tenant, "kanzlei.example");
            directory.add_person(PersonEntry::new(tenant, PersonId::new(), "Anna").with_email("anna@kanzlei.example".parse().unwrap()));
            let blobs = Arc::new(guss_blob::LocalBlobStore::open(&dir.join("blobs")).await.unwrap());
            let store = MailStore::open(dir.join("db").to_str().unwrap(), blobs, Arc::new(SystemClock), Arc::new(MemoryEventSink::new())).await.unwrap();
            let router = Router::new(directory, store.clone());
            let queue = Queue::new(store.clone(), router.clone(), Transport::relay("127.0.0.1", 9).unwrap(), "mx.test", QueueConfig::default());
            let mut config = SmtpConfig::new("mx.test");
            config.max_message_size = 4096;
            config.allow_plain_auth_on_loopback = true;
            Smtp::new(SmtpParts {
                config,
                store: store.clone(),
                router,
                authenticator: Arc::new(Nobody),
                authorizer: Arc::new(DenyAll),
                tls: None,
                sending: Sending::new(store, "mx.test"),
                queue,
                checks: guss_mail::inbound::InboundChecks::new(guss_mail::authenticity::Verifier::offline(Vec::<(String, String)>::new()).unwrap()),
            })
        });
        (runtime, smtp)
    })
}

fuzz_target!(|data: &[u8]| {
    let (runtime, smtp) = setup();
    let kind = if data.first().is_some_and(|b| b & 1 == 1) { Listener::Submission } else { Listener::Mx };
    let output = pipe::talk(runtime, data, |server, peer| smtp.handle_stream(server, peer, kind));
    for line in output.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit), "{:?}", String::from_utf8_lossy(line));
    }
});
