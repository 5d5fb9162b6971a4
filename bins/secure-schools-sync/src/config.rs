//! The configuration file (TOML). Every secret can come from an environment variable, and errors name the key and
//! the line. A fully commented example is in `docs/secure-schools-sync.example.toml`.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use sync_engine::model::{
    ConnectionGroup, ConnectionId, OrganisationId, Role, RolePrecedence, ScopeId, ScopeSelection,
};
use sync_engine::{SafetyPolicy, Schedule};

/// A configuration that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration; the message names the key and line.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What and where.
        message: String,
    },
    /// The file parses, but a value is wrong.
    #[error("{}{}: `{key}`: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, e.g. `connections[0].tenant`.
        key: String,
        /// The line the key (or the table holding it) is on, 1-based, when it is in the file.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

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

/// The national cloud of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CloudName {
    /// The global service.
    #[default]
    Global,
    /// US Government L4 (GCC High).
    UsgovL4,
    /// US Government L5 (DoD).
    UsgovL5,
    /// China (21Vianet).
    China,
}

/// One `[[connections]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    /// A short name, used in `external_id`s: letters, digits, `-`, `_` (never change it once synced).
    pub name: String,
    /// `microsoft` (the only kind this program syncs from today).
    pub kind: String,
    /// Tenant id or domain.
    pub tenant: String,
    /// The app registration's client id.
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
    /// Where it is defined (never read from the file).
    #[serde(skip)]
    pub origin: Origin,
}

impl ConnectionConfig {
    /// The cloud to talk to, with the URL overrides applied (an override replaces that root only).
    pub fn cloud(&self) -> graph_client::Cloud {
        use graph_client::Cloud;
        let named = match self.cloud {
            CloudName::Global => Cloud::Global,
            CloudName::UsgovL4 => Cloud::UsGovL4,
            CloudName::UsgovL5 => Cloud::UsGovL5,
            CloudName::China => Cloud::China,
        };
        if self.authority_url.is_none() && self.graph_url.is_none() {
            return named;
        }
        Cloud::Custom {
            authority: self.authority_url.clone().unwrap_or_else(|| named.authority()),
            graph: self.graph_url.clone().unwrap_or_else(|| named.graph_root()),
        }
    }
}

/// One group of a connection group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// The group's object id.
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
            if c.kind != "microsoft" {
                return Err(invalid(
                    format!("connections[{i}].kind"),
                    format!("`{}` is not supported; use `microsoft`", c.kind),
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
            if g.organisation.trim().is_empty() {
                return Err(invalid(format!("connection_groups[{i}].organisation"), "must not be empty".into()));
            }
            if g.groups.is_empty() {
                return Err(invalid(format!("connection_groups[{i}].groups"), "select at least one group".into()));
            }
            for (j, group) in g.groups.iter().enumerate() {
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

    /// The engine's connection groups.
    pub fn connection_groups(&self) -> Vec<ConnectionGroup> {
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
        let set: std::collections::BTreeSet<_> =
            self.connection_groups.iter().map(|g| OrganisationId::new(g.organisation.clone())).collect();
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

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The 1-based line of a key path such as `connections[1].tenant` in the TOML text: the key itself when it is
/// there, else the deepest table on the path that is (a missing key is reported at its table).
fn line_of(text: &str, key: &str) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut offset = None;
    let mut segments = key.split('.').peekable();
    while let Some(segment) = segments.next() {
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let Some((_, value)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == name) else { break };
        let mut value = value;
        if let Some(index) = index {
            match value.get_ref() {
                DeValue::Array(items) => match items.get(index) {
                    Some(item) => value = item,
                    None => break,
                },
                _ => break,
            }
        }
        offset = Some(value.span().start);
        match value.get_ref() {
            DeValue::Table(inner) if segments.peek().is_some() => table = inner,
            _ => break,
        }
    }
    offset.map(|at| text[..at.min(text.len())].matches('\n').count() + 1)
}
