//! The Microsoft identity platform side: the v2.0 token and device code endpoints, and how Graph checks the
//! bearer token and the permissions it carries.
//!
//! Protocols followed:
//! * client credentials — "Microsoft identity platform and the OAuth 2.0 client credentials flow"
//!   (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow>): `scope` must be
//!   `{resource}/.default`, the answer has no refresh token, the token's roles are the app's granted application
//!   permissions;
//! * device code — "Microsoft identity platform and the OAuth 2.0 device authorization grant flow"
//!   (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code>) and RFC 8628 §3.5 for
//!   `slow_down`: `authorization_pending` until the (scripted) user approves, `authorization_declined`,
//!   `expired_token` once `expires_in` has passed, `bad_verification_code` for an unknown code;
//! * refresh — "Refresh the access token" of the authorization code flow and "Refresh tokens in the Microsoft
//!   identity platform": every answer carries a new refresh token. The fake revokes the spent one (rotation with
//!   reuse detection, as the OAuth 2.0 security best current practice recommends); Entra ID itself lets an old
//!   one live until it expires, so the fake is stricter than the service here, never looser;
//! * errors — "Microsoft Entra authentication and authorization error codes"
//!   (<https://learn.microsoft.com/entra/identity-platform/reference-error-codes>): `error`, `error_description`
//!   starting with the `AADSTS` code, `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`.

use super::FakeGraph;
use super::odata::{ApiError, Ctx, set_content_length};
use super::state::{AccessRec, DeviceRec, DeviceStatus, RefreshRec, State};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The Graph application id, named in the `WWW-Authenticate` challenge of a 401.
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// Who a valid access token speaks for.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    /// The signed-in user of a delegated token; `None` for app-only.
    pub(crate) user: Option<String>,
    pub(crate) permissions: BTreeSet<String>,
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", message).with_header(
        header::WWW_AUTHENTICATE,
        format!(
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", \
             client_id=\"{GRAPH_APP_ID}\""
        ),
    )
}

/// Checks the bearer token: 401 `InvalidAuthenticationToken` when it is missing, unknown, expired or revoked
/// (Graph v1.0 "Microsoft Graph error responses": 401 Unauthorized, "Required authentication information is
/// either missing or not valid for the resource").
pub(crate) fn authenticate(st: &State, ctx: &Ctx) -> Result<Principal, ApiError> {
    let Some(token) = ctx.bearer.as_deref() else { return Err(unauthorized("Access token is empty.")) };
    let Some(rec) = st.access_tokens.get(token) else {
        return Err(unauthorized("Access token validation failure. Invalid audience."));
    };
    if rec.revoked {
        return Err(unauthorized("Access token validation failure. The token has been revoked."));
    }
    if st.clock.now() >= rec.expires_at {
        return Err(unauthorized("Lifetime validation failed, the token is expired."));
    }
    Ok(Principal { user: rec.user.clone(), permissions: rec.permissions.clone() })
}

/// The app and tenant a token is for, when it is valid (for the throttling bucket).
pub(crate) fn app_of(st: &State, token: &str) -> Option<String> {
    let rec = st.access_tokens.get(token)?;
    (!rec.revoked && st.clock.now() < rec.expires_at).then(|| rec.client_id.clone())
}

/// What a call reads, for the permission check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    Users,
    Groups,
    Members,
    MemberOf,
    Me,
    Organization,
    Roles,
}

