//! The people pages (admins): who is in the organisation, invitations
//! (made, sent again, revoked), roles, suspension, and departure with its
//! offboarding: sessions and app passwords end at once, the person's files
//! go to a named colleague's folder and their mailbox to that colleague by
//! a deputy grant.
//!
//! Every form is an admin form: from this origin, with the session's
//! token, after a passkey step-up, by someone the policy lets administer.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::TimeDelta;
use guss_core::{PersonId, PersonStatus, Principal, Scope};
use guss_dav::DavPath;
use guss_identity::{Person, Role, Session};
use serde::Deserialize;
use uuid::Uuid;

use super::files::when;
use super::invite::{InviteForm, Invited, invite};
use super::people_text::{Done, PeopleText};
use super::{
    DoneQuery, IdForm, Layout, Visit, WebError, admin_form, administers, render, role_name,
    see_other,
};
use crate::access::handle_of;
use crate::bundle::Bundle;

/// How long a departed person's mailbox stays with their successor (the
/// longest a deputy grant runs; it can be renewed).
const HANDOVER_DAYS: i64 = 365;

/// The signed-in admin, or refused: members do not see these pages.
async fn admin(bundle: &Bundle, visit: &Visit) -> Result<Session, WebError> {
    let session = visit.signed_in()?.clone();
    if !administers(bundle, &session.principal()).await {
        return Err(WebError::Forbidden);
    }
    Ok(session)
}

fn status_name(t: &PeopleText, status: PersonStatus) -> &'static str {
    match status {
        PersonStatus::Active => t.status_active,
        PersonStatus::Suspended => t.status_suspended,
        PersonStatus::Departed => t.status_departed,
    }
}

fn email_of(person: &Person) -> String {
    person
        .emails
        .first()
        .map(|e| e.as_str().to_owned())
        .unwrap_or_default()
}

struct PersonRow {
    name: String,
    email: String,
    role: &'static str,
    status: &'static str,
    href: String,
}

struct InvitationRow {
    id: String,
    email: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    l: Layout,
    p: &'static PeopleText,
    step_up: &'static str,
    people: Vec<PersonRow>,
    invitations: Vec<InvitationRow>,
    /// Until a step-up, the open invitations are not listed.
    invitations_hidden: bool,
    invited: Option<Invited>,
    error: Option<String>,
    done: Option<&'static str>,
}

/// `GET /people`: everyone, the open invitations and the invitation form.
pub(super) async fn list(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Query(query): Query<DoneQuery>,
) -> Result<Response, WebError> {
    let done = query.done.as_deref().and_then(Done::from_key);
    people_view(&bundle, &visit, None, None, done).await
}

async fn people_view(
    bundle: &Bundle,
    visit: &Visit,
    invited: Option<Invited>,
    error: Option<String>,
    done: Option<Done>,
) -> Result<Response, WebError> {
    let session = admin(bundle, visit).await?;
    let t = visit.text();
    let p = t.people;
    let people = bundle
        .identity
        .people(&session)
        .await?
        .into_iter()
        .map(|person| PersonRow {
            email: email_of(&person),
            role: role_name(t, &person.roles),
            status: status_name(p, person.status),
            href: format!("/people/person?id={}", person.id),
            name: person.display_name,
        })
        .collect();
    // Open invitations carry live links: they show after a step-up.
    let stepped_up = visit.stepped_up(bundle);
    let open = if stepped_up {
        bundle.identity.invitations(&session).await?
    } else {
        Vec::new()
    };
    let invitations = open
        .into_iter()
        .map(|i| InvitationRow {
            id: i.id.to_string(),
            email: i.email.as_str().to_owned(),
            expires: when(visit.lang, i.expires_at),
        })
        .collect();
    render(&PeoplePage {
        l: visit.layout(bundle, p.title).await,
        p,
        step_up: visit.step_up_state(bundle),
        people,
        invitations,
        invitations_hidden: !stepped_up,
        invited,
        error,
        done: done.map(|d| d.text(p)),
    })
}

