//! A stateful fake of the Wonde API v1.0, for tests and benchmarks that cannot use a real school.
//!
//! What it serves, each behaviour following the Wonde documentation (<https://docs.wonde.com/>, the "sync" API
//! reference <https://docs.wonde.com/docs/api/sync>) or, where the stored copy of those pages is silent, Wonde's
//! own client library (`wondeltd/php-client`), as noted next to the code:
//!
//! * auth: "two separate ways" (docs, "Authentication"): `Authorization: Bearer <token>`, or HTTP Basic with the
//!   token as the user name and an empty password; an unknown token answers 401;
//! * access per school: a token reads a school only once the school has approved access (403 otherwise); schools
//!   asked and not yet approved are listed by `GET /v1.0/schools/pending` (php-client `schools->pending()`);
//! * `GET /v1.0/schools/{id}` with the school's `region` object (docs, "Regional Domains": "The domain required
//!   for a school is available through the region object"); lists of a school whose region is another domain than
//!   the one this fake plays answer no data ("Using the wrong domain for a school will return no data");
//! * `GET /v1.0/schools/{id}/students`, `/students-leaver`, `/employees`, `/classes`, `/groups`, `/deletions`,
//!   each `{"data": [...], "meta": {"pagination": {...}, "includes": [...]}}`, with `include` (students:
//!   `contact_details`, `year`, `classes`, `groups`; employees: `contact_details`, `classes`; classes: `students`,
//!   `employees`, `subject`; groups: `students`, `employees`), `per_page` (default 50, at most 200), `page`, and
//!   `updated_after` (`Y-m-d H:i:s`, records changed strictly after it); deletions filter on `type`;
//! * paging: `meta.pagination` `{next, previous, more, per_page, current_page}`, `next` an absolute URL to follow
//!   as given, `null` on the last page (php-client `ResultIterator` follows `meta.pagination.next`);
//! * dates as Wonde writes them: `{"date": "Y-m-d H:i:s.u", "timezone_type": 3, "timezone": "UTC"}`;
//! * change tracking: every change stamps `updated_at` with the fake's clock; a student who leaves moves to
//!   `/students-leaver`; a record deleted from the MIS goes and is listed by `/deletions`;
//! * throttling (429 with `Retry-After`, a token bucket per token; the stored docs give no numbers, so the limit
//!   is set by the test, [`FakeWonde::set_rate_limit`]), fault injection ([`Faults`]) and request counters
//!   ([`Counters`]).
//!
//! Error bodies are `{"error": "<code>", "error_description": "<text>"}`; the stored docs do not show Wonde's, so
//! clients must not depend on more than the status.
//!
//! ```
//! use testkit::wonde::{FakeWonde, SchoolSpec};
//!
//! # async fn run() -> std::io::Result<()> {
//! let school = SchoolSpec::small().generate();
//! let fake = FakeWonde::new();
//! fake.add_school(school.clone());
//! fake.grant("wonde-token", &school.school.id);
//! let server = fake.start().await?;
//! // Point a client at FakeWonde::base_url(&server) with the token "wonde-token".
//! # drop(server); Ok(()) }
//! ```

mod handlers;
pub mod model;
mod sample;
mod state;

pub use model::{
    Access, SchoolData, WondeClass, WondeEmployee, WondeGroup, WondeSchool, WondeStudent, WondeSubject, WondeYear,
};
pub use sample::SchoolSpec;

use crate::counters::{self, Counters};
use crate::faults::{self, Faults};
use crate::server::RunningServer;
use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use chrono::{DateTime, Utc};
use state::State;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Why a change to the fake's state was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FakeWondeError {
    /// No such school.
    #[error("no school `{0}` in the fake Wonde")]
    UnknownSchool(String),
    /// No such record in the school.
    #[error("no {kind} `{id}` in school `{school}`")]
    UnknownRecord {
        /// The school.
        school: String,
        /// `student`, `employee`, `class`.
        kind: &'static str,
        /// The id.
        id: String,
    },
}

/// Wonde's error body for a status, for fault injection.
pub fn wonde_error_body(status: u16) -> serde_json::Value {
    let (code, text) = match status {
        400 => ("bad_request", "The request is not valid."),
        401 => ("unauthorized", "The access token is missing or not valid."),
        403 => ("forbidden", "The school has not approved access for this token."),
        404 => ("not_found", "Not found."),
        429 => ("too_many_requests", "Too many requests; retry after the number of seconds in Retry-After."),
        500 => ("server_error", "An unexpected error occurred."),
        502 => ("bad_gateway", "Bad gateway."),
        503 => ("service_unavailable", "The service is temporarily unavailable."),
        504 => ("gateway_timeout", "Gateway timeout."),
        _ => ("error", "An error occurred."),
    };
    serde_json::json!({"error": code, "error_description": text})
}

struct Shared {
    state: Mutex<State>,
    faults: Faults,
    counters: Counters,
}

/// The fake. Cheap to clone; clones share one state, one fault script and one set of counters.
#[derive(Clone)]
pub struct FakeWonde {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FakeWonde {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.with_state(|st| {
            f.debug_struct("FakeWonde")
                .field("domain", &st.domain)
                .field("schools", &st.schools.keys().collect::<Vec<_>>())
                .finish_non_exhaustive()
        })
    }
}

impl Default for FakeWonde {
    fn default() -> FakeWonde {
        FakeWonde::new()
    }
}

