//! `dkim-tool`: make DKIM keys, sign and verify messages with guss, from
//! the command line. `scripts/interop/mail-dkim.sh` uses it to check guss
//! against dkimpy.
//!
//! ```text
//! dkim-tool keygen --algorithm ed25519 --selector s1 --domain example.com --key-out s1.der
//!     writes the PKCS #8 key, prints "<dns name>\t<TXT value>"
//! dkim-tool sign --domain example.com --key ed25519:s1:s1.der --key rsa:s2:s2.der \
//!     --in message.eml --out signed.eml
//! dkim-tool verify --in signed.eml --txt 's1._domainkey.example.com=v=DKIM1; k=ed25519; p=…' \
//!     --expect 2
//!     prints one line per signature; exits 1 unless every signature passes
//!     (and there are --expect of them)
//! ```

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use guss_mail::authenticity::{AuthResult, Verifier};
use guss_mail::dkim::{self, Algorithm, DkimKey};

#[derive(Parser)]
#[command(about = "DKIM keys, signatures and verification with guss")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generates a key and prints its DNS record.
    Keygen {
        /// ed25519 or rsa
        #[arg(long)]
        algorithm: Algorithm,
        #[arg(long)]
        selector: String,
        #[arg(long)]
        domain: String,
        /// Where to write the PKCS #8 DER private key.
        #[arg(long)]
        key_out: PathBuf,
    },
    /// Signs a message with one or more keys.
    Sign {
        #[arg(long)]
        domain: String,
        /// ALGORITHM:SELECTOR:PATH of a PKCS #8 DER key; repeat for several.
        #[arg(long = "key", required = true)]
        keys: Vec<String>,
        #[arg(long = "in")]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Verifies every DKIM signature of a message, with the given DNS records.
    Verify {
        #[arg(long = "in")]
        input: PathBuf,
        /// NAME=VALUE of a TXT record; repeat for several.
        #[arg(long = "txt")]
        records: Vec<String>,
        /// How many signatures the message must carry.
        #[arg(long)]
        expect: Option<usize>,
    },
}

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Keygen {
            algorithm,
            selector,
            domain,
            key_out,
        } => {
            let key = DkimKey::generate(algorithm, &selector)?;
            std::fs::write(&key_out, key.to_pkcs8())
                .with_context(|| format!("writing {}", key_out.display()))?;
            writeln!(stdout, "{}\t{}", key.dns_name(&domain), key.dns_txt())?;
        }
        Command::Sign {
            domain,
            keys,
            input,
            out,
        } => {
            let keys = keys
                .iter()
                .map(|spec| load_key(spec))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let message =
                std::fs::read(&input).with_context(|| format!("reading {}", input.display()))?;
            let mut signed = dkim::sign(&message, &domain, &keys)?.into_bytes();
            signed.extend_from_slice(&message);
            std::fs::write(&out, signed).with_context(|| format!("writing {}", out.display()))?;
        }
        Command::Verify {
            input,
            records,
            expect,
        } => {
            let records = records
                .iter()
                .map(|r| {
                    r.split_once('=')
                        .map(|(n, v)| (n.to_owned(), v.to_owned()))
                        .with_context(|| format!("--txt {r:?} is not NAME=VALUE"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let message =
                std::fs::read(&input).with_context(|| format!("reading {}", input.display()))?;
            let verifier = Verifier::offline(records)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let verdict = runtime.block_on(verifier.verify(
                &message,
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                "localhost",
                "",
                "dkim-tool",
            ));
            let mut ok = !verdict.dkim.is_empty();
            for check in &verdict.dkim {
                writeln!(
                    stdout,
                    "dkim={} d={} s={} a={}{}",
                    check.result,
                    check.domain,
                    check.selector,
                    check.algorithm,
                    check
                        .reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                )?;
                ok &= check.result == AuthResult::Pass;
            }
            if let Some(expect) = expect
                && verdict.dkim.len() != expect
            {
                writeln!(
                    stdout,
                    "expected {expect} signatures, found {}",
                    verdict.dkim.len()
                )?;
                ok = false;
            }
            if !ok {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn load_key(spec: &str) -> anyhow::Result<DkimKey> {
    let mut parts = spec.splitn(3, ':');
    let (Some(algorithm), Some(selector), Some(path)) = (parts.next(), parts.next(), parts.next())
    else {
        bail!("--key {spec:?} is not ALGORITHM:SELECTOR:PATH");
    };
    let der = std::fs::read(path).with_context(|| format!("reading {path}"))?;
    Ok(DkimKey::from_pkcs8(algorithm.parse()?, selector, &der)?)
}
