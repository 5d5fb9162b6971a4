//! roster-store integration tests: every store test runs against SQLite and PostgreSQL (see `support`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)]

mod admin;
mod connections;
mod open;
mod roster;
mod state;
mod support;
