//! The bundle as its users meet it: the `guss` command, and every page
//! through the bundle's router on SQLite and PostgreSQL (+ S3).
//!
//! One test binary, not one per area: each links the whole dependency tree
//! (about 160 MB), and the areas share one PostgreSQL cluster this way.

mod calendar;
mod cli;
mod files;
mod people;
mod retention;
mod security;
mod support;
mod web;
