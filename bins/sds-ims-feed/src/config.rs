//! The configuration of `sds-ims-feed sync` (TOML): the store, the schools as OneRoster orgs, the academic
//! sessions, the identity sources, and which groups of which source each school reads, with the OneRoster role
//! each group gives. Secrets come from environment variables; errors name the key and the line. A fully commented
//! example is `docs/sds-ims-feed.example.toml`.

use chrono::NaiveDate;
use oneroster_model::{AcademicSession, Base, GuidRef, GuidType, Org, OrgType, RoleType, SessionType};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;
use sync_engine::SafetyPolicy;
use sync_engine::model::{
    ConnectionGroup, ConnectionId, OrganisationId, Role, RolePrecedence, ScopeId, ScopeSelection,
};

pub use config_file::ConfigError;
use config_file::{is_env_name, is_name, line_of};

/// One `[[orgs]]` entry: a school (or district) of the feed, and the groups its users come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    /// The org's `sourcedId` (never change it once SDS has synced it).
    pub sourced_id: String,
    /// Its name.
    pub name: String,
    /// `school` (default) or `district` (the org types SDS takes), or another OneRoster org type.
    #[serde(rename = "type", default = "default_org_type")]
    pub org_type: String,
    /// A human-readable identifier (SDS requires one: e.g. the national school number).
    #[serde(default)]
    pub identifier: Option<String>,
    /// The `sourcedId` of the parent org (a district), if any; it must be configured too.
    #[serde(default)]
    pub parent: Option<String>,
    /// The groups whose members are this org's users.
    #[serde(default)]
    pub groups: Vec<GroupConfig>,
}

fn default_org_type() -> String {
    "school".into()
}

/// One group of an org.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// The `name` of the source it is read from.
    pub source: String,
    /// The group's id at the source (a Microsoft group's object id).
    pub id: String,
    /// Its name, for messages.
    #[serde(default)]
    pub name: String,
    /// The OneRoster role its members get: `student`, `teacher`, `administrator`, `aide`, …
    pub role: String,
}

/// One `[[academic_sessions]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    /// Its `sourcedId`.
    pub sourced_id: String,
    /// Its title, e.g. `2025-26`.
    pub title: String,
    /// `schoolYear`, `term`, `semester` or `gradingPeriod`.
    #[serde(rename = "type")]
    pub session_type: String,
    /// First day, `YYYY-MM-DD`.
    pub start_date: String,
    /// Last day, `YYYY-MM-DD`.
    pub end_date: String,
    /// The school year as four digits (`2026` for 2025–26).
    pub school_year: String,
    /// The `sourcedId` of the parent session, if any; it must be configured too.
    #[serde(default)]
    pub parent: Option<String>,
}

pub use graph_client::CloudName;

/// A Microsoft Entra ID tenant read through Microsoft Graph with the app's own credentials (application
/// permissions `GroupMember.Read.All` and `User.Read.All`, admin-consented).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MicrosoftConfig {
    /// A short name, used in the `external_id`s kept with users: letters, digits, `-`, `_` (never change it).
    pub name: String,
    /// Tenant id or domain.
    pub tenant: String,
    /// The app registration's client id.
    pub client_id: String,
    /// The environment variable holding the client secret.
    pub client_secret_env: String,
    /// The cloud.
    #[serde(default)]
    pub cloud: CloudName,
    /// Override of the authority root (tests, proxies).
    #[serde(default)]
    pub authority_url: Option<url::Url>,
    /// Override of the Graph root (tests, proxies).
    #[serde(default)]
    pub graph_url: Option<url::Url>,
}

impl MicrosoftConfig {
    /// The cloud to talk to, with the URL overrides applied (an override replaces that root only).
    pub fn cloud(&self) -> graph_client::Cloud {
        graph_client::Cloud::named(self.cloud, self.authority_url.clone(), self.graph_url.clone())
    }
}

/// A school's management information system read through Wonde (the school must have approved the app's access).
/// Unlike a Microsoft source it brings the whole school: the school as an org, the current academic year as a
/// `schoolYear` session, students and employees as users, subjects as courses, classes, and class memberships as
/// enrollments (see `connectors::wonde::roster`). It is imported as a whole (a bulk import, so records the school no
/// longer has become `tobedeleted`), which is why it cannot share a store with group-based `[[orgs]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WondeConfig {
    /// A short name: letters, digits, `-`, `_`.
    pub name: String,
    /// The school's Wonde id, e.g. `A1930499544`.
    pub school_id: String,
    /// The environment variable holding the Wonde API token (default `WONDE_TOKEN`).
    #[serde(default = "default_wonde_token_env")]
    pub token_env: String,
    /// The school's region: `uk` (default), `anz`, `za`, `us`, or its API domain.
    #[serde(default)]
    pub region: Option<String>,
    /// Employees who teach no class: `administrator` (default: they get accounts, in no class) or `leave-out`.
    #[serde(default)]
    pub non_teaching_staff: Option<String>,
    /// Override of the API's v1.0 base URL (tests, proxies); the region's own when unset.
    #[serde(default)]
    pub wonde_url: Option<url::Url>,
}