/// The permissions (least to most privileged) of each call, from the "Permissions" tables of the Graph v1.0
/// pages: "List users" / "Get user" / "user: delta" (`User.Read.All`…), "List groups" / "Get group" /
/// "group: delta" (`GroupMember.Read.All`, `Group.Read.All`…), "List group members" / "List group transitive
/// members" (`GroupMember.Read.All`, `Group.Read.All`…), "List transitiveMemberOf", "Get organization"
/// (`Organization.Read.All`; delegated `User.Read`), "List directoryRoles" (`RoleManagement.Read.Directory`), and
/// "Get the signed-in user" (delegated `User.Read`).
fn accepted(need: Need, delegated: bool) -> &'static [&'static str] {
    const DIR: [&str; 2] = ["Directory.Read.All", "Directory.ReadWrite.All"];
    match (need, delegated) {
        (Need::Users, false) => &["User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", DIR[0], DIR[1]],
        (Need::Users, true) => {
            &["User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", DIR[0], DIR[1], "Directory.AccessAsUser.All"]
        }
        (Need::Groups | Need::Members, false) => &[
            "GroupMember.Read.All",
            "Group.Read.All",
            "GroupMember.ReadWrite.All",
            "Group.ReadWrite.All",
            DIR[0],
            DIR[1],
        ],
        (Need::Groups | Need::Members, true) => &[
            "GroupMember.Read.All",
            "Group.Read.All",
            "GroupMember.ReadWrite.All",
            "Group.ReadWrite.All",
            DIR[0],
            DIR[1],
            "Directory.AccessAsUser.All",
        ],
        (Need::MemberOf, false) => &["User.Read.All", "GroupMember.Read.All", "Group.Read.All", DIR[0], DIR[1]],
        (Need::MemberOf, true) => &[
            "User.Read",
            "User.Read.All",
            "GroupMember.Read.All",
            "Group.Read.All",
            DIR[0],
            DIR[1],
            "Directory.AccessAsUser.All",
        ],
        (Need::Me, _) => &[
            "User.Read",
            "User.ReadWrite",
            "User.ReadBasic.All",
            "User.Read.All",
            "User.ReadWrite.All",
            DIR[0],
            DIR[1],
        ],
        (Need::Organization, false) => &["Organization.Read.All", "Organization.ReadWrite.All", DIR[0], DIR[1]],
        (Need::Organization, true) => {
            &["User.Read", "Organization.Read.All", "Organization.ReadWrite.All", DIR[0], DIR[1]]
        }
        (Need::Roles, _) => &["RoleManagement.Read.Directory", "RoleManagement.ReadWrite.Directory", DIR[0], DIR[1]],
    }
}

/// 403 `Authorization_RequestDenied` when the token carries none of the permissions the call accepts.
pub(crate) fn require(p: &Principal, need: Need) -> Result<(), ApiError> {
    let ok =
        accepted(need, p.user.is_some()).iter().any(|perm| p.permissions.iter().any(|h| h.eq_ignore_ascii_case(perm)));
    if ok { Ok(()) } else { Err(ApiError::forbidden()) }
}

/// Whether the token may read user objects in full; otherwise members that are users come back with limited
/// information.
pub(crate) fn can_read_users(p: &Principal) -> bool {
    accepted(Need::Users, p.user.is_some())
        .iter()
        .any(|perm| p.permissions.iter().any(|h| h.eq_ignore_ascii_case(perm)))
}

// ---------------------------------------------------------------------------------------------------------------
// The token endpoint

/// An OAuth error answer of the identity platform.
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    code: u64,
    text: String,
}

impl OAuthError {
    fn new(error: &'static str, code: u64, text: impl Into<String>) -> OAuthError {
        // RFC 6749 §5.2: 400, or 401 when client authentication failed.
        let status = if error == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
        OAuthError { status, error, code, text: text.into() }
    }

    fn respond(self, fake: &FakeGraph) -> Response {
        let timestamp = fake.wall_now().format("%Y-%m-%d %H:%M:%SZ").to_string();
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let description = if self.code == 0 {
            format!(
                "{}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.text
            )
        } else {
            format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.text
            )
        };
        let mut body = json!({
            "error": self.error,
            "error_description": description,
            "error_codes": if self.code == 0 { json!([]) } else { json!([self.code]) },
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
        });
        if self.code != 0 {
            body["error_uri"] = json!(format!("https://login.microsoftonline.com/error?code={}", self.code));
        }
        oauth_json(self.status, &body)
    }
}

fn oauth_json(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, serde_json::to_vec(body).unwrap_or_default()).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, no-cache"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    set_content_length(&mut r);
    r
}

fn form(body: &[u8]) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn required<'a>(form: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    form.get(name).map(String::as_str).filter(|v| !v.is_empty()).ok_or_else(|| {
        OAuthError::new(
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    })
}

