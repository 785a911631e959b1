//! The recovery ladder beyond a second passkey: admin-issued recovery links,
//! and the quorum break-glass for when no admin can sign in.
//!
//! Break-glass: the owner names trustees (the deputy, the tax adviser…) and a
//! threshold M. A random recovery secret is split with Shamir's scheme into
//! one printable sheet per trustee; only its hash is stored. When M trustees
//! present their sheets, a waiting period starts (72 h by default) during
//! which every admin is notified and any one may veto. Afterwards exactly one
//! owner passkey may be enrolled. No shell on the server is ever needed.

use base64::Engine as _;
use chrono::TimeDelta;
use guss_core::{EmailAddress, PersonId, PersonStatus, TenantId};
use uuid::Uuid;

use crate::identity::{Client, EnrollmentLink, Identity, Session, check_name, rate_keys};
use crate::model::{BreakGlassInfo, Person, RecoverySheet, Role};
use crate::store::{EnrollmentKind, IdentityStore, Quorum, TenantRegistry};
use crate::{Error, Result, secret};

/// Open recovery links per person.
const MAX_OPEN_RECOVERY_LINKS: guss_core::Limit =
    guss_core::Limit::new("open recovery links for one person", 2);
/// Bounds on trustees.
const MAX_TRUSTEES: guss_core::Limit = guss_core::Limit::new("trustees", 16);
/// Longest share text accepted.
const MAX_SHARE: guss_core::Limit = guss_core::Limit::new("recovery share length", 256);
/// Prefix of a share's text form, so that a typo in the kind of sheet is caught.
const SHARE_PREFIX: &str = "guss-recovery-1:";

impl<R: TenantRegistry> Identity<R> {
    /// Issues a recovery link for a person who lost their passkeys (admin
    /// action). It works after `delay` for [`crate::Settings::recovery_link_ttl`];
    /// the person and every admin are notified.
    pub async fn issue_recovery_link(
        &self,
        session: &Session,
        person: PersonId,
        delay: TimeDelta,
    ) -> Result<EnrollmentLink> {
        self.require_admin(session).await?;
        if delay < TimeDelta::zero() || delay > TimeDelta::days(7) {
            return Err(Error::invalid("delay", "between 0 and 7 days"));
        }
        let store = self.scoped(session.tenant).await?;
        let target = store
            .person(person)
            .await?
            .ok_or_else(|| Error::not_found("person"))?;
        if target.status != PersonStatus::Active {
            return Err(Error::conflict("the person is suspended or departed"));
        }
        let now = self.now();
        // A compromised admin account must not mint links without end.
        let open = store
            .open_enrollments(EnrollmentKind::RecoveryLink, now)
            .await?
            .iter()
            .filter(|e| e.person == person)
            .count();
        MAX_OPEN_RECOVERY_LINKS.check_len(open.saturating_add(1))?;
        let link = self
            .issue_enrollment(
                &store,
                EnrollmentKind::RecoveryLink,
                &target,
                Some(session.person()),
                now + delay,
                self.settings.recovery_link_ttl,
            )
            .await?;
        let notify = self
            .admin_addresses(&store)
            .await?
            .into_iter()
            .chain(target.emails.first().cloned())
            .collect::<Vec<_>>();
        self.emit(
            session.tenant,
            "guss.identity.recovery.link_issued",
            format!("person/{person}"),
            Some(&session.principal()),
            serde_json::json!({ "enrollment": link.id, "not_before": now + delay, "expires_at": link.expires_at, "notify": notify }),
        )
        .await?;
        Ok(link)
    }

