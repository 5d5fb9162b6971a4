//! The Graph resources sync needs, with exactly the properties it reads.
//!
//! Property names and shapes follow the Microsoft Graph v1.0 reference: "user resource type", "group resource
//! type", "directoryRole resource type", "organization resource type".

use serde::{Deserialize, Serialize};

mod user;

pub(crate) use user::deserialize_delta_user;
pub use user::{User, UserBuilder};

/// `$select` for users: only what sync reads.
pub const USER_SELECT: &str = "id,userPrincipalName,mail,givenName,surname,displayName,accountEnabled,jobTitle,department,employeeId,onPremisesImmutableId,userType";

/// `$select` for the users a sync reads (group members, delta rounds, lookups): only what it maps to a person
/// (`connectors::microsoft::person`). Narrower than [`USER_SELECT`], so pages are smaller to send and to decode,
/// and a users delta round reports only changes to these properties.
pub const SYNC_USER_SELECT: &str = "id,userPrincipalName,mail,givenName,surname,displayName,accountEnabled";

/// `$select` for groups.
pub const GROUP_SELECT: &str = "id,displayName,description,mail,mailEnabled,securityEnabled,groupTypes,membershipRule";

/// `$select` for directory roles.
pub const ROLE_SELECT: &str = "id,displayName,roleTemplateId";

/// A group (`microsoft.graph.group`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The object id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// SMTP address, for mail-enabled groups.
    #[serde(default)]
    pub mail: Option<String>,
    /// Whether the group is mail-enabled.
    #[serde(default)]
    pub mail_enabled: Option<bool>,
    /// Whether the group is a security group.
    #[serde(default)]
    pub security_enabled: Option<bool>,
    /// `Unified` for Microsoft 365 groups, `DynamicMembership` for dynamic ones.
    #[serde(default)]
    pub group_types: Vec<String>,
    /// The rule of a dynamic group.
    #[serde(default)]
    pub membership_rule: Option<String>,
}

/// What kind of group it is (Graph's "Working with groups": the combination of `groupTypes`, `mailEnabled` and
/// `securityEnabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupKind {
    /// `securityEnabled`, not mail-enabled.
    Security,
    /// `securityEnabled` and mail-enabled.
    MailEnabledSecurity,
    /// Mail-enabled, not a security group: a distribution list.
    Distribution,
    /// `groupTypes` contains `Unified`.
    Microsoft365,
    /// None of the above (neither mail- nor security-enabled).
    Other,
}

impl GroupKind {
    /// A human name.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Security => "Security",
            GroupKind::MailEnabledSecurity => "Mail-enabled security",
            GroupKind::Distribution => "Distribution",
            GroupKind::Microsoft365 => "Microsoft 365",
            GroupKind::Other => "Other",
        }
    }
}

impl std::fmt::Display for GroupKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Group {
    /// The group's kind.
    pub fn kind(&self) -> GroupKind {
        if self.group_types.iter().any(|t| t.eq_ignore_ascii_case("Unified")) {
            return GroupKind::Microsoft365;
        }
        match (self.security_enabled.unwrap_or(false), self.mail_enabled.unwrap_or(false)) {
            (true, false) => GroupKind::Security,
            (true, true) => GroupKind::MailEnabledSecurity,
            (false, true) => GroupKind::Distribution,
            (false, false) => GroupKind::Other,
        }
    }

    /// Whether membership is computed from a rule (`groupTypes` contains `DynamicMembership`).
    pub fn is_dynamic(&self) -> bool {
        self.group_types.iter().any(|t| t.eq_ignore_ascii_case("DynamicMembership"))
    }
}

/// A directory role the signed-in user holds (`microsoft.graph.directoryRole`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryRole {
    /// The role's object id in this tenant.
    pub id: String,
    /// The role's name, e.g. `Application Administrator`.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The template id, the same in every tenant (e.g. `9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3`).
    #[serde(default)]
    pub role_template_id: Option<String>,
}

/// The tenant (`microsoft.graph.organization`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// The tenant id.
    pub id: String,
    /// The tenant's name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Its verified domains.
    #[serde(default)]
    pub verified_domains: Vec<VerifiedDomain>,
}

/// A verified domain of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedDomain {
    /// The domain name.
    pub name: String,
    /// Whether it is the default domain.
    #[serde(default)]
    pub is_default: Option<bool>,
    /// Whether it is the initial `*.onmicrosoft.com` domain.
    #[serde(default)]
    pub is_initial: Option<bool>,
    /// `Managed` or `Federated`.
    #[serde(default, rename = "type")]
    pub domain_type: Option<String>,
}

/// Why a delta round reports an object as removed (`@removed.reason`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Removed {
    /// `changed` (soft-deleted, or no longer in scope; may come back) or `deleted` (permanently deleted).
    #[serde(default)]
    pub reason: Option<String>,
}
