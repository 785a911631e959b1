//! One IMAP session: the states of RFC 9051 §3 (not authenticated,
//! authenticated, selected, logout) over a plain or a TLS stream.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;

use chrono::Utc;
use guss_core::{Credentials, EmailAddress, Event, PersonId, Principal};
use imap_codec::decode::Decoder as _;
use imap_codec::fragmentizer::{
    DecodeMessageError, FragmentInfo, Fragmentizer, LiteralAnnouncement,
};
use imap_codec::{AuthenticateDataCodec, CommandCodec, IdleDoneCodec};
use imap_types::IntoStatic;
use imap_types::auth::{AuthMechanism, AuthenticateData};
use imap_types::command::{Command, CommandBody, FetchModifier, SelectParameter, StoreModifier};
use imap_types::core::{LiteralMode, Tag};
use imap_types::extensions::binary::LiteralOrLiteral8;
use imap_types::extensions::enable::CapabilityEnable;
use imap_types::fetch::MacroOrMessageDataItemNames;
use imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_types::mailbox::{ListMailbox, Mailbox};
use imap_types::search::SearchKey;
use imap_types::sequence::SequenceSet;
use imap_types::status::StatusDataItemName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast;

use super::DELEGATED_ACCESS;
use super::access::{self, Delegation};
use super::extended::{self, Extended, ListExtended, SearchReturn};
use super::fetch::{self, Plan};
use super::{Imap, ImapListener};
use super::{search, sequence, utf7};

mod mailboxes;
mod messages;

use crate::store::{
    Account, FlagChange, Flags, MailboxChanged, MailboxInfo, MessageMeta, Role, SOURCE, TenantMail,
};
use crate::{Error, Result};

/// Longest an update goes without reading the selected mailbox, notices
/// or not (a notice from another process may be lost while the listening
/// connection is down).
const SYNC_AT_LEAST: std::time::Duration = std::time::Duration::from_secs(30);
/// Largest read from the socket at once.
const READ_CHUNK: usize = 16 * 1024;
/// Largest non-synchronizing literal (LITERAL-, RFC 7888 §5).
const MAX_NON_SYNC_LITERAL: u32 = 4096;
/// Largest literal before login (a user name, a password, a SASL answer).
const MAX_LITERAL_BEFORE_LOGIN: u32 = 8192;
/// Output is written out once this much has gathered (long FETCHes).
const FLUSH_AT: usize = 256 * 1024;
/// The hierarchy delimiter.
const DELIMITER: char = '/';
/// Most UIDs named in one event of a deputy's action (the count is exact).
const MAX_RECORDED_UIDS: usize = 1000;
/// Refusal of a change to another's mailboxes that only their owner makes.
const NOT_YOURS: &str = "[NOPERM] Only the owner creates, renames and deletes these mailboxes";
/// Refusal of a change under a grant to read.
const READ_ONLY_GRANT: &str = "[NOPERM] You may read these mailboxes, not change them";
/// Refusal of what would not fit (RFC 9208 §4.5).
const OVER_QUOTA: &str = "[OVERQUOTA] The mailbox is full; delete or archive mail first";

/// Tells a client the server is busy and closes.
pub(super) async fn refuse_busy(mut stream: TcpStream) {
    let _ = stream
        .write_all(b"* BYE Too many connections, try again later\r\n")
        .await;
}

/// Runs a session to its end.
pub(super) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    imap: Imap,
    stream: S,
    peer: SocketAddr,
    kind: ImapListener,
) -> Result<()> {
    let mut session = Session::new(imap, peer);
    if kind == ImapListener::Tls {
        let Some(acceptor) = session.imap.inner.tls.clone() else {
            return Err(Error::invalid("listener", "port 993 needs a certificate"));
        };
        let tls = acceptor.accept(stream).await.map_err(io)?;
        session.tls = true;
        session.greet();
        session.serve(tls).await.map(|_| ())
    } else {
        session.greet();
        match session.serve(stream).await? {
            Some(plain) => {
                let Some(acceptor) = session.imap.inner.tls.clone() else {
                    return Ok(());
                };
                let tls = acceptor.accept(plain).await.map_err(io)?;
                session.tls = true;
                session.serve(tls).await.map(|_| ())
            }
            None => Ok(()),
        }
    }
}

fn io(e: std::io::Error) -> Error {
    Error::Backend(format!("connection: {e}"))
}

/// Who is logged in.
struct User {
    mail: TenantMail,
    account: Account,
    person: PersonId,
    /// The domain they logged in with: names others' folders.
    domain: String,
    /// Counts this session among the person's.
    _slot: super::PersonSlot,
}

/// A mailbox a command names: the person's own, or another account's.
#[derive(Clone)]
struct Found {
    info: MailboxInfo,
    delegation: Option<Delegation>,
}

impl Found {
    /// The name the client knows it by.
    fn visible(&self) -> String {
        let name = if self.info.role == Some(Role::Inbox) {
            "INBOX"
        } else {
            self.info.name.as_str()
        };
        match &self.delegation {
            Some(delegation) => delegation.visible(name),
            None => name.to_owned(),
        }
    }
}

