//! HTTPS certificates from an ACME certificate authority (RFC 8555), with
//! HTTP-01 challenges answered on the plain-HTTP listener.
//!
//! The certificate covers the public host and every organisation's host.
//! It is kept in `DATA/acme/` (chain, key, and the names it was issued
//! for) and renewed when it is 60 days old or when an organisation was
//! added; the new one is served at once, without a restart. Until the
//! first one arrives, a self-signed certificate answers.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use guss_identity::store::TenantRegistry as _;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::config::TlsConfig;

/// A certificate this old is renewed (ACME certificates live 90 days).
const RENEW_AFTER_DAYS: i64 = 60;
/// How often the names and the age of the certificate are looked at.
const CHECK_EVERY: Duration = Duration::from_secs(60);
/// The first retry after a failed order.
const RETRY_FIRST: Duration = Duration::from_secs(2);

/// The certificate being served, and the HTTP-01 answers being given.
#[derive(Debug)]
pub struct Certificates {
    current: RwLock<Arc<CertifiedKey>>,
    challenges: RwLock<HashMap<String, String>>,
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

impl Certificates {
    /// The key authorization for an HTTP-01 `token`, while its challenge runs.
    pub fn challenge_answer(&self, token: &str) -> Option<String> {
        self.challenges
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    fn serve(&self, chain_pem: &str, key_pem: &str) -> anyhow::Result<()> {
        let key = certified_key(chain_pem.as_bytes(), key_pem.as_bytes())?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
        Ok(())
    }

    /// A TLS acceptor that always serves the current certificate,
    /// offering the ALPN `protocols` (none for mail: a client that offers
    /// `imap` or `smtp` must not be refused for a protocol name).
    pub fn acceptor(self: &Arc<Self>, protocols: &[&[u8]]) -> tokio_rustls::TlsAcceptor {
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }
}

fn certified_key(chain_pem: &[u8], key_pem: &[u8]) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .context("certificate chain")?;
    anyhow::ensure!(!chain.is_empty(), "the certificate chain is empty");
    let key = PrivateKeyDer::from_pem_slice(key_pem).context("private key")?;
    let provider = rustls::crypto::ring::default_provider();
    Ok(CertifiedKey::from_der(chain, key, &provider)?)
}

/// What the stored certificate was issued for, and when.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Issued {
    names: BTreeSet<String>,
    at: i64,
}

/// Obtains and renews the certificate from the configured ACME directory.
pub struct Acme {
    bundle: Arc<Bundle>,
    certificates: Arc<Certificates>,
    dir: PathBuf,
}

impl Acme {
    /// Loads the stored certificate, or makes a self-signed one to start with.
    pub fn new(bundle: Arc<Bundle>) -> anyhow::Result<Acme> {
        let dir = bundle.config.data.join("acme");
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let stored = std::fs::read(dir.join("chain.pem"))
            .ok()
            .zip(std::fs::read(dir.join("key.pem")).ok())
            .and_then(|(chain, key)| certified_key(&chain, &key).ok());
        let current = match stored {
            Some(key) => key,
            None => {
                let host = public_host(&bundle).unwrap_or_else(|| "localhost".to_owned());
                let made = rcgen::generate_simple_self_signed(vec![host])?;
                certified_key(
                    made.cert.pem().as_bytes(),
                    made.signing_key.serialize_pem().as_bytes(),
                )?
            }
        };
        Ok(Acme {
            bundle,
            certificates: Arc::new(Certificates {
                current: RwLock::new(Arc::new(current)),
                challenges: RwLock::default(),
            }),
            dir,
        })
    }

    /// The certificates, for the TLS listener and the challenge route.
    pub fn certificates(&self) -> Arc<Certificates> {
        self.certificates.clone()
    }

