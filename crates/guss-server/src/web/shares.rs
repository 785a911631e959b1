//! Share links: made on a file or folder's page (view or upload-only, an
//! expiry, an optional access code), listed with their downloads, revoked;
//! and the page a link's holder opens, without signing in.
//!
//! A link's token is its secret: it is shown once, when made. A holder who
//! gives the access code gets a cookie for that link's pages only.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderValue;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone as _, Utc};
use guss_core::Action;
use guss_dav::DavPath;
use guss_policy::audit::{AuditSearch, MAX_SEARCH};
use guss_storage::model::{EntryKind, ShareMode, ShareOptions};
use guss_storage::store::SharedAccess;
use serde::Deserialize;

use super::files::{
    Caller, Crumb, attachment, body_stream, crumbs, declared_type, encode, failed, form_header,
    item_page, parse_path, size, when,
};
use super::files_text::{Done, FilesText};
use super::{DoneQuery, IdForm, Layout, Visit, WebError, render, see_other};
use crate::bundle::Bundle;
use crate::office::OFFICE_ZONE;

/// The longest an access code may be.
const MAX_CODE: usize = 100;

/// The share form on an item's page.
#[derive(Deserialize)]
pub(super) struct ShareForm {
    csrf: String,
    path: String,
    mode: String,
    /// The last day the link works (office time), if any.
    #[serde(default)]
    expires: String,
    #[serde(default)]
    code: String,
}

/// `POST /files/share`: makes a link and shows it once on the item's page.
pub(super) async fn create(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<ShareForm>,
) -> Result<Response, WebError> {
    let caller = Caller::form(&bundle, &visit, &form.csrf).await?;
    let t = visit.text().files;
    let path = parse_path(&form.path)?;
    caller.allow(Action::SHARE, &path).await?;
    let mode = match form.mode.as_str() {
        "view" => ShareMode::View,
        "upload" => ShareMode::Upload,
        _ => return Err(WebError::Invalid(t.error_share_mode.to_owned())),
    };
    let expires_at = match form.expires.trim() {
        "" => None,
        day => {
            let day = NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map_err(|_| WebError::Invalid(t.error_expiry.to_owned()))?;
            // The link works through the whole of its last day.
            let end = day
                .succ_opt()
                .and_then(|next| {
                    OFFICE_ZONE
                        .from_local_datetime(&next.and_time(NaiveTime::MIN))
                        .earliest()
                })
                .ok_or_else(|| WebError::Invalid(t.error_expiry.to_owned()))?
                .to_utc();
            if end <= bundle.clock.now() {
                return Err(WebError::Invalid(t.error_expiry.to_owned()));
            }
            Some(end)
        }
    };
    let code = form.code.trim();
    if !code.is_empty() && !valid_code(code) {
        return Err(WebError::Invalid(t.error_code.to_owned()));
    }
    let options = ShareOptions {
        mode,
        expires_at,
        access_code: (!code.is_empty()).then(|| code.to_owned()),
        max_downloads: None,
    };
    let (_, token) = caller
        .files
        .create_share_link(&path, &options, &caller.principal)
        .await
        .map_err(|e| failed(t, e))?;
    let link = format!("{}/s/{token}", visit.origin);
    item_page(
        &bundle,
        &visit,
        &form.path,
        Some(Done::Shared.key()),
        Some(link),
    )
    .await
}

