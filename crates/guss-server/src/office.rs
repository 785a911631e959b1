//! The organisations this server hosts: which host name belongs to which
//! organisation, and what the setup wizard has decided for each.
//!
//! An organisation's host is its passkeys' web origin (the relying party
//! kept by guss-identity), so the two can never disagree. What the wizard
//! decides (profession, mail domain, how far setup got) is kept per
//! organisation in `office.sqlite` (or the `office_settings` table on
//! PostgreSQL).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use guss_core::TenantId;
use guss_identity::store::{SqlStore, TenantRegistry as _};
use guss_sql::{Schema, TenantPools, in_tx};
use serde::{Deserialize, Serialize};

use crate::presets::Profession;

static SCHEMA: Schema = Schema {
    file_name: "office.sqlite",
    migration_lock: 7_267_817_369,
    tables: &[
        (
            "office_settings",
            "CREATE TABLE IF NOT EXISTS office_settings (
                tenant_id {uuid} PRIMARY KEY,
                settings TEXT NOT NULL
            )",
        ),
        // One-time links to a device's configuration profile, sealed with
        // a key only the link holds.
        (
            "office_device_links",
            "CREATE TABLE IF NOT EXISTS office_device_links (
                tenant_id {uuid} NOT NULL,
                id_hash {bytes} PRIMARY KEY,
                sealed {bytes} NOT NULL,
                expires_at BIGINT NOT NULL
            )",
        ),
    ],
    indexes: &[],
};

/// The steps of the setup wizard, in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupStep {
    /// The owner has not registered a passkey yet.
    #[default]
    Passkey,
    /// Name and profession.
    Office,
    /// The mail domain and its DNS records.
    Mail,
    /// Colleagues invited.
    People,
    /// Second admin, deputies or a break-glass kit.
    Continuity,
    /// The continuity sheet shown, to print.
    Sheet,
    /// The continuity sheet printed; setup is over.
    Done,
}

/// What the wizard has decided for one organisation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficeSettings {
    /// Chooses policy and retention presets, folders and calendars.
    pub profession: Option<Profession>,
    /// The organisation's mail domain.
    pub mail_domain: Option<String>,
    /// How far the setup wizard got.
    pub step: SetupStep,
    /// The trustees of a printed break-glass kit, if one was made.
    pub break_glass_trustees: Vec<String>,
    /// The rooms and cars people book.
    #[serde(default)]
    pub bookables: Vec<Bookable>,
}

/// A room or car of the office: a calendar user that books itself, never
/// twice for one time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bookable {
    /// Its handle: the path segment of its calendar and the local part of
    /// its calendar address (never an e-mail address, so never a person's).
    pub handle: String,
    /// The name people see.
    pub name: String,
    /// Room or car.
    pub kind: BookableKind,
}

/// What a bookable is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookableKind {
    /// A room (CUTYPE=ROOM).
    Room,
    /// A car or other equipment (CUTYPE=RESOURCE).
    Car,
}

/// The most rooms and cars of one office.
pub const MAX_BOOKABLES: usize = 50;

impl OfficeSettings {
    /// The room or car with `handle`.
    pub fn bookable(&self, handle: &str) -> Option<&Bookable> {
        self.bookables.iter().find(|b| b.handle == handle)
    }

    /// A handle for a new room or car named `name`: `raum-…` or
    /// `fahrzeug-…` from the name's letters and digits, numbered when taken.
    ///
    /// ```
    /// use guss_server::office::{BookableKind, OfficeSettings};
    /// let settings = OfficeSettings::default();
    /// assert_eq!(settings.new_handle("Besprechung 1 (groß)", BookableKind::Room), "raum-besprechung-1-gro");
    /// ```
    pub fn new_handle(&self, name: &str, kind: BookableKind) -> String {
        let prefix = match kind {
            BookableKind::Room => "raum",
            BookableKind::Car => "fahrzeug",
        };
        let mut slug = String::new();
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
            if slug.len() >= 40 {
                break;
            }
        }
        let base = format!("{prefix}-{}", slug.trim_end_matches('-'));
        let base = base.trim_end_matches('-').to_owned();
        let mut handle = base.clone();
        let mut n = 2;
        while self.bookable(&handle).is_some() || handle == crate::access::OFFICE_HANDLE {
            handle = format!("{base}-{n}");
            n += 1;
        }
        handle
    }
}

/// The office's time zone: what the pages show times in, and which day a
/// file was written on when a retention period counts from it.
pub const OFFICE_ZONE: chrono_tz::Tz = chrono_tz::Europe::Berlin;

/// Host names and wizard state of every organisation.
#[derive(Clone)]
pub struct Offices {
    pools: TenantPools,
    identity: SqlStore,
    hosts: Arc<RwLock<Hosts>>,
}

struct Hosts {
    by_host: HashMap<String, TenantId>,
    loaded: Option<Instant>,
}

/// A host map older than this is reloaded when a host is not found, so that
/// organisations created by another process (or `guss tenant create`) appear.
const RELOAD_AFTER: Duration = Duration::from_secs(1);

