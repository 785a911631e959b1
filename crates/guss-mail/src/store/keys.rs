//! A domain's DKIM keys: generated on first use, rotated on a schedule,
//! kept (PKCS#8) in the tenant's database.

use chrono::{DateTime, NaiveDate, Utc};

use super::{DkimRow, Sql, TenantMail, mail_tx};
use crate::dkim::{Algorithm, DkimKey, RotationPlan, RotationPolicy, StoredKey};
use crate::{Error, Result};

/// How long a new key is published before it signs: DNS caches must have
/// its record before mail signed with it arrives anywhere.
const PUBLISH_LEAD: chrono::TimeDelta = chrono::TimeDelta::days(2);

/// A domain's keys: those that sign, and those still published for mail
/// signed before a rotation.
#[derive(Clone, Debug, Default)]
pub struct DomainKeys {
    /// Keys that sign new mail, one per algorithm.
    pub signing: Vec<DkimKey>,
    /// Keys replaced by a newer one, published until their overlap ends.
    pub superseded: Vec<DkimKey>,
}

impl DomainKeys {
    /// Every key whose record belongs in DNS.
    pub fn published(&self) -> impl Iterator<Item = &DkimKey> {
        self.signing.iter().chain(&self.superseded)
    }
}

impl TenantMail {
    /// The DKIM keys of `domain`, generating an Ed25519 and an RSA key
    /// when it has none.
    pub async fn dkim_keys(&self, domain: &str) -> Result<DomainKeys> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let rows = mail_tx!(self, |sql| sql.dkim_keys(&domain).await?);
        let now = self.store.clock().now().timestamp_micros();
        if rows.iter().any(|r| r.retired_at.is_none()) {
            return keys_of(rows, now);
        }
        self.rotate_dkim(&domain, &RotationPolicy::default())
            .await?;
        let rows = mail_tx!(self, |sql| sql.dkim_keys(&domain).await?);
        keys_of(rows, now)
    }

    /// Applies `policy` to `domain`'s keys today: generates successors
    /// for keys that are due, deletes those past the overlap. A successor
    /// signs once it has been published for two days (its predecessor until
    /// then); publish the records of new keys (the plan names them) at once.
    /// Run it daily.
    pub async fn rotate_dkim(&self, domain: &str, policy: &RotationPolicy) -> Result<RotationPlan> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let now = self.store.clock().now();
        let today = now.date_naive();
        // Keys are made outside the transaction: RSA generation takes a while.
        let rows = mail_tx!(self, |sql| sql.dkim_keys(&domain).await?);
        let stored: Vec<StoredKey> = rows.iter().filter_map(stored_key).collect();
        let plan = policy.plan(&stored, today);
        let mut fresh = Vec::new();
        for (algorithm, selector) in &plan.generate {
            let (algorithm, selector) = (*algorithm, selector.clone());
            let key = tokio::task::spawn_blocking(move || DkimKey::generate(algorithm, &selector))
                .await
                .map_err(Error::backend)?
                .map_err(|e| Error::invalid("DKIM key", e.to_string()))?;
            fresh.push(key);
        }
        let at = now.timestamp_micros();
        mail_tx!(self, |sql| {
            for key in &fresh {
                sql.insert_dkim(
                    &domain,
                    &DkimRow {
                        selector: key.selector().to_owned(),
                        algorithm: key.algorithm().to_string(),
                        pkcs8: key.to_pkcs8(),
                        created_at: at,
                        retired_at: None,
                    },
                )
                .await?;
            }
            // A key stops signing only once its successor may sign.
            for selector in &plan.superseded {
                if successor_signs(&rows, selector, at) {
                    sql.retire_dkim(&domain, selector, at).await?;
                }
            }
            for selector in &plan.retire {
                sql.delete_dkim(&domain, selector).await?;
            }
        });
        Ok(plan)
    }
}

/// Whether a later key of the same algorithm as `selector`'s has been
/// published long enough to sign in its place.
fn successor_signs(rows: &[DkimRow], selector: &str, now: i64) -> bool {
    let lead = PUBLISH_LEAD.num_microseconds().unwrap_or(0);
    let Some(old) = rows.iter().find(|r| r.selector == selector) else {
        return false;
    };
    rows.iter().any(|r| {
        r.algorithm == old.algorithm && r.created_at > old.created_at && r.created_at <= now - lead
    })
}

fn stored_key(row: &DkimRow) -> Option<StoredKey> {
    Some(StoredKey {
        selector: row.selector.clone(),
        algorithm: row.algorithm.parse().ok()?,
        created: created(row.created_at),
    })
}

fn created(micros: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .date_naive()
}

/// Sorts rows (newest first) into signing and superseded keys: per
/// algorithm, the newest unretired key that has been published long enough
/// signs (or the newest at all, when none has).
fn keys_of(rows: Vec<DkimRow>, now: i64) -> Result<DomainKeys> {
    let lead = PUBLISH_LEAD.num_microseconds().unwrap_or(0);
    let mut ordered: Vec<&DkimRow> = rows.iter().filter(|r| r.created_at <= now - lead).collect();
    ordered.extend(rows.iter().filter(|r| r.created_at > now - lead).rev());
    let mut keys = DomainKeys::default();
    for row in ordered {
        let Ok(algorithm) = row.algorithm.parse::<Algorithm>() else {
            continue;
        };
        let key = DkimKey::from_pkcs8(algorithm, &row.selector, &row.pkcs8)
            .map_err(|e| Error::invalid("stored DKIM key", e.to_string()))?;
        let newest_of_kind = !keys.signing.iter().any(|k| k.algorithm() == algorithm);
        if row.retired_at.is_none() && newest_of_kind {
            keys.signing.push(key);
        } else {
            keys.superseded.push(key);
        }
    }
    keys.signing.sort_by_key(DkimKey::algorithm);
    Ok(keys)
}
