//! Integration tests of `sds-ims-feed`: one test binary, one module per command.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout, missing_docs)]

mod commands;
mod doctor;
mod e2e;
mod support;
mod sync;
mod wonde;
