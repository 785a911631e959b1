//! SMTP: the MX that receives mail for the tenants hosted here, and
//! submission (587 with STARTTLS, 465 with implicit TLS) for their people.
//!
//! Both speak through one session engine over `smtp-proto`. The MX checks
//! recipients against the directory and the sender's SPF, DKIM, DMARC and
//! ARC, records them in an `Authentication-Results` header and refuses a
//! DMARC `p=reject` failure in the dialogue. Submission authenticates with
//! AUTH PLAIN or LOGIN through [`Authenticator`], lets a person send only
//! as their own addresses (or as another's, when [`Authorizer`] allows
//! `send_as`), signs with the domain's DKIM keys, delivers local
//! recipients at once and queues the rest. A `250` is given only after the
//! message is durable: in every local mailbox, or in the outbound queue.

mod session;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use guss_core::{Authenticator, Authorizer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::queue::Queue;
use crate::routing::Router;
use crate::sending::Sending;
use crate::store::{MAX_MESSAGE, MailStore};

/// What a listener is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// Port 25: mail for local recipients from anyone, no authentication.
    Mx,
    /// Port 587: authenticated submission, STARTTLS offered.
    Submission,
    /// Port 465: authenticated submission inside TLS from the first byte.
    SubmissionTls,
}

impl Listener {
    fn submission(self) -> bool {
        self != Listener::Mx
    }
}

/// Bounds and behaviour of the SMTP listeners.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// The name this server greets with and writes into `Received`.
    pub hostname: String,
    /// Largest message accepted, in bytes (announced with SIZE).
    pub max_message_size: usize,
    /// Most recipients of one message.
    pub max_recipients: usize,
    /// How long to wait for a command (RFC 5321 §4.5.3.2: at least 5 minutes).
    pub command_timeout: Duration,
    /// How long to wait for each piece of a message's data.
    pub data_timeout: Duration,
    /// Bad commands before the connection is closed.
    pub max_errors: u32,
    /// Failed authentications before the connection is closed.
    pub max_auth_failures: u32,
    /// Concurrent sessions per listener.
    pub max_sessions: usize,
    /// Whether AUTH is offered without TLS to clients on loopback (tests).
    pub allow_plain_auth_on_loopback: bool,
}

impl SmtpConfig {
    /// Defaults for `hostname`.
    pub fn new(hostname: &str) -> Self {
        SmtpConfig {
            hostname: hostname.to_owned(),
            max_message_size: MAX_MESSAGE.max_usize(),
            max_recipients: 100,
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(180),
            max_errors: 10,
            max_auth_failures: 3,
            max_sessions: 512,
            allow_plain_auth_on_loopback: false,
        }
    }
}

/// The SMTP side of the mail service: what every session shares.
#[derive(Clone)]
pub struct Smtp {
    inner: Arc<Inner>,
}

struct Inner {
    config: SmtpConfig,
    store: MailStore,
    router: Router,
    authenticator: Arc<dyn Authenticator>,
    authorizer: Arc<dyn Authorizer>,
    tls: Option<TlsAcceptor>,
    sending: Sending,
    queue: Queue,
    checks: crate::inbound::InboundChecks,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("hostname", &self.inner.config.hostname)
            .finish_non_exhaustive()
    }
}

/// What [`Smtp`] is made of.
pub struct SmtpParts {
    /// Bounds and names.
    pub config: SmtpConfig,
    /// The mailboxes.
    pub store: MailStore,
    /// Recipient lookup.
    pub router: Router,
    /// Checks app passwords for submission.
    pub authenticator: Arc<dyn Authenticator>,
    /// Decides `send_as` for addresses that are not the person's own.
    pub authorizer: Arc<dyn Authorizer>,
    /// The certificate for STARTTLS and port 465.
    pub tls: Option<TlsAcceptor>,
    /// Signing and local delivery of submitted mail.
    pub sending: Sending,
    /// The outbound queue.
    pub queue: Queue,
    /// SPF, DKIM, DMARC and ARC for inbound mail.
    pub checks: crate::inbound::InboundChecks,
}

impl Smtp {
    /// The SMTP service of `parts`.
    pub fn new(parts: SmtpParts) -> Self {
        Smtp {
            inner: Arc::new(Inner {
                config: parts.config,
                store: parts.store,
                router: parts.router,
                authenticator: parts.authenticator,
                authorizer: parts.authorizer,
                tls: parts.tls,
                sending: parts.sending,
                queue: parts.queue,
                checks: parts.checks,
            }),
        }
    }

    /// Accepts connections on `listener` until the task is dropped.
    pub async fn serve(self, listener: TcpListener, kind: Listener) {
        let hostname = self.inner.config.hostname.clone();
        let max_sessions = self.inner.config.max_sessions;
        crate::listen::accept_loop(
            listener,
            max_sessions,
            move |stream, peer| {
                let smtp = self.clone();
                async move { smtp.handle_stream(stream, peer, kind).await }
            },
            // Busy: tell the client to come back (RFC 5321 421).
            move |stream| session::refuse_busy(stream, hostname.clone()),
        )
        .await;
    }

    /// Runs one session on an accepted connection.
    pub async fn handle(&self, stream: tokio::net::TcpStream, peer: SocketAddr, kind: Listener) {
        let _ = stream.set_nodelay(true);
        self.handle_stream(stream, peer, kind).await;
    }

    /// Runs one session on any byte stream (a TCP connection, a proxied
    /// one, an in-memory pipe in tests) from a client at `peer`.
    pub async fn handle_stream<S>(&self, stream: S, peer: SocketAddr, kind: Listener)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        if let Err(e) = session::run(self.clone(), stream, peer, kind).await {
            tracing::debug!(%peer, error = %e, "SMTP session ended");
        }
    }
}
