//! The files pages: browse a folder, upload into it, download, make a
//! folder, and one page per file or folder to rename, move, delete, see
//! and restore versions, and share it.
//!
//! Every action is checked with the bundle's authorizer for the signed-in
//! person, exactly as WebDAV checks it; forms carry the session's token
//! and must come from this origin. Uploads are one request per file with
//! the file as the body (the page's script sends them and shows their
//! progress), so they stream into the store however large they are.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use guss_core::{Action, Context, Principal, Resource, ResourceKind};
use guss_dav::DavPath;
use guss_storage::model::{Entry, EntryKind, VersionInfo};
use guss_storage::store::{BodyStream, TenantFiles};
use serde::Deserialize;

use super::files_text::{Done, FilesText};
use super::i18n::Lang;
use super::{Layout, Visit, WebError, render, see_other};
use crate::access::{OFFICE_HANDLE, handle_of};
use crate::bundle::Bundle;
use crate::office::OFFICE_ZONE;

/// The signed-in person's view of the organisation's files.
pub(super) struct Caller {
    pub(super) files: TenantFiles,
    pub(super) principal: Principal,
    pub(super) bundle: Arc<Bundle>,
    /// The person's own folder, `/people/ADDRESS`.
    pub(super) home: Option<DavPath>,
}

impl Caller {
    /// The caller of a signed-in visit.
    pub(super) async fn of(bundle: &Arc<Bundle>, visit: &Visit) -> Result<Caller, WebError> {
        let session = visit.signed_in()?;
        let me = visit.me(bundle).await?;
        let home = handle_of(&me).and_then(|h| DavPath::from_segments(["people", &h]).ok());
        Ok(Caller {
            files: bundle.files.tenant(session.tenant),
            principal: session.principal(),
            bundle: bundle.clone(),
            home,
        })
    }

    /// The caller of a signed-in form: from this origin, with the
    /// session's token.
    pub(super) async fn form(
        bundle: &Arc<Bundle>,
        visit: &Visit,
        csrf: &str,
    ) -> Result<Caller, WebError> {
        visit.check_form(bundle, csrf)?;
        Caller::of(bundle, visit).await
    }

    /// Whether the person may do `action` on `path`.
    pub(super) async fn may(&self, action: Action, path: &DavPath) -> bool {
        let Ok(resource) = Resource::new(
            self.files.tenant_id(),
            ResourceKind::FOLDER,
            path.to_string(),
        ) else {
            return false;
        };
        self.bundle
            .authorizer
            .check(&self.principal, &action, &resource, &Context::new())
            .await
            .is_ok()
    }

    /// Refuses unless the person may do `action` on `path`.
    pub(super) async fn allow(&self, action: Action, path: &DavPath) -> Result<(), WebError> {
        if self.may(action, path).await {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }

    /// Whether the person administers the organisation.
    pub(super) async fn admin(&self) -> bool {
        super::administers(&self.bundle, &self.principal).await
    }
}

/// A store error as a page error with a sentence in the page's language.
pub(super) fn failed(t: &FilesText, e: guss_storage::Error) -> WebError {
    use guss_storage::Error as E;
    match e {
        E::NotFound(_) => WebError::NotFound,
        E::Forbidden => WebError::Forbidden,
        E::AlreadyExists(_) => WebError::Invalid(t.error_exists.to_owned()),
        E::Conflict(why) => WebError::Invalid(format!("{} ({why})", t.error_conflict)),
        E::QuotaExceeded => WebError::Invalid(t.error_quota.to_owned()),
        E::LimitExceeded { .. } => WebError::Invalid(t.error_limit.to_owned()),
        E::Invalid { .. } => WebError::Invalid(t.error_name.to_owned()),
        other => WebError::Backend(other.into()),
    }
}

/// `name` (from a form) in `folder`, or the sentence about names.
pub(super) fn join_name(t: &FilesText, folder: &DavPath, name: &str) -> Result<DavPath, WebError> {
    folder
        .join(name.trim())
        .map_err(|_| WebError::Invalid(t.error_name.to_owned()))
}

/// A path from a form or query (`/office/Akten`).
pub(super) fn parse_path(text: &str) -> Result<DavPath, WebError> {
    DavPath::from_segments(text.split('/').filter(|s| !s.is_empty()))
        .map_err(|_| WebError::NotFound)
}

/// The query of most files pages: a path, and what was just done there.
#[derive(Deserialize)]
pub(super) struct At {
    #[serde(default)]
    path: String,
    #[serde(default)]
    done: Option<String>,
}

/// The address of a folder's page, with what was just done.
pub(super) fn folder_href(path: &DavPath, done: Option<Done>) -> String {
    with_done(format!("/files?path={}", encode(&path.to_string())), done)
}

/// The address of a file or folder's own page.
pub(super) fn item_href(path: &DavPath, done: Option<Done>) -> String {
    with_done(
        format!("/files/item?path={}", encode(&path.to_string())),
        done,
    )
}

fn with_done(href: String, done: Option<Done>) -> String {
    match done {
        Some(done) => format!("{href}&done={}", done.key()),
        None => href,
    }
}

/// Percent-encodes a query value.
pub(super) fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A moment as the pages show it, in the office's time zone.
pub(super) fn when(lang: Lang, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&OFFICE_ZONE);
    match lang {
        Lang::De => local.format("%d.%m.%Y %H:%M").to_string(),
        Lang::En => local.format("%Y-%m-%d %H:%M").to_string(),
    }
}