/// The selected mailbox as this session has told the client about it.
struct Selected {
    mailbox: MailboxInfo,
    /// Another account's mailbox, opened as deputy or shared.
    delegation: Option<Delegation>,
    read_only: bool,
    /// UIDs in sequence-number order.
    uids: Vec<u32>,
    /// Changes up to here have been looked at.
    modseq: u64,
    /// Expunged by someone, not yet told (RFC 9051 §7.5.1: not during
    /// FETCH, STORE and SEARCH).
    vanished: BTreeSet<u32>,
    /// Flag changes this session reported itself: not repeated.
    reported: HashMap<u32, u64>,
    /// UIDs saved by `SEARCH RETURN (SAVE)`, for `$` (RFC 5182).
    saved: Vec<u32>,
}

/// What the session waits for.
enum Mode {
    Command,
    /// The client's response to AUTHENTICATE PLAIN, for the command `tag`.
    Authenticate(String),
    /// IDLE (RFC 2177) of the command `tag` since `since`, until DONE.
    Idle {
        tag: String,
        since: tokio::time::Instant,
    },
}

/// What the loop does after a command.
enum Step {
    Continue,
    StartTls,
}

/// A tagged response.
struct Reply {
    status: &'static str,
    text: String,
}

impl Reply {
    fn ok(text: impl Into<String>) -> Self {
        Reply {
            status: "OK",
            text: text.into(),
        }
    }

    fn no(text: impl Into<String>) -> Self {
        Reply {
            status: "NO",
            text: text.into(),
        }
    }

    fn bad(text: impl Into<String>) -> Self {
        Reply {
            status: "BAD",
            text: text.into(),
        }
    }
}

struct Session {
    imap: Imap,
    peer: SocketAddr,
    /// When the client connected: the login must be done by
    /// `login_timeout` after.
    connected: tokio::time::Instant,
    tls: bool,
    user: Option<User>,
    selected: Option<Selected>,
    mode: Mode,
    output: Vec<u8>,
    errors: u32,
    auth_failures: u32,
    /// Set when a non-synchronizing literal was too big.
    too_big: bool,
    /// CONDSTORE (RFC 7162) is on: MODSEQ goes with every FETCH.
    condstore: bool,
    /// QRESYNC (RFC 7162) is enabled: expunges are told as VANISHED.
    qresync: bool,
    /// IMAP4rev2 is enabled (RFC 9051): UTF-8 mailbox names, ESEARCH, no
    /// RECENT.
    rev2: bool,
    /// The tag of the command being answered.
    tag: String,
    /// Return options of the SEARCH being answered (ESEARCH).
    search_return: Option<SearchReturn>,
    /// The LIST-EXTENDED options of the LIST being answered.
    list_extended: Option<ListExtended>,
    /// Notices of changes from the store since SELECT: an update reads the
    /// mailbox only when one concerns it (or at least every
    /// `SYNC_AT_LEAST`), and they wake an idling session.
    watch: Option<broadcast::Receiver<MailboxChanged>>,
    /// The selected mailbox changed (by this session, or a notice already
    /// taken): the next update reads it.
    dirty: bool,
    /// When the selected mailbox was last read for an update.
    synced_at: tokio::time::Instant,
    logout: bool,
}

impl Session {
    fn new(imap: Imap, peer: SocketAddr) -> Self {
        Session {
            imap,
            peer,
            connected: tokio::time::Instant::now(),
            tls: false,
            user: None,
            selected: None,
            mode: Mode::Command,
            output: Vec::new(),
            errors: 0,
            auth_failures: 0,
            too_big: false,
            condstore: false,
            qresync: false,
            rev2: false,
            tag: String::new(),
            search_return: None,
            list_extended: None,
            watch: None,
            dirty: false,
            synced_at: tokio::time::Instant::now(),
            logout: false,
        }
    }

    fn config(&self) -> &super::ImapConfig {
        &self.imap.inner.config
    }

    fn greet(&mut self) {
        let line = format!(
            "* OK [CAPABILITY {}] {} IMAP ready",
            self.capabilities(),
            self.config().hostname
        );
        self.line(&line);
    }

    fn line(&mut self, line: &str) {
        self.output.extend_from_slice(line.as_bytes());
        self.output.extend_from_slice(b"\r\n");
    }

    fn tagged(&mut self, tag: &str, reply: &Reply) {
        // Bad commands in a row end the session; a good one forgives.
        match reply.status {
            "OK" => self.errors = 0,
            "BAD" => self.errors += 1,
            _ => {}
        }
        let line = format!("{tag} {} {}", reply.status, reply.text);
        self.line(&line);
    }

    async fn flush<S: AsyncWrite + Unpin>(&mut self, stream: &mut S) -> Result<()> {
        if !self.output.is_empty() {
            stream.write_all(&self.output).await.map_err(io)?;
            self.output.clear();
        }
        stream.flush().await.map_err(io)
    }

    /// Whether passwords may be sent: inside TLS, or on loopback when
    /// the configuration allows it (tests).
    fn auth_allowed(&self) -> bool {
        self.tls || (self.config().allow_plain_auth_on_loopback && self.peer.ip().is_loopback())
    }