fn check_tenant(st: &State, tenant: &str, allow_common: bool) -> Result<(), OAuthError> {
    let common = ["common", "organizations"].iter().any(|t| t.eq_ignore_ascii_case(tenant));
    if st.is_tenant(tenant) || (allow_common && common) {
        return Ok(());
    }
    Err(OAuthError::new(
        "invalid_request",
        90002,
        format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the \
             correct cloud."
        ),
    ))
}

fn unknown_app(st: &State, client_id: &str) -> OAuthError {
    OAuthError::new(
        "unauthorized_client",
        700016,
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the \
             application has not been installed by the administrator of the tenant or consented to by any user in \
             the tenant. You may have sent your authentication request to the wrong tenant.",
            st.tenant_name
        ),
    )
}

fn random_token(prefix: &str) -> String {
    format!("{prefix}{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// The permission names of delegated scopes: `https://graph.microsoft.com/User.Read` → `User.Read`; `.default`
/// → every delegated permission the app has; OpenID scopes are not permissions.
fn permission_names(scopes: &[String], app_delegated: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in scopes {
        let name = s.rsplit('/').next().unwrap_or(s);
        if name.eq_ignore_ascii_case(".default") {
            out.extend(app_delegated.iter().cloned());
        } else if !["openid", "profile", "email", "offline_access"].iter().any(|o| o.eq_ignore_ascii_case(name)) {
            out.insert(name.to_owned());
        }
    }
    out
}

fn issue_access(st: &mut State, client_id: &str, user: Option<String>, permissions: BTreeSet<String>) -> String {
    let token = random_token("fake-at.");
    let now = st.clock.now();
    // Forget tokens that expired long ago, so a long benchmark does not grow the map without bound.
    st.access_tokens.retain(|_, t| t.expires_at + Duration::from_secs(24 * 3600) > now);
    st.access_tokens.insert(
        token.clone(),
        AccessRec {
            client_id: client_id.to_owned(),
            user,
            permissions,
            expires_at: now + st.settings.access_token_lifetime,
            revoked: false,
        },
    );
    token
}

fn issue_refresh(st: &mut State, client_id: &str, user: &str, scopes: BTreeSet<String>) -> String {
    let token = random_token("fake-rt.");
    let expires_at = st.clock.now() + st.settings.refresh_token_lifetime;
    st.refresh_tokens.insert(
        token.clone(),
        RefreshRec {
            client_id: client_id.to_owned(),
            user: user.to_owned(),
            scopes,
            expires_at,
            used: false,
            revoked: false,
        },
    );
    token
}

/// The delegated token answer (with a refresh token when `offline_access` was asked for).
fn delegated_answer(st: &mut State, client_id: &str, user: &str, scopes: BTreeSet<String>, offline: bool) -> Value {
    let access = issue_access(st, client_id, Some(user.to_owned()), scopes.clone());
    let lifetime = st.settings.access_token_lifetime.as_secs();
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scopes.iter().cloned().collect::<Vec<_>>().join(" "),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access,
    });
    if offline {
        body["refresh_token"] = json!(issue_refresh(st, client_id, user, scopes));
    }
    body
}

