//! The composition: every crate's service opened on one configuration and
//! wired through guss-core's seams.
//!
//! - guss-identity authenticates (passkeys, sessions, app passwords) and is
//!   the directory;
//! - guss-policy decides every request (`PolicyAuthorizer` over the facts in
//!   [`access`](crate::access)), keeps deputies, and is the audit log that
//!   every event of every crate goes to;
//! - guss-storage serves files over WebDAV at `/dav/files/`, guss-calendar
//!   calendars over CalDAV below `/dav/`, guss-mail the mail protocols and
//!   client configuration.

use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use guss_calendar::store::CalendarStore;
use guss_core::{Authorizer, Clock, Event, EventSink, SystemClock, TenantId};
use guss_identity::store::SqlStore;
use guss_identity::{Identity, RelyingParty};
use guss_mail::store::MailStore;
use guss_policy::audit::AuditLog;
use guss_policy::delegation::Delegations;
use guss_policy::store::SqlPolicyStore;
use guss_policy::{PolicyAuthorizer, PolicyEngine};
use guss_storage::keys::MasterKey;
use guss_storage::store::{FileStore, StoreConfig};

use crate::access::{OfficeCalendarUsers, OfficeFacts};
use crate::config::Config;
use crate::office::{OfficeSettings, Offices, SetupStep};
use crate::presets::Profession;
use crate::retention::Retention;
use crate::secrets::key_file;

/// Every service of the bundle, opened and wired.
pub struct Bundle {
    /// The configuration it was opened with.
    pub config: Config,
    /// People, passkeys, sessions, app passwords.
    pub identity: Arc<Identity<SqlStore>>,
    /// Files.
    pub files: FileStore,
    /// Calendars.
    pub calendars: CalendarStore,
    /// Mail.
    pub mail: MailStore,
    /// Host names and wizard state.
    pub offices: Offices,
    /// Deputies and named stand-ins.
    pub delegations: Arc<Delegations<SqlPolicyStore>>,
    /// The tamper-evident audit log every event goes to.
    pub audit: Arc<AuditLog<SqlPolicyStore>>,
    /// Decides every request.
    pub authorizer: Arc<dyn Authorizer>,
    /// Calendar users (people and the office).
    pub calendar_users: Arc<OfficeCalendarUsers>,
    /// Everyone's events.
    pub events: Arc<dyn EventSink>,
    /// The server's clock.
    pub clock: Arc<dyn Clock>,
    /// Signs the forms' CSRF tokens.
    pub(crate) form_key: ring::hmac::Key,
    /// Serialises the creation of the first organisation of a local trial.
    pub(crate) first_setup: tokio::sync::Mutex<()>,
    /// Mail the bundle sends itself, once the mail listeners run.
    pub outbound: std::sync::OnceLock<crate::mail::Outbound>,
    /// Carries scheduling messages between calendar and mail, once the
    /// mail listeners run.
    pub(crate) imip: Arc<std::sync::OnceLock<crate::imip::Imip>>,
    /// The profession's retention rules on the shared folders.
    pub retention: Retention,
}

/// Every event is counted, logged and appended to its organisation's audit
/// chain; an event that cannot be recorded fails the action that caused it.
struct AuditEvents {
    log: Arc<AuditLog<SqlPolicyStore>>,
    imip: Arc<std::sync::OnceLock<crate::imip::Imip>>,
    retention: Arc<std::sync::OnceLock<Retention>>,
}

#[async_trait]
impl EventSink for AuditEvents {
    async fn emit(&self, event: Event) -> guss_core::Result<()> {
        metrics::counter!("guss_events_total", "kind" => event.kind().to_string()).increment(1);
        tracing::info!(
            tenant = %event.tenant(),
            kind = %event.kind(),
            subject = event.subject().unwrap_or(""),
            "event"
        );
        let kind = event.kind().as_str().to_owned();
        let carried =
            kind == "guss.calendar.imip.outgoing" || kind == "guss.mail.invitation.received";
        if carried && let Some(imip) = self.imip.get() {
            self.log.emit(event.clone()).await?;
            imip.react(&event).await;
            return Ok(());
        }
        if kind.starts_with("guss.storage.")
            && let Some(retention) = self.retention.get()
        {
            self.log.emit(event.clone()).await?;
            retention.react(&event).await;
            return Ok(());
        }
        self.log.emit(event).await
    }
}

