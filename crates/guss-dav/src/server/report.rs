//! REPORT: `sync-collection` (RFC 6578 §3).

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;

use super::Ctx;
use super::props;
use super::reply::{Problem, from_reply, multistatus, read_xml_body};
use crate::Depth;
use crate::backend::{DavBackend, Mount, ResourceKind};
use crate::body::PropfindRequest;
use crate::multistatus::{Multistatus, Response as DavResponse};
use crate::xml::{Element, parse};

/// A parsed sync-collection request.
#[derive(Debug)]
struct SyncRequest {
    token: Option<String>,
    props: Vec<crate::xml::PropertyName>,
    limit: Option<usize>,
}

fn parse_sync(root: &Element) -> Result<SyncRequest, Problem> {
    let token = root
        .dav_child("sync-token")
        .map(|t| t.text().trim().to_owned())
        .filter(|t| !t.is_empty());
    match root.dav_child("sync-level").map(|l| l.text()) {
        Some(level) if level.trim() == "1" => {}
        Some(_) => {
            return Err(Problem::status(
                StatusCode::FORBIDDEN,
                "only sync-level 1 is supported",
            ));
        }
        None => return Err(Problem::bad_request("sync-level missing")),
    }
    let props = root
        .dav_child("prop")
        .map(|p| p.children().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    let limit = match root.dav_child("limit") {
        None => None,
        Some(limit) => {
            let n = limit
                .dav_child("nresults")
                .and_then(|n| n.text().trim().parse::<usize>().ok())
                .ok_or_else(|| Problem::bad_request("limit needs nresults"))?;
            Some(n)
        }
    };
    Ok(SyncRequest {
        token,
        props,
        limit,
    })
}

pub(crate) async fn report<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    body: Body,
) -> Result<Response, Problem> {
    let text = read_xml_body(&ctx.headers, body, ctx.config.max_xml_body).await?;
    let root = parse(&text, ctx.config.xml_limits)?;
    if !root.is_dav("sync-collection") {
        // Other reports (CalDAV's) are the backend's; REPORT's Depth
        // defaults to 0 (RFC 3253 §3.6).
        let depth = match ctx.header("depth") {
            None => Depth::Zero,
            given => Depth::parse(given)?,
        };
        let mount = Mount::new(ctx.config.prefix());
        return match ctx.backend.report(&mount, &ctx.path, depth, &root).await {
            Some(reply) => Ok(from_reply(reply?)),
            None => Err(Problem::condition(
                StatusCode::FORBIDDEN,
                "<D:supported-report/>",
            )),
        };
    }
    let request = parse_sync(&root)?;
    // RFC 6578 §3.2: the Depth header is 0 (clients also send none or 1).
    if ctx
        .header("depth")
        .is_some_and(|d| d.trim().eq_ignore_ascii_case("infinity"))
    {
        return Err(Problem::bad_request("sync-collection takes Depth: 0"));
    }
    let resource = ctx
        .backend
        .resource(&ctx.path)
        .await?
        .ok_or_else(Problem::not_found)?;
    if resource.kind != ResourceKind::Collection {
        return Err(Problem::condition(
            StatusCode::FORBIDDEN,
            "<D:supported-report/>",
        ));
    }
    let limit = request
        .limit
        .unwrap_or(ctx.config.max_results)
        .min(ctx.config.max_results);
    let changes = ctx
        .backend
        .changes(&ctx.path, request.token.as_deref(), limit)
        .await?;
    let wanted = PropfindRequest::Prop(request.props);
    let mut responses = Vec::with_capacity(changes.changed.len() + changes.removed.len() + 1);
    for changed in &changes.changed {
        responses.push(props::response(ctx, changed, &wanted).await?);
    }
    for removed in &changes.removed {
        responses.push(DavResponse {
            href: ctx.href(removed, false),
            status: Some(404),
            ..DavResponse::default()
        });
    }
    if changes.truncated {
        // §3.6: the request URI with 507 says more changes remain.
        responses.push(DavResponse {
            href: ctx.href(&ctx.path, true),
            status: Some(507),
            error: Some("<D:number-of-matches-within-limits/>".to_owned()),
            ..DavResponse::default()
        });
    }
    Ok(multistatus(&Multistatus {
        responses,
        sync_token: Some(changes.token),
    }))
}
