//! The setup wizard: organisation and profession, the owner's passkey, the
//! mail domain with its DNS records, colleagues, a second admin and
//! deputies (or a break-glass kit), and the printable continuity sheet.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::Response;
use guss_core::{EmailAddress, PersonId, TenantId};
use guss_identity::store::TenantRegistry as _;
use guss_identity::{Person, RecoverySheet, Role, Session};
use guss_mail::dns::{LiveDns, MailDomain, TsigKey, records};
use guss_policy::delegation::DeputyOf;
use serde::Deserialize;

use super::i18n::{Lang, Text};
use super::invite::{InviteForm, Invited, invite};
use super::{
    Layout, StepView, Visit, WebError, admin_form, organisation_name, render, role_name, see_other,
};
use crate::access::furnish;
use crate::bundle::Bundle;
use crate::office::SetupStep;
use crate::presets::Profession;

/// The wizard's pages in order, with the step each stands for.
const STEPS: [(SetupStep, &str); 6] = [
    (SetupStep::Office, "/setup/office"),
    (SetupStep::Passkey, "/setup/office"),
    (SetupStep::Mail, "/setup/mail"),
    (SetupStep::People, "/setup/people"),
    (SetupStep::Continuity, "/setup/continuity"),
    (SetupStep::Sheet, "/setup/sheet"),
];

fn step_name(t: &Text, step: SetupStep) -> &'static str {
    match step {
        SetupStep::Office => t.step_office,
        SetupStep::Passkey => t.step_passkey,
        SetupStep::Mail => t.step_mail,
        SetupStep::People => t.step_people,
        SetupStep::Continuity => t.step_continuity,
        SetupStep::Sheet | SetupStep::Done => t.step_sheet,
    }
}

/// The step list with `current` marked; `reached` is how far setup got.
fn steps(t: &Text, current: SetupStep, reached: SetupStep, first_visit: bool) -> Vec<StepView> {
    STEPS
        .iter()
        .map(|&(step, href)| {
            // On the first page of a local trial, the organisation comes
            // before the passkey; afterwards both are done.
            let done = if first_visit {
                false
            } else {
                step < reached || step == SetupStep::Passkey
            };
            StepView {
                name: step_name(t, step),
                href,
                current: step == current,
                done: done && step != current,
            }
        })
        .collect()
}

/// The page path of a step.
pub(super) fn page_of(step: SetupStep) -> &'static str {
    match step {
        SetupStep::Passkey | SetupStep::Office => "/setup/office",
        SetupStep::Mail => "/setup/mail",
        SetupStep::People => "/setup/people",
        SetupStep::Continuity => "/setup/continuity",
        SetupStep::Sheet => "/setup/sheet",
        SetupStep::Done => "/home",
    }
}

fn professions(t: &Text) -> Vec<(&'static str, &'static str)> {
    Profession::ALL
        .into_iter()
        .map(|p| {
            let name = match p {
                Profession::LawOffice => t.profession_law_office,
                Profession::MedicalPractice => t.profession_medical_practice,
                Profession::DrivingSchool => t.profession_driving_school,
                Profession::Other => t.profession_other,
            };
            (p.key(), name)
        })
        .collect()
}

/// A wizard page for an admin of the organisation: the session, the
/// organisation and the frame with the steps.
struct Wizard {
    tenant: TenantId,
    session: Session,
    layout: Layout,
    step_up: &'static str,
}

async fn wizard(bundle: &Bundle, visit: &Visit, current: SetupStep) -> Result<Wizard, WebError> {
    let tenant = visit.tenant()?;
    let session = visit.signed_in()?.clone();
    if !visit.me(bundle).await?.is_admin() {
        return Err(WebError::Forbidden);
    }
    let settings = bundle.settings(tenant).await?;
    if settings.step < current {
        bundle.reach_step(tenant, current).await?;
    }
    let mut layout = visit.layout(bundle, step_name(visit.text(), current)).await;
    layout.title = format!("{} · {}", visit.text().wizard_title, layout.title);
    layout.steps = steps(visit.text(), current, settings.step.max(current), false);
    Ok(Wizard {
        tenant,
        session,
        layout,
        step_up: visit.step_up_state(bundle),
    })
}

