//! "Connect your devices": per device an app password, labelled and scoped,
//! with what that device needs to set itself up — an Apple configuration
//! profile, the addresses for Thunderbird, DAVx⁵ and Windows — and a QR
//! code to carry it to a phone.
//!
//! An Apple profile holds the app password, so it is never stored in
//! clear: the one-time link to it carries the key it is sealed with. It is
//! signed with the server's certificate when there is one.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guss_core::{EmailAddress, Scope};
use guss_mail::autoconfig::{ClientSettings, DeviceAccount, ProfileSigner, mobileconfig};
use ring::aead;
use serde::Deserialize;

use super::i18n::Text;
use super::{Layout, Visit, WebError, organisation_name, plain, render};
use crate::bundle::Bundle;

/// How long a profile link works.
const PROFILE_LINK_SECONDS: i64 = 15 * 60;

/// The kinds of device the page offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Device {
    Apple,
    Thunderbird,
    Davx5,
    Windows,
}

impl Device {
    const ALL: [Device; 4] = [
        Device::Apple,
        Device::Thunderbird,
        Device::Davx5,
        Device::Windows,
    ];

    fn key(self) -> &'static str {
        match self {
            Device::Apple => "apple",
            Device::Thunderbird => "thunderbird",
            Device::Davx5 => "davx5",
            Device::Windows => "windows",
        }
    }

    fn texts(self, t: &Text) -> (&'static str, &'static str) {
        match self {
            Device::Apple => (t.device_apple, t.device_apple_text),
            Device::Thunderbird => (t.device_thunderbird, t.device_thunderbird_text),
            Device::Davx5 => (t.device_davx5, t.device_davx5_text),
            Device::Windows => (t.device_windows, t.device_windows_text),
        }
    }

    /// What the device's password may be used for.
    fn scopes(self) -> &'static [Scope] {
        match self {
            Device::Apple => &[Scope::Mail, Scope::Calendar, Scope::Contacts, Scope::Files],
            Device::Thunderbird => &[Scope::Mail, Scope::Calendar, Scope::Contacts],
            Device::Davx5 => &[Scope::Calendar, Scope::Contacts, Scope::Files],
            Device::Windows => &[Scope::Files, Scope::Mail, Scope::Calendar],
        }
    }
}

struct DeviceCard {
    key: &'static str,
    name: &'static str,
    text: &'static str,
}

#[derive(Template)]
#[template(path = "devices.html")]
struct DevicesPage {
    l: Layout,
    step_up: &'static str,
    devices: Vec<DeviceCard>,
    connected: Vec<String>,
}

/// The devices page.
pub(super) async fn page(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
) -> Result<Response, WebError> {
    let session = visit.signed_in()?;
    let t = visit.text();
    let connected = bundle
        .identity
        .app_passwords(session)
        .await?
        .into_iter()
        .map(|p| {
            format!(
                "{} ({})",
                p.label,
                p.created_at
                    .with_timezone(&chrono_tz::Europe::Berlin)
                    .format("%d.%m.%Y")
            )
        })
        .collect();
    render(&DevicesPage {
        l: visit.layout(&bundle, t.devices_title).await,
        step_up: if visit.stepped_up(&bundle) {
            "done"
        } else {
            "needed"
        },
        devices: Device::ALL
            .into_iter()
            .map(|d| {
                let (name, text) = d.texts(t);
                DeviceCard {
                    key: d.key(),
                    name,
                    text,
                }
            })
            .collect(),
        connected,
    })
}

#[derive(Deserialize)]
pub(super) struct ConnectForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    label: String,
}

#[derive(Template)]
#[template(path = "device_ready.html")]
struct ReadyPage {
    l: Layout,
    label: String,
    username: String,
    password: String,
    webdav_url: String,
    caldav_url: String,
    mail_host: String,
    profile_link: Option<String>,
    qr_svg: String,
}

/// Mints the device's app password and shows how to use it.
pub(super) async fn connect(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<ConnectForm>,
) -> Result<Response, WebError> {
    visit.check_form(&bundle, &form.csrf)?;
    let tenant = visit.tenant()?;
    let session = visit.signed_in()?;
    let device = Device::ALL
        .into_iter()
        .find(|d| d.key() == form.kind)
        .ok_or(WebError::NotFound)?;
    let t = visit.text();
    let label = form.label.trim();
    let created = match bundle
        .identity
        .create_app_password(session, label, device.scopes())
        .await
    {
        Ok(created) => created,
        Err(guss_identity::Error::StepUpRequired) => {
            return Err(WebError::StepUp);
        }
        Err(e) => return Err(e.into()),
    };
    let me = visit.me(&bundle).await?;
    let address = me.emails.first().cloned().ok_or(WebError::NotFound)?;
    let username = address.as_str().to_owned();
    let webdav_url = format!("{}/dav/files/people/{}/", visit.origin, username);
    let caldav_url = format!("{}/.well-known/caldav", visit.origin);
    let settings = client_settings(&bundle, tenant, &visit, &address).await?;
    let mut profile_link = None;
    let qr_text = match device {
        Device::Apple => {
            let account = DeviceAccount::new(
                address.clone(),
                me.display_name.clone(),
                username.clone(),
                created.password.clone().into(),
                label,
            );
            let signer = profile_signer(&bundle);
            let profile = mobileconfig(&settings, &account, signer.as_ref())
                .map_err(|e| WebError::Backend(e.into()))?;
            let link = seal_profile(&bundle, tenant, &profile).await?;
            let link = format!("{}/devices/profile/{link}", visit.origin);
            profile_link = Some(link.clone());
            link
        }
        Device::Davx5 => {
            let host = visit.origin.split_once("://").map_or("", |(_, h)| h);
            format!(
                "davx5://{}:{}@{host}/.well-known/caldav",
                url::form_urlencoded::byte_serialize(username.as_bytes()).collect::<String>(),
                created.password,
            )
        }
        Device::Thunderbird => format!(
            "{}/.well-known/autoconfig/mail/config-v1.1.xml",
            visit.origin
        ),
        Device::Windows => webdav_url.clone(),
    };
    render(&ReadyPage {
        l: visit.layout(&bundle, t.device_ready_title).await,
        label: label.to_owned(),
        username,
        password: created.password,
        webdav_url,
        caldav_url,
        mail_host: settings.imap_host().to_owned(),
        profile_link,
        qr_svg: qr_svg(&qr_text)?,
    })
}

