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
/// Most patterns in one LIST (LIST-EXTENDED allows several).
const MAX_PATTERNS: usize = 32;
/// Longest LIST pattern, in bytes.
const MAX_PATTERN_LENGTH: usize = 512;
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
/// Attributes of a folder that only holds others' mailboxes.
const NOSELECT_PARENT: [&str; 2] = ["\\Noselect", "\\HasChildren"];

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

    async fn search(&mut self, keys: &[SearchKey<'_>], uid: bool) -> Result<Reply> {
        // RFC 5182 §2.1: a SEARCH that saves clears `$` first, also when it fails.
        if self.search_return.as_ref().is_some_and(|r| r.save)
            && let Some(selected) = &mut self.selected
        {
            selected.saved.clear();
        }
        if let Err(why) = keys.iter().try_for_each(search::check) {
            return Ok(Reply::bad(why));
        }
        let Some(selected) = &self.selected else {
            return Ok(Reply::bad("No mailbox selected"));
        };
        let mail = self.mail()?;
        let stored: HashMap<u32, MessageMeta> = mail
            .messages(selected.mailbox.id, 1..=u32::MAX)
            .await?
            .into_iter()
            .map(|m| (m.uid, m))
            .collect();
        let needs_body = keys.iter().any(search::needs_body);
        let largest = (
            u32::try_from(selected.uids.len()).unwrap_or(u32::MAX),
            selected.uids.last().copied().unwrap_or(0),
        );
        let (mut found, mut found_uids) = (Vec::new(), Vec::new());
        // RFC 7162 §3.1.5: a MODSEQ key turns CONDSTORE on and has the
        // answer name the highest MODSEQ of what was found.
        let by_modseq = keys.iter().any(search::uses_modseq);
        let mut highest = 0u64;
        for (&message_uid, seq) in selected.uids.iter().zip(1u32..) {
            let Some(meta) = stored.get(&message_uid) else {
                continue;
            };
            let raw = if needs_body {
                mail.raw(meta).await.ok()
            } else {
                None
            };
            let candidate = search::Candidate {
                seq,
                meta,
                raw: raw.as_deref(),
                largest,
            };
            if keys.iter().all(|k| search::matches(k, &candidate)) {
                found.push(if uid { message_uid } else { seq });
                found_uids.push(message_uid);
                highest = highest.max(meta.modseq);
            }
        }
        self.condstore |= by_modseq;
        if let Some(selected) = &self.selected {
            let (delegation, id) = (selected.delegation.as_ref(), selected.mailbox.id);
            self.record(delegation, id, "search", &found_uids).await;
        }
        // ESEARCH (RFC 4731), which IMAP4rev2 always answers with.
        let returns = self.search_return.take().or_else(|| {
            self.rev2.then(|| SearchReturn {
                all: true,
                ..SearchReturn::default()
            })
        });
        match returns {
            Some(returns) => {
                if returns.save
                    && let Some(selected) = &mut self.selected
                {
                    // SAVE with MIN or MAX alone keeps only those (§2.1).
                    let ends_only = (returns.min || returns.max) && !(returns.all || returns.count);
                    selected.saved = if !ends_only {
                        found_uids
                    } else {
                        let ends = [
                            found_uids.first().filter(|_| returns.min),
                            found_uids.last().filter(|_| returns.max),
                        ];
                        let mut ends: Vec<u32> = ends.into_iter().flatten().copied().collect();
                        ends.dedup();
                        ends
                    };
                }
                if !returns.answers() {
                    return Ok(Reply::ok("SEARCH completed, result saved"));
                }
                let mut line = format!("* ESEARCH (TAG \"{}\")", self.tag);
                if uid {
                    line.push_str(" UID");
                }
                if let (true, Some(min)) = (returns.min, found.first()) {
                    line.push_str(&format!(" MIN {min}"));
                }
                if let (true, Some(max)) = (returns.max, found.last()) {
                    line.push_str(&format!(" MAX {max}"));
                }
                if returns.all && !found.is_empty() {
                    line.push_str(&format!(" ALL {}", sequence::compact(&found)));
                }
                if returns.count {
                    line.push_str(&format!(" COUNT {}", found.len()));
                }
                if by_modseq && !found.is_empty() {
                    line.push_str(&format!(" MODSEQ {}", highest.max(1)));
                }
                self.line(&line);
            }
            None => {
                let mut line = "* SEARCH".to_owned();
                for n in &found {
                    line.push_str(&format!(" {n}"));
                }
                if by_modseq && !found.is_empty() {
                    line.push_str(&format!(" (MODSEQ {})", highest.max(1)));
                }
                self.line(&line);
            }
        }
        Ok(Reply::ok("SEARCH completed"))
    }

    async fn create(&mut self, mailbox: &Mailbox<'_>) -> Result<Reply> {
        let Some(name) = self.name_of(mailbox) else {
            return Ok(Reply::bad("Invalid mailbox name"));
        };
        if access::is_foreign(&name) {
            return Ok(Reply::no(NOT_YOURS));
        }
        if self.find_mailbox(mailbox).await?.is_some() {
            return Ok(Reply::no("[ALREADYEXISTS] Mailbox exists"));
        }
        let Some(user) = &self.user else {
            return Ok(Reply::bad("Log in first"));
        };
        user.mail.create_mailbox(&user.account, &name).await?;
        Ok(Reply::ok("CREATE completed"))
    }

    async fn subscribe(&mut self, mailbox: &Mailbox<'_>, on: bool) -> Result<Reply> {
        let Some(found) = self.find_mailbox(mailbox).await? else {
            return Ok(Reply::no("[NONEXISTENT] No such mailbox"));
        };
        // Others' mailboxes are listed as subscribed while they may be
        // opened; their owner's subscriptions stay untouched.
        if found.delegation.is_none() {
            self.mail()?.subscribe(found.info.id, on).await?;
        }
        Ok(Reply::ok(if on {
            "SUBSCRIBE completed"
        } else {
            "UNSUBSCRIBE completed"
        }))
    }

    async fn status(
        &mut self,
        mailbox: &Mailbox<'_>,
        items: &[StatusDataItemName],
    ) -> Result<Reply> {
        let Some(found) = self.find_mailbox(mailbox).await? else {
            return Ok(Reply::no("[NONEXISTENT] No such mailbox"));
        };
        Ok(match self.status_of(&found, items).await? {
            Ok(()) => Reply::ok("STATUS completed"),
            Err(reply) => reply,
        })
    }

    /// The `* STATUS` line of a mailbox.
    async fn status_of(
        &mut self,
        found: &Found,
        items: &[StatusDataItemName],
    ) -> Result<std::result::Result<(), Reply>> {
        let info = &found.info;
        let mail = self.mail()?;
        let (total, unseen) = mail.counts(info.id).await?;
        let needs_messages = items.iter().any(|i| {
            matches!(
                i,
                StatusDataItemName::Deleted
                    | StatusDataItemName::DeletedStorage
                    | StatusDataItemName::Size
            )
        });
        let deleted = |m: &&MessageMeta| m.flags.contains("\\Deleted");
        let messages = if needs_messages {
            mail.messages(info.id, 1..=u32::MAX).await?
        } else {
            Vec::new()
        };
        let mut values = Vec::new();
        for item in items {
            let value = match item {
                StatusDataItemName::Messages => format!("MESSAGES {total}"),
                // RFC 9051 §6.3.11: RECENT is gone; IMAP4rev1 clients hear 0.
                StatusDataItemName::Recent if !self.rev2 => "RECENT 0".to_owned(),
                StatusDataItemName::UidNext => format!("UIDNEXT {}", info.uid_next),
                StatusDataItemName::UidValidity => format!("UIDVALIDITY {}", info.uid_validity),
                StatusDataItemName::Unseen => format!("UNSEEN {unseen}"),
                StatusDataItemName::Deleted => {
                    format!("DELETED {}", messages.iter().filter(deleted).count())
                }
                // RFC 9208 §5.1 (with QUOTA=RES-STORAGE): what EXPUNGE frees.
                StatusDataItemName::DeletedStorage => {
                    let bytes: u64 = messages.iter().filter(deleted).map(|m| m.size).sum();
                    format!("DELETED-STORAGE {}", bytes.div_ceil(1024))
                }
                StatusDataItemName::Size => {
                    format!("SIZE {}", messages.iter().map(|m| m.size).sum::<u64>())
                }
                StatusDataItemName::HighestModSeq => {
                    format!("HIGHESTMODSEQ {}", info.highest_modseq.max(1))
                }
                other => return Ok(Err(Reply::bad(format!("STATUS {other:?} is not served")))),
            };
            values.push(value);
        }
        self.record(found.delegation.as_ref(), info.id, "status", &[])
            .await;
        let mut out = b"* STATUS ".to_vec();
        fetch::string(&mut out, &self.external(&found.visible()));
        out.extend_from_slice(format!(" ({})\r\n", values.join(" ")).as_bytes());
        self.output.extend_from_slice(&out);
        Ok(Ok(()))
    }

    /// COPY, and MOVE (RFC 6851) with `remove`.
    async fn copy(
        &mut self,
        set: &SequenceSet,
        mailbox: &Mailbox<'_>,
        uid: bool,
        remove: bool,
    ) -> Result<Reply> {
        let verb = if remove { "MOVE" } else { "COPY" };
        if remove && self.selected.as_ref().is_some_and(|s| s.read_only) {
            return Ok(Reply::no("[READ-ONLY] Mailbox is read-only"));
        }
        let targets = match self.targets(set, uid).await? {
            Ok(targets) => targets,
            Err(reply) => return Ok(reply),
        };
        let Some(Found {
            info: to,
            delegation: to_delegation,
        }) = self.find_mailbox(mailbox).await?
        else {
            return Ok(Reply::no("[TRYCREATE] No such mailbox"));
        };
        if to_delegation.as_ref().is_some_and(|d| !d.write) {
            return Ok(Reply::no(READ_ONLY_GRANT));
        }
        let Some(from) = targets.first().map(|(_, m)| m.mailbox) else {
            return Ok(Reply::ok(format!("{verb} completed")));
        };
        let uids: Vec<u32> = targets.iter().map(|(_, m)| m.uid).collect();
        let size: u64 = targets.iter().map(|(_, m)| m.size).sum();
        // A move within one account takes no more room (deleting is a
        // move to Trash, and must work when the account is full).
        let same_account = self
            .selected
            .as_ref()
            .is_some_and(|s| s.mailbox.account == to.account);
        if !(remove && same_account) && self.over_quota(&to, size).await? {
            return Ok(Reply::no(OVER_QUOTA));
        }
        let mail = self.mail()?;
        let pairs = if remove {
            mail.move_messages(from, &uids, to.id).await?
        } else {
            mail.copy(from, &uids, to.id).await?
        };
        let from_delegation = self.selected.as_ref().and_then(|s| s.delegation.as_ref());
        self.record(from_delegation, from, &verb.to_ascii_lowercase(), &uids)
            .await;
        let added: Vec<u32> = pairs.iter().map(|p| p.1).collect();
        self.record(to_delegation.as_ref(), to.id, "add", &added)
            .await;
        // RFC 4315 §3: COPYUID; for MOVE untagged, before the expunges.
        // Both sets ascend, so they still pair up when compacted.
        let sources: Vec<u32> = pairs.iter().map(|p| p.0).collect();
        let code = format!(
            "[COPYUID {} {} {}]",
            to.uid_validity,
            sequence::compact(&sources),
            sequence::compact(&added)
        );
        Ok(if pairs.is_empty() {
            Reply::ok(format!("{verb} completed"))
        } else if remove {
            self.line(&format!("* OK {code} Moved"));
            Reply::ok("MOVE completed")
        } else {
            Reply::ok(format!("{code} COPY completed"))
        })
    }

    /// GETQUOTAROOT (RFC 9208 §4.3): each account is one quota root, `""`
    /// for the person's own.
    async fn quota_root(&mut self, mailbox: &Mailbox<'_>) -> Result<Reply> {
        let Some(found) = self.find_mailbox(mailbox).await? else {
            return Ok(Reply::no("[NONEXISTENT] No such mailbox"));
        };
        let root = found
            .delegation
            .as_ref()
            .map(Delegation::root)
            .unwrap_or_default();
        let mut line = b"* QUOTAROOT ".to_vec();
        fetch::string(&mut line, &self.external(&found.visible()));
        line.push(b' ');
        fetch::string(&mut line, &self.external(&root));
        line.extend_from_slice(b"\r\n");
        self.output.extend_from_slice(&line);
        self.quota(&root).await?;
        Ok(Reply::ok("GETQUOTAROOT completed"))
    }

    /// GETQUOTA (RFC 9208 §4.2): storage in units of 1024 bytes.
    async fn quota(&mut self, root: &str) -> Result<Reply> {
        let Some(account) = self.quota_account(root).await? else {
            return Ok(Reply::no("[NONEXISTENT] No such quota root"));
        };
        let usage = self.mail()?.usage(&account).await?;
        let mut line = b"* QUOTA ".to_vec();
        fetch::string(&mut line, &self.external(root));
        line.extend_from_slice(
            format!(
                " (STORAGE {} {})\r\n",
                usage.bytes.div_ceil(1024),
                self.config().storage_quota / 1024
            )
            .as_bytes(),
        );
        self.output.extend_from_slice(&line);
        Ok(Reply::ok("GETQUOTA completed"))
    }

    /// The account of a quota root the person may see.
    async fn quota_account(&self, root: &str) -> Result<Option<Account>> {
        let Some(user) = &self.user else {
            return Ok(None);
        };
        if root.is_empty() {
            return Ok(Some(user.account.clone()));
        }
        let Some((namespace, label, "")) = access::split(root) else {
            return Ok(None);
        };
        let found = self.delegation(namespace, label).await?;
        Ok(found.map(|d| d.account))
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

    /// Whether `more` bytes would take the account owning `mailbox` over
    /// its quota.
    async fn over_quota(&self, mailbox: &MailboxInfo, more: u64) -> Result<bool> {
        let used = self.mail()?.usage(&mailbox.account).await?.bytes;
        Ok(used.saturating_add(more) > self.config().storage_quota)
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

    async fn select_with(
        &mut self,
        mailbox: &Mailbox<'_>,
        read_only: bool,
        parameters: &[SelectParameter],
    ) -> Result<Reply> {
        let mut resync = None;
        for parameter in parameters {
            match parameter {
                SelectParameter::CondStore => self.condstore = true,
                SelectParameter::QResync { .. } if !self.qresync => {
                    return Ok(Reply::bad("ENABLE QRESYNC first"));
                }
                SelectParameter::QResync {
                    uid_validity,
                    mod_sequence_value,
                    known_uids,
                    ..
                } => resync = Some((uid_validity.get(), mod_sequence_value.get(), known_uids)),
            }
        }
        let reply = self.select(mailbox, read_only).await?;
        // RFC 7162 §3.2.5.2: what changed since the client's last visit,
        // if its UIDs are still valid.
        if let Some((uid_validity, since, known)) = resync
            && let Some(selected) = &self.selected
            && selected.mailbox.uid_validity == uid_validity
        {
            self.vanished_earlier(since, known.as_ref()).await?;
            let condstore = self.condstore;
            if let (Some(selected), Some(user)) = (&self.selected, &self.user) {
                let changes = user.mail.changes_since(selected.mailbox.id, since).await?;
                let mut out = Vec::new();
                for meta in &changes.changed {
                    if let Ok(index) = selected.uids.binary_search(&meta.uid) {
                        out.extend_from_slice(
                            format!("* {} FETCH (UID {} FLAGS ", index + 1, meta.uid).as_bytes(),
                        );
                        fetch::flag_list(&mut out, meta);
                        if condstore {
                            out.extend_from_slice(
                                format!(" MODSEQ ({})", meta.modseq.max(1)).as_bytes(),
                            );
                        }
                        out.extend_from_slice(b")\r\n");
                    }
                }
                self.output.extend_from_slice(&out);
            }
        }
        Ok(reply)
    }

    /// `* VANISHED (EARLIER)` with the UIDs expunged from the selected
    /// mailbox after `since` (of `known`, if given).
    async fn vanished_earlier(&mut self, since: u64, known: Option<&SequenceSet>) -> Result<()> {
        let (Some(selected), Some(user)) = (&self.selected, &self.user) else {
            return Ok(());
        };
        let changes = user.mail.changes_since(selected.mailbox.id, since).await?;
        let mut gone = changes.vanished;
        gone.sort_unstable();
        gone.dedup();
        if let Some(known) = known {
            gone.retain(|&uid| sequence::contains(known, uid, u32::MAX));
        }
        if !gone.is_empty() {
            let line = format!("* VANISHED (EARLIER) {}", sequence::compact(&gone));
            self.line(&line);
        }
        Ok(())
    }

    async fn select(&mut self, mailbox: &Mailbox<'_>, read_only: bool) -> Result<Reply> {
        if self.selected.take().is_some() {
            // RFC 9051 §6.3.2: the old mailbox is closed first.
            self.line("* OK [CLOSED] Previous mailbox closed");
        }
        let Some(Found { info, delegation }) = self.find_mailbox(mailbox).await? else {
            return Ok(Reply::no("[NONEXISTENT] No such mailbox"));
        };
        // A deputy with a grant to read only gets the mailbox read-only.
        let examine = read_only;
        let read_only = read_only || delegation.as_ref().is_some_and(|d| !d.write);
        // Notices from before the read below are in what it reads.
        self.watch = Some(self.imap.inner.store.watch());
        (self.dirty, self.synced_at) = (false, tokio::time::Instant::now());
        let messages = self.mail()?.messages(info.id, 1..=u32::MAX).await?;
        let uids: Vec<u32> = messages.iter().map(|m| m.uid).collect();
        let first_unseen = messages
            .iter()
            .position(|m| !m.flags.contains("\\Seen"))
            .map(|i| i + 1);
        self.line(&format!("* {} EXISTS", uids.len()));
        if self.rev2 {
            // RFC 9051 §6.3.2: the mailbox's LIST response.
            let found = Found {
                info: info.clone(),
                delegation: delegation.clone(),
            };
            let use_ = match (&found.delegation, info.role) {
                (None, Some(role)) if role != Role::Inbox => special_use(role),
                _ => None,
            };
            let mut line =
                format!("* LIST ({}) \"{DELIMITER}\" ", use_.unwrap_or_default()).into_bytes();
            fetch::string(&mut line, &self.external(&found.visible()));
            line.extend_from_slice(b"\r\n");
            self.output.extend_from_slice(&line);
        } else {
            self.line("* 0 RECENT");
        }
        self.line("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
        if read_only {
            self.line("* OK [PERMANENTFLAGS ()] Read-only");
        } else {
            self.line(
                "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags allowed",
            );
        }
        if let Some(seq) = first_unseen {
            self.line(&format!("* OK [UNSEEN {seq}] First unseen"));
        }
        self.line(&format!(
            "* OK [UIDVALIDITY {}] UIDs valid",
            info.uid_validity
        ));
        self.line(&format!(
            "* OK [UIDNEXT {}] Predicted next UID",
            info.uid_next
        ));
        self.line(&format!(
            "* OK [HIGHESTMODSEQ {}] Highest",
            info.highest_modseq.max(1)
        ));
        let modseq = info.highest_modseq;
        let action = if read_only { "examine" } else { "select" };
        self.record(delegation.as_ref(), info.id, action, &[]).await;
        self.selected = Some(Selected {
            mailbox: info,
            delegation,
            read_only,
            uids,
            modseq,
            vanished: BTreeSet::new(),
            reported: HashMap::new(),
            saved: Vec::new(),
        });
        let verb = if examine { "EXAMINE" } else { "SELECT" };
        Ok(if read_only {
            Reply::ok(format!("[READ-ONLY] {verb} completed"))
        } else {
            Reply::ok("[READ-WRITE] SELECT completed")
        })
    }

    /// LIST and LSUB of RFC 3501.
    async fn list(
        &mut self,
        reference: &Mailbox<'_>,
        pattern: &ListMailbox<'_>,
        subscribed_only: bool,
    ) -> Result<Reply> {
        let reference = match reference {
            Mailbox::Inbox => "INBOX".to_owned(),
            Mailbox::Other(other) => String::from_utf8_lossy(other.as_ref()).into_owned(),
        };
        let pattern = match pattern {
            ListMailbox::Token(token) => String::from_utf8_lossy(token.as_ref()).into_owned(),
            ListMailbox::String(string) => String::from_utf8_lossy(string.as_ref()).into_owned(),
        };
        let list = ListExtended {
            reference,
            patterns: vec![pattern],
            subscribed: subscribed_only,
            ..ListExtended::default()
        };
        let command = if subscribed_only { "LSUB" } else { "LIST" };
        self.list_with(command, list).await
    }

    /// LIST with the options of LIST-EXTENDED and LIST-STATUS.
    async fn list_with(&mut self, command: &str, list: ListExtended) -> Result<Reply> {
        if list.patterns.iter().all(String::is_empty) {
            // RFC 9051 §6.3.9: the delimiter and the root.
            self.line(&format!("* {command} (\\Noselect) \"{DELIMITER}\" \"\""));
            return Ok(Reply::ok(format!("{command} completed")));
        }
        let items = match &list.status {
            Some(names) => match names
                .iter()
                .map(|n| status_item(n))
                .collect::<Option<Vec<_>>>()
            {
                Some(items) => Some(items),
                None => return Ok(Reply::bad("Unknown STATUS item")),
            },
            None => None,
        };
        let Some(reference) = self.internal(&list.reference) else {
            return Ok(Reply::bad("Invalid reference"));
        };
        // Matching costs pattern length times name length per mailbox.
        if list.patterns.len() > MAX_PATTERNS
            || list.patterns.iter().any(|p| p.len() > MAX_PATTERN_LENGTH)
        {
            return Ok(Reply::bad("Too many or too long patterns"));
        }
        let mut patterns = Vec::new();
        for pattern in list.patterns.iter().filter(|p| !p.is_empty()) {
            let Some(pattern) = self.internal(pattern) else {
                return Ok(Reply::bad("Invalid pattern"));
            };
            patterns.push(format!("{reference}{pattern}"));
        }
        let entries = self.list_entries().await?;
        // What the selection options choose.
        let chosen = |e: &ListEntry| {
            let special = e.attributes.len() > 1 && e.found.is_some();
            (!list.subscribed || e.subscribed) && (!list.special_use || special)
        };
        // RFC 5258 §3.5: with RECURSIVEMATCH, a parent that is not chosen
        // itself is listed for its chosen children, with CHILDINFO.
        let parent_of_chosen: Vec<bool> = entries
            .iter()
            .map(|parent| {
                let below = format!("{}{DELIMITER}", parent.name);
                list.recursive
                    && entries
                        .iter()
                        .any(|e| e.name.starts_with(&below) && chosen(e))
            })
            .collect();
        let mut out = Vec::new();
        let mut statuses = Vec::new();
        for (entry, parent) in entries.iter().zip(parent_of_chosen) {
            let matches = patterns.iter().any(|pattern| {
                if entry.name == "INBOX" {
                    wildcard(&pattern.to_ascii_uppercase(), &entry.name)
                } else {
                    wildcard(pattern, &entry.name)
                }
            });
            let is_chosen = chosen(entry);
            if !matches || !(is_chosen || parent) {
                continue;
            }
            let mut attributes = entry.attributes.clone();
            if list.return_subscribed && entry.subscribed {
                attributes.push("\\Subscribed");
            }
            out.extend_from_slice(
                format!("* {command} ({}) \"{DELIMITER}\" ", attributes.join(" ")).as_bytes(),
            );
            fetch::string(&mut out, &self.external(&entry.name));
            if !is_chosen {
                let why = if list.subscribed {
                    "SUBSCRIBED"
                } else {
                    "SPECIAL-USE"
                };
                out.extend_from_slice(format!(" (\"CHILDINFO\" (\"{why}\"))").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            if let (true, Some(found), Some(_)) = (is_chosen, &entry.found, &items) {
                statuses.push(found.clone());
            }
        }
        self.output.extend_from_slice(&out);
        // RFC 5819: the STATUS of each selectable mailbox listed.
        if let Some(items) = items {
            for found in statuses {
                if let Err(reply) = self.status_of(&found, &items).await? {
                    return Ok(reply);
                }
            }
        }
        Ok(Reply::ok(format!("{command} completed")))
    }

    /// Every mailbox the person may list, their own first: name,
    /// attributes, whether subscribed, and the mailbox (none for a folder
    /// that only holds others' mailboxes).
    async fn list_entries(&self) -> Result<Vec<ListEntry>> {
        let Some(user) = &self.user else {
            return Ok(Vec::new());
        };
        let mut boxes = user.mail.mailboxes(&user.account).await?;
        boxes.sort_by_key(|b| (b.role != Some(Role::Inbox), b.name.clone()));
        let mut entries = Vec::new();
        for mailbox in &boxes {
            let name = if mailbox.role == Some(Role::Inbox) {
                "INBOX"
            } else {
                mailbox.name.as_str()
            };
            let mut attributes = vec![children(&boxes, name)];
            attributes.extend(mailbox.role.and_then(special_use));
            entries.push(ListEntry {
                name: name.to_owned(),
                attributes,
                subscribed: mailbox.subscribed,
                found: Some(Found {
                    info: mailbox.clone(),
                    delegation: None,
                }),
            });
        }
        // Others' mailboxes under their namespace (without special uses,
        // which would make clients take them for the person's own).
        let delegations = access::all(&self.imap, &user.mail, user.person, &user.domain).await?;
        let mut roots = BTreeSet::new();
        for delegation in delegations {
            let root = delegation.root();
            if let Some((namespace, _)) = root.split_once(DELIMITER)
                && roots.insert(namespace.to_owned())
            {
                entries.push(ListEntry::parent(namespace));
            }
            entries.push(ListEntry::parent(&root));
            let theirs = user.mail.existing_mailboxes(&delegation.account).await?;
            for mailbox in &theirs {
                let name = if mailbox.role == Some(Role::Inbox) {
                    "INBOX"
                } else {
                    mailbox.name.as_str()
                };
                entries.push(ListEntry {
                    name: delegation.visible(name),
                    attributes: vec![children(&theirs, name)],
                    subscribed: true,
                    found: Some(Found {
                        info: mailbox.clone(),
                        delegation: Some(delegation.clone()),
                    }),
                });
            }
        }
        Ok(entries)
    }

    async fn append(
        &mut self,
        mailbox: &Mailbox<'_>,
        flags: &[Flag<'_>],
        date: Option<chrono::DateTime<Utc>>,
        data: &[u8],
    ) -> Result<Reply> {
        let Some(Found { info, delegation }) = self.find_mailbox(mailbox).await? else {
            return Ok(Reply::no("[TRYCREATE] No such mailbox"));
        };
        if delegation.as_ref().is_some_and(|d| !d.write) {
            return Ok(Reply::no(READ_ONLY_GRANT));
        }
        if data.len() > usize::try_from(self.config().max_literal_size).unwrap_or(usize::MAX) {
            return Ok(Reply::no("[TOOBIG] Message too big"));
        }
        let Ok(flags) = flags_of(flags) else {
            return Ok(Reply::bad("Invalid flags"));
        };
        if self.over_quota(&info, data.len() as u64).await? {
            return Ok(Reply::no(OVER_QUOTA));
        }
        let uid = self
            .mail()?
            .append(info.id, bytes::Bytes::copy_from_slice(data), &flags, date)
            .await?;
        self.record(delegation.as_ref(), info.id, "append", &[uid])
            .await;
        Ok(Reply::ok(format!(
            "[APPENDUID {} {uid}] APPEND completed",
            info.uid_validity
        )))
    }

    async fn expunge(&mut self, uids: Option<&SequenceSet>) -> Result<Reply> {
        let Some(selected) = &self.selected else {
            return Ok(Reply::bad("No mailbox selected"));
        };
        if selected.read_only {
            return Ok(Reply::no("[READ-ONLY] Mailbox is read-only"));
        }
        let only = match uids {
            Some(set) => match sequence::resolve(set, &selected.uids, true) {
                Ok(targets) => Some(targets.into_iter().map(|(_, uid)| uid).collect::<Vec<_>>()),
                Err(_) => return Ok(Reply::bad("Invalid UID set")),
            },
            None => None,
        };
        let id = selected.mailbox.id;
        let removed = self.mail()?.expunge(id, only.as_deref()).await?;
        let delegation = self.selected.as_ref().and_then(|s| s.delegation.as_ref());
        self.record(delegation, id, "expunge", &removed).await;
        // The expunges are told by the update that follows every command;
        // with QRESYNC the new HIGHESTMODSEQ goes with the answer (RFC
        // 7162 §3.2.10).
        if self.qresync {
            let highest = self.mail()?.mailbox(id).await?.highest_modseq.max(1);
            return Ok(Reply::ok(format!(
                "[HIGHESTMODSEQ {highest}] EXPUNGE completed"
            )));
        }
        Ok(Reply::ok("EXPUNGE completed"))
    }

    /// The messages `set` names in the selected mailbox, with their
    /// sequence numbers, as stored now.
    async fn targets(
        &self,
        set: &SequenceSet,
        uid: bool,
    ) -> Result<std::result::Result<Vec<(u32, MessageMeta)>, Reply>> {
        let Some(selected) = &self.selected else {
            return Ok(Err(Reply::bad("No mailbox selected")));
        };
        let Ok(targets) = sequence::resolve(set, &selected.uids, uid) else {
            return Ok(Err(Reply::bad("Invalid message sequence number")));
        };
        let (Some(&(_, first)), Some(&(_, last))) = (targets.first(), targets.last()) else {
            return Ok(Ok(Vec::new()));
        };
        let mut stored: HashMap<u32, MessageMeta> = self
            .mail()?
            .messages(selected.mailbox.id, first..=last)
            .await?
            .into_iter()
            .map(|m| (m.uid, m))
            .collect();
        Ok(Ok(targets
            .into_iter()
            .filter_map(|(seq, uid)| stored.remove(&uid).map(|m| (seq, m)))
            .collect()))
    }

    async fn fetch<S: AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        set: &SequenceSet,
        names: &MacroOrMessageDataItemNames<'_>,
        uid: bool,
        changed_since: Option<u64>,
    ) -> Result<Reply> {
        let mut plan = match Plan::new(names, uid) {
            Ok(plan) => plan,
            Err(why) => return Ok(Reply::bad(why)),
        };
        // RFC 7162 §3.1: CHANGEDSINCE and the MODSEQ item turn CONDSTORE on.
        self.condstore |= changed_since.is_some() || plan.asks_modseq();
        if self.condstore {
            plan.with_modseq();
        }
        let mut targets = match self.targets(set, uid).await? {
            Ok(targets) => targets,
            Err(reply) => return Ok(reply),
        };
        if let Some(since) = changed_since {
            targets.retain(|(_, m)| m.modseq > since);
        }
        let read_only = self.selected.as_ref().is_none_or(|s| s.read_only);
        if plan.sets_seen && !read_only {
            let unseen: Vec<u32> = targets
                .iter()
                .filter(|(_, m)| !m.flags.contains("\\Seen"))
                .map(|(_, m)| m.uid)
                .collect();
            if !unseen.is_empty() {
                let mailbox = targets.first().map(|(_, m)| m.mailbox).unwrap_or_default();
                let seen = Flags::new(["\\Seen"])?;
                self.dirty = true;
                let changed = self
                    .mail()?
                    .store_flags(mailbox, &unseen, FlagChange::Add, &seen, None)
                    .await?;
                let mut changed: HashMap<u32, MessageMeta> =
                    changed.into_iter().map(|m| (m.uid, m)).collect();
                for target in &mut targets {
                    if let Some(meta) = changed.remove(&target.1.uid) {
                        target.1 = meta;
                    }
                }
            }
        }
        for (seq, meta) in &targets {
            let raw = if plan.needs_body {
                match self.mail()?.raw(meta).await {
                    Ok(raw) => raw,
                    Err(e) => {
                        tracing::warn!(error = %e, uid = meta.uid, "message bytes missing");
                        continue;
                    }
                }
            } else {
                bytes::Bytes::new()
            };
            plan.render(&mut self.output, *seq, meta, &raw);
            if self.output.len() >= FLUSH_AT {
                self.flush(stream).await?;
            }
        }
        if let Some(selected) = &self.selected {
            let uids: Vec<u32> = targets.iter().map(|(_, m)| m.uid).collect();
            // Reading a message, or only what is known about it.
            let action = if plan.needs_body { "read" } else { "fetch" };
            let (delegation, id) = (selected.delegation.as_ref(), selected.mailbox.id);
            self.record(delegation, id, action, &uids).await;
        }
        Ok(Reply::ok("FETCH completed"))
    }

    async fn store(
        &mut self,
        set: &SequenceSet,
        kind: StoreType,
        response: StoreResponse,
        flags: &[Flag<'_>],
        uid: bool,
        unchanged_since: Option<u64>,
    ) -> Result<Reply> {
        self.condstore |= unchanged_since.is_some();
        if self.selected.as_ref().is_some_and(|s| s.read_only) {
            return Ok(Reply::no("[READ-ONLY] Mailbox is read-only"));
        }
        let Ok(flags) = flags_of(flags) else {
            return Ok(Reply::bad("Invalid flags"));
        };
        let targets = match self.targets(set, uid).await? {
            Ok(targets) => targets,
            Err(reply) => return Ok(reply),
        };
        let Some(mailbox) = targets.first().map(|(_, m)| m.mailbox) else {
            return Ok(Reply::ok("STORE completed"));
        };
        let change = match kind {
            StoreType::Replace => FlagChange::Replace,
            StoreType::Add => FlagChange::Add,
            StoreType::Remove => FlagChange::Remove,
        };
        let uids: Vec<u32> = targets.iter().map(|(_, m)| m.uid).collect();
        let changed = self
            .mail()?
            .store_flags(mailbox, &uids, change, &flags, unchanged_since)
            .await?;
        if let Some(selected) = &self.selected {
            let uids: Vec<u32> = changed.iter().map(|m| m.uid).collect();
            self.record(selected.delegation.as_ref(), mailbox, "flags", &uids)
                .await;
        }
        // RFC 7162 §3.1.3: those changed since UNCHANGEDSINCE are left alone.
        let modified: Vec<String> = targets
            .iter()
            .filter(|(_, m)| unchanged_since.is_some_and(|since| m.modseq > since))
            .map(|(seq, m)| if uid { m.uid } else { *seq }.to_string())
            .collect();
        let mut changed: HashMap<u32, MessageMeta> =
            changed.into_iter().map(|m| (m.uid, m)).collect();
        let condstore = self.condstore;
        for (seq, meta) in targets {
            if unchanged_since.is_some_and(|since| meta.modseq > since) {
                continue;
            }
            let meta = changed.remove(&meta.uid).unwrap_or(meta);
            if let Some(selected) = &mut self.selected {
                selected.reported.insert(meta.uid, meta.modseq);
            }
            // RFC 7162 §3.1.3: with UNCHANGEDSINCE, also when .SILENT.
            if response == StoreResponse::Answer || unchanged_since.is_some() {
                let mut line = format!("* {seq} FETCH (FLAGS ").into_bytes();
                fetch::flag_list(&mut line, &meta);
                if uid {
                    line.extend_from_slice(format!(" UID {}", meta.uid).as_bytes());
                }
                if condstore {
                    line.extend_from_slice(format!(" MODSEQ ({})", meta.modseq.max(1)).as_bytes());
                }
                line.extend_from_slice(b")\r\n");
                self.output.extend_from_slice(&line);
            }
        }
        if modified.is_empty() {
            Ok(Reply::ok("STORE completed"))
        } else {
            Ok(Reply::ok(format!(
                "[MODIFIED {}] Conditional STORE failed for some",
                modified.join(",")
            )))
        }
    }

    /// Whether an update must read the selected mailbox: it changed (a
    /// notice says so, or this session changed it), expunges wait to be
    /// told, or it was not read for `SYNC_AT_LEAST`.
    fn sync_due(&mut self, expunges_allowed: bool) -> bool {
        let Some(selected) = &self.selected else {
            return false;
        };
        let mut due = self.dirty
            || self.synced_at.elapsed() >= SYNC_AT_LEAST
            || (expunges_allowed && !selected.vanished.is_empty());
        let Some(watch) = &mut self.watch else {
            return true;
        };
        loop {
            match watch.try_recv() {
                Ok(change) => due |= change.mailbox == selected.mailbox.id,
                Err(broadcast::error::TryRecvError::Empty) => break,
                // Missed notices, or no store: look.
                Err(_) => {
                    due = true;
                    break;
                }
            }
        }
        due
    }

    /// Whether the grant behind the selected mailbox, if it is another
    /// account's, still holds as it did at SELECT (asked again now).
    async fn grant_holds(&self) -> Result<bool> {
        let Some(selected) = &self.selected else {
            return Ok(true);
        };
        let Some(granted) = &selected.delegation else {
            return Ok(true);
        };
        let now = self.delegation(granted.namespace(), &granted.label).await?;
        Ok(now
            .is_some_and(|now| now.account == granted.account && (now.write || selected.read_only)))
    }

    /// Ends the session when the grant behind the selected mailbox was
    /// withdrawn; whether it was.
    async fn withdrawn(&mut self) -> Result<bool> {
        if self.grant_holds().await? {
            return Ok(false);
        }
        self.selected = None;
        self.line("* BYE Your access to this mailbox was withdrawn");
        self.logout = true;
        Ok(true)
    }

    /// Tells the client what changed in the selected mailbox since it
    /// last heard: new messages (EXISTS), flags (FETCH) and, where
    /// allowed, expunges (EXPUNGE).
    async fn sync(&mut self, expunges_allowed: bool) -> Result<()> {
        if self.withdrawn().await? || !self.sync_due(expunges_allowed) {
            return Ok(());
        }
        (self.dirty, self.synced_at) = (false, tokio::time::Instant::now());
        let (condstore, qresync) = (self.condstore, self.qresync);
        let (Some(selected), Some(user)) = (&mut self.selected, &self.user) else {
            return Ok(());
        };
        let info = user.mail.mailbox(selected.mailbox.id).await?;
        let mut out = Vec::new();
        if info.highest_modseq != selected.modseq {
            let changes = user
                .mail
                .changes_since(selected.mailbox.id, selected.modseq)
                .await?;
            selected.modseq = info.highest_modseq;
            let known: BTreeSet<u32> = selected.uids.iter().copied().collect();
            selected
                .vanished
                .extend(changes.vanished.iter().filter(|u| known.contains(u)));
            let last = selected.uids.last().copied().unwrap_or(0);
            let gone: BTreeSet<u32> = changes.vanished.iter().copied().collect();
            let mut new: Vec<u32> = changes
                .changed
                .iter()
                .map(|m| m.uid)
                .filter(|u| *u > last && !gone.contains(u))
                .collect();
            new.sort_unstable();
            new.dedup();
            for meta in &changes.changed {
                if meta.uid > last || selected.vanished.contains(&meta.uid) {
                    continue;
                }
                if selected.reported.get(&meta.uid) == Some(&meta.modseq) {
                    continue;
                }
                if let Ok(index) = selected.uids.binary_search(&meta.uid) {
                    out.extend_from_slice(format!("* {} FETCH (FLAGS ", index + 1).as_bytes());
                    fetch::flag_list(&mut out, meta);
                    out.extend_from_slice(format!(" UID {}", meta.uid).as_bytes());
                    if condstore {
                        out.extend_from_slice(
                            format!(" MODSEQ ({})", meta.modseq.max(1)).as_bytes(),
                        );
                    }
                    out.extend_from_slice(b")\r\n");
                }
            }
            if !new.is_empty() {
                selected.uids.extend(new);
                out.extend_from_slice(format!("* {} EXISTS\r\n", selected.uids.len()).as_bytes());
            }
        }
        if expunges_allowed {
            let mut gone = Vec::new();
            for uid in std::mem::take(&mut selected.vanished) {
                if let Ok(index) = selected.uids.binary_search(&uid) {
                    selected.uids.remove(index);
                    gone.push(uid);
                    if !qresync {
                        out.extend_from_slice(format!("* {} EXPUNGE\r\n", index + 1).as_bytes());
                    }
                }
            }
            // RFC 7162 §3.2.10: with QRESYNC, VANISHED instead of EXPUNGE.
            if qresync && !gone.is_empty() {
                let line = format!("* VANISHED {}\r\n", sequence::compact(&gone));
                out.extend_from_slice(line.as_bytes());
            }
        }
        selected.reported.clear();
        selected.mailbox = info;
        self.output.extend_from_slice(&out);
        Ok(())
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

/// One mailbox in a LIST response.
struct ListEntry {
    name: String,
    attributes: Vec<&'static str>,
    subscribed: bool,
    found: Option<Found>,
}

impl ListEntry {
    /// A folder holding others' mailboxes, not a mailbox itself.
    fn parent(name: &str) -> Self {
        ListEntry {
            name: name.to_owned(),
            attributes: NOSELECT_PARENT.to_vec(),
            subscribed: true,
            found: None,
        }
    }
}

/// The special-use attribute of a role (RFC 6154 §2).
fn special_use(role: Role) -> Option<&'static str> {
    match role {
        Role::Sent => Some("\\Sent"),
        Role::Drafts => Some("\\Drafts"),
        Role::Trash => Some("\\Trash"),
        Role::Junk => Some("\\Junk"),
        Role::Archive => Some("\\Archive"),
        Role::Inbox => None,
    }
}

/// A STATUS item named in LIST-STATUS.
fn status_item(name: &str) -> Option<StatusDataItemName> {
    Some(match name {
        "MESSAGES" => StatusDataItemName::Messages,
        "RECENT" => StatusDataItemName::Recent,
        "UIDNEXT" => StatusDataItemName::UidNext,
        "UIDVALIDITY" => StatusDataItemName::UidValidity,
        "UNSEEN" => StatusDataItemName::Unseen,
        "DELETED" => StatusDataItemName::Deleted,
        "SIZE" => StatusDataItemName::Size,
        "DELETED-STORAGE" => StatusDataItemName::DeletedStorage,
        "HIGHESTMODSEQ" => StatusDataItemName::HighestModSeq,
        _ => return None,
    })
}

/// `\HasChildren` if a mailbox of `boxes` lies below `name`.
fn children(boxes: &[MailboxInfo], name: &str) -> &'static str {
    let prefix = format!("{name}{DELIMITER}");
    if boxes.iter().any(|b| b.name.starts_with(&prefix)) {
        "\\HasChildren"
    } else {
        "\\HasNoChildren"
    }
}

/// The store's flags of a command's flag list.
fn flags_of(flags: &[Flag<'_>]) -> Result<Flags> {
    let names: Vec<String> = flags.iter().map(ToString::to_string).collect();
    Flags::new(names.iter().map(String::as_str))
}

/// Whether `name` matches a LIST pattern: `*` matches anything, `%`
/// anything but the hierarchy delimiter (RFC 9051 §6.3.9). Linear in
/// both lengths times each other, so hostile patterns stay cheap.
fn wildcard(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    // reachable[j]: the pattern so far can match the first j chars of name.
    let mut reachable = vec![false; name.len() + 1];
    if let Some(first) = reachable.first_mut() {
        *first = true;
    }
    for &p in &pattern {
        let mut next = vec![false; name.len() + 1];
        match p {
            '*' | '%' => {
                // `*`: some earlier point matched; `%`: and no delimiter since.
                let mut on = false;
                for (j, slot) in next.iter_mut().enumerate() {
                    if p == '%' && j > 0 && name.get(j - 1) == Some(&DELIMITER) {
                        on = false;
                    }
                    if reachable.get(j).copied().unwrap_or(false) {
                        on = true;
                    }
                    *slot = on;
                }
            }
            c => {
                for j in 1..=name.len() {
                    let matched = reachable.get(j - 1).copied().unwrap_or(false)
                        && name.get(j - 1) == Some(&c);
                    if let Some(slot) = next.get_mut(j) {
                        *slot = matched;
                    }
                }
            }
        }
        reachable = next;
    }
    reachable.last().copied().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn list_patterns() {
        assert!(wildcard("*", "INBOX"));
        assert!(wildcard("*", "a/b/c"));
        assert!(wildcard("%", "Sent"));
        assert!(!wildcard("%", "a/b"));
        assert!(wildcard("a/%", "a/b"));
        assert!(!wildcard("a/%", "a/b/c"));
        assert!(wildcard("a/*", "a/b/c"));
        assert!(wildcard("S%t", "Sent"));
        assert!(!wildcard("Sent", "Sent/x"));
        assert!(wildcard("%/%", "a/b"));
        assert!(!wildcard("x*", "Sent"));
    }
}
