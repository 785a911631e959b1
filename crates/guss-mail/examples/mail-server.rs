//! A mail server for one domain on the guss mail store: an MX, submission
//! with STARTTLS, an outbound queue, DKIM keys and the DNS records to
//! publish.
//!
//! ```text
//! cargo run -p guss-mail --example mail-server -- --domain kanzlei.example \
//!     --smtp 127.0.0.1:2525 --submission 127.0.0.1:2587 --data ./mail \
//!     --user anna:Zugangscode-1 [--relay 127.0.0.1:2526]
//! ```
//!
//! Built with the `imap` feature, `--imap 127.0.0.1:2143` (STARTTLS) and
//! `--imaps 127.0.0.1:2993` (implicit TLS) serve the mailboxes to mail
//! clients, who log in as `NAME@DOMAIN` with the same password.
//!
//! Mail for `NAME@DOMAIN` is accepted on `--smtp`; people submit on
//! `--submission` as `NAME@DOMAIN` with their password (STARTTLS is offered
//! with a self-signed certificate; AUTH without TLS only from loopback).
//! Outbound mail goes to `--relay`, or to the recipients' MX hosts.
//! `--database postgres://…` keeps metadata in PostgreSQL, `--s3
//! http://KEY:SECRET@HOST:PORT/BUCKET` message bytes in S3.
//!
//! `--deputy DEPUTY:REPRESENTED` lets DEPUTY stand in for REPRESENTED (mail,
//! read and write; `DEPUTY:REPRESENTED:read` to read only), decided by the
//! guss-policy engine: over IMAP the deputy finds the represented person's
//! mailboxes under `Other Users/REPRESENTED/`.
//!
//! `--export NAME@DOMAIN OUTDIR` writes every stored message of that
//! person to `OUTDIR/MAILBOX/UID.eml`, byte for byte, and exits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use guss_core::{
    Authenticator, Event, EventSink, MemoryDirectory, PersonEntry, SystemClock, TenantId,
};
use guss_mail::authenticity::Verifier;
use guss_mail::dns::{MailDomain, records};
use guss_mail::inbound::InboundChecks;
use guss_mail::queue::{Queue, QueueConfig, Transport};
use guss_mail::routing::Router;
use guss_mail::sending::Sending;
use guss_mail::smtp::{Listener, Smtp, SmtpConfig, SmtpParts};
use guss_mail::store::{Account, MailStore};
use guss_testkit::accounts::{Accounts, MailAccounts, person_id};
use tokio::net::TcpListener;

