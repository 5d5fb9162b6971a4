//! A stateful fake of Microsoft Graph v1.0 and the Microsoft identity platform, for tests and benchmarks that
//! cannot use a real tenant.
//!
//! What it serves, each piece following the Microsoft documentation page cited next to its code:
//!
//! * the identity platform's v2.0 token endpoint — client credentials, device code (with a scriptable user
//!   approval, [`FakeGraph::approve_device_code`]), refresh with rotation — and its device code endpoint;
//! * `/v1.0`: `/me`, `/users`, `/users/{id}`, `/users/delta`, `/groups`, `/groups/{id}`, `/groups/delta`,
//!   `/groups/{id}/members` and `/transitiveMembers` (with the OData cast and `/$count`),
//!   `/me/transitiveMemberOf` and `/users/{id}/transitiveMemberOf` (groups and directory roles),
//!   `/directoryRoles`, `/organization`, and `POST /$batch`;
//! * OData: `$select`, `$top` (1–999, else 400), `$count` with `ConsistencyLevel: eventual`, `$search`, a
//!   `$filter` subset, `$orderby`, and `@odata.nextLink` paging with an opaque `$skiptoken` in a stable order;
//! * delta with real change tracking (`@removed`, `members@delta`, `$deltatoken=latest`, 410 for an expired
//!   token);
//! * groups of every kind (security, mail-enabled security, distribution, Microsoft 365, dynamic) and nested
//!   membership;
//! * the identity and access throttling model (a resource-unit token bucket per app and tenant, 429 with
//!   `Retry-After`, `x-ms-resource-unit`), fault injection ([`Faults`]) and request counters ([`Counters`]).
//!
//! Time is a clock the test moves ([`FakeGraph::advance_clock`]): token expiry, device code polling, delta token
//! retention and the throttling bucket never depend on real time, so tests need no sleeps.
//!
//! ```
//! use testkit::graph::{AppRegistration, FakeGraph};
//!
//! # async fn run() -> std::io::Result<()> {
//! let fake = FakeGraph::from_directory(&testkit::graph::sample::directory());
//! fake.register_app(
//!     AppRegistration::confidential("11111111-2222-3333-4444-555555555555", "s3cret")
//!         .with_application_permissions(["User.Read.All", "GroupMember.Read.All"]),
//! );
//! let server = fake.start().await?;
//! // Point a client at FakeGraph::authority_url(&server) and FakeGraph::graph_url(&server).
//! # drop(server); Ok(()) }
//! ```

mod auth;
mod batch;
mod delta;
mod odata;
mod render;
mod routes;
pub mod sample;
mod state;
mod throttle;

pub use state::ThrottleLimit;

use crate::counters::{self, Counters};
use crate::faults::{self, Faults};
use crate::server::RunningServer;
use crate::synthetic::model::{Directory, DirectoryGroup, DirectoryUser, MemberRef};
use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::post;
use state::{DeviceStatus, MemberKind, RoleRec, State};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Why a change to the fake's state was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FakeGraphError {
    /// No such user.
    #[error("no user `{0}` in the fake tenant")]
    UnknownUser(String),
    /// No such group.
    #[error("no group `{0}` in the fake tenant")]
    UnknownGroup(String),
    /// The member to add or remove does not exist, or is not a member.
    #[error("`{0}` is not a user or group of the fake tenant, or not a member of that group")]
    UnknownMember(String),
    /// No device code flow with this user code.
    #[error("no device code sign-in waits for code `{0}`")]
    UnknownUserCode(String),
    /// The code has expired.
    #[error("the code `{0}` has expired")]
    CodeExpired(String),
    /// The flow was already approved or declined.
    #[error("the code `{0}` was already approved or declined")]
    NotPending(String),
    /// The user is blocked from sign-in (`accountEnabled: false`).
    #[error("the user `{0}` is blocked from sign-in")]
    UserDisabled(String),
}

/// An app registration of the fake tenant: its client id, optional secret, and the permissions granted to it.
#[derive(Clone)]
pub struct AppRegistration {
    client_id: String,
    secret: Option<String>,
    application_permissions: Vec<String>,
    delegated_permissions: Vec<String>,
    public_client: bool,
}

impl fmt::Debug for AppRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppRegistration")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("application_permissions", &self.application_permissions)
            .field("delegated_permissions", &self.delegated_permissions)
            .field("public_client", &self.public_client)
            .finish()
    }
}

