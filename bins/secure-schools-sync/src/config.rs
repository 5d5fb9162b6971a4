//! The configuration file (TOML). Every secret can come from an environment variable, and errors name the key and
//! the line. A fully commented example is in `docs/secure-schools-sync.example.toml`.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use sync_engine::model::{
    ConnectionGroup, ConnectionId, OrganisationId, Role, RolePrecedence, ScopeId, ScopeSelection,
};
use sync_engine::{SafetyPolicy, Schedule};

pub use config_file::ConfigError;
use config_file::{is_env_name, line_of};

/// Where a connection or a connection group is defined (see docs/ui.md, "One state, three editors").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Origin {
    /// In the configuration file: the file is its source of truth; the web UI shows it read-only.
    #[default]
    File,
    /// In the store, created in the web UI (the value is its id there: the connection's name, or the group's id).
    Store(String),
}

impl Origin {
    /// Whether it lives in the store (and so can be changed from the web UI).
    pub fn is_store(&self) -> bool {
        matches!(self, Origin::Store(_))
    }
}

/// How a Microsoft connection signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// An admin signs in once with a device code (`connect microsoft`); the refresh token is stored encrypted.
    #[default]
    Delegated,
    /// The app signs in with its own client secret (application permissions).
    AppOnly,
}

pub use graph_client::CloudName;

/// One `[[connections]]` entry.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    /// A short name, used in `external_id`s: letters, digits, `-`, `_` (never change it once synced).
    pub name: String,
    /// `microsoft` (Entra ID groups through Graph), `google` (Google Workspace organisational units) or `wonde`
    /// (a school's MIS through Wonde).
    pub kind: String,
    /// Microsoft: tenant id or domain.
    #[serde(default)]
    pub tenant: String,
    /// Microsoft: the app registration's client id.
    #[serde(default)]
    pub client_id: String,
    /// How it signs in.
    #[serde(default)]
    pub auth: AuthMode,
    /// For app-only: the environment variable holding the client secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// The cloud.
    #[serde(default)]
    pub cloud: CloudName,
    /// Override of the authority root (tests, proxies); the cloud's own when unset.
    #[serde(default)]
    pub authority_url: Option<url::Url>,
    /// Override of the Graph root (tests, proxies); the cloud's own when unset.
    #[serde(default)]
    pub graph_url: Option<url::Url>,
    /// Google: the service account key file (JSON) downloaded from the Google Cloud console.
    #[serde(default)]
    pub service_account_key_file: Option<PathBuf>,
    /// Google: instead of a file, the environment variable holding the key file's JSON.
    #[serde(default)]
    pub service_account_key_env: Option<String>,
    /// Google: the admin user the service account acts as under domain-wide delegation (the JWT's `sub`).
    #[serde(default)]
    pub admin_subject: Option<String>,
    /// Google: the customer id whose users are listed (default `my_customer`, the admin's own account).
    #[serde(default)]
    pub customer: Option<String>,
    /// Google: list the users of this one domain of the account instead of the whole account.
    #[serde(default)]
    pub domain: Option<String>,
    /// Google: override of the Directory API root (tests, proxies); `https://admin.googleapis.com/` when unset.
    #[serde(default)]
    pub directory_url: Option<url::Url>,
    /// Wonde: the school's Wonde id, e.g. `A1930499544`.
    #[serde(default)]
    pub school_id: Option<String>,
    /// Wonde: the environment variable holding the Wonde API token (default `WONDE_TOKEN`).
    #[serde(default)]
    pub token_env: Option<String>,
    /// Wonde: the school's region: `uk` (default), `anz`, `za`, `us`, or its API domain.
    #[serde(default)]
    pub region: Option<String>,
    /// Wonde: override of the API's v1.0 base URL (tests, proxies); the region's own when unset.
    #[serde(default)]
    pub wonde_url: Option<url::Url>,
    /// Wonde: the Secure Schools organisation the school syncs into. A Wonde connection makes its connection
    /// group from this: the school's students as students and its employees as staff.
    #[serde(default)]
    pub organisation: Option<String>,
    /// Where it is defined (never read from the file).
    #[serde(skip)]
    pub origin: Origin,
}

/// The `kind` of a Wonde connection.
pub const WONDE: &str = "wonde";

/// The environment variable a Wonde connection reads its token from unless `token_env` names another.
pub const DEFAULT_WONDE_TOKEN_ENV: &str = "WONDE_TOKEN";

impl ConnectionConfig {
    /// Whether this is a Wonde connection.
    pub fn is_wonde(&self) -> bool {
        self.kind == WONDE
    }

