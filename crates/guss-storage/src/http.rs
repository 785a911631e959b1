//! The JSON API next to WebDAV: what WebDAV cannot say — versions, the
//! trash, restores (of a version, a trash item, a folder at a moment),
//! share links and usage — plus the public share-link endpoints.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /versions?path=P` | versions of a file |
//! | `GET /versions/{id}/content` | one version's content |
//! | `POST /versions/restore` `{path, version}` | make a version current again |
//! | `GET /trash` | the trash |
//! | `POST /trash/{id}/restore` | put a trash item back |
//! | `POST /restore` `{path, at}` | put a folder back as it was at `at` |
//! | `GET /share-links`, `POST /share-links` `{path, mode, …}`, `DELETE /share-links/{id}` | share links |
//! | `GET /usage` | bytes used and the quota |
//! | `POST /tripwire/release` | lift the tripwire's freeze (administrators) |
//! | `GET /s/{token}/{*path}`, `PUT /s/{token}/{name}` | a share link's holder: download, list, drop a file (`X-Access-Code` header for coded links) |
//!
//! Paths are the store's paths (`/anna/Akten/Brief.odt`). Every call is
//! authenticated like WebDAV and checked with the [`Authorizer`]; request
//! bodies must be `application/json`, so that a browser cannot send them
//! from another site without asking first.
//!
//! ```no_run
//! use std::sync::Arc;
//! use guss_core::{Authenticator, Authorizer, TenantId};
//! use guss_storage::{http::FilesApi, store::FileStore};
//!
//! fn app(store: FileStore, authn: Arc<dyn Authenticator>, authz: Arc<dyn Authorizer>) -> axum::Router {
//!     let tenant = TenantId::new();
//!     axum::Router::new().nest("/api/files", FilesApi::new(store, authn, authz, Arc::new(move |_: &axum::http::request::Parts| Some(tenant))).router())
//! }
//! ```

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use guss_core::{
    Action, Authenticator, Authorizer, Context, Principal, Resource, ResourceKind, Scope,
};
use guss_dav::DavPath;
use serde::Deserialize;
use uuid::Uuid;

use crate::Error;
use crate::model::{EntryKind, ShareOptions};
use crate::store::{BodyStream, FileStore, TenantFiles};
use guss_dav::server::{TenantOf, authenticate};

/// The JSON API over a [`FileStore`].
#[derive(Clone)]
pub struct FilesApi {
    inner: Arc<Shared>,
}

struct Shared {
    store: FileStore,
    authenticator: Arc<dyn Authenticator>,
    authorizer: Arc<dyn Authorizer>,
    tenant_of: TenantOf,
}

impl std::fmt::Debug for FilesApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilesApi").finish_non_exhaustive()
    }
}

/// An error as the API answers it: a status and a sentence.
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::AlreadyExists(_) | Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Forbidden => StatusCode::FORBIDDEN,
            Error::QuotaExceeded => StatusCode::INSUFFICIENT_STORAGE,
            Error::Invalid { .. } => StatusCode::BAD_REQUEST,
            Error::LimitExceeded { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "files API");
            "Something went wrong on the server; nothing was changed.".to_owned()
        } else {
            e.to_string()
        };
        Failure(status, message)
    }
}

type Answer<T> = Result<T, Failure>;

fn parse_path(path: &str) -> Answer<DavPath> {
    DavPath::from_segments(path.split('/').filter(|s| !s.is_empty()))
        .map_err(|_| Failure(StatusCode::BAD_REQUEST, "not a valid path".into()))
}

/// An authenticated caller: their tenant's files and who they are.
struct Caller {
    files: TenantFiles,
    principal: Principal,
    authorizer: Arc<dyn Authorizer>,
}

impl FromRequestParts<Arc<Shared>> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, Response> {
        let (tenant, principal) = authenticate(
            parts,
            &shared.tenant_of,
            shared.authenticator.as_ref(),
            Scope::Files,
        )
        .await?;
        Ok(Caller {
            files: shared.store.tenant(tenant),
            principal,
            authorizer: shared.authorizer.clone(),
        })
    }
}

