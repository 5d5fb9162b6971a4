//! The contract's data, as Rust types. This module, `docs/secure-schools-api.md` and
//! `docs/secure-schools-api.openapi.json` describe the same things; change them together.
//!
//! Reading is lenient where the platform may grow and strict where a wrong value would be dangerous:
//!
//! * unknown fields are ignored;
//! * an enum value this client does not know (a new role, say) is kept as `Other(text)` rather than failing the
//!   whole page, so a sync can skip or report that one user; known values are matched exactly (lower case);
//! * a nullable field (`external_id`, `next_cursor`, …) may also be absent;
//! * everything else is required and typed: a missing `email` or a malformed `updated_at` is a decode error that
//!   names the JSON path.
//!
//! Every type also derives `Deserialize`/`Serialize` the other way round, so a fake server can reuse them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares an enum of the contract's string values plus `Other(String)` for values this client does not know.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+ }
    ) => {
        $(#[$meta])*
        ///
        /// A value the contract does not list is kept as `Other` with the server's text, so that decoding never
        /// fails on a value the platform adds later. `Other` never holds one of the listed values when decoded.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the contract does not know.
            Other(String),
        }

        impl $name {
            /// Every value the contract lists, as written on the wire.
            pub const KNOWN: &'static [&'static str] = &[ $( $text, )+ ];

            /// The value as written on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )+
                    $name::Other(text) => text,
                }
            }

            /// Whether the value is one the contract lists (not `Other`).
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Other(_))
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> $name {
                match text {
                    $( $text => $name::$variant, )+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                Ok($name::from(text.as_ref()))
            }
        }
    };
}

open_enum! {
    /// A person's role in an organisation, as `GET /me` reports it.
    MembershipRole {
        /// `admin`: may manage the organisation's users.
        Admin => "admin",
        /// `member`.
        Member => "member",
    }
}

open_enum! {
    /// A user's role in an organisation.
    UserRole {
        /// `admin`.
        Admin => "admin",
        /// `staff`.
        Staff => "staff",
        /// `student`.
        Student => "student",
        /// `governor`.
        Governor => "governor",
    }
}

open_enum! {
    /// Whether a user may sign in.
    UserStatus {
        /// `active`.
        Active => "active",
        /// `suspended`: kept, but may not sign in.
        Suspended => "suspended",
    }
}

/// `GET /me`: the identity the token belongs to and the organisations it is a member of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Me {
    /// The platform's id of this identity.
    pub id: String,
    /// Its email address (the sign-in name).
    pub email: String,
    /// Its display name.
    pub name: String,
    /// The organisations it belongs to, with its role in each.
    pub memberships: Vec<Membership>,
}

impl Me {
    /// The role held in an organisation, if a member of it.
    pub fn role_in(&self, organisation_id: &str) -> Option<&MembershipRole> {
        self.memberships.iter().find(|m| m.organisation_id == organisation_id).map(|m| &m.role)
    }

    /// Whether this identity is an admin of the organisation (what a sync needs).
    pub fn is_admin_of(&self, organisation_id: &str) -> bool {
        self.role_in(organisation_id) == Some(&MembershipRole::Admin)
    }
}

/// One membership in [`Me::memberships`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Membership {
    /// The organisation's id.
    pub organisation_id: String,
    /// The role held in it.
    pub role: MembershipRole,
}

/// An organisation: a school or a trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Organisation {
    /// The platform's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The school's Unique Reference Number (England and Wales).
    pub urn: String,
}

/// A user of an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// The platform's id, unique within the organisation.
    pub id: String,
    /// Email address (the sign-in name).
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Role in the organisation.
    pub role: UserRole,
    /// Whether the user may sign in.
    pub status: UserStatus,
    /// The id the syncing system knows the user by (`<connection>:<source id>`), or none.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Whether a sync created or adopted this user (a sync never touches users for which this is false).
    pub managed_by_sync: bool,
    /// When the user last changed (RFC 3339).
    pub updated_at: DateTime<Utc>,
}

/// The body of `POST /organisations/{org}/users`, and of a batch `create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NewUser {
    /// Email address.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Role in the organisation.
    pub role: UserRole,
    /// The syncing system's id for the user; left out when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Whether the sync manages this user. Default `true` when built with [`NewUser::new`].
    pub managed_by_sync: bool,
}

impl NewUser {
    /// A user to create, managed by the sync, with no external id.
    pub fn new(
        email: impl Into<String>,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
        role: UserRole,
    ) -> NewUser {
        NewUser {
            email: email.into(),
            first_name: first_name.into(),
            last_name: last_name.into(),
            role,
            external_id: None,
            managed_by_sync: true,
        }
    }

