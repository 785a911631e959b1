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
use chrono::{TimeDelta, TimeZone as _};
use guss_core::{PersonId, PersonStatus, Principal, Scope};
use guss_dav::DavPath;
use guss_identity::{Finding, Person, Role, Session};
use guss_policy::delegation::DeputyOf;
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
use crate::office::OFFICE_ZONE;

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

/// Where a continuity finding is fixed, and the words for going there.
fn fix_for(
    t: &PeopleText,
    finding: &Finding,
    everyone: &[Person],
    me: PersonId,
) -> (String, &'static str) {
    match finding {
        Finding::TooFewAdmins { .. } => {
            // The first active colleague who is not an admin yet.
            let candidate = everyone
                .iter()
                .find(|x| x.status == PersonStatus::Active && !x.is_admin());
            match candidate {
                Some(x) => (format!("/people/person?id={}", x.id), t.fix_make_admin),
                None => ("/people#invite-title".to_owned(), t.fix_make_admin),
            }
        }
        Finding::SinglePasskey { person, .. } if *person == me => {
            ("/security".to_owned(), t.fix_own_passkey)
        }
        Finding::SinglePasskey { person, .. } => {
            (format!("/people/person?id={person}"), t.fix_second_passkey)
        }
        _ => ("/setup/continuity".to_owned(), t.fix_trustees),
    }
}

