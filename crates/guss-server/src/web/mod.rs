//! The web pages: the setup wizard, joining by invitation, sign-in, the
//! home page and the devices page. Server-rendered HTML (askama templates
//! in `templates/`) with one small script for the passkey ceremonies, which
//! talk to guss-identity's JSON endpoints at `/api/identity/`.
//!
//! Forms are protected twice against cross-site requests: the browser's
//! `Origin` must be this organisation's, and signed-in forms carry a token
//! derived from the session (an HMAC, so nothing is stored). Admin forms
//! also need a fresh passkey confirmation (step-up), which the script
//! performs before it submits them.

/// What a page's form just did, as a name in the next page's address
/// (`?done=key`) and a sentence in the page's words:
/// `results! { Words; Variant => "key", field; … }` makes the enum `Done`.
macro_rules! results {
    ($text:ty; $($variant:ident => $key:literal, $field:ident;)+) => {
        /// What was just done, named in the address of the page that follows.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Done {
            $(
                #[doc = concat!("`", $key, "`.")]
                $variant,
            )+
        }

        impl Done {
            /// Every one of them.
            pub const ALL: &[Done] = &[$(Done::$variant),+];

            /// The name in the address.
            pub fn key(self) -> &'static str {
                match self {
                    $(Done::$variant => $key,)+
                }
            }

            /// The one a name names.
            pub fn from_key(key: &str) -> Option<Done> {
                Done::ALL.iter().copied().find(|d| d.key() == key)
            }

            /// The sentence that says it.
            pub fn text(self, t: &$text) -> &'static str {
                match self {
                    $(Done::$variant => t.$field,)+
                }
            }

            /// The sentence for the name in a page's address, if it names one.
            pub fn said(key: Option<&str>, t: &$text) -> Option<&'static str> {
                key.and_then(Done::from_key).map(|d| d.text(t))
            }
        }

        #[cfg(test)]
        mod results_tests {
            use super::*;

            #[test]
            fn every_result_has_a_name_and_a_sentence_in_both_languages() {
                for &done in Done::ALL {
                    assert_eq!(Done::from_key(done.key()), Some(done));
                    assert!(!done.text(&DE).is_empty());
                    assert_ne!(done.text(&DE), done.text(&EN));
                }
                assert_eq!(Done::said(Some("<script>"), &DE), None);
            }
        }
    };
}
pub(crate) use results;

mod calendar;
pub mod calendar_text;
mod devices;
mod error;
mod events;
mod files;
pub mod files_text;
mod history;
mod home;
pub mod i18n;
mod invite;
mod join;
mod people;
pub mod people_text;
mod security;
pub mod security_text;
mod setup;
mod shares;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guss_core::{Action, Context, Resource, ResourceKind, TenantId};
use guss_identity::http::SESSION_COOKIE;
use guss_identity::{Person, Role, Session};

use crate::bundle::Bundle;
use crate::office::SetupStep;
pub use error::WebError;
use i18n::{LANG_COOKIE, Lang, Text};

/// The organisation a request is for, found from its host name.
#[derive(Clone, Copy, Debug)]
pub struct RequestTenant(pub Option<TenantId>);