/// A size as the pages show it (decimal units, one decimal).
pub(super) fn size(lang: Lang, bytes: u64) -> String {
    let mut value = bytes as f64;
    let mut text = format!("{bytes} B");
    for unit in ["KB", "MB", "GB", "TB"] {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        text = format!("{value:.1} {unit}");
    }
    match lang {
        Lang::De => text.replace('.', ","),
        Lang::En => text,
    }
}

/// One step of the breadcrumb trail.
pub(super) struct Crumb {
    pub(super) name: String,
    pub(super) href: String,
}

/// The trail from the top to `path`, with the names people know.
pub(super) fn crumbs(t: &FilesText, caller: &Caller, path: &DavPath) -> Vec<Crumb> {
    let mut trail = vec![Crumb {
        name: t.title.to_owned(),
        href: "/files".to_owned(),
    }];
    let mut at = DavPath::root();
    for segment in path.segments() {
        let Ok(next) = at.join(segment) else { break };
        at = next;
        trail.push(Crumb {
            name: display_name(t, caller, &at),
            href: folder_href(&at, None),
        });
    }
    trail
}

/// A folder's name as people know it: "My files", "Office", else its own.
pub(super) fn display_name(t: &FilesText, caller: &Caller, path: &DavPath) -> String {
    if caller.home.as_ref() == Some(path) {
        return t.my_files.to_owned();
    }
    match path.segments() {
        [top] if top == OFFICE_HANDLE => t.office_files.to_owned(),
        [top] if top == "people" => t.people_files.to_owned(),
        _ => path.name().unwrap_or_default().to_owned(),
    }
}

/// A row of a folder's listing.
struct Row {
    name: String,
    folder: bool,
    href: String,
    details: String,
    size: String,
    modified: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_names_read_as_people_write_them() {
        assert_eq!(size(Lang::De, 999), "999 B");
        assert_eq!(size(Lang::De, 1_500), "1,5 KB");
        assert_eq!(size(Lang::En, 2_345_678), "2.3 MB");
        assert_eq!(size(Lang::En, 7_000_000_000_000_000), "7000.0 TB");
        assert_eq!(percent_encode_attr("Brief ä.pdf"), "Brief%20%C3%A4.pdf");
        assert_eq!(encode("/people/a b@x"), "%2Fpeople%2Fa+b%40x");
    }
}

#[derive(Template)]
#[template(path = "files.html")]
struct FolderPage {
    l: Layout,
    f: &'static FilesText,
    crumbs: Vec<Crumb>,
    path: String,
    /// `path`, encoded for a query.
    path_q: String,
    /// Where the page goes once uploads are done.
    uploaded: String,
    rows: Vec<Row>,
    done: Option<&'static str>,
    can_write: bool,
    frozen: Option<String>,
    admin: bool,
    step_up: &'static str,
}

