//! A OneRoster 1.1 REST provider, as an [axum] [`Router`]: the read side of the rostering service that Microsoft
//! School Data Sync (and any other OneRoster 1.1 consumer) pulls rosters from.
//!
//! * **Every rostering read endpoint** of OneRoster 1.1 under [`BASE_PATH`] (`/ims/oneroster/v1p1`), collections
//!   and single records, with the specification's wrappers (see [the table below](#endpoints)).
//! * **Paging, filtering, sorting and field selection** with `limit`, `offset`, `filter`, `sort` + `orderBy` and
//!   `fields`, parsed into [`oneroster_model::query`]'s typed query and evaluated against typed values: no query
//!   text ever becomes code.
//! * **An OAuth 2.0 token endpoint** at [`TOKEN_PATH`] (client credentials, RFC 6749 §4.4) whose bearer tokens
//!   every read requires, and **OAuth 1.0a** HMAC-SHA1/HMAC-SHA256 signatures (RFC 5849) for older consumers.
//! * **An immutable in-memory [`Snapshot`]** of the roster, swapped atomically ([`SnapshotHandle::swap`]) after
//!   each import, so that reads never touch the database and a page never mixes two rosters.
//!
//! # Example
//!
//! Build a router from a roster and call it in-process, as the tests do:
//!
//! ```
//! use axum::body::Body;
//! use axum::http::{Request, StatusCode};
//! use oneroster_model::{Base, Org, OrgType, Roster};
//! use oneroster_server::{app, AppState, ClientSecret, ServerConfig, Snapshot, SnapshotHandle, StaticClients};
//! use tower::ServiceExt as _;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut roster = Roster::default();
//! roster.orgs.push(Org {
//!     base: Base::new("school-1"),
//!     name: "St Aidan's Primary".into(),
//!     org_type: OrgType::School,
//!     identifier: None,
//!     parent: None,
//!     children: vec![],
//! });
//! let snapshots = SnapshotHandle::new(Snapshot::from_roster(1, roster)?);
//! let secret = ClientSecret::new("correct-horse-battery-staple");
//! let state = AppState::builder(snapshots.clone())
//!     .config(ServerConfig::default().public_base_url("https://feed.example")?)
//!     .clients(StaticClients::new().with_secret("WebserviceUser", &secret)?)
//!     .build();
//! let router = app(state);
//!
//! // A token, with the client authenticated by form fields (HTTP Basic works too)…
//! let request = Request::post("/oauth/token")
//!     .header("content-type", "application/x-www-form-urlencoded")
//!     .body(Body::from(
//!         "grant_type=client_credentials&client_id=WebserviceUser&client_secret=correct-horse-battery-staple",
//!     ))?;
//! let response = router.clone().oneshot(request).await?;
//! let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
//! let token: serde_json::Value = serde_json::from_slice(&body)?;
//! let token = token["access_token"].as_str().unwrap_or_default();
//!
//! // …then a read.
//! let request = Request::get("/ims/oneroster/v1p1/schools?limit=10")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(Body::empty())?;
//! let response = router.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()["x-total-count"], "1");
//! let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
//! assert!(body.starts_with(br#"{"orgs":[{"sourcedId":"school-1""#));
//!
//! // After an import, swap a new snapshot in; the next request sees it.
//! snapshots.swap(Snapshot::from_roster(2, Roster::default())?);
//! # Ok(()) }
//! ```
//!
//! A server fed from a [`roster_store::Store`] loads its first snapshot with [`load_snapshot`], passes the store
//! as the [`ClientStore`] (its `api_clients` table holds the argon2 hashes `credentials rotate` writes with
//! [`hash_client_secret`]), and keeps the snapshot fresh with [`spawn_reloader`].
//!
//! # Endpoints
//!
//! Every path is under [`BASE_PATH`]; every one answers `GET` (and `HEAD`).
//!
//! | path | wrapper | records |
//! |---|---|---|
//! | `/academicSessions`, `/academicSessions/{id}` | `academicSessions` / `academicSession` | all sessions |
//! | `/terms`, `/terms/{id}` | `academicSessions` / `academicSession` | sessions of type `term` |
//! | `/gradingPeriods`, `/gradingPeriods/{id}` | `academicSessions` / `academicSession` | sessions of type `gradingPeriod` |
//! | `/terms/{id}/gradingPeriods` | `academicSessions` | grading periods whose `parent` is the session |
//! | `/terms/{id}/classes` | `classes` | classes that list the session in `terms` |
//! | `/classes`, `/classes/{id}` | `classes` / `class` | all classes |
//! | `/classes/{id}/students`, `/classes/{id}/teachers` | `users` | users enrolled in the class as `student` / `teacher` |
//! | `/courses`, `/courses/{id}` | `courses` / `course` | all courses |
//! | `/courses/{id}/classes` | `classes` | the course's classes |
//! | `/demographics`, `/demographics/{id}` | `demographics` / `demographics` | all demographics |
//! | `/enrollments`, `/enrollments/{id}` | `enrollments` / `enrollment` | all enrollments |
//! | `/orgs`, `/orgs/{id}` | `orgs` / `org` | all orgs |
//! | `/schools`, `/schools/{id}` | `orgs` / `org` | orgs of type `school` |
//! | `/schools/{id}/classes` | `classes` | classes whose `school` is the org |
//! | `/schools/{id}/enrollments` | `enrollments` | enrollments whose `school` is the org |
//! | `/schools/{id}/students`, `/schools/{id}/teachers` | `users` | users of role `student` / `teacher` that list the org in `orgs` |
//! | `/schools/{id}/terms` | `academicSessions` | the sessions the school's classes list in `terms` |
//! | `/schools/{id}/courses` | `courses` | courses whose `org` is the org |
//! | `/schools/{s}/classes/{c}/enrollments`, `…/students`, `…/teachers` | `enrollments` / `users` | as for `/classes/{c}/…`, if class `c`'s `school` is `s` (else none) |
//! | `/students`, `/students/{id}` | `users` / `user` | users of role `student` |
//! | `/teachers`, `/teachers/{id}` | `users` / `user` | users of role `teacher` |
//! | `/users`, `/users/{id}` | `users` / `user` | all users |
//! | `/students/{id}/classes`, `/teachers/{id}/classes`, `/users/{id}/classes` | `classes` | classes the user is enrolled in as a student / as a teacher / in any role |
//!
//! Records with `status` `tobedeleted` are served like any other: consumers filter on `status` (SDS sends
//! `filter=status='active'`) and delta consumers need to see deletions.
//!
//! # Reads
//!
//! * **Order**: by `sourcedId` unless `sort` says otherwise; `orderBy=desc` reverses either. Ties in a sort are
//!   broken by `sourcedId`, so paging is stable.
//! * **Paging**: `limit` (default 100, [`ServerConfig::default_limit`]) and `offset` (default 0). A `limit` above
//!   [`ServerConfig::max_limit`] (default 10 000) is served as the maximum; a `limit` of 0, or a `limit` or
//!   `offset` that is negative or not a whole number, is answered 400 (`invaliddata`). An offset past the end
//!   answers an empty array. Every collection carries `X-Total-Count` (the number of matching records) and a
//!   `Link` header (RFC 8288) with `next` (when there is a next page), `last`, `prev` (when the offset is not 0) and
//!   `first`, keeping the request's other parameters.
//! * **Filter**: the grammar of [`oneroster_model::query`] — `=`, `!=`, `>`, `>=`, `<`, `<=`, `~` on typed fields,
//!   up to two predicates joined by one `AND` or `OR`. An unknown field, an unreadable value or bad syntax is
//!   answered 400 with code minor `invalid_filter_field`. A filter that matches nothing answers an empty array.
//! * **Sort**: `sort` names one field of the filter catalogue, `orderBy` is `asc` or `desc`. An unknown field or
//!   order is answered 400 with `invaliddata` (OneRoster 1.1 has no code of its own for it).
//! * **Fields**: `fields=a,b` keeps only those top-level fields, on collections and single records. As the
//!   OneRoster 1.1 binding allows, unknown names are **ignored**, and the response carries a
//!   `"statusInfoSet":[…]` member beside the data with a `success`/`warning` status whose code minor is
//!   `invalid_selection_field`; if no name is known, every field is served.
//! * **Unknown parameters** are ignored. An **unknown parent** of a nested endpoint answers 200 with an empty
//!   array; an unknown id on a single-record endpoint, or a record of the wrong subtype (`/schools/{id}` of a
//!   district, `/students/{id}` of a teacher), answers 404 with `unknownobject`.
//! * **`href`** of every `GUIDRef` is the referenced record's URL under the public base URL
//!   ([`ServerConfig::public_base_url`], or derived from each request); `children` of orgs and academic sessions
//!   are linked from the `parent`s. `dateLastModified` is always written `YYYY-MM-DDTHH:mm:ss.SSSZ`.
//! * **`password`** is stripped from users unless [`ServerConfig::serve_passwords`] is on.
//!
//! Errors are `imsx_StatusInfo` bodies (`{"imsx_codeMajor":"failure","imsx_severity":"error",
//! "imsx_description":…,"imsx_CodeMinor":{…}}`); see [`Error`].
//!
//! # Performance
//!
//! A [`Snapshot`] keeps each record serialised once, sorted by `sourcedId`, with indexes for every nested
//! endpoint. An unfiltered page in the default order is a slice of that: O(limit), whatever the offset, with no
//! per-request serialisation. A filtered or sorted request scans its collection once (filters on `sourcedId`,
//! `status` and `dateLastModified` without decoding records) and, for large collections, caches the matching
//! record indexes in the snapshot, so that the following pages are O(limit) too; nothing allocates JSON for a
//! whole collection. See the `page` module source for details.
//!
//! # Authentication
//!
//! Every read needs `Authorization: Bearer <token>` or an OAuth 1.0a signature; anything else is answered 401
//! (never 403) with an `unauthorisedrequest` body and `WWW-Authenticate` challenges.
//!
//! * **Token endpoint** ([`TOKEN_PATH`], `POST`, `application/x-www-form-urlencoded`,
//!   `grant_type=client_credentials`): the client authenticates with HTTP Basic *or* with `client_id` and
//!   `client_secret` form fields (both at once is `invalid_request`); its secret is checked against the argon2 hash
//!   of its [`ClientStore`]. The answer is `{"access_token","token_type":"bearer","expires_in"}` with
//!   `Cache-Control: no-store`; errors follow RFC 6749 §5.2 (`invalid_request`, `invalid_client` with 401 and
//!   `WWW-Authenticate: Basic`, `unsupported_grant_type`). After [`ServerConfig::auth_failure_limit`] failures
//!   (default 10 a minute) for one client id from one address, requests are answered 429 with `Retry-After`.
//!   Limiting by client id *and* address keeps an attacker who knows the (well-known) client id from locking
//!   School Data Sync out.
//! * **Bearer tokens** are 32 random bytes, expire after [`ServerConfig::token_ttl`] (default one hour), and are
//!   kept hashed ([`MemoryTokenStore`]) or signed with a shared key ([`SignedTokenStore`], for several servers
//!   behind a load balancer); they are compared in constant time.
//! * **OAuth 1.0a** ([`AppStateBuilder::oauth1_consumers`]): two-legged HMAC-SHA1 or HMAC-SHA256, parameters in
//!   the `Authorization: OAuth` header or the query string; the signature base string is built from the method,
//!   the public URL of the request and the sorted, encoded parameters, and the key is the consumer secret and `&`.
//!   `oauth_timestamp` must be within [`ServerConfig::oauth1_timestamp_window`] (default ±5 minutes) of the
//!   server's [`Clock`], and a nonce is accepted once per consumer key and timestamp.
//!
//! Tokens and secrets are never logged.

