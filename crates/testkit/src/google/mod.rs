//! A stateful fake of the Google Workspace Admin SDK Directory API and Google's OAuth 2.0 token endpoint, for tests
//! and benchmarks that cannot use a real domain.
//!
//! What it serves, each piece following the Google documentation page cited next to its code:
//!
//! * `POST /token` — the JWT bearer grant of service accounts ("Using OAuth 2.0 for Server to Server
//!   Applications", <https://developers.google.com/identity/protocols/oauth2/service-account>): the assertion's
//!   RS256 signature is verified against the registered service account's public key, `aud`, `iat`/`exp` (an hour
//!   at most, in a reasonable timeframe) and `scope` are checked, `sub` must be a user of the domain, and the
//!   service account's client id must be authorised for every scope asked for under domain-wide delegation
//!   (otherwise `401 unauthorized_client`);
//! * `GET /admin/directory/v1/users` — `users.list`
//!   (<https://developers.google.com/workspace/admin/directory/reference/rest/v1/users/list>): `customer` or
//!   `domain`, `maxResults` 1–500 (default 100), `pageToken`/`nextPageToken`, users in primary email order, and
//!   `query` with `orgUnitPath=` (a subtree match: "This matches all org unit chains under the target"),
//!   `isSuspended=`, `isArchived=`, `isAdmin=` and `email=` ("Search for users",
//!   <https://developers.google.com/workspace/admin/directory/v1/guides/search-users>); an organisational unit that
//!   does not exist answers 400 `Invalid Input: INVALID_OU_ID` (as reported in
//!   <https://github.com/Scouterna/Google-Scoutnet-synk/issues/13>);
//! * `GET /admin/directory/v1/customer/{customer}/orgunits` — `orgunits.list`
//!   (<https://developers.google.com/workspace/admin/directory/reference/rest/v1/orgunits/list>): `type`
//!   `all`/`children`/`allIncludingParent`, `orgUnitPath`, no paging;
//! * `fields` partial responses on both ("Partial response",
//!   <https://developers.google.com/workspace/admin/directory/v1/guides/performance#partial-response>);
//! * the per-user rate limit of "Limits and quotas"
//!   (<https://developers.google.com/workspace/admin/directory/v1/limits>): 2,400 queries per minute per user by
//!   default, 403 `userRateLimitExceeded` beyond it; fault injection ([`Faults`], with Google's error bodies) and
//!   request counters ([`Counters`]).
//!
//! Errors have Google's JSON error shape: `{"error":{"code","message","errors":[{"message","domain","reason"}],
//! "status"}}`. Time is the real clock plus what a test adds with [`FakeGoogle::advance_clock`]: JWT assertions
//! carry real timestamps, and token expiry and the rate limit move with the advance, so tests need no sleeps.
//!
//! ```
//! use testkit::google::sample;
//!
//! # async fn run() -> std::io::Result<()> {
//! let (fake, domain) = sample::fake();
//! let server = fake.start().await?;
//! let key_json = fake.key_json(&server); // a service account key file whose token_uri is the fake
//! # drop((server, key_json, domain)); Ok(()) }
//! ```

mod auth;
mod fields;
mod routes;
pub mod sample;
mod state;

use crate::counters::{self, Counters};
use crate::faults::{self, Fault, Faults};
use crate::server::RunningServer;
use axum::Router;
use axum::middleware::from_fn_with_state;
use sample::{DomainUser, GoogleDomain};
use state::{OrgUnitRec, State, UserRec};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Why a change to the fake's state was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FakeGoogleError {
    /// No such user.
    #[error("no user `{0}` in the fake domain")]
    UnknownUser(String),
    /// No such organisational unit.
    #[error("no organisational unit `{0}` in the fake domain")]
    UnknownOrgUnit(String),
    /// The unit's parent does not exist.
    #[error("the parent of `{0}` does not exist")]
    NoParent(String),
}