/// `POST /people/invite`: invites a colleague and shows their link.
pub(super) async fn invite_person(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<InviteForm>,
) -> Result<Response, WebError> {
    match invite(&bundle, &visit, &form).await? {
        Ok(invited) => people_view(&bundle, &visit, Some(invited), None, None).await,
        Err(sentence) => people_view(&bundle, &visit, None, Some(sentence), None).await,
    }
}

/// `POST /people/invitations/revoke`: the link stops working.
pub(super) async fn revoke_invitation(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<IdForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&bundle, &visit, &form.csrf).await?;
    bundle.identity.revoke_enrollment(&session, form.id).await?;
    Ok(see_other(&format!(
        "/people?done={}",
        Done::InvitationRevoked.key()
    )))
}

/// `POST /people/invitations/resend`: a new link (the old one stops), shown
/// and mailed like a new invitation.
pub(super) async fn resend_invitation(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<IdForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&bundle, &visit, &form.csrf).await?;
    let open = bundle
        .identity
        .invitations(&session)
        .await?
        .into_iter()
        .find(|i| i.id == form.id)
        .ok_or(WebError::NotFound)?;
    let person = person(&bundle, &session, open.person).await?;
    let link = bundle.identity.resend_invitation(&session, form.id).await?;
    let link = format!("{}/join/{}", visit.origin, link.token);
    let mailed = super::invite::mail_invitation(
        &bundle,
        &visit,
        session.tenant,
        &person.display_name,
        &open.email,
        &link,
    )
    .await
    .unwrap_or_else(|e| {
        tracing::warn!(error = format!("{e:#}"), "mailing the invitation failed");
        false
    });
    let invited = Invited {
        name: person.display_name,
        link,
        mailed,
    };
    people_view(&bundle, &visit, Some(invited), None, None).await
}

async fn person(bundle: &Bundle, session: &Session, id: PersonId) -> Result<Person, WebError> {
    bundle
        .identity
        .people(session)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or(WebError::NotFound)
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    l: Layout,
    p: &'static PeopleText,
    step_up: &'static str,
    id: String,
    email: String,
    role: &'static str,
    status: &'static str,
    active: bool,
    suspended: bool,
    admin: bool,
    owner: bool,
    myself: bool,
    colleagues: Vec<(String, String)>,
    done: Option<&'static str>,
}

#[derive(Deserialize)]
pub(super) struct PersonQuery {
    id: PersonId,
    #[serde(default)]
    done: Option<String>,
}

/// `GET /people/person?id=ID`: one person and what an admin can do.
pub(super) async fn show(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Query(query): Query<PersonQuery>,
) -> Result<Response, WebError> {
    let session = admin(&bundle, &visit).await?;
    let t = visit.text();
    let p = t.people;
    let everyone = bundle.identity.people(&session).await?;
    let found = everyone
        .iter()
        .find(|x| x.id == query.id)
        .ok_or(WebError::NotFound)?;
    let colleagues = everyone
        .iter()
        .filter(|x| x.id != found.id && x.status == PersonStatus::Active)
        .map(|x| (x.id.to_string(), x.display_name.clone()))
        .collect();
    render(&PersonPage {
        l: visit.layout(&bundle, &found.display_name).await,
        p,
        step_up: visit.step_up_state(&bundle),
        id: found.id.to_string(),
        email: email_of(found),
        role: role_name(t, &found.roles),
        status: status_name(p, found.status),
        active: found.status == PersonStatus::Active,
        suspended: found.status == PersonStatus::Suspended,
        admin: found.is_admin(),
        owner: found.has_role(&Role::OWNER),
        myself: found.id == session.person(),
        colleagues,
        done: Done::said(query.done.as_deref(), p),
    })
}

/// A form on a person.
#[derive(Deserialize)]
pub(super) struct PersonForm {
    #[serde(default)]
    csrf: String,
    id: PersonId,
    /// `admin` or `member` (role); the successor's id (departure).
    #[serde(default)]
    value: String,
}

fn back(id: PersonId, done: Done) -> Response {
    see_other(&format!("/people/person?id={id}&done={}", done.key()))
}

