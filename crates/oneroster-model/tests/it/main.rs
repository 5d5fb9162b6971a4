//! Integration tests of `oneroster-model`: one test binary, one module per area (linking is the slow part).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod csv;
mod json;
mod query;
mod strategies;
mod validate;
