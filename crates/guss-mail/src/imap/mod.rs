//! IMAP: the mailboxes of the store for mail clients, IMAP4rev2 (RFC 9051)
//! with IMAP4rev1 (RFC 3501) compatibility, on `imap-codec`.
//!
//! One session engine serves a plain listener (143, with STARTTLS) and an
//! implicit-TLS one (993) over any byte stream. Commands are split into
//! lines and literals by imap-codec's fragmentizer, so a command can never
//! grow beyond [`ImapConfig::max_command_size`]; a synchronizing literal
//! over [`ImapConfig::max_literal_size`] is refused before the client sends
//! it (`BAD [TOOBIG]`), and non-synchronizing ones are limited to 4096
//! bytes (LITERAL-, RFC 7888); a line longer than
//! [`ImapConfig::max_line_length`] ends the session. People log in with
//! `NAME@DOMAIN` and an app password: the domain names the tenant through
//! the [`Router`], the password is checked by [`Authenticator`] with
//! [`Scope::Mail`].
//!
//! # What is served
//!
//! - greeting, CAPABILITY, NOOP, LOGOUT, STARTTLS and implicit TLS
//! - LOGIN and AUTHENTICATE PLAIN (with SASL-IR, RFC 4959)
//! - ENABLE (RFC 5161) of IMAP4rev2, CONDSTORE and QRESYNC. IMAP4rev2
//!   sessions get UTF-8 mailbox names, ESEARCH answers and no RECENT;
//!   IMAP4rev1 sessions get names in modified UTF-7
//! - LIST and LSUB with `%`/`*` patterns and special-use attributes
//!   (RFC 6154); LIST-EXTENDED (RFC 5258: selection `SUBSCRIBED`,
//!   `SPECIAL-USE`, `RECURSIVEMATCH`, `REMOTE`; several patterns; return
//!   `SUBSCRIBED`, `CHILDREN`, `SPECIAL-USE`) and LIST-STATUS (RFC 5819),
//!   parsed here since imap-codec does not (`extended.rs`)
//! - NAMESPACE (RFC 2342): the person's own mailboxes, `Other Users/NAME/`
//!   for the people they stand in for and `Shared/NAME/` for shared
//!   accounts, as far as the [`Authorizer`] allows `read` (and `write`)
//!   on the account; a deputy acts as `Principal::Deputy`, and every step
//!   in another's mailbox is an event ([`DELEGATED_ACCESS`])
//! - SELECT and EXAMINE (FLAGS, EXISTS, PERMANENTFLAGS, UIDVALIDITY,
//!   UIDNEXT, HIGHESTMODSEQ, UNSEEN; `[CLOSED]`), with CONDSTORE and
//!   QRESYNC parameters
//! - FETCH and UID FETCH of FLAGS, UID, INTERNALDATE, RFC822.SIZE, RFC822,
//!   RFC822.HEADER, RFC822.TEXT, BODY[]/BODY.PEEK[] with `HEADER`,
//!   `HEADER.FIELDS`, `HEADER.FIELDS.NOT`, `TEXT`, `MIME`, part numbers and
//!   partials, MODSEQ, ENVELOPE, BODYSTRUCTURE and BODY, BINARY and
//!   BINARY.SIZE (RFC 3516); BODY[] without PEEK sets `\Seen`
//! - STORE and UID STORE (FLAGS, +FLAGS, -FLAGS, .SILENT, UNCHANGEDSINCE)
//! - SEARCH and UID SEARCH with the keys of RFC 9051 and MODSEQ: flags,
//!   sizes, dates, sequence and UID sets, `NOT`, `OR`, header fields
//!   (unfolded, encoded words decoded), BODY and TEXT (case-insensitive,
//!   over the raw bytes and the decoded text parts); `RETURN (MIN MAX ALL
//!   COUNT SAVE)` (ESEARCH, RFC 4731) and `$` (SEARCHRES, RFC 5182)
//! - APPEND (APPENDUID, RFC 4315), COPY and MOVE (RFC 6851, COPYUID),
//!   EXPUNGE, UID EXPUNGE, CLOSE, UNSELECT, CHECK
//! - CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS (MESSAGES,
//!   UIDNEXT, UIDVALIDITY, UNSEEN, DELETED, SIZE, HIGHESTMODSEQ)
//! - CONDSTORE and QRESYNC (RFC 7162): MODSEQ, `CHANGEDSINCE`,
//!   `UNCHANGEDSINCE` with `[MODIFIED]`, `SELECT (QRESYNC …)` with
//!   `VANISHED (EARLIER)`, `UID FETCH (VANISHED)`, and VANISHED instead of
//!   EXPUNGE once enabled
//! - QUOTA (RFC 9208): one root per account, STORAGE from the store,
//!   APPEND, COPY and MOVE beyond [`ImapConfig::storage_quota`] refused
//!   with `[OVERQUOTA]`
//! - IDLE (RFC 2177): changes are pushed at once, from this process
//!   through the store and from others through PostgreSQL
//!   `LISTEN`/`NOTIFY`
//! - changes made by other sessions are reported after each command,
//!   expunges only where RFC 9051 §7.5.1 allows them
//! - at most [`ImapConfig::max_sessions_per_person`] logged-in sessions
//!   of one person at once in one process (`NO [LIMIT]` beyond)
//! - the `mail-server` example serves `--imap` (STARTTLS) and `--imaps`
//!   with deputies by `--deputy`; `scripts/interop/mail-imap.py` drives it
//!   with imaplib and imapclient
//!
//! # Not yet
//!
//! - the limit on sessions per person counts per process, not across the
//!   processes sharing one PostgreSQL
//! - RENAME of INBOX (moving its messages to a new mailbox) is refused
//! - BODYSTRUCTURE gives parameters decoded (RFC 2231/2047) rather than as
//!   written, and no Content-Language; UTF8=ACCEPT (RFC 6855) is not
//!   offered (IMAP4rev2 clients get UTF-8 names)
//! - SEARCH BODY/TEXT reads and parses every message of the mailbox (no
//!   index), which is slow for very large mailboxes
//! - responses are written by hand (`session/`, `fetch.rs`), not with
//!   imap-codec's encoder

