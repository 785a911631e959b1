//! Apple configuration profiles (`.mobileconfig`): one install sets up Mail,
//! Calendar and Contacts on an iPhone, iPad or Mac.

use guss_core::{EmailAddress, Limit};
use plist::{Dictionary, Value};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{ClientSettings, Error, ProfileSigner, check_limit, check_text};

/// The media type of a configuration profile, signed or not.
pub const MOBILECONFIG_CONTENT_TYPE: &str = "application/x-apple-aspen-config";

/// Longest user name accepted.
const MAX_USERNAME: Limit = Limit::new("user name length", 254);
/// Longest app password accepted.
const MAX_PASSWORD: Limit = Limit::new("app password length", 1024);

/// The person and device a profile is for, with the app password minted
/// for that device by the caller (this module never creates secrets).
///
/// ```
/// use guss_mail::autoconfig::DeviceAccount;
///
/// let account = DeviceAccount::new(
///     "anna@kanzlei.example".parse()?,
///     "Anna Schmidt",
///     "anna@kanzlei.example",
///     "generated-app-password".to_owned().into(),
///     "Annas iPhone",
/// );
/// // The password stays out of debug output.
/// assert!(!format!("{account:?}").contains("generated-app-password"));
/// # Ok::<(), guss_core::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DeviceAccount {
    /// The person's address.
    pub email: EmailAddress,
    /// Their name as it appears on mail they send.
    pub full_name: String,
    /// The user name for IMAP, SMTP and DAV (in guss, the address).
    pub username: String,
    /// The app password for this device.
    pub app_password: SecretString,
    /// What the person calls the device ("Annas iPhone"); also tells profiles
    /// for different devices apart.
    pub device_label: String,
}

impl DeviceAccount {
    /// An account for `email` on the device called `device_label`.
    pub fn new(
        email: EmailAddress,
        full_name: impl Into<String>,
        username: impl Into<String>,
        app_password: SecretString,
        device_label: impl Into<String>,
    ) -> Self {
        DeviceAccount {
            email,
            full_name: full_name.into(),
            username: username.into(),
            app_password,
            device_label: device_label.into(),
        }
    }

    fn check(&self) -> Result<(), Error> {
        check_text("full name", &self.full_name)?;
        check_text("device label", &self.device_label)?;
        check_limit(MAX_USERNAME, self.username.len())?;
        if self.username.is_empty()
            || self
                .username
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::invalid(
                "user name",
                "must not be empty or contain spaces",
            ));
        }
        let password = self.app_password.expose_secret();
        check_limit(MAX_PASSWORD, password.len())?;
        if password.is_empty() || password.chars().any(char::is_control) {
            return Err(Error::invalid(
                "app password",
                "must not be empty or contain control characters",
            ));
        }
        Ok(())
    }
}

