//! Integration tests of sync-engine: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod conformance;
mod engine;
mod planner;
mod schedule;
