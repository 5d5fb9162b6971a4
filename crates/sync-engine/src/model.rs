//! The engine's vocabulary: connections, connection groups, people, sink records.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id.
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }
            /// The id text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }
    };
}

id_type! {
    /// A connection: a reusable, named link to one tenancy (a Microsoft tenant, a Google domain, a Wonde school).
    /// It prefixes the `external_id` of every record synced from it, so it must not contain `:`.
    ConnectionId
}

id_type! {
    /// An organisation of the sink (a Secure Schools organisation, a roster-store school).
    OrganisationId
}

id_type! {
    /// A scope of a source: a Microsoft group's object id, a Google organisational unit's path, a Wonde school.
    ScopeId
}

/// What a connection connects to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionKind {
    /// Microsoft Entra ID through Microsoft Graph.
    Microsoft,
    /// Google Workspace through the Admin SDK Directory API.
    Google,
    /// A management information system through Wonde.
    Wonde,
    /// A OneRoster CSV set.
    OneRosterCsv,
    /// Anything a third-party connector adds.
    Other(String),
}

/// A connection as the engine sees it (credentials live with the store, not here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// Its id.
    pub id: ConnectionId,
    /// A name an admin recognises.
    pub name: String,
    /// What it connects to.
    pub kind: ConnectionKind,
}

/// A person's role in the sink. The order of [`RolePrecedence`] decides between roles when a person is in several
/// role-mapped scopes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An administrator of the organisation. The sync never demotes one.
    Admin,
    /// Staff.
    Staff,
    /// A governor.
    Governor,
    /// A student.
    Student,
    /// A role the sink has that the engine does not know; kept as is.
    Other(String),
}

impl Role {
    /// The role's name as sinks spell it.
    pub fn as_str(&self) -> &str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Governor => "governor",
            Role::Student => "student",
            Role::Other(s) => s,
        }
    }

    /// Reads a role name; unknown names are kept as [`Role::Other`].
    pub fn parse(text: &str) -> Role {
        match text.trim().to_ascii_lowercase().as_str() {
            "admin" => Role::Admin,
            "staff" => Role::Staff,
            "governor" => Role::Governor,
            "student" => Role::Student,
            _ => Role::Other(text.trim().to_owned()),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The order in which roles win when a person is in several scopes; first wins. Default: staff, governor, student
/// (so a teacher who is also in a student group is staff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolePrecedence(pub Vec<Role>);

impl Default for RolePrecedence {
    fn default() -> Self {
        RolePrecedence(vec![Role::Admin, Role::Staff, Role::Governor, Role::Student])
    }
}

impl RolePrecedence {
    /// The rank of a role: lower wins. Roles not listed rank after every listed one.
    pub fn rank(&self, role: &Role) -> usize {
        self.0.iter().position(|r| r == role).unwrap_or(self.0.len())
    }

    /// The winning role of two.
    pub fn pick<'a>(&self, a: &'a Role, b: &'a Role) -> &'a Role {
        if self.rank(b) < self.rank(a) { b } else { a }
    }
}

/// One scope selected in a connection group, and the role it gives its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeSelection {
    /// The scope.
    pub scope: ScopeId,
    /// Its name when it was selected, for messages.
    pub name: String,
    /// The role of its members.
    pub role: Role,
}

/// One sink organisation, one connection, and the scopes of that connection to sync into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionGroup {
    /// Its id.
    pub id: String,
    /// The organisation synced into.
    pub organisation: OrganisationId,
    /// The connection synced from.
    pub connection: ConnectionId,
    /// The scopes, each with its role.
    pub scopes: Vec<ScopeSelection>,
}

/// A person's identity: the source's stable id, scoped by connection. Never an email: emails and UPNs change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PersonKey {
    /// The connection.
    pub connection: ConnectionId,
    /// The source's stable id (Graph object id, Google user id, Wonde `upi`).
    pub source_id: String,
}

impl PersonKey {
    /// A key.
    pub fn new(connection: ConnectionId, source_id: impl Into<String>) -> PersonKey {
        PersonKey { connection, source_id: source_id.into() }
    }

    /// The sink's `external_id`: `<connection>:<source id>`.
    pub fn external_id(&self) -> String {
        format!("{}:{}", self.connection, self.source_id)
    }

    /// Reads an `external_id` back into a key.
    pub fn from_external_id(external_id: &str) -> Option<PersonKey> {
        let (connection, source_id) = external_id.split_once(':')?;
        (!connection.is_empty() && !source_id.is_empty())
            .then(|| PersonKey::new(ConnectionId::new(connection), source_id))
    }
}

/// A person as a source reports them, with the scopes they were found in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcePerson {
    /// The source's stable id.
    pub source_id: String,
    /// First name.
    pub given_name: String,
    /// Last name.
    pub family_name: String,
    /// Email address, if the source has one.
    pub email: Option<String>,
    /// Sign-in name (UPN), if any.
    pub username: Option<String>,
    /// `false` when the source has blocked or suspended the account.
    pub enabled: bool,
    /// The selected scopes the person is in.
    pub scopes: Vec<ScopeId>,
}

/// A person the organisation should have, after roles are resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Identity.
    pub key: PersonKey,
    /// First name.
    pub given_name: String,
    /// Last name.
    pub family_name: String,
    /// Email address.
    pub email: Option<String>,
    /// Sign-in name.
    pub username: Option<String>,
    /// Whether the source account is enabled.
    pub enabled: bool,
    /// The role, after precedence.
    pub role: Role,
}

/// Whether a sink record can sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Active.
    Active,
    /// Suspended.
    Suspended,
}

/// A user as the sink holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkRecord {
    /// The sink's id for the record.
    pub id: String,
    /// `<connection>:<source id>` once the sync created or adopted it.
    pub external_id: Option<String>,
    /// Email.
    pub email: String,
    /// First name.
    pub given_name: String,
    /// Last name.
    pub family_name: String,
    /// Role.
    pub role: Role,
    /// Status.
    pub status: RecordStatus,
    /// Whether the sync created or adopted it. Records that are not managed are never changed, except to adopt
    /// them on first contact.
    pub managed: bool,
}
