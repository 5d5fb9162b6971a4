//! A focused Microsoft Graph v1.0 client for user and group sync.
//!
//! What rosterbridge needs from Graph, done carefully: sign-in (app-only client credentials, or an admin's
//! delegated device-code sign-in with a refresh token that is rotated and stored), national clouds, typed users,
//! groups, directory roles and the tenant, members and transitive members restricted to users, users and groups
//! delta, `$batch`, and one retry policy ([`http_retry`]) applied to every request — next pages, delta rounds and
//! batch items included. Lists are `Stream`s that hold one page at a time.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use graph_client::auth::ClientCredentials;
//! use graph_client::{GraphClient, Tenant, Cloud};
//! use std::sync::Arc;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let tenant = Tenant::new("contoso.onmicrosoft.com")?;
//! let secret = std::env::var("GRAPH_CLIENT_SECRET")?.into();
//! let tokens = ClientCredentials::new(Cloud::Global, tenant, "00000000-0000-0000-0000-000000000000", secret);
//! let graph = GraphClient::builder().token_source(Arc::new(tokens)).build()?;
//! let mut members = std::pin::pin!(graph.transitive_members("group-object-id"));
//! while let Some(user) = members.try_next().await? {
//!     println!("{} {:?}", user.id(), user.user_principal_name());
//! }
//! # Ok(()) }
//! ```
//!
//! Errors are one type, [`GraphError`], with `is_transient()`, `is_throttled()`, `is_not_found()`,
//! `is_unauthorized()`, `is_forbidden()` and `is_resync_required()`. No token or secret appears in any `Debug`,
//! `Display` or log line.

pub mod auth;
mod batch;
mod client;
pub mod cloud;
mod delta;
mod error;
pub mod models;
mod ops;
mod paging;
mod throttle;
pub mod tracking;

pub use batch::{BatchRequest, BatchResponse, MAX_BATCH};
pub use client::{GraphClient, GraphClientBuilder};
pub use cloud::{Cloud, CloudName, Tenant};
pub use delta::{DeltaStart, DeltaUser, GroupChange, GroupDelta};
pub use error::GraphError;
pub use models::{DirectoryRole, Group, GroupKind, Organization, Removed, User, UserBuilder, VerifiedDomain};
pub use ops::{GroupQuery, PAGE_SIZE};
pub use paging::Page;
pub use throttle::{ThrottleSnapshot, ThrottleStats};
pub use tracking::{MAX_DELTA_IDS, UsersDelta};
