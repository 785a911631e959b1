//! Implicit scheduling (RFC 6638 §3): when an organizer writes an event,
//! internal attendees get it in their calendar and inbox, rooms and
//! resources book it or decline it on their own (never twice for one
//! time), and external attendees get iMIP messages (as events for the
//! mail crate); when an attendee answers, the organizer's copy learns it —
//! only from that attendee. POST to the outbox answers free/busy requests.

use calcard::icalendar::{
    ICalendar, ICalendarComponentType, ICalendarMethod, ICalendarParticipationStatus,
    ICalendarProperty, ICalendarValue,
};
use chrono::{DateTime, Utc};
use guss_dav::backend::{BackendError, BackendResult, Mount, Reply};
use guss_dav::{DavPath, escape_text};

use super::backend::{CalDavBackend, DEFAULT_CALENDAR, INBOX, OUTBOX, ensure_home, internal};
use super::paths::Reached;
use super::report::READ_FREE_BUSY;
use super::{CALDAV, CalendarUser};
use crate::Error;
use crate::ical;
use crate::itip::{self, normalize};
use crate::store::{CalendarInfo, CollectionKind, Precondition, StoredObject};

fn parse(text: &str) -> Option<ICalendar> {
    ical::parse(text, &crate::ical::Limits::default())
        .ok()
        .map(|p| p.calendar)
}

fn uid_of(calendar: &ICalendar) -> Option<String> {
    calendar
        .components
        .iter()
        .filter(|c| {
            matches!(
                c.component_type,
                ICalendarComponentType::VEvent | ICalendarComponentType::VTodo
            )
        })
        .find_map(|c| c.uid())
        .map(str::to_owned)
}

/// A resource name for a delivered copy: the UID made safe, plus `.ics`.
fn copy_name(uid: &str) -> String {
    let safe: String = uid
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@') {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    format!("{safe}.ics")
}

fn partstat_of(text: &str) -> ICalendarParticipationStatus {
    match text {
        "ACCEPTED" => ICalendarParticipationStatus::Accepted,
        "DECLINED" => ICalendarParticipationStatus::Declined,
        "TENTATIVE" => ICalendarParticipationStatus::Tentative,
        "DELEGATED" => ICalendarParticipationStatus::Delegated,
        _ => ICalendarParticipationStatus::NeedsAction,
    }
}

impl CalDavBackend {
    async fn default_calendar(&self, user: &CalendarUser) -> BackendResult<CalendarInfo> {
        ensure_home(&self.calendars, user).await.map_err(internal)?;
        self.calendars
            .calendar(&user.handle, DEFAULT_CALENDAR)
            .await
            .map_err(internal)?
            .ok_or(BackendError::NotFound)
    }

    async fn deliver_to_inbox(&self, user: &CalendarUser, message: &ICalendar, method: &str) {
        let Ok(Some(inbox)) = self.calendars.calendar(&user.handle, INBOX).await else {
            return;
        };
        let name = format!(
            "{}-{}.ics",
            method.to_ascii_lowercase(),
            uuid::Uuid::now_v7().simple()
        );
        if let Err(e) = self
            .calendars
            .put_object(
                &inbox,
                &name,
                &ical::emit(message),
                Precondition::None,
                &self.principal,
            )
            .await
        {
            tracing::warn!(error = %e, "inbox delivery");
        }
    }

    async fn imip(&self, to: &str, method: &str, message: &ICalendar) {
        self.calendars
            .emit(
                "guss.calendar.imip.outgoing",
                Some(&self.principal),
                to,
                serde_json::json!({ "from": self.me.address, "to": to, "method": method, "ics": ical::emit(message) }),
            )
            .await;
    }

    /// Writes `text` as `user`'s copy of the event with `uid`, keeping the
    /// name of an existing copy. For bookable calendars this is the booking,
    /// refused when it overlaps another.
    async fn write_copy(
        &self,
        calendar: &CalendarInfo,
        uid: &str,
        text: &str,
    ) -> crate::Result<StoredObject> {
        let name = match self.calendars.object_by_uid(calendar, uid).await? {
            Some(existing) => existing.name,
            None => copy_name(uid),
        };
        self.calendars
            .put_object(calendar, &name, text, Precondition::None, &self.principal)
            .await
            .map(|(o, _)| o)
    }

