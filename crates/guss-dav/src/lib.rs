//! The WebDAV protocol core shared by files (WebDAV), calendars (CalDAV) and
//! contacts (CardDAV): request bodies and headers parsed under explicit
//! bounds, and multistatus responses written. No I/O: the server adapters
//! live in the crates that own the data.
//!
//! ```
//! use guss_dav::{Depth, PropfindRequest, parse_propfind};
//!
//! let body = r#"<?xml version="1.0"?>
//! <D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:displayname/></D:prop></D:propfind>"#;
//! let PropfindRequest::Prop(names) = parse_propfind(body)? else { unreachable!() };
//! assert_eq!(names[0].local, "getetag");
//! assert_eq!(Depth::parse(Some("1"))?, Depth::One);
//! # Ok::<(), guss_dav::Error>(())
//! ```
#![forbid(unsafe_code)]

#[cfg(feature = "server")]
pub mod backend;
mod body;
mod error;
mod headers;
mod if_header;
pub mod lock;
mod multistatus;
mod path;
pub mod preconditions;
mod range;
#[cfg(feature = "server")]
pub mod server;
mod xml;

pub use body::{
    LockInfo, LockScope, PropPatch, PropfindRequest, parse_lockinfo, parse_lockinfo_within,
    parse_mkcol, parse_mkcol_within, parse_propfind, parse_propfind_within, parse_proppatch,
    parse_proppatch_within,
};
pub use error::{Error, Result};
pub use headers::{Depth, Overwrite};
pub use if_header::{Condition, IfHeader, IfList, parse_if};
pub use multistatus::{Multistatus, PropStat, Response};
pub use path::{DavPath, MAX_PATH_SEGMENTS, MAX_SEGMENT_BYTES};
pub use range::{ByteRange, parse_range};
pub use xml::{Element, Limits, Node, PropertyName, escape_attr, escape_text, parse as parse_xml};

/// The DAV: namespace.
pub const DAV: &str = "DAV:";
