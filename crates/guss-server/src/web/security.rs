//! The security page (everyone): one's own passkeys (with a nudge until
//! there are two), sessions and app passwords, each revocable; for admins
//! also the audit log, filtered by person, kind and day, with the check of
//! its hash chain.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{NaiveDate, NaiveTime, TimeZone as _};
use guss_core::Event;
use guss_policy::audit::AuditSearch;
use serde::Deserialize;

use super::files::when;
use super::security_text::{Done, SecurityText};
use super::{IdForm, Layout, Visit, WebError, administers, render, see_other};
use crate::bundle::Bundle;
use crate::office::OFFICE_ZONE;

/// Most audit entries the page shows at once (newest first).
const AUDIT_SHOWN: u32 = 200;

struct Row {
    id: String,
    label: String,
    detail: String,
    current: bool,
}

struct AuditRow {
    seq: u64,
    time: String,
    kind: String,
    actor: String,
    subject: String,
}

/// The audit section of an admin's page.
struct Audit {
    rows: Vec<AuditRow>,
    people: Vec<(String, String)>,
    person: String,
    kind: String,
    from: String,
    until: String,
    verdict: Option<Result<(), String>>,
    total: u64,
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    l: Layout,
    s: &'static SecurityText,
    step_up: &'static str,
    passkeys: Vec<Row>,
    sessions: Vec<Row>,
    app_passwords: Vec<Row>,
    audit: Option<Audit>,
    done: Option<&'static str>,
}

/// The page's query: what was just done, and the audit filters.
#[derive(Deserialize, Default)]
pub(super) struct SecurityQuery {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    person: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    verify: Option<String>,
}

/// `GET /security`: the person's own credentials and, for admins, the
/// audit log.
pub(super) async fn page(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Query(query): Query<SecurityQuery>,
) -> Result<Response, WebError> {
    let session = visit.signed_in()?.clone();
    let s = visit.text().security;
    let lang = visit.lang;
    let passkeys = bundle
        .identity
        .passkeys(&session)
        .await?
        .into_iter()
        .map(|p| Row {
            id: p.id.to_string(),
            label: p.label,
            detail: when(lang, p.created_at),
            current: false,
        })
        .collect();
    let current = session.info.id;
    let sessions = bundle
        .identity
        .sessions(&session)
        .await?
        .into_iter()
        .map(|x| Row {
            id: x.id.to_string(),
            label: x.label,
            detail: format!(
                "{} · {}",
                when(lang, x.created_at),
                when(lang, x.last_seen_at)
            ),
            current: x.id == current,
        })
        .collect();
    let app_passwords = bundle
        .identity
        .app_passwords(&session)
        .await?
        .into_iter()
        .map(|a| Row {
            id: a.id.to_string(),
            label: a.label,
            detail: a
                .last_used_at
                .map_or_else(|| s.never_used.to_owned(), |at| when(lang, at)),
            current: false,
        })
        .collect();
    let audit = if administers(&bundle, &session.principal()).await {
        Some(audit(&bundle, &visit, &session, &query).await?)
    } else {
        None
    };
    render(&SecurityPage {
        l: visit.layout(&bundle, s.title).await,
        s,
        step_up: visit.step_up_state(&bundle),
        passkeys,
        sessions,
        app_passwords,
        audit,
        done: Done::said(query.done.as_deref(), s),
    })
}

/// The audit log as the filters ask, newest first.
async fn audit(
    bundle: &Bundle,
    visit: &Visit,
    session: &guss_identity::Session,
    query: &SecurityQuery,
) -> Result<Audit, WebError> {
    let tenant = session.tenant;
    let people: Vec<(String, String)> = bundle
        .identity
        .people(session)
        .await?
        .into_iter()
        .map(|p| (p.id.to_string(), p.display_name))
        .collect();
    let name_of = |actor: &str| {
        people
            .iter()
            .find(|(id, _)| actor.contains(id.as_str()))
            .map_or_else(|| actor.to_owned(), |(_, name)| name.clone())
    };
    let day = |text: &str, next: bool| {
        NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .ok()
            .and_then(|d| {
                let d = if next { d.succ_opt()? } else { d };
                OFFICE_ZONE
                    .from_local_datetime(&d.and_time(NaiveTime::MIN))
                    .earliest()
                    .map(|t| t.to_utc())
            })
    };
    let (from, until) = (day(&query.from, false), day(&query.until, true));
    let kind = query.kind.trim();
    let search = AuditSearch {
        kind_contains: (!kind.is_empty()).then(|| kind.to_owned()),
        actor_contains: (!query.person.is_empty()).then(|| query.person.clone()),
        from,
        until,
        limit: AUDIT_SHOWN,
        ..AuditSearch::default()
    };
    let backend = |e: guss_policy::Error| WebError::Backend(e.into());
    let entries = bundle
        .audit
        .search(tenant, &search)
        .await
        .map_err(backend)?;
    let total = bundle
        .audit
        .latest(tenant)
        .await
        .map_err(backend)?
        .map_or(0, |newest| newest.seq);
    let unreadable = visit.lang.text().security.audit_unreadable;
    let rows = entries
        .iter()
        .map(|entry| {
            let (kind, actor, subject) = match serde_json::from_str::<Event>(&entry.event) {
                Ok(event) => (
                    event.kind().as_str().to_owned(),
                    match event.actor() {
                        Some(actor) => name_of(actor),
                        None => "guss".to_owned(),
                    },
                    event.subject().unwrap_or("").to_owned(),
                ),
                Err(_) => (unreadable.to_owned(), String::new(), String::new()),
            };
            AuditRow {
                seq: entry.seq,
                time: when(visit.lang, entry.time),
                kind,
                actor,
                subject,
            }
        })
        .collect();
    let verdict = match query.verify {
        Some(_) => Some(
            bundle
                .audit
                .verify(tenant)
                .await
                .map_err(|e| WebError::Backend(e.into()))?
                .map_err(|tamper| tamper.to_string()),
        ),
        None => None,
    };
    Ok(Audit {
        rows,
        people,
        person: query.person.clone(),
        kind: kind.to_owned(),
        from: query.from.clone(),
        until: query.until.clone(),
        verdict,
        total,
    })
}

/// Back to the page, saying what was done.
fn back(done: Done) -> Response {
    see_other(&format!("/security?done={}", done.key()))
}

/// `POST /security/sessions/revoke`: signs that session out.
pub(super) async fn revoke_session(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<IdForm>,
) -> Result<Response, WebError> {
    visit.check_form(&bundle, &form.csrf)?;
    let session = visit.signed_in()?;
    bundle.identity.revoke_session(session, form.id).await?;
    Ok(back(Done::SessionRevoked))
}

/// `POST /security/app-passwords/revoke`: the device's password stops.
pub(super) async fn revoke_app_password(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<IdForm>,
) -> Result<Response, WebError> {
    visit.check_form(&bundle, &form.csrf)?;
    let session = visit.signed_in()?;
    bundle
        .identity
        .revoke_app_password(session, form.id)
        .await?;
    Ok(back(Done::AppPasswordRevoked))
}

/// `POST /security/passkeys/remove`: removes a passkey (never the last;
/// after a step-up).
pub(super) async fn remove_passkey(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<IdForm>,
) -> Result<Response, WebError> {
    visit.check_form(&bundle, &form.csrf)?;
    let session = visit.signed_in()?;
    bundle.identity.remove_passkey(session, form.id).await?;
    Ok(back(Done::PasskeyRemoved))
}
