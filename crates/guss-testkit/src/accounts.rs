//! Accounts for examples and tests: `NAME:PASSWORD` pairs given on a
//! command line, checked as an [`Authenticator`]. They stand in for the
//! app passwords a deployment issues through guss-identity; passwords are
//! kept as SHA-256 digests only.

use std::collections::BTreeMap;

use async_trait::async_trait;
use guss_core::{Authenticator, Credentials, Error, PersonId, Principal, Scope, TenantId};
use sha2::{Digest, Sha256};

/// A person's id derived from their name, stable across restarts.
pub fn person_id(name: &str) -> PersonId {
    let hash: [u8; 32] = Sha256::digest(format!("guss example person {name}")).into();
    let mut bytes = [0u8; 16];
    for (to, from) in bytes.iter_mut().zip(hash) {
        *to = from;
    }
    PersonId::from_uuid(uuid::Uuid::from_bytes(bytes))
}

/// Named accounts with passwords.
#[derive(Clone, Debug, Default)]
pub struct Accounts {
    by_name: BTreeMap<String, (PersonId, [u8; 32])>,
}

impl Accounts {
    /// The accounts of `NAME:PASSWORD` arguments; names must be plain path
    /// segments (letters, digits, `-`, `_`, `.`), passwords not empty.
    ///
    /// ```
    /// let accounts = guss_testkit::accounts::Accounts::parse(["anna:geheim", "ben:auch-geheim"])?;
    /// assert_eq!(accounts.names().collect::<Vec<_>>(), ["anna", "ben"]);
    /// assert!(guss_testkit::accounts::Accounts::parse(["anna"]).is_err());
    /// # Ok::<(), String>(())
    /// ```
    pub fn parse<'a>(pairs: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut by_name = BTreeMap::new();
        for pair in pairs {
            let Some((name, password)) = pair.split_once(':') else {
                return Err(format!("{pair:?}: expected NAME:PASSWORD"));
            };
            let plain = !name.is_empty()
                && !name.starts_with('.')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !plain || password.is_empty() {
                return Err(format!(
                    "{pair:?}: the name must be letters, digits, '-', '_' or '.', the password not empty"
                ));
            }
            by_name.insert(
                name.to_owned(),
                (person_id(name), Sha256::digest(password.as_bytes()).into()),
            );
        }
        Ok(Accounts { by_name })
    }

    /// The account names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// The name of a person, if they have an account.
    pub fn name_of(&self, person: PersonId) -> Option<&str> {
        self.by_name
            .iter()
            .find(|(_, (id, _))| *id == person)
            .map(|(name, _)| name.as_str())
    }
}

#[async_trait]
impl Authenticator for Accounts {
    async fn authenticate(
        &self,
        tenant: TenantId,
        credentials: &Credentials,
        _: Scope,
    ) -> Result<Principal, Error> {
        let Credentials::Basic { username, .. } = credentials else {
            return Err(Error::Unauthenticated);
        };
        let (person, expected) = self
            .by_name
            .get(username.as_str())
            .ok_or(Error::Unauthenticated)?;
        // Comparing digests: timing reveals nothing about the password.
        let given: [u8; 32] = Sha256::digest(credentials.secret().as_bytes()).into();
        if given != *expected {
            return Err(Error::Unauthenticated);
        }
        Ok(Principal::Person {
            tenant,
            person: *person,
        })
    }
}

/// The same accounts for mail clients: the user name is `NAME@DOMAIN`, and
/// only the mail scope is accepted (as an app password for mail would be).
#[derive(Clone, Debug)]
pub struct MailAccounts {
    accounts: Accounts,
    domain: String,
}

impl MailAccounts {
    /// `accounts`, logging in as `NAME@domain`.
    ///
    /// ```
    /// use guss_core::{Authenticator, Credentials, Scope, TenantId};
    /// use guss_testkit::accounts::{Accounts, MailAccounts};
    ///
    /// let mail = MailAccounts::new(Accounts::parse(["anna:geheim"])?, "kanzlei.example");
    /// let tenant = TenantId::new();
    /// let login = |user: &str, scope| {
    ///     let mail = mail.clone();
    ///     let credentials = Credentials::basic(user, "geheim");
    ///     async move { mail.authenticate(tenant, &credentials, scope).await.is_ok() }
    /// };
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// assert!(login("anna@Kanzlei.example", Scope::Mail).await);
    /// assert!(!login("anna", Scope::Mail).await);
    /// assert!(!login("anna@kanzlei.example", Scope::Files).await);
    /// # });
    /// # Ok::<(), String>(())
    /// ```
    pub fn new(accounts: Accounts, domain: &str) -> Self {
        MailAccounts {
            accounts,
            domain: domain.to_owned(),
        }
    }
}

#[async_trait]
impl Authenticator for MailAccounts {
    async fn authenticate(
        &self,
        tenant: TenantId,
        credentials: &Credentials,
        scope: Scope,
    ) -> Result<Principal, Error> {
        let Credentials::Basic { username, .. } = credentials else {
            return Err(Error::Unauthenticated);
        };
        let name = username
            .rsplit_once('@')
            .filter(|(_, domain)| domain.eq_ignore_ascii_case(&self.domain))
            .map(|(name, _)| name)
            .ok_or(Error::Unauthenticated)?;
        if scope != Scope::Mail {
            return Err(Error::Unauthenticated);
        }
        let plain = Credentials::basic(name, credentials.secret());
        self.accounts.authenticate(tenant, &plain, scope).await
    }
}