#[derive(Parser, Debug)]
#[command(about = "A mail server on the guss mail store")]
struct Args {
    /// Address for IMAP with STARTTLS (143; needs the `imap` feature).
    #[arg(long)]
    imap: Option<SocketAddr>,
    /// Address for IMAP with implicit TLS (993; needs the `imap` feature).
    #[arg(long)]
    imaps: Option<SocketAddr>,
    /// The mail domain.
    #[arg(long)]
    domain: String,
    /// Address for the MX (inbound SMTP).
    #[arg(long)]
    smtp: Option<SocketAddr>,
    /// Address for submission with STARTTLS (587).
    #[arg(long)]
    submission: Option<SocketAddr>,
    /// Address for submission with implicit TLS (465).
    #[arg(long)]
    submissions: Option<SocketAddr>,
    /// Directory for the data.
    #[arg(long)]
    data: PathBuf,
    /// A user as NAME:PASSWORD; repeat for more.
    #[arg(long = "user")]
    users: Vec<String>,
    /// Send all outbound mail to this relay (HOST:PORT).
    #[arg(long)]
    relay: Option<String>,
    /// Keep metadata in PostgreSQL at this URL instead of SQLite.
    #[arg(long)]
    database: Option<String>,
    /// Keep message bytes in S3: http(s)://ACCESS_KEY:SECRET@HOST:PORT/BUCKET.
    #[arg(long)]
    s3: Option<String>,
    /// The server's host name (default: mail.DOMAIN).
    #[arg(long)]
    hostname: Option<String>,
    /// Seconds before the first retry of a failed delivery (doubling after).
    #[arg(long, default_value_t = 60)]
    retry_seconds: u64,
    /// Seconds a queue worker's claim on a message lasts unless renewed
    /// (what a delivery cut off by a crash waits on PostgreSQL).
    #[arg(long, default_value_t = 60)]
    lease_seconds: u64,
    /// Largest message accepted, in bytes.
    #[arg(long, default_value_t = 50 * 1024 * 1024)]
    max_message_size: usize,
    /// Resolve SPF, DKIM and DMARC records through this name server (HOST:PORT).
    #[arg(long)]
    dns_server: Option<SocketAddr>,
    /// The host name of the web front (CalDAV, autoconfig; default: DOMAIN).
    #[arg(long)]
    web_host: Option<String>,
    /// DEPUTY:REPRESENTED[:read]: a deputy grant for mail (read and write,
    /// or read only); repeat for more.
    #[arg(long = "deputy")]
    deputies: Vec<String>,
    /// Write the messages of ADDRESS to OUTDIR/MAILBOX/UID.eml and exit.
    #[arg(long, num_args = 2, value_names = ["ADDRESS", "OUTDIR"])]
    export: Option<Vec<String>>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let domain = args.domain.to_ascii_lowercase();
    let hostname = args
        .hostname
        .clone()
        .unwrap_or_else(|| format!("mail.{domain}"));
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("create {}", args.data.display()))?;
    let accounts =
        Accounts::parse(args.users.iter().map(String::as_str)).map_err(anyhow::Error::msg)?;
    let names: Vec<String> = accounts.names().map(str::to_owned).collect();
    // One organisation, its id derived from the domain so that restarts find it.
    let tenant = TenantId::from_uuid(*person_id(&format!("@{domain}")).as_uuid());

    let directory = Arc::new(MemoryDirectory::new());
    directory.add_domain(tenant, &domain);
    for name in accounts.names() {
        let address = format!("{name}@{domain}").parse()?;
        directory.add_person(PersonEntry::new(tenant, person_id(name), name).with_email(address));
    }

    let blobs = guss_blob::open(args.s3.as_deref(), &args.data.join("blobs")).await?;
    let location = match &args.database {
        Some(url) => url.clone(),
        None => args.data.join("db").display().to_string(),
    };
    let events: Arc<dyn EventSink> = Arc::new(EventFile::open(&args.data.join("events.jsonl"))?);
    let store = MailStore::open(&location, blobs, Arc::new(SystemClock), events.clone()).await?;

    if let Some(export) = &args.export {
        let [address, out] = export.as_slice() else {
            bail!("--export needs ADDRESS OUTDIR");
        };
        return export_mail(&store, tenant, &domain, address, &PathBuf::from(out)).await;
    }

    // The records to publish, with this domain's DKIM keys (made on first start).
    let keys = store.tenant(tenant).dkim_keys(&domain).await?;
    let mut mail_domain = MailDomain::new(
        &domain,
        &hostname,
        args.web_host.as_deref().unwrap_or(&domain),
    );
    mail_domain.dkim_keys = keys.published().map(|k| k.dns_public_key()).collect();
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        out.write_all(records(&mail_domain).to_zone_file().as_bytes())?;
        out.flush()?;
    }
    let verifier = match args.dns_server {
        Some(server) => Verifier::with_name_server(server, Duration::from_secs(5))?,
        None => Verifier::system()?,
    };

    let router = Router::new(directory.clone(), store.clone());
    let transport = match &args.relay {
        Some(relay) => {
            let (host, port) = relay.rsplit_once(':').context("--relay needs HOST:PORT")?;
            Transport::relay(host, port.parse().context("--relay port")?)?
        }
        None => Transport::mx()?,
    };
    let first = Duration::from_secs(args.retry_seconds.max(1));
    let queue_config = QueueConfig {
        retry: (0..8).map(|i| first * 2u32.pow(i)).collect(),
        poll: first.min(Duration::from_secs(5)),
        lease: Duration::from_secs(args.lease_seconds.max(3)),
        ..QueueConfig::default()
    };
    let queue = Queue::new(
        store.clone(),
        router.clone(),
        transport,
        &hostname,
        queue_config,
    );
    let authenticator: Arc<dyn Authenticator> = Arc::new(MailAccounts::new(accounts, &domain));
    let policy_location = match &args.database {
        Some(url) => url.clone(),
        None => args.data.join("policy").display().to_string(),
    };
    let authorizer = office::authorizer(
        tenant,
        &policy_location,
        events.clone(),
        &names,
        &args.deputies,
    )
    .await?;
    let tls = guss_mail::smtp::tls::self_signed(&hostname)?;
    let mut config = SmtpConfig::new(&hostname);
    config.allow_plain_auth_on_loopback = true;
    config.max_message_size = args.max_message_size;
    let smtp = Smtp::new(SmtpParts {
        config,
        store: store.clone(),
        router: router.clone(),
        authenticator: authenticator.clone(),
        authorizer: authorizer.clone(),
        tls: Some(tls.clone()),
        sending: Sending::new(store.clone(), &hostname),
        queue: queue.clone(),
        checks: InboundChecks::new(verifier),
    });

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(queue.run());
    // DKIM keys rotate on schedule; new records must then be published.
    let (keys_mail, keys_domain) = (store.tenant(tenant), domain.clone());
    tasks.spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
            match keys_mail.rotate_dkim(&keys_domain, &Default::default()).await {
                Ok(plan) if !plan.generate.is_empty() => {
                    tracing::warn!(keys = ?plan.generate, "new DKIM keys: publish their DNS records");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "DKIM rotation failed"),
            }
        }
    });
    for (address, kind) in [
        (args.smtp, Listener::Mx),
        (args.submission, Listener::Submission),
        (args.submissions, Listener::SubmissionTls),
    ] {
        if let Some(address) = address {
            let listener = listen(address, &format!("{kind:?}")).await?;
            tasks.spawn(smtp.clone().serve(listener, kind));
        }
    }
    #[cfg(feature = "imap")]
    {
        use guss_mail::imap::{Imap, ImapConfig, ImapListener, ImapParts};
        let mut config = ImapConfig::new(&hostname);
        config.allow_plain_auth_on_loopback = true;
        let imap = Imap::new(ImapParts {
            config,
            store: store.clone(),
            router: router.clone(),
            authenticator: authenticator.clone(),
            authorizer: authorizer.clone(),
            tls: Some(tls.clone()),
        });
        for (address, kind) in [
            (args.imap, ImapListener::Plain),
            (args.imaps, ImapListener::Tls),
        ] {
            if let Some(address) = address {
                let listener = listen(address, &format!("IMAP {kind:?}")).await?;
                tasks.spawn(imap.clone().serve(listener, kind));
            }
        }
    }
    #[cfg(not(feature = "imap"))]
    if args.imap.is_some() || args.imaps.is_some() {
        bail!("--imap needs the example built with `--features imap`");
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = tasks.join_next() => bail!("a listener stopped"),
    }
    Ok(())
}