fn default_wonde_token_env() -> String {
    "WONDE_TOKEN".into()
}

impl WondeConfig {
    /// The region (UK when unset; the configuration check refuses an unreadable one).
    pub fn region(&self) -> wonde_client::Region {
        self.region.as_deref().and_then(|r| r.parse().ok()).unwrap_or_default()
    }

    /// What employees who teach no class become.
    pub fn non_teaching_staff(&self) -> Option<connectors::wonde::roster::NonTeachingStaff> {
        use connectors::wonde::roster::NonTeachingStaff;
        match self.non_teaching_staff.as_deref().map(str::trim) {
            None | Some("administrator") => Some(NonTeachingStaff::Administrator),
            Some("leave-out") => Some(NonTeachingStaff::Skip),
            Some(_) => None,
        }
    }
}

/// One `[[sources]]` entry: where people come from. The `kind` key picks the variant; each kind is one arm where
/// sources are built (`sync::build_source`).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SourceConfig {
    /// Microsoft Entra ID groups (Security and Distribution groups; Microsoft 365 groups are refused).
    Microsoft(MicrosoftConfig),
    /// A school's MIS through Wonde: the whole school (people, classes, enrollments), imported as a whole.
    Wonde(WondeConfig),
}

impl SourceConfig {
    /// The source's name.
    pub fn name(&self) -> &str {
        match self {
            SourceConfig::Microsoft(m) => &m.name,
            SourceConfig::Wonde(w) => &w.name,
        }
    }
}

/// `[roles]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RolesConfig {
    /// Which role wins when a person is in several groups of one org; first wins.
    pub precedence: Vec<String>,
}

impl Default for RolesConfig {
    fn default() -> Self {
        RolesConfig {
            precedence: ["administrator", "teacher", "aide", "proctor", "student"].map(str::to_owned).to_vec(),
        }
    }
}

/// `[safety]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyConfig {
    /// Percentage of an org's synced users a run may mark `tobedeleted` without approval.
    pub max_suspension_percent: f64,
    /// Absolute cap of those without approval.
    pub max_suspensions: usize,
    /// Hold a run when a group suddenly has no members.
    pub empty_group_guard: bool,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        SafetyConfig { max_suspension_percent: 10.0, max_suspensions: 500, empty_group_guard: true }
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// The database: a SQLite file path or a `postgres://` URL (`--db` / `SDS_IMS_FEED_DB` win over it).
    #[serde(default)]
    pub store: Option<String>,
    /// The orgs (a Wonde source brings its school itself).
    #[serde(default)]
    pub orgs: Vec<OrgConfig>,
    /// The academic sessions.
    #[serde(default)]
    pub academic_sessions: Vec<SessionConfig>,
    /// The sources.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// Role precedence.
    #[serde(default)]
    pub roles: RolesConfig,
    /// The safety policy.
    #[serde(default)]
    pub safety: SafetyConfig,
}

