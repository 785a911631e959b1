//! The bundle's configuration: a TOML file, then environment overrides,
//! and with neither the embedded default (SQLite and local files in
//! `./guss-data`, on `http://localhost:8080`).
//!
//! ```toml
//! data = "/var/lib/guss"
//! listen = "0.0.0.0:443"
//! public_url = "https://guss.example"        # organisations at NAME.guss.example
//! database_url = "postgres://guss@db/guss"   # instead of SQLite
//! s3_url = "https://KEY:SECRET@s3.example/guss"  # instead of local files
//!
//! [tls]
//! acme_directory = "https://acme-v02.api.letsencrypt.org/directory"
//! acme_contact = "mailto:hosting@example.net"
//! http_listen = "0.0.0.0:80"   # HTTP-01 challenges, and redirects to HTTPS
//!
//! [dns]                       # publish mail domains' records (RFC 2136)
//! server = "192.0.2.53:53"
//! tsig_key_file = "/etc/guss/update.key"
//!
//! [mail]
//! hostname = "mail.guss.example"
//! smtp = "0.0.0.0:25"
//! submissions = "0.0.0.0:465"
//! imaps = "0.0.0.0:993"
//! ```
//!
//! Environment variables override the file: `GUSS_DATA`, `GUSS_LISTEN`,
//! `GUSS_PUBLIC_URL`, `GUSS_DATABASE_URL`, `GUSS_S3_URL`, `GUSS_ADMIN_TOKEN`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;
use url::Url;

/// Everything `guss serve` and `guss tenant` need to know.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Keys, SQLite databases and local files.
    #[serde(default = "default_data")]
    pub data: PathBuf,
    /// Where the web server listens.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The address people reach the server at. Organisations live on host
    /// names below it (`kanzlei.guss.example`); without it the server runs
    /// a local trial on `http://localhost:PORT`.
    pub public_url: Option<Url>,
    /// Metadata in PostgreSQL instead of SQLite.
    pub database_url: Option<String>,
    /// Content in S3 (`http(s)://KEY:SECRET@HOST[:PORT]/BUCKET`) instead of
    /// local files.
    pub s3_url: Option<String>,
    /// The bearer token of the hosting firm's admin API (`/api/admin/`);
    /// without one the API is off.
    pub admin_token: Option<String>,
    /// HTTPS.
    #[serde(default)]
    pub tls: TlsConfig,
    /// Mail listeners.
    #[serde(default)]
    pub mail: MailConfig,
    /// The DNS server that hosts the organisations' zones.
    #[serde(default)]
    pub dns: DnsConfig,
}

/// Where the wizard publishes a mail domain's records (RFC 2136 dynamic
/// updates signed with TSIG) and checks them. Without it, the wizard shows
/// the records to enter by hand and checks them through the system's
/// resolver.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// The primary name server, `IP:PORT`.
    pub server: Option<SocketAddr>,
    /// The TSIG key in BIND's format (`key "name" { algorithm …; secret …; };`).
    pub tsig_key_file: Option<PathBuf>,
}

/// HTTPS: certificates from files or from an ACME certificate authority.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// A PEM certificate chain (with `key_file`).
    pub certificate_file: Option<PathBuf>,
    /// The PEM private key of `certificate_file`.
    pub key_file: Option<PathBuf>,
    /// The ACME directory URL to obtain certificates from.
    pub acme_directory: Option<Url>,
    /// The contact given to the ACME certificate authority.
    pub acme_contact: Option<String>,
    /// A PEM root certificate to trust for the ACME directory's own HTTPS
    /// (a test CA such as pebble).
    pub acme_root_file: Option<PathBuf>,
    /// A plain-HTTP listener (port 80) for ACME HTTP-01 challenges; every
    /// other request there is redirected to HTTPS.
    pub http_listen: Option<SocketAddr>,
}

