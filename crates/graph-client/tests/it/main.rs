//! Integration tests of graph-client: one binary, one module per area. Every wiremock server mounts a catch-all
//! that answers 599 to any request no test expected, so a stray request fails loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod batch;
mod common;
mod delta;
mod directory;
mod e2e;
mod groups;
mod members;
mod retry;
mod user;