// ------------------------------------------------------------ first visit

#[derive(Template)]
#[template(path = "setup_start.html")]
struct StartPage {
    l: Layout,
    professions: Vec<(&'static str, &'static str)>,
    profession: String,
    organisation: String,
    owner_name: String,
    owner_email: String,
    error: Option<String>,
}

/// The first visit of a local trial: who the organisation is.
pub(super) async fn start_page(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
) -> Result<Response, WebError> {
    first_visit_allowed(&bundle, &visit).await?;
    if let Some(redirect) = to_localhost(&visit) {
        return Ok(redirect);
    }
    start_form(&bundle, &visit, StartForm::default(), None).await
}

async fn start_form(
    bundle: &Bundle,
    visit: &Visit,
    form: StartForm,
    error: Option<String>,
) -> Result<Response, WebError> {
    let t = visit.text();
    let mut l = visit.layout(bundle, t.wizard_title).await;
    l.steps = steps(t, SetupStep::Office, SetupStep::Office, true);
    render(&StartPage {
        professions: professions(t),
        profession: form.profession,
        organisation: form.organisation,
        owner_name: form.owner_name,
        owner_email: form.owner_email,
        error,
        l,
    })
}

/// Passkeys are bound to `localhost`, never to an IP address: a trial
/// opened at 127.0.0.1 moves to localhost first.
fn to_localhost(visit: &Visit) -> Option<Response> {
    let host = visit.origin.strip_prefix("http://")?;
    let (name, port) = host.rsplit_once(':').unwrap_or((host, "80"));
    (name.parse::<std::net::IpAddr>().is_ok())
        .then(|| see_other(&format!("http://localhost:{port}/setup")))
}

async fn first_visit_allowed(bundle: &Bundle, visit: &Visit) -> Result<(), WebError> {
    if visit.tenant.is_some() || !bundle.config.is_local_trial() || bundle.offices.any().await? {
        return Err(WebError::NotFound);
    }
    Ok(())
}

#[derive(Default, Deserialize)]
pub(super) struct StartForm {
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    profession: String,
    #[serde(default)]
    owner_name: String,
    #[serde(default)]
    owner_email: String,
}

/// Creates the first organisation and leads its owner to their passkey.
pub(super) async fn start(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<StartForm>,
) -> Result<Response, WebError> {
    visit.check_form(&bundle, "")?;
    let _only_one = bundle.first_setup.lock().await;
    first_visit_allowed(&bundle, &visit).await?;
    let t = visit.text();
    let organisation = form.organisation.trim().to_owned();
    let owner_name = form.owner_name.trim().to_owned();
    let profession = Profession::from_key(&form.profession);
    let email = form.owner_email.trim().parse::<EmailAddress>();
    let problem = if organisation.is_empty() || organisation.chars().count() > 200 {
        Some(t.organisation_name)
    } else if profession.is_none() {
        Some(t.profession)
    } else if owner_name.is_empty() || owner_name.chars().count() > 200 {
        Some(t.your_name)
    } else if email.is_err() {
        Some(t.your_email)
    } else {
        None
    };
    let (Some(profession), Ok(email), None) = (profession, email, problem) else {
        let error = format!("{}?", problem.unwrap_or(t.your_email));
        return start_form(&bundle, &visit, form, Some(error)).await;
    };
    let host = visit
        .origin
        .split_once("://")
        .map(|(_, host)| host.to_owned())
        .unwrap_or_default();
    let created = bundle
        .create_tenant(
            &organisation,
            &owner_name,
            email.as_str(),
            Some(&host),
            Some(profession),
        )
        .await?;
    furnish(
        &bundle.files.tenant(created.tenant),
        &bundle.calendars.tenant(created.tenant),
        profession,
        visit.lang == Lang::En,
    )
    .await?;
    let path = created
        .setup_link
        .strip_prefix(&created.origin)
        .unwrap_or(&created.setup_link)
        .to_owned();
    Ok(see_other(&path))
}

// ------------------------------------------------------------ profession

