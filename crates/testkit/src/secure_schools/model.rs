//! The contract's objects as the fake holds and serves them (docs/secure-schools-api.md, "Objects").
//!
//! These are the fake's own types, written from the contract rather than borrowed from `secure-schools-client`, so
//! that the client is tested against an independent reading of the document.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares a string enum of the contract with an `Other` variant for values it does not list. The HTTP API of the
/// fake refuses values outside the list (422); the state API accepts them, so that tests can plant a user with a
/// role the platform might add later ("Forward compatibility").
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value the contract does not list (only the state API can store one).
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

            /// The listed value with this exact (lower-case) spelling, if any.
            pub fn parse_known(text: &str) -> Option<$name> {
                match text {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> $name {
                $name::parse_known(text).unwrap_or_else(|| $name::Other(text.to_owned()))
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
    /// `Membership.role` ("Objects" → `Me`): only `admin` may manage users.
    MembershipRole {
        /// `admin`.
        Admin => "admin",
        /// `member`.
        Member => "member",
    }
}

open_enum! {
    /// `User.role`.
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
    /// `User.status`: a suspended user is kept but cannot sign in.
    UserStatus {
        /// `active`.
        Active => "active",
        /// `suspended`.
        Suspended => "suspended",
    }
}

/// `Organisation` ("Objects"): a school, by the id the user endpoints take as `{org}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    /// The organisation's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The school's Unique Reference Number.
    pub urn: String,
}

impl Organisation {
    /// An organisation.
    pub fn new(id: impl Into<String>, name: impl Into<String>, urn: impl Into<String>) -> Organisation {
        Organisation { id: id.into(), name: name.into(), urn: urn.into() }
    }
}

/// One entry of `Me.memberships`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The organisation.
    pub organisation_id: String,
    /// The role held in it.
    pub role: MembershipRole,
}

/// A platform identity, as `GET /me` answers for its token (`Me` in "Objects").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The identity's id.
    pub id: String,
    /// Its email (sign-in name). A sync's Microsoft account must be exactly this address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// One per organisation it belongs to.
    pub memberships: Vec<Membership>,
}

impl Identity {
    /// An identity with no memberships yet.
    pub fn new(id: impl Into<String>, email: impl Into<String>, name: impl Into<String>) -> Identity {
        Identity { id: id.into(), email: email.into(), name: name.into(), memberships: Vec::new() }
    }

    /// Adds (or changes to) an `admin` membership of an organisation.
    pub fn admin_of(self, organisation_id: impl Into<String>) -> Identity {
        self.with_membership(organisation_id, MembershipRole::Admin)
    }

    /// Adds (or changes to) a `member` membership of an organisation: it can see the organisation but not manage
    /// its users.
    pub fn member_of(self, organisation_id: impl Into<String>) -> Identity {
        self.with_membership(organisation_id, MembershipRole::Member)
    }

    /// Adds (or replaces) a membership with any role.
    pub fn with_membership(mut self, organisation_id: impl Into<String>, role: MembershipRole) -> Identity {
        let organisation_id = organisation_id.into();
        self.memberships.retain(|m| m.organisation_id != organisation_id);
        self.memberships.push(Membership { organisation_id, role });
        self
    }

    /// The role held in an organisation, if any.
    pub fn role_in(&self, organisation_id: &str) -> Option<&MembershipRole> {
        self.memberships.iter().find(|m| m.organisation_id == organisation_id).map(|m| &m.role)
    }

    /// Whether it may manage the organisation's users ("Basics" → Authentication).
    pub fn is_admin_of(&self, organisation_id: &str) -> bool {
        self.role_in(organisation_id) == Some(&MembershipRole::Admin)
    }
}

/// `User` ("Objects"), exactly as the fake stores and serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Unique in the organisation (the fake makes it unique across all organisations).
    pub id: String,
    /// Email; unique in the organisation, case-insensitively.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Role.
    pub role: UserRole,
    /// Status.
    pub status: UserStatus,
    /// `<connection>:<source id>`, unique in the organisation when set; always serialised (as `null` when unset).
    pub external_id: Option<String>,
    /// Whether a sync created or adopted the user.
    pub managed_by_sync: bool,
    /// Last change, RFC 3339 in UTC (`Z`), fractional seconds only when non-zero.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

fn rfc3339<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// A user to add: the `NewUser` of the contract. Through the state API it stands for a user that already exists on
/// the platform, so [`NewUser::new`] makes one that no sync manages (`managed_by_sync: false`, no external id),
/// ready to be adopted by email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    /// Email.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Role.
    pub role: UserRole,
    /// Status (not part of the contract's `NewUser`, whose users always start `active`; the state API may plant a
    /// suspended user).
    #[serde(default = "active")]
    pub status: UserStatus,
    /// External id.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Whether a sync manages it.
    pub managed_by_sync: bool,
}

fn active() -> UserStatus {
    UserStatus::Active
}

impl NewUser {
    /// An active user no sync manages, with no external id.
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
            status: UserStatus::Active,
            external_id: None,
            managed_by_sync: false,
        }
    }

    /// Marks it as created by a sync under this external id.
    pub fn managed(mut self, external_id: impl Into<String>) -> NewUser {
        self.external_id = Some(external_id.into());
        self.managed_by_sync = true;
        self
    }

    /// Sets the status.
    pub fn status(mut self, status: UserStatus) -> NewUser {
        self.status = status;
        self
    }
}

/// A change to a user: the contract's `UserPatch`. `None` leaves a field as it is; `external_id: Some(None)` clears
/// the external id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    /// New email.
    pub email: Option<String>,
    /// New given name.
    pub first_name: Option<String>,
    /// New family name.
    pub last_name: Option<String>,
    /// New role.
    pub role: Option<UserRole>,
    /// New status.
    pub status: Option<UserStatus>,
    /// New external id (`Some(None)` clears it).
    pub external_id: Option<Option<String>>,
    /// New `managed_by_sync`.
    pub managed_by_sync: Option<bool>,
}

/// The contract's error object, `{"code","message","details"?}` ("Errors").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// `unauthorized`, `forbidden`, `not_found`, `conflict`, `validation_failed`, `rate_limited` or `internal`.
    pub code: String,
    /// For people.
    pub message: String,
    /// Free-form; for `validation_failed` an object of field name → message, for `conflict` the existing user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// One entry of a batch answer's `results` ("Objects" → `BatchResult`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResult {
    /// The operation's position in the request, from 0.
    pub index: usize,
    /// 200 done, 201 created, 404 no such user, 409 conflict, 422 invalid.
    pub status: u16,
    /// The user after the operation, when it succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// The contract's error code for an HTTP status ("Errors": the table of codes and statuses).
pub fn error_code(status: u16) -> &'static str {
    match status {
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        429 => "rate_limited",
        400..=499 => "validation_failed",
        _ => "internal",
    }
}

/// The contract's error body for a status, `{"error":{"code","message"}}`: what an injected fault answers (pass it
/// to [`Faults::with_error_body`](crate::faults::Faults::with_error_body)).
pub fn error_body(status: u16) -> serde_json::Value {
    let message = match status {
        401 => "the token is missing, invalid or expired",
        403 => "not an admin of this organisation",
        404 => "not found",
        409 => "conflict",
        429 => "slow down",
        400..=499 => "the request was refused",
        503 => "service unavailable",
        _ => "internal error",
    };
    serde_json::json!({"error": {"code": error_code(status), "message": message}})
}
