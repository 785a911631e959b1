//! One SMTP session: the dialogue of RFC 5321 with the extensions we
//! announce (PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES,
//! STARTTLS, AUTH), over a plain or a TLS stream.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use guss_core::{
    Action, Context, Credentials, EmailAddress, Principal, Resource, ResourceKind, Scope,
};
use smtp_proto::request::receiver::{DataReceiver, DummyDataReceiver, RequestReceiver};
use smtp_proto::{AUTH_LOGIN, AUTH_PLAIN, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Listener, Smtp};
use crate::routing::Route;
use crate::store::{Account, Role};
use crate::{Error, Result};

/// Largest read from the socket at once.
const READ_CHUNK: usize = 64 * 1024;
/// Longest command line.
const MAX_COMMAND_LINE: usize = 4096;
/// Longest AUTH continuation line.
const MAX_AUTH_LINE: usize = 4096;

/// Tells a client the server is busy and closes.
pub(super) async fn refuse_busy(mut stream: TcpStream, hostname: String) {
    let reply = format!("421 4.3.2 {hostname} too busy, try again later\r\n");
    let _ = stream.write_all(reply.as_bytes()).await;
}

/// Runs a session to its end.
pub(super) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    smtp: Smtp,
    stream: S,
    peer: SocketAddr,
    kind: Listener,
) -> Result<()> {
    let mut session = Session::new(smtp, peer, kind);
    if kind == Listener::SubmissionTls {
        let Some(acceptor) = session.smtp.inner.tls.clone() else {
            return Err(Error::invalid("listener", "port 465 needs a certificate"));
        };
        let tls = acceptor.accept(stream).await.map_err(io)?;
        session.tls = true;
        session.greet(tls).await.map(|_| ())
    } else {
        match session.greet(stream).await? {
            Some(plain) => {
                let Some(acceptor) = session.smtp.inner.tls.clone() else {
                    return Ok(());
                };
                let tls = acceptor.accept(plain).await.map_err(io)?;
                session.restart_after_tls();
                session.serve(tls).await.map(|_| ())
            }
            None => Ok(()),
        }
    }
}

fn io(e: std::io::Error) -> Error {
    Error::Backend(format!("connection: {e}"))
}

/// The envelope being built.
#[derive(Default)]
struct Envelope {
    from: Option<String>,
    recipients: Vec<(String, Route)>,
}

/// What the session waits for.
enum Mode {
    Command,
    Data(DataReceiver),
    /// A message over the size limit: swallowed until its end, then refused.
    Discard(DummyDataReceiver),
    /// The rest of an overlong line, dropped.
    SkipLine,
    AuthPlain,
    AuthLoginUser,
    AuthLoginPassword(String),
}

struct Session {
    smtp: Smtp,
    peer: SocketAddr,
    kind: Listener,
    tls: bool,
    helo: Option<String>,
    principal: Option<(Principal, String)>,
    envelope: Envelope,
    mode: Mode,
    input: Vec<u8>,
    output: Vec<u8>,
    body: Vec<u8>,
    requests: RequestReceiver,
    errors: u32,
    auth_failures: u32,
    quit: bool,
}

enum Step {
    Continue,
    StartTls,
}

impl Session {
    fn new(smtp: Smtp, peer: SocketAddr, kind: Listener) -> Self {
        Session {
            smtp,
            peer,
            kind,
            tls: false,
            helo: None,
            principal: None,
            envelope: Envelope::default(),
            mode: Mode::Command,
            input: Vec::new(),
            output: Vec::new(),
            body: Vec::new(),
            requests: RequestReceiver::default(),
            errors: 0,
            auth_failures: 0,
            quit: false,
        }
    }

    fn config(&self) -> &super::SmtpConfig {
        &self.smtp.inner.config
    }

