//! Outlook Autodiscover, "plain old XML" flavour ([MS-OXDSCLI]): the request
//! Outlook posts to `/autodiscover/autodiscover.xml` and the IMAP and SMTP
//! settings it wants back.
//!
//! [MS-OXDSCLI]: https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxdscli/

use guss_core::{EmailAddress, Limit};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::xml::XmlWriter;
use super::{ClientSettings, Error, check_limit};

/// Namespace of the request Outlook sends.
pub const AUTODISCOVER_REQUEST_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
/// The response schema guss answers in (the only one it speaks): IMAP and
/// SMTP settings for an e-mail account.
pub const AUTODISCOVER_RESPONSE_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
/// Namespace of the outer `Autodiscover` element of every response.
const ENVELOPE_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
/// Namespace of ActiveSync requests ([MS-ASCMD] §2.2.1.1): understood, and
/// answered with error 601 because guss does not speak ActiveSync.
const MOBILESYNC_REQUEST_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006";

/// Largest request body accepted. Outlook's requests are about 350 bytes.
pub const MAX_AUTODISCOVER_REQUEST: Limit =
    Limit::new("Autodiscover request size in bytes", 16 * 1024);
/// Deepest element nesting accepted (a request is three levels deep).
const MAX_DEPTH: Limit = Limit::new("Autodiscover request nesting depth", 8);
/// Most elements accepted in one request (a request has four).
const MAX_ELEMENTS: Limit = Limit::new("Autodiscover request element count", 64);
/// Longest response schema echoed in an error.
const MAX_SCHEMA_ECHO: usize = 200;

/// The error an Autodiscover client is told ([MS-OXDSCLI] §2.2.4.1.1.2.1).
///
/// ```
/// use guss_mail::autoconfig::{parse_autodiscover_request, AutodiscoverError};
///
/// let err = parse_autodiscover_request(b"<nonsense/>").unwrap_err();
/// assert_eq!(AutodiscoverError::for_error(&err), AutodiscoverError::InvalidRequest);
/// assert_eq!(AutodiscoverError::InvalidRequest.code(), 600);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AutodiscoverError {
    /// 500: no configuration for this address (an unknown domain).
    UnknownAddress,
    /// 600: the request is not a well-formed Autodiscover request.
    InvalidRequest,
    /// 601: the requested response schema is not offered (ActiveSync, say).
    UnsupportedSchema,
}

impl AutodiscoverError {
    /// The numeric `ErrorCode`.
    pub fn code(self) -> u16 {
        match self {
            AutodiscoverError::UnknownAddress => 500,
            AutodiscoverError::InvalidRequest => 600,
            AutodiscoverError::UnsupportedSchema => 601,
        }
    }

    /// The `Message` sent with the code.
    pub fn message(self) -> &'static str {
        match self {
            AutodiscoverError::UnknownAddress => "The e-mail address cannot be found.",
            AutodiscoverError::InvalidRequest => "Invalid Request",
            AutodiscoverError::UnsupportedSchema => "Provider is not available",
        }
    }

    /// What to tell the client about an error from
    /// [`parse_autodiscover_request`].
    pub fn for_error(error: &Error) -> Self {
        match error {
            Error::UnsupportedSchema(_) => AutodiscoverError::UnsupportedSchema,
            _ => AutodiscoverError::InvalidRequest,
        }
    }
}

