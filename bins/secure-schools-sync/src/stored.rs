//! Connections and connection groups kept in the store, as the web UI creates them, and how they join the
//! configuration file's (see docs/ui.md, "One state, three editors").
//!
//! The rule: the configuration file's connections and connection groups are the file's, and the UI shows them
//! read-only; the UI creates, edits and deletes its own, which live in the store (a connection's non-secret
//! settings as JSON marked `"managed_by": "ui"`, its secret encrypted: a Microsoft app-only client secret, a
//! Google service account key, a Wonde API token). [`crate::app::App::open`] merges
//! both, the file's first, so that every command (`sync`, `plan`, `doctor`, `groups`), the daemon's scheduler and
//! the UI see one set. The file wins a name clash.
//!
//! The store also holds a record of every file connection that has signed in (`connect microsoft`), to keep its
//! sign-in; such records are marked `"managed_by": "file"` and take their settings from the file.

use crate::config::{
    AuthMode, CloudName, ConnectionConfig, ConnectionGroupConfig, GroupConfig, KIND_GOOGLE, KIND_MICROSOFT, Origin,
    WONDE,
};
use anyhow::{Context, bail};
use roster_store::{ConnectionRecord, ConnectionSummary, GroupRecord, SecretRef, SecretSource, Store};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use sync_engine::model::{
    ConnectionGroup, ConnectionId, ConnectionKind, OrganisationId, Role, ScopeId, ScopeSelection,
};

/// `managed_by` of a connection record the web UI created.
pub const MANAGED_BY_UI: &str = "ui";
/// `managed_by` of the record of a configuration-file connection (it only keeps the sign-in).
pub const MANAGED_BY_FILE: &str = "file";

/// The settings of a Microsoft connection created in the web UI, as stored (never a secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MicrosoftSettings {
    managed_by: String,
    tenant: String,
    client_id: String,
    #[serde(default)]
    auth: AuthMode,
    #[serde(default)]
    cloud: CloudName,
    #[serde(default)]
    authority_url: Option<url::Url>,
    #[serde(default)]
    graph_url: Option<url::Url>,
}

/// The settings of a Google Workspace connection created in the web UI, as stored (the service account key is
/// the record's encrypted secret, never here).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct GoogleSettings {
    managed_by: String,
    admin_subject: String,
    #[serde(default)]
    customer: Option<String>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    directory_url: Option<url::Url>,
}

/// The settings of a Wonde connection created in the web UI, as stored (the API token is the record's encrypted
/// secret, never here).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WondeSettings {
    managed_by: String,
    school_id: String,
    organisation: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    wonde_url: Option<url::Url>,
}

/// What the store holds for the web UI, ready to merge into the configuration.
#[derive(Default)]
pub struct StoredState {
    /// Connections created in the UI.
    pub connections: Vec<ConnectionConfig>,
    /// Connection groups created in the UI.
    pub groups: Vec<ConnectionGroupConfig>,
    /// Client secrets of app-only UI connections, decrypted, by connection name.
    pub client_secrets: BTreeMap<String, SecretString>,
    /// Service account keys (the key file's JSON) of Google UI connections, decrypted, by connection name.
    pub google_keys: BTreeMap<String, SecretString>,
    /// API tokens of Wonde UI connections, decrypted, by connection name.
    pub wonde_tokens: BTreeMap<String, SecretString>,
    /// Stored entries that cannot be used, and why (by name).
    pub problems: Vec<(String, String)>,
}

impl std::fmt::Debug for StoredState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredState")
            .field("connections", &self.connections.iter().map(|c| &c.name).collect::<Vec<_>>())
            .field("groups", &self.groups.iter().map(|g| &g.name).collect::<Vec<_>>())
            .field("client_secrets", &self.client_secrets.keys().collect::<Vec<_>>())
            .field("google_keys", &self.google_keys.keys().collect::<Vec<_>>())
            .field("wonde_tokens", &self.wonde_tokens.keys().collect::<Vec<_>>())
            .field("problems", &self.problems)
            .finish()
    }
}

/// Whether a stored connection record was created in the web UI.
pub fn is_ui_managed(settings: &serde_json::Value) -> bool {
    settings.get("managed_by").and_then(|v| v.as_str()) == Some(MANAGED_BY_UI)
}