/// A service account the fake knows: its email, client id, key id and private key (the fake keeps only the
/// public half).
#[derive(Clone)]
pub struct ServiceAccount {
    /// Email (`iss`).
    pub client_email: String,
    /// Numeric client id (authorised under domain-wide delegation).
    pub client_id: String,
    /// Key id (`kid`).
    pub key_id: String,
    /// The private key, PKCS #8 PEM; the fake derives the public key from it.
    pub private_key_pem: String,
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("client_id", &self.client_id)
            .field("key_id", &self.key_id)
            .field("private_key_pem", &"[redacted]")
            .finish()
    }
}

struct Shared {
    state: Mutex<State>,
    faults: Faults,
    counters: Counters,
}

/// The fake. Cheap to clone; clones share one domain, one fault script and one set of counters.
#[derive(Clone)]
pub struct FakeGoogle {
    shared: Arc<Shared>,
}

impl fmt::Debug for FakeGoogle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_state(|st| {
            f.debug_struct("FakeGoogle")
                .field("domain", &st.domain)
                .field("users", &st.users.len())
                .field("org_units", &st.org_units.len())
                .finish_non_exhaustive()
        })
    }
}

/// Google's error body: `{"error":{"code","message","errors":[{"message","domain","reason"}],"status"}}`.
pub fn error_body(status: u16, reason: &str, message: &str) -> serde_json::Value {
    let (domain, grpc) = match status {
        400 => ("global", "INVALID_ARGUMENT"),
        401 => ("global", "UNAUTHENTICATED"),
        403 if crate_throttling(reason) => ("usageLimits", "PERMISSION_DENIED"),
        403 => ("global", "PERMISSION_DENIED"),
        404 => ("global", "NOT_FOUND"),
        429 => ("usageLimits", "RESOURCE_EXHAUSTED"),
        503 => ("global", "UNAVAILABLE"),
        _ => ("global", "INTERNAL"),
    };
    serde_json::json!({
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
            "status": grpc,
        }
    })
}

/// An error answer of the Directory API, small enough to pass around as a `Result`'s error.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: axum::http::StatusCode,
    body: serde_json::Value,
}

impl ApiError {
    pub(crate) fn new(status: axum::http::StatusCode, reason: &str, message: &str) -> ApiError {
        ApiError { status, body: error_body(status.as_u16(), reason, message) }
    }
}

impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if self.status == axum::http::StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
            );
        }
        response
    }
}

fn crate_throttling(reason: &str) -> bool {
    matches!(reason, "userRateLimitExceeded" | "rateLimitExceeded" | "quotaExceeded")
}

/// The error body a status fault carries when the test gives none.
pub fn google_error_body(status: u16) -> serde_json::Value {
    let (reason, message) = match status {
        400 => ("badRequest", "Bad Request"),
        401 => ("authError", "Invalid Credentials"),
        403 => ("forbidden", "Not Authorized to access this resource/api"),
        404 => ("notFound", "Resource Not Found"),
        429 => ("rateLimitExceeded", "Rate Limit Exceeded"),
        500 => ("backendError", "Backend Error"),
        502 => ("backendError", "Bad Gateway"),
        503 => ("backendError", "The service is currently unavailable."),
        504 => ("backendError", "Deadline exceeded"),
        _ => ("unknown", "Unknown Error"),
    };
    error_body(status, reason, message)
}

/// A 403 `userRateLimitExceeded`, as "Limits and quotas" describes it (for fault injection).
pub fn user_rate_limit_fault() -> Fault {
    Fault::Status {
        status: 403,
        retry_after: None,
        body: Some(error_body(
            403,
            "userRateLimitExceeded",
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service \
             'admin.googleapis.com'.",
        )),
    }
}

/// A 403 `quotaExceeded` ("the limit of concurrent requests for a certain operation has been reached").
pub fn quota_exceeded_fault() -> Fault {
    Fault::Status {
        status: 403,
        retry_after: None,
        body: Some(error_body(403, "quotaExceeded", "Quota exceeded for concurrent requests.")),
    }
}

/// Whether `path` is `ancestor` or under it, letter case ignored (`/` holds everything).
pub(crate) fn within(path: &str, ancestor: &str) -> bool {
    let path = path.trim_end_matches('/').to_lowercase();
    let ancestor = ancestor.trim_end_matches('/').to_lowercase();
    ancestor.is_empty() || path == ancestor || (path.starts_with(&ancestor) && path[ancestor.len()..].starts_with('/'))
}

