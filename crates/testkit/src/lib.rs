//! Faithful fakes of the services rosterbridge talks to, for tests and benchmarks that cannot use a real tenant.
#![doc = "(being written)"]

pub mod counters;
pub mod faults;
pub mod google;
pub mod graph;
pub mod secure_schools;
pub mod server;
pub mod synthetic;
pub mod wonde;