    /// Forgets everything said before STARTTLS (RFC 3207 §4.2).
    fn restart_after_tls(&mut self) {
        self.tls = true;
        self.helo = None;
        self.principal = None;
        self.envelope = Envelope::default();
        self.mode = Mode::Command;
        self.input.clear();
        self.requests = RequestReceiver::default();
    }

    async fn greet<S: AsyncRead + AsyncWrite + Unpin>(&mut self, stream: S) -> Result<Option<S>> {
        let greeting = format!("220 {} ESMTP guss\r\n", self.config().hostname);
        self.output.extend_from_slice(greeting.as_bytes());
        self.serve(stream).await
    }

    /// Serves commands until QUIT, an error, or STARTTLS (the plain stream
    /// is handed back to be wrapped).
    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        mut stream: S,
    ) -> Result<Option<S>> {
        let mut chunk = vec![0u8; READ_CHUNK];
        loop {
            // Answer everything that is complete in the input first
            // (PIPELINING), then flush, then read more.
            loop {
                match self.step().await? {
                    Some(Step::StartTls) => {
                        stream
                            .write_all(&std::mem::take(&mut self.output))
                            .await
                            .map_err(io)?;
                        stream.flush().await.map_err(io)?;
                        if !self.input.is_empty() {
                            // Commands pipelined after STARTTLS would be
                            // injected into the TLS session (CVE-2011-0411).
                            return Err(Error::invalid("STARTTLS", "data after the command"));
                        }
                        return Ok(Some(stream));
                    }
                    Some(Step::Continue) => {}
                    None => break,
                }
                if self.quit {
                    break;
                }
            }
            if !self.output.is_empty() {
                stream
                    .write_all(&std::mem::take(&mut self.output))
                    .await
                    .map_err(io)?;
                stream.flush().await.map_err(io)?;
            }
            if self.quit || self.errors >= self.config().max_errors {
                let _ = stream.shutdown().await;
                return Ok(None);
            }
            let timeout = match self.mode {
                Mode::Data(_) | Mode::Discard(_) => self.config().data_timeout,
                _ => self.config().command_timeout,
            };
            let read = tokio::time::timeout(timeout, stream.read(&mut chunk)).await;
            match read {
                Ok(Ok(0)) => return Ok(None),
                Ok(Ok(n)) => self
                    .input
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Ok(Err(e)) => return Err(io(e)),
                Err(_) => {
                    let reply =
                        format!("421 4.4.2 {} timeout, closing\r\n", self.config().hostname);
                    let _ = stream.write_all(reply.as_bytes()).await;
                    return Ok(None);
                }
            }
        }
    }

    fn reply(&mut self, text: &str) {
        self.output.extend_from_slice(text.as_bytes());
        self.output.extend_from_slice(b"\r\n");
    }

    fn error(&mut self, text: &str) {
        self.errors += 1;
        self.reply(text);
    }

    /// Handles the next complete unit of input; `None` when more is needed.
    async fn step(&mut self) -> Result<Option<Step>> {
        if self.input.is_empty() {
            return Ok(None);
        }
        match std::mem::replace(&mut self.mode, Mode::Command) {
            Mode::Command => {
                // RFC 5321 §4.5.3.1.4 allows 512 bytes; parameters and
                // long AUTH responses get more, but never unbounded.
                match self.input.iter().position(|&b| b == b'\n') {
                    Some(end) if end >= MAX_COMMAND_LINE => {
                        self.input.drain(..=end);
                        self.error("500 5.5.6 Line too long");
                        return Ok(Some(Step::Continue));
                    }
                    None if self.input.len() >= MAX_COMMAND_LINE => {
                        self.input.clear();
                        self.mode = Mode::SkipLine;
                        self.error("500 5.5.6 Line too long");
                        return Ok(Some(Step::Continue));
                    }
                    _ => {}
                }
                let mut bytes = self.input.iter();
                let parsed = self.requests.ingest(&mut bytes).map(Request::into_owned);
                let consumed = self.input.len() - bytes.as_slice().len();
                self.input.drain(..consumed);
                match parsed {
                    Ok(request) => self.command(request).await,
                    Err(smtp_proto::Error::NeedsMoreData { .. }) => Ok(None),
                    Err(e) => {
                        self.syntax_error(e);
                        Ok(Some(Step::Continue))
                    }
                }
            }
            Mode::Data(mut receiver) => {
                let mut bytes = self.input.iter();
                let done = receiver.ingest(&mut bytes, &mut self.body);
                let consumed = self.input.len() - bytes.as_slice().len();
                self.input.drain(..consumed);
                if done && self.body.len() > self.config().max_message_size {
                    self.body = Vec::new();
                    self.too_big();
                    Ok(Some(Step::Continue))
                } else if done {
                    let body = std::mem::take(&mut self.body);
                    self.message(body).await?;
                    Ok(Some(Step::Continue))
                } else if self.body.len() > self.config().max_message_size {
                    self.body = Vec::new();
                    self.mode = Mode::Discard(DummyDataReceiver::new_data(&receiver));
                    Ok(Some(Step::Continue))
                } else {
                    self.mode = Mode::Data(receiver);
                    Ok(None)
                }
            }
            Mode::Discard(mut receiver) => {
                let mut bytes = self.input.iter();
                let done = receiver.ingest(&mut bytes);
                let consumed = self.input.len() - bytes.as_slice().len();
                self.input.drain(..consumed);
                if done {
                    self.too_big();
                    Ok(Some(Step::Continue))
                } else {
                    self.mode = Mode::Discard(receiver);
                    Ok(None)
                }
            }
            Mode::SkipLine => {
                match self.input.iter().position(|&b| b == b'\n') {
                    Some(end) => {
                        self.input.drain(..=end);
                    }
                    None => {
                        self.input.clear();
                        self.mode = Mode::SkipLine;
                    }
                }
                Ok(Some(Step::Continue))
            }
            mode @ (Mode::AuthPlain | Mode::AuthLoginUser | Mode::AuthLoginPassword(_)) => {
                let Some(end) = self.input.iter().position(|&b| b == b'\n') else {
                    if self.input.len() > MAX_AUTH_LINE {
                        self.input.clear();
                        self.error("500 5.5.6 Authentication line too long");
                    } else {
                        self.mode = mode;
                    }
                    return Ok(None);
                };
                let line: Vec<u8> = self.input.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line).trim().to_owned();
                self.auth_continue(mode, &line).await?;
                Ok(Some(Step::Continue))
            }
        }
    }

    fn too_big(&mut self) {
        self.envelope = Envelope::default();
        let limit = self.config().max_message_size;
        self.error(&format!(
            "552 5.3.4 Message too big: the limit is {limit} bytes"
        ));
    }

    fn syntax_error(&mut self, e: smtp_proto::Error) {
        let text = match e {
            smtp_proto::Error::UnknownCommand => "500 5.5.1 Command unknown".to_owned(),
            smtp_proto::Error::InvalidSenderAddress => {
                "501 5.1.7 Bad sender address syntax".to_owned()
            }
            smtp_proto::Error::InvalidRecipientAddress => {
                "501 5.1.3 Bad recipient address syntax".to_owned()
            }
            smtp_proto::Error::SyntaxError { syntax } => format!("501 5.5.2 Syntax: {syntax}"),
            smtp_proto::Error::InvalidParameter { param } => {
                format!("501 5.5.4 Invalid parameter {param}")
            }
            smtp_proto::Error::UnsupportedParameter { param } => {
                format!(
                    "504 5.5.4 Unsupported parameter {}",
                    param.chars().take(64).collect::<String>()
                )
            }
            smtp_proto::Error::ResponseTooLong => "500 5.5.6 Line too long".to_owned(),
            _ => "500 5.5.2 Syntax error".to_owned(),
        };
        self.error(&text);
    }

    fn auth_offered(&self) -> bool {
        self.kind.submission()
            && (self.tls
                || (self.config().allow_plain_auth_on_loopback && self.peer.ip().is_loopback()))
    }

    async fn command(&mut self, request: Request<String>) -> Result<Option<Step>> {
        match request {
            Request::Ehlo { host } => {
                self.helo = Some(host);
                self.envelope = Envelope::default();
                let mut text = format!(
                    "250-{} greets {}\r\n",
                    self.config().hostname,
                    self.peer.ip()
                );
                let mut lines = vec![
                    "PIPELINING".to_owned(),
                    format!("SIZE {}", self.config().max_message_size),
                    "8BITMIME".to_owned(),
                    "SMTPUTF8".to_owned(),
                    "ENHANCEDSTATUSCODES".to_owned(),
                ];
                if !self.tls && self.smtp.inner.tls.is_some() {
                    lines.push("STARTTLS".to_owned());
                }
                if self.auth_offered() && self.principal.is_none() {
                    lines.push("AUTH PLAIN LOGIN".to_owned());
                }
                for (i, line) in lines.iter().enumerate() {
                    let sep = if i + 1 == lines.len() { ' ' } else { '-' };
                    let _ = write!(text, "250{sep}{line}\r\n");
                }
                self.output.extend_from_slice(text.as_bytes());
            }
            Request::Helo { host } => {
                self.helo = Some(host);
                self.envelope = Envelope::default();
                let text = format!("250 {}", self.config().hostname);
                self.reply(&text);
            }
            Request::Lhlo { .. } => self.error("500 5.5.1 This is not an LMTP server"),
            Request::StartTls => {
                if self.tls || self.smtp.inner.tls.is_none() {
                    self.error("502 5.5.1 TLS not available");
                } else {
                    self.reply("220 2.0.0 Ready to start TLS");
                    return Ok(Some(Step::StartTls));
                }
            }
            Request::Auth {
                mechanism,
                initial_response,
            } => self.auth(mechanism, initial_response).await?,
            Request::Mail { from } => self.mail_from(from).await?,
            Request::Rcpt { to } => self.rcpt_to(to).await?,
            Request::Data => {
                if self.envelope.from.is_none() {
                    self.error("503 5.5.1 MAIL first");
                } else if self.envelope.recipients.is_empty() {
                    self.error("554 5.5.1 No valid recipients");
                } else {
                    self.body = Vec::new();
                    self.mode = Mode::Data(DataReceiver::new());
                    self.reply("354 Start mail input; end with <CRLF>.<CRLF>");
                }
            }
            Request::Bdat { .. } => self.error("502 5.5.1 CHUNKING is not offered"),
            Request::Rset => {
                self.envelope = Envelope::default();
                self.reply("250 2.0.0 Reset");
            }
            Request::Noop { .. } => self.reply("250 2.0.0 OK"),
            Request::Quit => {
                let text = format!("221 2.0.0 {} closing", self.config().hostname);
                self.reply(&text);
                self.quit = true;
            }
            Request::Vrfy { .. } => self.reply("252 2.5.2 Cannot verify, but will try delivery"),
            Request::Help { .. } => self.reply("214 2.0.0 See RFC 5321"),
            Request::Expn { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => {
                self.error("502 5.5.1 Command not implemented");
            }
        }
        Ok(Some(Step::Continue))
    }

    async fn auth(&mut self, mechanism: u64, initial: String) -> Result<()> {
        if !self.kind.submission() {
            self.error("503 5.5.1 AUTH is for submission");
        } else if !self.auth_offered() {
            self.error("538 5.7.11 Encryption required: use STARTTLS first");
        } else if self.principal.is_some() {
            self.error("503 5.5.1 Already authenticated");
        } else if self.helo.is_none() {
            self.error("503 5.5.1 EHLO first");
        } else if mechanism == AUTH_PLAIN {
            if initial.is_empty() {
                self.reply("334 ");
                self.mode = Mode::AuthPlain;
            } else {
                self.auth_plain(&initial).await?;
            }
        } else if mechanism == AUTH_LOGIN {
            if initial.is_empty() {
                self.reply("334 VXNlcm5hbWU6");
                self.mode = Mode::AuthLoginUser;
            } else {
                self.auth_continue(Mode::AuthLoginUser, &initial).await?;
            }
        } else {
            self.error("504 5.5.4 Mechanism not supported: use PLAIN or LOGIN");
        }
        Ok(())
    }

    async fn auth_continue(&mut self, mode: Mode, line: &str) -> Result<()> {
        if line == "*" {
            self.error("501 5.0.0 Authentication cancelled");
            return Ok(());
        }
        match mode {
            Mode::AuthPlain => self.auth_plain(line).await,
            Mode::AuthLoginUser => match decode(line) {
                Some(user) => {
                    self.reply("334 UGFzc3dvcmQ6");
                    self.mode = Mode::AuthLoginPassword(user);
                    Ok(())
                }
                None => {
                    self.error("501 5.5.2 Not base64");
                    Ok(())
                }
            },
            Mode::AuthLoginPassword(user) => match decode(line) {
                Some(password) => self.login(&user, &password).await,
                None => {
                    self.error("501 5.5.2 Not base64");
                    Ok(())
                }
            },
            _ => Ok(()),
        }
    }

    async fn auth_plain(&mut self, encoded: &str) -> Result<()> {
        let Some(decoded) = decode(encoded) else {
            self.error("501 5.5.2 Not base64");
            return Ok(());
        };
        // authzid NUL authcid NUL password (RFC 4616); an authzid other
        // than the user itself is not offered.
        let mut parts = decoded.split('\0');
        let (Some(authzid), Some(user), Some(password), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            self.error("501 5.5.2 Malformed PLAIN response");
            return Ok(());
        };
        if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(user) {
            self.error("535 5.7.8 Authorization identity not permitted");
            return Ok(());
        }
        self.login(user, password).await
    }

    async fn login(&mut self, user: &str, password: &str) -> Result<()> {
        let principal = match user.parse::<EmailAddress>() {
            Ok(address) => match self
                .smtp
                .inner
                .router
                .tenant_for_domain(address.domain())
                .await?
            {
                Some(tenant) => self
                    .smtp
                    .inner
                    .authenticator
                    .authenticate(tenant, &Credentials::basic(user, password), Scope::Mail)
                    .await
                    .ok(),
                None => None,
            },
            Err(_) => None,
        };
        match principal {
            Some(principal) => {
                self.principal = Some((principal, user.to_ascii_lowercase()));
                self.reply("235 2.7.0 Authentication successful");
            }
            None => {
                self.auth_failures += 1;
                // Slow down guessing.
                tokio::time::sleep(std::time::Duration::from_millis(
                    200 * u64::from(self.auth_failures),
                ))
                .await;
                self.error("535 5.7.8 Authentication credentials invalid");
                if self.auth_failures >= self.config().max_auth_failures {
                    self.errors = self.config().max_errors;
                }
            }
        }
        Ok(())
    }

    async fn mail_from(&mut self, from: smtp_proto::MailFrom<String>) -> Result<()> {
        if self.helo.is_none() {
            self.error("503 5.5.1 EHLO or HELO first");
            return Ok(());
        }
        if self.envelope.from.is_some() {
            self.error("503 5.5.1 Sender already given");
            return Ok(());
        }
        if from.size > self.config().max_message_size {
            let limit = self.config().max_message_size;
            self.error(&format!(
                "552 5.3.4 Message too big: the limit is {limit} bytes"
            ));
            return Ok(());
        }
        let address = from.address.to_ascii_lowercase();
        if self.kind.submission() {
            let Some((principal, _)) = self.principal.clone() else {
                self.error("530 5.7.0 Authentication required");
                return Ok(());
            };
            if !self.may_send_as(&principal, &address).await? {
                self.error(&format!("553 5.7.1 You may not send as <{address}>"));
                return Ok(());
            }
        }
        self.envelope.from = Some(address);
        self.reply("250 2.1.0 Sender OK");
        Ok(())
    }

    async fn rcpt_to(&mut self, to: smtp_proto::RcptTo<String>) -> Result<()> {
        if self.envelope.from.is_none() {
            self.error("503 5.5.1 MAIL first");
            return Ok(());
        }
        if self.envelope.recipients.len() >= self.config().max_recipients {
            self.reply("452 4.5.3 Too many recipients");
            return Ok(());
        }
        let Ok(address) = to.address.parse::<EmailAddress>() else {
            self.error("501 5.1.3 Bad recipient address syntax");
            return Ok(());
        };
        let route = match self.smtp.inner.router.route(&address).await {
            Ok(route) => route,
            Err(e) => {
                tracing::warn!(error = %e, "recipient lookup failed");
                self.reply("451 4.3.0 Temporary lookup failure, try again later");
                return Ok(());
            }
        };
        match (&route, self.kind.submission()) {
            (Route::Unknown, _) => {
                self.error(&format!("550 5.1.1 <{address}>: no such recipient here"));
            }
            (Route::Remote, false) => {
                self.error(
                    "550 5.7.1 Relaying denied: this server only takes mail for its own domains",
                );
            }
            _ => {
                self.envelope
                    .recipients
                    .push((address.as_str().to_owned(), route));
                self.reply("250 2.1.5 Recipient OK");
            }
        }
        Ok(())
    }

    /// Whether `principal` may use `address` as sender: their own
    /// addresses always, others' when the authorizer allows `send_as`.
    async fn may_send_as(&self, principal: &Principal, address: &str) -> Result<bool> {
        let Principal::Person { tenant, person } = principal else {
            return Ok(false);
        };
        let Ok(parsed) = address.parse::<EmailAddress>() else {
            return Ok(false);
        };
        let route = self.smtp.inner.router.route(&parsed).await?;
        let Route::Local {
            tenant: owner_tenant,
            accounts,
        } = route
        else {
            return Ok(false);
        };
        if owner_tenant != *tenant {
            return Ok(false);
        }
        if accounts == [Account::Person(*person)] {
            return Ok(true);
        }
        for account in &accounts {
            let resource = Resource::new(*tenant, ResourceKind::MAILBOX, account.key())?;
            let allowed = self
                .smtp
                .inner
                .authorizer
                .authorize(
                    principal,
                    &Action::new("send_as")?,
                    &resource,
                    &Context::new(),
                )
                .await
                .is_allowed();
            if !allowed {
                return Ok(false);
            }
        }
        Ok(accounts.len() == 1)
    }

    /// A complete message: checked, then made durable, then acknowledged.
    async fn message(&mut self, body: Vec<u8>) -> Result<()> {
        let envelope = std::mem::take(&mut self.envelope);
        let Some(from) = envelope.from else {
            return Ok(());
        };
        let helo = self.helo.clone().unwrap_or_default();
        let outcome = if self.kind.submission() {
            let Some((principal, user)) = self.principal.clone() else {
                self.error("530 5.7.0 Authentication required");
                return Ok(());
            };
            // Every From address must be one the person may use, too.
            let summary_from = crate::message::from_addresses(&body);
            for address in &summary_from {
                if !self.may_send_as(&principal, address).await? {
                    self.error(&format!(
                        "550 5.7.1 From: <{address}> is not an address you may send as"
                    ));
                    return Ok(());
                }
            }
            // RFC 3848: ESMTPSA is authenticated and encrypted, ESMTPA only authenticated.
            let with = if self.tls { "ESMTPSA" } else { "ESMTPA" };
            let received = self.received(&helo, with, &envelope.recipients, Some(&user));
            self.smtp
                .inner
                .sending
                .submit(
                    &self.smtp.inner.queue,
                    &principal,
                    &from,
                    &envelope.recipients,
                    received,
                    body,
                )
                .await
        } else {
            let body = crate::inbound::strip_forged_results(&body, &self.config().hostname);
            let verdict = self
                .smtp
                .inner
                .checks
                .check(&body, self.peer.ip(), &helo, &from, &self.config().hostname)
                .await;
            if let Some(reject) = verdict.reject {
                self.error(&reject);
                return Ok(());
            }
            let received = self.received(
                &helo,
                if self.tls { "ESMTPS" } else { "ESMTP" },
                &envelope.recipients,
                None,
            );
            let role = if verdict.junk {
                Role::Junk
            } else {
                Role::Inbox
            };
            deliver_inbound(
                &self.smtp,
                &from,
                &envelope.recipients,
                role,
                &received,
                &verdict.header,
                body,
            )
            .await
        };
        match outcome {
            Ok(id) => self.reply(&format!("250 2.0.0 Ok: queued as {id}")),
            Err(Error::LimitExceeded { what, limit }) => {
                self.error(&format!("552 5.3.4 {what} exceeds the limit of {limit}"));
            }
            Err(Error::Invalid { why, .. }) => self.error(&format!("554 5.6.0 {why}")),
            Err(e) => {
                tracing::warn!(error = %e, "message not stored");
                self.reply("451 4.3.0 Message not stored: temporary failure, try again later");
            }
        }
        Ok(())
    }

    fn received(
        &self,
        helo: &str,
        with: &str,
        recipients: &[(String, Route)],
        user: Option<&str>,
    ) -> String {
        let ip = self.peer.ip();
        let literal = match ip {
            IpAddr::V4(v4) => format!("[{v4}]"),
            IpAddr::V6(v6) => format!("[IPv6:{v6}]"),
        };
        let helo: String = helo
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(255)
            .collect();
        let mut text = format!(
            "Received: from {helo} ({literal})\r\n\tby {} (guss) with {with}",
            self.config().hostname
        );
        if let Some(user) = user {
            let _ = write!(text, " (authenticated as {user})");
        }
        if let [(only, _)] = recipients {
            let _ = write!(text, "\r\n\tfor <{only}>");
        }
        let _ = write!(text, ";\r\n\t{}\r\n", chrono::Utc::now().to_rfc2822());
        text
    }
}

