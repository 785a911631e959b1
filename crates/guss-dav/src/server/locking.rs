//! LOCK and UNLOCK (RFC 4918 §9.10, §9.11).

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use chrono::TimeDelta;

use super::Ctx;
use super::conditions::{Touch, evaluate_if, if_header, locks_on, require};
use super::reply::{Problem, empty, read_xml_body, set_header, with_body};
use super::write::parent_must_exist;
use crate::backend::{DavBackend, ResourceKind, StoredLock};
use crate::body::parse_lockinfo_within;
use crate::headers::Depth;
use crate::lock::{ActiveLock, lock_token_header, timeout_seconds};

pub(crate) async fn lock<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    body: Body,
) -> Result<Response, Problem> {
    let seconds = timeout_seconds(ctx.header("timeout"))?;
    let text = read_xml_body(&ctx.headers, body, ctx.config.max_xml_body).await?;
    let info = parse_lockinfo_within(&text, ctx.config.xml_limits)?;
    let now = ctx.config.clock.now();
    let expires = now + TimeDelta::seconds(i64::try_from(seconds).unwrap_or(i64::MAX / 1000));
    let existing = ctx.backend.resource(&ctx.path).await?;

    let Some(info) = info else {
        // A refresh (§9.10.2): the If header names the lock.
        let header = if_header(ctx)?
            .ok_or_else(|| Problem::bad_request("a lock refresh needs an If header"))?;
        let locks = locks_on(ctx, &ctx.path).await?;
        let lock = locks
            .iter()
            .find(|l| header.tokens().any(|t| t == l.token) && l.principal == ctx.config.principal)
            .ok_or_else(|| {
                Problem::condition(
                    StatusCode::PRECONDITION_FAILED,
                    "<D:lock-token-matches-request-uri/>",
                )
            })?;
        evaluate_if(ctx, Some(&header)).await?;
        let refreshed = ctx
            .backend
            .locks()
            .refresh(&lock.token, expires, now)
            .await?
            .ok_or_else(Problem::precondition_failed)?;
        let collection = refreshed.root != ctx.path
            || existing
                .as_ref()
                .is_some_and(|r| r.kind == ResourceKind::Collection);
        return Ok(answer(
            ctx,
            &refreshed,
            seconds,
            collection,
            StatusCode::OK,
            false,
        ));
    };

    let depth = match Depth::parse(ctx.header("depth"))? {
        Depth::One => {
            return Err(Problem::bad_request("LOCK takes Depth 0 or infinity"));
        }
        depth => depth,
    };
    match &existing {
        Some(_) => evaluate_if(ctx, if_header(ctx)?.as_ref()).await?,
        None => {
            parent_must_exist(ctx, &ctx.path).await?;
            require(ctx, &[Touch::NewMember(ctx.path.clone())]).await?;
        }
    }
    let lock = StoredLock {
        token: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        root: ctx.path.clone(),
        depth,
        scope: info.scope,
        owner: info.owner,
        principal: ctx.config.principal.clone(),
        expires,
    };
    if !ctx.backend.locks().acquire(&lock, now).await? {
        return Err(Problem::condition(
            StatusCode::LOCKED,
            "<D:no-conflicting-lock/>",
        ));
    }
    let collection = match existing {
        Some(r) => r.kind == ResourceKind::Collection,
        None => {
            // §7.3: locking an unmapped URL creates an empty resource.
            let empty_body: crate::backend::ByteStream = Box::pin(futures::stream::empty());
            if let Err(e) = ctx.backend.write(&ctx.path, empty_body, None).await {
                ctx.backend.locks().release(&lock.token).await?;
                return Err(e.into());
            }
            return Ok(answer(
                ctx,
                &lock,
                seconds,
                false,
                StatusCode::CREATED,
                true,
            ));
        }
    };
    Ok(answer(
        ctx,
        &lock,
        seconds,
        collection,
        StatusCode::OK,
        true,
    ))
}

fn answer<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    lock: &StoredLock,
    seconds: u64,
    collection: bool,
    status: StatusCode,
    new: bool,
) -> Response {
    let active = ActiveLock {
        scope: lock.scope,
        depth: lock.depth,
        owner: lock.owner.clone(),
        timeout_seconds: seconds,
        token: lock.token.clone(),
        root: ctx.href(&lock.root, collection),
    };
    let mut response = with_body(
        status,
        "application/xml; charset=utf-8",
        active.to_lock_response(),
    );
    if new {
        set_header(
            &mut response,
            header::HeaderName::from_static("lock-token"),
            &format!("<{}>", lock.token),
        );
    }
    response
}

pub(crate) async fn unlock<B: DavBackend + ?Sized>(ctx: &Ctx<'_, B>) -> Result<Response, Problem> {
    let value = ctx
        .header("lock-token")
        .ok_or_else(|| Problem::bad_request("Lock-Token header missing"))?;
    let token = lock_token_header(value)?;
    let lock = locks_on(ctx, &ctx.path)
        .await?
        .into_iter()
        .find(|l| l.token == token)
        .ok_or_else(|| {
            Problem::condition(StatusCode::CONFLICT, "<D:lock-token-matches-request-uri/>")
        })?;
    if lock.principal != ctx.config.principal {
        return Err(Problem::status(
            StatusCode::FORBIDDEN,
            "the lock belongs to someone else",
        ));
    }
    ctx.backend.locks().release(&lock.token).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