/// A listener on `address` for `what`, announced on standard error.
async fn listen(address: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("listen on {address}"))?;
    eprintln!("guss mail: {what} on {address}");
    Ok(listener)
}

/// Events as JSON lines in a file (the bundle sends them to the audit log).
struct EventFile(std::sync::Mutex<std::fs::File>);

impl EventFile {
    fn open(path: &std::path::Path) -> anyhow::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("open {}", path.display()))?;
        Ok(EventFile(std::sync::Mutex::new(file)))
    }
}

#[async_trait::async_trait]
impl EventSink for EventFile {
    async fn emit(&self, event: Event) -> guss_core::Result<()> {
        use std::io::Write as _;
        let mut line =
            serde_json::to_vec(&event).map_err(|e| guss_core::Error::Backend(Box::new(e)))?;
        line.push(b'\n');
        let mut file = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        file.write_all(&line)
            .map_err(|e| guss_core::Error::Backend(Box::new(e)))
    }
}

/// The office's people and deputy grants, for the policy engine.
mod office {
    use std::collections::HashSet;
    use std::sync::Arc;

    use anyhow::{Context as _, bail};
    use async_trait::async_trait;
    use chrono::{TimeDelta, Utc};
    use guss_core::{
        Authorizer, EventSink, PersonId, Principal, Resource, Scope, ShareLinkId, SystemClock,
        TenantId,
    };
    use guss_mail::store::Account;
    use guss_policy::delegation::Delegations;
    use guss_policy::store::SqlPolicyStore;
    use guss_policy::{
        EntityLoader, PolicyAuthorizer, PolicyEngine, ResourceFacts, ShareLinkFacts, Subject,
    };
    use guss_testkit::accounts::person_id;

