//! PUT, MKCOL (with RFC 5689 bodies) and DELETE (RFC 4918 §9.3, §9.6, §9.7).

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use futures::TryStreamExt;

use super::Ctx;
use super::conditions::{Touch, http_preconditions, require};
use super::options::ALLOW;
use super::reply::{Problem, empty, quoted, read_xml_body, set_header};
use crate::DAV;
use crate::backend::{ByteStream, DavBackend, DavPath, ResourceKind};
use crate::body::parse_mkcol_within;
use crate::headers::Depth;
use crate::xml::{PropertyName, parse};

/// 409 unless the parent of `path` is an existing collection.
pub(crate) async fn parent_must_exist<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    path: &DavPath,
) -> Result<(), Problem> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    match ctx.backend.resource(&parent).await? {
        Some(r) if r.kind == ResourceKind::Collection => Ok(()),
        _ => Err(Problem::conflict("the parent collection does not exist")),
    }
}

pub(crate) fn not_allowed(why: &str) -> Problem {
    let mut response = super::reply::with_body(
        StatusCode::METHOD_NOT_ALLOWED,
        "text/plain; charset=utf-8",
        format!("{why}\n"),
    );
    set_header(&mut response, header::ALLOW, ALLOW);
    Problem::Done(Box::new(response))
}

pub(crate) async fn put<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    body: Body,
) -> Result<Response, Problem> {
    if ctx.path.is_root() {
        return Err(not_allowed("PUT on a collection"));
    }
    let existing = ctx.backend.resource(&ctx.path).await?;
    if existing
        .as_ref()
        .is_some_and(|r| r.kind == ResourceKind::Collection)
    {
        return Err(not_allowed("PUT on a collection"));
    }
    if existing.is_none() {
        parent_must_exist(ctx, &ctx.path).await?;
    }
    if ctx.headers.contains_key(header::CONTENT_RANGE) {
        // RFC 9110 §14.5: partial PUT is not supported.
        return Err(Problem::bad_request(
            "Content-Range on PUT is not supported",
        ));
    }
    let touch = match existing {
        Some(_) => Touch::Resource(ctx.path.clone()),
        None => Touch::NewMember(ctx.path.clone()),
    };
    require(ctx, &[touch]).await?;
    http_preconditions(ctx, existing.as_ref(), false)?;
    let stream: ByteStream = Box::pin(body.into_data_stream().map_err(std::io::Error::other));
    let content_type = ctx.header(header::CONTENT_TYPE.as_str());
    let written = ctx.backend.write(&ctx.path, stream, content_type).await?;
    let status = if written.created {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    };
    let mut response = empty(status);
    set_header(&mut response, header::ETAG, &quoted(&written.resource.etag));
    Ok(response)
}

pub(crate) async fn mkcol<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    body: Body,
) -> Result<Response, Problem> {
    let text = read_xml_body(&ctx.headers, body, ctx.config.max_xml_body).await?;
    let properties = if text.trim().is_empty() {
        Vec::new()
    } else {
        let content_type = ctx
            .header(header::CONTENT_TYPE.as_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let xml = content_type.is_empty() || content_type.contains("xml");
        match parse_mkcol_within(&text, ctx.config.xml_limits) {
            Ok(properties) if xml => collection_properties(properties)?,
            _ => {
                return Err(Problem::status(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "MKCOL accepts an extended-mkcol XML body only",
                ));
            }
        }
    };
    if ctx.backend.resource(&ctx.path).await?.is_some() {
        return Err(not_allowed("something exists here already"));
    }
    parent_must_exist(ctx, &ctx.path).await?;
    require(ctx, &[Touch::NewMember(ctx.path.clone())]).await?;
    ctx.backend
        .create_collection(&ctx.path, properties)
        .await
        .map_err(|e| match e {
            crate::backend::BackendError::AlreadyExists => {
                not_allowed("something exists here already")
            }
            other => other.into(),
        })?;
    Ok(empty(StatusCode::CREATED))
}

/// RFC 5689 §3: a `resourcetype` in the body must ask for a plain
/// collection (the only kind this server makes); it is not stored.
fn collection_properties(
    properties: Vec<(PropertyName, String)>,
) -> Result<Vec<(PropertyName, String)>, Problem> {
    let mut out = Vec::with_capacity(properties.len());
    for (name, value) in properties {
        if name == PropertyName::new(DAV, "resourcetype") {
            let wrapped = format!("<r xmlns=\"DAV:\">{value}</r>");
            let plain = parse(&wrapped, crate::xml::Limits::default())
                .is_ok_and(|r| r.children().all(|c| c.is_dav("collection")));
            if !plain {
                return Err(Problem::condition(
                    StatusCode::FORBIDDEN,
                    "<D:valid-resourcetype/>",
                ));
            }
            continue;
        }
        if super::props::is_protected(&name) {
            return Err(Problem::condition(
                StatusCode::FORBIDDEN,
                "<D:cannot-modify-protected-property/>",
            ));
        }
        out.push((name, value));
    }
    Ok(out)
}

pub(crate) async fn delete<B: DavBackend + ?Sized>(ctx: &Ctx<'_, B>) -> Result<Response, Problem> {
    let resource = ctx
        .backend
        .resource(&ctx.path)
        .await?
        .ok_or_else(Problem::not_found)?;
    if ctx.path.is_root() {
        return Err(Problem::status(
            StatusCode::FORBIDDEN,
            "the root cannot be deleted",
        ));
    }
    // RFC 4918 §9.6.1: a collection is deleted as if Depth: infinity.
    if resource.kind == ResourceKind::Collection
        && Depth::parse(ctx.header("depth"))? != Depth::Infinity
    {
        return Err(Problem::bad_request(
            "DELETE of a collection needs Depth: infinity",
        ));
    }
    require(ctx, &[Touch::Subtree(ctx.path.clone())]).await?;
    http_preconditions(ctx, Some(&resource), false)?;
    ctx.backend.delete(&ctx.path).await?;
    ctx.backend.locks().forget_below(&ctx.path).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
