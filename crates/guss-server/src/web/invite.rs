//! Inviting a colleague: the person is created without a passkey, and
//! their single-use link is shown and, where the bundle sends mail from the
//! organisation's domain, mailed to them.

use guss_core::{EmailAddress, TenantId};
use guss_identity::Role;
use serde::Deserialize;

use super::{Visit, WebError, admin_form, organisation_name};
use crate::bundle::Bundle;

/// An invitation just made.
pub(crate) struct Invited {
    pub(crate) name: String,
    pub(crate) link: String,
    pub(crate) mailed: bool,
}

/// The invitation form (the wizard's and the people page's).
#[derive(Deserialize)]
pub(crate) struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    admin: Option<String>,
}

/// Invites the person the form names, as an admin or a member (an admin
/// form). The inner `Err` is a sentence for input that cannot be used (the
/// form shows it again).
pub(crate) async fn invite(
    bundle: &Bundle,
    visit: &Visit,
    form: &InviteForm,
) -> Result<Result<Invited, String>, WebError> {
    let session = &admin_form(bundle, visit, &form.csrf).await?;
    let t = visit.text();
    let Ok(email) = form.email.trim().parse::<EmailAddress>() else {
        return Ok(Err(format!("{}?", t.person_email)));
    };
    let name = form.name.trim();
    let role = if form.admin.is_some() {
        Role::ADMIN
    } else {
        Role::MEMBER
    };
    let link = match bundle
        .identity
        .invite(session, email.clone(), name, &[role])
        .await
    {
        Ok(link) => link,
        Err(e @ (guss_identity::Error::Invalid { .. } | guss_identity::Error::Conflict { .. })) => {
            return Ok(Err(e.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    let link = format!("{}/join/{}", visit.origin, link.token);
    let mailed = match mail_invitation(bundle, visit, session.tenant, name, &email, &link).await {
        Ok(mailed) => mailed,
        Err(e) => {
            // The link on the page still works; the mail is a convenience.
            tracing::warn!(error = format!("{e:#}"), "mailing the invitation failed");
            false
        }
    };
    Ok(Ok(Invited {
        name: name.to_owned(),
        link,
        mailed,
    }))
}

/// Sends the invitation link by mail, from the organisation's mail domain,
/// when the bundle sends mail and the domain is set up. Returns whether it
/// was sent.
pub(crate) async fn mail_invitation(
    bundle: &Bundle,
    visit: &Visit,
    tenant: TenantId,
    name: &str,
    to: &EmailAddress,
    link: &str,
) -> anyhow::Result<bool> {
    let (Some(outbound), Some(domain)) = (
        bundle.outbound.get(),
        bundle.settings(tenant).await?.mail_domain,
    ) else {
        return Ok(false);
    };
    let t = visit.text();
    let organisation = organisation_name(bundle, tenant)
        .await
        .map_err(|_| anyhow::anyhow!("organisation name"))?;
    let from = format!("noreply@{domain}");
    let message = mail_builder::MessageBuilder::new()
        .from((organisation.as_str(), from.as_str()))
        .to((name, to.as_str()))
        .subject(format!("{} {organisation}", t.invitation_mail_subject))
        .text_body(format!(
            "{name},\n\n{}\n\n{link}\n\n-- \n{organisation}\n",
            t.invitation_mail_text
        ))
        .write_to_vec()?;
    outbound.send(tenant, &from, to, message).await?;
    Ok(true)
}
