//! App passwords for clients that cannot do passkeys (IMAP, SMTP, CalDAV,
//! WebDAV): random, per device, scoped, revocable, stored with Argon2id.

use guss_core::{EmailAddress, PersonStatus, Principal, Scope, TenantId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::identity::{Client, Identity, Session, check_name, rate_keys};
use crate::model::AppPasswordInfo;
use crate::store::{IdentityStore, StoredAppPassword, TenantRegistry};
use crate::{Error, Result, secret};

/// Most app passwords one person may hold.
const MAX_APP_PASSWORDS: guss_core::Limit = guss_core::Limit::new("app passwords per person", 50);

/// A new app password: shown once, never stored in clear.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewAppPassword {
    /// The password, e.g. `abcd-efgh-…` (32 characters of 160 random bits).
    pub password: String,
    /// How it is listed.
    pub info: AppPasswordInfo,
}

impl<R: TenantRegistry> Identity<R> {
    /// Creates an app password for a device of the signed-in person (needs a
    /// recent passkey confirmation).
    pub async fn create_app_password(
        &self,
        session: &Session,
        label: &str,
        scopes: &[Scope],
    ) -> Result<NewAppPassword> {
        check_name(label, "device label")?;
        if scopes.is_empty() || scopes.contains(&Scope::Web) {
            return Err(Error::invalid(
                "scopes",
                "give mail, calendar, contacts or files (the web uses passkeys)",
            ));
        }
        self.require_step_up(session)?;
        let store = self.scoped(session.tenant).await?;
        MAX_APP_PASSWORDS.check_len(
            store
                .app_passwords_of(session.person())
                .await?
                .len()
                .saturating_add(1),
        )?;
        let (password, lookup, hash) = secret::new_app_password()?;
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        let info = AppPasswordInfo {
            id: Uuid::now_v7(),
            person: session.person(),
            label: label.to_owned(),
            scopes,
            created_at: self.now(),
            last_used_at: None,
        };
        store
            .insert_app_password(&StoredAppPassword {
                info: info.clone(),
                lookup,
                hash,
            })
            .await?;
        self.emit_own(session, "guss.identity.app_password.created", serde_json::json!({ "app_password": info.id, "label": info.label, "scopes": info.scopes })).await?;
        Ok(NewAppPassword { password, info })
    }

    /// The signed-in person's app passwords.
    pub async fn app_passwords(&self, session: &Session) -> Result<Vec<AppPasswordInfo>> {
        self.scoped(session.tenant)
            .await?
            .app_passwords_of(session.person())
            .await
    }

    /// Revokes one of the signed-in person's app passwords.
    pub async fn revoke_app_password(&self, session: &Session, id: Uuid) -> Result<()> {
        let store = self.scoped(session.tenant).await?;
        if !store
            .revoke_app_password(session.person(), id, self.now())
            .await?
        {
            return Err(Error::not_found("app password"));
        }
        self.emit_own(
            session,
            "guss.identity.app_password.revoked",
            serde_json::json!({ "app_password": id }),
        )
        .await
    }

    /// Checks a user name (an e-mail address of the person) and app password
    /// for `scope`. Every failure looks the same to the caller; failures are
    /// counted per account and per source address.
    pub async fn authenticate_app_password(
        &self,
        tenant: TenantId,
        username: &str,
        password: &str,
        scope: Scope,
        client: &Client,
    ) -> Result<Principal> {
        let store = self.scoped(tenant).await?;
        let account = username.trim().to_ascii_lowercase();
        let keys = rate_keys(client, [format!("account:{account}")]);
        self.check_rate(&store, &keys).await?;
        match self
            .verify_app_password(&store, &account, password, scope)
            .await
        {
            Ok(principal) => Ok(principal),
            Err(Error::Unauthenticated) => {
                self.record_failures(&store, &keys).await?;
                self.emit(
                    tenant,
                    "guss.identity.app_password.failed",
                    format!("account/{account}"),
                    None,
                    serde_json::json!({ "scope": scope, "address": client.address }),
                )
                .await?;
                Err(Error::Unauthenticated)
            }
            Err(e) => Err(e),
        }
    }

    async fn verify_app_password(
        &self,
        store: &R::Scoped,
        account: &str,
        password: &str,
        scope: Scope,
    ) -> Result<Principal> {
        let email: EmailAddress = account.parse().map_err(|_| Error::Unauthenticated)?;
        let (raw, lookup) =
            secret::normalize_app_password(password).ok_or(Error::Unauthenticated)?;
        let person = store
            .person_by_email(&email)
            .await?
            .filter(|p| p.status == PersonStatus::Active)
            .ok_or(Error::Unauthenticated)?;
        let candidates = store.app_passwords_by_lookup(person.id, &lookup).await?;
        let matched = candidates
            .into_iter()
            .find(|c| secret::verify_app_password(&raw, &c.hash))
            .ok_or(Error::Unauthenticated)?;
        if !matched.info.scopes.contains(&scope) {
            return Err(Error::Unauthenticated);
        }
        store
            .touch_app_password(matched.info.id, self.now())
            .await?;
        Ok(Principal::Person {
            tenant: store.tenant_id(),
            person: person.id,
        })
    }
}