/// Reads the connections and connection groups the web UI keeps in the store.
pub async fn load(store: &Store) -> anyhow::Result<StoredState> {
    let mut state = StoredState::default();
    for summary in store.list_connections().await.context("reading stored connections")? {
        if !is_ui_managed(&summary.settings) {
            continue;
        }
        let name = summary.id.to_string();
        let loaded = match summary.kind {
            ConnectionKind::Microsoft => load_microsoft(store, &summary, &mut state).await,
            ConnectionKind::Google => load_google(store, &summary, &mut state).await,
            ConnectionKind::Wonde => load_wonde(store, &summary, &mut state).await,
            _ => Err("its kind is not supported by this version of secure-schools-sync".into()),
        };
        match loaded {
            Ok(connection) => state.connections.push(connection),
            Err(why) => state.problems.push((name, why)),
        }
    }
    for record in store.groups().await.context("reading stored connection groups")? {
        state.groups.push(group_config(record));
    }
    Ok(state)
}

/// The stored secret of a UI connection (`what` names it in messages), decrypted.
async fn stored_secret(store: &Store, summary: &ConnectionSummary, what: &str) -> Result<SecretString, String> {
    match summary.secret {
        SecretSource::Stored => match store.connection(&summary.id).await {
            Ok(Some(ConnectionRecord { secret: SecretRef::Stored(secret), .. })) => Ok(secret),
            Ok(_) => Err(format!("its {what} is missing")),
            Err(e) => Err(format!("its {what} cannot be read: {e}")),
        },
        _ => Err(format!("it has no stored {what}")),
    }
}

fn settings<T: serde::de::DeserializeOwned>(summary: &ConnectionSummary) -> Result<T, String> {
    serde_json::from_value(summary.settings.clone()).map_err(|e| format!("its stored settings cannot be read: {e}"))
}

async fn load_microsoft(
    store: &Store,
    summary: &ConnectionSummary,
    state: &mut StoredState,
) -> Result<ConnectionConfig, String> {
    let name = summary.id.to_string();
    let settings: MicrosoftSettings = settings(summary)?;
    if settings.auth == AuthMode::AppOnly {
        match stored_secret(store, summary, "client secret").await {
            Ok(secret) => {
                state.client_secrets.insert(name.clone(), secret);
            }
            // Still listed (its checks say what is wrong, and it can be deleted).
            Err(why) => state.problems.push((name.clone(), why)),
        }
    }
    Ok(ConnectionConfig {
        name: name.clone(),
        kind: KIND_MICROSOFT.into(),
        tenant: settings.tenant,
        client_id: settings.client_id,
        auth: settings.auth,
        client_secret_env: None,
        cloud: settings.cloud,
        authority_url: settings.authority_url,
        graph_url: settings.graph_url,
        origin: Origin::Store(name),
        ..Default::default()
    })
}

async fn load_google(
    store: &Store,
    summary: &ConnectionSummary,
    state: &mut StoredState,
) -> Result<ConnectionConfig, String> {
    let name = summary.id.to_string();
    let settings: GoogleSettings = settings(summary)?;
    // Without its key it is still listed (its checks say what is wrong, and it can be deleted), as Microsoft's.
    match stored_secret(store, summary, "service account key").await {
        Ok(key) => {
            state.google_keys.insert(name.clone(), key);
        }
        Err(why) => state.problems.push((name.clone(), why)),
    }
    Ok(ConnectionConfig {
        name: name.clone(),
        kind: KIND_GOOGLE.into(),
        admin_subject: Some(settings.admin_subject),
        customer: settings.customer,
        domain: settings.domain,
        directory_url: settings.directory_url,
        origin: Origin::Store(name),
        ..Default::default()
    })
}

async fn load_wonde(
    store: &Store,
    summary: &ConnectionSummary,
    state: &mut StoredState,
) -> Result<ConnectionConfig, String> {
    let name = summary.id.to_string();
    let settings: WondeSettings = settings(summary)?;
    match stored_secret(store, summary, "Wonde API token").await {
        Ok(token) => {
            state.wonde_tokens.insert(name.clone(), token);
        }
        Err(why) => state.problems.push((name.clone(), why)),
    }
    Ok(ConnectionConfig {
        name: name.clone(),
        kind: WONDE.into(),
        school_id: Some(settings.school_id),
        organisation: Some(settings.organisation),
        region: settings.region,
        wonde_url: settings.wonde_url,
        origin: Origin::Store(name),
        ..Default::default()
    })
}

