//! Mozilla autoconfig: the `config-v1.1.xml` Thunderbird asks for.

use super::ClientSettings;
use super::xml::XmlWriter;

/// The `%EMAILADDRESS%` placeholder: the client puts in the address the
/// person typed, which is their user name everywhere in guss.
const EMAIL_PLACEHOLDER: &str = "%EMAILADDRESS%";

/// The Mozilla autoconfig file (`clientConfig` version 1.1) for `settings`.
///
/// It lists IMAP on the IMAP port with implicit TLS (`SSL`), submission with
/// implicit TLS and, as a second choice, with `STARTTLS`; the user name is the
/// whole address and the password is sent inside TLS
/// (`password-cleartext`). After the `emailProvider` come the `addressBook`
/// (CardDAV) and `calendar` (CalDAV) elements of the current format
/// definition, with HTTP basic authentication; clients that do not know them
/// skip them.
///
/// Served at `https://autoconfig.<domain>/mail/config-v1.1.xml` and
/// `https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml`
/// (`http::router` serves both with the `http` feature).
///
/// ```
/// use guss_mail::autoconfig::{thunderbird, ClientSettings};
///
/// let settings = ClientSettings::new("kanzlei.example", "mail.kanzlei.example", "guss.kanzlei.example")?;
/// let xml = thunderbird(&settings);
/// assert!(xml.contains(r#"<clientConfig version="1.1">"#));
/// assert!(xml.contains("<port>993</port>"));
/// assert!(xml.contains("<username>%EMAILADDRESS%</username>"));
/// # Ok::<(), guss_mail::autoconfig::Error>(())
/// ```
pub fn thunderbird(settings: &ClientSettings) -> String {
    let mut xml = XmlWriter::new();
    xml.open("clientConfig", &[("version", "1.1")]);
    xml.open("emailProvider", &[("id", settings.domain())]);
    xml.text("domain", settings.domain());
    xml.text("displayName", settings.display_name());
    xml.text("displayShortName", settings.display_name());

    mail_server(
        &mut xml,
        "incomingServer",
        "imap",
        settings.imap_host(),
        settings.imap_port(),
        "SSL",
    );
    mail_server(
        &mut xml,
        "outgoingServer",
        "smtp",
        settings.submission_host(),
        settings.submission_port(),
        "SSL",
    );
    if let Some(port) = settings.submission_starttls_port() {
        mail_server(
            &mut xml,
            "outgoingServer",
            "smtp",
            settings.submission_host(),
            port,
            "STARTTLS",
        );
    }
    xml.close("emailProvider");

    dav_service(
        &mut xml,
        "addressBook",
        "carddav",
        settings.carddav_url().as_str(),
    );
    dav_service(
        &mut xml,
        "calendar",
        "caldav",
        settings.caldav_url().as_str(),
    );
    xml.close("clientConfig");
    xml.finish()
}

fn mail_server(
    xml: &mut XmlWriter,
    element: &str,
    kind: &str,
    host: &str,
    port: u16,
    socket_type: &str,
) {
    xml.open(element, &[("type", kind)]);
    xml.text("hostname", host);
    xml.text("port", &port.to_string());
    xml.text("socketType", socket_type);
    xml.text("authentication", "password-cleartext");
    xml.text("username", EMAIL_PLACEHOLDER);
    xml.close(element);
}

fn dav_service(xml: &mut XmlWriter, element: &str, kind: &str, url: &str) {
    xml.open(element, &[("type", kind)]);
    xml.text("username", EMAIL_PLACEHOLDER);
    xml.text("authentication", "http-basic");
    xml.text("serverURL", url);
    xml.close(element);
}