    /// The environment variable of a Wonde connection's token.
    pub fn wonde_token_env(&self) -> &str {
        self.token_env.as_deref().unwrap_or(DEFAULT_WONDE_TOKEN_ENV)
    }

    /// The region of a Wonde connection (UK when unset or unreadable; the configuration check refuses the latter).
    pub fn wonde_region(&self) -> wonde_client::Region {
        self.region.as_deref().and_then(|r| r.parse().ok()).unwrap_or_default()
    }

    /// The connection group a Wonde connection makes by itself: its school's students and employees into its
    /// organisation. `None` for other connections.
    pub fn wonde_group(&self) -> Option<ConnectionGroup> {
        if !self.is_wonde() {
            return None;
        }
        let school = self.school_id.as_deref()?.trim();
        let organisation = self.organisation.as_deref()?.trim();
        Some(ConnectionGroup {
            id: format!("wonde-{}", self.name),
            organisation: OrganisationId::new(organisation),
            connection: ConnectionId::new(self.name.clone()),
            scopes: connectors::wonde::school_scopes(school, school),
        })
    }
}

/// The `kind` of a Google Workspace connection.
pub const KIND_GOOGLE: &str = "google";
/// The `kind` of a Microsoft Entra ID connection.
pub const KIND_MICROSOFT: &str = "microsoft";

impl ConnectionConfig {
    /// Whether this is a Google Workspace connection.
    pub fn is_google(&self) -> bool {
        self.kind == KIND_GOOGLE
    }

    /// Whether this is a Microsoft connection.
    pub fn is_microsoft(&self) -> bool {
        self.kind == KIND_MICROSOFT
    }

    /// The cloud to talk to, with the URL overrides applied (an override replaces that root only).
    pub fn cloud(&self) -> graph_client::Cloud {
        graph_client::Cloud::named(self.cloud, self.authority_url.clone(), self.graph_url.clone())
    }
}

/// One group of a connection group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Microsoft: the group's object id. Google: the organisational unit's full path (`/School/Students`; also
    /// accepted as `path`), which includes every unit under it.
    #[serde(alias = "path")]
    pub id: String,
    /// Its name (for messages).
    #[serde(default)]
    pub name: String,
    /// `staff`, `student` or `governor`.
    pub role: String,
}

/// One `[[connection_groups]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionGroupConfig {
    /// A name for people.
    pub name: String,
    /// The Secure Schools organisation id.
    pub organisation: String,
    /// The connection's name.
    pub connection: String,
    /// The groups to sync and the role of each.
    pub groups: Vec<GroupConfig>,
    /// Where it is defined (never read from the file).
    #[serde(skip)]
    pub origin: Origin,
}

/// `[secure_schools]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecureSchoolsConfig {
    /// The API's base URL (no host is built in).
    pub base_url: url::Url,
    /// The environment variable holding the admin's API token.
    #[serde(default = "default_token_env")]
    pub token_env: String,
}

fn default_token_env() -> String {
    "SECURE_SCHOOLS_TOKEN".into()
}

/// `[schedule]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// Hours between runs.
    pub every_hours: u32,
    /// Jitter either way, minutes.
    pub jitter_minutes: u32,
    /// A full reconciliation at least this often, hours.
    pub full_every_hours: u32,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig { every_hours: 4, jitter_minutes: 15, full_every_hours: 24 }
    }
}

/// `[safety]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyConfig {
    /// Percentage of managed users a run may suspend without approval.
    pub max_suspension_percent: f64,
    /// Absolute cap of suspensions without approval.
    pub max_suspensions: usize,
    /// Hold a run when a group suddenly has no members.
    pub empty_group_guard: bool,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        SafetyConfig { max_suspension_percent: 10.0, max_suspensions: 500, empty_group_guard: true }
    }
}

/// `[roles]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RolesConfig {
    /// Which role wins when a person is in several groups; first wins.
    pub precedence: Vec<String>,
}

impl Default for RolesConfig {
    fn default() -> Self {
        RolesConfig { precedence: vec!["staff".into(), "governor".into(), "student".into()] }
    }
}

/// `[sync]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// Organisations `sync all` runs at once (1 = one after another). Each still takes its own organisation lock,
    /// so no organisation is ever synced twice at once.
    pub parallel_organisations: usize,
}

/// The most organisations `sync all` may run at once.
pub const MAX_PARALLEL_ORGANISATIONS: usize = 64;

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig { parallel_organisations: 4 }
    }
}

