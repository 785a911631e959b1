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
//! `--export NAME@DOMAIN OUTDIR` writes every stored message of that
//! person to `OUTDIR/MAILBOX/UID.eml`, byte for byte, and exits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use guss_core::{
    Authenticator, DenyAll, MemoryDirectory, MemoryEventSink, PersonEntry, SystemClock, TenantId,
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
    let events = Arc::new(MemoryEventSink::new());
    let store = MailStore::open(&location, blobs, Arc::new(SystemClock), events).await?;

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
    let tls = guss_mail::smtp::tls::self_signed(&hostname)?;
    let mut config = SmtpConfig::new(&hostname);
    config.allow_plain_auth_on_loopback = true;
    config.max_message_size = args.max_message_size;
    let smtp = Smtp::new(SmtpParts {
        config,
        store: store.clone(),
        router: router.clone(),
        authenticator: authenticator.clone(),
        authorizer: Arc::new(DenyAll),
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
            let listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("listen on {address}"))?;
            eprintln!("guss mail: {kind:?} on {address}");
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
            tls: Some(tls.clone()),
        });
        for (address, kind) in [
            (args.imap, ImapListener::Plain),
            (args.imaps, ImapListener::Tls),
        ] {
            if let Some(address) = address {
                let listener = TcpListener::bind(address)
                    .await
                    .with_context(|| format!("listen on {address}"))?;
                eprintln!("guss mail: IMAP {kind:?} on {address}");
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