/// The pages, to be merged at the root.
pub fn router(bundle: Arc<Bundle>) -> Router {
    Router::new()
        .route("/", get(home::start))
        .route("/setup", get(setup::start_page).post(setup::start))
        .route("/setup/office", get(setup::office_page).post(setup::office))
        .route("/setup/mail", get(setup::mail_page).post(setup::mail))
        .route("/setup/mail/check", axum::routing::post(setup::mail_check))
        .route("/setup/people", get(setup::people_page).post(setup::people))
        .route(
            "/setup/continuity",
            get(setup::continuity_page).post(setup::continuity),
        )
        .route("/setup/kit", axum::routing::post(setup::kit))
        .route("/setup/sheet", get(setup::sheet_page).post(setup::finish))
        .route("/join/{token}", get(join::join_page))
        .route("/welcome", get(join::welcome))
        .route("/sign-in", get(join::sign_in_page))
        .route("/home", get(home::home))
        .route("/devices", get(devices::page).post(devices::connect))
        .route("/devices/profile/{token}", get(devices::profile))
        .route("/files", get(files::folder))
        .route("/files/item", get(files::item))
        .route("/files/download", get(files::download))
        .route("/files/upload", post(files::upload))
        .route("/files/folder", post(files::new_folder))
        .route("/files/rename", post(files::rename))
        .route("/files/move", post(files::move_to))
        .route("/files/delete", post(files::delete))
        .route("/files/versions/restore", post(history::restore_version))
        .route("/files/trash", get(history::trash))
        .route("/files/trash/restore", post(history::restore_trash))
        .route(
            "/files/restore",
            get(history::restore_page).post(history::restore),
        )
        .route("/files/release", post(history::release))
        .route("/files/share", post(shares::create))
        .route("/files/shares", get(shares::list))
        .route("/files/shares/revoke", post(shares::revoke))
        .route("/calendar", get(calendar::page))
        .route("/calendar/new", get(events::new_form))
        .route("/calendar/edit", get(events::edit_form))
        .route("/calendar/save", post(events::save))
        .route("/calendar/event", get(events::show))
        .route("/calendar/occurrence/move", post(events::move_occurrence))
        .route(
            "/calendar/occurrence/cancel",
            post(events::cancel_occurrence),
        )
        .route("/calendar/delete", post(events::delete))
        .route("/calendar/answer", post(events::answer))
        .route("/calendar/bookables", get(calendar::bookables))
        .route("/calendar/bookables/add", post(calendar::add_bookable))
        .route(
            "/calendar/bookables/remove",
            post(calendar::remove_bookable),
        )
        .route("/people", get(people::list))
        .route("/people/invite", post(people::invite_person))
        .route(
            "/people/invitations/revoke",
            post(people::revoke_invitation),
        )
        .route(
            "/people/invitations/resend",
            post(people::resend_invitation),
        )
        .route("/people/person", get(people::show))
        .route("/people/role", post(people::set_role))
        .route("/people/suspend", post(people::suspend))
        .route("/people/reactivate", post(people::reactivate))
        .route("/people/depart", post(people::depart))
        .route("/people/deputy", post(people::name_deputy))
        .route("/people/represent", post(people::represent))
        .route("/people/grants/revoke", post(people::revoke_grant))
        .route("/security", get(security::page))
        .route("/security/sessions/revoke", post(security::revoke_session))
        .route(
            "/security/app-passwords/revoke",
            post(security::revoke_app_password),
        )
        .route("/security/passkeys/remove", post(security::remove_passkey))
        .route("/s/{token}", get(shares::page).post(shares::give_code))
        .route("/s/{token}/download", get(shares::download))
        .route("/s/{token}/upload", post(shares::upload))
        .route("/static/app.js", get(script))
        .route("/static/app.css", get(stylesheet))
        .with_state(bundle)
        .layer(axum::middleware::from_fn(error::localize))
        .layer(axum::middleware::from_fn(remember_language))
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    )
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// The `lang` query parameter, if any.
pub(crate) fn query_lang(uri: &axum::http::Uri) -> Option<String> {
    uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.into_owned())
    })
}