/// Reads an Autodiscover request and returns the address it asks about.
///
/// Accepts the request schema Outlook uses (and, leniently, the same
/// elements without a namespace), refuses bodies over
/// [`MAX_AUTODISCOVER_REQUEST`], DTDs and entities other than XML's five,
/// and an `AcceptableResponseSchema` other than
/// [`AUTODISCOVER_RESPONSE_SCHEMA`] ([`Error::UnsupportedSchema`]; a request
/// without one is taken to accept it). Elements other than `EMailAddress`
/// and `AcceptableResponseSchema` (such as `LegacyDN`) are skipped.
///
/// ```
/// use guss_mail::autoconfig::{parse_autodiscover_request, Error};
///
/// let request = br#"<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
///   <Request><EMailAddress>ben@praxis.example</EMailAddress></Request>
/// </Autodiscover>"#;
/// assert_eq!(parse_autodiscover_request(request)?.as_str(), "ben@praxis.example");
///
/// let billion_laughs = br#"<!DOCTYPE a [<!ENTITY l "lol">]><Autodiscover><Request><EMailAddress>&l;</EMailAddress></Request></Autodiscover>"#;
/// assert!(parse_autodiscover_request(billion_laughs).is_err());
/// # Ok::<(), Error>(())
/// ```
pub fn parse_autodiscover_request(body: &[u8]) -> Result<EmailAddress, Error> {
    let fields = read_request(body)?;
    if let Some(schema) = fields.schema
        && schema != AUTODISCOVER_RESPONSE_SCHEMA
    {
        let shown: String = schema.chars().take(MAX_SCHEMA_ECHO).collect();
        return Err(Error::UnsupportedSchema(shown));
    }
    if fields.mobilesync {
        // ActiveSync requests name their own response schema; one that
        // names none still cannot be answered with ours.
        return Err(Error::UnsupportedSchema(String::new()));
    }
    let address = fields
        .email
        .ok_or_else(|| Error::invalid(REQUEST, "no EMailAddress in the request"))?;
    address
        .parse::<EmailAddress>()
        .map_err(|e| Error::invalid("e-mail address", e.to_string()))
}

/// The settings response for `email`: one `email` account whose IMAP and SMTP
/// servers use implicit TLS, with the address as login name.
///
/// ```
/// use guss_mail::autoconfig::{autodiscover_response, ClientSettings};
///
/// let settings = ClientSettings::new("praxis.example", "mail.praxis.example", "guss.praxis.example")?;
/// let address = "ben@praxis.example".parse().unwrap();
/// let xml = autodiscover_response(&settings, &address);
/// assert!(xml.contains("<Type>IMAP</Type>"));
/// assert!(xml.contains("<Port>465</Port>"));
/// # Ok::<(), guss_mail::autoconfig::Error>(())
/// ```
pub fn autodiscover_response(settings: &ClientSettings, email: &EmailAddress) -> String {
    let mut xml = XmlWriter::new();
    xml.open("Autodiscover", &[("xmlns", ENVELOPE_SCHEMA)]);
    xml.open("Response", &[("xmlns", AUTODISCOVER_RESPONSE_SCHEMA)]);
    xml.open("Account", &[]);
    xml.text("AccountType", "email");
    xml.text("Action", "settings");
    protocol(
        &mut xml,
        "IMAP",
        settings.imap_host(),
        settings.imap_port(),
        email,
    );
    protocol(
        &mut xml,
        "SMTP",
        settings.submission_host(),
        settings.submission_port(),
        email,
    );
    xml.close("Account");
    xml.close("Response");
    xml.close("Autodiscover");
    xml.finish()
}

fn protocol(xml: &mut XmlWriter, kind: &str, host: &str, port: u16, email: &EmailAddress) {
    xml.open("Protocol", &[]);
    xml.text("Type", kind);
    xml.text("Server", host);
    xml.text("Port", &port.to_string());
    xml.text("DomainRequired", "off");
    xml.text("LoginName", email.as_str());
    xml.text("SPA", "off");
    // SSL "on" is implicit TLS from the first byte, which is what both
    // ports speak (Encryption would override it; it is left out).
    xml.text("SSL", "on");
    xml.text("AuthRequired", "on");
    if kind == "SMTP" {
        xml.text("UsePOPAuth", "off");
        xml.text("SMTPLast", "off");
    }
    xml.close("Protocol");
}

