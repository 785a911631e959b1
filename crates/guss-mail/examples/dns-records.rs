//! The DNS records of a mail domain: print them, check the live zone
//! against them, or publish them with RFC 2136 dynamic updates.
//!
//! ```text
//! cargo run -p guss-mail --example dns-records -- \
//!     --domain example.test --mail-host mail.example.test --web-host web.example.test \
//!     --mail-addr 192.0.2.25 --caa letsencrypt.org zone
//! ... check [--server 127.0.0.1:5353]
//! ... publish --server 127.0.0.1:5353 --zone example.test --key-file update.key
//! ```
//!
//! `zone` prints the zone file (one record per line), `policy` the MTA-STS
//! policy file. `check` prints every difference with its fix and exits 1
//! when there is one (0: none, 2: error). `publish` reads the TSIG key in
//! the form `tsig-keygen` prints.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};
use guss_mail::dns::{
    DkimAlgorithm, DkimPublicKey, DmarcPolicy, LiveDns, MailDomain, MtaStsMode, TsigKey, check,
    mta_sts_policy, publish, records,
};

#[derive(Parser)]
#[command(about = "The DNS records of a mail domain")]
struct Args {
    /// The mail domain.
    #[arg(long)]
    domain: String,
    /// The host that receives mail and serves SMTP submission and IMAP.
    #[arg(long)]
    mail_host: String,
    /// The host that serves CalDAV, CardDAV, MTA-STS and autoconfiguration.
    #[arg(long)]
    web_host: String,
    /// An address of the mail host (repeatable).
    #[arg(long)]
    mail_addr: Vec<IpAddr>,
    /// An address of the web host (repeatable).
    #[arg(long)]
    web_addr: Vec<IpAddr>,
    /// A DKIM key as SELECTOR:ed25519|rsa:BASE64 (repeatable).
    #[arg(long)]
    dkim: Vec<String>,
    /// The DMARC policy.
    #[arg(long, value_enum, default_value = "quarantine")]
    dmarc_policy: Dmarc,
    /// The MTA-STS mode.
    #[arg(long, value_enum, default_value = "enforce")]
    mta_sts_mode: Sts,
    /// The certificate authority allowed to issue certificates.
    #[arg(long)]
    caa: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Dmarc {
    None,
    Quarantine,
    Reject,
}

#[derive(Clone, Copy, ValueEnum)]
enum Sts {
    Enforce,
    Testing,
}

#[derive(Subcommand)]
enum Command {
    /// Print the zone file.
    Zone,
    /// Print the MTA-STS policy file.
    Policy,
    /// Compare the live DNS with the records; exit 1 on any difference.
    Check {
        /// Ask only this name server (default: the system resolver).
        #[arg(long)]
        server: Option<SocketAddr>,
    },
    /// Publish the records with RFC 2136 dynamic updates signed with TSIG.
    Publish {
        /// The authoritative server.
        #[arg(long)]
        server: SocketAddr,
        /// The zone to update (default: the domain).
        #[arg(long)]
        zone: Option<String>,
        /// The TSIG key as `tsig-keygen` prints it.
        #[arg(long)]
        key_file: PathBuf,
    },
}

fn domain(args: &Args) -> anyhow::Result<MailDomain> {
    let mut domain = MailDomain::new(&args.domain, &args.mail_host, &args.web_host);
    domain.mail_host_addrs = args.mail_addr.clone();
    domain.web_host_addrs = args.web_addr.clone();
    for dkim in &args.dkim {
        let mut parts = dkim.splitn(3, ':');
        let (Some(selector), Some(algorithm), Some(key)) =
            (parts.next(), parts.next(), parts.next())
        else {
            bail!("--dkim {dkim:?}: expected SELECTOR:ALGORITHM:BASE64");
        };
        let algorithm = match algorithm {
            "ed25519" => DkimAlgorithm::Ed25519,
            "rsa" => DkimAlgorithm::Rsa,
            other => bail!("--dkim: unknown algorithm {other:?}"),
        };
        domain
            .dkim_keys
            .push(DkimPublicKey::new(selector, algorithm, key));
    }
    domain.dmarc_policy = match args.dmarc_policy {
        Dmarc::None => DmarcPolicy::None,
        Dmarc::Quarantine => DmarcPolicy::Quarantine,
        Dmarc::Reject => DmarcPolicy::Reject,
    };
    domain.mta_sts_mode = match args.mta_sts_mode {
        Sts::Enforce => MtaStsMode::Enforce,
        Sts::Testing => MtaStsMode::Testing,
    };
    domain.caa_issuer = args.caa.clone();
    domain.validate()?;
    Ok(domain)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dns-records: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let domain = domain(&args)?;
    let set = records(&domain);
    match &args.command {
        Command::Zone => print!("{}", set.to_zone_file()),
        Command::Policy => print!("{}", mta_sts_policy(&domain)),
        Command::Check { server } => {
            let dns = match server {
                Some(server) => LiveDns::name_server(*server)?,
                None => LiveDns::system()?,
            };
            let findings = check(&set, &dns).await;
            for finding in &findings {
                println!("{finding}\n");
            }
            if findings.is_empty() {
                println!("no differences: all {} records are in place", set.len());
                return Ok(ExitCode::SUCCESS);
            }
            println!("{} differences", findings.len());
            return Ok(ExitCode::from(1));
        }
        Command::Publish {
            server,
            zone,
            key_file,
        } => {
            let key = std::fs::read_to_string(key_file)
                .with_context(|| format!("reading {}", key_file.display()))?;
            let key = TsigKey::from_bind_config(&key)?;
            let zone = zone.as_deref().unwrap_or(&domain.domain);
            let published = publish(&set, *server, zone, &key).await?;
            for (name, record_type) in &published.changed {
                println!("wrote {name} {record_type}");
            }
            println!(
                "published: {} record sets changed, {} unchanged, {} stray SPF records removed",
                published.changed.len(),
                published.unchanged,
                published.spf_removed
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
