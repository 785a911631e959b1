#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod authn;
mod authz;
mod clock;
mod directory;
mod email;
mod error;
mod event;
mod id;
mod limits;
mod name;
mod principal;
mod processing;

pub use authn::{Authenticator, Credentials, MAX_AUTHORIZATION_HEADER, Scope};
pub use authz::{
    Action, Authorizer, Context, ContextValue, Decision, DenyAll, DevicePosture, Resource,
    ResourceKind,
};
pub use clock::{Clock, FixedClock, SystemClock};
pub use directory::{
    Directory, DirectoryEntry, GroupEntry, MemoryDirectory, PersonEntry, PersonStatus,
};
pub use email::EmailAddress;
pub use error::{Error, Result};
pub use event::{
    Event, EventBuilder, EventSink, EventSource, EventType, MemoryEventSink, SPEC_VERSION,
};
pub use id::{EventId, GroupId, PersonId, ShareLinkId, TenantId};
pub use limits::{Limit, Meter};
pub use principal::{Principal, ServiceName};
pub use processing::ProcessingActivity;
