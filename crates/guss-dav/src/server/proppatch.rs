//! PROPPATCH (RFC 4918 §9.2): all changes or none.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::response::Response;

use super::Ctx;
use super::conditions::{Touch, require};
use super::props::is_protected;
use super::reply::{Problem, multistatus, read_xml_body};
use crate::backend::{BackendError, DavBackend, ResourceKind};
use crate::body::{PropPatch, parse_proppatch_within};
use crate::multistatus::{Multistatus, PropStat, Response as DavResponse};
use crate::xml::PropertyName;

pub(crate) async fn proppatch<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    body: Body,
) -> Result<Response, Problem> {
    let resource = ctx
        .backend
        .resource(&ctx.path)
        .await?
        .ok_or_else(Problem::not_found)?;
    require(ctx, &[Touch::Resource(ctx.path.clone())]).await?;
    let text = read_xml_body(&ctx.headers, body, ctx.config.max_xml_body).await?;
    let changes = parse_proppatch_within(&text, ctx.config.xml_limits)?;
    let href = ctx.href(&resource.path, resource.kind == ResourceKind::Collection);

    // Later instructions win over earlier ones for the same name (§9.2).
    let mut order: Vec<PropertyName> = Vec::new();
    let mut last: BTreeMap<PropertyName, Option<String>> = BTreeMap::new();
    for change in changes {
        let (name, value) = match change {
            PropPatch::Set(name, value) => (name, Some(value)),
            PropPatch::Remove(name) => (name, None),
        };
        if !last.contains_key(&name) {
            order.push(name.clone());
        }
        last.insert(name, value);
    }

    let protected: Vec<&PropertyName> = order.iter().filter(|n| is_protected(n)).collect();
    if !protected.is_empty() {
        let failed: Vec<_> = protected.iter().map(|n| ((*n).clone(), None)).collect();
        let rest: Vec<_> = order
            .iter()
            .filter(|n| !is_protected(n))
            .map(|n| (n.clone(), None))
            .collect();
        let mut propstats = vec![PropStat {
            status: 403,
            props: failed,
        }];
        if !rest.is_empty() {
            propstats.push(PropStat {
                status: 424,
                props: rest,
            });
        }
        return Ok(multistatus(&Multistatus {
            responses: vec![DavResponse {
                href,
                propstats,
                status: None,
                error: Some("<D:cannot-modify-protected-property/>".to_owned()),
            }],
            sync_token: None,
        }));
    }

    let mut set = Vec::new();
    let mut remove = Vec::new();
    for name in &order {
        match last.remove(name) {
            Some(Some(value)) => set.push((name.clone(), value)),
            Some(None) => remove.push(name.clone()),
            None => {}
        }
    }
    let status = match ctx.backend.patch_properties(&ctx.path, set, remove).await {
        Ok(()) => 200,
        Err(
            e @ (BackendError::Forbidden
            | BackendError::TooLarge { .. }
            | BackendError::InsufficientStorage),
        ) => e.http_status(),
        Err(e) => return Err(e.into()),
    };
    Ok(multistatus(&Multistatus {
        responses: vec![DavResponse {
            href,
            propstats: vec![PropStat {
                status,
                props: order.into_iter().map(|n| (n, None)).collect(),
            }],
            ..DavResponse::default()
        }],
        sync_token: None,
    }))
}