impl Offices {
    /// Opens the settings at `location` (a SQLite directory or a
    /// PostgreSQL URL); hosts come from `identity`.
    pub async fn open(location: &str, identity: SqlStore) -> anyhow::Result<Self> {
        Ok(Offices {
            pools: TenantPools::open(location, &SCHEMA).await?,
            identity,
            hosts: Arc::new(RwLock::new(Hosts {
                by_host: HashMap::new(),
                loaded: None,
            })),
        })
    }

    /// The organisation at `host` (`name` or `name:port`, as the `Host`
    /// header says).
    pub async fn tenant_at(&self, host: &str) -> Option<TenantId> {
        let host = host.to_ascii_lowercase();
        let stale = {
            let hosts = self.hosts.read().unwrap_or_else(|e| e.into_inner());
            if let Some(tenant) = hosts.by_host.get(&host) {
                return Some(*tenant);
            }
            hosts.loaded.is_none_or(|at| at.elapsed() >= RELOAD_AFTER)
        };
        if stale {
            self.reload().await;
        }
        let hosts = self.hosts.read().unwrap_or_else(|e| e.into_inner());
        hosts.by_host.get(&host).copied()
    }

    /// Reads every organisation's host again.
    pub async fn reload(&self) {
        let tenants = match self.identity.tenants().await {
            Ok(tenants) => tenants,
            Err(e) => {
                tracing::warn!(error = %e, "reading the organisations failed");
                return;
            }
        };
        let mut by_host = HashMap::new();
        for tenant in tenants {
            for origin in &tenant.relying_party.origins {
                if let Some(host) = host_of(origin) {
                    by_host.insert(host, tenant.id);
                }
            }
        }
        let mut hosts = self.hosts.write().unwrap_or_else(|e| e.into_inner());
        hosts.by_host = by_host;
        hosts.loaded = Some(Instant::now());
    }

    /// Whether any organisation exists.
    pub async fn any(&self) -> anyhow::Result<bool> {
        Ok(!self.identity.tenants().await?.is_empty())
    }

    /// What the wizard decided for `tenant` (defaults if nothing yet).
    pub async fn settings(&self, tenant: TenantId) -> anyhow::Result<OfficeSettings> {
        let pool = self.pools.pool(tenant).await?;
        let text: Option<String> = in_tx!(&pool, tenant, |tx| {
            sqlx::query_scalar("SELECT settings FROM office_settings WHERE tenant_id = $1")
                .bind(tenant.as_uuid())
                .fetch_optional(&mut *tx)
                .await?
        });
        Ok(match text {
            Some(text) => serde_json::from_str(&text)?,
            None => OfficeSettings::default(),
        })
    }

    /// Stores what the wizard decided for `tenant`.
    pub async fn save(&self, tenant: TenantId, settings: &OfficeSettings) -> anyhow::Result<()> {
        let pool = self.pools.pool(tenant).await?;
        let text = serde_json::to_string(settings)?;
        in_tx!(&pool, tenant, |tx| {
            sqlx::query(
                "INSERT INTO office_settings (tenant_id, settings) VALUES ($1, $2)
                 ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings",
            )
            .bind(tenant.as_uuid())
            .bind(&text)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }
}

impl Offices {
    /// Keeps a sealed device profile under `id_hash` until `expires_at`
    /// (seconds since the epoch); expired ones of the tenant go.
    pub async fn put_device_link(
        &self,
        tenant: TenantId,
        id_hash: &[u8],
        sealed: &[u8],
        expires_at: i64,
        now: i64,
    ) -> anyhow::Result<()> {
        let pool = self.pools.pool(tenant).await?;
        in_tx!(&pool, tenant, |tx| {
            sqlx::query("DELETE FROM office_device_links WHERE tenant_id = $1 AND expires_at < $2")
                .bind(tenant.as_uuid())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO office_device_links (tenant_id, id_hash, sealed, expires_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(tenant.as_uuid())
            .bind(id_hash)
            .bind(sealed)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Takes (once) the sealed profile under `id_hash`, if not expired.
    pub async fn take_device_link(
        &self,
        tenant: TenantId,
        id_hash: &[u8],
        now: i64,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        let pool = self.pools.pool(tenant).await?;
        let sealed: Option<Vec<u8>> = in_tx!(&pool, tenant, |tx| {
            sqlx::query_scalar(
                "DELETE FROM office_device_links
                 WHERE tenant_id = $1 AND id_hash = $2 AND expires_at >= $3
                 RETURNING sealed",
            )
            .bind(tenant.as_uuid())
            .bind(id_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
        });
        Ok(sealed)
    }
}

/// `host[:port]` of an origin, as browsers send it in `Host`.
pub fn host_of(origin: &url::Url) -> Option<String> {
    let host = origin.host_str()?.to_ascii_lowercase();
    Some(match origin.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_keep_non_default_ports() {
        let url = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            host_of(&url("http://localhost:8080")).as_deref(),
            Some("localhost:8080")
        );
        assert_eq!(
            host_of(&url("https://Kanzlei.Guss.Example")).as_deref(),
            Some("kanzlei.guss.example")
        );
        assert_eq!(
            host_of(&url("https://kanzlei.guss.example:443")).as_deref(),
            Some("kanzlei.guss.example")
        );
    }

    #[test]
    fn wizard_steps_are_ordered() {
        assert!(SetupStep::Passkey < SetupStep::Office);
        assert!(SetupStep::Continuity < SetupStep::Done);
    }
}
