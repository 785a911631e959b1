//! What a client needs to know about one mail domain.

use guss_core::Limit;
use url::Url;

use super::{Error, check_limit, check_text};

/// IMAP over implicit TLS (RFC 8314 §7.3).
pub const IMAPS_PORT: u16 = 993;
/// Message submission over implicit TLS (RFC 8314 §7.3).
pub const SUBMISSIONS_PORT: u16 = 465;
/// Message submission with STARTTLS (RFC 6409 §3.1).
pub const SUBMISSION_PORT: u16 = 587;

/// Longest host name (RFC 1035 §2.3.4, in its textual form).
const MAX_HOST: usize = 253;
/// Longest label of a host name (RFC 1035 §2.3.4).
const MAX_LABEL: usize = 63;
/// Longest URL accepted for the DAV endpoints.
const MAX_URL: Limit = Limit::new("DAV URL length", 2048);

/// The servers and names of one mail domain, from which every
/// autoconfiguration document is written.
///
/// Built with [`ClientSettings::new`] and adjusted with the `with_*`
/// methods; every value is checked when it is set, so a document written from
/// settings is always well-formed. Host names are kept in their ASCII
/// (A-label) form, lowercased.
///
/// ```
/// use guss_mail::autoconfig::ClientSettings;
///
/// let settings = ClientSettings::new("Praxis-Bär.example", "mail.praxis-bär.example", "guss.praxis-bär.example")?;
/// assert_eq!(settings.domain(), "xn--praxis-br-22a.example");
/// assert_eq!(settings.imap_port(), 993);
/// assert_eq!(settings.submission_port(), 465);
/// assert_eq!(settings.submission_starttls_port(), Some(587));
/// assert_eq!(
///     settings.caldav_url().as_str(),
///     "https://guss.xn--praxis-br-22a.example/.well-known/caldav"
/// );
///
/// let settings = settings
///     .with_display_name("Praxis Bär")?
///     .with_dav_urls("https://guss.praxis-bär.example/dav/", "https://guss.praxis-bär.example/dav/")?;
/// assert_eq!(settings.display_name(), "Praxis Bär");
/// # Ok::<(), guss_mail::autoconfig::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSettings {
    domain: String,
    display_name: String,
    imap_host: String,
    imap_port: u16,
    submission_host: String,
    submission_port: u16,
    submission_starttls_port: Option<u16>,
    web_host: String,
    caldav_url: Url,
    carddav_url: Url,
}

impl ClientSettings {
    /// Settings for addresses `…@domain`: IMAP and submission on `mail_host`
    /// (ports 993 and 465 with implicit TLS, 587 with STARTTLS), calendars
    /// and contacts on `web_host` through `/.well-known/caldav` and
    /// `/.well-known/carddav`. The display name starts as the domain.
    ///
    /// Each name may be given in Unicode; it is stored in its ASCII form.
    pub fn new(domain: &str, mail_host: &str, web_host: &str) -> Result<Self, Error> {
        let domain = host_name("mail domain", domain)?;
        let mail_host = host_name("mail host", mail_host)?;
        let web_host = host_name("web host", web_host)?;
        let caldav_url = bootstrap_url(&web_host, "caldav")?;
        let carddav_url = bootstrap_url(&web_host, "carddav")?;
        Ok(ClientSettings {
            display_name: domain.clone(),
            domain,
            imap_host: mail_host.clone(),
            imap_port: IMAPS_PORT,
            submission_host: mail_host,
            submission_port: SUBMISSIONS_PORT,
            submission_starttls_port: Some(SUBMISSION_PORT),
            web_host,
            caldav_url,
            carddav_url,
        })
    }

    /// The name clients show for the account, usually the organisation's.
    pub fn with_display_name(mut self, name: &str) -> Result<Self, Error> {
        check_text("display name", name)?;
        name.trim().clone_into(&mut self.display_name);
        Ok(self)
    }

    /// IMAP on another host or port (always implicit TLS).
    pub fn with_imap(mut self, host: &str, port: u16) -> Result<Self, Error> {
        self.imap_host = host_name("IMAP host", host)?;
        self.imap_port = port_number("IMAP port", port)?;
        Ok(self)
    }

    /// Submission on another host: `port` with implicit TLS, and
    /// `starttls_port` with STARTTLS if there is one.
    pub fn with_submission(
        mut self,
        host: &str,
        port: u16,
        starttls_port: Option<u16>,
    ) -> Result<Self, Error> {
        self.submission_host = host_name("submission host", host)?;
        self.submission_port = port_number("submission port", port)?;
        self.submission_starttls_port = starttls_port
            .map(|p| port_number("STARTTLS submission port", p))
            .transpose()?;
        Ok(self)
    }

    /// CalDAV and CardDAV at other URLs (`https` only), such as the
    /// principal collection instead of the RFC 6764 bootstrap URLs.
    pub fn with_dav_urls(mut self, caldav: &str, carddav: &str) -> Result<Self, Error> {
        self.caldav_url = dav_url("CalDAV URL", caldav)?;
        self.carddav_url = dav_url("CardDAV URL", carddav)?;
        Ok(self)
    }

    /// The mail domain, the part after `@`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The name clients show for the account.
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// The IMAP server.
    pub fn imap_host(&self) -> &str {
        &self.imap_host
    }

    /// The IMAP port, implicit TLS.
    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    /// The submission (outgoing mail) server.
    pub fn submission_host(&self) -> &str {
        &self.submission_host
    }