/// A configuration profile that adds an IMAP mail account (implicit TLS for
/// IMAP and SMTP, the app password for both), a CalDAV and a CardDAV account
/// to an Apple device: an XML property list with a `Configuration` payload,
/// or, with a `signer`, that property list wrapped in CMS `SignedData`
/// (DER), which devices show as "Verified".
///
/// The profile's identifiers and UUIDs are derived from the domain, user
/// name and device label: the same inputs give the same identifiers, so
/// installing a fresh profile for a device replaces the one installed before;
/// another device gets other ones. The person may remove the profile at any
/// time (`PayloadRemovalDisallowed` is false).
///
/// Serve it with [`MOBILECONFIG_CONTENT_TYPE`], only to the signed-in owner
/// of the account: it contains their app password.
///
/// ```
/// use guss_mail::autoconfig::{mobileconfig, ClientSettings, DeviceAccount};
///
/// let settings = ClientSettings::new("kanzlei.example", "mail.kanzlei.example", "guss.kanzlei.example")?;
/// let account = DeviceAccount::new(
///     "anna@kanzlei.example".parse().unwrap(),
///     "Anna Schmidt",
///     "anna@kanzlei.example",
///     "app-password".to_owned().into(),
///     "Annas iPad",
/// );
/// let profile = String::from_utf8(mobileconfig(&settings, &account, None)?).unwrap();
/// assert!(profile.contains("<string>com.apple.mail.managed</string>"));
/// assert!(profile.contains("<string>com.apple.caldav.account</string>"));
/// # Ok::<(), guss_mail::autoconfig::Error>(())
/// ```
pub fn mobileconfig(
    settings: &ClientSettings,
    account: &DeviceAccount,
    signer: Option<&ProfileSigner>,
) -> Result<Vec<u8>, Error> {
    account.check()?;
    let ids = Identifiers::new(settings, account);
    let org = settings.display_name();
    let email = account.email.as_str();
    let name = account.full_name.trim();

    let mut profile = Dictionary::new();
    profile.insert(
        "PayloadContent".into(),
        Value::Array(vec![
            mail_payload(settings, account, &ids).into(),
            dav_payload(Dav::CalDav, settings.caldav_url(), account, &ids, org)?.into(),
            dav_payload(Dav::CardDav, settings.carddav_url(), account, &ids, org)?.into(),
        ]),
    );
    profile.insert(
        "PayloadDescription".into(),
        format!(
            "Sets up mail, calendar and contacts of {org} for {email} on {}. \
             It contains a password that works only for this device; \
             removing the profile removes the accounts.",
            account.device_label.trim()
        )
        .into(),
    );
    profile.insert(
        "PayloadDisplayName".into(),
        format!("Mail, Calendar and Contacts for {name}").into(),
    );
    profile.insert("PayloadIdentifier".into(), ids.profile.clone().into());
    profile.insert("PayloadOrganization".into(), org.into());
    profile.insert("PayloadRemovalDisallowed".into(), false.into());
    profile.insert("PayloadType".into(), "Configuration".into());
    profile.insert("PayloadUUID".into(), ids.uuid("profile").into());
    profile.insert("PayloadVersion".into(), 1u8.into());

    let mut plist = Vec::new();
    Value::Dictionary(profile)
        .to_writer_xml(&mut plist)
        .map_err(|e| Error::invalid("configuration profile", e.to_string()))?;
    plist.push(b'\n');
    match signer {
        Some(signer) => signer.sign(&plist),
        None => Ok(plist),
    }
}

fn mail_payload(
    settings: &ClientSettings,
    account: &DeviceAccount,
    ids: &Identifiers,
) -> Dictionary {
    let email = account.email.as_str();
    let password = account.app_password.expose_secret();
    let mut d = Dictionary::new();
    d.insert(
        "EmailAccountDescription".into(),
        settings.display_name().into(),
    );
    d.insert("EmailAccountName".into(), account.full_name.trim().into());
    d.insert("EmailAccountType".into(), "EmailTypeIMAP".into());
    d.insert("EmailAddress".into(), email.into());
    d.insert(
        "IncomingMailServerAuthentication".into(),
        "EmailAuthPassword".into(),
    );
    d.insert(
        "IncomingMailServerHostName".into(),
        settings.imap_host().into(),
    );
    d.insert(
        "IncomingMailServerPortNumber".into(),
        settings.imap_port().into(),
    );
    d.insert("IncomingMailServerUseSSL".into(), true.into());
    d.insert(
        "IncomingMailServerUsername".into(),
        account.username.as_str().into(),
    );
    d.insert("IncomingPassword".into(), password.into());
    d.insert(
        "OutgoingMailServerAuthentication".into(),
        "EmailAuthPassword".into(),
    );
    d.insert(
        "OutgoingMailServerHostName".into(),
        settings.submission_host().into(),
    );
    d.insert(
        "OutgoingMailServerPortNumber".into(),
        settings.submission_port().into(),
    );
    d.insert("OutgoingMailServerUseSSL".into(), true.into());
    d.insert(
        "OutgoingMailServerUsername".into(),
        account.username.as_str().into(),
    );
    d.insert("OutgoingPassword".into(), password.into());
    d.insert("OutgoingPasswordSameAsIncomingPassword".into(), true.into());
    d.insert(
        "PayloadDescription".into(),
        format!("Mail account {email}").into(),
    );
    d.insert(
        "PayloadDisplayName".into(),
        format!("Mail ({email})").into(),
    );
    d.insert(
        "PayloadIdentifier".into(),
        format!("{}.mail", ids.profile).into(),
    );
    d.insert("PayloadType".into(), "com.apple.mail.managed".into());
    d.insert("PayloadUUID".into(), ids.uuid("mail").into());
    d.insert("PayloadVersion".into(), 1u8.into());
    d
}