/// A stored connection group as a configuration entry.
pub fn group_config(record: GroupRecord) -> ConnectionGroupConfig {
    let g = record.group;
    ConnectionGroupConfig {
        name: record.name,
        organisation: g.organisation.to_string(),
        connection: g.connection.to_string(),
        groups: g
            .scopes
            .into_iter()
            .map(|s| GroupConfig { id: s.scope.to_string(), name: s.name, role: s.role.as_str().to_owned() })
            .collect(),
        origin: Origin::Store(g.id),
    }
}

/// The store record of a Microsoft connection created in the web UI, with its client secret (app-only) to be
/// stored encrypted.
pub fn microsoft_record(connection: &ConnectionConfig, client_secret: Option<SecretString>) -> ConnectionRecord {
    let settings = MicrosoftSettings {
        managed_by: MANAGED_BY_UI.into(),
        tenant: connection.tenant.clone(),
        client_id: connection.client_id.clone(),
        auth: connection.auth,
        cloud: connection.cloud,
        authority_url: connection.authority_url.clone(),
        graph_url: connection.graph_url.clone(),
    };
    ConnectionRecord {
        id: ConnectionId::new(connection.name.clone()),
        name: connection.name.clone(),
        kind: ConnectionKind::Microsoft,
        settings: serde_json::to_value(settings).unwrap_or_default(),
        secret: match client_secret {
            Some(secret) => SecretRef::Stored(secret),
            None => SecretRef::None,
        },
    }
}

/// The store record of a Google Workspace connection created in the web UI, with its service account key (the
/// key file's JSON) to be stored encrypted.
pub fn google_record(connection: &ConnectionConfig, key_json: SecretString) -> ConnectionRecord {
    let settings = GoogleSettings {
        managed_by: MANAGED_BY_UI.into(),
        admin_subject: connection.admin_subject.clone().unwrap_or_default(),
        customer: connection.customer.clone(),
        domain: connection.domain.clone(),
        directory_url: connection.directory_url.clone(),
    };
    ConnectionRecord {
        id: ConnectionId::new(connection.name.clone()),
        name: connection.name.clone(),
        kind: ConnectionKind::Google,
        settings: serde_json::to_value(settings).unwrap_or_default(),
        secret: SecretRef::Stored(key_json),
    }
}

/// The store record of a Wonde connection created in the web UI, with its API token to be stored encrypted.
pub fn wonde_record(connection: &ConnectionConfig, token: SecretString) -> ConnectionRecord {
    let settings = WondeSettings {
        managed_by: MANAGED_BY_UI.into(),
        school_id: connection.school_id.clone().unwrap_or_default(),
        organisation: connection.organisation.clone().unwrap_or_default(),
        region: connection.region.clone(),
        wonde_url: connection.wonde_url.clone(),
    };
    ConnectionRecord {
        id: ConnectionId::new(connection.name.clone()),
        name: connection.name.clone(),
        kind: ConnectionKind::Wonde,
        settings: serde_json::to_value(settings).unwrap_or_default(),
        secret: SecretRef::Stored(token),
    }
}

/// The store record of a connection group (its id is the store's; roles must be staff, student or governor).
pub fn group_record(id: &str, group: &ConnectionGroupConfig) -> anyhow::Result<GroupRecord> {
    let mut scopes = Vec::new();
    for g in &group.groups {
        let role = match Role::parse(&g.role) {
            role @ (Role::Staff | Role::Student | Role::Governor) => role,
            _ => bail!("`{}` is not a role for group `{}`; use staff, student or governor", g.role, g.name),
        };
        scopes.push(ScopeSelection { scope: ScopeId::new(g.id.clone()), name: g.name.clone(), role });
    }
    Ok(GroupRecord {
        name: group.name.clone(),
        group: ConnectionGroup {
            id: id.to_owned(),
            organisation: OrganisationId::new(group.organisation.clone()),
            connection: ConnectionId::new(group.connection.clone()),
            scopes,
        },
    })
}