mod access;
mod body;
mod extended;
mod fetch;
mod search;
mod sequence;
mod session;
mod utf7;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use guss_core::{Authenticator, Authorizer, EventType, PersonId, Scope, TenantId};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::routing::Router;
use crate::store::{MAX_MESSAGE, MailStore};

/// Someone worked in another account's mailbox: a deputy in the
/// represented person's, or a person in a shared account's. The actor is
/// who acted (as [`guss_core::Principal::Deputy`] for a deputy); the data
/// names the account, the mailbox, the action (`select`, `examine`,
/// `search`, `fetch` (flags, envelopes, sizes), `read` (message contents),
/// `flags`, `append`, `copy`, `move`, `add`, `expunge`) and the UIDs.
pub const DELEGATED_ACCESS: EventType = EventType::from_static("guss.mail.delegated.access");

/// What an IMAP listener is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImapListener {
    /// Port 143: plain at first, STARTTLS offered.
    Plain,
    /// Port 993: TLS from the first byte.
    Tls,
}

/// Bounds and behaviour of the IMAP listeners.
#[derive(Clone, Debug)]
pub struct ImapConfig {
    /// The name this server greets with.
    pub hostname: String,
    /// Largest literal accepted (an APPENDed message), in bytes.
    pub max_literal_size: u32,
    /// Largest command, its literals included, in bytes.
    pub max_command_size: u32,
    /// Longest line of a command (without its literals); a longer one
    /// ends the session (RFC 9051 §4 asks for at least 8192).
    pub max_line_length: usize,
    /// How long a session may stay silent (RFC 9051 §5.4: at least 30
    /// minutes once logged in).
    pub command_timeout: Duration,
    /// How often an idling session on PostgreSQL looks for changes all the
    /// same. Changes wake idling sessions at once (in this process through
    /// the store, from other processes through `LISTEN`/`NOTIFY`); this
    /// catches what was missed while the listening connection was down.
    /// On SQLite only this process writes: nothing is looked for.
    pub idle_poll: Duration,
    /// How long a client may take to log in.
    pub login_timeout: Duration,
    /// Bad commands before the connection is closed.
    pub max_errors: u32,
    /// Failed logins before the connection is closed.
    pub max_auth_failures: u32,
    /// The pause after a failed login, times the failures so far (slows
    /// guessing).
    pub auth_failure_delay: Duration,
    /// Concurrent sessions per listener.
    pub max_sessions: usize,
    /// Concurrent logged-in sessions of one person (all devices).
    pub max_sessions_per_person: usize,
    /// Whether LOGIN and AUTHENTICATE are allowed without TLS to clients on
    /// loopback (tests).
    pub allow_plain_auth_on_loopback: bool,
    /// Bytes one account may hold (QUOTA, RFC 9208): APPEND, COPY and
    /// MOVE beyond it are refused with `[OVERQUOTA]`. Mail that arrives
    /// over SMTP is still accepted, so that nothing sent to the office
    /// bounces for storage.
    pub storage_quota: u64,
}

