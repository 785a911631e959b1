//! COPY and MOVE (RFC 4918 §9.8, §9.9).

use axum::http::{StatusCode, Uri};
use axum::response::Response;

use super::Ctx;
use super::conditions::{Touch, http_preconditions, require};
use super::href::destination;
use super::reply::{Problem, empty};
use super::write::parent_must_exist;
use crate::backend::{DavBackend, ResourceKind};
use crate::headers::{Depth, Overwrite};

pub(crate) async fn copy_move<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    uri: &Uri,
    is_move: bool,
) -> Result<Response, Problem> {
    let source = ctx
        .backend
        .resource(&ctx.path)
        .await?
        .ok_or_else(Problem::not_found)?;
    let value = ctx
        .header("destination")
        .ok_or_else(|| Problem::bad_request("Destination header missing"))?;
    let host = ctx
        .header("host")
        .or_else(|| uri.authority().map(|a| a.as_str()));
    let target = destination(value, host, ctx.config.prefix())?;
    let depth = Depth::parse(ctx.header("depth"))?;
    let recursive = match (is_move, depth) {
        (_, Depth::Infinity) => true,
        (false, Depth::Zero) => false,
        (true, _) => {
            return Err(Problem::bad_request("MOVE needs Depth: infinity"));
        }
        (false, Depth::One) => {
            return Err(Problem::bad_request("COPY takes Depth 0 or infinity"));
        }
    };
    let overwrite = Overwrite::parse(ctx.header("overwrite"))?;
    if target == ctx.path {
        return Err(Problem::status(
            StatusCode::FORBIDDEN,
            "source and destination are the same",
        ));
    }
    if ctx.path.is_root() && is_move {
        return Err(Problem::status(
            StatusCode::FORBIDDEN,
            "the root cannot move",
        ));
    }
    if target.starts_with(&ctx.path) && source.kind == ResourceKind::Collection {
        return Err(Problem::status(
            StatusCode::FORBIDDEN,
            "the destination lies inside the source",
        ));
    }
    if ctx.path.starts_with(&target) && is_move {
        return Err(Problem::conflict("the destination contains the source"));
    }
    let existing = ctx.backend.resource(&target).await?;
    if existing.is_some() && overwrite == Overwrite::No {
        return Err(Problem::precondition_failed());
    }
    parent_must_exist(ctx, &target).await?;

    let mut touches = Vec::new();
    if is_move {
        touches.push(Touch::Subtree(ctx.path.clone()));
    }
    touches.push(match existing {
        Some(_) => Touch::Subtree(target.clone()),
        None => Touch::NewMember(target.clone()),
    });
    require(ctx, &touches).await?;
    http_preconditions(ctx, Some(&source), false)?;

    if existing.is_some() {
        // RFC 4918 §9.8.4, §9.9.3: overwriting deletes the destination first.
        ctx.backend.delete(&target).await?;
        ctx.backend.locks().forget_below(&target).await?;
    }
    if is_move {
        ctx.backend.rename(&ctx.path, &target).await?;
        ctx.backend.locks().forget_below(&ctx.path).await?;
    } else {
        ctx.backend.copy(&ctx.path, &target, recursive).await?;
    }
    Ok(empty(if existing.is_some() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::CREATED
    }))
}