impl Bundle {
    /// Opens every store of `config` (creating the data directory, keys and
    /// tables on first start).
    pub async fn open(config: Config) -> anyhow::Result<Bundle> {
        std::fs::create_dir_all(&config.data)
            .with_context(|| format!("create {}", config.data.display()))?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let location = config.database_location();
        let policy = SqlPolicyStore::open(&location)
            .await
            .context("open the policy store")?;
        let audit_key =
            ed25519_dalek::SigningKey::from_bytes(&key_file(&config.data.join("audit.key"))?);
        let audit = Arc::new(AuditLog::new(policy.clone(), audit_key, clock.clone()));
        let imip = Arc::new(std::sync::OnceLock::new());
        let retention_slot = Arc::new(std::sync::OnceLock::new());
        let events: Arc<dyn EventSink> = Arc::new(AuditEvents {
            log: audit.clone(),
            imip: imip.clone(),
            retention: retention_slot.clone(),
        });

        let identity_store = SqlStore::open(&location)
            .await
            .context("open the identity store")?;
        let blobs = |prefix: &'static str| {
            let config = &config;
            async move {
                match &config.s3_url {
                    Some(url) => {
                        let s3 = guss_blob::S3Config::from_url(url)?.with_prefix(prefix);
                        Ok::<Arc<dyn guss_blob::BlobStore>, anyhow::Error>(Arc::new(
                            guss_blob::S3BlobStore::new(&s3)?,
                        ))
                    }
                    None => {
                        let local = guss_blob::LocalBlobStore::open(
                            &config.data.join("blobs").join(prefix),
                        )
                        .await?;
                        Ok(Arc::new(local) as Arc<dyn guss_blob::BlobStore>)
                    }
                }
            }
        };
        let master = MasterKey::from_bytes(key_file(&config.data.join("master.key"))?);
        let files = FileStore::open(
            &location,
            blobs("files").await?,
            master,
            clock.clone(),
            events.clone(),
            StoreConfig::default(),
        )
        .await
        .context("open the file store")?;
        let calendars = CalendarStore::open(&location, clock.clone(), events.clone())
            .await
            .context("open the calendar store")?;
        let mail = MailStore::open(
            &location,
            blobs("mail").await?,
            clock.clone(),
            events.clone(),
        )
        .await
        .context("open the mail store")?;
        let offices = Offices::open(&location, identity_store.clone())
            .await
            .context("open the office settings")?;

        let retention = Retention::new(files.clone(), offices.clone());
        let _ = retention_slot.set(retention.clone());