#[derive(Template)]
#[template(path = "setup_office.html")]
struct OfficePage {
    l: Layout,
    step_up: &'static str,
    organisation: String,
    professions: Vec<(&'static str, &'static str)>,
    profession: String,
}

/// Name and profession.
pub(super) async fn office_page(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
) -> Result<Response, WebError> {
    let w = wizard(&bundle, &visit, SetupStep::Office).await?;
    let settings = bundle.settings(w.tenant).await?;
    let organisation = organisation_name(&bundle, w.tenant).await?;
    render(&OfficePage {
        step_up: w.step_up,
        organisation,
        professions: professions(visit.text()),
        profession: settings
            .profession
            .map(|p| p.key().to_owned())
            .unwrap_or_default(),
        l: w.layout,
    })
}

#[derive(Deserialize)]
pub(super) struct OfficeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    profession: String,
}

/// Applies the profession's presets.
pub(super) async fn office(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<OfficeForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&bundle, &visit, &form.csrf).await?;
    let profession = Profession::from_key(&form.profession)
        .ok_or_else(|| WebError::Invalid(format!("{}?", visit.text().profession)))?;
    let tenant = session.tenant;
    let mut settings = bundle.settings(tenant).await?;
    settings.profession = Some(profession);
    settings.step = settings.step.max(SetupStep::Mail);
    bundle.offices.save(tenant, &settings).await?;
    furnish(
        &bundle.files.tenant(tenant),
        &bundle.calendars.tenant(tenant),
        profession,
        visit.lang == Lang::En,
    )
    .await?;
    Ok(see_other("/setup/mail"))
}

// ------------------------------------------------------------ mail domain

/// A DNS record as the page shows it.
struct RecordView {
    name: String,
    kind: String,
    value: String,
    purpose: &'static str,
}

#[derive(Template)]
#[template(path = "setup_mail.html")]
struct MailPage {
    l: Layout,
    step_up: &'static str,
    domain: String,
    records: Vec<RecordView>,
    findings: Option<Vec<String>>,
    error: Option<String>,
}

/// The records a domain needs, with this organisation's DKIM keys.
async fn expected_records(
    bundle: &Bundle,
    tenant: TenantId,
    domain: &str,
    visit: &Visit,
) -> Result<guss_mail::dns::RecordSet, WebError> {
    let keys = bundle
        .mail
        .tenant(tenant)
        .dkim_keys(domain)
        .await
        .map_err(|e| WebError::Backend(e.into()))?;
    let web_host = visit
        .origin
        .split_once("://")
        .map(|(_, h)| h.split(':').next().unwrap_or(h).to_owned())
        .unwrap_or_default();
    let mut mail_domain = MailDomain::new(domain, bundle.config.mail_hostname(), &web_host);
    mail_domain.dkim_keys = keys.published().map(|k| k.dns_public_key()).collect();
    Ok(records(&mail_domain))
}

async fn mail_view(
    bundle: &Bundle,
    visit: &Visit,
    findings: Option<Vec<String>>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let w = wizard(bundle, visit, SetupStep::Mail).await?;
    let domain = bundle
        .settings(w.tenant)
        .await?
        .mail_domain
        .unwrap_or_default();
    let mut shown = Vec::new();
    if !domain.is_empty() {
        for record in expected_records(bundle, w.tenant, &domain, visit)
            .await?
            .iter()
        {
            let line = record.to_string();
            // `name ttl IN TYPE value`, as in a zone file.
            let value = line.splitn(5, char::is_whitespace).nth(4).unwrap_or("");
            shown.push(RecordView {
                name: record.name.clone(),
                kind: record.record_type().to_string(),
                value: value.to_owned(),
                purpose: super::i18n::record_purpose(visit.lang, record.purpose()),
            });
        }
    }
    render(&MailPage {
        step_up: w.step_up,
        domain,
        records: shown,
        findings,
        error,
        l: w.layout,
    })
}

/// The mail domain and the records to publish.
pub(super) async fn mail_page(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
) -> Result<Response, WebError> {
    mail_view(&bundle, &visit, None, None).await
}

