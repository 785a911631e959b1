//! State changes as CloudEvents 1.0, and the [`EventSink`] they go to.
//!
//! Every state change in guss emits an [`Event`]. The bundle wires one sink
//! that feeds the tamper-evident audit log and automations; tests use a
//! [`MemoryEventSink`] and assert on what was emitted.
//!
//! The JSON form is the CloudEvents JSON event format (structured mode) with
//! two extension attributes: `tenant` (every event belongs to one) and
//! `actor` (who caused it, see [`Principal`]'s `Display`).

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::name::machine_name;
use crate::{Clock, Error, EventId, Limit, Principal, TenantId};

machine_name!(
    /// The CloudEvents `type`: reverse-DNS style, e.g.
    /// `guss.identity.person.invited` (lowercase letters, digits, `.`, `_`, `-`).
    ///
    /// ```
    /// use guss_core::EventType;
    ///
    /// const INVITED: EventType = EventType::from_static("guss.identity.person.invited");
    /// assert!(EventType::new("Person Invited").is_err());
    /// ```
    EventType,
    "event type",
    b"._-"
);

machine_name!(
    /// The CloudEvents `source`: the component that emitted the event, a
    /// URI-reference such as `guss-identity` or `urn:guss:mail:smtp`.
    ///
    /// ```
    /// use guss_core::EventSource;
    ///
    /// const IDENTITY: EventSource = EventSource::from_static("guss-identity");
    /// assert_eq!(IDENTITY.to_string(), "guss-identity");
    /// ```
    EventSource,
    "event source",
    b"-._:/"
);

/// The CloudEvents version this crate speaks.
pub const SPEC_VERSION: &str = "1.0";

/// Longest `subject` accepted.
const MAX_SUBJECT: Limit = Limit::new("event subject length", 1024);

/// One state change, with the CloudEvents 1.0 attributes.
///
/// ```
/// use guss_core::{Event, EventSource, EventType, FixedClock, PersonId, Principal, TenantId};
/// use chrono::{TimeZone, Utc};
///
/// let clock = FixedClock::new(Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0).unwrap());
/// let tenant = TenantId::new();
/// let admin = Principal::Person { tenant, person: PersonId::new() };
/// let invited = PersonId::new();
///
/// let event = Event::builder(
///     tenant,
///     EventSource::from_static("guss-identity"),
///     EventType::from_static("guss.identity.person.invited"),
/// )
/// .subject(format!("person/{invited}"))?
/// .actor(&admin)
/// .data(serde_json::json!({ "email": "anna@kanzlei.example" }))
/// .build(&clock);
///
/// let json = serde_json::to_value(&event).unwrap();
/// assert_eq!(json["specversion"], "1.0");
/// assert_eq!(json["type"], "guss.identity.person.invited");
/// assert_eq!(json["time"], "2026-11-28T09:00:00Z");
/// assert_eq!(json["tenant"], tenant.to_string());
/// # Ok::<(), guss_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "wire::CloudEvent", try_from = "wire::CloudEvent")]
pub struct Event {
    id: EventId,
    source: EventSource,
    kind: EventType,
    subject: Option<String>,
    time: DateTime<Utc>,
    tenant: TenantId,
    actor: Option<String>,
    data: Option<serde_json::Value>,
}

impl Event {
    /// Starts an event of type `kind` from `source` in `tenant`.
    pub fn builder(tenant: TenantId, source: EventSource, kind: EventType) -> EventBuilder {
        EventBuilder {
            tenant,
            source,
            kind,
            subject: None,
            actor: None,
            data: None,
        }
    }

    /// The unique id (CloudEvents `id`).
    pub fn id(&self) -> EventId {
        self.id
    }

    /// The emitting component (CloudEvents `source`).
    pub fn source(&self) -> &EventSource {
        &self.source
    }

    /// What happened (CloudEvents `type`).
    pub fn kind(&self) -> &EventType {
        &self.kind
    }

    /// What it happened to, within the source (CloudEvents `subject`).
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// When it happened (CloudEvents `time`).
    pub fn time(&self) -> DateTime<Utc> {
        self.time
    }

    /// The tenant it happened in (extension attribute `tenant`).
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// Who caused it (extension attribute `actor`), if anyone did.
    pub fn actor(&self) -> Option<&str> {
        self.actor.as_deref()
    }

