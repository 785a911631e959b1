//! WebAuthn ceremonies with webauthn-rs: one relying party per tenant, and
//! the ceremony state kept server-side (single use, expiring) under the hash
//! of an id that only the client holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use guss_core::{PersonId, TenantId};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Webauthn, WebauthnBuilder,
};

use webauthn_rs_proto::ResidentKeyRequirement;

use crate::model::Tenant;
use crate::store::{Ceremony, IdentityStore, Purpose};
use crate::{Error, Result, secret};

/// Longest credential JSON accepted from a client.
pub const MAX_CREDENTIAL_JSON: guss_core::Limit =
    guss_core::Limit::new("WebAuthn credential size", 64 * 1024);

/// What the client needs to run a ceremony: the id to send back, and the
/// options for `navigator.credentials.create()` / `.get()`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Challenge<T> {
    /// Send this back with the result.
    pub ceremony: String,
    /// The `publicKey` options, as webauthn-rs serializes them.
    pub options: T,
}

/// Options for creating a passkey.
pub type RegistrationChallenge = Challenge<CreationChallengeResponse>;
/// Options for using a passkey.
pub type AuthenticationChallenge = Challenge<RequestChallengeResponse>;

/// Parses a registration response from a client, bounded.
///
/// ```
/// assert!(guss_identity::parse_registration("{not json").is_err());
/// ```
pub fn parse_registration(json: &str) -> Result<RegisterPublicKeyCredential> {
    MAX_CREDENTIAL_JSON.check_len(json.len())?;
    serde_json::from_str(json).map_err(|e| Error::invalid("WebAuthn registration", e.to_string()))
}

/// Parses an authentication response from a client, bounded.
///
/// ```
/// assert!(guss_identity::parse_assertion("[]").is_err());
/// ```
pub fn parse_assertion(json: &str) -> Result<PublicKeyCredential> {
    MAX_CREDENTIAL_JSON.check_len(json.len())?;
    serde_json::from_str(json).map_err(|e| Error::invalid("WebAuthn assertion", e.to_string()))
}

/// Relying parties by tenant, built once.
#[derive(Default)]
pub(crate) struct RelyingParties {
    built: Mutex<HashMap<TenantId, Arc<Webauthn>>>,
}

impl RelyingParties {
    /// The relying party of a tenant, if built already.
    pub(crate) fn cached(&self, tenant: TenantId) -> Option<Arc<Webauthn>> {
        self.built
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&tenant)
            .cloned()
    }

    pub(crate) fn get(&self, tenant: &Tenant) -> Result<Arc<Webauthn>> {
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(webauthn) = built.get(&tenant.id) {
            return Ok(webauthn.clone());
        }
        let rp = &tenant.relying_party;
        let first = rp
            .origins
            .first()
            .ok_or_else(|| Error::invalid("relying party", "no origin"))?;
        let mut builder = WebauthnBuilder::new(&rp.id, first)
            .map_err(|e| Error::invalid("relying party", e.to_string()))?
            .rp_name(&tenant.name);
        for origin in rp.origins.iter().skip(1) {
            builder = builder.append_allowed_origin(origin);
        }
        let webauthn = Arc::new(
            builder
                .build()
                .map_err(|e| Error::invalid("relying party", e.to_string()))?,
        );
        built.insert(tenant.id, webauthn.clone());
        Ok(webauthn)
    }

    /// Forgets a tenant's relying party after its settings changed.
    pub(crate) fn forget(&self, tenant: TenantId) {
        self.built
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&tenant);
    }
}

/// Stores ceremony state and returns the id the client will send back.
pub(crate) async fn save<S: IdentityStore>(
    store: &S,
    person: Option<PersonId>,
    purpose: Purpose,
    state: &impl Serialize,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Result<String> {
    let state =
        serde_json::to_value(state).map_err(|e| Error::invalid("ceremony state", e.to_string()))?;
    let (id, hash) = secret::new_token()?;
    store
        .insert_ceremony(
            &hash,
            &Ceremony {
                person,
                purpose,
                state,
            },
            expires_at,
        )
        .await?;
    Ok(id)
}

/// Takes ceremony state: it exists once, until it expires.
pub(crate) async fn take<S: IdentityStore>(
    store: &S,
    id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Ceremony> {
    secret::MAX_TOKEN.check_len(id.len())?;
    store
        .take_ceremony(&secret::hash_token(id), now)
        .await?
        .ok_or_else(|| Error::not_found("ceremony (expired or already finished)"))
}

/// Reads ceremony state without using it up; the caller must use it up in
/// the same transaction that records the ceremony's effect.
pub(crate) async fn peek<S: IdentityStore>(
    store: &S,
    id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Ceremony, Vec<u8>)> {
    secret::MAX_TOKEN.check_len(id.len())?;
    let hash = secret::hash_token(id);
    let ceremony = store
        .peek_ceremony(&hash, now)
        .await?
        .ok_or_else(|| Error::not_found("ceremony (expired or already finished)"))?;
    Ok((ceremony, hash))
}

/// Reads the webauthn-rs state back.
pub(crate) fn state<T: serde::de::DeserializeOwned>(ceremony: &Ceremony) -> Result<T> {
    serde_json::from_value(ceremony.state.clone())
        .map_err(|e| Error::invalid("ceremony state", e.to_string()))
}

/// Asks for a discoverable credential where the authenticator can store one,
/// so that the person can later sign in without typing a name; authenticators
/// that cannot still register (webauthn-rs asks for none by default).
pub(crate) fn prefer_discoverable(
    mut options: CreationChallengeResponse,
) -> CreationChallengeResponse {
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Preferred);
        selection.require_resident_key = false;
    }
    options
}