/// A OneRoster role name as the configuration allows it: a role the specification lists.
fn parse_role(text: &str) -> Option<RoleType> {
    Some(RoleType::parse(text.trim())).filter(RoleType::is_spec_value)
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

impl SyncConfig {
    /// Reads and checks a file.
    pub fn load(path: &Path) -> Result<SyncConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        SyncConfig::parse(&text, path)
    }

    /// Parses and checks text (the path is used in messages).
    pub fn parse(text: &str, path: &Path) -> Result<SyncConfig, ConfigError> {
        let config: SyncConfig =
            toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })?;
        config.check(path, text)?;
        Ok(config)
    }

    fn check(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            line: line_of(text, &key),
            key,
            message,
        };
        let mut sources = BTreeSet::new();
        for (i, source) in self.sources.iter().enumerate() {
            let name = source.name();
            if !is_name(name) {
                return Err(invalid(format!("sources[{i}].name"), format!("`{name}` must be letters, digits, - or _")));
            }
            if !sources.insert(name) {
                return Err(invalid(format!("sources[{i}].name"), format!("`{name}` is used twice")));
            }
            match source {
                SourceConfig::Wonde(w) => {
                    if w.school_id.is_empty() || !w.school_id.chars().all(|c| c.is_ascii_alphanumeric()) {
                        return Err(invalid(
                            format!("sources[{i}].school_id"),
                            format!(
                                "`{}` is not a Wonde school id (letters and digits, e.g. A1930499544)",
                                w.school_id
                            ),
                        ));
                    }
                    if !is_env_name(&w.token_env) {
                        return Err(invalid(
                            format!("sources[{i}].token_env"),
                            format!("`{}` is not an environment variable name (letters, digits and _)", w.token_env),
                        ));
                    }
                    if let Some(region) = &w.region
                        && let Err(e) = region.parse::<wonde_client::Region>()
                    {
                        return Err(invalid(format!("sources[{i}].region"), e.to_string()));
                    }
                    if w.non_teaching_staff().is_none() {
                        return Err(invalid(
                            format!("sources[{i}].non_teaching_staff"),
                            "must be `administrator` or `leave-out`".into(),
                        ));
                    }
                }
                SourceConfig::Microsoft(m) => {
                    if graph_client::Tenant::new(m.tenant.clone()).is_err() {
                        return Err(invalid(
                            format!("sources[{i}].tenant"),
                            format!("`{}` is not a tenant id or domain", m.tenant),
                        ));
                    }
                    if !is_env_name(&m.client_secret_env) {
                        return Err(invalid(
                            format!("sources[{i}].client_secret_env"),
                            format!(
                                "`{}` is not an environment variable name (letters, digits and _)",
                                m.client_secret_env
                            ),
                        ));
                    }
                }
            }
        }
        let wonde = self.sources.iter().position(|s| matches!(s, SourceConfig::Wonde(_)));
        if let Some(i) = wonde
            && let Some(j) = self.orgs.iter().position(|o| !o.groups.is_empty())
        {
            return Err(invalid(
                format!("orgs[{j}].groups"),
                format!(
                    "sources[{i}] is a Wonde source, which fills the whole feed from the school's MIS (a bulk \
                     import); orgs that read groups from other sources cannot share its store: use a store of \
                     their own"
                ),
            ));
        }
        if self.orgs.is_empty() && wonde.is_none() {
            return Err(invalid("orgs".into(), "configure at least one org (`[[orgs]]`) or a Wonde source".into()));
        }
        let org_ids: BTreeSet<&str> = self.orgs.iter().map(|o| o.sourced_id.as_str()).collect();
        let mut seen = BTreeSet::new();
        for (i, org) in self.orgs.iter().enumerate() {
            if org.sourced_id.trim().is_empty() {
                return Err(invalid(format!("orgs[{i}].sourced_id"), "must not be empty".into()));
            }
            if !seen.insert(org.sourced_id.as_str()) {
                return Err(invalid(format!("orgs[{i}].sourced_id"), format!("`{}` is used twice", org.sourced_id)));
            }
            if org.name.trim().is_empty() {
                return Err(invalid(format!("orgs[{i}].name"), "must not be empty".into()));
            }
            if !OrgType::parse(&org.org_type).is_spec_value() {
                return Err(invalid(
                    format!("orgs[{i}].type"),
                    format!("`{}` is not a OneRoster org type; use school or district", org.org_type),
                ));
            }
            if let Some(parent) = &org.parent
                && (!org_ids.contains(parent.as_str()) || parent == &org.sourced_id)
            {
                return Err(invalid(format!("orgs[{i}].parent"), format!("no other org has sourced_id `{parent}`")));
            }
            let mut groups = BTreeSet::new();
            for (j, group) in org.groups.iter().enumerate() {
                if !sources.contains(group.source.as_str()) {
                    return Err(invalid(
                        format!("orgs[{i}].groups[{j}].source"),
                        format!("no source is named `{}`", group.source),
                    ));
                }
                if group.id.trim().is_empty() {
                    return Err(invalid(format!("orgs[{i}].groups[{j}].id"), "must not be empty".into()));
                }
                if !groups.insert((group.source.as_str(), group.id.as_str())) {
                    return Err(invalid(
                        format!("orgs[{i}].groups[{j}].id"),
                        format!("group `{}` is selected twice for this org", group.id),
                    ));
                }
                if parse_role(&group.role).is_none() {
                    return Err(invalid(
                        format!("orgs[{i}].groups[{j}].role"),
                        format!(
                            "`{}` is not a OneRoster role; use one of {}",
                            group.role,
                            RoleType::SPEC_VALUES.join(", ")
                        ),
                    ));
                }
            }
        }
        let session_ids: BTreeSet<&str> = self.academic_sessions.iter().map(|s| s.sourced_id.as_str()).collect();
        let mut seen = BTreeSet::new();
        for (i, s) in self.academic_sessions.iter().enumerate() {
            let key = |field: &str| format!("academic_sessions[{i}].{field}");
            if s.sourced_id.trim().is_empty() {
                return Err(invalid(key("sourced_id"), "must not be empty".into()));
            }
            if !seen.insert(s.sourced_id.as_str()) {
                return Err(invalid(key("sourced_id"), format!("`{}` is used twice", s.sourced_id)));
            }
            if !SessionType::parse(&s.session_type).is_spec_value() {
                return Err(invalid(
                    key("type"),
                    format!("`{}` is not one of {}", s.session_type, SessionType::SPEC_VALUES.join(", ")),
                ));
            }
            let (Some(start), Some(end)) = (parse_date(&s.start_date), parse_date(&s.end_date)) else {
                let field = if parse_date(&s.start_date).is_none() { "start_date" } else { "end_date" };
                return Err(invalid(key(field), "must be a date written YYYY-MM-DD (quoted)".into()));
            };
            if start > end {
                return Err(invalid(key("end_date"), format!("{end} is before start_date {start}")));
            }
            if s.school_year.len() != 4 || !s.school_year.chars().all(|c| c.is_ascii_digit()) {
                return Err(invalid(key("school_year"), "must be a four-digit year, e.g. \"2026\" for 2025-26".into()));
            }
            if let Some(parent) = &s.parent
                && (!session_ids.contains(parent.as_str()) || parent == &s.sourced_id)
            {
                return Err(invalid(key("parent"), format!("no other academic session has sourced_id `{parent}`")));
            }
        }
        for (i, r) in self.roles.precedence.iter().enumerate() {
            if parse_role(r).is_none() {
                return Err(invalid(format!("roles.precedence[{i}]"), format!("`{r}` is not a OneRoster role")));
            }
        }
        if !(0.0..=100.0).contains(&self.safety.max_suspension_percent) {
            return Err(invalid("safety.max_suspension_percent".into(), "must be between 0 and 100".into()));
        }
        Ok(())
    }

    /// The configured orgs, as OneRoster records.
    pub fn org_records(&self) -> Vec<Org> {
        self.orgs
            .iter()
            .map(|o| Org {
                base: Base::new(o.sourced_id.clone()),
                name: o.name.trim().to_owned(),
                org_type: OrgType::parse(&o.org_type),
                identifier: o.identifier.clone().filter(|s| !s.trim().is_empty()),
                parent: o.parent.as_ref().map(|p| GuidRef::new(GuidType::Org, p.clone())),
                children: Vec::new(),
            })
            .collect()
    }

    /// The configured academic sessions, as OneRoster records (the dates were checked when the file was read).
    pub fn session_records(&self) -> Vec<AcademicSession> {
        self.academic_sessions
            .iter()
            .filter_map(|s| {
                Some(AcademicSession {
                    base: Base::new(s.sourced_id.clone()),
                    title: s.title.trim().to_owned(),
                    start_date: parse_date(&s.start_date)?,
                    end_date: parse_date(&s.end_date)?,
                    session_type: SessionType::parse(&s.session_type),
                    parent: s.parent.as_ref().map(|p| GuidRef::new(GuidType::AcademicSession, p.clone())),
                    children: Vec::new(),
                    school_year: s.school_year.clone(),
                })
            })
            .collect()
    }

    /// The engine's connection groups: one per org and source that the org reads groups from.
    pub fn connection_groups(&self) -> Vec<ConnectionGroup> {
        let mut out = Vec::new();
        for org in &self.orgs {
            let sources: BTreeSet<&str> = org.groups.iter().map(|g| g.source.as_str()).collect();
            for source in sources {
                out.push(ConnectionGroup {
                    id: format!("config-{}-{source}", org.sourced_id),
                    organisation: OrganisationId::new(org.sourced_id.clone()),
                    connection: ConnectionId::new(source),
                    scopes: org
                        .groups
                        .iter()
                        .filter(|g| g.source == source)
                        .map(|g| ScopeSelection {
                            scope: ScopeId::new(g.id.trim()),
                            name: if g.name.is_empty() { g.id.clone() } else { g.name.clone() },
                            role: connectors::roster_store::engine_role(
                                &parse_role(&g.role).unwrap_or(RoleType::Student),
                            ),
                        })
                        .collect(),
                });
            }
        }
        out
    }

    /// The orgs that read groups, in the order configured.
    pub fn synced_orgs(&self) -> Vec<OrganisationId> {
        self.orgs.iter().filter(|o| !o.groups.is_empty()).map(|o| OrganisationId::new(o.sourced_id.clone())).collect()
    }

    /// The role precedence, as engine roles.
    pub fn precedence(&self) -> RolePrecedence {
        let roles: Vec<Role> = self
            .roles
            .precedence
            .iter()
            .filter_map(|r| parse_role(r))
            .map(|r| connectors::roster_store::engine_role(&r))
            .collect();
        RolePrecedence(roles)
    }

    /// The safety policy.
    pub fn safety_policy(&self) -> SafetyPolicy {
        SafetyPolicy {
            max_suspension_fraction: self.safety.max_suspension_percent / 100.0,
            max_suspensions: self.safety.max_suspensions,
            empty_scope_guard: self.safety.empty_group_guard,
        }
    }
}
