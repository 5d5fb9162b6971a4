//! Tests of the Google Directory client against the testkit fake and wiremock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod common;
mod directory;
