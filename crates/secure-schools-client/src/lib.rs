//! A client for the Secure Schools platform REST API.
//!
//! The platform publishes no API documentation, so this crate is built to an **assumed contract**, written down
//! in `docs/secure-schools-api.md` and `docs/secure-schools-api.openapi.json`. The [`models`] module, the
//! [`ENDPOINTS`] list and those two files describe the same API; adapting to the real platform means changing
//! them together (the tests check that the client and the OpenAPI file agree).
//!
//! * Built with a [`SecureSchoolsClientBuilder`]: base URL (required, no built-in host), token as a
//!   [`SecretString`], timeouts, and the retry policy shared with every rosterbridge client ([`http_retry`]).
//! * Operations: [`me`](SecureSchoolsClient::me); [`organisations`](SecureSchoolsClient::organisations) and
//!   [`users`](SecureSchoolsClient::users) as streams over every page (and `*_pages` / `*_page` for paging by
//!   hand); [`create_user`](SecureSchoolsClient::create_user), [`update_user`](SecureSchoolsClient::update_user),
//!   [`delete_user`](SecureSchoolsClient::delete_user); and [`batch`](SecureSchoolsClient::batch) of up to 100
//!   operations under an `Idempotency-Key` that every retry reuses, with a typed result per operation.
//! * One [`Error`] type, with `is_transient()`, `is_throttled()`, `is_not_found()`, `is_unauthorized()`,
//!   `is_forbidden()` and `is_conflict()`. The token never appears in `Debug`, `Display` or logs.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use secure_schools_client::{BatchOperation, SecretString, SecureSchoolsClient, Url, UserPatch, UsersQuery};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = SecureSchoolsClient::builder()
//!     .base_url(Url::parse("https://secureschools.example/api/v1/")?)
//!     .token(SecretString::from(std::env::var("SECURE_SCHOOLS_TOKEN")?))
//!     .build()?;
//!
//! let me = client.me().await?;
//! let orgs: Vec<_> = client.organisations().try_collect().await?;
//! for org in orgs.iter().filter(|o| me.is_admin_of(&o.id)) {
//!     let users: Vec<_> = client.users(&org.id, UsersQuery::new().limit(500)).try_collect().await?;
//!     let suspend: Vec<_> = users
//!         .iter()
//!         .filter(|u| u.managed_by_sync && u.email.ends_with("@left.example"))
//!         .map(|u| BatchOperation::suspend(&u.id, u.external_id.clone().unwrap_or_default()))
//!         .collect();
//!     for chunk in suspend.chunks(secure_schools_client::MAX_BATCH_OPERATIONS) {
//!         let report = client.batch(&org.id, chunk).await?;
//!         for (index, error) in report.failed() {
//!             eprintln!("operation {index}: {error}");
//!         }
//!     }
//!     let _ = UserPatch::new().last_name("Okafor");
//! }
//! # Ok(()) }
//! ```

mod client;
pub mod endpoints;
mod error;
pub mod models;

pub use client::{
    BatchReport, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, IDEMPOTENCY_KEY_HEADER, IdempotencyKey,
    MAX_BATCH_OPERATIONS, MAX_PAGE_LIMIT, REQUEST_ID_HEADER, SecureSchoolsClient, SecureSchoolsClientBuilder,
};
pub use endpoints::{ENDPOINTS, Endpoint, HttpMethod};
pub use error::{ApiError, Error, InvalidInput};
pub use models::{
    BatchItemError, BatchOp, BatchOperation, BatchResult, ErrorDetail, Me, Membership, MembershipRole, NewUser,
    Organisation, Page, User, UserPatch, UserRole, UserStatus, UsersQuery,
};

/// The shared retry crate, re-exported so that callers can build policies, observers and sleepers without
/// depending on it themselves.
pub use http_retry;
/// The token type.
pub use secrecy::SecretString;
/// The base URL type.
pub use url::Url;