    fn capabilities(&self) -> String {
        let mut caps = vec!["IMAP4rev1", "IMAP4rev2", "LITERAL-"];
        if self.user.is_none() {
            if !self.tls && self.imap.inner.tls.is_some() {
                caps.push("STARTTLS");
            }
            if self.auth_allowed() {
                caps.extend(["AUTH=PLAIN", "SASL-IR"]);
            } else {
                caps.push("LOGINDISABLED");
            }
        } else {
            caps.extend([
                "UIDPLUS",
                "UNSELECT",
                "SPECIAL-USE",
                "MOVE",
                "NAMESPACE",
                "IDLE",
                "ENABLE",
                "CONDSTORE",
                "QRESYNC",
                "QUOTA",
                "QUOTA=RES-STORAGE",
                "ESEARCH",
                "SEARCHRES",
                "BINARY",
                "LIST-EXTENDED",
                "LIST-STATUS",
                "STATUS=SIZE",
            ]);
        }
        caps.join(" ")
    }

    /// Reads, decodes and answers commands until the client leaves; the
    /// stream back when the client asked for STARTTLS.
    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        mut stream: S,
    ) -> Result<Option<S>> {
        let mut fragments = Fragmentizer::new(self.config().max_command_size);
        let mut chunk = vec![0u8; READ_CHUNK];
        // Bytes read since the last whole line or literal, while a line is
        // expected: bounds a line without an end (a literal is bounded by
        // its announced size instead).
        let mut line_bytes = 0usize;
        let mut in_literal = false;
        loop {
            if self.logout {
                self.flush(&mut stream).await?;
                return Ok(None);
            }
            if self.errors >= self.config().max_errors {
                self.line("* BYE Too many errors");
                self.flush(&mut stream).await?;
                return Ok(None);
            }
            let Some(fragment) = fragments.progress() else {
                self.flush(&mut stream).await?;
                let idle_since = match &self.mode {
                    Mode::Idle { since, .. } => Some(*since),
                    _ => None,
                };
                let timeout = if idle_since.is_some() && self.imap.inner.store.is_postgres() {
                    self.config().idle_poll.min(self.config().command_timeout)
                } else if idle_since.is_some() {
                    // On SQLite only this process writes: nothing to poll for.
                    self.config().command_timeout
                } else if self.user.is_some() {
                    self.config().command_timeout
                } else {
                    // One deadline for the whole way to a login, not per read.
                    self.config()
                        .login_timeout
                        .saturating_sub(self.connected.elapsed())
                        .max(std::time::Duration::from_millis(1))
                };
                let read = tokio::time::timeout(timeout, stream.read(&mut chunk));
                let read = match (idle_since, &mut self.watch, &self.selected) {
                    // While idling, changes are pushed at once; `read` is
                    // cancel-safe.
                    (Some(_), Some(watch), Some(selected)) => tokio::select! {
                        read = read => read,
                        () = changed(watch, selected.mailbox.id) => {
                            self.dirty = true;
                            if let Err(e) = self.sync(true).await {
                                tracing::warn!(error = %e, "IMAP mailbox update failed");
                            }
                            continue;
                        }
                    },
                    _ => read.await,
                };
                let n = match read {
                    // Changes made elsewhere (another process on the same
                    // PostgreSQL) are looked for every `idle_poll`, for up
                    // to `command_timeout`.
                    Err(_)
                        if idle_since.is_some_and(|since| {
                            since.elapsed() < self.config().command_timeout
                        }) =>
                    {
                        self.dirty = true;
                        if let Err(e) = self.sync(true).await {
                            tracing::warn!(error = %e, "IMAP mailbox update failed");
                        }
                        continue;
                    }
                    Err(_) => {
                        self.line("* BYE Autologout: idle for too long");
                        self.flush(&mut stream).await?;
                        return Ok(None);
                    }
                    Ok(Err(e)) => return Err(io(e)),
                    Ok(Ok(0)) => return Ok(None),
                    Ok(Ok(n)) => n,
                };
                if !in_literal {
                    line_bytes = line_bytes.saturating_add(n);
                    if line_bytes > self.config().max_line_length {
                        self.line("* BYE Line too long");
                        self.flush(&mut stream).await?;
                        return Ok(None);
                    }
                }
                fragments.enqueue_bytes(chunk.get(..n).unwrap_or_default());
                continue;
            };
            line_bytes = 0;
            in_literal = false;
            if let FragmentInfo::Line {
                announcement: Some(LiteralAnnouncement { mode, length }),
                ..
            } = fragment
            {
                in_literal = self.literal_announced(&mut fragments, mode, length);
                self.flush(&mut stream).await?;
                continue;
            }
            if !fragments.is_message_complete() {
                continue;
            }
            let step = match std::mem::replace(&mut self.mode, Mode::Command) {
                Mode::Command => match self.with_saved(fragments.message_bytes()) {
                    Some(message) => self.rewritten(&mut stream, &message).await?,
                    None => match extended::parse(fragments.message_bytes()) {
                        Some(extended) => self.extended(&mut stream, extended).await?,
                        None => match fragments.decode_message(&CommandCodec::default()) {
                            Ok(command) => self.command(&mut stream, command).await?,
                            Err(e) => {
                                let tag = fragments.decode_tag().map(|t| t.as_ref().to_owned());
                                self.undecodable(tag, &e);
                                Step::Continue
                            }
                        },
                    },
                },
                Mode::Authenticate(tag) => {
                    match fragments.decode_message(&AuthenticateDataCodec::default()) {
                        Ok(AuthenticateData::Continue(data)) => {
                            let reply = self.auth_plain(data.declassify()).await?;
                            self.tagged(&tag, &reply);
                        }
                        Ok(AuthenticateData::Cancel) => {
                            self.tagged(&tag, &Reply::bad("Authentication cancelled"));
                        }
                        Err(_) => self.tagged(&tag, &Reply::bad("Not base64")),
                    }
                    Step::Continue
                }
                Mode::Idle { tag, .. } => {
                    match fragments.decode_message(&IdleDoneCodec::default()) {
                        Ok(_) => {
                            if let Err(e) = self.sync(true).await {
                                tracing::warn!(error = %e, "IMAP mailbox update failed");
                            }
                            self.tagged(&tag, &Reply::ok("IDLE terminated"));
                        }
                        Err(_) => self.tagged(&tag, &Reply::bad("Expected DONE")),
                    }
                    Step::Continue
                }
            };
            if let Step::StartTls = step {
                // RFC 9051 §6.2.1: nothing sent in the clear after STARTTLS
                // may be taken as said inside TLS (command injection).
                if fragments.progress().is_some() || !fragments.message_bytes().is_empty() {
                    self.flush(&mut stream).await?;
                    return Ok(None);
                }
                self.flush(&mut stream).await?;
                return Ok(Some(stream));
            }
        }
    }

    /// `message` with `$` replaced by the result saved in the selected
    /// mailbox (SEARCHRES); `None` if it has no `$` or nothing is selected.
    fn with_saved(&self, message: &[u8]) -> Option<Vec<u8>> {
        let selected = self.selected.as_ref()?;
        let numbers: Vec<u32> = selected
            .saved
            .iter()
            .filter_map(|uid| selected.uids.binary_search(uid).ok())
            .filter_map(|index| u32::try_from(index + 1).ok())
            .collect();
        extended::with_saved(message, &selected.saved, &numbers)
    }

    /// A command rewritten here (its `$` replaced): parsed again.
    async fn rewritten<S: AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        message: &[u8],
    ) -> Result<Step> {
        if let Some(extended) = extended::parse(message) {
            return self.extended(stream, extended).await;
        }
        match self.decode(message) {
            Some(command) => self.command(stream, command).await,
            None => Ok(Step::Continue),
        }
    }

    /// A command rewritten here, decoded by imap-codec; if it cannot be,
    /// the client is told so under the command's tag.
    fn decode(&mut self, message: &[u8]) -> Option<Command<'static>> {
        match CommandCodec::default().decode(message) {
            Ok((_, command)) => Some(command.into_static()),
            Err(_) => {
                let tag = extended::tag_of(message).unwrap_or_else(|| "*".to_owned());
                self.tagged(&tag, &Reply::bad("Unknown command or invalid arguments"));
                None
            }
        }
    }

    /// A command in the syntax imap-codec does not parse (LIST-EXTENDED,
    /// SEARCH RETURN): run as the plain command it extends, with its
    /// options set aside for the handler.
    async fn extended<S: AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        extended: Extended,
    ) -> Result<Step> {
        let command = match extended {
            Extended::Bad { tag, why } => {
                self.tagged(&tag, &Reply::bad(why));
                return Ok(Step::Continue);
            }
            Extended::List { tag, list } => {
                let plain = Tag::try_from(tag.as_str())
                    .ok()
                    .zip(CommandBody::list("", "*").ok());
                let Some((tag, body)) = plain else {
                    self.tagged(&tag, &Reply::bad("Invalid tag"));
                    return Ok(Step::Continue);
                };
                self.list_extended = Some(list);
                Command::new(tag, body).ok().map(IntoStatic::into_static)
            }
            Extended::Search { returns, command } => {
                self.search_return = Some(returns);
                self.decode(&command)
            }
        };
        let step = match command {
            Some(command) => self.command(stream, command).await?,
            None => Step::Continue,
        };
        // Options set aside for a command that did not use them go.
        (self.list_extended, self.search_return) = (None, None);
        Ok(step)
    }

    /// A line ended with `{N}` or `{N+}`: agree to the literal, or refuse
    /// it; whether the literal's bytes come next.
    fn literal_announced(
        &mut self,
        fragments: &mut Fragmentizer,
        mode: LiteralMode,
        length: u32,
    ) -> bool {
        // Before login only what LOGIN and AUTHENTICATE need.
        let largest = if self.user.is_some() {
            self.config().max_literal_size
        } else {
            MAX_LITERAL_BEFORE_LOGIN
        };
        match mode {
            LiteralMode::Sync if length > largest => match fragments.decode_tag() {
                Some(tag) => {
                    let tag = tag.as_ref().to_owned();
                    self.tagged(&tag, &Reply::bad("[TOOBIG] Literal too big"));
                    fragments.skip_message();
                    false
                }
                None => {
                    fragments.poison_message();
                    true
                }
            },
            LiteralMode::Sync => {
                self.line("+ Ready for literal data");
                true
            }
            LiteralMode::NonSync => {
                if length > MAX_NON_SYNC_LITERAL.min(largest) {
                    self.too_big = true;
                    fragments.poison_message();
                    // The fragmentizer would still gather the literal's
                    // bytes: a stranger is not allowed that much.
                    if self.user.is_none() {
                        self.line("* BYE Literal too big");
                        self.logout = true;
                    }
                }
                true
            }
        }
    }

    fn undecodable<'a, C: imap_codec::decode::Decoder>(
        &mut self,
        tag: Option<String>,
        error: &DecodeMessageError<'a, C>,
    ) {
        let text = match error {
            DecodeMessageError::MessageTooLong { .. } => "[TOOBIG] Command too long",
            DecodeMessageError::MessagePoisoned { .. } if self.too_big => {
                "[TOOBIG] Non-synchronizing literals are limited to 4096 bytes"
            }
            _ => "Unknown command or invalid arguments",
        };
        self.too_big = false;
        let tag = tag.unwrap_or_else(|| "*".to_owned());
        self.tagged(&tag, &Reply::bad(text));
    }

    async fn command<S: AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        command: Command<'_>,
    ) -> Result<Step> {
        let tag = command.tag.as_ref().to_owned();
        self.tag.clone_from(&tag);
        if self.withdrawn().await? {
            return Ok(Step::Continue);
        }
        // Whether expunges of other sessions may be told after this
        // command (RFC 9051 §7.5.1).
        let mut expunges_allowed = true;
        let reply = match command.body {
            CommandBody::Capability => {
                let line = format!("* CAPABILITY {}", self.capabilities());
                self.line(&line);
                Reply::ok("CAPABILITY completed")
            }
            CommandBody::Noop | CommandBody::Check => Reply::ok("Done"),
            CommandBody::Logout => {
                self.line("* BYE Logging out");
                self.logout = true;
                self.selected = None;
                Reply::ok("LOGOUT completed")
            }
            CommandBody::StartTLS => {
                if self.tls || self.imap.inner.tls.is_none() {
                    Reply::bad("TLS is not offered here")
                } else if self.user.is_some() {
                    Reply::bad("Already logged in")
                } else {
                    self.tagged(&tag, &Reply::ok("Begin TLS negotiation now"));
                    return Ok(Step::StartTls);
                }
            }
            CommandBody::Login { username, password } => {
                let user = String::from_utf8_lossy(username.as_ref()).into_owned();
                let password = String::from_utf8_lossy(password.declassify().as_ref()).into_owned();
                self.login(&user, &password).await?
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => {
                if self.user.is_some() {
                    Reply::bad("Already logged in")
                } else if !self.auth_allowed() {
                    Reply::no("[PRIVACYREQUIRED] Use TLS first")
                } else if mechanism != AuthMechanism::Plain {
                    Reply::no("[CANNOT] Only PLAIN is offered")
                } else if let Some(initial) = initial_response {
                    self.auth_plain(initial.declassify()).await?
                } else {
                    // An empty challenge (RFC 9051 §6.2.2).
                    self.line("+ ");
                    self.mode = Mode::Authenticate(tag);
                    return Ok(Step::Continue);
                }
            }
            CommandBody::Idle if self.user.is_some() => {
                // RFC 2177: what changes is pushed until the client says DONE.
                self.line("+ idling");
                if let Err(e) = self.sync(true).await {
                    tracing::warn!(error = %e, "IMAP mailbox update failed");
                }
                self.mode = Mode::Idle {
                    tag,
                    since: tokio::time::Instant::now(),
                };
                return Ok(Step::Continue);
            }
            body => {
                // What this session writes, its next update reads back (on
                // PostgreSQL its own notice may come later).
                self.dirty |= matches!(
                    body,
                    CommandBody::Store { .. }
                        | CommandBody::Expunge
                        | CommandBody::ExpungeUid { .. }
                        | CommandBody::Append { .. }
                        | CommandBody::Copy { .. }
                        | CommandBody::Move { .. }
                );
                if self.user.is_none() {
                    Reply::bad("Log in first")
                } else {
                    match self
                        .authenticated(stream, body, &mut expunges_allowed)
                        .await
                    {
                        Ok(reply) => reply,
                        Err(Error::NotFound(what)) => {
                            Reply::no(format!("[NONEXISTENT] No such {what}"))
                        }
                        Err(Error::LimitExceeded { .. }) => Reply::no("[LIMIT] Over a limit"),
                        Err(Error::Invalid { what, why }) => {
                            Reply::no(format!("Invalid {what}: {why}"))
                        }
                        Err(e) => {
                            if matches!(e, Error::Backend(ref text) if text.starts_with("connection:"))
                            {
                                return Err(e);
                            }
                            tracing::warn!(error = %e, "IMAP command failed");
                            Reply::no("[SERVERBUG] The command failed; try again")
                        }
                    }
                }
            }
        };
        if self.selected.is_some()
            && !self.logout
            && let Err(e) = self.sync(expunges_allowed).await
        {
            tracing::warn!(error = %e, "IMAP mailbox update failed");
        }
        self.tagged(&tag, &reply);
        Ok(Step::Continue)
    }

    /// Commands of the authenticated and selected states.
    async fn authenticated<S: AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        body: CommandBody<'_>,
        expunges_allowed: &mut bool,
    ) -> Result<Reply> {
        Ok(match body {
            CommandBody::Select {
                mailbox,
                parameters,
            } => self.select_with(&mailbox, false, &parameters).await?,
            CommandBody::Examine {
                mailbox,
                parameters,
            } => self.select_with(&mailbox, true, &parameters).await?,
            CommandBody::Enable { capabilities } => {
                // RFC 5161: CONDSTORE and QRESYNC (which includes it).
                let mut enabled = Vec::new();
                for capability in capabilities.as_ref() {
                    if *capability == CapabilityEnable::CondStore {
                        self.condstore = true;
                        enabled.push(" CONDSTORE");
                    } else if capability.to_string().eq_ignore_ascii_case("QRESYNC") {
                        (self.condstore, self.qresync) = (true, true);
                        enabled.push(" QRESYNC");
                    } else if capability.to_string().eq_ignore_ascii_case("IMAP4rev2") {
                        self.rev2 = true;
                        enabled.push(" IMAP4rev2");
                    }
                }
                self.line(&format!("* ENABLED{}", enabled.concat()));
                Reply::ok("ENABLE completed")
            }
            CommandBody::List {
                reference,
                mailbox_wildcard,
            } => match self.list_extended.take() {
                Some(list) => self.list_with("LIST", list).await?,
                None => self.list(&reference, &mailbox_wildcard, false).await?,
            },
            CommandBody::Lsub {
                reference,
                mailbox_wildcard,
            } => self.list(&reference, &mailbox_wildcard, true).await?,
            CommandBody::Append {
                mailbox,
                flags,
                date,
                message,
            } => {
                let data: &[u8] = match &message {
                    LiteralOrLiteral8::Literal(literal) => literal.data(),
                    LiteralOrLiteral8::Literal8(literal) => &literal.data,
                };
                let date = date.map(|d| d.as_ref().with_timezone(&Utc));
                self.append(&mailbox, &flags, date, data).await?
            }
            CommandBody::Unselect => match self.selected.take() {
                Some(_) => Reply::ok("UNSELECT completed"),
                None => Reply::bad("No mailbox selected"),
            },
            CommandBody::Close => match self.selected.take() {
                Some(selected) => {
                    // RFC 9051 §6.4.1: expunged silently.
                    if !selected.read_only {
                        let removed = self.mail()?.expunge(selected.mailbox.id, None).await?;
                        let (delegation, id) = (selected.delegation.as_ref(), selected.mailbox.id);
                        self.record(delegation, id, "expunge", &removed).await;
                    }
                    Reply::ok("CLOSE completed")
                }
                None => Reply::bad("No mailbox selected"),
            },
            CommandBody::Expunge => self.expunge(None).await?,
            CommandBody::ExpungeUid { sequence_set } => self.expunge(Some(&sequence_set)).await?,
            CommandBody::Fetch {
                sequence_set,
                macro_or_item_names,
                uid,
                modifiers,
            } => {
                *expunges_allowed = uid;
                let mut changed_since = None;
                let mut vanished = false;
                for modifier in &modifiers {
                    match modifier {
                        FetchModifier::ChangedSince(since) => changed_since = Some(since.get()),
                        FetchModifier::Vanished => vanished = true,
                    }
                }
                // RFC 7162 §3.2.6: VANISHED only in UID FETCH with
                // CHANGEDSINCE, once QRESYNC is enabled.
                if vanished {
                    let Some(since) = changed_since.filter(|_| uid && self.qresync) else {
                        return Ok(Reply::bad(
                            "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC",
                        ));
                    };
                    self.vanished_earlier(since, Some(&sequence_set)).await?;
                }
                self.fetch(
                    stream,
                    &sequence_set,
                    &macro_or_item_names,
                    uid,
                    changed_since,
                )
                .await?
            }
            CommandBody::Store {
                sequence_set,
                kind,
                response,
                flags,
                uid,
                modifiers,
            } => {
                *expunges_allowed = uid;
                let unchanged_since = modifiers
                    .iter()
                    .map(|StoreModifier::UnchangedSince(since)| *since)
                    .next();
                self.store(&sequence_set, kind, response, &flags, uid, unchanged_since)
                    .await?
            }
            CommandBody::Search {
                charset,
                criteria,
                uid,
            } => {
                *expunges_allowed = uid;
                if let Some(charset) = charset
                    && !["UTF-8", "US-ASCII"]
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(charset.as_ref()))
                {
                    return Ok(Reply::no("[BADCHARSET (UTF-8 US-ASCII)] Unknown charset"));
                }
                self.search(criteria.as_ref(), uid).await?
            }
            CommandBody::Create { mailbox } => self.create(&mailbox).await?,
            CommandBody::Delete { mailbox } => {
                let Some(Found { info, delegation }) = self.find_mailbox(&mailbox).await? else {
                    return Ok(Reply::no("[NONEXISTENT] No such mailbox"));
                };
                if delegation.is_some() {
                    return Ok(Reply::no(NOT_YOURS));
                }
                if self
                    .selected
                    .as_ref()
                    .is_some_and(|s| s.mailbox.id == info.id)
                {
                    self.selected = None;
                }
                match self.mail()?.delete_mailbox(info.id).await {
                    // RFC 9051 §7.1: HASCHILDREN.
                    Err(Error::Conflict(why)) => Reply::no(format!("[HASCHILDREN] {why}")),
                    done => {
                        done?;
                        Reply::ok("DELETE completed")
                    }
                }
            }
            CommandBody::Rename { from, to } => {
                let Some(Found { info, delegation }) = self.find_mailbox(&from).await? else {
                    return Ok(Reply::no("[NONEXISTENT] No such mailbox"));
                };
                let Some(name) = self.name_of(&to) else {
                    return Ok(Reply::bad("Invalid mailbox name"));
                };
                if delegation.is_some() || access::is_foreign(&name) {
                    return Ok(Reply::no(NOT_YOURS));
                }
                if self.find_mailbox(&to).await?.is_some() {
                    return Ok(Reply::no("[ALREADYEXISTS] Mailbox exists"));
                }
                match self.mail()?.rename_mailbox(info.id, &name).await {
                    Err(Error::Conflict(why)) => Reply::no(format!("[ALREADYEXISTS] {why}")),
                    done => {
                        done?;
                        Reply::ok("RENAME completed")
                    }
                }
            }
            CommandBody::Subscribe { mailbox } => self.subscribe(&mailbox, true).await?,
            CommandBody::Unsubscribe { mailbox } => self.subscribe(&mailbox, false).await?,
            CommandBody::Status {
                mailbox,
                item_names,
            } => self.status(&mailbox, &item_names).await?,
            CommandBody::Namespace => {
                // RFC 2342: personal, other users' (deputies) and shared.
                self.line(&format!(
                    "* NAMESPACE ((\"\" \"{DELIMITER}\")) ((\"{}{DELIMITER}\" \"{DELIMITER}\")) ((\"{}{DELIMITER}\" \"{DELIMITER}\"))",
                    access::OTHER_USERS,
                    access::SHARED
                ));
                Reply::ok("NAMESPACE completed")
            }
            CommandBody::Copy {
                sequence_set,
                mailbox,
                uid,
            } => self.copy(&sequence_set, &mailbox, uid, false).await?,
            CommandBody::GetQuotaRoot { mailbox } => self.quota_root(&mailbox).await?,
            CommandBody::GetQuota { root } => {
                self.quota(&String::from_utf8_lossy(root.as_ref())).await?
            }
            CommandBody::SetQuota { .. } => {
                Reply::no("[NOPERM] Storage limits are set by the administrator")
            }
            CommandBody::Move {
                sequence_set,
                mailbox,
                uid,
            } => self.copy(&sequence_set, &mailbox, uid, true).await?,
            _ => Reply::bad("Command not supported yet"),
        })
    }

    /// What the person may do with the account `label` of `namespace`.
    async fn delegation(&self, namespace: &str, label: &str) -> Result<Option<Delegation>> {
        let Some(user) = &self.user else {
            return Ok(None);
        };
        access::find(
            &self.imap,
            &user.mail,
            user.person,
            &user.domain,
            namespace,
            label,
        )
        .await
    }

    fn mail(&self) -> Result<&TenantMail> {
        self.user
            .as_ref()
            .map(|u| &u.mail)
            .ok_or(Error::invalid("session", "not logged in"))
    }

    async fn login(&mut self, user: &str, password: &str) -> Result<Reply> {
        if self.user.is_some() {
            return Ok(Reply::bad("Already logged in"));
        }
        if !self.auth_allowed() {
            return Ok(Reply::no("[PRIVACYREQUIRED] Use TLS first"));
        }
        let inner = &self.imap.inner;
        let mut found = None;
        let mut over_limit = false;
        if let Ok(address) = user.parse::<EmailAddress>()
            && let Some(tenant) = inner.router.tenant_for_domain(address.domain()).await?
            && let Ok(principal) = inner
                .authenticator
                .authenticate(
                    tenant,
                    &Credentials::basic(user, password),
                    super::Imap::SCOPE,
                )
                .await
            && let Principal::Person { person, .. } = principal
        {
            match self.imap.claim(tenant, person) {
                Some(slot) => {
                    found = Some(User {
                        mail: inner.store.tenant(tenant),
                        account: Account::Person(person),
                        person,
                        domain: address.domain().to_ascii_lowercase(),
                        _slot: slot,
                    });
                }
                None => over_limit = true,
            }
        }
        if over_limit {
            return Ok(Reply::no(
                "[LIMIT] Too many sessions; log out elsewhere first",
            ));
        }
        match found {
            Some(found) => {
                self.user = Some(found);
                Ok(Reply::ok(format!(
                    "[CAPABILITY {}] Logged in",
                    self.capabilities()
                )))
            }
            None => {
                self.auth_failures += 1;
                // Slow down guessing.
                tokio::time::sleep(self.config().auth_failure_delay * self.auth_failures).await;
                if self.auth_failures >= self.config().max_auth_failures {
                    self.line("* BYE Too many failed logins");
                    self.logout = true;
                }
                Ok(Reply::no("[AUTHENTICATIONFAILED] Invalid credentials"))
            }
        }
    }

    /// AUTHENTICATE PLAIN: `authzid NUL authcid NUL password` (RFC 4616);
    /// an authzid other than the user itself is not offered.
    async fn auth_plain(&mut self, response: &[u8]) -> Result<Reply> {
        let Ok(text) = std::str::from_utf8(response) else {
            return Ok(Reply::bad("Malformed PLAIN response"));
        };
        let mut parts = text.split('\0');
        let (Some(authzid), Some(user), Some(password), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(Reply::bad("Malformed PLAIN response"));
        };
        if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(user) {
            return Ok(Reply::no(
                "[AUTHORIZATIONFAILED] Authorization identity not permitted",
            ));
        }
        self.login(user, password).await
    }

    /// The mailbox named by `mailbox`: the person's own, or one of an
    /// account they may open (asked of the authorizer now).
    async fn find_mailbox(&self, mailbox: &Mailbox<'_>) -> Result<Option<Found>> {
        let Some(user) = &self.user else {
            return Ok(None);
        };
        let name = match mailbox {
            Mailbox::Inbox => "INBOX".to_owned(),
            Mailbox::Other(_) => match self.name_of(mailbox) {
                Some(name) => name,
                None => return Ok(None),
            },
        };
        let (delegation, name) = match access::split(&name) {
            Some((_, _, "")) => return Ok(None),
            Some((namespace, label, rest)) => match self.delegation(namespace, label).await? {
                Some(delegation) => (Some(delegation), rest.to_owned()),
                None => return Ok(None),
            },
            None => (None, name),
        };
        let boxes = match &delegation {
            Some(delegation) => user.mail.existing_mailboxes(&delegation.account).await?,
            None => user.mail.mailboxes(&user.account).await?,
        };
        let info = if name.eq_ignore_ascii_case("INBOX") {
            boxes.into_iter().find(|b| b.role == Some(Role::Inbox))
        } else {
            boxes.into_iter().find(|b| b.name == name)
        };
        Ok(info.map(|info| Found { info, delegation }))
    }

    /// The name a command gives a mailbox, without a trailing delimiter:
    /// UTF-8 for IMAP4rev2, modified UTF-7 for IMAP4rev1.
    fn name_of(&self, mailbox: &Mailbox<'_>) -> Option<String> {
        let Mailbox::Other(other) = mailbox else {
            return Some("INBOX".to_owned());
        };
        let name = self.internal(std::str::from_utf8(other.as_ref()).ok()?)?;
        Some(name.trim_end_matches(DELIMITER).to_owned()).filter(|n| !n.is_empty())
    }

    /// A name or pattern as the client spells it, as stored: UTF-8 for
    /// IMAP4rev2, modified UTF-7 for IMAP4rev1 (some of which send UTF-8
    /// all the same, taken as such).
    fn internal(&self, text: &str) -> Option<String> {
        if self.rev2 || !text.is_ascii() {
            Some(text.to_owned())
        } else {
            utf7::decode(text)
        }
    }

    /// A mailbox name as the client spells it.
    fn external(&self, name: &str) -> String {
        if self.rev2 {
            name.to_owned()
        } else {
            utf7::encode(name)
        }
    }

    /// Records what is done in another account's mailbox (for the audit
    /// log); nothing for the person's own.
    async fn record(
        &self,
        delegation: Option<&Delegation>,
        mailbox: uuid::Uuid,
        action: &str,
        uids: &[u32],
    ) {
        let (Some(delegation), Some(user)) = (delegation, &self.user) else {
            return;
        };
        let event = Event::builder(user.mail.tenant_id(), SOURCE, DELEGATED_ACCESS)
            .actor(&delegation.principal)
            .subject_if_valid(&format!("mailbox/{mailbox}"))
            .data(serde_json::json!({
                "account": delegation.account.key(),
                "mailbox": mailbox,
                "action": action,
                "count": uids.len(),
                "uids": uids.get(..uids.len().min(MAX_RECORDED_UIDS)).unwrap_or_default(),
            }))
            .build(user.mail.store().clock());
        user.mail.emit(event).await;
    }
}

/// Waits until `mailbox` changes (or changes were missed); never returns
/// once the store is gone.
async fn changed(watch: &mut broadcast::Receiver<MailboxChanged>, mailbox: uuid::Uuid) {
    loop {
        match watch.recv().await {
            Ok(change) if change.mailbox == mailbox => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}