    /// Keeps the certificate current, forever. Failures are retried
    /// sooner, backing off to the normal interval.
    pub async fn run(self) {
        let mut retry = RETRY_FIRST;
        loop {
            match self.renew_if_due().await {
                Ok(()) => {
                    retry = RETRY_FIRST;
                    tokio::time::sleep(CHECK_EVERY).await;
                }
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "obtaining a certificate failed");
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(CHECK_EVERY);
                }
            }
        }
    }

    async fn names(&self) -> anyhow::Result<BTreeSet<String>> {
        let mut names = BTreeSet::new();
        names.extend(public_host(&self.bundle));
        for tenant in self.bundle.identity.store().tenants().await? {
            names.insert(tenant.relying_party.id.to_ascii_lowercase());
        }
        Ok(names)
    }

    async fn renew_if_due(&self) -> anyhow::Result<()> {
        let names = self.names().await?;
        if names.is_empty() {
            return Ok(());
        }
        let issued: Issued = std::fs::read(self.dir.join("issued.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let age_days = (self.bundle.clock.now().timestamp() - issued.at) / 86_400;
        if issued.names == names && age_days < RENEW_AFTER_DAYS {
            return Ok(());
        }
        tracing::info!(?names, "requesting a certificate");
        let (chain, key) = self.obtain(&names).await?;
        self.certificates.serve(&chain, &key)?;
        write_private(&self.dir.join("key.pem"), key.as_bytes())?;
        write_private(&self.dir.join("chain.pem"), chain.as_bytes())?;
        let issued = Issued {
            names,
            at: self.bundle.clock.now().timestamp(),
        };
        write_private(&self.dir.join("issued.json"), &serde_json::to_vec(&issued)?)?;
        tracing::info!("new certificate in use");
        Ok(())
    }

    async fn account(&self, tls: &TlsConfig) -> anyhow::Result<Account> {
        let directory = tls
            .acme_directory
            .as_ref()
            .context("no acme_directory configured")?;
        let builder = match &tls.acme_root_file {
            Some(root) => Account::builder_with_root(root)?,
            None => Account::builder()?,
        };
        let stored = self.dir.join("account.json");
        if let Ok(bytes) = std::fs::read(&stored) {
            let credentials: AccountCredentials = serde_json::from_slice(&bytes)?;
            return Ok(builder.from_credentials(credentials).await?);
        }
        let contact: Vec<&str> = tls.acme_contact.iter().map(String::as_str).collect();
        let (account, credentials) = builder
            .create(
                &NewAccount {
                    contact: &contact,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                directory.to_string(),
                None,
            )
            .await?;
        write_private(&stored, &serde_json::to_vec(&credentials)?)?;
        Ok(account)
    }

    /// One order: HTTP-01 for every name, then the chain and its key (PEM).
    async fn obtain(&self, names: &BTreeSet<String>) -> anyhow::Result<(String, String)> {
        let account = self.account(&self.bundle.config.tls).await?;
        let identifiers: Vec<Identifier> = names.iter().cloned().map(Identifier::Dns).collect();
        let mut order = account.new_order(&NewOrder::new(&identifiers)).await?;
        let mut tokens = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization?;
            if authorization.status == AuthorizationStatus::Valid {
                continue;
            }
            let mut challenge = authorization
                .challenge(ChallengeType::Http01)
                .context("the CA offers no HTTP-01 challenge")?;
            let answer = challenge.key_authorization().as_str().to_owned();
            self.certificates
                .challenges
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(challenge.token.clone(), answer);
            tokens.push(challenge.token.clone());
            challenge.set_ready().await?;
        }
        let retries = RetryPolicy::new().timeout(Duration::from_secs(120));
        let status = order.poll_ready(&retries).await;
        let forget = || {
            let mut challenges = self
                .certificates
                .challenges
                .write()
                .unwrap_or_else(|e| e.into_inner());
            for token in &tokens {
                challenges.remove(token);
            }
        };
        let status = match status {
            Ok(status) => status,
            Err(e) => {
                forget();
                return Err(e.into());
            }
        };
        forget();
        anyhow::ensure!(
            status == OrderStatus::Ready,
            "the order is {status:?}, not ready"
        );
        let key = order.finalize().await?;
        let chain = order.poll_certificate(&retries).await?;
        Ok((chain, key))
    }
}

fn public_host(bundle: &Bundle) -> Option<String> {
    bundle
        .config
        .public_url
        .as_ref()
        .and_then(|url| url.host_str())
        .map(str::to_ascii_lowercase)
}

/// Writes a secret file (mode 0600) whole, then renames it into place.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let temporary = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&temporary)
        .with_context(|| format!("write {}", temporary.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path).with_context(|| format!("rename to {}", path.display()))?;
    Ok(())
}
