//! PROPFIND (RFC 4918 §9.1).

use std::collections::VecDeque;

use axum::body::Body;
use axum::response::Response;

use super::Ctx;
use super::props;
use super::reply::{Problem, multistatus, read_xml_body};
use crate::backend::{DavBackend, ResourceKind};
use crate::body::parse_propfind_within;
use crate::headers::Depth;
use crate::multistatus::Multistatus;

pub(crate) async fn propfind<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    body: Body,
) -> Result<Response, Problem> {
    let depth = Depth::parse(ctx.header("depth"))?;
    let text = read_xml_body(&ctx.headers, body, ctx.config.max_xml_body).await?;
    let request = parse_propfind_within(&text, ctx.config.xml_limits)?;
    let resource = ctx
        .backend
        .resource(&ctx.path)
        .await?
        .ok_or_else(Problem::not_found)?;
    // Infinity (also what a missing Depth means) is refused for folders
    // only: for a file it is the same as Depth 0, and clients that omit the
    // header to ask about one file must get their answer.
    if depth == Depth::Infinity
        && resource.kind == ResourceKind::Collection
        && !ctx.config.allow_depth_infinity_propfind
    {
        return Err(crate::Error::InfiniteDepth.into());
    }
    super::conditions::evaluate_if(ctx, super::conditions::if_header(ctx)?.as_ref()).await?;
    let mut responses = vec![props::response(ctx, &resource, &request).await?];
    let mut queue = VecDeque::new();
    if depth != Depth::Zero && resource.kind == ResourceKind::Collection {
        queue.push_back(resource.path.clone());
    }
    while let Some(path) = queue.pop_front() {
        for child in ctx.backend.children(&path).await? {
            if responses.len() >= ctx.config.max_results {
                return Err(Problem::condition(
                    axum::http::StatusCode::FORBIDDEN,
                    "<D:propfind-finite-depth/>",
                ));
            }
            if depth == Depth::Infinity && child.kind == ResourceKind::Collection {
                queue.push_back(child.path.clone());
            }
            responses.push(props::response(ctx, &child, &request).await?);
        }
    }
    Ok(multistatus(&Multistatus {
        responses,
        sync_token: None,
    }))
}
