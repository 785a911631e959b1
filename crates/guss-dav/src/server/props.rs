//! Properties of one resource for PROPFIND and sync-collection: the live
//! ones computed from [`Resource`] and the lock table, dead ones from the
//! backend, values as XML in a document where `D` is `DAV:`.

use chrono::SecondsFormat;

use super::Ctx;
use super::conditions::locks_on;
use super::reply::{Problem, http_date, quoted};
use crate::DAV;
use crate::backend::{DavBackend, Resource, ResourceKind};
use crate::body::PropfindRequest;
use crate::lock::ActiveLock;
use crate::multistatus::{PropStat, Response};
use crate::xml::{PropertyName, escape_text};

/// Live properties reported by `allprop` (RFC 4918 §9.1: those defined there).
const ALLPROP: &[&str] = &[
    "resourcetype",
    "creationdate",
    "getlastmodified",
    "getetag",
    "getcontentlength",
    "getcontenttype",
    "supportedlock",
    "lockdiscovery",
];

/// Live properties reported only when asked for by name (RFC 4331 §3,
/// RFC 6578 §4, RFC 3253 §3.1.5).
const ON_REQUEST: &[&str] = &[
    "quota-used-bytes",
    "quota-available-bytes",
    "sync-token",
    "supported-report-set",
];

/// Whether the name is a live property the server computes (and so a
/// client cannot set).
pub(crate) fn is_protected(name: &PropertyName) -> bool {
    name.namespace == DAV
        && (ALLPROP.contains(&name.local.as_str()) || ON_REQUEST.contains(&name.local.as_str()))
}

/// The `supportedlock` value.
const SUPPORTED_LOCK: &str = "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>\
<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>";

/// The `lockdiscovery` value for a resource.
pub(crate) async fn lockdiscovery<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    resource: &Resource,
) -> Result<String, Problem> {
    let now = ctx.config.clock.now();
    let mut out = String::new();
    for lock in locks_on(ctx, &resource.path).await? {
        let root_is_collection =
            lock.root != resource.path || resource.kind == ResourceKind::Collection;
        let active = ActiveLock {
            scope: lock.scope,
            depth: lock.depth,
            owner: lock.owner.clone(),
            timeout_seconds: u64::try_from((lock.expires - now).num_seconds())
                .unwrap_or(0)
                .max(1),
            token: lock.token.clone(),
            root: ctx.href(&lock.root, root_is_collection),
        };
        out.push_str(&active.to_xml());
    }
    Ok(out)
}

/// The value of a live property; `None` when the resource does not have it.
async fn live<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    resource: &Resource,
    local: &str,
) -> Result<Option<String>, Problem> {
    let file = resource.kind == ResourceKind::File;
    Ok(match local {
        "resourcetype" => Some(
            if let Some(own) = extra(ctx, resource, &PropertyName::new(DAV, "resourcetype")).await?
            {
                own
            } else if file {
                String::new()
            } else {
                "<D:collection/>".to_owned()
            },
        ),
        "creationdate" => Some(resource.created.to_rfc3339_opts(SecondsFormat::Secs, true)),
        "getlastmodified" => Some(http_date(resource.modified)),
        "getetag" => Some(escape_text(&quoted(&resource.etag))),
        "getcontentlength" if file => Some(resource.length.to_string()),
        "getcontenttype" if file => resource.content_type.as_deref().map(escape_text),
        "supportedlock" => Some(SUPPORTED_LOCK.to_owned()),
        "lockdiscovery" => Some(lockdiscovery(ctx, resource).await?),
        "quota-used-bytes" => ctx
            .backend
            .quota(&resource.path)
            .await?
            .map(|q| q.used.to_string()),
        "quota-available-bytes" => ctx
            .backend
            .quota(&resource.path)
            .await?
            .map(|q| q.available.to_string()),
        "sync-token" if !file => ctx
            .backend
            .sync_token(&resource.path)
            .await?
            .map(|t| escape_text(&t)),
        "supported-report-set" if !file => Some(
            "<D:supported-report><D:report><D:sync-collection/></D:report></D:supported-report>"
                .to_owned(),
        ),
        _ => None,
    })
}

/// A live property the backend adds (CalDAV's and the like).
async fn extra<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    resource: &Resource,
    name: &PropertyName,
) -> Result<Option<String>, Problem> {
    Ok(ctx
        .backend
        .extra_properties(resource)
        .await?
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v))
}

/// The `response` element for one resource.
pub(crate) async fn response<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    resource: &Resource,
    request: &PropfindRequest,
) -> Result<Response, Problem> {
    let collection = resource.kind == ResourceKind::Collection;
    let href = ctx.href(&resource.path, collection);
    let mut found: Vec<(PropertyName, Option<String>)> = Vec::new();
    let mut missing: Vec<(PropertyName, Option<String>)> = Vec::new();
    match request {
        PropfindRequest::PropName | PropfindRequest::AllProp(_) => {
            let names_only = matches!(request, PropfindRequest::PropName);
            for local in ALLPROP {
                if let Some(value) = live(ctx, resource, local).await? {
                    let name = PropertyName::new(DAV, *local);
                    found.push((name, (!names_only).then_some(value)));
                }
            }
            for (name, value) in ctx.backend.dead_properties(&resource.path).await? {
                if !is_protected(&name) {
                    found.push((name, (!names_only).then_some(value)));
                }
            }
            if let PropfindRequest::AllProp(include) = request {
                for name in include {
                    if found.iter().any(|(n, _)| n == name) {
                        continue;
                    }
                    let value = if name.namespace == DAV {
                        live(ctx, resource, &name.local).await?
                    } else {
                        None
                    };
                    match value {
                        Some(v) => found.push((name.clone(), Some(v))),
                        None => missing.push((name.clone(), None)),
                    }
                }
            }
        }
        PropfindRequest::Prop(names) => {
            let mut dead = None;
            let mut extras = None;
            for name in names {
                if found.iter().chain(&missing).any(|(n, _)| n == name) {
                    continue;
                }
                if extras.is_none() {
                    extras = Some(ctx.backend.extra_properties(resource).await?);
                }
                let own = extras.iter().flatten().find(|(n, _)| n == name);
                if let Some((_, value)) =
                    own.filter(|(n, _)| !(n.namespace == DAV && n.local == "resourcetype"))
                {
                    found.push((name.clone(), Some(value.clone())));
                    continue;
                }
                if is_protected(name) {
                    match live(ctx, resource, &name.local).await? {
                        Some(value) => found.push((name.clone(), Some(value))),
                        None => missing.push((name.clone(), None)),
                    }
                    continue;
                }
                if dead.is_none() {
                    dead = Some(ctx.backend.dead_properties(&resource.path).await?);
                }
                let value = dead
                    .iter()
                    .flatten()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone());
                match value {
                    Some(value) => found.push((name.clone(), Some(value))),
                    None => missing.push((name.clone(), None)),
                }
            }
        }
    }
    let mut propstats = Vec::new();
    if !found.is_empty() {
        propstats.push(PropStat {
            status: 200,
            props: found,
        });
    }
    if !missing.is_empty() {
        propstats.push(PropStat {
            status: 404,
            props: missing,
        });
    }
    Ok(Response {
        href,
        propstats,
        ..Response::default()
    })
}