/// `GET /files?path=P`: a folder's members (the top shows the person's own
/// folder and the office's).
pub(super) async fn folder(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Query(at): Query<At>,
) -> Result<Response, WebError> {
    let caller = Caller::of(&bundle, &visit).await?;
    let t = visit.text().files;
    let path = parse_path(&at.path)?;
    let entries = if path.is_root() {
        let mut top = Vec::new();
        for place in [
            caller.home.clone(),
            DavPath::from_segments([OFFICE_HANDLE]).ok(),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(entry) = caller.files.stat(&place).await.map_err(|e| failed(t, e))? {
                top.push(entry);
            }
        }
        top
    } else if path.segments() != ["people"] && caller.may(Action::READ, &path).await {
        // A missing folder is "not found"; a file, "not a folder".
        caller.files.list(&path).await.map_err(|e| failed(t, e))?
    } else {
        // `/people`, or a folder above what the person may read: only what
        // they may read in it.
        let mut readable = Vec::new();
        for entry in caller.files.list(&path).await.map_err(|e| failed(t, e))? {
            if caller.may(Action::READ, &entry.path).await {
                readable.push(entry);
            }
        }
        if readable.is_empty() {
            return Err(WebError::Forbidden);
        }
        readable
    };
    let lang = visit.lang;
    let rows = entries
        .into_iter()
        .map(|entry| row(t, lang, &caller, entry))
        .collect();
    let frozen = caller
        .files
        .frozen()
        .await
        .map_err(|e| failed(t, e))?
        .map(|at| when(lang, at));
    let title = if path.is_root() {
        t.title.to_owned()
    } else {
        display_name(t, &caller, &path)
    };
    let page = FolderPage {
        l: visit.layout(&bundle, &title).await,
        f: t,
        crumbs: crumbs(t, &caller, &path),
        path: path.to_string(),
        path_q: encode(&path.to_string()),
        uploaded: folder_href(&path, Some(Done::Uploaded)),
        rows,
        done: Done::said(at.done.as_deref(), t),
        can_write: !path.is_root() && caller.may(Action::WRITE, &path).await,
        admin: frozen.is_some() && caller.admin().await,
        frozen,
        step_up: visit.step_up_state(&bundle),
    };
    render(&page)
}

fn row(t: &FilesText, lang: Lang, caller: &Caller, entry: Entry) -> Row {
    let folder = entry.kind == EntryKind::Folder;
    Row {
        name: display_name(t, caller, &entry.path),
        folder,
        href: if folder {
            folder_href(&entry.path, None)
        } else {
            download_href(&entry.path)
        },
        details: item_href(&entry.path, None),
        size: if folder {
            String::new()
        } else {
            size(lang, entry.size)
        },
        modified: when(lang, entry.modified),
    }
}

fn download_href(path: &DavPath) -> String {
    format!("/files/download?path={}", encode(&path.to_string()))
}

/// `GET /files/download?path=P`: the file, as an attachment.
pub(super) async fn download(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Query(at): Query<At>,
) -> Result<Response, WebError> {
    let caller = Caller::of(&bundle, &visit).await?;
    let t = visit.text().files;
    let path = parse_path(&at.path)?;
    caller.allow(Action::READ, &path).await?;
    let entry = caller
        .files
        .stat(&path)
        .await
        .map_err(|e| failed(t, e))?
        .filter(|e| e.kind == EntryKind::File)
        .ok_or(WebError::NotFound)?;
    let body = caller
        .files
        .read(&path, None)
        .await
        .map_err(|e| failed(t, e))?;
    Ok(attachment(body, &entry))
}

/// A file's content as a download.
pub(super) fn attachment(body: BodyStream, entry: &Entry) -> Response {
    let name = entry.path.name().unwrap_or("download");
    let content_type = entry
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = content_type.parse() {
        headers.insert(CONTENT_TYPE, value);
    }
    // RFC 6266: an ASCII fallback and the UTF-8 name (RFC 8187).
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = percent_encode_attr(name);
    if let Ok(value) =
        format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}").parse()
    {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    headers.insert(
        CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// RFC 8187's `attr-char` encoding.
fn percent_encode_attr(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The query of an upload: the folder and the file's name.
#[derive(Deserialize)]
pub(super) struct UploadAt {
    path: String,
    name: String,
}

/// `POST /files/upload?path=FOLDER&name=NAME` with the file as the body
/// and the form token in `X-Guss-Form`: writes it (a new version if it
/// exists). Answers in plain text, for the script that sent it.
pub(super) async fn upload(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Query(at): Query<UploadAt>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    visit.check_form(&bundle, form_header(&headers))?;
    let caller = Caller::of(&bundle, &visit).await?;
    let t = visit.text().files;
    let folder = parse_path(&at.path)?;
    let path = join_name(t, &folder, &at.name)?;
    caller.allow(Action::WRITE, &path).await?;
    let content_type = declared_type(&headers);
    let (_, created) = caller
        .files
        .write(&path, body_stream(body), content_type, &caller.principal)
        .await
        .map_err(|e| failed(t, e))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, "stored\n").into_response())
}

/// A request body as the store reads it.
pub(super) fn body_stream(body: Body) -> BodyStream {
    Box::pin(body.into_data_stream().map_err(std::io::Error::other))
}

/// The media type an upload declares, unless it says nothing.
pub(super) fn declared_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && *v != "application/octet-stream")
}