/// `POST /people/role`: makes someone an admin, or a member again.
pub(super) async fn set_role(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<PersonForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&bundle, &visit, &form.csrf).await?;
    match form.value.as_str() {
        "admin" => {
            bundle
                .identity
                .grant_role(&session, form.id, &Role::ADMIN)
                .await?
        }
        "member" => {
            bundle
                .identity
                .revoke_role(&session, form.id, &Role::ADMIN)
                .await?
        }
        _ => return Err(WebError::Invalid(visit.text().people.error_role.to_owned())),
    }
    Ok(back(form.id, Done::RoleChanged))
}

/// `POST /people/suspend`: the person's sessions, app passwords and links
/// stop at once.
pub(super) async fn suspend(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<PersonForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&bundle, &visit, &form.csrf).await?;
    bundle.identity.suspend(&session, form.id).await?;
    Ok(back(form.id, Done::Suspended))
}

/// `POST /people/reactivate`: a suspended person may sign in again.
pub(super) async fn reactivate(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<PersonForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&bundle, &visit, &form.csrf).await?;
    let found = person(&bundle, &session, form.id).await?;
    if found.status != PersonStatus::Suspended {
        return Err(WebError::Invalid(
            visit.text().people.error_not_suspended.to_owned(),
        ));
    }
    bundle.identity.reactivate(&session, form.id).await?;
    Ok(back(form.id, Done::Reactivated))
}

/// `POST /people/depart`: the person leaves. Their access ends at once;
/// their folder moves into the successor's ("Übergabe NAME") and the
/// successor may read and send their mail for a year (a deputy grant,
/// renewable).
pub(super) async fn depart(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<PersonForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&bundle, &visit, &form.csrf).await?;
    let p = visit.text().people;
    let everyone = bundle.identity.people(&session).await?;
    let leaving = everyone
        .iter()
        .find(|x| x.id == form.id)
        .ok_or(WebError::NotFound)?;
    let successor = form
        .value
        .parse::<Uuid>()
        .ok()
        .map(PersonId::from_uuid)
        .and_then(|id| everyone.iter().find(|x| x.id == id))
        .filter(|x| x.id != leaving.id && x.status == PersonStatus::Active)
        .ok_or_else(|| WebError::Invalid(p.error_successor.to_owned()))?;
    bundle.identity.mark_departed(&session, leaving.id).await?;
    hand_over_files(&bundle, &session, leaving, successor).await?;
    let now = bundle.clock.now();
    bundle
        .delegations
        .grant(
            &session.principal(),
            successor.id,
            leaving.id,
            now,
            now + TimeDelta::days(HANDOVER_DAYS),
            &[Scope::Mail],
            true,
            &format!("{} {}", p.handover_reason, leaving.display_name),
        )
        .await
        .map_err(|e| WebError::Backend(e.into()))?;
    Ok(back(form.id, Done::Departed))
}

/// Moves the leaving person's own folder into the successor's.
async fn hand_over_files(
    bundle: &Bundle,
    session: &Session,
    leaving: &Person,
    successor: &Person,
) -> Result<(), WebError> {
    let (Some(from), Some(to)) = (handle_of(leaving), handle_of(successor)) else {
        return Ok(());
    };
    let files = bundle.files.tenant(session.tenant);
    let from =
        DavPath::from_segments(["people", &from]).map_err(|e| WebError::Backend(e.into()))?;
    if files
        .stat(&from)
        .await
        .map_err(|e| WebError::Backend(e.into()))?
        .is_none()
    {
        return Ok(());
    }
    crate::access::home_folder(&files, &to).await?;
    let name = format!("Übergabe {}", leaving.display_name);
    let to =
        DavPath::from_segments(["people", &to, &name]).map_err(|e| WebError::Backend(e.into()))?;
    let by = Principal::Service {
        tenant: session.tenant,
        service: crate::SERVICE.clone(),
    };
    files
        .rename(&from, &to, &by)
        .await
        .map_err(|e| WebError::Backend(e.into()))?;
    Ok(())
}