/// The delegated permissions a public client app gets by default.
const DEFAULT_DELEGATED: &[&str] = &[
    "User.Read",
    "User.Read.All",
    "Group.Read.All",
    "GroupMember.Read.All",
    "Directory.Read.All",
    "RoleManagement.Read.Directory",
];

impl AppRegistration {
    /// A confidential client (client credentials) with a secret and, until granted, no application permissions.
    pub fn confidential(client_id: impl Into<String>, secret: impl Into<String>) -> AppRegistration {
        AppRegistration {
            client_id: client_id.into(),
            secret: Some(secret.into()),
            application_permissions: Vec::new(),
            delegated_permissions: DEFAULT_DELEGATED.iter().map(|s| (*s).to_owned()).collect(),
            public_client: false,
        }
    }

    /// A public client (device code flow, no secret) with consent to the usual read permissions (`User.Read`,
    /// `User.Read.All`, `Group.Read.All`, `GroupMember.Read.All`, `Directory.Read.All`,
    /// `RoleManagement.Read.Directory`).
    pub fn public(client_id: impl Into<String>) -> AppRegistration {
        AppRegistration {
            client_id: client_id.into(),
            secret: None,
            application_permissions: Vec::new(),
            delegated_permissions: DEFAULT_DELEGATED.iter().map(|s| (*s).to_owned()).collect(),
            public_client: true,
        }
    }

    /// Grants application permissions (the `roles` of its app-only tokens), e.g. `User.Read.All`.
    pub fn with_application_permissions<I, S>(mut self, permissions: I) -> AppRegistration
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.application_permissions = permissions.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the delegated permissions consented for the app (the `scp` its users' tokens may carry).
    pub fn with_delegated_permissions<I, S>(mut self, permissions: I) -> AppRegistration
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.delegated_permissions = permissions.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the app may use the device code flow without a secret ("Allow public client flows").
    pub fn allow_public_client_flows(mut self, allow: bool) -> AppRegistration {
        self.public_client = allow;
        self
    }
}

struct Shared {
    state: Mutex<State>,
    faults: Faults,
    counters: Counters,
}

/// The fake. Cheap to clone; clones share one tenant, one fault script and one set of counters.
#[derive(Clone)]
pub struct FakeGraph {
    shared: Arc<Shared>,
}

impl fmt::Debug for FakeGraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_state(|st| {
            f.debug_struct("FakeGraph")
                .field("tenant_id", &st.tenant_id)
                .field("users", &st.users.len())
                .field("groups", &st.groups.len())
                .finish_non_exhaustive()
        })
    }
}

impl Default for FakeGraph {
    fn default() -> FakeGraph {
        FakeGraph::new()
    }
}

/// Graph's error body for a status, for fault injection: `{"error":{"code","message","innerError":{…}}}`.
pub fn graph_error_body(status: u16) -> serde_json::Value {
    let (code, message) = match status {
        400 => ("BadRequest", "Bad request."),
        401 => ("InvalidAuthenticationToken", "Access token validation failure."),
        403 => ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
        404 => ("Request_ResourceNotFound", "Resource does not exist."),
        410 => ("syncStateNotFound", "The sync state is no longer available."),
        429 => ("TooManyRequests", "Too many requests."),
        500 => ("generalException", "An unspecified error has occurred."),
        502 => ("BadGateway", "Bad gateway."),
        503 => ("serviceNotAvailable", "The service is temporarily unavailable for maintenance or is overloaded."),
        504 => ("GatewayTimeout", "The server, while acting as a proxy, did not receive a timely response."),
        _ => ("UnknownError", "An error occurred."),
    };
    let id = uuid::Uuid::new_v4().to_string();
    let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    odata::error_body(code, message, &date, &id, &id)
}

impl FakeGraph {
    /// An empty tenant (`Contoso`, `contoso.onmicrosoft.com`, a random tenant id).
    pub fn new() -> FakeGraph {
        FakeGraph::with(State::new(
            uuid::Uuid::new_v4().to_string(),
            "Contoso".into(),
            "contoso.onmicrosoft.com".into(),
        ))
    }