    async fn remove_copy(&self, user: &CalendarUser, uid: &str) -> BackendResult<()> {
        let calendar = self.default_calendar(user).await?;
        if let Some(copy) = self
            .calendars
            .object_by_uid(&calendar, uid)
            .await
            .map_err(internal)?
        {
            self.calendars
                .delete_object(&calendar, &copy.name, Precondition::None, &self.principal)
                .await
                .map_err(internal)?;
        }
        Ok(())
    }

    /// Scheduling after a write of `object` into `reached`.
    pub(super) async fn after_write(
        &self,
        reached: &Reached,
        old: Option<&StoredObject>,
        object: StoredObject,
    ) -> BackendResult<StoredObject> {
        if reached.calendar.kind != CollectionKind::Calendar {
            return Ok(object);
        }
        let Some(calendar) = parse(&object.ics) else {
            return Ok(object);
        };
        let Some(organizer) = itip::organizer(&calendar) else {
            // The organizer took everyone off, and ORGANIZER with them:
            // those who were invited (rooms too) are told (RFC 6638 §3.2.1).
            let me = normalize(&self.me.address);
            if let Some(old) = old.and_then(|o| parse(&o.ics))
                && itip::organizer(&old).as_deref() == Some(me.as_str())
                && let Some(uid) = uid_of(&old)
            {
                for attendee in itip::attendees(&old)
                    .into_iter()
                    .filter(|a| a.address != me)
                {
                    self.cancel_for(&attendee.address, &uid, &old).await?;
                }
            }
            return Ok(object);
        };
        if organizer == normalize(&self.me.address) {
            let old = old.and_then(|o| parse(&o.ics));
            return self.organize(reached, old.as_ref(), calendar, object).await;
        }
        let old = old.and_then(|o| parse(&o.ics));
        self.answer(&organizer, old.as_ref(), &calendar).await;
        Ok(object)
    }

    /// The organizer wrote `calendar`: invite, book, cancel.
    async fn organize(
        &self,
        reached: &Reached,
        old: Option<&ICalendar>,
        calendar: ICalendar,
        object: StoredObject,
    ) -> BackendResult<StoredObject> {
        let Some(uid) = uid_of(&calendar) else {
            return Ok(object);
        };
        let plan = itip::plan(old, &calendar);
        let tenant = self.calendars.tenant_id();
        let mut updated = calendar.clone();
        for attendee in &plan.request {
            match self.users.by_address(tenant, &attendee.address).await {
                Some(user) if user.is_bookable() => {
                    let target = self.default_calendar(&user).await?;
                    let mut booking = calendar.clone();
                    itip::set_partstat(
                        &mut booking,
                        &attendee.address,
                        ICalendarParticipationStatus::Accepted,
                    );
                    let answer = match self.write_copy(&target, &uid, &ical::emit(&booking)).await {
                        Ok(_) => ICalendarParticipationStatus::Accepted,
                        Err(Error::Conflict(_)) => {
                            // Declined: any earlier booking of this event goes too.
                            self.remove_copy(&user, &uid).await?;
                            ICalendarParticipationStatus::Declined
                        }
                        Err(other) => return Err(internal(other)),
                    };
                    itip::set_partstat(&mut updated, &attendee.address, answer);
                    itip::set_schedule_status(&mut updated, &attendee.address, "2.0");
                }
                Some(user) => {
                    let target = self.default_calendar(&user).await?;
                    let mut copy = calendar.clone();
                    // Their answer so far stays theirs.
                    if let Some(existing) = self
                        .calendars
                        .object_by_uid(&target, &uid)
                        .await
                        .map_err(internal)?
                        && let Some(theirs) = parse(&existing.ics)
                        && let Some(mine) = itip::attendees(&theirs)
                            .into_iter()
                            .find(|a| a.address == attendee.address)
                    {
                        itip::set_partstat(
                            &mut copy,
                            &attendee.address,
                            partstat_of(&mine.partstat),
                        );
                    }
                    self.write_copy(&target, &uid, &ical::emit(&copy))
                        .await
                        .map_err(internal)?;
                    self.deliver_to_inbox(
                        &user,
                        &itip::message(&calendar, ICalendarMethod::Request),
                        "request",
                    )
                    .await;
                    itip::set_schedule_status(&mut updated, &attendee.address, "1.2");
                }
                None => {
                    self.imip(
                        &attendee.address,
                        "REQUEST",
                        &itip::message(&calendar, ICalendarMethod::Request),
                    )
                    .await;
                    itip::set_schedule_status(&mut updated, &attendee.address, "1.1");
                }
            }
        }
        for address in &plan.cancel {
            self.cancel_for(address, &uid, &calendar).await?;
        }
        if updated == calendar {
            return Ok(object);
        }
        let (stored, _) = self
            .calendars
            .put_object(
                &reached.calendar,
                &object.name,
                &ical::emit(&updated),
                Precondition::IfMatch(object.etag.clone()),
                &self.principal,
            )
            .await
            .map_err(internal)?;
        Ok(stored)
    }