/// Mail listeners; each one is off unless given an address.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// The name the mail server greets with (default: `mail.` and the public host).
    pub hostname: Option<String>,
    /// MX (port 25).
    pub smtp: Option<SocketAddr>,
    /// Submission with STARTTLS (port 587).
    pub submission: Option<SocketAddr>,
    /// Submission with implicit TLS (port 465).
    pub submissions: Option<SocketAddr>,
    /// IMAP with STARTTLS (port 143).
    pub imap: Option<SocketAddr>,
    /// IMAP with implicit TLS (port 993).
    pub imaps: Option<SocketAddr>,
    /// Send outbound mail through this relay (`HOST:PORT`) instead of MX lookups.
    pub relay: Option<String>,
}

fn default_data() -> PathBuf {
    PathBuf::from("guss-data")
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data: default_data(),
            listen: default_listen(),
            public_url: None,
            database_url: None,
            s3_url: None,
            admin_token: None,
            tls: TlsConfig::default(),
            mail: MailConfig::default(),
            dns: DnsConfig::default(),
        }
    }
}

impl Config {
    /// Reads `file` (if given), then applies the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("read {}", path.display()))?;
                Self::parse(&text).with_context(|| format!("in {}", path.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Parses a TOML configuration.
    ///
    /// ```
    /// let config = guss_server::Config::parse("listen = '0.0.0.0:8443'\n[mail]\nimaps = '0.0.0.0:993'")?;
    /// assert_eq!(config.listen.port(), 8443);
    /// assert!(config.mail.imaps.is_some());
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        Ok(toml::from_str(text)?)
    }

    /// Applies `GUSS_*` overrides read through `var`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(data) = var("GUSS_DATA") {
            self.data = PathBuf::from(data);
        }
        if let Some(listen) = var("GUSS_LISTEN") {
            self.listen = listen.parse().context("GUSS_LISTEN")?;
        }
        if let Some(url) = var("GUSS_PUBLIC_URL") {
            self.public_url = Some(url.parse().context("GUSS_PUBLIC_URL")?);
        }
        if let Some(url) = var("GUSS_DATABASE_URL") {
            self.database_url = Some(url);
        }
        if let Some(url) = var("GUSS_S3_URL") {
            self.s3_url = Some(url);
        }
        if let Some(token) = var("GUSS_ADMIN_TOKEN") {
            self.admin_token = Some(token);
        }
        Ok(())
    }

    /// Where the stores keep metadata: the PostgreSQL URL, or the SQLite
    /// directory below `data`.
    pub fn database_location(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => self.data.join("db").display().to_string(),
        }
    }

    /// The web origin of the local trial (`http://localhost:PORT`), or of
    /// the public URL.
    pub fn base_origin(&self) -> String {
        match &self.public_url {
            Some(url) => url.origin().ascii_serialization(),
            None => format!("http://localhost:{}", self.listen.port()),
        }
    }

    /// Whether this is a local trial (no public URL): the first visitor
    /// creates the first organisation.
    pub fn is_local_trial(&self) -> bool {
        self.public_url.is_none()
    }

    /// The mail server's host name.
    pub fn mail_hostname(&self) -> String {
        match (&self.mail.hostname, &self.public_url) {
            (Some(name), _) => name.clone(),
            (None, Some(url)) => format!("mail.{}", url.host_str().unwrap_or("localhost")),
            (None, None) => "localhost".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_a_local_trial_in_guss_data() {
        let config = Config::default();
        assert_eq!(config.data, PathBuf::from("guss-data"));
        assert_eq!(config.base_origin(), "http://localhost:8080");
        assert!(config.is_local_trial());
        assert!(config.database_location().ends_with("db"));
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let mut config =
            Config::parse("listen = '127.0.0.1:9000'\ndatabase_url = 'postgres://a/b'").unwrap();
        config
            .apply_env(|name| match name {
                "GUSS_LISTEN" => Some("127.0.0.1:9100".into()),
                "GUSS_PUBLIC_URL" => Some("https://guss.example".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.listen.port(), 9100);
        assert_eq!(config.database_location(), "postgres://a/b");
        assert_eq!(config.base_origin(), "https://guss.example");
        assert_eq!(config.mail_hostname(), "mail.guss.example");
    }

    #[test]
    fn unknown_settings_are_refused() {
        let error = Config::parse("lisen = '127.0.0.1:1'").unwrap_err();
        assert!(error.to_string().contains("lisen"), "{error}");
        assert!(Config::parse("listen = 'here'").is_err());
    }
}