#[derive(Clone, Copy)]
enum Dav {
    CalDav,
    CardDav,
}

fn dav_payload(
    kind: Dav,
    url: &Url,
    account: &DeviceAccount,
    ids: &Identifiers,
    org: &str,
) -> Result<Dictionary, Error> {
    let (prefix, payload_type, role, what) = match kind {
        Dav::CalDav => ("CalDAV", "com.apple.caldav.account", "caldav", "Calendar"),
        Dav::CardDav => (
            "CardDAV",
            "com.apple.carddav.account",
            "carddav",
            "Contacts",
        ),
    };
    let host = url
        .host_str()
        .ok_or_else(|| Error::invalid("DAV URL", "has no host"))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| Error::invalid("DAV URL", "has no port"))?;
    let email = account.email.as_str();
    let mut d = Dictionary::new();
    d.insert(
        format!("{prefix}AccountDescription"),
        format!("{org} {what}").into(),
    );
    d.insert(format!("{prefix}HostName"), host.into());
    d.insert(format!("{prefix}Port"), port.into());
    d.insert(format!("{prefix}PrincipalURL"), url.as_str().into());
    d.insert(format!("{prefix}UseSSL"), (url.scheme() == "https").into());
    d.insert(
        format!("{prefix}Username"),
        account.username.as_str().into(),
    );
    d.insert(
        format!("{prefix}Password"),
        account.app_password.expose_secret().into(),
    );
    d.insert(
        "PayloadDescription".into(),
        format!("{what} account {email}").into(),
    );
    d.insert(
        "PayloadDisplayName".into(),
        format!("{what} ({email})").into(),
    );
    d.insert(
        "PayloadIdentifier".into(),
        format!("{}.{role}", ids.profile).into(),
    );
    d.insert("PayloadType".into(), payload_type.into());
    d.insert("PayloadUUID".into(), ids.uuid(role).into());
    d.insert("PayloadVersion".into(), 1u8.into());
    Ok(d)
}

/// Identifiers that are stable for one (domain, user, device) and differ
/// between any two.
struct Identifiers {
    seed: Vec<u8>,
    /// The profile's `PayloadIdentifier`, reverse-DNS under the mail domain.
    profile: String,
}

impl Identifiers {
    fn new(settings: &ClientSettings, account: &DeviceAccount) -> Self {
        let mut seed = b"guss autoconfig profile 1".to_vec();
        for part in [
            settings.domain(),
            account.username.as_str(),
            account.device_label.trim(),
        ] {
            // Length-prefixed, so that no two inputs give the same seed.
            seed.extend_from_slice(&(part.len() as u64).to_be_bytes());
            seed.extend_from_slice(part.as_bytes());
        }
        let reversed: Vec<&str> = settings.domain().rsplit('.').collect();
        let mut ids = Identifiers {
            seed,
            profile: String::new(),
        };
        ids.profile = format!(
            "{}.guss.autoconfig.{}",
            reversed.join("."),
            ids.uuid("identifier").to_lowercase()
        );
        ids
    }

    /// A UUID for `role`: SHA-256 of the seed and the role, as a version 8
    /// (custom) UUID (RFC 9562 §5.8), upper case as Apple writes them.
    fn uuid(&self, role: &str) -> String {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        context.update(&self.seed);
        context.update(&(role.len() as u64).to_be_bytes());
        context.update(role.as_bytes());
        let digest = context.finish();
        let mut bytes = [0u8; 16];
        for (byte, source) in bytes.iter_mut().zip(digest.as_ref()) {
            *byte = *source;
        }
        uuid::Builder::from_custom_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
            .to_uppercase()
    }
}