/// `?lang=en` (or `de`) switches the language and keeps it in a cookie.
async fn remember_language(request: Request, next: Next) -> Response {
    let chosen = query_lang(request.uri());
    let mut response = next.run(request).await;
    if let Some(code) = chosen.filter(|c| c == "de" || c == "en")
        && let Ok(value) = HeaderValue::from_str(&format!(
            "{LANG_COOKIE}={code}; Path=/; SameSite=Lax; Max-Age=31536000"
        ))
    {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// One page request: the organisation, the language, and who is signed in.
pub(crate) struct Visit {
    pub(crate) tenant: Option<TenantId>,
    pub(crate) lang: Lang,
    pub(crate) session: Option<(Session, String)>,
    /// `scheme://host` of this request.
    pub(crate) origin: String,
    headers: HeaderMap,
}

impl FromRequestParts<Arc<Bundle>> for Visit {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, bundle: &Arc<Bundle>) -> Result<Self, WebError> {
        let tenant = parts.extensions.get::<RequestTenant>().and_then(|t| t.0);
        let lang = Lang::of(&parts.headers, query_lang(&parts.uri).as_deref());
        let session = match (tenant, session_token(&parts.headers)) {
            (Some(tenant), Some(token)) => match bundle.identity.session(tenant, &token).await {
                Ok(session) => Some((session, token)),
                Err(_) => None,
            },
            _ => None,
        };
        let host = parts
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let scheme = match &bundle.config.public_url {
            Some(url) => url.scheme().to_owned(),
            None => "http".to_owned(),
        };
        Ok(Visit {
            tenant,
            lang,
            session,
            origin: format!("{scheme}://{}", host.to_ascii_lowercase()),
            headers: parts.headers.clone(),
        })
    }
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    guss_identity::http::cookie(headers, SESSION_COOKIE).map(str::to_owned)
}

impl Visit {
    pub(crate) fn text(&self) -> &'static Text {
        self.lang.text()
    }

    /// The organisation, or the "nothing here" page.
    pub(crate) fn tenant(&self) -> Result<TenantId, WebError> {
        self.tenant.ok_or(WebError::NoOffice)
    }

    /// The signed-in session, or off to sign-in.
    pub(crate) fn signed_in(&self) -> Result<&Session, WebError> {
        self.session
            .as_ref()
            .map(|(s, _)| s)
            .ok_or(WebError::SignIn)
    }

    /// The form token for this session.
    pub(crate) fn csrf(&self, bundle: &Bundle) -> String {
        match &self.session {
            Some((_, token)) => {
                let tag = ring::hmac::sign(&bundle.form_key, format!("form:{token}").as_bytes());
                URL_SAFE_NO_PAD.encode(tag.as_ref())
            }
            None => String::new(),
        }
    }

    /// Checks a submitted form: it comes from this origin and, when signed
    /// in, carries this session's token.
    pub(crate) fn check_form(&self, bundle: &Bundle, token: &str) -> Result<(), WebError> {
        let origin = self.headers.get(ORIGIN).and_then(|o| o.to_str().ok());
        if origin.is_none_or(|o| !o.eq_ignore_ascii_case(&self.origin)) {
            return Err(WebError::CrossSite);
        }
        if let Some((_, session)) = &self.session {
            let tag = URL_SAFE_NO_PAD
                .decode(token)
                .map_err(|_| WebError::CrossSite)?;
            ring::hmac::verify(&bundle.form_key, format!("form:{session}").as_bytes(), &tag)
                .map_err(|_| WebError::CrossSite)?;
        }
        Ok(())
    }

    /// Whether a passkey confirmed this session recently enough for admin
    /// actions.
    pub(crate) fn stepped_up(&self, bundle: &Bundle) -> bool {
        self.session.as_ref().is_some_and(|(s, _)| {
            s.stepped_up(
                bundle.clock.now(),
                bundle.identity.settings().step_up_window,
            )
        })
    }

    /// A cookie of the request.
    pub(crate) fn cookie(&self, name: &str) -> Option<String> {
        guss_identity::http::cookie(&self.headers, name).map(str::to_owned)
    }

    /// `needed` until a passkey confirmed this session for admin forms,
    /// then `done` (the pages' script reads it).
    pub(crate) fn step_up_state(&self, bundle: &Bundle) -> &'static str {
        if self.stepped_up(bundle) {
            "done"
        } else {
            "needed"
        }
    }

    /// The signed-in person.
    pub(crate) async fn me(&self, bundle: &Bundle) -> Result<Person, WebError> {
        use guss_identity::store::{IdentityStore as _, TenantRegistry as _};
        let session = self.signed_in()?;
        bundle
            .identity
            .store()
            .scoped(session.tenant)
            .await?
            .person(session.person())
            .await?
            .ok_or(WebError::SignIn)
    }

    /// The page frame for a signed-in person (navigation) or a visitor.
    pub(crate) async fn layout(&self, bundle: &Bundle, title: &str) -> Layout {
        let mut nav = None;
        if let (Some(_), Some(tenant)) = (&self.session, self.tenant) {
            let me = self.me(bundle).await.ok();
            let admin = me.as_ref().is_some_and(|p| p.is_admin());
            let setup_open = admin
                && bundle
                    .settings(tenant)
                    .await
                    .is_ok_and(|s| s.step < SetupStep::Done);
            nav = Some(Nav {
                name: me.map(|p| p.display_name).unwrap_or_default(),
                setup_open,
                admin,
            });
        }
        Layout {
            t: self.text(),
            lang: self.lang.code(),
            title: title.to_owned(),
            nav,
            csrf: self.csrf(bundle),
            steps: Vec::new(),
        }
    }
}