    async fn cancel_for(
        &self,
        address: &str,
        uid: &str,
        calendar: &ICalendar,
    ) -> BackendResult<()> {
        match self
            .users
            .by_address(self.calendars.tenant_id(), address)
            .await
        {
            Some(user) => {
                self.remove_copy(&user, uid).await?;
                if !user.is_bookable() {
                    self.deliver_to_inbox(&user, &itip::cancel(calendar), "cancel")
                        .await;
                }
            }
            None => self.imip(address, "CANCEL", &itip::cancel(calendar)).await,
        }
        Ok(())
    }

    /// An attendee wrote their copy: tell the organizer their answer.
    async fn answer(&self, organizer: &str, old: Option<&ICalendar>, calendar: &ICalendar) {
        let me = normalize(&self.me.address);
        let Some(mine) = itip::attendees(calendar)
            .into_iter()
            .find(|a| a.address == me)
        else {
            return;
        };
        let before = old
            .and_then(|o| itip::attendees(o).into_iter().find(|a| a.address == me))
            .map(|a| a.partstat);
        if before.as_deref() == Some(mine.partstat.as_str()) {
            return;
        }
        let reply = itip::reply(calendar, &me, partstat_of(&mine.partstat));
        self.send_reply(organizer, &reply).await;
    }