fn decode(text: &str) -> Option<String> {
    let bytes = BASE64.decode(text.trim()).ok()?;
    String::from_utf8(bytes).ok()
}

/// Delivers an inbound message to every local recipient; an id for the reply.
async fn deliver_inbound(
    smtp: &Smtp,
    from: &str,
    recipients: &[(String, Route)],
    role: Role,
    received: &str,
    authentication_results: &str,
    body: Vec<u8>,
) -> Result<String> {
    let mut by_tenant: Vec<(guss_core::TenantId, Vec<(Account, Role)>)> = Vec::new();
    for (_, route) in recipients {
        if let Route::Local { tenant, accounts } = route {
            let slot = match by_tenant.iter().position(|(t, _)| t == tenant) {
                Some(i) => i,
                None => {
                    by_tenant.push((*tenant, Vec::new()));
                    by_tenant.len() - 1
                }
            };
            if let Some((_, to)) = by_tenant.get_mut(slot) {
                for account in accounts {
                    if !to.iter().any(|(a, _)| a == account) {
                        to.push((account.clone(), role));
                    }
                }
            }
        }
    }
    let mut raw = Vec::with_capacity(body.len() + 512);
    raw.extend_from_slice(format!("Return-Path: <{from}>\r\n").as_bytes());
    raw.extend_from_slice(authentication_results.as_bytes());
    raw.extend_from_slice(received.as_bytes());
    raw.extend_from_slice(&body);
    let raw = bytes::Bytes::from(raw);
    let id = uuid::Uuid::now_v7().simple().to_string();
    for (tenant, to) in by_tenant {
        smtp.inner
            .store
            .tenant(tenant)
            .deliver(&to, raw.clone())
            .await?;
    }
    Ok(id)
}