/// What every page frame shows.
pub(crate) struct Layout {
    pub(crate) t: &'static Text,
    pub(crate) lang: &'static str,
    pub(crate) title: String,
    pub(crate) nav: Option<Nav>,
    pub(crate) csrf: String,
    /// The wizard's steps, when on a wizard page.
    pub(crate) steps: Vec<StepView>,
}

/// The navigation of a signed-in person.
pub(crate) struct Nav {
    pub(crate) name: String,
    pub(crate) setup_open: bool,
    /// Whether the admin pages are offered.
    pub(crate) admin: bool,
}

/// One step in the wizard's step list.
pub(crate) struct StepView {
    pub(crate) name: &'static str,
    pub(crate) href: &'static str,
    pub(crate) current: bool,
    pub(crate) done: bool,
}

/// Whether `principal` administers its organisation.
pub(crate) async fn administers(bundle: &Bundle, principal: &guss_core::Principal) -> bool {
    let tenant = principal.tenant();
    let Ok(resource) = Resource::new(tenant, ResourceKind::TENANT, tenant.to_string()) else {
        return false;
    };
    bundle
        .authorizer
        .check(principal, &Action::ADMINISTER, &resource, &Context::new())
        .await
        .is_ok()
}

/// An admin form: from this origin, with the session's token, confirmed
/// with a passkey moments ago, by someone the policy lets administer.
pub(crate) async fn admin_form(
    bundle: &Bundle,
    visit: &Visit,
    csrf: &str,
) -> Result<Session, WebError> {
    visit.check_form(bundle, csrf)?;
    let session = visit.signed_in()?.clone();
    if !visit.stepped_up(bundle) {
        return Err(WebError::StepUp);
    }
    if !administers(bundle, &session.principal()).await {
        return Err(WebError::Forbidden);
    }
    Ok(session)
}

/// A form naming one thing by its id (a trash item, a link, an invitation).
#[derive(serde::Deserialize)]
pub(crate) struct IdForm {
    #[serde(default)]
    pub(crate) csrf: String,
    pub(crate) id: uuid::Uuid,
}

/// The query of a page that says what was just done there.
#[derive(serde::Deserialize)]
pub(crate) struct DoneQuery {
    #[serde(default)]
    pub(crate) done: Option<String>,
}

/// Renders a template as a page that is never cached.
pub(crate) fn render(page: &impl Template) -> Result<Response, WebError> {
    let html = page.render().map_err(|e| WebError::Backend(e.into()))?;
    Ok(([(CACHE_CONTROL, "no-store")], Html(html)).into_response())
}

/// A 303 to `to`.
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// An organisation as guss-identity keeps it (its name, its host).
pub(crate) async fn organisation(
    bundle: &Bundle,
    tenant: TenantId,
) -> Result<guss_identity::Tenant, WebError> {
    use guss_identity::store::TenantRegistry as _;
    bundle
        .identity
        .store()
        .tenant(tenant)
        .await?
        .ok_or(WebError::NoOffice)
}

/// An organisation's name.
pub(crate) async fn organisation_name(
    bundle: &Bundle,
    tenant: TenantId,
) -> Result<String, WebError> {
    Ok(organisation(bundle, tenant).await?.name)
}

/// The roles' names on the pages.
pub(crate) fn role_name(t: &Text, roles: &[Role]) -> &'static str {
    if roles.contains(&Role::OWNER) {
        t.role_owner
    } else if roles.contains(&Role::ADMIN) {
        t.role_admin
    } else {
        t.role_member
    }
}

/// A status code with a plain body: for the non-HTML endpoints.
pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}