    /// A tenant holding `directory`'s users and groups.
    pub fn from_directory(directory: &Directory) -> FakeGraph {
        let mut st = State::new(directory.tenant_id.clone(), directory.tenant_name.clone(), directory.domain.clone());
        for u in &directory.users {
            st.add_user(u.clone());
        }
        for g in &directory.groups {
            st.add_group(g.clone());
        }
        FakeGraph::with(st)
    }

    fn with(state: State) -> FakeGraph {
        FakeGraph {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                faults: Faults::with_error_body(graph_error_body),
                counters: Counters::default(),
            }),
        }
    }

    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut guard = self.shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }

    pub(crate) fn wall_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.with_state(|st| st.clock.wall())
    }

    /// The tenant id.
    pub fn tenant_id(&self) -> String {
        self.with_state(|st| st.tenant_id.clone())
    }

    /// The tenant's default domain.
    pub fn domain(&self) -> String {
        self.with_state(|st| st.domain.clone())
    }

    // ---- settings and time ----

    /// How many resource units apps may spend ([`ThrottleLimit::Documented`] by default).
    pub fn set_throttle_limit(&self, limit: ThrottleLimit) {
        self.with_state(|st| {
            st.settings.throttle = limit;
            st.buckets.clear();
        });
    }

    /// The page size of collections when no `$top` is given (default 100, as Graph).
    pub fn set_default_page_size(&self, size: usize) {
        self.with_state(|st| st.settings.default_page_size = size.max(1));
    }

    /// The objects per delta page, and the `members@delta` entries per page (defaults 100 and 100).
    pub fn set_delta_page_size(&self, objects: usize, members: usize) {
        self.with_state(|st| {
            st.settings.delta_page_size = objects.max(1);
            st.settings.delta_members_per_page = members.max(1);
        });
    }

    /// The lifetime of access tokens issued from now on (default 3599 s).
    pub fn set_access_token_lifetime(&self, lifetime: Duration) {
        self.with_state(|st| st.settings.access_token_lifetime = lifetime);
    }

    /// Makes the clock follow real time as well (for the standalone binary); advances still add to it.
    pub fn use_real_time(&self) {
        self.with_state(|st| st.clock.use_real_time());
    }

    /// Moves the fake's clock forward: tokens and device codes expire, delta tokens age, buckets refill.
    pub fn advance_clock(&self, by: Duration) {
        self.with_state(|st| st.clock.advance(by));
    }

    /// The time on the fake's clock since it was created.
    pub fn elapsed(&self) -> Duration {
        self.with_state(|st| st.clock.now())
    }

    // ---- users ----

    /// Adds a user (or replaces the one with the same id).
    pub fn add_user(&self, user: DirectoryUser) {
        self.with_state(|st| st.add_user(user));
    }

    /// Changes a user; delta then reports the properties that changed.
    pub fn update_user(&self, id: &str, change: impl FnOnce(&mut DirectoryUser)) -> Result<(), FakeGraphError> {
        self.with_state(|st| st.update_user(id, change))
            .then_some(())
            .ok_or_else(|| FakeGraphError::UnknownUser(id.into()))
    }

    /// Blocks (`false`) or unblocks a user's sign-in.
    pub fn set_account_enabled(&self, id: &str, enabled: bool) -> Result<(), FakeGraphError> {
        self.update_user(id, |u| u.account_enabled = enabled)
    }

    /// Soft-deletes a user: gone from lists and groups, restorable, reported by delta as removed with reason
    /// `changed`.
    pub fn delete_user(&self, id: &str) -> Result<(), FakeGraphError> {
        self.with_state(|st| st.soft_delete_user(id))
            .then_some(())
            .ok_or_else(|| FakeGraphError::UnknownUser(id.into()))
    }

    /// Restores a soft-deleted user (without its old group memberships).
    pub fn restore_user(&self, id: &str) -> Result<(), FakeGraphError> {
        self.with_state(|st| st.restore_user(id)).then_some(()).ok_or_else(|| FakeGraphError::UnknownUser(id.into()))
    }

    /// Deletes a user permanently: delta reports it removed with reason `deleted`.
    pub fn purge_user(&self, id: &str) -> Result<(), FakeGraphError> {
        self.with_state(|st| st.purge_user(id)).then_some(()).ok_or_else(|| FakeGraphError::UnknownUser(id.into()))
    }

    /// A live user by id or user principal name.
    pub fn user(&self, id: &str) -> Option<DirectoryUser> {
        self.with_state(|st| st.live_user(id).map(|u| u.user.clone()))
    }

    // ---- groups ----

    /// Adds a group with its members (or replaces the one with the same id).
    pub fn add_group(&self, group: DirectoryGroup) {
        self.with_state(|st| st.add_group(group));
    }

    /// Changes a group's properties (and, if the closure changes `members`, its members).
    pub fn update_group(&self, id: &str, change: impl FnOnce(&mut DirectoryGroup)) -> Result<(), FakeGraphError> {
        self.with_state(|st| st.update_group(id, change))
            .then_some(())
            .ok_or_else(|| FakeGraphError::UnknownGroup(id.into()))
    }

    /// Deletes a group: Microsoft 365 groups are soft-deleted (delta: `changed`), others deleted for good
    /// (delta: `deleted`), as Entra ID does (Graph v1.0 "List deletedItems").
    pub fn delete_group(&self, id: &str) -> Result<(), FakeGraphError> {
        self.with_state(|st| st.delete_group(id)).then_some(()).ok_or_else(|| FakeGraphError::UnknownGroup(id.into()))
    }

    /// Adds a user or a nested group to a group.
    pub fn add_member(&self, group_id: &str, member: MemberRef) -> Result<(), FakeGraphError> {
        let (id, kind) = state::member_parts(&member);
        self.with_state(|st| {
            if st.live_group(group_id).is_none() {
                return Err(FakeGraphError::UnknownGroup(group_id.into()));
            }
            let exists = match kind {
                MemberKind::User => st.live_user(&id).is_some(),
                MemberKind::Group => st.live_group(&id).is_some() && id != group_id,
            };
            if !exists {
                return Err(FakeGraphError::UnknownMember(id.clone()));
            }
            st.add_member(group_id, &id, kind);
            Ok(())
        })
    }

    /// Removes a member from a group.
    pub fn remove_member(&self, group_id: &str, member: &MemberRef) -> Result<(), FakeGraphError> {
        let (id, _) = state::member_parts(member);
        self.with_state(|st| {
            if st.live_group(group_id).is_none() {
                return Err(FakeGraphError::UnknownGroup(group_id.into()));
            }
            st.remove_member(group_id, &id).then_some(()).ok_or(FakeGraphError::UnknownMember(id.clone()))
        })
    }

    /// A live group with its direct members.
    pub fn group(&self, id: &str) -> Option<DirectoryGroup> {
        self.with_state(|st| st.live_group(id).map(|g| g.as_directory_group()))
    }

    // ---- directory roles ----

    /// Gives a user a directory role, e.g. Application Administrator (`9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3`).
    /// The role is activated in the tenant on first use.
    pub fn assign_directory_role(
        &self,
        user_id: &str,
        template_id: &str,
        display_name: &str,
    ) -> Result<(), FakeGraphError> {
        self.with_state(|st| {
            let id = st
                .live_user(user_id)
                .map(|u| u.user.id.clone())
                .ok_or_else(|| FakeGraphError::UnknownUser(user_id.into()))?;
            let role = st.roles.entry(template_id.to_owned()).or_insert_with(|| RoleRec {
                id: uuid::Uuid::new_v4().to_string(),
                template_id: template_id.to_owned(),
                display_name: display_name.to_owned(),
                members: Default::default(),
            });
            role.members.insert(id);
            Ok(())
        })
    }

    /// Takes a directory role away from a user.
    pub fn remove_directory_role(&self, user_id: &str, template_id: &str) -> Result<(), FakeGraphError> {
        self.with_state(|st| {
            let removed = st.roles.get_mut(template_id).is_some_and(|r| r.members.remove(user_id));
            removed.then_some(()).ok_or_else(|| FakeGraphError::UnknownUser(user_id.into()))
        })
    }

    // ---- apps, sign-in, tokens ----

    /// Registers an app in the tenant (or replaces the one with the same client id).
    pub fn register_app(&self, app: AppRegistration) {
        self.with_state(|st| {
            st.apps.insert(
                app.client_id.clone(),
                state::AppRec {
                    secret: app.secret,
                    application_permissions: app.application_permissions.into_iter().collect(),
                    delegated_permissions: app.delegated_permissions.into_iter().collect(),
                    public_client: app.public_client,
                },
            );
        });
    }

    /// The user codes of the device code sign-ins waiting for the user, oldest first.
    pub fn pending_user_codes(&self) -> Vec<String> {
        self.with_state(|st| {
            let now = st.clock.now();
            let mut codes: Vec<(std::time::Duration, String)> = st
                .device_codes
                .values()
                .filter(|d| d.status == DeviceStatus::Pending && now < d.expires_at)
                .map(|d| (d.expires_at, d.user_code.clone()))
                .collect();
            codes.sort();
            codes.into_iter().map(|(_, c)| c).collect()
        })
    }

    /// The user signs in on the other device and approves: the next poll gets the tokens. `user` is an object id
    /// or a user principal name.
    pub fn approve_device_code(&self, user_code: &str, user: &str) -> Result<(), FakeGraphError> {
        self.with_state(|st| {
            let u = st.live_user(user).ok_or_else(|| FakeGraphError::UnknownUser(user.into()))?;
            if !u.user.account_enabled {
                return Err(FakeGraphError::UserDisabled(user.into()));
            }
            let user_id = u.user.id.clone();
            set_device_status(st, user_code, DeviceStatus::Approved(user_id))
        })
    }

    /// The user declines: the next poll gets `authorization_declined`.
    pub fn decline_device_code(&self, user_code: &str) -> Result<(), FakeGraphError> {
        self.with_state(|st| set_device_status(st, user_code, DeviceStatus::Declined))
    }

    /// Revokes every token issued so far: access tokens answer 401 `InvalidAuthenticationToken`, refresh tokens
    /// `invalid_grant`. New sign-ins work as before.
    pub fn revoke_tokens(&self) {
        self.with_state(|st| {
            st.access_tokens.values_mut().for_each(|t| t.revoked = true);
            st.refresh_tokens.values_mut().for_each(|t| t.revoked = true);
        });
    }

    /// Invalidates every outstanding delta and skip token: they answer 410 Gone with `syncStateNotFound`.
    pub fn expire_delta_tokens(&self) {
        self.with_state(|st| st.delta_epoch += 1);
    }

    // ---- plumbing ----

    /// The fault script (its status faults carry Graph's error body).
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// The request counters.
    pub fn counters(&self) -> Counters {
        self.shared.counters.clone()
    }

    /// The whole service as an axum router: counters outermost, then faults, then throttling, then the routes.
    pub fn router(&self) -> Router {
        let api = routes::api_router(self.clone());
        let batch_state = batch::BatchState { fake: self.clone(), api: api.clone() };
        api.route("/v1.0/$batch", post(batch::batch).with_state(batch_state))
            .merge(auth::router(self.clone()))
            .layer(from_fn_with_state(self.faults(), faults::inject))
            .layer(from_fn_with_state(self.counters(), counters::count))
    }

    /// Serves the fake on `127.0.0.1:0`.
    pub async fn start(&self) -> std::io::Result<RunningServer> {
        RunningServer::start(self.router()).await
    }

    /// The authority root to configure a client with (`{authority}/{tenant}/oauth2/v2.0/token`).
    pub fn authority_url(server: &RunningServer) -> url::Url {
        root_url(server)
    }

    /// The Graph root to configure a client with (`{graph}/v1.0/…`).
    pub fn graph_url(server: &RunningServer) -> url::Url {
        root_url(server)
    }
}

// The text is `http://<socket address>/`, which always parses (the same reasoning as graph-client's URL literals).
#[allow(clippy::expect_used)]
fn root_url(server: &RunningServer) -> url::Url {
    url::Url::parse(&format!("http://{}/", server.addr())).expect("a socket address makes a valid URL")
}

fn set_device_status(st: &mut State, user_code: &str, status: DeviceStatus) -> Result<(), FakeGraphError> {
    let now = st.clock.now();
    let rec = st
        .device_codes
        .values_mut()
        .find(|d| d.user_code.eq_ignore_ascii_case(user_code))
        .ok_or_else(|| FakeGraphError::UnknownUserCode(user_code.into()))?;
    if now >= rec.expires_at {
        return Err(FakeGraphError::CodeExpired(user_code.into()));
    }
    if rec.status != DeviceStatus::Pending {
        return Err(FakeGraphError::NotPending(user_code.into()));
    }
    rec.status = status;
    Ok(())
}