    /// The submission port with implicit TLS.
    pub fn submission_port(&self) -> u16 {
        self.submission_port
    }

    /// The submission port with STARTTLS, if offered.
    pub fn submission_starttls_port(&self) -> Option<u16> {
        self.submission_starttls_port
    }

    /// The host of the web interface and the DAV endpoints.
    pub fn web_host(&self) -> &str {
        &self.web_host
    }

    /// Where CalDAV clients start.
    pub fn caldav_url(&self) -> &Url {
        &self.caldav_url
    }

    /// Where CardDAV clients start.
    pub fn carddav_url(&self) -> &Url {
        &self.carddav_url
    }
}

/// `https://host/.well-known/{service}` (RFC 6764 §5).
fn bootstrap_url(host: &str, service: &str) -> Result<Url, Error> {
    Url::parse(&format!("https://{host}/.well-known/{service}"))
        .map_err(|e| Error::invalid("web host", e.to_string()))
}

fn dav_url(what: &'static str, input: &str) -> Result<Url, Error> {
    check_limit(MAX_URL, input.len())?;
    let url = Url::parse(input).map_err(|e| Error::invalid(what, e.to_string()))?;
    if url.scheme() != "https" {
        return Err(Error::invalid(what, "must be an https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid(what, "must not carry credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid(what, "must not have a query or fragment"));
    }
    let host = url
        .host_str()
        .ok_or_else(|| Error::invalid(what, "has no host"))?;
    host_name(what, host)?;
    Ok(url)
}

fn port_number(what: &'static str, port: u16) -> Result<u16, Error> {
    if port == 0 {
        Err(Error::invalid(what, "must not be 0"))
    } else {
        Ok(port)
    }
}

/// A DNS host name in ASCII form, lowercased: Unicode names are converted
/// (UTS #46, through `url`), IP addresses and anything outside letters,
/// digits and inner hyphens are refused.
pub(crate) fn host_name(what: &'static str, input: &str) -> Result<String, Error> {
    // Bound the work before IDNA processing; a Unicode name may be longer
    // than its ASCII form only by a small factor.
    if input.len() > MAX_HOST * 4 {
        return Err(Error::invalid(what, "is too long for a host name"));
    }
    if input.is_empty() {
        return Err(Error::invalid(what, "must not be empty"));
    }
    if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(what, "must not contain spaces"));
    }
    let ascii = match url::Host::parse(input) {
        Ok(url::Host::Domain(name)) => name,
        Ok(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => {
            return Err(Error::invalid(
                what,
                "must be a host name, not an IP address",
            ));
        }
        Err(e) => return Err(Error::invalid(what, e.to_string())),
    };
    let ascii = ascii.to_ascii_lowercase();
    if ascii.len() > MAX_HOST {
        return Err(Error::invalid(what, "is too long for a host name"));
    }
    for label in ascii.split('.') {
        let valid = !label.is_empty()
            && label.len() <= MAX_LABEL
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(Error::invalid(
                what,
                "is not a host name (letters, digits and hyphens between dots)",
            ));
        }
    }
    Ok(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_checked_and_normalised() {
        assert_eq!(
            host_name("h", "Mail.Kanzlei.Example").unwrap(),
            "mail.kanzlei.example"
        );
        assert_eq!(
            host_name("h", "bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(host_name("h", "localhost").unwrap(), "localhost");
        for bad in [
            "",
            "mail server",
            "127.0.0.1",
            "[::1]",
            "mail..example",
            "mail.example.",
            "-mail.example",
            "mail-.example",
            "mail_1.example",
            "mail.example:993",
            "mail.example/x",
            "a@b.example",
            "<x>.example",
        ] {
            assert!(host_name("h", bad).is_err(), "{bad:?}");
        }
        let long = format!("{}.example", "a".repeat(64));
        assert!(host_name("h", &long).is_err());
        let long = ["a"; 130].join(".");
        assert!(host_name("h", &long).is_err());
        assert!(host_name("h", &"ü".repeat(2000)).is_err());
    }

    #[test]
    fn dav_urls_must_be_https_and_plain() {
        let s = ClientSettings::new("k.example", "mail.k.example", "web.k.example").unwrap();
        assert!(
            s.clone()
                .with_dav_urls("https://web.k.example/dav/", "https://web.k.example/dav/")
                .is_ok()
        );
        for bad in [
            "http://web.k.example/dav/",
            "https://user:pw@web.k.example/dav/",
            "https://web.k.example/dav/?x=1",
            "https://web.k.example/dav/#f",
            "https://127.0.0.1/dav/",
            "not a url",
        ] {
            assert!(s.clone().with_dav_urls(bad, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ports_and_names() {
        let s = ClientSettings::new("k.example", "mail.k.example", "web.k.example").unwrap();
        assert_eq!(s.display_name(), "k.example");
        assert!(s.clone().with_imap("imap.k.example", 0).is_err());
        let s = s
            .with_imap("IMAP.k.example", 1993)
            .unwrap()
            .with_submission("smtp.k.example", 1465, None)
            .unwrap()
            .with_display_name("  Kanzlei K  ")
            .unwrap();
        assert_eq!(s.imap_host(), "imap.k.example");
        assert_eq!(s.imap_port(), 1993);
        assert_eq!(s.submission_host(), "smtp.k.example");
        assert_eq!(s.submission_port(), 1465);
        assert_eq!(s.submission_starttls_port(), None);
        assert_eq!(s.display_name(), "Kanzlei K");
        assert_eq!(s.web_host(), "web.k.example");
    }
}
