//! One handler per endpoint; each is a thin translation to the service.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use chrono::TimeDelta;
use guss_core::{EmailAddress, PersonId, Scope};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{App, Authed, Request, session_cookie};
use crate::store::TenantRegistry;
use crate::{Error, Result, Role, SignedIn, parse_assertion, parse_registration};

type Reply = Result<Json<Value>>;

fn reply(value: impl serde::Serialize) -> Reply {
    serde_json::to_value(value)
        .map(Json)
        .map_err(|e| Error::invalid("response", e.to_string()))
}

/// A ceremony's result as the browser sends it back.
#[derive(Deserialize)]
pub(super) struct Finish {
    ceremony: String,
    credential: Box<serde_json::value::RawValue>,
}

fn signed_in<R: TenantRegistry>(
    app: &App<R>,
    signed_in: SignedIn,
) -> Result<axum::response::Response> {
    let max_age = app.identity.settings().session_absolute.num_seconds();
    let cookie = session_cookie(Some(&signed_in.token), max_age);
    Ok((
        [cookie],
        Json(json!({ "display_name": signed_in.display_name, "session": signed_in.session })),
    )
        .into_response())
}

#[derive(Deserialize)]
pub(super) struct SignInStart {
    #[serde(default)]
    email: Option<String>,
}

pub(super) async fn sign_in_start<R: TenantRegistry>(
    State(app): State<App<R>>,
    r: Request,
    Json(body): Json<SignInStart>,
) -> Reply {
    let email: Option<EmailAddress> = match body
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        Some(e) => Some(e.parse()?),
        None => None,
    };
    reply(app.identity.start_sign_in(r.tenant, email.as_ref()).await?)
}

pub(super) async fn sign_in_finish<R: TenantRegistry>(
    State(app): State<App<R>>,
    r: Request,
    Json(body): Json<Finish>,
) -> Result<impl IntoResponse> {
    let credential = parse_assertion(body.credential.get())?;
    let done = app
        .identity
        .finish_sign_in(r.tenant, &body.ceremony, &credential, &r.client)
        .await?;
    signed_in(&app, done)
}

#[derive(Deserialize)]
pub(super) struct EnrollStart {
    token: String,
    #[serde(default = "default_label")]
    label: String,
}

fn default_label() -> String {
    "Passkey".to_owned()
}

pub(super) async fn enroll_start<R: TenantRegistry>(
    State(app): State<App<R>>,
    r: Request,
    Json(body): Json<EnrollStart>,
) -> Reply {
    reply(
        app.identity
            .start_enrollment(r.tenant, &body.token, &body.label, &r.client)
            .await?,
    )
}

pub(super) async fn enroll_finish<R: TenantRegistry>(
    State(app): State<App<R>>,
    r: Request,
    Json(body): Json<Finish>,
) -> Result<impl IntoResponse> {
    let credential = parse_registration(body.credential.get())?;
    let done = app
        .identity
        .finish_enrollment(r.tenant, &body.ceremony, &credential, &r.client)
        .await?;
    signed_in(&app, done)
}

pub(super) async fn sign_out<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
) -> Result<impl IntoResponse> {
    app.identity.sign_out(&a.session).await?;
    Ok((
        [session_cookie(None, 0)],
        Json(json!({ "signed_out": true })),
    ))
}

pub(super) async fn me<R: TenantRegistry>(State(app): State<App<R>>, a: Authed) -> Reply {
    let people = app.identity.people(&a.session).await?;
    let person = people
        .into_iter()
        .find(|p| p.id == a.session.person())
        .ok_or(Error::Unauthenticated)?;
    reply(json!({ "person": person, "session": a.session.info }))
}

pub(super) async fn sessions<R: TenantRegistry>(State(app): State<App<R>>, a: Authed) -> Reply {
    reply(app.identity.sessions(&a.session).await?)
}

pub(super) async fn revoke_session<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Path(id): Path<Uuid>,
) -> Reply {
    app.identity.revoke_session(&a.session, id).await?;
    reply(json!({ "revoked": id }))
}

pub(super) async fn step_up_start<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
) -> Reply {
    reply(app.identity.start_step_up(&a.session).await?)
}

pub(super) async fn step_up_finish<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Json(body): Json<Finish>,
) -> Reply {
    let credential = parse_assertion(body.credential.get())?;
    let session = app
        .identity
        .finish_step_up(&a.session, &body.ceremony, &credential)
        .await?;
    reply(session.info)
}

pub(super) async fn passkeys<R: TenantRegistry>(State(app): State<App<R>>, a: Authed) -> Reply {
    reply(app.identity.passkeys(&a.session).await?)
}

#[derive(Deserialize)]
pub(super) struct Label {
    label: String,
}

pub(super) async fn add_passkey_start<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Json(body): Json<Label>,
) -> Reply {
    reply(
        app.identity
            .start_add_passkey(&a.session, &body.label)
            .await?,
    )
}

pub(super) async fn add_passkey_finish<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Json(body): Json<Finish>,
) -> Reply {
    let credential = parse_registration(body.credential.get())?;
    reply(
        app.identity
            .finish_add_passkey(&a.session, &body.ceremony, &credential)
            .await?,
    )
}

pub(super) async fn remove_passkey<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Path(id): Path<Uuid>,
) -> Reply {
    app.identity.remove_passkey(&a.session, id).await?;
    reply(json!({ "removed": id }))
}

pub(super) async fn app_passwords<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
) -> Reply {
    reply(app.identity.app_passwords(&a.session).await?)
}

#[derive(Deserialize)]
pub(super) struct NewAppPassword {
    label: String,
    scopes: Vec<Scope>,
}