impl FakeWonde {
    /// An empty fake playing `api.wonde.com`, its clock at the current time.
    pub fn new() -> FakeWonde {
        FakeWonde {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new(Utc::now())),
                faults: Faults::with_error_body(wonde_error_body),
                counters: Counters::default(),
            }),
        }
    }

    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut guard = self.shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }

    // ---- setup ----

    /// Adds a school with its data (or replaces the one with the same id); every record is stamped now.
    pub fn add_school(&self, data: SchoolData) {
        self.with_state(|st| st.add_school(data));
    }

    /// The API domain this fake plays (default `api.wonde.com`); lists of schools whose region is elsewhere answer
    /// no data.
    pub fn set_domain(&self, domain: impl Into<String>) {
        self.with_state(|st| st.domain = domain.into());
    }

    /// Gives `token` approved access to `school`.
    pub fn grant(&self, token: &str, school: &str) {
        self.with_state(|st| st.set_access(token, school, Some(Access::Approved)));
    }

    /// Sets or clears a token's access to a school (`Pending`: asked, not yet approved; `None`: never asked, or
    /// revoked).
    pub fn set_access(&self, token: &str, school: &str, access: Option<Access>) {
        self.with_state(|st| st.set_access(token, school, access));
    }

    /// The default page size when no `per_page` is given (default 50).
    pub fn set_default_per_page(&self, n: usize) {
        self.with_state(|st| st.default_per_page = n.clamp(1, state::MAX_PER_PAGE));
    }

    /// Allows each token `requests` requests per `per`; beyond that, 429 with `Retry-After` (off by default).
    pub fn set_rate_limit(&self, requests: u32, per: Duration) {
        self.with_state(|st| st.set_rate_limit(Some((requests.max(1), per.max(Duration::from_millis(1))))));
    }

    /// Turns throttling off.
    pub fn clear_rate_limit(&self) {
        self.with_state(|st| st.set_rate_limit(None));
    }

    // ---- time ----

    /// The fake's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.with_state(|st| st.now)
    }

    /// Moves the clock forward (rate-limit buckets refill, later changes get later `updated_at`).
    pub fn advance_clock(&self, by: Duration) {
        self.with_state(|st| st.now += chrono::Duration::from_std(by).unwrap_or_else(|_| chrono::Duration::zero()));
    }

    /// Sets the clock.
    pub fn set_clock(&self, now: DateTime<Utc>) {
        self.with_state(|st| st.now = now);
    }

    // ---- changes at the MIS ----

    /// Adds a student (or replaces the one with the same id).
    pub fn add_student(&self, school: &str, student: WondeStudent) -> Result<(), FakeWondeError> {
        self.with_state(|st| st.school_mut(school).map(|s| s.upsert_student(student)))
    }

    /// Changes a student; `updated_at` becomes now.
    pub fn update_student(
        &self,
        school: &str,
        id: &str,
        change: impl FnOnce(&mut WondeStudent),
    ) -> Result<(), FakeWondeError> {
        self.with_state(|st| st.school_mut(school)?.update_student(id, change))
    }

    /// The student leaves: gone from `/students` and from classes and groups, listed by `/students-leaver`.
    pub fn student_leaves(&self, school: &str, id: &str) -> Result<(), FakeWondeError> {
        self.with_state(|st| st.school_mut(school)?.student_leaves(id))
    }

    /// The student is deleted from the MIS: gone, and listed by `/deletions` with type `student`.
    pub fn delete_student(&self, school: &str, id: &str) -> Result<(), FakeWondeError> {
        self.with_state(|st| st.school_mut(school)?.delete_student(id))
    }

    /// Adds an employee (or replaces the one with the same id).
    pub fn add_employee(&self, school: &str, employee: WondeEmployee) -> Result<(), FakeWondeError> {
        self.with_state(|st| st.school_mut(school).map(|s| s.upsert_employee(employee)))
    }

    /// Changes an employee; `updated_at` becomes now.
    pub fn update_employee(
        &self,
        school: &str,
        id: &str,
        change: impl FnOnce(&mut WondeEmployee),
    ) -> Result<(), FakeWondeError> {
        self.with_state(|st| st.school_mut(school)?.update_employee(id, change))
    }

    /// The employee is deleted from the MIS (left the school): gone, listed by `/deletions` with type `employee`.
    pub fn delete_employee(&self, school: &str, id: &str) -> Result<(), FakeWondeError> {
        self.with_state(|st| st.school_mut(school)?.delete_employee(id))
    }

    /// A school's current data (students on roll, employees, classes, groups).
    pub fn school_data(&self, school: &str) -> Option<SchoolData> {
        self.with_state(|st| st.schools.get(school).map(|s| s.data()))
    }

    // ---- plumbing ----

    /// The fault script (its status faults carry Wonde's error body).
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// The request counters.
    pub fn counters(&self) -> Counters {
        self.shared.counters.clone()
    }

    /// The service as an axum router: counters outermost, then faults, then throttling, then the routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1.0/schools/pending", get(handlers::pending))
            .route("/v1.0/schools/{school}", get(handlers::school))
            .route("/v1.0/schools/{school}/{resource}", get(handlers::list))
            .route_layer(from_fn_with_state(self.clone(), handlers::throttle))
            .fallback(handlers::fallback)
            .with_state(self.clone())
            .layer(from_fn_with_state(self.faults(), faults::inject))
            .layer(from_fn_with_state(self.counters(), counters::count))
    }

    /// Serves the fake on `127.0.0.1:0`.
    pub async fn start(&self) -> std::io::Result<RunningServer> {
        RunningServer::start(self.router()).await
    }

    /// The v1.0 base URL to configure a client with: `http://127.0.0.1:<port>/v1.0/`.
    pub fn base_url(server: &RunningServer) -> url::Url {
        // `http://<socket address>/v1.0/` always parses.
        #[allow(clippy::expect_used)]
        url::Url::parse(&format!("http://{}/v1.0/", server.addr())).expect("a socket address makes a valid URL")
    }
}
