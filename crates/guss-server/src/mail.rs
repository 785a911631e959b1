//! The mail listeners of the bundle: MX, submission and IMAP on the
//! shared mail store, with people and domains from guss-identity and
//! deputies decided by the policy engine.

use std::sync::Arc;

use anyhow::Context as _;
use guss_mail::authenticity::Verifier;
use guss_mail::imap::{Imap, ImapConfig, ImapListener, ImapParts};
use guss_mail::inbound::InboundChecks;
use guss_mail::queue::{Queue, QueueConfig, Transport};
use guss_mail::routing::Router;
use guss_mail::sending::Sending;
use guss_mail::smtp::{Listener, Smtp, SmtpConfig, SmtpParts};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::bundle::Bundle;

/// The way out for mail the bundle writes itself (invitations).
#[derive(Clone)]
pub struct Outbound {
    router: Router,
    sending: Sending,
    queue: Queue,
    hostname: String,
}

impl Outbound {
    /// Delivers `raw` (a whole message, without trace fields) from `from`
    /// to `to`: signed with the organisation's DKIM key, into local
    /// mailboxes or the durable outbound queue.
    pub async fn send(
        &self,
        tenant: guss_core::TenantId,
        from: &str,
        to: &guss_core::EmailAddress,
        raw: Vec<u8>,
    ) -> anyhow::Result<()> {
        let route = self.router.route(to).await?;
        if matches!(route, guss_mail::routing::Route::Unknown) {
            anyhow::bail!("nobody here has the address {to}");
        }
        let by = guss_core::Principal::Service {
            tenant,
            service: crate::SERVICE.clone(),
        };
        let received = format!(
            "Received: by {} (guss) for <{to}>; {}\r\n",
            self.hostname,
            chrono::Utc::now().to_rfc2822()
        );
        self.sending
            .submit(
                &self.queue,
                &by,
                from,
                &[(to.as_str().to_owned(), route)],
                received,
                raw,
            )
            .await?;
        Ok(())
    }
}

impl Outbound {
    /// The messages waiting in the outbound queue.
    pub async fn queued(&self) -> anyhow::Result<Vec<guss_mail::queue::Queued>> {
        Ok(self.queue.pending().await?)
    }
}

/// Starts the configured mail listeners and the outbound queue in `tasks`,
/// and gives the bundle its way out for mail. Nothing starts when no
/// listener is configured.
pub async fn start(
    bundle: &Arc<Bundle>,
    tls: Option<TlsAcceptor>,
    tasks: &mut JoinSet<()>,
) -> anyhow::Result<()> {
    let config = &bundle.config.mail;
    let listeners = [
        config.smtp,
        config.submission,
        config.submissions,
        config.imap,
        config.imaps,
    ];
    if listeners.iter().all(Option::is_none) {
        return Ok(());
    }
    let hostname = bundle.config.mail_hostname();
    let tls = match tls {
        Some(tls) => tls,
        None => guss_mail::smtp::tls::self_signed(&hostname)?,
    };
    let directory: Arc<dyn guss_core::Directory> = bundle.identity.clone();
    let authenticator: Arc<dyn guss_core::Authenticator> = bundle.identity.clone();
    let store = bundle.mail.clone();
    let router = Router::new(directory, store.clone());
    let transport = match &config.relay {
        Some(relay) => {
            let (host, port) = relay
                .rsplit_once(':')
                .context("mail.relay needs HOST:PORT")?;
            Transport::relay(host, port.parse().context("mail.relay port")?)?
        }
        None => Transport::mx()?,
    };
    let queue = Queue::new(
        store.clone(),
        router.clone(),
        transport,
        &hostname,
        QueueConfig::default(),
    );
    let smtp = Smtp::new(SmtpParts {
        config: SmtpConfig::new(&hostname),
        store: store.clone(),
        router: router.clone(),
        authenticator: authenticator.clone(),
        authorizer: bundle.authorizer.clone(),
        tls: Some(tls.clone()),
        sending: Sending::new(store.clone(), &hostname),
        queue: queue.clone(),
        checks: InboundChecks::new(Verifier::system()?),
    });
    let outbound = Outbound {
        router: router.clone(),
        sending: Sending::new(store.clone(), &hostname),
        queue: queue.clone(),
        hostname: hostname.clone(),
    };
    let _ = bundle.imip.set(crate::imip::Imip::new(
        outbound.clone(),
        store.clone(),
        bundle.calendars.clone(),
        bundle.calendar_users.clone(),
    ));
    let _ = bundle.outbound.set(outbound);
    tasks.spawn(queue.run());
    for (address, kind) in [
        (config.smtp, Listener::Mx),
        (config.submission, Listener::Submission),
        (config.submissions, Listener::SubmissionTls),
    ] {
        if let Some(address) = address {
            let listener = bind(address).await?;
            tracing::info!(%address, ?kind, "mail listener");
            tasks.spawn(smtp.clone().serve(listener, kind));
        }
    }
    let imap = Imap::new(ImapParts {
        config: ImapConfig::new(&hostname),
        store,
        router,
        authenticator,
        authorizer: bundle.authorizer.clone(),
        tls: Some(tls),
    });
    for (address, kind) in [
        (config.imap, ImapListener::Plain),
        (config.imaps, ImapListener::Tls),
    ] {
        if let Some(address) = address {
            let listener = bind(address).await?;
            tracing::info!(%address, ?kind, "IMAP listener");
            tasks.spawn(imap.clone().serve(listener, kind));
        }
    }
    Ok(())
}

async fn bind(address: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("listen on {address}"))
}