impl ImapConfig {
    /// Defaults for `hostname`.
    ///
    /// ```
    /// let config = guss_mail::imap::ImapConfig::new("mail.example.test");
    /// assert!(config.max_command_size > config.max_literal_size);
    /// ```
    pub fn new(hostname: &str) -> Self {
        let max_literal_size = u32::try_from(MAX_MESSAGE.max()).unwrap_or(u32::MAX - 65536);
        ImapConfig {
            hostname: hostname.to_owned(),
            max_literal_size,
            max_command_size: max_literal_size.saturating_add(64 * 1024),
            max_line_length: 64 * 1024,
            command_timeout: Duration::from_secs(30 * 60),
            login_timeout: Duration::from_secs(60),
            idle_poll: Duration::from_secs(30),
            max_errors: 10,
            max_auth_failures: 3,
            auth_failure_delay: Duration::from_millis(200),
            max_sessions: 512,
            max_sessions_per_person: 20,
            allow_plain_auth_on_loopback: false,
            storage_quota: 10 * 1024 * 1024 * 1024,
        }
    }
}

/// The IMAP side of the mail service: what every session shares.
#[derive(Clone)]
pub struct Imap {
    inner: Arc<Inner>,
}

struct Inner {
    config: ImapConfig,
    store: MailStore,
    router: Router,
    authenticator: Arc<dyn Authenticator>,
    authorizer: Arc<dyn Authorizer>,
    tls: Option<TlsAcceptor>,
    /// Logged-in sessions per person, in this process.
    sessions: Mutex<HashMap<(TenantId, PersonId), usize>>,
}

/// A person's claim on one of their [`ImapConfig::max_sessions_per_person`]
/// sessions; given back when dropped.
struct PersonSlot {
    imap: Imap,
    key: (TenantId, PersonId),
}

impl Drop for PersonSlot {
    fn drop(&mut self) {
        let mut sessions = self
            .imap
            .inner
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = sessions.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                sessions.remove(&self.key);
            }
        }
    }
}

impl std::fmt::Debug for Imap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imap")
            .field("hostname", &self.inner.config.hostname)
            .finish_non_exhaustive()
    }
}

/// What [`Imap`] is made of.
pub struct ImapParts {
    /// Bounds and names.
    pub config: ImapConfig,
    /// The mailboxes.
    pub store: MailStore,
    /// Finds the tenant of a login's domain.
    pub router: Router,
    /// Checks app passwords (with [`Scope::Mail`]).
    pub authenticator: Arc<dyn Authenticator>,
    /// Decides who opens others' mailboxes: `read` and `write` on the
    /// [`guss_core::ResourceKind::MAILBOX`] named by the account's key,
    /// asked for a deputy as [`guss_core::Principal::Deputy`].
    pub authorizer: Arc<dyn Authorizer>,
    /// The certificate for STARTTLS and port 993.
    pub tls: Option<TlsAcceptor>,
}

impl Imap {
    /// The IMAP service of `parts`.
    pub fn new(parts: ImapParts) -> Self {
        Imap {
            inner: Arc::new(Inner {
                config: parts.config,
                store: parts.store,
                router: parts.router,
                authenticator: parts.authenticator,
                authorizer: parts.authorizer,
                tls: parts.tls,
                sessions: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// One more session for `person`, unless they have all they may.
    fn claim(&self, tenant: TenantId, person: PersonId) -> Option<PersonSlot> {
        let mut sessions = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = sessions.entry((tenant, person)).or_insert(0);
        if *count >= self.inner.config.max_sessions_per_person {
            return None;
        }
        *count += 1;
        Some(PersonSlot {
            imap: self.clone(),
            key: (tenant, person),
        })
    }

    /// The scope app passwords must have to be used here.
    pub const SCOPE: Scope = Scope::Mail;

    /// Accepts connections on `listener` until the task is dropped.
    pub async fn serve(self, listener: TcpListener, kind: ImapListener) {
        let max_sessions = self.inner.config.max_sessions;
        crate::listen::accept_loop(
            listener,
            max_sessions,
            move |stream, peer| {
                let imap = self.clone();
                async move { imap.handle_stream(stream, peer, kind).await }
            },
            session::refuse_busy,
        )
        .await;
    }

    /// Runs one session on any byte stream (a TCP connection, a proxied
    /// one, an in-memory pipe in tests) from a client at `peer`.
    pub async fn handle_stream<S>(&self, stream: S, peer: SocketAddr, kind: ImapListener)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        if let Err(e) = session::run(self.clone(), stream, peer, kind).await {
            tracing::debug!(%peer, error = %e, "IMAP session ended");
        }
    }
}