fn scope_name(t: &PeopleText, scope: Scope) -> &'static str {
    match scope {
        Scope::Mail => t.scope_mail,
        Scope::Calendar => t.scope_calendar,
        Scope::Files => t.scope_files,
        _ => "",
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

struct FindingRow {
    text: String,
    href: String,
    action: &'static str,
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
    /// What puts continuity at risk, each with the page that fixes it.
    findings: Vec<FindingRow>,
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
    let everyone = bundle.identity.people(&session).await?;
    let findings = bundle
        .identity
        .continuity(session.tenant)
        .await?
        .iter()
        .map(|finding| {
            let (href, action) = fix_for(p, finding, &everyone, session.person());
            FindingRow {
                text: super::home::finding_text(t, finding, &everyone),
                href,
                action,
            }
        })
        .collect();
    let people = everyone
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
        findings,
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
    deputy: Option<String>,
    grants: Vec<GrantRow>,
    today: String,
    done: Option<&'static str>,
}

/// A representation for a time, as the person page lists it.
struct GrantRow {
    id: String,
    deputy: String,
    period: String,
    scopes: String,
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
    let name_of = |id: PersonId| {
        everyone
            .iter()
            .find(|x| x.id == id)
            .map_or_else(|| id.to_string(), |x| x.display_name.clone())
    };
    let deputy = bundle
        .delegations
        .deputies(session.tenant)
        .await
        .map_err(|e| WebError::Backend(e.into()))?
        .into_iter()
        .find(|(of, _)| *of == DeputyOf::Person(found.id))
        .map(|(_, deputy)| name_of(deputy));
    let now = bundle.clock.now();
    let grants = bundle
        .delegations
        .grants_concerning(session.tenant, found.id)
        .await
        .map_err(|e| WebError::Backend(e.into()))?
        .into_iter()
        .filter(|g| g.represented == found.id && g.ends_at > now)
        .map(|g| GrantRow {
            id: g.id.to_string(),
            deputy: name_of(g.deputy),
            period: format!(
                "{} – {}",
                when(visit.lang, g.starts_at),
                when(visit.lang, g.ends_at)
            ),
            scopes: g
                .scopes
                .iter()
                .map(|scope| scope_name(p, *scope))
                .collect::<Vec<_>>()
                .join(", "),
        })
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
        deputy,
        grants,
        today: now
            .with_timezone(&OFFICE_ZONE)
            .format("%Y-%m-%d")
            .to_string(),
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
    let home = DavPath::from_segments(["people", &to]).map_err(|e| WebError::Backend(e.into()))?;
    // A name a folder can have, and one not taken yet in the successor's.
    let base = format!(
        "Übergabe {}",
        leaving.display_name.replace(['/', '\\'], "-")
    );
    let mut to = None;
    for attempt in 1..=100 {
        let name = match attempt {
            1 => base.clone(),
            n => format!("{base} ({n})"),
        };
        let candidate = home.join(&name).map_err(|e| WebError::Backend(e.into()))?;
        if files
            .stat(&candidate)
            .await
            .map_err(|e| WebError::Backend(e.into()))?
            .is_none()
        {
            to = Some(candidate);
            break;
        }
    }
    let to =
        to.ok_or_else(|| WebError::Backend(anyhow::anyhow!("no free handover folder name")))?;
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

/// An active colleague other than `person`, named by a form, or the sentence.
fn colleague(
    everyone: &[Person],
    person: PersonId,
    value: &str,
    sentence: &str,
) -> Result<PersonId, WebError> {
    value
        .parse::<Uuid>()
        .ok()
        .map(PersonId::from_uuid)
        .filter(|id| {
            *id != person
                && everyone
                    .iter()
                    .any(|x| x.id == *id && x.status == PersonStatus::Active)
        })
        .ok_or_else(|| WebError::Invalid(sentence.to_owned()))
}

/// `POST /people/deputy`: names the colleague who stands in for the person.
pub(super) async fn name_deputy(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<PersonForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&bundle, &visit, &form.csrf).await?;
    let everyone = bundle.identity.people(&session).await?;
    let deputy = colleague(
        &everyone,
        form.id,
        &form.value,
        visit.text().people.error_deputy,
    )?;
    bundle
        .delegations
        .name_deputy(&session.principal(), DeputyOf::Person(form.id), deputy)
        .await
        .map_err(|e| WebError::Backend(e.into()))?;
    Ok(back(form.id, Done::DeputyNamed))
}

/// The form for a representation for a time.
#[derive(Deserialize)]
pub(super) struct RepresentForm {
    #[serde(default)]
    csrf: String,
    id: PersonId,
    #[serde(default)]
    deputy: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    mail: Option<String>,
    calendar: Option<String>,
    files: Option<String>,
    write: Option<String>,
    #[serde(default)]
    reason: String,
}

/// `POST /people/represent`: a colleague acts for the person from the first
/// day to the last (office days), for the chosen services.
pub(super) async fn represent(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<RepresentForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&bundle, &visit, &form.csrf).await?;
    let p = visit.text().people;
    let invalid = || WebError::Invalid(p.error_grant.to_owned());
    let everyone = bundle.identity.people(&session).await?;
    let deputy = colleague(&everyone, form.id, &form.deputy, p.error_grant)?;
    let start = office_day_start(&form.from, false).ok_or_else(invalid)?;
    let end = office_day_start(&form.until, true).ok_or_else(invalid)?;
    let scopes: Vec<Scope> = [
        (form.mail.is_some(), Scope::Mail),
        (form.calendar.is_some(), Scope::Calendar),
        (form.files.is_some(), Scope::Files),
    ]
    .into_iter()
    .filter_map(|(chosen, scope)| chosen.then_some(scope))
    .collect();
    let today = office_day_start(
        &bundle
            .clock
            .now()
            .with_timezone(&OFFICE_ZONE)
            .format("%Y-%m-%d")
            .to_string(),
        false,
    )
    .ok_or_else(invalid)?;
    if scopes.is_empty() || start < today {
        return Err(invalid());
    }
    bundle
        .delegations
        .grant(
            &session.principal(),
            deputy,
            form.id,
            start,
            end,
            &scopes,
            form.write.is_some(),
            form.reason.trim(),
        )
        .await
        .map_err(|e| match e {
            guss_policy::Error::Invalid { .. } => invalid(),
            other => WebError::Backend(other.into()),
        })?;
    Ok(back(form.id, Done::RepresentationGranted))
}

/// The revoke form of a representation: the grant and the person it is for.
#[derive(Deserialize)]
pub(super) struct GrantForm {
    #[serde(default)]
    csrf: String,
    id: PersonId,
    grant: Uuid,
}

/// `POST /people/grants/revoke`: ends a representation now.
pub(super) async fn revoke_grant(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<GrantForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&bundle, &visit, &form.csrf).await?;
    let concerning = bundle
        .delegations
        .grants_concerning(session.tenant, form.id)
        .await
        .map_err(|e| WebError::Backend(e.into()))?;
    if !concerning.iter().any(|g| g.id == form.grant) {
        return Err(WebError::NotFound);
    }
    bundle
        .delegations
        .revoke(&session.principal(), form.grant)
        .await
        .map_err(|e| WebError::Backend(e.into()))?;
    Ok(back(form.id, Done::GrantRevoked))
}

/// The start of an office day (`2026-12-24`), or of the day after it.
fn office_day_start(text: &str, after: bool) -> Option<chrono::DateTime<chrono::Utc>> {
    let day = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?;
    let day = if after { day.succ_opt()? } else { day };
    OFFICE_ZONE
        .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|t| t.to_utc())
}
