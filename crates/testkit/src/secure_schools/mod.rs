//! A stateful fake of the Secure Schools platform API, built to the assumed contract in
//! `docs/secure-schools-api.md` (and `docs/secure-schools-api.openapi.json`), section by section.
//!
//! * **State you can read.** Organisations, admin identities and their memberships, and users live in one shared
//!   state. Tests seed it ([`add_organisation`](FakeSecureSchools::add_organisation),
//!   [`add_identity`](FakeSecureSchools::add_identity), [`add_user`](FakeSecureSchools::add_user) for users that
//!   existed before any sync) and read it back as the ground truth ([`users`](FakeSecureSchools::users),
//!   [`user_by_email`](FakeSecureSchools::user_by_email), [`batch_stats`](FakeSecureSchools::batch_stats)).
//! * **The contract's behaviour.** Bearer auth (401 / 403), `GET /me`, cursor paging of organisations and users
//!   (`limit` 1–500, `updated_since`, stable order, expiring cursors), create / patch / delete with the uniqueness
//!   rules, and batches of up to 100 operations applied once per `Idempotency-Key`, with per-item results.
//! * **A clock.** Every change stamps `updated_at` with the fake's clock, which only moves when a test moves it
//!   ([`advance_clock`](FakeSecureSchools::advance_clock)), so `updated_since` and the 24-hour key retention are
//!   testable.
//! * **Faults and counters.** The shared [`Faults`] script (answering with the contract's error body) and
//!   [`Counters`] (requests per endpoint, 429s, bytes) wrap every route; every answer carries an `X-Request-Id`.
//!
//! ```
//! use testkit::secure_schools::{FakeSecureSchools, Identity, NewUser, Organisation, UserRole};
//!
//! # async fn run() -> std::io::Result<()> {
//! let fake = FakeSecureSchools::new();
//! fake.add_organisation(Organisation::new("org_st_aidans", "St Aidan's Primary School", "100000")).unwrap();
//! fake.add_identity("token-1", Identity::new("p_1", "it.admin@trust.example", "IT Admin").admin_of("org_st_aidans"));
//! // A user who was there before the sync: it should be adopted by email, not duplicated.
//! fake.add_user("org_st_aidans", NewUser::new("Ada.Lovelace@st-aidans.example", "Ada", "Lovelace", UserRole::Staff))
//!     .unwrap();
//! let server = fake.start().await?;
//! // ... point a client at server.url() with "token-1" ...
//! assert_eq!(fake.users("org_st_aidans").len(), 1);
//! # Ok(()) }
//! ```

mod cursor;
mod handlers;
mod model;
mod state;
mod validate;

pub use model::{
    BatchResult, ErrorDetail, Identity, Membership, MembershipRole, NewUser, Organisation, User, UserPatch, UserRole,
    UserStatus, error_body, error_code,
};
pub use state::{BatchStats, StateError};

use crate::counters::{self, Counters};
use crate::faults::{self, Faults};
use crate::server::RunningServer;
use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::{self as mw, Next};
use axum::response::Response;
use axum::routing::{get, patch, post};
use chrono::{DateTime, Utc};
use state::State;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The fake. Clones share one state, one fault script and one set of counters.
#[derive(Debug, Clone)]
pub struct FakeSecureSchools {
    state: Arc<Mutex<State>>,
    faults: Faults,
    counters: Counters,
}

impl Default for FakeSecureSchools {
    fn default() -> FakeSecureSchools {
        FakeSecureSchools::new()
    }
}

impl FakeSecureSchools {
    /// An empty fake: no organisations, no identities, the clock at 2025-09-01T08:00:00Z.
    pub fn new() -> FakeSecureSchools {
        FakeSecureSchools {
            state: Arc::default(),
            faults: Faults::with_error_body(error_body),
            counters: Counters::default(),
        }
    }

    /// The state, even if a test panicked while holding it (the state is still the best truth there is).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    // ----- seeding -----

    /// Adds an organisation. Fails if one with the same id exists.
    pub fn add_organisation(&self, organisation: Organisation) -> Result<(), StateError> {
        self.lock().add_organisation(organisation)
    }

    /// Makes `token` a valid bearer token of `identity` (what `GET /me` answers). Replaces what the token meant
    /// before. Several tokens may share one identity.
    pub fn add_identity(&self, token: impl Into<String>, identity: Identity) {
        self.lock().identities.insert(token.into(), identity);
    }

    /// Makes a token invalid: requests with it answer `401 unauthorized` from now on (an expired or revoked token).
    pub fn revoke_token(&self, token: &str) -> Option<Identity> {
        self.lock().identities.remove(token)
    }

    /// Adds a user directly, as if it existed on the platform already (typically `managed_by_sync: false` and no
    /// external id, see [`NewUser::new`]), under a fresh id and the current clock. The contract's uniqueness rules
    /// hold: a taken email (case-insensitively) or external id is a [`StateError::Conflict`].
    pub fn add_user(&self, organisation_id: &str, user: NewUser) -> Result<User, StateError> {
        self.lock().create_user(organisation_id, user)
    }

    /// Adds many users under one lock (for seeding large trusts). Stops at the first refusal.
    pub fn add_users(
        &self,
        organisation_id: &str,
        users: impl IntoIterator<Item = NewUser>,
    ) -> Result<Vec<User>, StateError> {
        let mut state = self.lock();
        users.into_iter().map(|u| state.create_user(organisation_id, u)).collect()
    }