    async fn send_reply(&self, organizer: &str, reply: &ICalendar) {
        let tenant = self.calendars.tenant_id();
        let Some(user) = self.users.by_address(tenant, organizer).await else {
            self.imip(organizer, "REPLY", reply).await;
            return;
        };
        let Some(uid) = uid_of(reply) else { return };
        let Ok(calendars) = self.calendars.calendars(&user.handle).await else {
            return;
        };
        for calendar in calendars
            .iter()
            .filter(|c| c.kind == CollectionKind::Calendar)
        {
            let Ok(Some(object)) = self.calendars.object_by_uid(calendar, &uid).await else {
                continue;
            };
            let Some(mut copy) = parse(&object.ics) else {
                continue;
            };
            match itip::apply_reply(&mut copy, reply, &self.me.address) {
                Ok(()) => {
                    let result = self
                        .calendars
                        .put_object(
                            calendar,
                            &object.name,
                            &ical::emit(&copy),
                            Precondition::IfMatch(object.etag.clone()),
                            &self.principal,
                        )
                        .await;
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "applying a reply");
                    }
                    self.deliver_to_inbox(&user, reply, "reply").await;
                }
                Err(refused) => {
                    self.calendars
                        .emit(
                            "guss.calendar.itip.refused",
                            Some(&self.principal),
                            &uid,
                            serde_json::json!({ "why": refused.to_string() }),
                        )
                        .await;
                }
            }
            return;
        }
    }

    /// Scheduling after `object` was deleted from `reached`.
    pub(super) async fn after_delete(
        &self,
        reached: &Reached,
        object: &StoredObject,
    ) -> BackendResult<()> {
        if reached.calendar.kind != CollectionKind::Calendar {
            return Ok(());
        }
        let Some(calendar) = parse(&object.ics) else {
            return Ok(());
        };
        let Some(organizer) = itip::organizer(&calendar) else {
            return Ok(());
        };
        let me = normalize(&self.me.address);
        if organizer == me {
            let Some(uid) = uid_of(&calendar) else {
                return Ok(());
            };
            for attendee in itip::attendees(&calendar)
                .into_iter()
                .filter(|a| a.address != me)
            {
                self.cancel_for(&attendee.address, &uid, &calendar).await?;
            }
        } else if itip::attendees(&calendar).iter().any(|a| a.address == me) {
            // Deleting an invitation declines it (RFC 6638 §3.2.2.3).
            self.send_reply(
                &organizer,
                &itip::reply(&calendar, &me, ICalendarParticipationStatus::Declined),
            )
            .await;
        }
        Ok(())
    }

    /// POST to the outbox: a VFREEBUSY request (RFC 6638 §5).
    pub(super) async fn post(
        &self,
        _mount: &Mount<'_>,
        path: &DavPath,
        _content_type: Option<&str>,
        body: &[u8],
    ) -> BackendResult<Reply> {
        let segments: Vec<&str> = path.segments().iter().map(String::as_str).collect();
        if segments != ["calendars", self.me.handle.as_str(), OUTBOX] {
            return Err(BackendError::Forbidden);
        }
        let text = std::str::from_utf8(body).map_err(|_| BackendError::Body("not UTF-8".into()))?;
        let request = ical::parse(text, &crate::ical::Limits::default())
            .map_err(internal)?
            .calendar;
        let Some(query) = request
            .components
            .iter()
            .find(|c| c.component_type == ICalendarComponentType::VFreebusy)
        else {
            return Err(BackendError::Condition {
                status: 400,
                condition: format!("<C:valid-calendar-data xmlns:C=\"{CALDAV}\"/>"),
            });
        };
        let time = |name: ICalendarProperty| -> Option<DateTime<Utc>> {
            let entry = query.entries.iter().find(|e| e.name == name)?;
            match entry.values.first()? {
                ICalendarValue::PartialDateTime(dt) => {
                    let parsed = dt.to_date_time()?;
                    Some(
                        parsed.date_time.and_utc()
                            - chrono::TimeDelta::seconds(i64::from(
                                parsed.offset.map_or(0, |o| o.local_minus_utc()),
                            )),
                    )
                }
                _ => None,
            }
        };
        let (Some(start), Some(end)) = (
            time(ICalendarProperty::Dtstart),
            time(ICalendarProperty::Dtend),
        ) else {
            return Err(BackendError::Conflict(
                "a free/busy request needs DTSTART and DTEND".into(),
            ));
        };
        if end <= start {
            return Err(BackendError::Conflict(
                "DTEND must come after DTSTART".into(),
            ));
        }
        let range = start..end;
        let mut out = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<C:schedule-response xmlns:D=\"DAV:\" xmlns:C=\"{CALDAV}\">"
        );
        let recipients: Vec<String> = query
            .entries
            .iter()
            .filter(|e| e.name == ICalendarProperty::Attendee)
            .filter_map(|e| e.values.first().and_then(|v| v.as_text()).map(normalize))
            .take(100)
            .collect();
        for address in recipients {
            out.push_str(&format!(
                "<C:response><C:recipient><D:href>mailto:{}</D:href></C:recipient>",
                escape_text(&address)
            ));
            let answer = match self
                .users
                .by_address(self.calendars.tenant_id(), &address)
                .await
            {
                Some(user) => {
                    let calendars: Vec<CalendarInfo> = self
                        .calendars
                        .calendars(&user.handle)
                        .await
                        .map_err(internal)?
                        .into_iter()
                        .filter(|c| c.kind != CollectionKind::Inbox)
                        .collect();
                    let mut allowed = Vec::new();
                    for calendar in calendars {
                        let access = self
                            .access_to(&calendar)
                            .await?
                            .unwrap_or(super::paths::Access::Read);
                        if self.allow(&READ_FREE_BUSY, &calendar, access).await.is_ok() {
                            allowed.push(calendar);
                        }
                    }
                    if allowed.is_empty() {
                        None
                    } else {
                        Some(
                            self.busy_text(&allowed, &range, Some(&format!("mailto:{address}")))
                                .await?,
                        )
                    }
                }
                None => None,
            };
            match answer {
                Some(text) => out.push_str(&format!(
                    "<C:request-status>2.0;Success</C:request-status><C:calendar-data>{}</C:calendar-data>",
                    escape_text(&text)
                )),
                None => out.push_str("<C:request-status>3.7;Invalid calendar user</C:request-status>"),
            }
            out.push_str("</C:response>");
        }
        out.push_str("</C:schedule-response>\n");
        Ok(Reply::new(200, "application/xml; charset=utf-8", out))
    }
}
