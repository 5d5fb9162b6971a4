//! A focused Wonde API v1.0 client for roster sync.
//!
//! What rosterbridge needs from Wonde (<https://docs.wonde.com/>), done carefully: the regional API domains
//! ([`Region`]), the API token as a secret sent as `Authorization: Bearer …`, one school and its access, students,
//! leavers, employees, classes, groups and deletions with `include`, `per_page` and `updated_after`, and paging by
//! following `meta.pagination.next` exactly as given. One retry policy ([`http_retry`]) applies to every request,
//! next pages included. Lists are `Stream`s that hold one page at a time.
//!
//! A person's stable identity in Wonde is the `upi` (unique person identifier); Wonde's `id` is per school and
//! per kind. Sync keys on `upi`.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use wonde_client::{ListQuery, Region, WondeClient};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let token = std::env::var("WONDE_TOKEN")?.into();
//! let wonde = WondeClient::builder().region(Region::Uk).token(token).build()?;
//! let school = wonde.school("A1930499544").await?;
//! let query = ListQuery::new().include(["contact_details", "year"]);
//! let mut students = std::pin::pin!(wonde.students(&school.id, &query));
//! while let Some(student) = students.try_next().await? {
//!     println!("{} {} {:?}", student.given_name(), student.family_name(), student.email());
//! }
//! # Ok(()) }
//! ```
//!
//! Errors are one type, [`WondeError`], with `is_transient()`, `is_throttled()`, `is_not_found()`,
//! `is_unauthorized()` and `is_forbidden()`; decode failures name the JSON path. No token appears in any `Debug`,
//! `Display` or log line.

mod client;
mod error;
pub mod models;
mod ops;
mod region;

pub use client::{WondeClient, WondeClientBuilder};
pub use error::WondeError;
pub use models::{
    Class, ContactDetails, Deletion, Emails, Employee, Group, Included, Meta, Page, Pagination, School, SchoolRegion,
    Student, Subject, SubjectRef, WondeDateTime, YearGroup,
};
pub use ops::{ListQuery, MAX_PER_PAGE, UPDATED_AFTER_FORMAT};
pub use region::{Region, UnknownRegion};