#[derive(Deserialize)]
pub(super) struct MailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    domain: String,
}

/// Saves the mail domain (and makes its DKIM keys).
pub(super) async fn mail(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<MailForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&bundle, &visit, &form.csrf).await?;
    let tenant = session.tenant;
    let domain = form
        .domain
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let check = MailDomain::new(&domain, bundle.config.mail_hostname(), "localhost");
    if let Err(e) = check.validate() {
        return mail_view(&bundle, &visit, None, Some(e.to_string())).await;
    }
    let registry = bundle.identity.store();
    match registry.tenant_for_domain(&domain).await? {
        Some(owner) if owner == tenant => {}
        Some(_) => {
            let taken = format!("{domain}: {}", visit.text().forbidden_title);
            return mail_view(&bundle, &visit, None, Some(taken)).await;
        }
        None => registry.add_domain(tenant, &domain).await?,
    }
    let mut settings = bundle.settings(tenant).await?;
    settings.mail_domain = Some(domain.clone());
    bundle.offices.save(tenant, &settings).await?;
    let expected = expected_records(&bundle, tenant, &domain, &visit).await?;
    let dns = &bundle.config.dns;
    let (Some(server), Some(key_file)) = (dns.server, &dns.tsig_key_file) else {
        return Ok(see_other("/setup/mail"));
    };
    // Published where the office's zone is hosted, then checked there.
    let published = async {
        let key = TsigKey::from_bind_config(&std::fs::read_to_string(key_file)?)?;
        guss_mail::dns::publish(&expected, server, &domain, &key).await?;
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = published {
        tracing::warn!(%domain, error = format!("{e:#}"), "publishing the mail records failed");
        return mail_view(&bundle, &visit, None, Some(format!("{domain}: {e}"))).await;
    }
    let findings = live_check(&bundle, &expected).await?;
    mail_view(&bundle, &visit, Some(findings), None).await
}

/// The records as the configured name server (or the system's resolver)
/// sees them now, as sentences about what is wrong.
async fn live_check(
    bundle: &Bundle,
    expected: &guss_mail::dns::RecordSet,
) -> Result<Vec<String>, WebError> {
    let dns = match bundle.config.dns.server {
        Some(server) => LiveDns::name_server(server),
        None => LiveDns::system(),
    }
    .map_err(|e| WebError::Backend(e.into()))?;
    let findings = tokio::time::timeout(
        Duration::from_secs(20),
        guss_mail::dns::check(expected, &dns),
    )
    .await
    .map_err(|_| WebError::Backend(anyhow::anyhow!("the DNS check timed out")))?;
    Ok(findings.iter().map(ToString::to_string).collect())
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Looks the records up live and says what is missing.
pub(super) async fn mail_check(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&bundle, &visit, &form.csrf).await?;
    let Some(domain) = bundle.settings(session.tenant).await?.mail_domain else {
        return Ok(see_other("/setup/mail"));
    };
    let expected = expected_records(&bundle, session.tenant, &domain, &visit).await?;
    let findings = live_check(&bundle, &expected).await?;
    mail_view(&bundle, &visit, Some(findings), None).await
}

// ------------------------------------------------------------ colleagues

struct PersonView {
    name: String,
    email: String,
    role: &'static str,
}

#[derive(Template)]
#[template(path = "setup_people.html")]
struct PeoplePage {
    l: Layout,
    step_up: &'static str,
    people: Vec<PersonView>,
    invited: Option<Invited>,
    error: Option<String>,
}

async fn people_view(
    bundle: &Bundle,
    visit: &Visit,
    invited: Option<Invited>,
    error: Option<String>,
) -> Result<Response, WebError> {
    let w = wizard(bundle, visit, SetupStep::People).await?;
    let t = visit.text();
    let people = bundle
        .identity
        .people(&w.session)
        .await?
        .into_iter()
        .map(|p| PersonView {
            email: p
                .emails
                .first()
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default(),
            role: role_name(t, &p.roles),
            name: p.display_name,
        })
        .collect();
    render(&PeoplePage {
        step_up: w.step_up,
        people,
        invited,
        error,
        l: w.layout,
    })
}