    /// The payload (CloudEvents `data`, always JSON).
    pub fn data(&self) -> Option<&serde_json::Value> {
        self.data.as_ref()
    }
}

/// Builds an [`Event`]; see [`Event::builder`].
#[derive(Clone, Debug)]
#[must_use]
pub struct EventBuilder {
    tenant: TenantId,
    source: EventSource,
    kind: EventType,
    subject: Option<String>,
    actor: Option<String>,
    data: Option<serde_json::Value>,
}

impl EventBuilder {
    /// What the event is about, e.g. `person/ID` (at most 1024 bytes).
    pub fn subject(mut self, subject: impl Into<String>) -> Result<Self, Error> {
        let subject = subject.into();
        MAX_SUBJECT.check_len(subject.len())?;
        self.subject = Some(subject);
        Ok(self)
    }

    /// Who caused the event.
    pub fn actor(mut self, actor: &Principal) -> Self {
        self.actor = Some(actor.to_string());
        self
    }

    /// The subject when it is acceptable, none otherwise (for subjects made
    /// of user data, such as a path, that may be too long).
    ///
    /// ```
    /// use guss_core::{Event, EventSource, EventType, FixedClock, TenantId};
    ///
    /// let clock = FixedClock::new(chrono::Utc::now());
    /// let kind = EventType::from_static("guss.test.done");
    /// let event = Event::builder(TenantId::new(), EventSource::from_static("guss-test"), kind.clone())
    ///     .subject_if_valid(&"x".repeat(5000)).actor_if(None).build(&clock);
    /// assert_eq!(event.subject(), None);
    /// ```
    pub fn subject_if_valid(self, subject: &str) -> Self {
        let fallback = self.clone();
        self.subject(subject).unwrap_or(fallback)
    }

    /// The actor, when there is one.
    pub fn actor_if(self, actor: Option<&Principal>) -> Self {
        match actor {
            Some(actor) => self.actor(actor),
            None => self,
        }
    }

    /// The payload.
    pub fn data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }

    /// The event, stamped with a new id and the clock's time.
    pub fn build(self, clock: &dyn Clock) -> Event {
        Event {
            id: EventId::new(),
            source: self.source,
            kind: self.kind,
            subject: self.subject,
            time: clock.now(),
            tenant: self.tenant,
            actor: self.actor,
            data: self.data,
        }
    }
}

/// The CloudEvents JSON event format, kept apart from the public type.
mod wire {
    use super::*;

    #[derive(Serialize, Deserialize)]
    pub(super) struct CloudEvent {
        specversion: String,
        id: EventId,
        source: EventSource,
        #[serde(rename = "type")]
        kind: EventType,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<String>,
        time: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        datacontenttype: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<serde_json::Value>,
        tenant: TenantId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        actor: Option<String>,
    }

    impl From<Event> for CloudEvent {
        fn from(event: Event) -> Self {
            CloudEvent {
                specversion: SPEC_VERSION.to_owned(),
                id: event.id,
                source: event.source,
                kind: event.kind,
                subject: event.subject,
                time: event.time,
                datacontenttype: event.data.as_ref().map(|_| "application/json".to_owned()),
                data: event.data,
                tenant: event.tenant,
                actor: event.actor,
            }
        }
    }

    impl TryFrom<CloudEvent> for Event {
        type Error = Error;

        fn try_from(wire: CloudEvent) -> Result<Self, Error> {
            if wire.specversion != SPEC_VERSION {
                return Err(Error::invalid(
                    "CloudEvents specversion",
                    "only 1.0 is supported",
                ));
            }
            if let Some(content_type) = &wire.datacontenttype
                && content_type != "application/json"
            {
                return Err(Error::invalid(
                    "CloudEvents datacontenttype",
                    "only application/json is supported",
                ));
            }
            if let Some(subject) = &wire.subject {
                MAX_SUBJECT.check_len(subject.len())?;
            }
            Ok(Event {
                id: wire.id,
                source: wire.source,
                kind: wire.kind,
                subject: wire.subject,
                time: wire.time,
                tenant: wire.tenant,
                actor: wire.actor,
                data: wire.data,
            })
        }
    }
}

