//! iMIP (RFC 6047) between the office's calendars and everyone else: the
//! calendar's scheduling messages for people outside go out by mail, and
//! the replies that come back by mail update the organizer's copy.
//!
//! The two crates never meet: guss-calendar announces an outgoing message
//! as the event `guss.calendar.imip.outgoing`, guss-mail announces a
//! delivered message with a calendar part as `guss.mail.invitation.received`,
//! and the bundle, which sees every event, carries them across.

use std::sync::Arc;

use anyhow::Context as _;
use guss_calendar::calcard::icalendar::{ICalendar, ICalendarProperty};
use guss_calendar::caldav::CalendarUsers as _;
use guss_calendar::ical::{Limits, emit, parse};
use guss_calendar::itip;
use guss_calendar::store::{CalendarStore, Precondition};
use guss_core::{EmailAddress, Event, Principal};
use guss_mail::store::{Account, MailStore};
use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::MimePart;

use crate::access::OfficeCalendarUsers;
use crate::mail::Outbound;

/// What carries scheduling messages between calendar and mail.
pub struct Imip {
    outbound: Outbound,
    mail: MailStore,
    calendars: CalendarStore,
    users: Arc<OfficeCalendarUsers>,
}

impl Imip {
    /// Carries messages with `outbound`, reading mail from `mail` and
    /// writing replies into `calendars`.
    pub fn new(
        outbound: Outbound,
        mail: MailStore,
        calendars: CalendarStore,
        users: Arc<OfficeCalendarUsers>,
    ) -> Self {
        Imip {
            outbound,
            mail,
            calendars,
            users,
        }
    }

    /// Acts on `event` if it is a scheduling message. Failures are logged:
    /// the action that caused the event has happened either way.
    pub async fn react(&self, event: &Event) {
        let result = match event.kind().as_str() {
            "guss.calendar.imip.outgoing" => self.send(event).await,
            "guss.mail.invitation.received" => self.receive(event).await,
            _ => return,
        };
        if let Err(e) = result {
            tracing::warn!(kind = %event.kind(), error = format!("{e:#}"), "iMIP");
        }
    }

    /// Mails a REQUEST, REPLY or CANCEL to someone outside (RFC 6047 §2:
    /// the iCalendar object as a `text/calendar` part with its method).
    async fn send(&self, event: &Event) -> anyhow::Result<()> {
        let data = event.data().context("no data")?;
        let text = |key: &str| data.get(key).and_then(|v| v.as_str()).unwrap_or("");
        let (from, method, ics) = (text("from"), text("method"), text("ics"));
        let to: EmailAddress = text("to")
            .trim_start_matches("mailto:")
            .parse()
            .context("recipient")?;
        let summary = parse(ics, &Limits::default())
            .ok()
            .and_then(|parsed| summary_of(&parsed.calendar))
            .unwrap_or_default();
        let (subject, line) = match method {
            "REPLY" => (
                "Antwort / Reply",
                "Antwort auf die Einladung / Reply to the invitation",
            ),
            "CANCEL" => (
                "Abgesagt / Cancelled",
                "Der Termin ist abgesagt. / The event is cancelled.",
            ),
            _ => (
                "Einladung / Invitation",
                "Einladung zu einem Termin / Invitation to an event",
            ),
        };
        let calendar_type = ContentType::new("text/calendar")
            .attribute("method", method)
            .attribute("charset", "utf-8");
        let message = MessageBuilder::new()
            .from(from)
            .to(to.as_str())
            .subject(format!("{subject}: {summary}"))
            .body(MimePart::new(
                "multipart/alternative",
                vec![
                    MimePart::new("text/plain", format!("{line}: {summary}\n")),
                    MimePart::new(calendar_type, ics.to_owned()),
                ],
            ))
            .write_to_vec()?;
        self.outbound.send(event.tenant(), from, &to, message).await
    }

    /// Applies a REPLY that arrived by mail to the organizer's copy.
    async fn receive(&self, event: &Event) -> anyhow::Result<()> {
        let data = event.data().context("no data")?;
        if data.get("method").and_then(|m| m.as_str()) != Some("REPLY") {
            // Invitations from outside stay in the mailbox, where the
            // person's mail app offers to accept them.
            return Ok(());
        }
        let tenant = event.tenant();
        let account = data
            .get("account")
            .and_then(|a| a.as_str())
            .and_then(|a| Account::from_key(a).ok())
            .context("account")?;
        let Account::Person(organizer) = account else {
            return Ok(());
        };
        let mailbox = data
            .get("mailbox")
            .and_then(|m| m.as_str())
            .and_then(|m| m.parse().ok())
            .context("mailbox")?;
        let uid = data
            .get("uid")
            .and_then(|u| u.as_u64())
            .and_then(|u| u32::try_from(u).ok())
            .context("uid")?;
        let sender = data.get("from").and_then(|f| f.as_str()).unwrap_or("");
        let mail = self.mail.tenant(tenant);
        let message = mail
            .messages(mailbox, uid..=uid)
            .await?
            .into_iter()
            .next()
            .context("the message is gone")?;
        let raw = mail.raw(&message).await?;
        let text = guss_mail::message::summarize(&raw)
            .calendar
            .context("no calendar part")?;
        let reply = parse(&text, &Limits::default())?.calendar;
        let uid_of_reply = uid_of(&reply).context("a reply without UID")?;
        let principal = Principal::Person {
            tenant,
            person: organizer,
        };
        let me = self
            .users
            .user_of(&principal)
            .await
            .context("the organizer has no calendar")?;
        let calendars = self.calendars.tenant(tenant);
        for calendar in calendars.calendars(&me.handle).await? {
            let Some(stored) = calendars.object_by_uid(&calendar, &uid_of_reply).await? else {
                continue;
            };
            let mut copy = parse(&stored.ics, &Limits::default())?.calendar;
            itip::apply_reply(&mut copy, &reply, &format!("mailto:{sender}"))
                .map_err(|e| anyhow::anyhow!("the reply does not apply: {e:?}"))?;
            calendars
                .put_object(
                    &calendar,
                    &stored.name,
                    &emit(&copy),
                    Precondition::None,
                    &principal,
                )
                .await?;
            return Ok(());
        }
        anyhow::bail!("no event {uid_of_reply} in the organizer's calendars")
    }
}

fn first_text<'a>(calendar: &'a ICalendar, property: &ICalendarProperty) -> Option<&'a str> {
    calendar
        .components
        .iter()
        .flat_map(|c| c.entries.iter())
        .find(|e| e.name == *property)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_text())
}

fn summary_of(calendar: &ICalendar) -> Option<String> {
    first_text(calendar, &ICalendarProperty::Summary).map(str::to_owned)
}

fn uid_of(calendar: &ICalendar) -> Option<String> {
    first_text(calendar, &ICalendarProperty::Uid).map(str::to_owned)
}