/// The team so far, and the invitation form.
pub(super) async fn people_page(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
) -> Result<Response, WebError> {
    people_view(&bundle, &visit, None, None).await
}

/// Invites a colleague and shows their link.
pub(super) async fn people(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<InviteForm>,
) -> Result<Response, WebError> {
    match invite(&bundle, &visit, &form).await? {
        Ok(invited) => people_view(&bundle, &visit, Some(invited), None).await,
        Err(sentence) => people_view(&bundle, &visit, None, Some(sentence)).await,
    }
}

// ------------------------------------------------------------ continuity

#[derive(Template)]
#[template(path = "setup_continuity.html")]
struct ContinuityPage {
    l: Layout,
    step_up: &'static str,
    admins: Vec<String>,
    members: Vec<(String, String)>,
    everyone: Vec<(String, String)>,
    deputies: Vec<String>,
    ready: bool,
    error: Option<String>,
}

/// Who administers, who stands in for whom, and the trustees.
struct Continuity {
    admins: Vec<String>,
    members: Vec<(String, String)>,
    everyone: Vec<(String, String)>,
    deputies: Vec<String>,
    trustees: Vec<String>,
}

impl Continuity {
    fn ready(&self) -> bool {
        self.admins.len() >= 2 || !self.trustees.is_empty()
    }
}

async fn continuity_of(
    bundle: &Bundle,
    session: &Session,
    t: &Text,
) -> Result<Continuity, WebError> {
    let people: Vec<Person> = bundle
        .identity
        .people(session)
        .await?
        .into_iter()
        .filter(|p| p.status == guss_core::PersonStatus::Active)
        .collect();
    let name_of = |id: PersonId| {
        people
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.display_name.clone())
    };
    let mut deputies = Vec::new();
    for (holder, deputy) in bundle
        .delegations
        .deputies(session.tenant)
        .await
        .map_err(|e| WebError::Backend(e.into()))?
    {
        if let (DeputyOf::Person(represented), Some(deputy)) = (holder, name_of(deputy))
            && let Some(represented) = name_of(represented)
        {
            deputies.push(format!("{deputy} {} {represented}", t.stands_in_for));
        }
    }
    Ok(Continuity {
        admins: people
            .iter()
            .filter(|p| p.is_admin())
            .map(|p| p.display_name.clone())
            .collect(),
        members: people
            .iter()
            .filter(|p| !p.is_admin())
            .map(|p| (p.id.to_string(), p.display_name.clone()))
            .collect(),
        everyone: people
            .iter()
            .map(|p| (p.id.to_string(), p.display_name.clone()))
            .collect(),
        deputies,
        trustees: bundle.settings(session.tenant).await?.break_glass_trustees,
    })
}

async fn continuity_view(
    bundle: &Bundle,
    visit: &Visit,
    error: Option<String>,
) -> Result<Response, WebError> {
    let w = wizard(bundle, visit, SetupStep::Continuity).await?;
    let c = continuity_of(bundle, &w.session, visit.text()).await?;
    render(&ContinuityPage {
        step_up: w.step_up,
        ready: c.ready(),
        admins: c.admins,
        members: c.members,
        everyone: c.everyone,
        deputies: c.deputies,
        error,
        l: w.layout,
    })
}

/// The continuity step.
pub(super) async fn continuity_page(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
) -> Result<Response, WebError> {
    continuity_view(&bundle, &visit, None).await
}

#[derive(Deserialize)]
pub(super) struct ContinuityForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    person: Option<String>,
    represented: Option<String>,
    deputy: Option<String>,
}

fn person_field(value: Option<&str>) -> Result<PersonId, WebError> {
    value.and_then(|v| v.parse().ok()).ok_or(WebError::NotFound)
}