/// The form token a script sends with an upload.
pub(super) fn form_header(headers: &HeaderMap) -> &str {
    headers
        .get("x-guss-form")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A form on a path.
#[derive(Deserialize)]
pub(super) struct PathForm {
    csrf: String,
    path: String,
    #[serde(default)]
    name: String,
}

/// `POST /files/folder`: a new folder `name` in `path`.
pub(super) async fn new_folder(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<PathForm>,
) -> Result<Response, WebError> {
    let caller = Caller::form(&bundle, &visit, &form.csrf).await?;
    let t = visit.text().files;
    let parent = parse_path(&form.path)?;
    let path = join_name(t, &parent, &form.name)?;
    caller.allow(Action::WRITE, &path).await?;
    caller
        .files
        .create_folder(&path, &[], &caller.principal)
        .await
        .map_err(|e| failed(t, e))?;
    Ok(see_other(&folder_href(&parent, Some(Done::FolderMade))))
}

/// `POST /files/rename`: `path` gets the name `name` in its folder.
pub(super) async fn rename(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<PathForm>,
) -> Result<Response, WebError> {
    let caller = Caller::form(&bundle, &visit, &form.csrf).await?;
    let t = visit.text().files;
    let from = parse_path(&form.path)?;
    let to = join_name(t, &from.parent().ok_or(WebError::Forbidden)?, &form.name)?;
    relocate(&caller, t, &from, &to).await?;
    Ok(see_other(&item_href(&to, Some(Done::Renamed))))
}

/// `POST /files/move`: `path` moves into the folder `name` (a path).
pub(super) async fn move_to(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<PathForm>,
) -> Result<Response, WebError> {
    let caller = Caller::form(&bundle, &visit, &form.csrf).await?;
    let t = visit.text().files;
    let from = parse_path(&form.path)?;
    let target = parse_path(&form.name)?;
    let is_folder = caller
        .files
        .stat(&target)
        .await
        .map_err(|e| failed(t, e))?
        .is_some_and(|e| e.kind == EntryKind::Folder);
    if !is_folder {
        return Err(WebError::Invalid(t.error_no_folder.to_owned()));
    }
    let to = join_name(t, &target, from.name().ok_or(WebError::Forbidden)?)?;
    relocate(&caller, t, &from, &to).await?;
    Ok(see_other(&item_href(&to, Some(Done::Moved))))
}

/// Renames or moves, as WebDAV's MOVE is checked: deleting at the source,
/// writing at the target.
async fn relocate(
    caller: &Caller,
    t: &FilesText,
    from: &DavPath,
    to: &DavPath,
) -> Result<(), WebError> {
    if from.segments().len() < 2 || to.starts_with(from) {
        return Err(WebError::Invalid(t.error_conflict.to_owned()));
    }
    caller.allow(Action::DELETE, from).await?;
    caller.allow(Action::WRITE, to).await?;
    caller
        .files
        .rename(from, to, &caller.principal)
        .await
        .map_err(|e| failed(t, e))?;
    Ok(())
}

/// `POST /files/delete`: `path` goes to the trash.
pub(super) async fn delete(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<PathForm>,
) -> Result<Response, WebError> {
    let caller = Caller::form(&bundle, &visit, &form.csrf).await?;
    let t = visit.text().files;
    let path = parse_path(&form.path)?;
    // The top folders (own, office) hold everything else.
    if path.segments().len() < 2 || caller.home.as_ref() == Some(&path) {
        return Err(WebError::Invalid(t.error_top_folder.to_owned()));
    }
    caller.allow(Action::DELETE, &path).await?;
    caller
        .files
        .delete(&path, &caller.principal)
        .await
        .map_err(|e| failed(t, e))?;
    let parent = path.parent().unwrap_or_default();
    Ok(see_other(&folder_href(&parent, Some(Done::Deleted))))
}

/// A version as the item page lists it.
struct VersionRow {
    id: String,
    when: String,
    size: String,
    author: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "file_item.html")]
