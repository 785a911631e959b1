//! `guss`, the bundle: one program that composes every guss crate behind
//! one login, with a browser wizard that sets up a whole office.
//!
//! ```sh
//! cargo run --release -p guss-server -- serve
//! ```
//!
//! With no configuration it keeps everything in `./guss-data` (SQLite and
//! local files) and serves `http://localhost:8080/`, where the first visit
//! starts the setup wizard. A TOML file ([`Config`]) moves it to
//! PostgreSQL and S3, a public domain with HTTPS, and mail listeners.
//!
//! Hosting firms create organisations with
//! `guss tenant create --name NAME --owner-email ADDRESS`, or through the
//! admin API (`POST /api/admin/tenants` with the admin token); both answer
//! with the owner's single-use setup link.
//!
//! The pieces:
//!
//! - [`bundle`] opens every store and wires the crates through guss-core's
//!   seams; every event goes to the tamper-evident audit log;
//! - [`access`] gathers what the policy engine decides on;
//! - [`routes`] is the HTTP router (WebDAV, CalDAV, JSON APIs, pages);
//! - [`web`] renders the pages: wizard, joining, sign-in, home, devices;
//! - [`mail`] starts the SMTP and IMAP listeners; [`imip`] carries
//!   scheduling messages between calendar and mail;
//! - [`acme`] obtains and renews HTTPS certificates;
//! - [`serve`] runs it all until a shutdown signal.
#![forbid(unsafe_code)]

pub mod access;
pub mod acme;
pub mod bundle;
pub mod config;
pub mod imip;
pub mod mail;
pub mod office;
pub mod presets;
pub mod retention;
pub mod routes;
pub mod secrets;
pub mod serve;
pub mod web;

pub use bundle::Bundle;
pub use config::Config;

/// The name the bundle acts under when it makes things itself (folders,
/// calendars, shares at setup).
pub static SERVICE: std::sync::LazyLock<guss_core::ServiceName> =
    std::sync::LazyLock::new(|| guss_core::ServiceName::from_static("guss-server"));
