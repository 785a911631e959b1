//! The authentication seam: credentials in, [`Principal`] out.
//!
//! People sign in to the web with passkeys; protocols that cannot do passkeys
//! (IMAP, SMTP, CalDAV, WebDAV) present an app password over HTTP Basic or
//! SASL PLAIN, and API clients a bearer token. Protocol adapters turn what
//! arrives into [`Credentials`] and ask an [`Authenticator`] (wired to
//! `guss-identity` by the bundle) who it is.

use async_trait::async_trait;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::{Error, Limit, Principal, TenantId};

/// Longest `Authorization` header value accepted.
pub const MAX_AUTHORIZATION_HEADER: Limit = Limit::new("Authorization header length", 8 * 1024);

/// What a client presented to prove who it is. Secrets never appear in
/// `Debug` output.
///
/// ```
/// use guss_core::Credentials;
///
/// // "anna@kanzlei.example:app-password" in Base64
/// let header = "Basic YW5uYUBrYW56bGVpLmV4YW1wbGU6YXBwLXBhc3N3b3Jk";
/// let credentials = Credentials::from_authorization_header(header)?;
/// match &credentials {
///     Credentials::Basic { username, .. } => assert_eq!(username, "anna@kanzlei.example"),
///     _ => unreachable!(),
/// }
/// assert!(!format!("{credentials:?}").contains("app-password"));
/// # Ok::<(), guss_core::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Credentials {
    /// A user name (usually an e-mail address) and an app password.
    Basic {
        /// Who claims to sign in.
        username: String,
        /// The app password.
        password: SecretString,
    },
    /// An opaque session or API token.
    Bearer {
        /// The token.
        token: SecretString,
    },
}

impl Credentials {
    /// User name and password, e.g. from IMAP `LOGIN` or SASL `PLAIN`.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials::Basic {
            username: username.into(),
            password: SecretString::from(password.into()),
        }
    }

    /// A bearer token.
    pub fn bearer(token: impl Into<String>) -> Self {
        Credentials::Bearer {
            token: SecretString::from(token.into()),
        }
    }

    /// The password or token, for the authenticator to verify.
    pub fn secret(&self) -> &str {
        match self {
            Credentials::Basic { password, .. } => password.expose_secret(),
            Credentials::Bearer { token } => token.expose_secret(),
        }
    }

    /// Parses an HTTP `Authorization` header value: `Basic` (RFC 7617, UTF-8)
    /// or `Bearer` (RFC 6750). Scheme names are case-insensitive.
    pub fn from_authorization_header(value: &str) -> Result<Self, Error> {
        MAX_AUTHORIZATION_HEADER.check_len(value.len())?;
        let (scheme, rest) = value.split_once(' ').ok_or_else(|| {
            Error::invalid("Authorization header", "expected a scheme and credentials")
        })?;
        // RFC 7235 §2.1: one or more spaces separate scheme and credentials.
        let rest = rest.trim_start_matches(' ');
        if scheme.eq_ignore_ascii_case("basic") {
            Self::parse_basic(rest)
        } else if scheme.eq_ignore_ascii_case("bearer") {
            Self::parse_bearer(rest)
        } else {
            Err(Error::invalid("Authorization header", "unsupported scheme"))
        }
    }

    // RFC 7617 §2: base64(user-id ":" password); the user-id has no colon.
    fn parse_basic(token68: &str) -> Result<Self, Error> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token68.trim_end_matches(' '))
            .map_err(|_| Error::invalid("Basic credentials", "not Base64"))?;
        let text = String::from_utf8(decoded)
            .map_err(|_| Error::invalid("Basic credentials", "not UTF-8"))?;
        let (username, password) = text.split_once(':').ok_or_else(|| {
            Error::invalid(
                "Basic credentials",
                "no colon between user name and password",
            )
        })?;
        if username.is_empty() || username.chars().any(char::is_control) {
            return Err(Error::invalid(
                "Basic credentials",
                "empty user name or control characters",
            ));
        }
        Ok(Self::basic(username, password))
    }

    // RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    fn parse_bearer(token: &str) -> Result<Self, Error> {
        let token = token.trim_end_matches(' ');
        let body = token.trim_end_matches('=');
        let valid = !body.is_empty()
            && body.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
            });
        if valid {
            Ok(Self::bearer(token))
        } else {
            Err(Error::invalid("Bearer token", "not a b64token"))
        }
    }
}

/// Which service a credential is used for. App passwords are scoped: one made
/// for a phone's calendar cannot read mail.
///
/// ```
/// use guss_core::Scope;
///
/// assert_eq!(Scope::Calendar.as_str(), "calendar");
/// assert_eq!("files".parse::<Scope>()?, Scope::Files);
/// # Ok::<(), guss_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Scope {
    /// IMAP and SMTP submission.
    Mail,
    /// CalDAV.
    Calendar,
    /// CardDAV.
    Contacts,
    /// WebDAV file access.
    Files,
    /// The web interface and its API.
    Web,
}