/// `[daemon]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// Where the daemon's HTTP endpoint listens (localhost by default).
    pub listen: std::net::SocketAddr,
    /// On SIGINT/SIGTERM, how long a run in progress may take to finish before it is cancelled, seconds.
    pub shutdown_grace_seconds: u64,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig { listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8787)), shutdown_grace_seconds: 30 }
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The store: a SQLite file path (default `rosterbridge.db`) or a `postgres://` URL.
    #[serde(default = "default_store")]
    pub store: String,
    /// A file holding the key that encrypts stored sign-ins (base64 of 32 bytes), instead of the environment
    /// variable `ROSTERBRIDGE_SECRET_KEY`.
    #[serde(default)]
    pub secret_key_file: Option<PathBuf>,
    /// The Secure Schools API.
    pub secure_schools: SecureSchoolsConfig,
    /// Connections.
    #[serde(default)]
    pub connections: Vec<ConnectionConfig>,
    /// Connection groups.
    #[serde(default)]
    pub connection_groups: Vec<ConnectionGroupConfig>,
    /// How `sync all` runs.
    #[serde(default)]
    pub sync: SyncConfig,
    /// The schedule.
    #[serde(default)]
    pub schedule: ScheduleConfig,
    /// The safety policy.
    #[serde(default)]
    pub safety: SafetyConfig,
    /// Role precedence.
    #[serde(default)]
    pub roles: RolesConfig,
    /// The daemon.
    #[serde(default)]
    pub daemon: DaemonConfig,
}

fn default_store() -> String {
    "rosterbridge.db".into()
}

fn parse_role(text: &str) -> Option<Role> {
    match Role::parse(text) {
        Role::Other(_) => None,
        Role::Admin => None,
        role => Some(role),
    }
}