    /// Names the trustees and the threshold (owner action) and returns one
    /// recovery sheet per trustee, shown once. Any earlier sheets stop working.
    pub async fn configure_trustees(
        &self,
        session: &Session,
        threshold: u8,
        trustees: &[String],
    ) -> Result<Vec<RecoverySheet>> {
        self.require_admin(session).await?;
        self.require_owner(session).await?;
        MAX_TRUSTEES.check_len(trustees.len())?;
        for trustee in trustees {
            check_name(trustee, "trustee")?;
        }
        let total =
            u8::try_from(trustees.len()).map_err(|_| Error::invalid("trustees", "too many"))?;
        if threshold < 2 || threshold > total {
            return Err(Error::invalid(
                "threshold",
                "at least 2, and at most the number of trustees",
            ));
        }
        let recovery_secret = secret::random::<32>()?;
        let shares: Vec<blahaj::Share> = blahaj::Sharks(threshold)
            .dealer(&recovery_secret)
            .take(trustees.len())
            .collect();
        let store = self.scoped(session.tenant).await?;
        store
            .set_quorum(&Quorum {
                threshold,
                trustees: trustees.to_vec(),
                secret_hash: secret::hash_token(&hex(&recovery_secret)),
                created_at: self.now(),
                used_at: None,
            })
            .await?;
        self.emit(
            session.tenant,
            "guss.identity.recovery.trustees_configured",
            format!("tenant/{}", session.tenant),
            Some(&session.principal()),
            serde_json::json!({ "threshold": threshold, "trustees": trustees }),
        )
        .await?;
        Ok(trustees
            .iter()
            .zip(shares.iter())
            .map(|(trustee, share)| RecoverySheet {
                trustee: trustee.clone(),
                threshold,
                total,
                share: format!(
                    "{SHARE_PREFIX}{}",
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Vec::<u8>::from(share))
                ),
            })
            .collect())
    }

    /// Trustees present `shares`: if they recover the secret, a break-glass
    /// request for `email` starts its waiting period and everyone who can
    /// veto is notified. Failures are rate-limited.
    pub async fn start_break_glass(
        &self,
        tenant: TenantId,
        shares: &[String],
        email: EmailAddress,
        display_name: &str,
        client: &Client,
    ) -> Result<BreakGlassInfo> {
        check_name(display_name, "display name")?;
        MAX_TRUSTEES.check_len(shares.len())?;
        let store = self.scoped(tenant).await?;
        let keys = rate_keys(client, ["break_glass".to_owned()]);
        self.check_rate(&store, &keys).await?;
        let quorum = store.quorum().await?.filter(|q| q.used_at.is_none());
        let recovered = quorum.as_ref().and_then(|q| recover(q.threshold, shares));
        let valid = match (&quorum, &recovered) {
            (Some(q), Some(secret_bytes)) => {
                secret::hash_token(&hex(secret_bytes)) == q.secret_hash
            }
            _ => false,
        };
        if !valid {
            self.record_failures(&store, &keys).await?;
            self.emit(
                tenant,
                "guss.identity.recovery.failed",
                format!("tenant/{tenant}"),
                None,
                serde_json::json!({ "shares": shares.len(), "address": client.address }),
            )
            .await?;
            return Err(Error::Unauthenticated);
        }
        let now = self.now();
        let request = BreakGlassInfo {
            id: Uuid::now_v7(),
            email,
            display_name: display_name.to_owned(),
            started_at: now,
            not_before: now + self.settings.break_glass_delay,
            vetoed_at: None,
            completed_at: None,
        };
        store.start_break_glass(&request).await?;
        let notify = self.admin_addresses(&store).await?;
        self.emit(
            tenant,
            "guss.identity.recovery.started",
            format!("break-glass/{}", request.id),
            None,
            serde_json::json!({ "email": request.email, "not_before": request.not_before, "notify": notify }),
        )
        .await?;
        Ok(request)
    }

    /// Vetoes a waiting break-glass request (admin action).
    pub async fn veto_break_glass(&self, session: &Session, id: Uuid) -> Result<()> {
        self.require_admin(session).await?;
        let store = self.scoped(session.tenant).await?;
        if !store
            .veto_break_glass(id, session.person(), self.now())
            .await?
        {
            return Err(Error::conflict("the request is not waiting"));
        }
        self.emit(
            session.tenant,
            "guss.identity.recovery.vetoed",
            format!("break-glass/{id}"),
            Some(&session.principal()),
            serde_json::json!({ "notify": self.admin_addresses(&store).await? }),
        )
        .await
    }

    /// The state of a break-glass request.
    pub async fn break_glass(&self, tenant: TenantId, id: Uuid) -> Result<BreakGlassInfo> {
        self.scoped(tenant)
            .await?
            .break_glass(id)
            .await?
            .ok_or_else(|| Error::not_found("break-glass request"))
    }

    /// After the waiting period, and unless vetoed: the single-use link to
    /// enrol one owner passkey for the request's person (created if new).
    ///
    /// The trustees present their sheets again: a request id alone (it
    /// appears in the audit log) is not enough to claim the owner passkey,
    /// and new sheets issued meanwhile void the request.
    pub async fn finish_break_glass(
        &self,
        tenant: TenantId,
        id: Uuid,
        shares: &[String],
        client: &Client,
    ) -> Result<EnrollmentLink> {
        MAX_TRUSTEES.check_len(shares.len())?;
        let store = self.scoped(tenant).await?;
        let now = self.now();
        let keys = rate_keys(client, ["break_glass".to_owned()]);
        self.check_rate(&store, &keys).await?;
        let presented = store.quorum().await?.is_some_and(|q| {
            recover(q.threshold, shares)
                .is_some_and(|s| secret::hash_token(&hex(&s)) == q.secret_hash)
        });
        if !presented {
            self.record_failures(&store, &keys).await?;
            return Err(Error::Unauthenticated);
        }
        let request = store
            .break_glass(id)
            .await?
            .ok_or_else(|| Error::not_found("break-glass request"))?;
        if request.vetoed_at.is_some() {
            return Err(Error::Forbidden);
        }
        if now < request.not_before {
            return Err(Error::conflict("the waiting period has not ended"));
        }
        let person = match store.person_by_email(&request.email).await? {
            Some(p) => p,
            None => {
                let person = Person {
                    id: PersonId::new(),
                    display_name: request.display_name.clone(),
                    emails: vec![request.email.clone()],
                    status: PersonStatus::Active,
                    roles: vec![Role::MEMBER],
                    created_at: now,
                };
                store.insert_person(&person).await?;
                person
            }
        };
        if person.status != PersonStatus::Active {
            store.set_status(person.id, PersonStatus::Active).await?;
        }
        if !store.complete_break_glass(id, now).await? {
            return Err(Error::conflict("the request was completed or vetoed"));
        }
        let link = self
            .issue_enrollment(
                &store,
                EnrollmentKind::BreakGlass,
                &person,
                None,
                now,
                self.settings.recovery_link_ttl,
            )
            .await?;
        self.emit(
            tenant,
            "guss.identity.recovery.approved",
            format!("break-glass/{id}"),
            None,
            serde_json::json!({ "person": person.id, "enrollment": link.id, "notify": self.admin_addresses(&store).await? }),
        )
        .await?;
        Ok(link)
    }

    async fn admin_addresses(&self, store: &R::Scoped) -> Result<Vec<EmailAddress>> {
        Ok(store
            .people()
            .await?
            .into_iter()
            .filter(|p| p.status == PersonStatus::Active && p.is_admin())
            .filter_map(|p| p.emails.into_iter().next())
            .collect())
    }
}