struct ItemPage {
    l: Layout,
    f: &'static FilesText,
    crumbs: Vec<Crumb>,
    path: String,
    path_q: String,
    parent: String,
    name: String,
    folder: bool,
    size: String,
    modified: String,
    download: String,
    versions: Vec<VersionRow>,
    kept_until: Option<String>,
    done: Option<&'static str>,
    can_write: bool,
    can_delete: bool,
    can_share: bool,
    folders: Vec<String>,
    new_link: Option<String>,
}

/// `GET /files/item?path=P`: one file or folder, with what can be done to
/// it.
pub(super) async fn item(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Query(at): Query<At>,
) -> Result<Response, WebError> {
    item_page(&bundle, &visit, &at.path, at.done.as_deref(), None).await
}

/// The item page, with a share link just made.
pub(super) async fn item_page(
    bundle: &Arc<Bundle>,
    visit: &Visit,
    path: &str,
    done: Option<&str>,
    new_link: Option<String>,
) -> Result<Response, WebError> {
    let caller = Caller::of(bundle, visit).await?;
    let t = visit.text().files;
    let lang = visit.lang;
    let path = parse_path(path)?;
    caller.allow(Action::READ, &path).await?;
    let entry = caller
        .files
        .stat(&path)
        .await
        .map_err(|e| failed(t, e))?
        .ok_or(WebError::NotFound)?;
    let folder = entry.kind == EntryKind::Folder;
    let versions = if folder {
        Vec::new()
    } else {
        caller
            .files
            .versions(&path)
            .await
            .map_err(|e| failed(t, e))?
            .into_iter()
            .rev()
            .map(|v: VersionInfo| VersionRow {
                id: v.id.to_string(),
                when: when(lang, v.written_at),
                size: size(lang, v.size),
                author: v.author,
                current: v.current,
            })
            .collect()
    };
    let kept_until = caller
        .files
        .hold(&path)
        .await
        .map_err(|e| failed(t, e))?
        .filter(|h| h.until.is_none_or(|u| u > bundle.clock.now()))
        .map(|h| match h.until {
            Some(until) => format!("{} – {}", when(lang, until), h.reason),
            None => h.reason,
        });
    let parent = path.parent().unwrap_or_default();
    let page = ItemPage {
        l: visit.layout(bundle, &display_name(t, &caller, &path)).await,
        f: t,
        crumbs: crumbs(t, &caller, &parent),
        path: path.to_string(),
        path_q: encode(&path.to_string()),
        parent: parent.to_string(),
        name: path.name().unwrap_or_default().to_owned(),
        folder,
        size: size(lang, entry.size),
        modified: when(lang, entry.modified),
        download: download_href(&path),
        versions,
        kept_until,
        done: Done::said(done, t),
        can_write: caller.may(Action::WRITE, &path).await,
        can_delete: path.segments().len() >= 2
            && caller.home.as_ref() != Some(&path)
            && caller.may(Action::DELETE, &path).await,
        can_share: caller.may(Action::SHARE, &path).await,
        folders: move_targets(&caller, &path).await,
        new_link,
    };
    render(&page)
}

/// Folders `path` could move to: the person's own and the office's, and
/// the folders directly in them.
async fn move_targets(caller: &Caller, path: &DavPath) -> Vec<String> {
    let mut targets = Vec::new();
    let tops = [
        caller.home.clone(),
        DavPath::from_segments([OFFICE_HANDLE]).ok(),
    ];
    for top in tops.into_iter().flatten() {
        if !caller.may(Action::WRITE, &top).await {
            continue;
        }
        targets.push(top.to_string());
        if let Ok(members) = caller.files.list(&top).await {
            targets.extend(
                members
                    .into_iter()
                    .filter(|e| e.kind == EntryKind::Folder && !e.path.starts_with(path))
                    .map(|e| e.path.to_string()),
            );
        }
    }
    targets
}
