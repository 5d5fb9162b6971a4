//! Integration tests of `oneroster-server`, in-process with `tower::ServiceExt::oneshot`: one test binary, one
//! module per area (linking is the slow part).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod endpoints;
mod filtering;
mod paging;
mod props;
mod snapshot;
mod sort_fields;
mod support;
mod token;