/// Makes someone an admin, or names a deputy.
pub(super) async fn continuity(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<ContinuityForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&bundle, &visit, &form.csrf).await?;
    match form.action.as_str() {
        "admin" => {
            let person = person_field(form.person.as_deref())?;
            bundle
                .identity
                .grant_role(&session, person, &Role::ADMIN)
                .await?;
        }
        "deputy" => {
            let represented = person_field(form.represented.as_deref())?;
            let deputy = person_field(form.deputy.as_deref())?;
            let people = bundle.identity.people(&session).await?;
            let known = |id: PersonId| people.iter().any(|p| p.id == id);
            if !known(represented) || !known(deputy) {
                return Err(WebError::NotFound);
            }
            if represented == deputy {
                let error = format!("{} ≠ {}", visit.text().deputy_for, visit.text().deputy_is);
                return continuity_view(&bundle, &visit, Some(error)).await;
            }
            bundle
                .delegations
                .name_deputy(&session.principal(), DeputyOf::Person(represented), deputy)
                .await
                .map_err(|e| WebError::Backend(e.into()))?;
        }
        _ => return Err(WebError::NotFound),
    }
    Ok(see_other("/setup/continuity"))
}

#[derive(Template)]
#[template(path = "setup_kit.html")]
struct KitPage {
    l: Layout,
    organisation: String,
    address: String,
    sheets: Vec<RecoverySheet>,
}

#[derive(Deserialize)]
pub(super) struct KitForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    trustees: String,
    #[serde(default)]
    threshold: String,
}

/// Makes the break-glass kit: one recovery sheet per trustee, to print now.
pub(super) async fn kit(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<KitForm>,
) -> Result<Response, WebError> {
    let session = admin_form(&bundle, &visit, &form.csrf).await?;
    let trustees: Vec<String> = form
        .trustees
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let threshold: u8 = form.threshold.trim().parse().unwrap_or(0);
    let sheets = match bundle
        .identity
        .configure_trustees(&session, threshold, &trustees)
        .await
    {
        Ok(sheets) => sheets,
        Err(
            e @ (guss_identity::Error::Invalid { .. } | guss_identity::Error::LimitExceeded { .. }),
        ) => {
            return continuity_view(&bundle, &visit, Some(e.to_string())).await;
        }
        Err(e) => return Err(e.into()),
    };
    let mut settings = bundle.settings(session.tenant).await?;
    settings.break_glass_trustees = trustees;
    bundle.offices.save(session.tenant, &settings).await?;
    let mut l = visit.layout(&bundle, visit.text().kit_title).await;
    l.steps = steps(visit.text(), SetupStep::Continuity, settings.step, false);
    render(&KitPage {
        organisation: organisation_name(&bundle, session.tenant).await?,
        address: visit.origin.clone(),
        sheets,
        l,
    })
}

// ------------------------------------------------------------ the sheet

#[derive(Template)]
#[template(path = "setup_sheet.html")]
struct SheetPage {
    l: Layout,
    organisation: String,
    address: String,
    admins: Vec<String>,
    deputies: Vec<String>,
    trustees: Vec<String>,
}

/// The printable continuity sheet.
pub(super) async fn sheet_page(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
) -> Result<Response, WebError> {
    let w = wizard(&bundle, &visit, SetupStep::Sheet).await?;
    let c = continuity_of(&bundle, &w.session, visit.text()).await?;
    if !c.ready() {
        return Ok(see_other("/setup/continuity"));
    }
    render(&SheetPage {
        organisation: organisation_name(&bundle, w.tenant).await?,
        address: visit.origin.clone(),
        admins: c.admins,
        deputies: c.deputies,
        trustees: c.trustees,
        l: w.layout,
    })
}

/// Ends the wizard, unless nothing would survive the owner's absence.
pub(super) async fn finish(
    State(bundle): State<Arc<Bundle>>,
    visit: Visit,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    visit.check_form(&bundle, &form.csrf)?;
    let session = visit.signed_in()?.clone();
    if !visit.me(&bundle).await?.is_admin() {
        return Err(WebError::Forbidden);
    }
    let c = continuity_of(&bundle, &session, visit.text()).await?;
    if !c.ready() {
        return continuity_view(
            &bundle,
            &visit,
            Some(visit.text().continuity_blocked.to_owned()),
        )
        .await;
    }
    bundle.reach_step(session.tenant, SetupStep::Done).await?;
    Ok(see_other("/home"))
}
