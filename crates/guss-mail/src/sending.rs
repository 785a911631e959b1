//! Submitted mail: completed (Message-ID, Date), signed with the sender
//! domain's DKIM keys, delivered at once to recipients hosted here and
//! queued for the rest.

use std::collections::BTreeMap;

use bytes::Bytes;
use guss_core::{Principal, TenantId};

use crate::queue::Queue;
use crate::routing::Route;
use crate::store::{Account, MailStore, Role};
use crate::{Error, Result};

/// Signing and local delivery of submitted mail.
#[derive(Clone, Debug)]
pub struct Sending {
    store: MailStore,
    hostname: String,
}

impl Sending {
    /// Submission into `store`, naming itself `hostname` in generated ids.
    pub fn new(store: MailStore, hostname: &str) -> Self {
        Sending {
            store,
            hostname: hostname.to_owned(),
        }
    }

    /// Makes a submitted message durable: queued for remote recipients,
    /// in the inbox of local ones. Returns an id for the reply.
    pub async fn submit(
        &self,
        queue: &Queue,
        principal: &Principal,
        from: &str,
        recipients: &[(String, Route)],
        received: String,
        body: Vec<u8>,
    ) -> Result<String> {
        if recipients.is_empty() {
            return Err(Error::invalid("recipients", "none"));
        }
        let tenant = principal.tenant();
        let id = uuid::Uuid::now_v7();
        let mut head = String::new();
        // RFC 6409 §8: a submission server may add what the client left out.
        if !crate::message::has_header(&body, "Message-ID") {
            head.push_str(&format!(
                "Message-ID: <{}@{}>\r\n",
                id.simple(),
                self.hostname
            ));
        }
        if !crate::message::has_header(&body, "Date") {
            head.push_str(&format!("Date: {}\r\n", chrono::Utc::now().to_rfc2822()));
        }
        let mut message = Vec::with_capacity(received.len() + head.len() + body.len());
        message.extend_from_slice(head.as_bytes());
        message.extend_from_slice(&body);
        let signature = self.sign(tenant, from, &message).await?;
        let mut raw = Vec::with_capacity(message.len() + received.len() + signature.len());
        raw.extend_from_slice(received.as_bytes());
        raw.extend_from_slice(signature.as_bytes());
        raw.extend_from_slice(&message);
        let raw = Bytes::from(raw);

        let mut remote = Vec::new();
        let mut local: BTreeMap<TenantId, Vec<(Account, Role)>> = BTreeMap::new();
        for (address, route) in recipients {
            match route {
                Route::Remote => remote.push(address.clone()),
                Route::Local { tenant, accounts } => {
                    let to = local.entry(*tenant).or_default();
                    for account in accounts {
                        if !to.iter().any(|(a, _)| a == account) {
                            to.push((account.clone(), Role::Inbox));
                        }
                    }
                }
                Route::Unknown => {}
            }
        }
        if !remote.is_empty() {
            queue.enqueue(tenant, from, &remote, raw.clone()).await?;
        }
        for (to_tenant, to) in local {
            self.store
                .tenant(to_tenant)
                .deliver(&to, raw.clone())
                .await?;
        }
        Ok(id.simple().to_string())
    }

    /// The DKIM-Signature fields for `message`, made with the keys of its
    /// author's domain (the `From` header, which DMARC aligns with).
    async fn sign(&self, tenant: TenantId, from: &str, message: &[u8]) -> Result<String> {
        let author = crate::message::from_addresses(message)
            .into_iter()
            .next()
            .unwrap_or_else(|| from.to_owned());
        let Some((_, domain)) = author.rsplit_once('@') else {
            return Ok(String::new());
        };
        let keys = self.store.tenant(tenant).dkim_keys(domain).await?;
        crate::dkim::sign(message, domain, &keys.signing)
            .map_err(|e| Error::invalid("message", format!("cannot be signed: {e}")))
    }
}