/// An Autodiscover error response.
///
/// ```
/// use guss_mail::autoconfig::{autodiscover_error_response, AutodiscoverError};
///
/// let xml = autodiscover_error_response(AutodiscoverError::UnsupportedSchema);
/// assert!(xml.contains("<ErrorCode>601</ErrorCode>"));
/// ```
pub fn autodiscover_error_response(error: AutodiscoverError) -> String {
    let mut xml = XmlWriter::new();
    xml.open("Autodiscover", &[("xmlns", ENVELOPE_SCHEMA)]);
    xml.open("Response", &[]);
    xml.open("Error", &[]);
    xml.text("ErrorCode", &error.code().to_string());
    xml.text("Message", error.message());
    xml.empty("DebugData");
    xml.close("Error");
    xml.close("Response");
    xml.close("Autodiscover");
    xml.finish()
}

const REQUEST: &str = "Autodiscover request";

/// What the request said.
#[derive(Default)]
struct RequestFields {
    email: Option<String>,
    schema: Option<String>,
    mobilesync: bool,
}

/// Where the reader is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Root,
    Request,
    EmailAddress,
    ResponseSchema,
    /// An element guss does not read (`LegacyDN`, extensions).
    Other,
}

fn read_request(body: &[u8]) -> Result<RequestFields, Error> {
    check_limit(MAX_AUTODISCOVER_REQUEST, body.len())?;
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|_| Error::invalid(REQUEST, "not UTF-8"))?;

    let mut reader = NsReader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut fields = RequestFields::default();
    let mut stack: Vec<Slot> = Vec::new();
    // The namespace the root element was in; its children must share it.
    let mut root_namespace: Option<Option<String>> = None;
    let mut elements = 0usize;
    let mut value = String::new();

    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| Error::invalid(REQUEST, e.to_string()))?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                elements += 1;
                check_limit(MAX_ELEMENTS, elements)?;
                let namespace = match resolved {
                    ResolveResult::Bound(ns) => Some(ns.as_ref().to_owned()),
                    ResolveResult::Unbound => None,
                    ResolveResult::Unknown(prefix) => {
                        return Err(Error::invalid(
                            REQUEST,
                            format!("undeclared namespace prefix {prefix:?}"),
                        ));
                    }
                };
                let local = start.local_name();
                let local = local.as_ref();
                let in_namespace = root_namespace.as_ref() == Some(&namespace);
                let slot = match stack.last().copied() {
                    None if root_namespace.is_some() => {
                        return Err(Error::invalid(REQUEST, "content after the root element"));
                    }
                    None => {
                        if local != "Autodiscover" {
                            return Err(Error::invalid(REQUEST, "the root is not Autodiscover"));
                        }
                        match namespace.as_deref() {
                            None | Some(AUTODISCOVER_REQUEST_SCHEMA) => {}
                            Some(MOBILESYNC_REQUEST_SCHEMA) => fields.mobilesync = true,
                            Some(_) => {
                                return Err(Error::invalid(
                                    REQUEST,
                                    "the root is not in the Autodiscover request namespace",
                                ));
                            }
                        }
                        root_namespace = Some(namespace.clone());
                        Slot::Root
                    }
                    Some(Slot::Root) if local == "Request" && in_namespace => Slot::Request,
                    Some(Slot::Request) if local == "EMailAddress" && in_namespace => {
                        if fields.email.is_some() {
                            return Err(Error::invalid(REQUEST, "more than one EMailAddress"));
                        }
                        value.clear();
                        Slot::EmailAddress
                    }
                    Some(Slot::Request) if local == "AcceptableResponseSchema" && in_namespace => {
                        if fields.schema.is_some() {
                            return Err(Error::invalid(
                                REQUEST,
                                "more than one AcceptableResponseSchema",
                            ));
                        }
                        value.clear();
                        Slot::ResponseSchema
                    }
                    Some(Slot::EmailAddress | Slot::ResponseSchema) => {
                        return Err(Error::invalid(REQUEST, "markup inside a text element"));
                    }
                    Some(_) => Slot::Other,
                };
                if matches!(event, Event::Empty(_)) {
                    finish_slot(slot, &mut value, &mut fields);
                } else {
                    check_limit(MAX_DEPTH, stack.len() + 1)?;
                    stack.push(slot);
                }
            }
            Event::End(_) => {
                let slot = stack
                    .pop()
                    .ok_or_else(|| Error::invalid(REQUEST, "unbalanced end tag"))?;
                finish_slot(slot, &mut value, &mut fields);
            }
            Event::Text(text) => {
                let content = text.xml10_content();
                match stack.last() {
                    Some(Slot::EmailAddress | Slot::ResponseSchema) => value.push_str(&content),
                    Some(_) => {}
                    None if content.trim().is_empty() => {}
                    None => return Err(Error::invalid(REQUEST, "text outside the root element")),
                }
            }
            Event::CData(data) => match stack.last() {
                Some(Slot::EmailAddress | Slot::ResponseSchema) => {
                    value.push_str(&data.xml10_content());
                }
                Some(_) => {}
                None => return Err(Error::invalid(REQUEST, "CDATA outside the root element")),
            },
            Event::GeneralRef(reference) => {
                // Only character references and XML's five predefined
                // entities exist here: there is no DTD to define others.
                let resolved = match reference
                    .resolve_char_ref()
                    .map_err(|e| Error::invalid(REQUEST, e.to_string()))?
                {
                    Some(c) => c.to_string(),
                    None => {
                        let name = reference.xml10_content();
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| {
                                Error::invalid(REQUEST, "entities other than XML's five")
                            })?
                            .to_owned()
                    }
                };
                match stack.last() {
                    Some(Slot::EmailAddress | Slot::ResponseSchema) => value.push_str(&resolved),
                    Some(_) => {}
                    None => return Err(Error::invalid(REQUEST, "text outside the root element")),
                }
            }
            Event::DocType(_) => return Err(Error::invalid(REQUEST, "DTDs are not accepted")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(Error::invalid(REQUEST, "unclosed element"));
    }
    if root_namespace.is_none() {
        return Err(Error::invalid(REQUEST, "empty body"));
    }
    Ok(fields)
}