impl Config {
    /// Reads and checks a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::parse(&text, path)
    }

    /// Parses and checks text (the path is used in messages).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config =
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
        let mut names = std::collections::BTreeSet::new();
        for (i, c) in self.connections.iter().enumerate() {
            if c.name.is_empty() || !c.name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
                return Err(invalid(
                    format!("connections[{i}].name"),
                    format!("`{}` must be letters, digits, - or _", c.name),
                ));
            }
            if !names.insert(c.name.clone()) {
                return Err(invalid(format!("connections[{i}].name"), format!("`{}` is used twice", c.name)));
            }
            if c.is_google() {
                check_google(c, i, &invalid)?;
                continue;
            }
            if c.is_wonde() {
                check_wonde(c, i, &invalid)?;
                continue;
            }
            if !c.is_microsoft() {
                return Err(invalid(
                    format!("connections[{i}].kind"),
                    format!("`{}` is not supported; use `microsoft`, `google` or `wonde`", c.kind),
                ));
            }
            if c.client_id.trim().is_empty() {
                return Err(invalid(
                    format!("connections[{i}].client_id"),
                    "a Microsoft connection needs the app registration's client id".into(),
                ));
            }
            if graph_client::Tenant::new(c.tenant.clone()).is_err() {
                return Err(invalid(
                    format!("connections[{i}].tenant"),
                    format!("`{}` is not a tenant id or domain", c.tenant),
                ));
            }
            if c.auth == AuthMode::AppOnly && c.client_secret_env.is_none() {
                return Err(invalid(
                    format!("connections[{i}].client_secret_env"),
                    "app-only sign-in needs the name of the environment variable holding the client secret".into(),
                ));
            }
            if let Some(var) = &c.client_secret_env
                && !is_env_name(var)
            {
                return Err(invalid(
                    format!("connections[{i}].client_secret_env"),
                    format!("`{var}` is not an environment variable name (letters, digits and _)"),
                ));
            }
        }
        for (i, g) in self.connection_groups.iter().enumerate() {
            if !names.contains(&g.connection) {
                return Err(invalid(
                    format!("connection_groups[{i}].connection"),
                    format!("no connection is named `{}`", g.connection),
                ));
            }
            if self.connection(&g.connection).is_some_and(ConnectionConfig::is_wonde) {
                return Err(invalid(
                    format!("connection_groups[{i}].connection"),
                    format!(
                        "`{}` is a Wonde connection, which makes its own connection group (the school into the \
                         `organisation` set on the connection); remove this connection group",
                        g.connection
                    ),
                ));
            }
            if g.organisation.trim().is_empty() {
                return Err(invalid(format!("connection_groups[{i}].organisation"), "must not be empty".into()));
            }
            if g.groups.is_empty() {
                return Err(invalid(format!("connection_groups[{i}].groups"), "select at least one group".into()));
            }
            let google = self.connection(&g.connection).is_some_and(ConnectionConfig::is_google);
            for (j, group) in g.groups.iter().enumerate() {
                if google && !group.id.starts_with('/') {
                    return Err(invalid(
                        format!("connection_groups[{i}].groups[{j}].id"),
                        format!(
                            "`{}` is not an organisational unit path; Google units are selected by their full path, \
                             e.g. `/Northfield Academy/Students` (see `secure-schools-sync groups --connection {}`)",
                            group.id, g.connection
                        ),
                    ));
                }
                if parse_role(&group.role).is_none() {
                    return Err(invalid(
                        format!("connection_groups[{i}].groups[{j}].role"),
                        format!("`{}` is not a role; use staff, student or governor", group.role),
                    ));
                }
            }
        }
        for (i, r) in self.roles.precedence.iter().enumerate() {
            if parse_role(r).is_none() {
                return Err(invalid(format!("roles.precedence[{i}]"), format!("`{r}` is not a role")));
            }
        }
        if !(0.0..=100.0).contains(&self.safety.max_suspension_percent) {
            return Err(invalid("safety.max_suspension_percent".into(), "must be between 0 and 100".into()));
        }
        if !(1..=MAX_PARALLEL_ORGANISATIONS).contains(&self.sync.parallel_organisations) {
            return Err(invalid(
                "sync.parallel_organisations".into(),
                format!("must be between 1 and {MAX_PARALLEL_ORGANISATIONS}"),
            ));
        }
        if self.schedule.every_hours == 0 {
            return Err(invalid("schedule.every_hours".into(), "must be at least 1".into()));
        }
        if !is_env_name(&self.secure_schools.token_env) {
            return Err(invalid(
                "secure_schools.token_env".into(),
                format!(
                    "`{}` is not an environment variable name (letters, digits and _)",
                    self.secure_schools.token_env
                ),
            ));
        }
        Ok(())
    }

    /// The engine's connection groups: those configured, then the one each Wonde connection makes by itself.
    pub fn connection_groups(&self) -> Vec<ConnectionGroup> {
        let mut groups = self.configured_groups();
        groups.extend(self.connections.iter().filter_map(ConnectionConfig::wonde_group));
        groups
    }

    fn configured_groups(&self) -> Vec<ConnectionGroup> {
        self.connection_groups
            .iter()
            .enumerate()
            .map(|(i, g)| ConnectionGroup {
                id: match &g.origin {
                    Origin::File => format!("config-{i}"),
                    Origin::Store(id) => id.clone(),
                },
                organisation: OrganisationId::new(g.organisation.clone()),
                connection: ConnectionId::new(g.connection.clone()),
                scopes: g
                    .groups
                    .iter()
                    .map(|s| ScopeSelection {
                        scope: ScopeId::new(s.id.clone()),
                        name: if s.name.is_empty() { s.id.clone() } else { s.name.clone() },
                        role: parse_role(&s.role).unwrap_or(Role::Student),
                    })
                    .collect(),
            })
            .collect()
    }

    /// The safety policy.
    pub fn safety_policy(&self) -> SafetyPolicy {
        SafetyPolicy {
            max_suspension_fraction: self.safety.max_suspension_percent / 100.0,
            max_suspensions: self.safety.max_suspensions,
            empty_scope_guard: self.safety.empty_group_guard,
        }
    }

    /// The role precedence (admin always first: an admin is never demoted).
    pub fn precedence(&self) -> RolePrecedence {
        let mut roles = vec![Role::Admin];
        roles.extend(self.roles.precedence.iter().filter_map(|r| parse_role(r)));
        RolePrecedence(roles)
    }

    /// The schedule.
    pub fn schedule(&self) -> Schedule {
        Schedule {
            every: chrono::Duration::hours(self.schedule.every_hours.into()),
            jitter: chrono::Duration::minutes(self.schedule.jitter_minutes.into()),
            full_every: chrono::Duration::hours(self.schedule.full_every_hours.into()),
        }
    }

    /// The organisations that have connection groups.
    pub fn organisations(&self) -> Vec<OrganisationId> {
        let set: std::collections::BTreeSet<_> = self.connection_groups().into_iter().map(|g| g.organisation).collect();
        set.into_iter().collect()
    }

    /// A connection by name.
    pub fn connection(&self, name: &str) -> Option<&ConnectionConfig> {
        self.connections.iter().find(|c| c.name == name)
    }

    /// This configuration with connections and connection groups kept in the store (created in the web UI) added
    /// after the file's own. The file wins: a stored connection whose name the file also uses is left out (and
    /// so are stored groups that use it), as is a stored group whose connection is unknown. Returns the merged
    /// configuration and what was left out, with why.
    pub fn with_stored(
        &self,
        connections: Vec<ConnectionConfig>,
        groups: Vec<ConnectionGroupConfig>,
    ) -> (Config, Vec<(String, String)>) {
        let mut merged = self.clone();
        let mut left_out = Vec::new();
        let mut shadowed = std::collections::BTreeSet::new();
        for c in connections {
            if merged.connection(&c.name).is_some() {
                left_out.push((
                    c.name.clone(),
                    format!("the configuration file also defines a connection named `{}`; the file's is used", c.name),
                ));
                shadowed.insert(c.name.clone());
                continue;
            }
            merged.connections.push(c);
        }
        for g in groups {
            if shadowed.contains(&g.connection) || merged.connection(&g.connection).is_none() {
                left_out
                    .push((g.name.clone(), format!("its connection `{}` is not usable from the store", g.connection)));
                continue;
            }
            merged.connection_groups.push(g);
        }
        (merged, left_out)
    }
}