fn client_credentials(st: &mut State, tenant: &str, f: &BTreeMap<String, String>) -> Result<Value, OAuthError> {
    check_tenant(st, tenant, false)?;
    let client_id = required(f, "client_id")?;
    let app = st.apps.get(client_id).cloned().ok_or_else(|| unknown_app(st, client_id))?;
    let scope = required(f, "scope")?;
    let Some(secret) = f.get("client_secret").filter(|s| !s.is_empty()) else {
        return Err(OAuthError::new(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    if app.secret.as_deref() != Some(secret.as_str()) {
        return Err(OAuthError::new(
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret \
                 value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        ));
    }
    if scope.split_whitespace().count() != 1 || !scope.ends_with("/.default") {
        return Err(OAuthError::new(
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value \
                 with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    }
    let token = issue_access(st, client_id, None, app.application_permissions.clone());
    let lifetime = st.settings.access_token_lifetime.as_secs();
    Ok(json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}))
}

fn device_code_grant(st: &mut State, tenant: &str, f: &BTreeMap<String, String>) -> Result<Value, OAuthError> {
    check_tenant(st, tenant, true)?;
    let client_id = required(f, "client_id")?;
    let device_code = required(f, "device_code")?;
    let now = st.clock.now();
    let bad = || {
        OAuthError::new(
            "bad_verification_code",
            70018,
            "Invalid verification code due to User typing in wrong user code for device code flow. Authorization is \
             not approved.",
        )
    };
    let rec = st.device_codes.get(device_code).cloned().ok_or_else(bad)?;
    if rec.client_id != client_id {
        return Err(bad());
    }
    let app = st.apps.get(client_id).cloned().ok_or_else(|| unknown_app(st, client_id))?;
    if !app.public_client && f.get("client_secret").is_none_or(|s| app.secret.as_deref() != Some(s.as_str())) {
        // A confidential app without "Allow public client flows" must authenticate.
        return Err(OAuthError::new(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    }
    if now >= rec.expires_at {
        return Err(OAuthError::new("expired_token", 70019, "Verification code expired."));
    }
    // RFC 8628 §3.5: polling faster than `interval` is answered `slow_down`, and the interval grows by 5 s.
    let too_fast = rec.last_poll.is_some_and(|last| now < last + rec.interval);
    if let Some(r) = st.device_codes.get_mut(device_code) {
        r.last_poll = Some(now);
        if too_fast && r.status == DeviceStatus::Pending {
            r.interval += Duration::from_secs(5);
        }
    }
    match rec.status {
        DeviceStatus::Pending if too_fast => Err(OAuthError::new("slow_down", 0, "The client is polling too quickly.")),
        DeviceStatus::Pending => Err(OAuthError::new(
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        )),
        DeviceStatus::Declined => {
            Err(OAuthError::new("authorization_declined", 65004, "User declined to consent to access the app."))
        }
        DeviceStatus::Redeemed => {
            Err(OAuthError::new("invalid_grant", 90120, "The request was already authorized or declined."))
        }
        DeviceStatus::Approved(user) => {
            if st.live_user(&user).is_none_or(|u| !u.user.account_enabled) {
                return Err(OAuthError::new("invalid_grant", 50057, "The user account is disabled."));
            }
            let scopes = permission_names(&rec.scopes, &app.delegated_permissions);
            if let Some(missing) =
                scopes.iter().find(|s| !app.delegated_permissions.iter().any(|d| d.eq_ignore_ascii_case(s)))
            {
                return Err(OAuthError::new(
                    "invalid_grant",
                    65001,
                    format!(
                        "The user or administrator has not consented to use the application with ID '{client_id}'. \
                         Send an interactive authorization request for this user and resource. ({missing})"
                    ),
                ));
            }
            let offline = rec.scopes.iter().any(|s| s.eq_ignore_ascii_case("offline_access"));
            if let Some(r) = st.device_codes.get_mut(device_code) {
                r.status = DeviceStatus::Redeemed;
            }
            Ok(delegated_answer(st, client_id, &user, scopes, offline))
        }
    }
}

fn refresh_grant(st: &mut State, tenant: &str, f: &BTreeMap<String, String>) -> Result<Value, OAuthError> {
    check_tenant(st, tenant, true)?;
    let client_id = required(f, "client_id")?;
    let refresh_token = required(f, "refresh_token")?;
    let invalid = || OAuthError::new("invalid_grant", 70000, "Provided grant is invalid or malformed.");
    let rec = st.refresh_tokens.get(refresh_token).cloned().ok_or_else(invalid)?;
    if rec.client_id != client_id || rec.used {
        return Err(invalid());
    }
    if rec.revoked {
        return Err(OAuthError::new(
            "invalid_grant",
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might \
             have changed or reset their password.",
        ));
    }
    if st.clock.now() >= rec.expires_at {
        return Err(OAuthError::new("invalid_grant", 700082, "The refresh token has expired due to inactivity."));
    }
    if st.live_user(&rec.user).is_none_or(|u| !u.user.account_enabled) {
        return Err(OAuthError::new("invalid_grant", 50057, "The user account is disabled."));
    }
    if let Some(r) = st.refresh_tokens.get_mut(refresh_token) {
        r.used = true;
    }
    Ok(delegated_answer(st, client_id, &rec.user, rec.scopes, true))
}

/// `POST /{tenant}/oauth2/v2.0/token`.
async fn token(AxState(fake): AxState<FakeGraph>, Path(tenant): Path<String>, body: Bytes) -> Response {
    let f = form(&body);
    let result = fake.with_state(|st| match f.get("grant_type").map(String::as_str) {
        None | Some("") => Err(OAuthError::new(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        )),
        Some("client_credentials") => client_credentials(st, &tenant, &f),
        Some("urn:ietf:params:oauth:grant-type:device_code") => device_code_grant(st, &tenant, &f),
        Some("refresh_token") => refresh_grant(st, &tenant, &f),
        Some(other) => Err(OAuthError::new(
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    });
    match result {
        Ok(body) => oauth_json(StatusCode::OK, &body),
        Err(e) => e.respond(&fake),
    }
}

fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uuid::Uuid::new_v4().as_bytes().iter().take(9).map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char).collect()
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
async fn devicecode(
    AxState(fake): AxState<FakeGraph>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = form(&body);
    let ctx = Ctx::from_headers(&fake, &headers, "/devicelogin");
    let verification_uri = format!("{}/devicelogin", ctx.base);
    let result = fake.with_state(|st| {
        check_tenant(st, &tenant, true)?;
        let client_id = required(&f, "client_id")?.to_owned();
        let scope = required(&f, "scope")?.to_owned();
        if !st.apps.contains_key(&client_id) {
            return Err(unknown_app(st, &client_id));
        }
        let device_code = random_token("fake-dc.");
        let code = user_code();
        let now = st.clock.now();
        let rec = DeviceRec {
            user_code: code.clone(),
            client_id,
            scopes: scope.split_whitespace().map(str::to_owned).collect(),
            expires_at: now + st.settings.device_code_lifetime,
            interval: st.settings.device_code_interval,
            last_poll: None,
            status: DeviceStatus::Pending,
        };
        let expires_in = st.settings.device_code_lifetime.as_secs();
        let interval = st.settings.device_code_interval.as_secs();
        st.device_codes.insert(device_code.clone(), rec);
        Ok(json!({
            "user_code": code,
            "device_code": device_code,
            "verification_uri": verification_uri,
            "expires_in": expires_in,
            "interval": interval,
            "message": format!(
                "To sign in, use a web browser to open the page {verification_uri} and enter the code {code} to authenticate."
            ),
        }))
    });
    match result {
        Ok(body) => oauth_json(StatusCode::OK, &body),
        Err(e) => e.respond(&fake),
    }
}

fn plain(status: StatusCode, text: String) -> Response {
    let mut r = (status, text).into_response();
    set_content_length(&mut r);
    r
}

/// `GET /devicelogin`: how to approve a code by hand when the fake runs as a standalone binary.
async fn devicelogin_page() -> Response {
    plain(
        StatusCode::OK,
        "Fake Microsoft Graph device login.\n\nApprove a code:  curl -d 'user_code=CODE&user=UPN-or-id' <this URL>\n\
         Decline a code:  curl -d 'user_code=CODE&action=decline' <this URL>\n"
            .to_owned(),
    )
}

/// `POST /devicelogin` with `user_code`, `user` and optional `action=decline`: the scripted sign-in.
async fn devicelogin(AxState(fake): AxState<FakeGraph>, body: Bytes) -> Response {
    let f = form(&body);
    let code = f.get("user_code").cloned().unwrap_or_default();
    let result = if f.get("action").is_some_and(|a| a.eq_ignore_ascii_case("decline")) {
        fake.decline_device_code(&code)
    } else {
        let user = f.get("user").cloned().unwrap_or_default();
        fake.approve_device_code(&code, &user)
    };
    match result {
        Ok(()) => plain(StatusCode::OK, format!("Code {code}: done. You can return to the application.\n")),
        Err(e) => plain(StatusCode::BAD_REQUEST, format!("{e}\n")),
    }
}

/// The identity platform's routes.
pub(crate) fn router(fake: FakeGraph) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(devicecode))
        .route("/devicelogin", get(devicelogin_page).post(devicelogin))
        .with_state(fake)
}