/// The secret the shares recover, or `None` for anything malformed. Shamir
/// recovers *some* value from any M shares, so the caller compares hashes.
fn recover(threshold: u8, shares: &[String]) -> Option<Vec<u8>> {
    let parsed: Option<Vec<blahaj::Share>> = shares
        .iter()
        .map(|text| {
            MAX_SHARE.check_len(text.len()).ok()?;
            let encoded = text.trim().strip_prefix(SHARE_PREFIX)?;
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(encoded)
                .ok()?;
            (bytes.len() == 33).then_some(())?;
            blahaj::Share::try_from(bytes.as_slice()).ok()
        })
        .collect();
    let parsed = parsed?;
    if parsed.len() < usize::from(threshold) {
        return None;
    }
    blahaj::Sharks(threshold).recover(parsed.as_slice()).ok()
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn share_parsing_never_panics(shares in prop::collection::vec(".{0,80}", 0..5), threshold in 0u8..6) {
            let _ = recover(threshold, &shares);
        }
    }

    #[test]
    fn any_threshold_subset_recovers_and_fewer_do_not() {
        let secret_bytes = [7u8; 32];
        let shares: Vec<String> = blahaj::Sharks(3)
            .dealer(&secret_bytes)
            .take(5)
            .map(|s| {
                format!(
                    "{SHARE_PREFIX}{}",
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Vec::<u8>::from(&s))
                )
            })
            .collect();
        assert_eq!(recover(3, &shares[1..4]).unwrap(), secret_bytes);
        assert_eq!(
            recover(
                3,
                &[shares[0].clone(), shares[2].clone(), shares[4].clone()]
            )
            .unwrap(),
            secret_bytes
        );
        assert!(recover(3, &shares[..2]).is_none());
    }
}
