//! Whether a request may go ahead: the lock tokens a state-changing method
//! must submit (RFC 4918 §7, §10.4.1), the `If` header evaluated against the
//! actual state of the resources it names (§10.4), and `If-Match` /
//! `If-None-Match` / `If-(Un)Modified-Since` (RFC 9110 §13).

use std::collections::BTreeMap;

use axum::http::{StatusCode, header};
use chrono::{DateTime, Utc};

use super::Ctx;
use super::reply::{Problem, http_date, quoted};
use crate::backend::{DavBackend, DavPath, Resource, StoredLock};
use crate::if_header::{IfHeader, parse_if};
use crate::preconditions::{Outcome, ResourceState, check};
use crate::xml::escape_text;

/// What a state-changing request touches, for the locks it must hold.
#[derive(Clone, Debug)]
pub(crate) enum Touch {
    /// The resource's body or properties (an existing resource).
    Resource(DavPath),
    /// A new member appears at the path: locks covering it and locks on the
    /// parent collection (RFC 4918 §7.5: membership is protected).
    NewMember(DavPath),
    /// The resource and everything below it goes away or is replaced, and
    /// the parent's membership changes.
    Subtree(DavPath),
}

/// The parsed `If` header, if any.
pub(crate) fn if_header<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
) -> Result<Option<IfHeader>, Problem> {
    match ctx.headers.get("if") {
        None => Ok(None),
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| Problem::bad_request("malformed If header"))?;
            Ok(Some(parse_if(value)?))
        }
    }
}

/// Locks covering `path` (on it, or inherited from a depth-infinity ancestor).
pub(crate) async fn locks_on<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    path: &DavPath,
) -> Result<Vec<StoredLock>, Problem> {
    let now = ctx.config.clock.now();
    let locks = ctx.backend.locks().locks_touching(path, now).await?;
    Ok(locks
        .into_iter()
        .filter(|l| l.covers(path) && l.expires > now)
        .collect())
}

async fn locks_for<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    touch: &Touch,
) -> Result<Vec<StoredLock>, Problem> {
    let now = ctx.config.clock.now();
    let store = ctx.backend.locks();
    let (path, subtree) = match touch {
        Touch::Resource(path) => return locks_on(ctx, path).await,
        Touch::NewMember(path) => (path, false),
        Touch::Subtree(path) => (path, true),
    };
    let mut locks: Vec<StoredLock> = store
        .locks_touching(path, now)
        .await?
        .into_iter()
        .filter(|l| l.expires > now && (subtree || l.covers(path)))
        .collect();
    if let Some(parent) = path.parent() {
        let on_parent = store.locks_touching(&parent, now).await?;
        locks.extend(
            on_parent
                .into_iter()
                .filter(|l| l.expires > now && l.root == parent),
        );
    }
    Ok(locks)
}

/// Evaluates the `If` header as a whole (412 when false), then refuses the
/// request with 423 unless it submits the token of every lock in the way
/// (taken by this principal).
pub(crate) async fn require<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    touches: &[Touch],
) -> Result<(), Problem> {
    let header = if_header(ctx)?;
    // §10.4.1: a false If header fails the request (412) before the lock
    // check asks whether the tokens it names are the ones needed (423).
    evaluate_if(ctx, header.as_ref()).await?;
    let submitted: Vec<&str> = header.iter().flat_map(IfHeader::tokens).collect();
    let mut blocking: BTreeMap<String, StoredLock> = BTreeMap::new();
    for touch in touches {
        for lock in locks_for(ctx, touch).await? {
            let held =
                submitted.contains(&lock.token.as_str()) && lock.principal == ctx.config.principal;
            if !held {
                blocking.insert(lock.token.clone(), lock);
            }
        }
    }
    if !blocking.is_empty() {
        let mut hrefs = String::new();
        for lock in blocking.values() {
            let collection = lock.root.is_root()
                || ctx
                    .backend
                    .resource(&lock.root)
                    .await?
                    .is_some_and(|r| r.kind == crate::backend::ResourceKind::Collection);
            hrefs.push_str("<D:href>");
            hrefs.push_str(&escape_text(&ctx.href(&lock.root, collection)));
            hrefs.push_str("</D:href>");
        }
        return Err(Problem::condition(
            StatusCode::LOCKED,
            format!("<D:lock-token-submitted>{hrefs}</D:lock-token-submitted>"),
        ));
    }
    Ok(())
}

/// Evaluates the `If` header against the resources it names: 412 when no
/// list holds.
pub(crate) async fn evaluate_if<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    header: Option<&IfHeader>,
) -> Result<(), Problem> {
    let Some(header) = header else {
        return Ok(());
    };
    let host = ctx.header("host");
    let mut states: BTreeMap<Option<String>, ResourceState> = BTreeMap::new();
    for list in &header.lists {
        if states.contains_key(&list.resource) {
            continue;
        }
        let path = match &list.resource {
            None => Some(ctx.path.clone()),
            Some(tag) => super::href::tagged(tag, host, ctx.config.prefix()),
        };
        let state = match path {
            Some(path) => state_of(ctx, &path).await?,
            None => ResourceState::default(),
        };
        states.insert(list.resource.clone(), state);
    }
    let holds = header.holds(|resource| {
        states
            .get(&resource.map(str::to_owned))
            .cloned()
            .unwrap_or_default()
    });
    if holds {
        Ok(())
    } else {
        Err(Problem::precondition_failed())
    }
}

async fn state_of<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    path: &DavPath,
) -> Result<ResourceState, Problem> {
    let etag = ctx.backend.resource(path).await?.map(|r| quoted(&r.etag));
    let lock_tokens = locks_on(ctx, path)
        .await?
        .into_iter()
        .map(|l| l.token)
        .collect();
    Ok(ResourceState { etag, lock_tokens })
}

/// `If-Match`, `If-None-Match`, `If-Unmodified-Since` and (for GET and
/// HEAD) `If-Modified-Since` against the resource as it is.
pub(crate) fn http_preconditions<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    resource: Option<&Resource>,
    safe: bool,
) -> Result<(), Problem> {
    let etag = resource.map(|r| quoted(&r.etag));
    let if_match = ctx.header(header::IF_MATCH.as_str());
    let if_none_match = ctx.header(header::IF_NONE_MATCH.as_str());
    match check(safe, etag.as_deref(), if_match, if_none_match) {
        Outcome::Proceed => {}
        Outcome::Failed => return Err(Problem::precondition_failed()),
        Outcome::NotModified => return Err(not_modified(resource)),
    }
    let modified = resource.map(|r| r.modified);
    if if_match.is_none()
        && let Some(since) = date(ctx.header(header::IF_UNMODIFIED_SINCE.as_str()))
        && modified.is_none_or(|m| m.timestamp() > since.timestamp())
    {
        return Err(Problem::precondition_failed());
    }
    if safe
        && if_none_match.is_none()
        && let Some(since) = date(ctx.header(header::IF_MODIFIED_SINCE.as_str()))
        && let Some(m) = modified
        && m.timestamp() <= since.timestamp()
    {
        return Err(not_modified(resource));
    }
    Ok(())
}

fn not_modified(resource: Option<&Resource>) -> Problem {
    let mut response = super::reply::empty(StatusCode::NOT_MODIFIED);
    if let Some(r) = resource {
        super::reply::set_header(&mut response, header::ETAG, &quoted(&r.etag));
        super::reply::set_header(&mut response, header::LAST_MODIFIED, &http_date(r.modified));
    }
    Problem::Done(Box::new(response))
}

/// An HTTP date header value.
pub(crate) fn date(value: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(value?.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}