    /// Changes a user directly (as an administrator would in the platform's own pages), under the same rules as a
    /// `PATCH`: `updated_at` moves to the clock's time if anything changed.
    pub fn edit_user(
        &self,
        organisation_id: &str,
        user_id: &str,
        edit: impl FnOnce(&mut User),
    ) -> Result<User, StateError> {
        let mut state = self.lock();
        let now = state.now;
        let org = state.org_mut(organisation_id)?;
        let mut user = org.users.get(user_id).cloned().ok_or_else(|| StateError::NoSuchUser(user_id.to_owned()))?;
        edit(&mut user);
        user.id = user_id.to_owned();
        org.replace(user, now)
    }

    /// Removes a user directly. Returns what it was.
    pub fn remove_user(&self, organisation_id: &str, user_id: &str) -> Result<User, StateError> {
        self.lock().org_mut(organisation_id)?.delete(user_id)
    }

    // ----- the truth to assert against -----

    /// Every organisation, ordered by id.
    pub fn organisations(&self) -> Vec<Organisation> {
        self.lock().orgs.values().map(|o| o.organisation.clone()).collect()
    }

    /// Every user of an organisation, ordered by id (which is creation order); empty for an unknown organisation.
    pub fn users(&self, organisation_id: &str) -> Vec<User> {
        self.lock().orgs.get(organisation_id).map(|o| o.users.values().cloned().collect()).unwrap_or_default()
    }

    /// One user by id.
    pub fn user(&self, organisation_id: &str, user_id: &str) -> Option<User> {
        self.lock().orgs.get(organisation_id).and_then(|o| o.users.get(user_id).cloned())
    }

    /// The user with this email, compared case-insensitively as the platform does.
    pub fn user_by_email(&self, organisation_id: &str, email: &str) -> Option<User> {
        self.lock().orgs.get(organisation_id).and_then(|o| o.user_by_email(email).cloned())
    }

    /// The user with this external id.
    pub fn user_by_external_id(&self, organisation_id: &str, external_id: &str) -> Option<User> {
        self.lock().orgs.get(organisation_id).and_then(|o| o.user_by_external_id(external_id).cloned())
    }

    /// The identity a token belongs to.
    pub fn identity(&self, token: &str) -> Option<Identity> {
        self.lock().identities.get(token).cloned()
    }

    /// How many batches were applied, replayed from the store, or refused for their key.
    pub fn batch_stats(&self) -> BatchStats {
        self.lock().batch_stats
    }

    // ----- knobs -----

    /// The fake clock: what `updated_at` is set to by every change.
    pub fn now(&self) -> DateTime<Utc> {
        self.lock().now
    }

    /// Moves the clock forward.
    pub fn advance_clock(&self, by: Duration) {
        let mut state = self.lock();
        let by = chrono::TimeDelta::from_std(by).unwrap_or(chrono::TimeDelta::MAX);
        state.now = state.now.checked_add_signed(by).unwrap_or(DateTime::<Utc>::MAX_UTC);
    }

    /// Sets the clock.
    pub fn set_clock(&self, now: DateTime<Utc>) {
        self.lock().now = now;
    }

    /// Organisations per page of `GET /organisations` (default 100; the contract gives that endpoint no `limit`).
    /// Values below 1 count as 1.
    pub fn set_organisation_page_size(&self, size: usize) {
        self.lock().organisation_page_size = size.max(1);
    }

    /// Makes every cursor issued so far expired: sending one answers `422 validation_failed` ("Paging": cursors may
    /// expire; start again from the first page).
    pub fn expire_cursors(&self) {
        self.lock().cursor_epoch += 1;
    }

    /// How long a batch takes to apply (default none). While a batch is being applied, another request with its
    /// key answers `409 conflict` ("Batches and idempotency").
    pub fn set_batch_delay(&self, delay: Duration) {
        self.lock().batch_delay = delay;
    }

    /// The fault script (status faults answer with the contract's error body for the status).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The request counters, keyed by route template (`"POST /organisations/{org}/users/batch"`).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    // ----- serving -----

    /// The contract's routes, at the root (nest it to serve under a base path such as `/api/v1`), wrapped in the
    /// counters (outermost), an `X-Request-Id` on every answer, and the fault script.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/me", get(handlers::me))
            .route("/organisations", get(handlers::organisations))
            .route("/organisations/{org}/users", get(handlers::list_users).post(handlers::create_user))
            .route("/organisations/{org}/users/batch", post(handlers::batch))
            .route("/organisations/{org}/users/{id}", patch(handlers::update_user).delete(handlers::delete_user))
            .fallback(handlers::fallback)
            .layer(mw::from_fn_with_state(self.faults.clone(), faults::inject))
            .layer(mw::from_fn_with_state(self.clone(), request_id))
            .layer(mw::from_fn_with_state(self.counters.clone(), counters::count))
            .with_state(self.clone())
    }

    /// Serves [`router`](Self::router) on `127.0.0.1:0`.
    pub async fn start(&self) -> std::io::Result<RunningServer> {
        RunningServer::start(self.router()).await
    }
}

/// Puts `X-Request-Id: req-<n>` on every answer ("Basics": the server's id for a request, quoted in errors).
async fn request_id(
    axum::extract::State(fake): axum::extract::State<FakeSecureSchools>,
    request: Request,
    next: Next,
) -> Response {
    let n = {
        let mut state = fake.lock();
        state.next_request += 1;
        state.next_request
    };
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&format!("req-{n:06}")) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
