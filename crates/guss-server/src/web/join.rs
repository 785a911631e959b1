//! Joining by invitation (or the owner's setup link), signing in, and where
//! each person goes next.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::{Layout, Visit, WebError, organisation_name, render, see_other};
use crate::access::{handle_of, home_folder};
use crate::bundle::Bundle;
use crate::office::SetupStep;

#[derive(Template)]
#[template(path = "join.html")]
struct JoinPage {
    l: Layout,
    organisation: String,
    token: String,
}

async fn organisation(bundle: &Bundle, visit: &Visit) -> Result<String, WebError> {
    organisation_name(bundle, visit.tenant()?).await
}

/// The page an invitation link opens: create a passkey.
pub(super) async fn join_page(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let organisation = organisation(&bundle, &visit).await?;
    // The token is checked when the ceremony starts; here it only has to
    // look like one, so that nothing odd lands in the page.
    let plausible = !token.is_empty()
        && token.len() <= 128
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !plausible {
        return Err(WebError::Invalid(visit.text().join_invalid.to_owned()));
    }
    let t = visit.text();
    render(&JoinPage {
        l: visit.layout(&bundle, t.join_title).await,
        organisation,
        token,
    })
}

#[derive(Deserialize)]
pub(super) struct WelcomeQuery {
    joined: Option<String>,
}

/// After a passkey ceremony: the wizard for an admin whose setup is
/// unfinished, the devices page for someone who has just joined, else home.
pub(super) async fn welcome(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Query(query): Query<WelcomeQuery>,
) -> Result<Response, WebError> {
    let tenant = visit.tenant()?;
    let me = visit.me(&bundle).await?;
    if let Some(handle) = handle_of(&me) {
        home_folder(&bundle.files.tenant(tenant), &handle).await?;
    }
    let settings = bundle.settings(tenant).await?;
    if me.is_admin() && settings.step < SetupStep::Done {
        bundle.reach_step(tenant, SetupStep::Office).await?;
        return Ok(see_other(super::setup::page_of(
            settings.step.max(SetupStep::Office),
        )));
    }
    Ok(see_other(if query.joined.is_some() {
        "/devices"
    } else {
        "/home"
    }))
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    l: Layout,
    organisation: String,
}

/// Username-less passkey sign-in.
pub(super) async fn sign_in_page(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
) -> Result<Response, WebError> {
    let organisation = organisation(&bundle, &visit).await?;
    if visit.session.is_some() {
        return Ok(see_other("/home"));
    }
    let t = visit.text();
    render(&SignInPage {
        l: visit.layout(&bundle, t.sign_in_title).await,
        organisation,
    })
}
