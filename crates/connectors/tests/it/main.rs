//! Connector tests against the testkit fakes, including the engine's conformance suite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod google;
mod microsoft;
mod roster_store;
mod wonde;
