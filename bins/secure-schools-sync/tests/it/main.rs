//! End-to-end tests of secure-schools-sync against the testkit fakes, in-process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser;
mod cli;
mod daemon;
mod delta;
mod doctor;
mod faults;
mod google;
mod kill;
mod support;
mod sync;
mod ui;
mod wonde;
