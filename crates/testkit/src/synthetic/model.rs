//! The data of a synthetic school trust: a directory as Microsoft Entra ID holds it, and the schools as the Secure
//! Schools platform knows them. Plain data, so that each fake can load it in its own way.

use serde::Serialize;

/// A user of the directory (the properties Graph's `user` resource carries that sync reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectoryUser {
    /// Object id (a GUID).
    pub id: String,
    /// Sign-in name.
    pub user_principal_name: String,
    /// Primary SMTP address, if any.
    pub mail: Option<String>,
    /// First name.
    pub given_name: Option<String>,
    /// Last name.
    pub surname: Option<String>,
    /// Display name.
    pub display_name: String,
    /// `false` when blocked from sign-in.
    pub account_enabled: bool,
    /// Job title.
    pub job_title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Employee id.
    pub employee_id: Option<String>,
    /// `Member` or `Guest`.
    pub user_type: String,
}

/// The kinds of group Entra ID has (Graph "Working with groups").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum DirectoryGroupKind {
    /// Security group.
    Security,
    /// Mail-enabled security group.
    MailEnabledSecurity,
    /// Distribution list.
    Distribution,
    /// Microsoft 365 group (`groupTypes: ["Unified"]`).
    Microsoft365,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum MemberRef {
    /// A user, by object id.
    User(String),
    /// A nested group, by object id.
    Group(String),
}

/// A group of the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectoryGroup {
    /// Object id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Description.
    pub description: Option<String>,
    /// SMTP address of a mail-enabled group.
    pub mail: Option<String>,
    /// Kind.
    pub kind: DirectoryGroupKind,
    /// The rule of a dynamic group (`groupTypes` then includes `DynamicMembership`).
    pub membership_rule: Option<String>,
    /// Direct members.
    pub members: Vec<MemberRef>,
}

/// A whole Entra ID tenant.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Directory {
    /// Tenant id.
    pub tenant_id: String,
    /// Tenant display name.
    pub tenant_name: String,
    /// The tenant's default verified domain.
    pub domain: String,
    /// Users.
    pub users: Vec<DirectoryUser>,
    /// Groups.
    pub groups: Vec<DirectoryGroup>,
}