/// The client settings of the organisation's mail domain (or its host).
async fn client_settings(
    bundle: &Bundle,
    tenant: guss_core::TenantId,
    visit: &Visit,
    address: &EmailAddress,
) -> Result<ClientSettings, WebError> {
    let office = bundle.settings(tenant).await?;
    let web_host = visit
        .origin
        .split_once("://")
        .map_or("localhost", |(_, h)| h.split(':').next().unwrap_or(h));
    let domain = office
        .mail_domain
        .unwrap_or_else(|| address.domain().to_owned());
    let organisation = organisation_name(bundle, tenant).await?;
    let settings = ClientSettings::new(&domain, &bundle.config.mail_hostname(), web_host)
        .and_then(|s| s.with_display_name(&organisation))
        .map_err(|e| WebError::Backend(e.into()))?;
    Ok(settings)
}

/// The server's certificate as the signer of configuration profiles (iOS
/// and macOS show a signed profile as verified): the configured
/// certificate files, or the one from ACME. `None` on a plain-HTTP trial.
fn profile_signer(bundle: &Bundle) -> Option<ProfileSigner> {
    let tls = &bundle.config.tls;
    let (chain, key) = match (&tls.certificate_file, &tls.key_file) {
        (Some(chain), Some(key)) => (chain.clone(), key.clone()),
        _ if tls.acme_directory.is_some() => {
            let dir = bundle.config.data.join("acme");
            (dir.join("chain.pem"), dir.join("key.pem"))
        }
        _ => return None,
    };
    let (chain, key) = (std::fs::read(chain).ok()?, std::fs::read(key).ok()?);
    match ProfileSigner::from_pem(&chain, &key) {
        Ok(signer) => Some(signer),
        Err(e) => {
            tracing::warn!(error = %e, "profiles go out unsigned: the certificate cannot sign");
            None
        }
    }
}

/// An SVG QR code of `text`.
fn qr_svg(text: &str) -> Result<String, WebError> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| WebError::Backend(e.into()))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

/// The key and lookup id of a profile link token.
fn link_keys(token: &[u8]) -> Option<(aead::LessSafeKey, Vec<u8>)> {
    let key_bytes = ring::digest::digest(&ring::digest::SHA256, &[b"profile-key:", token].concat());
    let id = ring::digest::digest(&ring::digest::SHA256, &[b"profile-id:", token].concat());
    let key = aead::UnboundKey::new(&aead::AES_256_GCM, key_bytes.as_ref()).ok()?;
    Some((aead::LessSafeKey::new(key), id.as_ref().to_vec()))
}

/// Seals `profile` and returns the one-time link token that opens it.
async fn seal_profile(
    bundle: &Bundle,
    tenant: guss_core::TenantId,
    profile: &[u8],
) -> Result<String, WebError> {
    let token = crate::secrets::random_key()?;
    let (key, id) = link_keys(&token).ok_or_else(|| WebError::Backend(anyhow::anyhow!("key")))?;
    let mut sealed = profile.to_vec();
    // Each key seals exactly one profile, so a fixed nonce is never reused.
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key([0; 12]),
        aead::Aad::empty(),
        &mut sealed,
    )
    .map_err(|_| WebError::Backend(anyhow::anyhow!("sealing the profile failed")))?;
    let now = bundle.clock.now().timestamp();
    bundle
        .offices
        .put_device_link(tenant, &id, &sealed, now + PROFILE_LINK_SECONDS, now)
        .await?;
    Ok(URL_SAFE_NO_PAD.encode(token))
}

/// Downloads a device profile, once, by its link.
pub(super) async fn profile(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let tenant = visit.tenant()?;
    let Some((key, id)) = URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .ok()
        .filter(|t| t.len() == 32)
        .and_then(|t| link_keys(&t))
    else {
        return Ok(plain(StatusCode::NOT_FOUND, "This link is not valid.\n"));
    };
    let now = bundle.clock.now().timestamp();
    let Some(mut sealed) = bundle.offices.take_device_link(tenant, &id, now).await? else {
        return Ok(plain(
            StatusCode::GONE,
            "This link was used or has expired. Create a new one on the devices page.\n",
        ));
    };
    let profile = key
        .open_in_place(
            aead::Nonce::assume_unique_for_key([0; 12]),
            aead::Aad::empty(),
            &mut sealed,
        )
        .map_err(|_| WebError::NotFound)?;
    Ok((
        [
            (CONTENT_TYPE, "application/x-apple-aspen-config"),
            (
                CONTENT_DISPOSITION,
                "attachment; filename=\"guss.mobileconfig\"",
            ),
            (CACHE_CONTROL, "no-store"),
        ],
        profile.to_vec(),
    )
        .into_response())
}
