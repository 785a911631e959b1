//! Whose mailboxes a session sees besides the person's own: those of the
//! people they stand in for, under `Other Users/NAME/`, and shared
//! accounts, under `Shared/NAME/` (the namespaces of RFC 2342), as far as
//! the [`Authorizer`](guss_core::Authorizer) allows.
//!
//! A deputy acts as [`Principal::Deputy`] for the person represented; a
//! shared account is used as the person themselves. `read` opens the
//! mailboxes; `write` also changes flags, appends, moves and expunges.
//! Every decision is asked afresh when a mailbox is named, and before
//! each command and update while another's mailbox is selected: a grant
//! that ends stops access at once (the session is closed with `BYE`).

use guss_core::{Action, Context, DirectoryEntry, PersonId, Principal, Resource, ResourceKind};

use super::Imap;
use crate::Result;
use crate::store::{Account, TenantMail};

/// The namespace of other people's mailboxes.
pub(super) const OTHER_USERS: &str = "Other Users";
/// The namespace of shared accounts.
pub(super) const SHARED: &str = "Shared";

/// Another account's mailboxes as this session may use them.
#[derive(Clone, Debug)]
pub(super) struct Delegation {
    /// Whose mailboxes.
    pub(super) account: Account,
    /// The folder under the namespace: the person's local part, or the
    /// shared account's name.
    pub(super) label: String,
    /// Who acts: for decisions and events.
    pub(super) principal: Principal,
    /// Whether more than reading is allowed.
    pub(super) write: bool,
}

impl Delegation {
    /// The namespace this account's mailboxes appear in.
    pub(super) fn namespace(&self) -> &'static str {
        match self.account {
            Account::Person(_) => OTHER_USERS,
            Account::Shared(_) => SHARED,
        }
    }

    /// The name a client sees for the account's mailbox `name` (`INBOX`
    /// for the inbox).
    pub(super) fn visible(&self, name: &str) -> String {
        format!("{}/{}/{name}", self.namespace(), self.label)
    }

    /// The folder holding the account's mailboxes.
    pub(super) fn root(&self) -> String {
        format!("{}/{}", self.namespace(), self.label)
    }
}

/// A name in another namespace split into namespace, label and the
/// mailbox's own name (empty for the label's folder itself).
pub(super) fn split(name: &str) -> Option<(&'static str, &str, &str)> {
    let (first, rest) = name.split_once('/')?;
    let namespace = [OTHER_USERS, SHARED]
        .into_iter()
        .find(|ns| ns.eq_ignore_ascii_case(first))?;
    let (label, mailbox) = rest.split_once('/').unwrap_or((rest, ""));
    Some((namespace, label, mailbox))
}

/// Whether `name` lies in a namespace other than the personal one.
pub(super) fn is_foreign(name: &str) -> bool {
    split(name).is_some()
        || [OTHER_USERS, SHARED]
            .iter()
            .any(|ns| ns.eq_ignore_ascii_case(name))
}

/// What `me` may do with `account`'s mailboxes; `None` if nothing (or if
/// the account is their own).
pub(super) async fn delegation(
    imap: &Imap,
    mail: &TenantMail,
    me: PersonId,
    account: Account,
    label: String,
) -> Option<Delegation> {
    let tenant = mail.tenant_id();
    let principal = match &account {
        Account::Person(person) if *person == me => return None,
        Account::Person(person) => Principal::Deputy {
            tenant,
            deputy: me,
            represented: *person,
        },
        Account::Shared(_) => Principal::Person { tenant, person: me },
    };
    let resource = Resource::new(tenant, ResourceKind::MAILBOX, account.key()).ok()?;
    let authorizer = &imap.inner.authorizer;
    let context = Context::new();
    let allowed = |action: Action| {
        let (principal, resource, context) = (&principal, &resource, &context);
        async move {
            authorizer
                .authorize(principal, &action, resource, context)
                .await
                .is_allowed()
        }
    };
    if !allowed(Action::READ).await {
        return None;
    }
    let write = allowed(Action::WRITE).await;
    Some(Delegation {
        account,
        label,
        principal,
        write,
    })
}

/// The account named by `label` in `namespace`, with what `me` may do.
pub(super) async fn find(
    imap: &Imap,
    mail: &TenantMail,
    me: PersonId,
    domain: &str,
    namespace: &str,
    label: &str,
) -> Result<Option<Delegation>> {
    let account = if namespace == SHARED {
        match Account::from_key(&format!("shared:{label}")) {
            Ok(account) => account,
            Err(_) => return Ok(None),
        }
    } else {
        // A colleague at the login's domain by local part, others by address.
        let address = if label.contains('@') {
            label.parse()
        } else {
            format!("{label}@{domain}").parse()
        };
        let Ok(address) = address else {
            return Ok(None);
        };
        let directory = imap.inner.router.directory();
        match directory.find_address(mail.tenant_id(), &address).await? {
            Some(DirectoryEntry::Person(person)) => Account::Person(person.id),
            _ => return Ok(None),
        }
    };
    Ok(delegation(imap, mail, me, account, label.to_ascii_lowercase()).await)
}

/// Every account `me` (who logged in at `domain`) may open besides their
/// own.
pub(super) async fn all(
    imap: &Imap,
    mail: &TenantMail,
    me: PersonId,
    domain: &str,
) -> Result<Vec<Delegation>> {
    let directory = imap.inner.router.directory();
    let mut found = Vec::new();
    for account in mail.accounts().await? {
        let label = match &account {
            Account::Person(person) if *person == me => continue,
            // The label `find` resolves back to the same person.
            Account::Person(person) => match directory.person(mail.tenant_id(), *person).await? {
                Some(entry) => {
                    let here = entry
                        .emails
                        .iter()
                        .find(|a| a.domain().eq_ignore_ascii_case(domain));
                    match (here, entry.emails.first()) {
                        (Some(address), _) => address.local_part().to_owned(),
                        (None, Some(address)) => address.to_string(),
                        (None, None) => continue,
                    }
                }
                None => continue,
            },
            Account::Shared(name) => name.clone(),
        };
        if let Some(delegation) = delegation(imap, mail, me, account, label).await {
            found.push(delegation);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_other_namespaces() {
        assert_eq!(
            split("Other Users/chef/INBOX"),
            Some((OTHER_USERS, "chef", "INBOX"))
        );
        assert_eq!(
            split("shared/kanzlei/Akten/2026"),
            Some((SHARED, "kanzlei", "Akten/2026"))
        );
        assert_eq!(split("Other Users/chef"), Some((OTHER_USERS, "chef", "")));
        assert_eq!(split("Akten/2026"), None);
        assert!(is_foreign("Other Users"));
        assert!(!is_foreign("INBOX"));
    }
}
