//! Tests of the fakes against the vendors' documented behaviour, and end-to-end tests of our clients against them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod google;
mod graph;
mod secure_schools;
mod synthetic;