        let delegations = Arc::new(Delegations::new(policy, clock.clone(), events.clone()));
        let facts = OfficeFacts::new(identity_store.clone(), calendars.clone(), offices.clone());
        let authorizer: Arc<dyn Authorizer> = Arc::new(PolicyAuthorizer::new(
            Arc::new(PolicyEngine::new().context("the policy engine")?),
            Arc::new(facts),
            delegations.clone(),
            clock.clone(),
        ));
        let identity = Arc::new(Identity::new(
            identity_store.clone(),
            clock.clone(),
            events.clone(),
            authorizer.clone(),
        ));
        let calendar_users = Arc::new(OfficeCalendarUsers::new(
            identity_store,
            calendars.clone(),
            offices.clone(),
        ));
        let form_key = ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            &key_file(&config.data.join("forms.key"))?,
        );
        offices.reload().await;
        Ok(Bundle {
            config,
            identity,
            files,
            calendars,
            mail,
            offices,
            delegations,
            audit,
            authorizer,
            calendar_users,
            events,
            clock,
            form_key,
            first_setup: tokio::sync::Mutex::new(()),
            outbound: std::sync::OnceLock::new(),
            imip,
            retention,
        })
    }

    /// Creates an organisation and returns it with its owner's single-use
    /// setup link. `host` is where it will live; without one it gets the
    /// local trial's address (the first organisation) or a name below the
    /// public URL.
    pub async fn create_tenant(
        &self,
        name: &str,
        owner_name: &str,
        owner_email: &str,
        host: Option<&str>,
        profession: Option<Profession>,
    ) -> anyhow::Result<NewTenant> {
        let email = owner_email
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("owner e-mail address: {e}"))?;
        let origin = match host {
            Some(host) => self.origin_for_host(host)?,
            None => self.default_origin(name).await?,
        };
        let url: url::Url = origin.parse().context("organisation address")?;
        let rp_id = url
            .host_str()
            .context("organisation address without a host")?
            .to_owned();
        let relying_party = RelyingParty::new(&rp_id, [origin.as_str()])?;
        let (tenant, link) = self
            .identity
            .create_tenant(name, relying_party, owner_name, email)
            .await?;
        let settings = OfficeSettings {
            profession,
            ..OfficeSettings::default()
        };
        self.offices.save(tenant.id, &settings).await?;
        self.offices.reload().await;
        Ok(NewTenant {
            tenant: tenant.id,
            origin: origin.clone(),
            setup_link: format!("{origin}/join/{}", link.token),
        })
    }

    fn origin_for_host(&self, host: &str) -> anyhow::Result<String> {
        let host = host.trim().to_ascii_lowercase();
        let valid = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c));
        anyhow::ensure!(valid, "not a host name: {host:?}");
        let scheme = match &self.config.public_url {
            Some(url) => url.scheme().to_owned(),
            None => "http".to_owned(),
        };
        Ok(format!("{scheme}://{host}"))
    }

    async fn default_origin(&self, name: &str) -> anyhow::Result<String> {
        let slug = slug(name);
        match &self.config.public_url {
            Some(base) => {
                let host = base.host_str().context("public_url without a host")?;
                let port = base.port().map(|p| format!(":{p}")).unwrap_or_default();
                Ok(format!("{}://{slug}.{host}{port}", base.scheme()))
            }
            None => {
                let port = self.config.listen.port();
                if self.offices.any().await? {
                    // Chromium and Firefox resolve every *.localhost to loopback.
                    Ok(format!("http://{slug}.localhost:{port}"))
                } else {
                    Ok(format!("http://localhost:{port}"))
                }
            }
        }
    }

    /// The wizard state of `tenant`.
    pub async fn settings(&self, tenant: TenantId) -> anyhow::Result<OfficeSettings> {
        self.offices.settings(tenant).await
    }

    /// Moves the wizard of `tenant` on to `step` (never back).
    pub async fn reach_step(&self, tenant: TenantId, step: SetupStep) -> anyhow::Result<()> {
        let mut settings = self.offices.settings(tenant).await?;
        if settings.step < step {
            settings.step = step;
            self.offices.save(tenant, &settings).await?;
        }
        Ok(())
    }
}

/// A new organisation.
#[derive(Clone, Debug)]
pub struct NewTenant {
    /// Its id.
    pub tenant: TenantId,
    /// Where it lives.
    pub origin: String,
    /// The owner's single-use setup link.
    pub setup_link: String,
}

/// A host-name label made from an organisation's name.
///
/// ```
/// assert_eq!(guss_server::bundle::slug("Kanzlei Müller & Partner"), "kanzlei-mueller-partner");
/// assert_eq!(guss_server::bundle::slug("!!!"), "office");
/// ```
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        let piece = match c {
            'ä' => "ae",
            'ö' => "oe",
            'ü' => "ue",
            'ß' => "ss",
            c if c.is_ascii_alphanumeric() => {
                out.push(c);
                continue;
            }
            _ => "-",
        };
        out.push_str(piece);
    }
    let mut slug = String::new();
    for part in out.split('-').filter(|p| !p.is_empty()) {
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(part);
    }
    slug.truncate(40);
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "office".to_owned()
    } else {
        slug
    }
}