struct LinkRow {
    id: String,
    path: String,
    href: String,
    mode: &'static str,
    expires: String,
    coded: bool,
    downloads: u64,
    created: String,
    /// How often it was used (or refused), with a "+" when the page read
    /// only the newest accesses of the organisation.
    access_count: String,
    /// Its newest accesses, newest first: when and what.
    accesses: Vec<(String, &'static str)>,
}

/// Accesses a link's row lists (the count covers all that were read).
const ACCESSES_SHOWN: usize = 20;

/// Accesses read from the audit log per visit (the newest), so that a
/// link used very often cannot make the page slow.
const ACCESSES_READ: usize = 10_000;

/// The share links' accesses from the organisation's audit log, newest
/// first, per link: when, and what happened (opened, a download, an upload,
/// a wrong access code); and whether all were read.
async fn accesses(
    bundle: &Bundle,
    tenant: guss_core::TenantId,
    t: &FilesText,
) -> Result<
    (
        HashMap<uuid::Uuid, Vec<(DateTime<Utc>, &'static str)>>,
        bool,
    ),
    WebError,
> {
    let kinds = [
        ("guss.storage.share_link.opened", t.access_opened),
        ("guss.storage.share_link.downloaded", t.access_downloaded),
        ("guss.storage.share_link.uploaded", t.access_uploaded),
        ("guss.storage.share_link.refused", t.access_refused),
    ];
    let mut search = AuditSearch {
        kinds: kinds.iter().map(|(kind, _)| (*kind).to_owned()).collect(),
        limit: MAX_SEARCH,
        ..AuditSearch::default()
    };
    let mut found: HashMap<uuid::Uuid, Vec<_>> = HashMap::new();
    let mut read = 0;
    loop {
        if read >= ACCESSES_READ {
            return Ok((found, false));
        }
        let page = bundle
            .audit
            .search(tenant, &search)
            .await
            .map_err(|e| WebError::Backend(e.into()))?;
        read += page.len();
        for entry in &page {
            let Ok(event) = serde_json::from_str::<guss_core::Event>(&entry.event) else {
                continue;
            };
            let Some((_, what)) = kinds
                .iter()
                .find(|(kind, _)| *kind == event.kind().as_str())
            else {
                continue;
            };
            // Opened and refused name the link as their subject; downloads
            // and uploads name the file and carry the link in their data.
            let link = event
                .data()
                .and_then(|d| d.get("link"))
                .and_then(|l| l.as_str())
                .or(event.subject())
                .and_then(|id| id.parse().ok());
            if let Some(link) = link {
                found.entry(link).or_default().push((entry.time, *what));
            }
        }
        match page.last() {
            Some(oldest) if page.len() == MAX_SEARCH as usize => search.before = Some(oldest.seq),
            _ => return Ok((found, true)),
        }
    }
}

#[derive(Template)]
#[template(path = "files_shares.html")]
struct LinksPage {
    l: Layout,
    f: &'static FilesText,
    crumbs: Vec<Crumb>,
    links: Vec<LinkRow>,
    done: Option<&'static str>,
}

/// `GET /files/shares`: the active links the person may manage.
pub(super) async fn list(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Query(query): Query<DoneQuery>,
) -> Result<Response, WebError> {
    let caller = Caller::of(&bundle, &visit).await?;
    let t = visit.text().files;
    let lang = visit.lang;
    let now = bundle.clock.now();
    let mut links = Vec::new();
    let (mut seen, all_read) = accesses(&bundle, caller.files.tenant_id(), t).await?;
    for link in caller.files.share_links().await.map_err(|e| failed(t, e))? {
        let active = link.revoked_at.is_none() && link.expires_at.is_none_or(|e| e > now);
        if active && caller.may(Action::SHARE, &link.path).await {
            links.push(LinkRow {
                id: link.id.to_string(),
                path: link.path.to_string(),
                href: super::files::item_href(&link.path, None),
                mode: match link.mode {
                    ShareMode::View => t.share_view,
                    ShareMode::Upload => t.share_upload,
                },
                expires: link
                    .expires_at
                    .map_or_else(|| t.share_no_expiry.to_owned(), |e| when(lang, e)),
                coded: link.has_access_code,
                downloads: link.downloads,
                created: when(lang, link.created_at),
                access_count: {
                    let count = seen.get(&link.id).map_or(0, Vec::len);
                    if all_read {
                        count.to_string()
                    } else {
                        format!("{count}+")
                    }
                },
                accesses: seen
                    .remove(&link.id)
                    .unwrap_or_default()
                    .into_iter()
                    .take(ACCESSES_SHOWN)
                    .map(|(at, what)| (when(lang, at), what))
                    .collect(),
            });
        }
    }
    let page = LinksPage {
        l: visit.layout(&bundle, t.shares_title).await,
        f: t,
        crumbs: crumbs(t, &caller, &DavPath::root()),
        links,
        done: Done::said(query.done.as_deref(), t),
    };
    render(&page)
}

/// `POST /files/shares/revoke`: the link stops working.
pub(super) async fn revoke(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<IdForm>,
) -> Result<Response, WebError> {
    let caller = Caller::form(&bundle, &visit, &form.csrf).await?;
    let t = visit.text().files;
    let link = caller
        .files
        .share_links()
        .await
        .map_err(|e| failed(t, e))?
        .into_iter()
        .find(|l| l.id == form.id)
        .ok_or(WebError::NotFound)?;
    caller.allow(Action::SHARE, &link.path).await?;
    caller
        .files
        .revoke_share_link(form.id, &caller.principal)
        .await
        .map_err(|e| failed(t, e))?;
    Ok(see_other("/files/shares?done=revoked"))
}

/// The cookie that carries a coded link's access code, for its pages only.
fn code_cookie(token: &str) -> String {
    // Tokens are URL-safe base64; anything else cannot name a cookie.
    let safe: String = token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    format!("guss_share_{safe}")
}

/// Opens the link of a holder's request.
async fn open(
    bundle: &Bundle,
    visit: &Visit,
    token: &str,
) -> Result<Result<SharedAccess, Needs>, WebError> {
    let tenant = visit.tenant()?;
    let code = visit.cookie(&code_cookie(token));
    match bundle
        .files
        .tenant(tenant)
        .open_share_link(token, code.as_deref())
        .await
    {
        Ok(access) => Ok(Ok(access)),
        Err(guss_storage::Error::Forbidden) => Ok(Err(Needs::Code {
            wrong: code.is_some(),
        })),
        Err(_) => Err(WebError::Invalid(visit.text().files.share_gone.to_owned())),
    }
}

/// What a holder must give first.
enum Needs {
    Code { wrong: bool },
}

struct SharedRow {
    name: String,
    folder: bool,
    href: String,
    size: String,
    modified: String,
}

#[derive(Template)]
#[template(path = "shared.html")]
struct SharedPage {
    l: Layout,
    f: &'static FilesText,
    token: String,
    /// Where in the shared folder (relative), for the trail.
    here: String,
    up: Option<String>,
    rows: Vec<SharedRow>,
    upload: bool,
    needs_code: bool,
    wrong_code: bool,
    file: Option<SharedRow>,
}

#[derive(Deserialize)]
pub(super) struct SharedQuery {
    #[serde(default)]
    path: String,
}

/// `GET /s/{token}?path=REL`: what the link shares (a file, a folder's
/// members, or the upload form).
pub(super) async fn page(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Path(token): Path<String>,
    Query(query): Query<SharedQuery>,
) -> Result<Response, WebError> {
    let t = visit.text().files;
    let lang = visit.lang;
    let mut page = SharedPage {
        l: visit.layout(&bundle, t.shared_title).await,
        f: t,
        token: token.clone(),
        here: String::new(),
        up: None,
        rows: Vec::new(),
        upload: false,
        needs_code: false,
        wrong_code: false,
        file: None,
    };
    let access = match open(&bundle, &visit, &token).await? {
        Ok(access) => access,
        Err(Needs::Code { wrong }) => {
            page.needs_code = true;
            page.wrong_code = wrong;
            return render(&page);
        }
    };
    if access.link().mode == ShareMode::Upload {
        page.upload = true;
        page.l.title = format!(
            "{}: {}",
            t.shared_upload_title,
            access.link().path.name().unwrap_or_default()
        );
        return render(&page);
    }
    let relative = parse_path(&query.path)?;
    let entry = access
        .stat(&relative)
        .await
        .map_err(|e| failed(t, e))?
        .ok_or(WebError::NotFound)?;
    let shared_row = |rel: &DavPath, entry: &guss_storage::model::Entry| SharedRow {
        name: entry.path.name().unwrap_or_default().to_owned(),
        folder: entry.kind == EntryKind::Folder,
        href: match entry.kind {
            EntryKind::Folder => format!("/s/{token}?path={}", encode(&rel.to_string())),
            EntryKind::File => format!("/s/{token}/download?path={}", encode(&rel.to_string())),
        },
        size: size(lang, entry.size),
        modified: when(lang, entry.modified),
    };
    page.l.title = entry.path.name().unwrap_or_default().to_owned();
    match entry.kind {
        EntryKind::File => page.file = Some(shared_row(&relative, &entry)),
        EntryKind::Folder => {
            page.here = relative.to_string();
            page.up = (!relative.is_root()).then(|| {
                let parent = relative.parent().unwrap_or_default();
                format!("/s/{token}?path={}", encode(&parent.to_string()))
            });
            for member in access.list(&relative).await.map_err(|e| failed(t, e))? {
                let Some(name) = member.path.name() else {
                    continue;
                };
                let Ok(rel) = relative.join(name) else {
                    continue;
                };
                page.rows.push(shared_row(&rel, &member));
            }
        }
    }
    render(&page)
}

/// `GET /s/{token}/download?path=REL`: a shared file.
pub(super) async fn download(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Path(token): Path<String>,
    Query(query): Query<SharedQuery>,
) -> Result<Response, WebError> {
    let t = visit.text().files;
    let Ok(access) = open(&bundle, &visit, &token).await? else {
        return Ok(see_other(&format!("/s/{token}")));
    };
    let relative = parse_path(&query.path)?;
    let entry = access
        .stat(&relative)
        .await
        .map_err(|e| failed(t, e))?
        .filter(|e| e.kind == EntryKind::File)
        .ok_or(WebError::NotFound)?;
    let body = access.download(&relative).await.map_err(|e| failed(t, e))?;
    Ok(attachment(body, &entry))
}

/// The access code form.
#[derive(Deserialize)]
pub(super) struct CodeForm {
    #[serde(default)]
    csrf: String,
    code: String,
}

/// Whether `code` can be an access code: up to 100 visible ASCII
/// characters, none that a cookie cannot hold.
fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_CODE
        && code
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, ';' | ',' | '"' | '\\'))
}