    /// Sets the external id.
    pub fn external_id(mut self, id: impl Into<String>) -> NewUser {
        self.external_id = Some(id.into());
        self
    }

    /// Sets whether the sync manages the user.
    pub fn managed_by_sync(mut self, managed: bool) -> NewUser {
        self.managed_by_sync = managed;
        self
    }
}

/// The body of `PATCH /organisations/{org}/users/{id}`, and the `fields` of a batch operation: only the fields
/// that are set are sent, so a patch changes exactly what it names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserPatch {
    /// New email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// New given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// New family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// New role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<UserRole>,
    /// New status (a batch prefers the `suspend` and `reactivate` operations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<UserStatus>,
    /// New external id: `Some(Some(id))` sets it, `Some(None)` clears it (sends `null`), `None` leaves it.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    pub external_id: Option<Option<String>>,
    /// New value of `managed_by_sync`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by_sync: Option<bool>,
}

/// Reads a field that is present (perhaps `null`) as `Some(value)`; an absent field stays `None` by `default`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

impl UserPatch {
    /// A patch that changes nothing yet.
    pub fn new() -> UserPatch {
        UserPatch::default()
    }

    /// Changes the email address.
    pub fn email(mut self, email: impl Into<String>) -> UserPatch {
        self.email = Some(email.into());
        self
    }

    /// Changes the given name.
    pub fn first_name(mut self, name: impl Into<String>) -> UserPatch {
        self.first_name = Some(name.into());
        self
    }

    /// Changes the family name.
    pub fn last_name(mut self, name: impl Into<String>) -> UserPatch {
        self.last_name = Some(name.into());
        self
    }

    /// Changes the role.
    pub fn role(mut self, role: UserRole) -> UserPatch {
        self.role = Some(role);
        self
    }

    /// Changes the status.
    pub fn status(mut self, status: UserStatus) -> UserPatch {
        self.status = Some(status);
        self
    }

    /// Sets (`Some`) or clears (`None`) the external id.
    pub fn external_id(mut self, id: Option<String>) -> UserPatch {
        self.external_id = Some(id);
        self
    }

    /// Changes `managed_by_sync`.
    pub fn managed_by_sync(mut self, managed: bool) -> UserPatch {
        self.managed_by_sync = Some(managed);
        self
    }

    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self == &UserPatch::default()
    }
}

impl From<NewUser> for UserPatch {
    /// Every field of the new user, as batch `fields`.
    fn from(user: NewUser) -> UserPatch {
        UserPatch {
            email: Some(user.email),
            first_name: Some(user.first_name),
            last_name: Some(user.last_name),
            role: Some(user.role),
            status: None,
            external_id: user.external_id.map(Some),
            managed_by_sync: Some(user.managed_by_sync),
        }
    }
}

/// What a batch operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchOp {
    /// Create a user from `fields`.
    Create,
    /// Change the `fields` of user `user_id`.
    Update,
    /// Suspend user `user_id`.
    Suspend,
    /// Reactivate user `user_id`.
    Reactivate,
}

impl BatchOp {
    /// Every operation.
    pub const ALL: &'static [BatchOp] = &[BatchOp::Create, BatchOp::Update, BatchOp::Suspend, BatchOp::Reactivate];
}

/// One operation of a batch. Build it with [`BatchOperation::create`], [`update`](BatchOperation::update),
/// [`suspend`](BatchOperation::suspend) or [`reactivate`](BatchOperation::reactivate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchOperation {
    /// What to do.
    pub op: BatchOp,
    /// The user acted on; absent for `create`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The syncing system's id for the user, on every operation, so that results can be matched to sources and a
    /// create is recognisable.
    pub external_id: String,
    /// The user's fields (`create`) or the changed fields (`update`); absent for `suspend` and `reactivate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<UserPatch>,
}

impl BatchOperation {
    /// Creates a user known to the syncing system as `external_id`. The external id is sent once, at the top
    /// level of the operation (the server records it on the new user); `user.external_id` is not used.
    pub fn create(external_id: impl Into<String>, user: NewUser) -> BatchOperation {
        let mut fields = UserPatch::from(user);
        fields.external_id = None;
        BatchOperation { op: BatchOp::Create, user_id: None, external_id: external_id.into(), fields: Some(fields) }
    }

    /// Changes some fields of a user.
    pub fn update(user_id: impl Into<String>, external_id: impl Into<String>, patch: UserPatch) -> BatchOperation {
        BatchOperation {
            op: BatchOp::Update,
            user_id: Some(user_id.into()),
            external_id: external_id.into(),
            fields: Some(patch),
        }
    }