    /// Who works here: every `--user`, a member; a person's mail account
    /// is theirs.
    struct Office(HashSet<PersonId>);

    #[async_trait]
    impl EntityLoader for Office {
        async fn subject(
            &self,
            _: TenantId,
            person: PersonId,
        ) -> guss_core::Result<Option<Subject>> {
            Ok(self
                .0
                .contains(&person)
                .then(|| Subject::new(person, ["member"], Vec::new())))
        }

        async fn resource(&self, resource: &Resource) -> guss_core::Result<Option<ResourceFacts>> {
            Ok(match Account::from_key(resource.id()) {
                Ok(Account::Person(owner)) => Some(ResourceFacts::owned_by(owner, Scope::Mail)),
                _ => None,
            })
        }

        async fn share_link(
            &self,
            _: TenantId,
            _: ShareLinkId,
        ) -> guss_core::Result<Option<ShareLinkFacts>> {
            Ok(None)
        }
    }

    /// The policy engine deciding for `names`, with the grants of
    /// `--deputy DEPUTY:REPRESENTED[:read]` made (for a year, by the person
    /// represented) in the delegation store at `location`.
    pub(super) async fn authorizer(
        tenant: TenantId,
        location: &str,
        events: Arc<dyn EventSink>,
        names: &[String],
        deputies: &[String],
    ) -> anyhow::Result<Arc<dyn Authorizer>> {
        let store = SqlPolicyStore::open(location)
            .await
            .context("policy store")?;
        let delegations = Arc::new(Delegations::new(store, Arc::new(SystemClock), events));
        for spec in deputies {
            let mut parts = spec.split(':');
            let (Some(deputy), Some(represented)) = (parts.next(), parts.next()) else {
                bail!("--deputy needs DEPUTY:REPRESENTED, not {spec:?}");
            };
            let write = match parts.next() {
                None => true,
                Some("read") => false,
                Some(other) => bail!("--deputy {spec}: unknown access {other:?}"),
            };
            for name in [deputy, represented] {
                if !names.iter().any(|n| n == name) {
                    bail!("--deputy {spec}: no --user {name}");
                }
            }
            let represented = person_id(represented);
            let now = Utc::now();
            delegations
                .grant(
                    &Principal::Person {
                        tenant,
                        person: represented,
                    },
                    person_id(deputy),
                    represented,
                    now - TimeDelta::minutes(1),
                    now + TimeDelta::days(365),
                    &[Scope::Mail],
                    write,
                    &format!("--deputy {spec}"),
                )
                .await
                .with_context(|| format!("--deputy {spec}"))?;
        }
        let office = Arc::new(Office(names.iter().map(|n| person_id(n)).collect()));
        let engine = PolicyEngine::new().context("policy engine")?;
        Ok(Arc::new(PolicyAuthorizer::new(
            Arc::new(engine),
            office,
            delegations,
            Arc::new(SystemClock),
        )))
    }
}

async fn export_mail(
    store: &MailStore,
    tenant: TenantId,
    domain: &str,
    address: &str,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let name = address
        .rsplit_once('@')
        .filter(|(_, d)| d.eq_ignore_ascii_case(domain))
        .map(|(n, _)| n)
        .context("--export needs NAME@DOMAIN")?;
    let mail = store.tenant(tenant);
    let account = Account::Person(person_id(name));
    for mailbox in mail.mailboxes(&account).await? {
        let dir = out.join(mailbox.name.replace('/', "_"));
        std::fs::create_dir_all(&dir)?;
        for message in mail.messages(mailbox.id, 1..=u32::MAX).await? {
            let raw = mail.raw(&message).await?;
            std::fs::write(dir.join(format!("{}.eml", message.uid)), &raw)?;
        }
    }
    Ok(())
}
