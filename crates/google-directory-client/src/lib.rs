//! A focused Google Workspace Admin SDK Directory API client for user sync.
//!
//! What rosterbridge needs from Google, done carefully: a service account with domain-wide delegation acting as an
//! admin ([`auth::DelegatedServiceAccount`], the JWT bearer grant with an RS256-signed assertion), the key file
//! parsed into a type whose private key never shows ([`ServiceAccountKey`]), `users.list` of an organisational unit
//! and everything under it (`query=orgUnitPath='…'`, 500 a page, `pageToken` paging, `fields` partial responses),
//! `orgunits.list` (`type=all`), and one retry policy ([`http_retry`]) applied to every request, next pages
//! included, with Google's 403 `userRateLimitExceeded`/`quotaExceeded` and 429 `rateLimitExceeded` treated as
//! throttling. Lists are `Stream`s that hold one page at a time.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use google_directory_client::auth::{DelegatedServiceAccount, SCOPES};
//! use google_directory_client::{DirectoryClient, ServiceAccountKey};
//! use std::sync::Arc;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let key = ServiceAccountKey::from_json(&std::env::var("GOOGLE_SERVICE_ACCOUNT_KEY")?)?;
//! let tokens = DelegatedServiceAccount::new(key, "it.admin@school.example", SCOPES);
//! let directory = DirectoryClient::builder().token_source(Arc::new(tokens)).build()?;
//! let mut users = std::pin::pin!(directory.users_in_org_unit("/Students"));
//! while let Some(user) = users.try_next().await? {
//!     println!("{} {:?} active={}", user.id, user.primary_email, user.is_active());
//! }
//! # Ok(()) }
//! ```
//!
//! Errors are one type, [`DirectoryError`], with `is_transient()`, `is_throttled()`, `is_not_found()`,
//! `is_unauthorized()` and `is_forbidden()`; decode failures name the JSON path. No token or key appears in any
//! `Debug`, `Display` or log line.

pub mod auth;
mod client;
mod error;
mod key;
pub mod models;
mod ops;
mod stats;

pub use client::{Account, DEFAULT_BASE_URL, DirectoryClient, DirectoryClientBuilder, MY_CUSTOMER};
pub use error::{DirectoryError, throttle_classifier};
pub use key::{KeyError, ServiceAccountKey};
pub use models::{OrgUnit, User, UserName, UsersPage, is_within, org_unit_query};
pub use ops::{MAX_RESULTS, ORG_UNIT_FIELDS, USER_FIELDS, UserQuery};
pub use stats::{DirectoryStats, DirectoryStatsSnapshot};
