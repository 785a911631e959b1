//! GET and HEAD: bodies with ranges (RFC 9110 §14), validators, and a small
//! HTML listing for collections.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;

use super::Ctx;
use super::conditions::{evaluate_if, http_preconditions, if_header};
use super::reply::{Problem, http_date, quoted, set_header, with_body};
use crate::backend::{DavBackend, Resource, ResourceKind};
use crate::range::parse_range;
use crate::xml::escape_text;

pub(crate) async fn get<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    with_body_: bool,
) -> Result<Response, Problem> {
    let resource = ctx
        .backend
        .resource(&ctx.path)
        .await?
        .ok_or_else(Problem::not_found)?;
    http_preconditions(ctx, Some(&resource), true)?;
    evaluate_if(ctx, if_header(ctx)?.as_ref()).await?;
    if resource.kind == ResourceKind::Collection {
        return listing(ctx, &resource, with_body_).await;
    }
    let length = resource.length;
    // If-Range (RFC 9110 §13.1.5): the range only applies to the same representation.
    let range_applies = match ctx.header(header::IF_RANGE.as_str()) {
        None => true,
        Some(tag) => tag.trim() == quoted(&resource.etag),
    };
    let ranges = match ctx.header(header::RANGE.as_str()) {
        Some(value) if range_applies => match parse_range(value, length) {
            Ok(ranges) => ranges,
            Err(_) => {
                let mut response = with_body(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "text/plain; charset=utf-8",
                    "range not satisfiable\n".to_owned(),
                );
                set_header(
                    &mut response,
                    header::CONTENT_RANGE,
                    &format!("bytes */{length}"),
                );
                return Ok(response);
            }
        },
        _ => None,
    };
    // One range is served as 206; several are served as the whole body.
    let single = match ranges.as_deref() {
        Some([one]) => Some(*one),
        _ => None,
    };
    let (status, range, sent) = match single {
        Some(r) => (StatusCode::PARTIAL_CONTENT, Some(r.as_range()), r.len()),
        None => (StatusCode::OK, None, length),
    };
    let body = if with_body_ {
        Body::from_stream(ctx.backend.read(&ctx.path, range).await?)
    } else {
        Body::empty()
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    validators(&mut response, &resource);
    set_header(
        &mut response,
        header::CONTENT_TYPE,
        resource
            .content_type
            .as_deref()
            .unwrap_or("application/octet-stream"),
    );
    set_header(&mut response, header::CONTENT_LENGTH, &sent.to_string());
    set_header(&mut response, header::ACCEPT_RANGES, "bytes");
    if let Some(r) = single {
        set_header(
            &mut response,
            header::CONTENT_RANGE,
            &format!("bytes {}-{}/{length}", r.first, r.last),
        );
    }
    Ok(response)
}

/// `ETag` and `Last-Modified`.
pub(crate) fn validators(response: &mut Response, resource: &Resource) {
    set_header(response, header::ETAG, &quoted(&resource.etag));
    set_header(
        response,
        header::LAST_MODIFIED,
        &http_date(resource.modified),
    );
}

async fn listing<B: DavBackend + ?Sized>(
    ctx: &Ctx<'_, B>,
    resource: &Resource,
    with_body_: bool,
) -> Result<Response, Problem> {
    let mut html = String::from("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    let title = escape_text(&resource.path.to_string());
    html.push_str(&title);
    html.push_str("</title></head><body><h1>");
    html.push_str(&title);
    html.push_str("</h1><ul>\n");
    for child in ctx.backend.children(&resource.path).await? {
        let collection = child.kind == ResourceKind::Collection;
        let name = child.path.name().unwrap_or_default();
        html.push_str("<li><a href=\"");
        html.push_str(&crate::xml::escape_attr(&ctx.href(&child.path, collection)));
        html.push_str("\">");
        html.push_str(&escape_text(name));
        if collection {
            html.push('/');
        }
        html.push_str("</a></li>\n");
    }
    html.push_str("</ul></body></html>\n");
    let length = html.len();
    let mut response = with_body(
        StatusCode::OK,
        "text/html; charset=utf-8",
        if with_body_ { html } else { String::new() },
    );
    validators(&mut response, resource);
    set_header(&mut response, header::CONTENT_LENGTH, &length.to_string());
    Ok(response)
}