/// Where events go: the audit log, automations, a test's memory.
///
/// `emit` returns once the sink has accepted the event; a sink that persists
/// events (the audit log) returns only after the event is durable.
///
/// ```
/// use guss_core::{Event, EventSink, EventSource, EventType, MemoryEventSink, SystemClock, TenantId};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let sink = MemoryEventSink::new();
/// let event = Event::builder(
///     TenantId::new(),
///     EventSource::from_static("guss-storage"),
///     EventType::from_static("guss.storage.file.deleted"),
/// )
/// .build(&SystemClock);
/// sink.emit(event).await?;
/// assert_eq!(sink.types(), ["guss.storage.file.deleted"]);
/// # Ok::<(), guss_core::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Accepts one event.
    async fn emit(&self, event: Event) -> Result<(), Error>;
}

#[async_trait]
impl<S: EventSink + ?Sized> EventSink for Arc<S> {
    async fn emit(&self, event: Event) -> Result<(), Error> {
        (**self).emit(event).await
    }
}

/// Keeps events in memory, for tests. Bounded: past its capacity, `emit`
/// fails with [`Error::LimitExceeded`] instead of growing.
#[derive(Debug)]
pub struct MemoryEventSink {
    events: Mutex<Vec<Event>>,
    capacity: Limit,
}

impl MemoryEventSink {
    /// A sink holding up to 100,000 events.
    pub fn new() -> Self {
        Self::with_capacity(100_000)
    }

    /// A sink holding up to `capacity` events.
    pub fn with_capacity(capacity: u64) -> Self {
        MemoryEventSink {
            events: Mutex::new(Vec::new()),
            capacity: Limit::new("events held in memory", capacity),
        }
    }

    /// A copy of the events emitted so far, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.lock().clone()
    }

    /// The types of the events emitted so far, oldest first.
    pub fn types(&self) -> Vec<String> {
        self.lock().iter().map(|e| e.kind().to_string()).collect()
    }

    /// Removes and returns the events emitted so far.
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Event>> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryEventSink {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl EventSink for MemoryEventSink {
    async fn emit(&self, event: Event) -> Result<(), Error> {
        let mut events = self.lock();
        self.capacity.check_len(events.len().saturating_add(1))?;
        events.push(event);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FixedClock, PersonId};
    use chrono::TimeZone;

    fn sample() -> Event {
        let tenant = TenantId::new();
        let clock = FixedClock::new(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap());
        Event::builder(
            tenant,
            EventSource::from_static("guss-test"),
            EventType::from_static("guss.test.thing.done"),
        )
        .subject("thing/1")
        .unwrap()
        .actor(&Principal::Person {
            tenant,
            person: PersonId::new(),
        })
        .data(serde_json::json!({"n": 1}))
        .build(&clock)
    }

    #[test]
    fn json_round_trip_follows_cloudevents() {
        let event = sample();
        let json = serde_json::to_value(&event).unwrap();
        for attribute in [
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "datacontenttype",
            "data",
        ] {
            assert!(json.get(attribute).is_some(), "{attribute} missing");
        }
        assert_eq!(json["datacontenttype"], "application/json");
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
    }

    #[test]
    fn foreign_spec_versions_are_rejected() {
        let mut json = serde_json::to_value(sample()).unwrap();
        json["specversion"] = "0.3".into();
        assert!(serde_json::from_value::<Event>(json).is_err());
    }

    #[test]
    fn events_without_data_have_no_content_type() {
        let event = Event::builder(
            TenantId::new(),
            EventSource::from_static("guss-test"),
            EventType::from_static("guss.test.ping"),
        )
        .build(&crate::SystemClock);
        let json = serde_json::to_value(&event).unwrap();
        assert!(json.get("data").is_none());
        assert!(json.get("datacontenttype").is_none());
        assert!(json.get("actor").is_none());
    }

    #[test]
    fn oversized_subjects_are_refused() {
        let builder = Event::builder(
            TenantId::new(),
            EventSource::from_static("guss-test"),
            EventType::from_static("guss.test.ping"),
        );
        assert!(builder.subject("x".repeat(1025)).is_err());
    }

    #[tokio::test]
    async fn memory_sink_is_bounded() {
        let sink = MemoryEventSink::with_capacity(2);
        sink.emit(sample()).await.unwrap();
        sink.emit(sample()).await.unwrap();
        assert!(matches!(
            sink.emit(sample()).await,
            Err(Error::LimitExceeded { .. })
        ));
        assert_eq!(sink.take().len(), 2);
        sink.emit(sample()).await.unwrap();
        assert_eq!(sink.events().len(), 1);
    }
}