impl Caller {
    async fn allow(&self, action: Action, kind: ResourceKind, id: &str) -> Answer<()> {
        let resource = Resource::new(self.files.tenant_id(), kind, id)
            .map_err(|_| Failure(StatusCode::BAD_REQUEST, "not a valid path".into()))?;
        self.authorizer
            .check(&self.principal, &action, &resource, &Context::new())
            .await
            .map_err(|_| Failure(StatusCode::FORBIDDEN, "You may not do this here.".into()))
    }

    async fn allow_path(&self, action: Action, path: &DavPath) -> Answer<()> {
        self.allow(action, ResourceKind::FOLDER, &path.to_string())
            .await
    }
}

fn json_body(headers: &HeaderMap) -> Answer<()> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if json {
        Ok(())
    } else {
        Err(Failure(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send application/json".into(),
        ))
    }
}

fn stream_response(body: BodyStream, content_type: &str) -> Response {
    let mut response = Body::from_stream(body).into_response();
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

#[derive(Deserialize)]
struct PathQuery {
    path: String,
}

async fn versions(caller: Caller, Query(q): Query<PathQuery>) -> Answer<Response> {
    let path = parse_path(&q.path)?;
    caller.allow_path(Action::READ, &path).await?;
    Ok(Json(caller.files.versions(&path).await?).into_response())
}

async fn version_content(caller: Caller, Path(id): Path<Uuid>) -> Answer<Response> {
    let entry = caller.files.version_owner(id).await?;
    caller.allow_path(Action::READ, &entry).await?;
    Ok(stream_response(
        caller.files.read_version(id, None).await?,
        "application/octet-stream",
    ))
}

#[derive(Deserialize)]
struct RestoreVersion {
    path: String,
    version: Uuid,
}

async fn restore_version(
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<RestoreVersion>,
) -> Answer<Response> {
    json_body(&headers)?;
    let path = parse_path(&body.path)?;
    caller.allow_path(Action::WRITE, &path).await?;
    caller
        .files
        .restore_version(&path, body.version, &caller.principal)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn trash(caller: Caller) -> Answer<Response> {
    let mut visible = Vec::new();
    for item in caller.files.trash().await? {
        if caller
            .allow_path(Action::READ, &item.original_path)
            .await
            .is_ok()
        {
            visible.push(item);
        }
    }
    Ok(Json(visible).into_response())
}

async fn restore_trash(caller: Caller, Path(id): Path<Uuid>) -> Answer<Response> {
    let item = caller
        .files
        .trash()
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(Error::NotFound("trash item"))?;
    caller
        .allow_path(Action::WRITE, &item.original_path)
        .await?;
    let path = caller
        .files
        .restore_from_trash(id, &caller.principal)
        .await?;
    Ok(Json(serde_json::json!({ "path": path.to_string() })).into_response())
}

#[derive(Deserialize)]
struct RestoreFolder {
    path: String,
    at: DateTime<Utc>,
}

async fn restore_folder(
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<RestoreFolder>,
) -> Answer<Response> {
    json_body(&headers)?;
    let path = parse_path(&body.path)?;
    caller.allow_path(Action::WRITE, &path).await?;
    caller.allow_path(Action::DELETE, &path).await?;
    let report = caller
        .files
        .restore_folder_at(&path, body.at, &caller.principal)
        .await?;
    Ok(Json(report).into_response())
}

async fn share_links(caller: Caller) -> Answer<Response> {
    let mut visible = Vec::new();
    for link in caller.files.share_links().await? {
        if caller.allow_path(Action::SHARE, &link.path).await.is_ok() {
            visible.push(link);
        }
    }
    Ok(Json(visible).into_response())
}

#[derive(Deserialize)]
struct NewLink {
    path: String,
    #[serde(flatten)]
    options: ShareOptions,
}

async fn create_share_link(
    caller: Caller,
    headers: HeaderMap,
    Json(body): Json<NewLink>,
) -> Answer<Response> {
    json_body(&headers)?;
    let path = parse_path(&body.path)?;
    caller.allow_path(Action::SHARE, &path).await?;
    let (link, token) = caller
        .files
        .create_share_link(&path, &body.options, &caller.principal)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "link": link, "token": token })),
    )
        .into_response())
}