/// `POST /s/{token}`: remembers the access code for this link's pages.
pub(super) async fn give_code(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Path(token): Path<String>,
    Form(form): Form<CodeForm>,
) -> Result<Response, WebError> {
    visit.check_form(&bundle, &form.csrf)?;
    let code = form.code.trim();
    if !valid_code(code) {
        return Err(WebError::Invalid(visit.text().files.error_code.to_owned()));
    }
    let mut response = see_other(&format!("/s/{token}"));
    let cookie = format!(
        "{}={}; Path=/s/{}; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        code_cookie(&token),
        code,
        encode(&token),
        if visit.origin.starts_with("https://") {
            "; Secure"
        } else {
            ""
        }
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    Ok(response)
}

/// The query of a holder's upload.
#[derive(Deserialize)]
pub(super) struct NameQuery {
    name: String,
}

/// `POST /s/{token}/upload?name=NAME` with the file as the body (and the
/// form token, if signed in, in `X-Guss-Form`): drops a file into an
/// upload-only link's folder. Plain text answers, for the script.
pub(super) async fn upload(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Path(token): Path<String>,
    Query(query): Query<NameQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    visit.check_form(&bundle, form_header(&headers))?;
    let t = visit.text().files;
    let Ok(access) = open(&bundle, &visit, &token).await? else {
        return Err(WebError::Forbidden);
    };
    access
        .upload(
            query.name.trim(),
            body_stream(body),
            declared_type(&headers),
        )
        .await
        .map_err(|e| failed(t, e))?;
    Ok((StatusCode::CREATED, "stored\n").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_codes_fit_in_a_cookie() {
        assert!(valid_code("Sommer-2026!"));
        assert!(!valid_code(""));
        assert!(!valid_code("a;b"));
        assert!(!valid_code("zwei Wörter"));
        assert!(!valid_code(&"x".repeat(101)));
        assert_eq!(code_cookie("abc-_DEF"), "guss_share_abc-_DEF");
        assert_eq!(code_cookie("a;b=c"), "guss_share_abc");
    }
}