mod auth;
mod clock;
mod config;
mod error;
mod page;
mod query;
mod reload;
mod render;
mod routes;
mod snapshot;
mod state;
mod util;

pub use auth::Authenticated;
pub use auth::clients::{
    ClientSecret, ClientStore, ConsumerSecrets, StaticClients, StaticConsumers, generate_client_secret,
    hash_client_secret, verify_client_secret,
};
pub use auth::oauth1::{SignatureMethod, oauth1_authorization, signature_base_string};
pub use auth::tokens::{MemoryTokenStore, SignedTokenStore, TokenStatus, TokenStore};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{BASE_PATH, DEFAULT_CLIENT_ID, ServerConfig, TOKEN_PATH};
pub use error::{AuthFailure, Error, TokenError};
pub use reload::{follow_store, load_snapshot, refresh, spawn_reloader};
pub use snapshot::{Snapshot, SnapshotHandle};
pub use state::{AppState, AppStateBuilder};

use axum::Router;
use axum::routing::post;

/// The router: every read endpoint under [`BASE_PATH`] behind authentication, and the token endpoint at
/// [`TOKEN_PATH`]. Any other path is answered 404 with an `imsx_StatusInfo` body.
///
/// Add access logs, `/healthz`, `/metrics`, TLS and graceful shutdown around it in the binary. For rate limits by
/// peer address, serve it with `into_make_service_with_connect_info::<SocketAddr>()` (or trust forwarding
/// headers behind a proxy, [`ServerConfig::trust_forwarded_headers`]).
pub fn app(state: AppState) -> Router {
    let reads = routes::routes().route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_auth));
    Router::new()
        .merge(reads)
        .route(TOKEN_PATH, post(auth::token_endpoint))
        .fallback(routes::fallback)
        .with_state(state)
}

/// The paths of every read endpoint, relative to [`BASE_PATH`], with `{id}`-style parameters, in a stable order.
/// For tools that probe them all (a `doctor`, a benchmark).
pub fn endpoint_paths() -> Vec<&'static str> {
    routes::paths()
}