async fn revoke_share_link(caller: Caller, Path(id): Path<Uuid>) -> Answer<Response> {
    let link = caller
        .files
        .share_links()
        .await?
        .into_iter()
        .find(|l| l.id == id)
        .ok_or(Error::NotFound("share link"))?;
    caller.allow_path(Action::SHARE, &link.path).await?;
    caller
        .files
        .revoke_share_link(id, &caller.principal)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn usage(caller: Caller) -> Answer<Response> {
    Ok(Json(caller.files.usage().await?).into_response())
}

async fn release_tripwire(caller: Caller) -> Answer<Response> {
    let tenant = caller.files.tenant_id().to_string();
    caller
        .allow(Action::ADMINISTER, ResourceKind::TENANT, &tenant)
        .await?;
    caller.files.release_freeze(&caller.principal).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The share link in a public request, opened.
async fn open_link(
    shared: &Shared,
    parts: &Parts,
    token: &str,
) -> Answer<crate::store::SharedAccess> {
    let tenant = (shared.tenant_of)(parts).ok_or(Failure(
        StatusCode::NOT_FOUND,
        "No organisation here.".into(),
    ))?;
    let code = parts
        .headers
        .get("x-access-code")
        .and_then(|v| v.to_str().ok());
    shared
        .store
        .tenant(tenant)
        .open_share_link(token, code)
        .await
        .map_err(|e| match e {
            Error::Forbidden => Failure(
                StatusCode::FORBIDDEN,
                "This link needs its access code.".into(),
            ),
            _ => Failure(
                StatusCode::NOT_FOUND,
                "This link does not exist, has expired or was revoked.".into(),
            ),
        })
}

async fn shared_get(
    State(shared): State<Arc<Shared>>,
    Path((token, rest)): Path<(String, String)>,
    request: axum::extract::Request,
) -> Answer<Response> {
    let (parts, _) = request.into_parts();
    let access = open_link(&shared, &parts, &token).await?;
    let relative = parse_path(&rest)?;
    let entry = access
        .stat(&relative)
        .await?
        .ok_or(Error::NotFound("file or folder"))?;
    match entry.kind {
        EntryKind::Folder => Ok(Json(access.list(&relative).await?).into_response()),
        EntryKind::File => {
            let content_type = entry
                .content_type
                .unwrap_or_else(|| "application/octet-stream".into());
            Ok(stream_response(
                access.download(&relative).await?,
                &content_type,
            ))
        }
    }
}

async fn shared_root(
    state: State<Arc<Shared>>,
    Path(token): Path<String>,
    request: axum::extract::Request,
) -> Answer<Response> {
    shared_get(state, Path((token, String::new())), request).await
}

async fn shared_put(
    State(shared): State<Arc<Shared>>,
    Path((token, name)): Path<(String, String)>,
    request: axum::extract::Request,
) -> Answer<Response> {
    let (parts, body) = request.into_parts();
    let access = open_link(&shared, &parts, &token).await?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let body: BodyStream = Box::pin(body.into_data_stream().map_err(std::io::Error::other));
    let entry = access.upload(&name, body, content_type).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "path": entry.path.to_string(), "size": entry.size })),
    )
        .into_response())
}

impl FilesApi {
    /// The API over `store`.
    pub fn new(
        store: FileStore,
        authenticator: Arc<dyn Authenticator>,
        authorizer: Arc<dyn Authorizer>,
        tenant_of: TenantOf,
    ) -> Self {
        FilesApi {
            inner: Arc::new(Shared {
                store,
                authenticator,
                authorizer,
                tenant_of,
            }),
        }
    }

    /// The routes; nest them where the API should live.
    pub fn router(self) -> Router {
        Router::new()
            .route("/versions", get(versions))
            .route("/versions/{id}/content", get(version_content))
            .route("/versions/restore", post(restore_version))
            .route("/trash", get(trash))
            .route("/trash/{id}/restore", post(restore_trash))
            .route("/restore", post(restore_folder))
            .route("/share-links", get(share_links).post(create_share_link))
            .route("/share-links/{id}", delete(revoke_share_link))
            .route("/usage", get(usage))
            .route("/tripwire/release", post(release_tripwire))
            .route("/s/{token}", get(shared_root))
            .route("/s/{token}/{*rest}", get(shared_get).put(shared_put))
            .with_state(self.inner)
    }
}
