//! Where an address leads: to accounts of a tenant hosted here, to another
//! server, or nowhere.

use guss_core::{Directory, DirectoryEntry, EmailAddress, TenantId};

use crate::Result;
use crate::store::{Account, MailStore};

/// Most accounts one address expands to (a group's members).
const MAX_EXPANSION: usize = 500;

/// Where mail to one address goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// To these accounts of a tenant hosted here.
    Local {
        /// The tenant.
        tenant: TenantId,
        /// The accounts (a group address reaches every member).
        accounts: Vec<Account>,
    },
    /// To a domain hosted elsewhere.
    Remote,
    /// To a domain hosted here, but no one has this address.
    Unknown,
}

/// Finds routes through the directory and the store's aliases.
#[derive(Clone)]
pub struct Router {
    directory: std::sync::Arc<dyn Directory>,
    store: MailStore,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").finish_non_exhaustive()
    }
}

impl Router {
    /// A router over `directory` and `store`'s aliases and shared accounts.
    pub fn new(directory: std::sync::Arc<dyn Directory>, store: MailStore) -> Self {
        Router { directory, store }
    }

    /// The directory.
    pub fn directory(&self) -> &dyn Directory {
        self.directory.as_ref()
    }

    /// The tenant hosting mail for `domain`, if it is hosted here.
    pub async fn tenant_for_domain(&self, domain: &str) -> Result<Option<TenantId>> {
        Ok(self
            .directory
            .tenant_for_domain(&domain.to_ascii_lowercase())
            .await?)
    }

    /// Where mail to `address` goes. Sub-addresses (`anna+akte@`) reach
    /// their base address.
    pub async fn route(&self, address: &EmailAddress) -> Result<Route> {
        let Some(tenant) = self.tenant_for_domain(address.domain()).await? else {
            return Ok(Route::Remote);
        };
        let mail = self.store.tenant(tenant);
        let mut candidates = vec![address.clone()];
        if let Some((base, _)) = address.local_part().split_once('+')
            && let Ok(base) = format!("{base}@{}", address.domain()).parse()
        {
            candidates.push(base);
        }
        for candidate in candidates {
            if let Some(account) = mail.resolve_alias(candidate.as_str()).await? {
                return Ok(Route::Local {
                    tenant,
                    accounts: vec![account],
                });
            }
            match self.directory.find_address(tenant, &candidate).await? {
                Some(DirectoryEntry::Person(person)) => {
                    return Ok(Route::Local {
                        tenant,
                        accounts: vec![Account::Person(person.id)],
                    });
                }
                Some(DirectoryEntry::Group(group)) => {
                    let members = self.directory.members_of(tenant, group.id).await?;
                    let accounts: Vec<Account> = members
                        .into_iter()
                        .take(MAX_EXPANSION)
                        .map(Account::Person)
                        .collect();
                    if !accounts.is_empty() {
                        return Ok(Route::Local { tenant, accounts });
                    }
                }
                _ => {}
            }
        }
        Ok(Route::Unknown)
    }
}