    /// Suspends a user.
    pub fn suspend(user_id: impl Into<String>, external_id: impl Into<String>) -> BatchOperation {
        BatchOperation {
            op: BatchOp::Suspend,
            user_id: Some(user_id.into()),
            external_id: external_id.into(),
            fields: None,
        }
    }

    /// Reactivates a suspended user.
    pub fn reactivate(user_id: impl Into<String>, external_id: impl Into<String>) -> BatchOperation {
        BatchOperation {
            op: BatchOp::Reactivate,
            user_id: Some(user_id.into()),
            external_id: external_id.into(),
            fields: None,
        }
    }
}

/// The body of a batch request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchRequest {
    /// The operations, at most [`MAX_BATCH_OPERATIONS`](crate::MAX_BATCH_OPERATIONS).
    pub operations: Vec<BatchOperation>,
}

impl BatchRequest {
    /// A request carrying these operations.
    pub fn new(operations: Vec<BatchOperation>) -> BatchRequest {
        BatchRequest { operations }
    }
}

/// The body of a batch answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchResponse {
    /// One result per operation.
    pub results: Vec<BatchResult>,
}

impl BatchResponse {
    /// A response carrying these results.
    pub fn new(results: Vec<BatchResult>) -> BatchResponse {
        BatchResponse { results }
    }
}

/// The result of one batch operation, as the server sent it. [`BatchResult::outcome`] types it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchResult {
    /// The operation's position in the request (from 0).
    pub index: usize,
    /// An HTTP-like status for the operation alone: 200/201 done, 409 conflict, 422 invalid, 404 no such user, …
    pub status: u16,
    /// The user after the operation, when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// Why the operation failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

impl BatchResult {
    /// A result.
    pub fn new(index: usize, status: u16, user: Option<User>, error: Option<ErrorDetail>) -> BatchResult {
        BatchResult { index, status, user, error }
    }

    /// Whether the operation was done: a 2xx status and no error.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status) && self.error.is_none()
    }

    /// The operation's outcome: the user after it (when the server returned one), or a typed item error.
    pub fn outcome(&self) -> Result<Option<&User>, BatchItemError> {
        if self.is_success() {
            return Ok(self.user.as_ref());
        }
        let detail = self.error.clone().unwrap_or_else(|| ErrorDetail {
            code: String::new(),
            message: format!("operation answered with status {}", self.status),
            details: None,
        });
        Err(BatchItemError::from_parts(self.status, detail))
    }
}

/// Why one operation of a batch failed. The other operations of the batch are unaffected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchItemError {
    /// 409 `conflict`: e.g. another user already has the email or external id.
    #[error("conflict: {message}")]
    Conflict {
        /// The server's message.
        message: String,
        /// The server's details, if any.
        details: Option<serde_json::Value>,
    },
    /// 422 `validation_failed`: the fields were refused; `details` says which (by the contract, an object of
    /// field name → message).
    #[error("validation failed: {message}")]
    Validation {
        /// The server's message.
        message: String,
        /// The server's details, if any.
        details: Option<serde_json::Value>,
    },
    /// Any other failure of one operation (404 no such user, 500, …).
    #[error("status {status} {code}: {message}")]
    Other {
        /// The operation's status.
        status: u16,
        /// The server's error code (empty when it gave none).
        code: String,
        /// The server's message.
        message: String,
        /// The server's details, if any.
        details: Option<serde_json::Value>,
    },
}

impl BatchItemError {
    fn from_parts(status: u16, detail: ErrorDetail) -> BatchItemError {
        let ErrorDetail { code, message, details } = detail;
        match (status, code.as_str()) {
            (409, _) | (_, "conflict") => BatchItemError::Conflict { message, details },
            (422, _) | (_, "validation_failed") => BatchItemError::Validation { message, details },
            _ => BatchItemError::Other { status, code, message, details },
        }
    }

    /// Whether this is a conflict (409).
    pub fn is_conflict(&self) -> bool {
        matches!(self, BatchItemError::Conflict { .. })
    }

    /// Whether the fields were refused (422).
    pub fn is_validation(&self) -> bool {
        matches!(self, BatchItemError::Validation { .. })
    }

    /// The server's details, if any.
    pub fn details(&self) -> Option<&serde_json::Value> {
        match self {
            BatchItemError::Conflict { details, .. }
            | BatchItemError::Validation { details, .. }
            | BatchItemError::Other { details, .. } => details.as_ref(),
        }
    }
}