/// The checks of a Google connection: an admin to act as, exactly one source of the key, a customer or a domain.
fn check_google(
    c: &ConnectionConfig,
    i: usize,
    invalid: &dyn Fn(String, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let subject = c.admin_subject.as_deref().unwrap_or("").trim();
    if subject.is_empty() || !subject.contains('@') {
        return Err(invalid(
            format!("connections[{i}].admin_subject"),
            "a Google connection needs the email of the admin the service account acts as (domain-wide delegation)"
                .into(),
        ));
    }
    match (&c.service_account_key_file, &c.service_account_key_env) {
        (None, None) => {
            return Err(invalid(
                format!("connections[{i}].service_account_key_file"),
                "a Google connection needs the service account key: set service_account_key_file (a path) or \
                 service_account_key_env (an environment variable holding the key's JSON)"
                    .into(),
            ));
        }
        (Some(_), Some(_)) => {
            return Err(invalid(
                format!("connections[{i}].service_account_key_env"),
                "set service_account_key_file or service_account_key_env, not both".into(),
            ));
        }
        (None, Some(var)) if !is_env_name(var) => {
            return Err(invalid(
                format!("connections[{i}].service_account_key_env"),
                format!("`{var}` is not an environment variable name (letters, digits and _)"),
            ));
        }
        _ => {}
    }
    if c.customer.is_some() && c.domain.is_some() {
        return Err(invalid(
            format!("connections[{i}].domain"),
            "set customer or domain, not both (domain lists the users of one domain of the account)".into(),
        ));
    }
    if let Some(domain) = &c.domain
        && (!domain.contains('.') || domain.contains(['/', '@', ' ']))
    {
        return Err(invalid(format!("connections[{i}].domain"), format!("`{domain}` is not a domain name")));
    }
    if !c.tenant.is_empty() || !c.client_id.is_empty() || c.client_secret_env.is_some() {
        return Err(invalid(
            format!("connections[{i}].kind"),
            "tenant, client_id and client_secret_env are Microsoft settings; a Google connection uses \
             service_account_key_file / service_account_key_env and admin_subject"
                .into(),
        ));
    }
    Ok(())
}

/// The checks of a Wonde connection: a school id, an organisation, a token variable name, a known region.
fn check_wonde(
    c: &ConnectionConfig,
    i: usize,
    invalid: &dyn Fn(String, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let school = c.school_id.as_deref().map(str::trim).unwrap_or("");
    if school.is_empty() || !school.chars().all(|ch| ch.is_ascii_alphanumeric()) {
        return Err(invalid(
            format!("connections[{i}].school_id"),
            format!(
                "a Wonde connection needs the school's Wonde id (letters and digits, e.g. A1930499544){}",
                if school.is_empty() { String::new() } else { format!(", not `{school}`") }
            ),
        ));
    }
    if c.organisation.as_deref().is_none_or(|o| o.trim().is_empty()) {
        return Err(invalid(
            format!("connections[{i}].organisation"),
            "a Wonde connection needs the Secure Schools organisation its school syncs into".into(),
        ));
    }
    if !is_env_name(c.wonde_token_env()) {
        return Err(invalid(
            format!("connections[{i}].token_env"),
            format!("`{}` is not an environment variable name (letters, digits and _)", c.wonde_token_env()),
        ));
    }
    if let Some(region) = &c.region
        && let Err(e) = region.parse::<wonde_client::Region>()
    {
        return Err(invalid(format!("connections[{i}].region"), e.to_string()));
    }
    Ok(())
}