fn finish_slot(slot: Slot, value: &mut String, fields: &mut RequestFields) {
    match slot {
        Slot::EmailAddress => fields.email = Some(std::mem::take(value).trim().to_owned()),
        Slot::ResponseSchema => fields.schema = Some(std::mem::take(value).trim().to_owned()),
        Slot::Root | Slot::Request | Slot::Other => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTLOOK: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>anna@kanzlei.example</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>"#;

    #[test]
    fn reads_outlook() {
        let address = parse_autodiscover_request(OUTLOOK.as_bytes()).unwrap();
        assert_eq!(address.as_str(), "anna@kanzlei.example");
    }

    #[test]
    fn entities_inside_values_are_resolved() {
        let body = OUTLOOK.replace("anna@", "ann&#97;&#x40;");
        let address = parse_autodiscover_request(body.as_bytes()).unwrap();
        assert_eq!(address.as_str(), "anna@kanzlei.example");
    }

    #[test]
    fn error_mapping() {
        let err = parse_autodiscover_request(b"").unwrap_err();
        assert_eq!(
            AutodiscoverError::for_error(&err),
            AutodiscoverError::InvalidRequest
        );
        let body = OUTLOOK.replace(
            "outlook/responseschema/2006a",
            "mobilesync/responseschema/2006",
        );
        let err = parse_autodiscover_request(body.as_bytes()).unwrap_err();
        assert_eq!(
            AutodiscoverError::for_error(&err),
            AutodiscoverError::UnsupportedSchema
        );
        assert_eq!(AutodiscoverError::UnknownAddress.code(), 500);
        assert_eq!(AutodiscoverError::UnsupportedSchema.code(), 601);
    }
}