pub(super) async fn create_app_password<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Json(body): Json<NewAppPassword>,
) -> Reply {
    reply(
        app.identity
            .create_app_password(&a.session, &body.label, &body.scopes)
            .await?,
    )
}

pub(super) async fn revoke_app_password<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Path(id): Path<Uuid>,
) -> Reply {
    app.identity.revoke_app_password(&a.session, id).await?;
    reply(json!({ "revoked": id }))
}

pub(super) async fn people<R: TenantRegistry>(State(app): State<App<R>>, a: Authed) -> Reply {
    reply(app.identity.people(&a.session).await?)
}

fn person_id(id: Uuid) -> PersonId {
    PersonId::from_uuid(id)
}

pub(super) async fn suspend<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Path(id): Path<Uuid>,
) -> Reply {
    app.identity.suspend(&a.session, person_id(id)).await?;
    reply(json!({ "suspended": id }))
}

pub(super) async fn depart<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Path(id): Path<Uuid>,
) -> Reply {
    app.identity
        .mark_departed(&a.session, person_id(id))
        .await?;
    reply(json!({ "departed": id }))
}

pub(super) async fn reactivate<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Path(id): Path<Uuid>,
) -> Reply {
    app.identity.reactivate(&a.session, person_id(id)).await?;
    reply(json!({ "reactivated": id }))
}

#[derive(Deserialize)]
pub(super) struct RoleBody {
    role: Role,
}

pub(super) async fn grant_role<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Path(id): Path<Uuid>,
    Json(body): Json<RoleBody>,
) -> Reply {
    app.identity
        .grant_role(&a.session, person_id(id), &body.role)
        .await?;
    reply(json!({ "granted": body.role }))
}

pub(super) async fn revoke_role<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Path((id, role)): Path<(Uuid, String)>,
) -> Reply {
    let role = Role::new(&role)?;
    app.identity
        .revoke_role(&a.session, person_id(id), &role)
        .await?;
    reply(json!({ "revoked": role }))
}

#[derive(Deserialize)]
pub(super) struct RecoveryLink {
    #[serde(default)]
    delay_minutes: u32,
}

pub(super) async fn recovery_link<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Path(id): Path<Uuid>,
    Json(body): Json<RecoveryLink>,
) -> Reply {
    let delay = TimeDelta::minutes(i64::from(body.delay_minutes));
    reply(
        app.identity
            .issue_recovery_link(&a.session, person_id(id), delay)
            .await?,
    )
}

#[derive(Deserialize)]
pub(super) struct Invite {
    email: EmailAddress,
    display_name: String,
    #[serde(default)]
    roles: Vec<Role>,
}

pub(super) async fn invite<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Json(body): Json<Invite>,
) -> Reply {
    reply(
        app.identity
            .invite(&a.session, body.email, &body.display_name, &body.roles)
            .await?,
    )
}

pub(super) async fn invitations<R: TenantRegistry>(State(app): State<App<R>>, a: Authed) -> Reply {
    reply(app.identity.invitations(&a.session).await?)
}

pub(super) async fn revoke_enrollment<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Path(id): Path<Uuid>,
) -> Reply {
    app.identity.revoke_enrollment(&a.session, id).await?;
    reply(json!({ "revoked": id }))
}

#[derive(Deserialize)]
pub(super) struct Trustees {
    threshold: u8,
    trustees: Vec<String>,
}

pub(super) async fn configure_trustees<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Json(body): Json<Trustees>,
) -> Reply {
    reply(
        app.identity
            .configure_trustees(&a.session, body.threshold, &body.trustees)
            .await?,
    )
}

#[derive(Deserialize)]
pub(super) struct BreakGlass {
    shares: Vec<String>,
    email: EmailAddress,
    display_name: String,
}

pub(super) async fn break_glass_start<R: TenantRegistry>(
    State(app): State<App<R>>,
    r: Request,
    Json(body): Json<BreakGlass>,
) -> Reply {
    reply(
        app.identity
            .start_break_glass(
                r.tenant,
                &body.shares,
                body.email,
                &body.display_name,
                &r.client,
            )
            .await?,
    )
}

pub(super) async fn break_glass<R: TenantRegistry>(
    State(app): State<App<R>>,
    r: Request,
    Path(id): Path<Uuid>,
) -> Reply {
    reply(app.identity.break_glass(r.tenant, id).await?)
}

pub(super) async fn break_glass_veto<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Path(id): Path<Uuid>,
) -> Reply {
    app.identity.veto_break_glass(&a.session, id).await?;
    reply(json!({ "vetoed": id }))
}

#[derive(Deserialize)]
pub(super) struct Shares {
    shares: Vec<String>,
}

pub(super) async fn break_glass_finish<R: TenantRegistry>(
    State(app): State<App<R>>,
    r: Request,
    Path(id): Path<Uuid>,
    Json(body): Json<Shares>,
) -> Reply {
    reply(
        app.identity
            .finish_break_glass(r.tenant, id, &body.shares, &r.client)
            .await?,
    )
}

pub(super) async fn continuity<R: TenantRegistry>(State(app): State<App<R>>, a: Authed) -> Reply {
    reply(app.identity.continuity(a.session.tenant).await?)
}

#[derive(Deserialize)]
pub(super) struct RelyingPartyBody {
    id: String,
    origins: Vec<String>,
}

pub(super) async fn set_relying_party<R: TenantRegistry>(
    State(app): State<App<R>>,
    a: Authed,
    Json(body): Json<RelyingPartyBody>,
) -> Reply {
    let relying_party =
        crate::RelyingParty::new(&body.id, body.origins.iter().map(String::as_str))?;
    app.identity
        .set_relying_party(&a.session, relying_party)
        .await?;
    reply(json!({ "rp_id": body.id }))
}