impl Scope {
    /// Every scope, in a fixed order.
    pub const ALL: [Scope; 5] = [
        Scope::Mail,
        Scope::Calendar,
        Scope::Contacts,
        Scope::Files,
        Scope::Web,
    ];

    /// The scope's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Mail => "mail",
            Scope::Calendar => "calendar",
            Scope::Contacts => "contacts",
            Scope::Files => "files",
            Scope::Web => "web",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Scope {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| Error::invalid("scope", "unknown"))
    }
}

/// Turns credentials into a principal.
///
/// Fails with [`Error::Unauthenticated`] for anything wrong with the
/// credentials (unknown user, wrong or revoked secret, wrong scope, suspended
/// person) without saying which, and with [`Error::RateLimited`] after too
/// many failures.
///
/// ```
/// use async_trait::async_trait;
/// use guss_core::{Authenticator, Credentials, Error, PersonId, Principal, Scope, TenantId};
///
/// /// One fixed token for one person (a test double, not a product).
/// struct OneToken { person: PersonId }
///
/// #[async_trait]
/// impl Authenticator for OneToken {
///     async fn authenticate(&self, tenant: TenantId, credentials: &Credentials, _: Scope) -> Result<Principal, Error> {
///         match credentials {
///             Credentials::Bearer { .. } if credentials.secret() == "t0ken" => {
///                 Ok(Principal::Person { tenant, person: self.person })
///             }
///             _ => Err(Error::Unauthenticated),
///         }
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let auth = OneToken { person: PersonId::new() };
/// let tenant = TenantId::new();
/// assert!(auth.authenticate(tenant, &Credentials::bearer("t0ken"), Scope::Web).await.is_ok());
/// assert!(auth.authenticate(tenant, &Credentials::bearer("guess"), Scope::Web).await.is_err());
/// # });
/// ```
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// Who presents `credentials` to `tenant`, for use with `scope`.
    async fn authenticate(
        &self,
        tenant: TenantId,
        credentials: &Credentials,
        scope: Scope,
    ) -> Result<Principal, Error>;
}

#[async_trait]
impl<A: Authenticator + ?Sized> Authenticator for std::sync::Arc<A> {
    async fn authenticate(
        &self,
        tenant: TenantId,
        credentials: &Credentials,
        scope: Scope,
    ) -> Result<Principal, Error> {
        (**self).authenticate(tenant, credentials, scope).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn basic(user_colon_pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_colon_pass)
        )
    }

    #[test]
    fn basic_splits_at_the_first_colon() {
        let credentials = Credentials::from_authorization_header(&basic("anna:pa:ss")).unwrap();
        let Credentials::Basic { username, .. } = &credentials else {
            panic!("not basic")
        };
        assert_eq!(username, "anna");
        assert_eq!(credentials.secret(), "pa:ss");
    }

    #[test]
    fn basic_accepts_utf8_and_case_insensitive_scheme() {
        let header = basic("jürgen@kanzlei.example:geheim").replacen("Basic", "bAsIc", 1);
        let credentials = Credentials::from_authorization_header(&header).unwrap();
        assert_eq!(credentials.secret(), "geheim");
    }

    #[test]
    fn bearer_tokens_follow_rfc_6750() {
        let credentials =
            Credentials::from_authorization_header("Bearer abc-DEF_123.~+/==").unwrap();
        assert!(matches!(credentials, Credentials::Bearer { .. }));
        assert_eq!(credentials.secret(), "abc-DEF_123.~+/==");
        for bad in [
            "Bearer",
            "Bearer ",
            "Bearer ===",
            "Bearer a b",
            "Bearer a=b",
            "Bearer \u{e9}",
        ] {
            assert!(
                Credentials::from_authorization_header(bad).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn malformed_basic_is_rejected() {
        for bad in [
            "Basic".to_owned(),
            "Basic !!!".to_owned(),
            basic("no-colon"),
            basic(":empty-user"),
            basic("ctl\u{7}:x"),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode([0xff, 0x3a, 0x41])
            ),
            "Digest username=x".to_owned(),
        ] {
            assert!(
                Credentials::from_authorization_header(&bad).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn oversized_headers_are_refused_before_decoding() {
        let header = format!("Bearer {}", "a".repeat(9000));
        assert!(matches!(
            Credentials::from_authorization_header(&header),
            Err(Error::LimitExceeded { .. })
        ));
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let text = format!("{:?}", Credentials::basic("anna", "s3cret-value"));
        assert!(!text.contains("s3cret-value"), "{text}");
    }

    proptest! {
        #[test]
        fn basic_round_trips(user in "[^:\\p{Cc}]{1,40}", pass in ".{0,40}") {
            let credentials = Credentials::from_authorization_header(&basic(&format!("{user}:{pass}"))).unwrap();
            let Credentials::Basic { username, .. } = &credentials else { panic!("not basic") };
            prop_assert_eq!(username, &user);
            prop_assert_eq!(credentials.secret(), pass.as_str());
        }

        #[test]
        fn parsing_never_panics(header in ".{0,200}") {
            let _ = Credentials::from_authorization_header(&header);
        }
    }
}
