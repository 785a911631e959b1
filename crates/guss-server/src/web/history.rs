//! What the files pages can bring back: an earlier version of a file, a
//! trash item, a folder as it was at a chosen moment; and the admin's
//! release when the ransomware tripwire has frozen expiry.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{NaiveDateTime, TimeZone as _};
use guss_core::Action;
use serde::Deserialize;
use uuid::Uuid;

use super::files::{
    Caller, Crumb, crumbs, display_name, failed, folder_href, item_href, parse_path, when,
};
use super::files_text::{Done, FilesText};
use super::{DoneQuery, IdForm, Layout, Visit, WebError, render, see_other};
use crate::bundle::Bundle;
use crate::office::OFFICE_ZONE;

/// A form naming a version of a file.
#[derive(Deserialize)]
pub(super) struct VersionForm {
    csrf: String,
    path: String,
    version: Uuid,
}

/// `POST /files/versions/restore`: the version becomes current again (as a
/// new version: nothing is lost).
pub(super) async fn restore_version(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<VersionForm>,
) -> Result<Response, WebError> {
    let caller = Caller::form(&bundle, &visit, &form.csrf).await?;
    let t = visit.text().files;
    let path = parse_path(&form.path)?;
    caller.allow(Action::WRITE, &path).await?;
    caller
        .files
        .restore_version(&path, form.version, &caller.principal)
        .await
        .map_err(|e| failed(t, e))?;
    Ok(see_other(&item_href(&path, Some(Done::VersionRestored))))
}

struct TrashRow {
    id: String,
    path: String,
    folder: bool,
    deleted: String,
}

#[derive(Template)]
#[template(path = "files_trash.html")]
struct TrashPage {
    l: Layout,
    f: &'static FilesText,
    crumbs: Vec<Crumb>,
    items: Vec<TrashRow>,
    done: Option<&'static str>,
}

/// `GET /files/trash`: what the person may restore, newest first.
pub(super) async fn trash(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Query(query): Query<DoneQuery>,
) -> Result<Response, WebError> {
    let caller = Caller::of(&bundle, &visit).await?;
    let t = visit.text().files;
    let mut items = Vec::new();
    for item in caller.files.trash().await.map_err(|e| failed(t, e))? {
        if caller.may(Action::WRITE, &item.original_path).await {
            items.push(TrashRow {
                id: item.id.to_string(),
                path: item.original_path.to_string(),
                folder: item.kind == guss_storage::model::EntryKind::Folder,
                deleted: when(visit.lang, item.deleted_at),
            });
        }
    }
    let page = TrashPage {
        l: visit.layout(&bundle, t.trash_title).await,
        f: t,
        crumbs: crumbs(t, &caller, &guss_dav::DavPath::root()),
        items,
        done: Done::said(query.done.as_deref(), t),
    };
    render(&page)
}

/// `POST /files/trash/restore`: the item goes back where it was (under a
/// new name if that is taken now).
pub(super) async fn restore_trash(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<IdForm>,
) -> Result<Response, WebError> {
    let caller = Caller::form(&bundle, &visit, &form.csrf).await?;
    let t = visit.text().files;
    let item = caller
        .files
        .trash()
        .await
        .map_err(|e| failed(t, e))?
        .into_iter()
        .find(|i| i.id == form.id)
        .ok_or(WebError::NotFound)?;
    caller.allow(Action::WRITE, &item.original_path).await?;
    let back = caller
        .files
        .restore_from_trash(form.id, &caller.principal)
        .await
        .map_err(|e| failed(t, e))?;
    Ok(see_other(&item_href(&back, Some(Done::TrashRestored))))
}

#[derive(Template)]
#[template(path = "files_restore.html")]
struct RestorePage {
    l: Layout,
    f: &'static FilesText,
    crumbs: Vec<Crumb>,
    path: String,
    now: String,
}

#[derive(Deserialize)]
pub(super) struct PathQuery {
    path: String,
}

/// `GET /files/restore?path=FOLDER`: choose the moment to go back to.
pub(super) async fn restore_page(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Query(query): Query<PathQuery>,
) -> Result<Response, WebError> {
    let caller = Caller::of(&bundle, &visit).await?;
    let t = visit.text().files;
    let path = parse_path(&query.path)?;
    caller.allow(Action::WRITE, &path).await?;
    let title = format!("{}: {}", t.restore_title, display_name(t, &caller, &path));
    let page = RestorePage {
        l: visit.layout(&bundle, &title).await,
        f: t,
        crumbs: crumbs(t, &caller, &path),
        path: path.to_string(),
        now: bundle
            .clock
            .now()
            .with_timezone(&OFFICE_ZONE)
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string(),
    };
    render(&page)
}

/// The restore form: the folder and a local date and time.
#[derive(Deserialize)]
pub(super) struct RestoreForm {
    csrf: String,
    path: String,
    at: String,
}

/// `POST /files/restore`: the folder as it was at `at` (office time).
pub(super) async fn restore(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<RestoreForm>,
) -> Result<Response, WebError> {
    let caller = Caller::form(&bundle, &visit, &form.csrf).await?;
    let t = visit.text().files;
    let path = parse_path(&form.path)?;
    caller.allow(Action::WRITE, &path).await?;
    caller.allow(Action::DELETE, &path).await?;
    let at = parse_local(&form.at).ok_or_else(|| WebError::Invalid(t.error_moment.to_owned()))?;
    if at > bundle.clock.now() {
        return Err(WebError::Invalid(t.error_moment.to_owned()));
    }
    caller
        .files
        .restore_folder_at(&path, at, &caller.principal)
        .await
        .map_err(|e| failed(t, e))?;
    Ok(see_other(&folder_href(&path, Some(Done::FolderRestored))))
}

/// A `datetime-local` value (`2026-11-28T14:05`, seconds optional) in the
/// office's time zone.
fn parse_local(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    // At a clock change, the later of two readings: nothing after it is lost.
    Some(OFFICE_ZONE.from_local_datetime(&naive).latest()?.to_utc())
}

/// The admin's release form.
#[derive(Deserialize)]
pub(super) struct ReleaseForm {
    csrf: String,
    #[serde(default)]
    path: String,
}

/// `POST /files/release`: lifts the tripwire's freeze (admins, after a
/// passkey step-up).
pub(super) async fn release(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<ReleaseForm>,
) -> Result<Response, WebError> {
    let caller = Caller::form(&bundle, &visit, &form.csrf).await?;
    let t = visit.text().files;
    if !caller.admin().await {
        return Err(WebError::Forbidden);
    }
    if !visit.stepped_up(&bundle) {
        return Err(WebError::StepUp);
    }
    caller
        .files
        .release_freeze(&caller.principal)
        .await
        .map_err(|e| failed(t, e))?;
    let back = parse_path(&form.path).unwrap_or_default();
    Ok(see_other(&folder_href(&back, Some(Done::Released))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_office_time() {
        let winter = parse_local("2026-11-28T14:05").unwrap();
        assert_eq!(winter.to_rfc3339(), "2026-11-28T13:05:00+00:00");
        let summer = parse_local("2026-07-01T09:00:30").unwrap();
        assert_eq!(summer.to_rfc3339(), "2026-07-01T07:00:30+00:00");
        // 02:30 on the last Sunday of March does not exist in Berlin.
        assert_eq!(parse_local("2026-03-29T02:30"), None);
        assert_eq!(parse_local("gestern"), None);
    }
}