impl FakeGoogle {
    /// An empty domain (`example.org`, customer `C01234567`).
    pub fn new() -> FakeGoogle {
        FakeGoogle::with(State::new("C01234567".into(), "example.org".into()))
    }

    /// A fake holding `domain`'s units and users.
    pub fn from_domain(domain: &GoogleDomain) -> FakeGoogle {
        let mut st = State::new(domain.customer_id.clone(), domain.spec.domain.clone());
        for unit in &domain.org_units {
            st.insert_unit(OrgUnitRec::new(unit.id.clone(), &unit.path, unit.description.clone()));
        }
        for user in &domain.users {
            st.users.insert(user.id.clone(), UserRec::from(user));
        }
        FakeGoogle::with(st)
    }

    fn with(state: State) -> FakeGoogle {
        FakeGoogle {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                faults: Faults::with_error_body(google_error_body),
                counters: Counters::default(),
            }),
        }
    }

    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut guard = self.shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }

    /// The customer id.
    pub fn customer_id(&self) -> String {
        self.with_state(|st| st.customer_id.clone())
    }

    /// The primary domain.
    pub fn domain(&self) -> String {
        self.with_state(|st| st.domain.clone())
    }

    // ---- service accounts and delegation ----

    /// Registers a service account (its public key); assertions it signs can then be verified.
    pub fn register_service_account(&self, account: ServiceAccount) {
        let public = auth::public_key_der(&account.private_key_pem);
        self.with_state(|st| {
            st.service_accounts.insert(
                account.client_email.to_lowercase(),
                state::ServiceAccountRec { client_id: account.client_id, key_id: account.key_id, public_key: public },
            );
        });
    }

    /// Authorises a client id for scopes under domain-wide delegation (Admin console: Security → API controls →
    /// Domain-wide delegation). Replaces what was authorised before.
    pub fn authorise_delegation<I, S>(&self, client_id: &str, scopes: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes = scopes.into_iter().map(Into::into).collect();
        self.with_state(|st| {
            st.delegations.insert(client_id.to_owned(), scopes);
        });
    }

    /// Removes a client id's domain-wide delegation: its token requests get `unauthorized_client`.
    pub fn revoke_delegation(&self, client_id: &str) {
        self.with_state(|st| {
            st.delegations.remove(client_id);
        });
    }

    /// Invalidates every access token issued so far (they answer 401 `authError`).
    pub fn revoke_tokens(&self) {
        self.with_state(|st| st.tokens.clear());
    }

    /// The lifetime of access tokens issued from now on (default 3599 s).
    pub fn set_access_token_lifetime(&self, lifetime: Duration) {
        self.with_state(|st| st.settings.token_lifetime = lifetime);
    }

    /// Moves the fake's clock forward: tokens expire, the rate limit refills, assertions made before look old.
    pub fn advance_clock(&self, by: Duration) {
        self.with_state(|st| st.advance += by);
    }

    /// Queries per minute per user before 403 `userRateLimitExceeded` (default 2,400, the documented default);
    /// `None` for no limit.
    pub fn set_user_rate_limit(&self, per_minute: Option<u32>) {
        self.with_state(|st| {
            st.settings.user_rate_limit = per_minute;
            st.buckets.clear();
        });
    }

    /// Whether `orgUnitPath=` in a `users.list` query includes sub-units (default `true`, as documented). Turning it
    /// off makes the fake answer direct members only, to test that a client's "a parent includes its sub-units"
    /// does not depend on that behaviour.
    pub fn set_org_unit_query_includes_sub_units(&self, on: bool) {
        self.with_state(|st| st.settings.query_includes_sub_units = on);
    }

    /// Answers of `403 userRateLimitExceeded` the rate limit (not fault injection) has sent.
    pub fn rate_limited(&self) -> u64 {
        self.with_state(|st| st.rate_limited)
    }

    // ---- units and users ----

    /// Adds an organisational unit; its parent must exist.
    pub fn add_org_unit(&self, path: &str, description: &str) -> Result<(), FakeGoogleError> {
        self.with_state(|st| {
            let parent = state::parent_of(path);
            if parent != "/" && !st.org_units.contains_key(&parent.to_lowercase()) {
                return Err(FakeGoogleError::NoParent(path.into()));
            }
            let id = format!("id:{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
            st.insert_unit(OrgUnitRec::new(id, path, description.to_owned()));
            Ok(())
        })
    }

    /// Deletes an organisational unit (and, as the Admin console refuses to delete a unit that holds users, fails
    /// when users are in it or under it).
    pub fn delete_org_unit(&self, path: &str) -> Result<(), FakeGoogleError> {
        self.with_state(|st| {
            if st.users.values().any(|u| within(&u.org_unit_path, path)) {
                return Err(FakeGoogleError::UnknownOrgUnit(format!("{path} (it still holds users)")));
            }
            let before = st.org_units.len();
            st.org_units.retain(|_, u| !within(&u.path, path));
            if st.org_units.len() == before {
                return Err(FakeGoogleError::UnknownOrgUnit(path.into()));
            }
            Ok(())
        })
    }

    /// Adds a user (or replaces the one with the same id).
    pub fn add_user(&self, user: &DomainUser) {
        self.with_state(|st| {
            st.users.insert(user.id.clone(), UserRec::from(user));
        });
    }

    /// Changes a user.
    pub fn update_user(&self, id: &str, change: impl FnOnce(&mut DomainUser)) -> Result<(), FakeGoogleError> {
        self.with_state(|st| {
            let rec = st.users.get_mut(id).ok_or_else(|| FakeGoogleError::UnknownUser(id.into()))?;
            let mut user = rec.to_domain_user();
            change(&mut user);
            *rec = UserRec::from(&user);
            Ok(())
        })
    }

    /// Suspends (`true`) or restores a user.
    pub fn set_suspended(&self, id: &str, suspended: bool) -> Result<(), FakeGoogleError> {
        self.update_user(id, |u| u.suspended = suspended)
    }

    /// Moves a user to another unit (which must exist, or be `/`).
    pub fn move_user(&self, id: &str, path: &str) -> Result<(), FakeGoogleError> {
        let known = path == "/" || self.with_state(|st| st.org_units.contains_key(&path.to_lowercase()));
        if !known {
            return Err(FakeGoogleError::UnknownOrgUnit(path.into()));
        }
        self.update_user(id, |u| u.org_unit_path = path.to_owned())
    }

    /// Deletes a user.
    pub fn delete_user(&self, id: &str) -> Result<(), FakeGoogleError> {
        self.with_state(|st| st.users.remove(id)).map(|_| ()).ok_or_else(|| FakeGoogleError::UnknownUser(id.into()))
    }

    /// A user by id.
    pub fn user(&self, id: &str) -> Option<DomainUser> {
        self.with_state(|st| st.users.get(id).map(UserRec::to_domain_user))
    }

    // ---- plumbing ----

    /// The fault script (its status faults carry Google's error body).
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// The request counters.
    pub fn counters(&self) -> Counters {
        self.shared.counters.clone()
    }

    /// The whole service as an axum router: counters outermost, then faults, then the routes.
    pub fn router(&self) -> Router {
        routes::router(self.clone())
            .merge(auth::router(self.clone()))
            .layer(from_fn_with_state(self.faults(), faults::inject))
            .layer(from_fn_with_state(self.counters(), counters::count))
    }

    /// Serves the fake on `127.0.0.1:0`.
    pub async fn start(&self) -> std::io::Result<RunningServer> {
        RunningServer::start(self.router()).await
    }

    /// The API root to configure a client with (`{root}admin/directory/v1/…`).
    pub fn base_url(server: &RunningServer) -> String {
        format!("{}/", server.url())
    }

    /// The token endpoint (`token_uri` of the key file).
    pub fn token_url(server: &RunningServer) -> String {
        format!("{}/token", server.url())
    }

    /// The sample service account's key file with `token_uri` pointing at this running fake.
    pub fn key_json(&self, server: &RunningServer) -> String {
        sample::key_json(&FakeGoogle::token_url(server), sample::SERVICE_ACCOUNT_KEY_PEM)
    }
}

impl Default for FakeGoogle {
    fn default() -> FakeGoogle {
        FakeGoogle::new()
    }
}
