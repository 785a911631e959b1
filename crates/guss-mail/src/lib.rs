//! Mail for guss: mailboxes, SMTP for MX and submission with DKIM, SPF and
//! DMARC, a durable outbound queue, the DNS records a domain needs and the
//! files mail clients configure themselves from.
#![forbid(unsafe_code)]

pub mod authenticity;
pub mod autoconfig;
pub mod dkim;
pub mod dns;
mod error;
#[cfg(feature = "imap")]
pub mod imap;
pub mod inbound;
mod listen;
pub mod message;
pub mod queue;
pub mod routing;
pub mod sending;
pub mod smtp;
mod spf;
pub mod store;

pub use error::{Error, Result};