/// The contract's error object: `{"code","message","details"?}`, found under `"error"` in an error answer and in a
/// failed batch result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorDetail {
    /// `unauthorized`, `forbidden`, `not_found`, `conflict`, `validation_failed`, `rate_limited` or `internal`.
    pub code: String,
    /// A message for people.
    pub message: String,
    /// More about the error; its shape is not fixed (validation errors give field name → message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ErrorDetail {
    /// An error object.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ErrorDetail {
        ErrorDetail { code: code.into(), message: message.into(), details: None }
    }

    /// Sets the details.
    pub fn with_details(mut self, details: serde_json::Value) -> ErrorDetail {
        self.details = Some(details);
        self
    }
}

/// An error answer's body: `{"error":{…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

impl ErrorBody {
    /// An error body.
    pub fn new(error: ErrorDetail) -> ErrorBody {
        ErrorBody { error }
    }
}

/// One page of a collection: `{"data":[…],"next_cursor":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page.
    pub data: Vec<T>,
    /// The cursor of the next page, to be sent back exactly as given; `None` on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page.
    pub fn new(data: Vec<T>, next_cursor: Option<String>) -> Page<T> {
        Page { data, next_cursor }
    }
}

/// Which users `GET /organisations/{org}/users` returns, and how many per page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UsersQuery {
    /// Only users changed at or after this instant (`updated_since`, RFC 3339 in UTC).
    pub updated_since: Option<DateTime<Utc>>,
    /// Users per page, 1 to [`MAX_PAGE_LIMIT`](crate::MAX_PAGE_LIMIT); the server's default when `None`. A value
    /// out of range is refused before anything is sent, never silently clamped.
    pub limit: Option<u32>,
}

impl UsersQuery {
    /// All users, the server's page size.
    pub fn new() -> UsersQuery {
        UsersQuery::default()
    }

    /// Only users changed at or after `since`.
    pub fn updated_since(mut self, since: DateTime<Utc>) -> UsersQuery {
        self.updated_since = Some(since);
        self
    }

    /// Users per page (1 to 500).
    pub fn limit(mut self, limit: u32) -> UsersQuery {
        self.limit = Some(limit);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_enum_values_are_kept_not_fatal() {
        let role: UserRole = serde_json::from_value(json!("caretaker")).unwrap();
        assert_eq!(role, UserRole::Other("caretaker".into()));
        assert!(!role.is_known());
        assert_eq!(serde_json::to_value(&role).unwrap(), json!("caretaker"));
        let role: UserRole = serde_json::from_value(json!("governor")).unwrap();
        assert_eq!(role, UserRole::Governor);
        assert_eq!(UserStatus::from("Active"), UserStatus::Other("Active".into()), "matching is exact");
    }

    #[test]
    fn a_patch_sends_only_what_it_changes() {
        let patch = UserPatch::new().last_name("Okafor");
        assert_eq!(serde_json::to_value(&patch).unwrap(), json!({"last_name": "Okafor"}));
        let clear = UserPatch::new().external_id(None);
        assert_eq!(serde_json::to_value(&clear).unwrap(), json!({"external_id": null}));
        let back: UserPatch = serde_json::from_value(json!({"external_id": null})).unwrap();
        assert_eq!(back, clear);
        let back: UserPatch = serde_json::from_value(json!({})).unwrap();
        assert!(back.is_empty());
    }

    #[test]
    fn batch_operations_serialise_as_the_contract_says() {
        let create =
            BatchOperation::create("entra:1", NewUser::new("a@school.example", "Ada", "Lovelace", UserRole::Staff));
        assert_eq!(
            serde_json::to_value(&create).unwrap(),
            json!({"op": "create", "external_id": "entra:1", "fields": {
                "email": "a@school.example", "first_name": "Ada", "last_name": "Lovelace",
                "role": "staff", "managed_by_sync": true}})
        );
        let suspend = BatchOperation::suspend("u-1", "entra:2");
        assert_eq!(
            serde_json::to_value(&suspend).unwrap(),
            json!({"op": "suspend", "user_id": "u-1", "external_id": "entra:2"})
        );
    }

    #[test]
    fn batch_results_are_typed() {
        let conflict = BatchResult::new(0, 409, None, Some(ErrorDetail::new("conflict", "email taken")));
        assert!(conflict.outcome().unwrap_err().is_conflict());
        let invalid = BatchResult::new(1, 422, None, None);
        assert!(invalid.outcome().unwrap_err().is_validation());
        let gone = BatchResult::new(2, 404, None, Some(ErrorDetail::new("not_found", "no such user")));
        assert!(matches!(gone.outcome(), Err(BatchItemError::Other { status: 404, .. })));
        let done = BatchResult::new(3, 200, None, None);
        assert_eq!(done.outcome(), Ok(None));
    }
}
