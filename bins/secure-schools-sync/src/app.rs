//! Wiring: the store, the Secure Schools client, one Graph client per Microsoft connection with the right token
//! source, one Directory client per Google connection (a service account acting as an admin), and the sync engine
//! built from them.

use crate::config::{AuthMode, Config, ConnectionConfig};
use crate::shutdown::Shutdown;
use anyhow::{Context, anyhow, bail};
use async_trait::async_trait;
use connectors::google::GoogleSource;
use connectors::microsoft::MicrosoftSource;
use connectors::secure_schools::SecureSchoolsSink;
use connectors::wonde::WondeSource;
use google_directory_client::auth::DelegatedServiceAccount;
use google_directory_client::{Account, DirectoryClient, DirectoryStats, ServiceAccountKey};
use graph_client::auth::{ClientCredentials, RefreshTokenSource, TokenSource, TokenStore, TokenStoreError};
use graph_client::{Cloud, GraphClient, Tenant, ThrottleStats};
use http_retry::{Retrier, RetryPolicy};
use roster_store::{ConnectionRecord, KeySource, SecretKey, SecretRef, Store, StoreOptions};
use secrecy::{ExposeSecret, SecretString};
use secure_schools_client::SecureSchoolsClient;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use sync_engine::model::{ConnectionId, ConnectionKind, OrganisationId};
use sync_engine::{Engine, ExecutorOptions, Progress, RunError, RunOptions, RunReport, RunStatus, StateStore};
use wonde_client::{Region, WondeClient};

/// How long an organisation's lock lasts if the worker holding it dies without releasing it.
pub const LOCK_TTL_HOURS: i64 = 2;

/// The prefix of this program's lock owner names: `secure-schools-sync@<host>/<pid>/<nonce>`.
const OWNER_PREFIX: &str = "secure-schools-sync@";

/// The secrets the program needs, each from the command line / environment (see `main.rs`) or, failing that, from
/// the environment variable the configuration names. `Debug` never shows them.
#[derive(Clone, Default)]
pub struct Secrets {
    /// The Secure Schools admin's API token.
    pub secure_schools_token: Option<SecretString>,
    /// The key that encrypts stored sign-ins (base64 of 32 bytes).
    pub secret_key: Option<SecretString>,
    /// The store key itself, already decoded (the demo and tests generate one).
    pub store_key: Option<SecretKey>,
    /// Client secrets of app-only connections, by connection name.
    pub client_secrets: BTreeMap<String, SecretString>,
    /// Wonde API tokens, by connection name (else read from the connection's `token_env`).
    pub wonde_tokens: BTreeMap<String, SecretString>,
    /// Google service account keys (the key file's JSON), by connection name (else read from the connection's
    /// `service_account_key_file` or `service_account_key_env`). The web UI's Google connections keep theirs
    /// encrypted in the store and come in here.
    pub google_keys: BTreeMap<String, SecretString>,
    /// The web UI's admin password, stored (hashed) at the daemon's first start (see [`crate::ui`]).
    pub admin_password: Option<SecretString>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("secure_schools_token", &self.secure_schools_token.as_ref().map(|_| "[redacted]"))
            .field("secret_key", &self.secret_key.as_ref().map(|_| "[redacted]"))
            .field("store_key", &self.store_key.as_ref().map(|k| k.fingerprint().to_owned()))
            .field("client_secrets", &self.client_secrets.keys().collect::<Vec<_>>())
            .field("wonde_tokens", &self.wonde_tokens.keys().collect::<Vec<_>>())
            .field("google_keys", &self.google_keys.keys().collect::<Vec<_>>())
            .field("admin_password", &self.admin_password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

fn env_secret(name: &str) -> Option<SecretString> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).map(SecretString::from)
}

/// Knobs that tests and the demo turn; the defaults suit production.
#[derive(Clone, Default)]
pub struct AppOptions {
    /// The retry policy of every HTTP client (default: [`RetryPolicy::default`]).
    pub retry_policy: Option<RetryPolicy>,
    /// Operations per Secure Schools batch (default 100, the contract's maximum).
    pub batch_size: Option<usize>,
    /// Batches in flight at once (default 4).
    pub concurrency: Option<usize>,
}

impl fmt::Debug for AppOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppOptions")
            .field("retry_policy", &self.retry_policy)
            .field("batch_size", &self.batch_size)
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

/// One Microsoft connection, ready to use.
pub struct Microsoft {
    /// Its configuration.
    pub config: ConnectionConfig,
    /// Its cloud (with any URL overrides).
    pub cloud: Cloud,
    /// Its tenant.
    pub tenant: Tenant,
    /// Where its access tokens come from.
    pub tokens: Arc<dyn TokenSource>,
    /// The Graph client.
    pub graph: GraphClient,
    /// Requests, throttling and retries seen by the client (for metrics).
    pub stats: Arc<ThrottleStats>,
}

impl fmt::Debug for Microsoft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Microsoft")
            .field("connection", &self.config.name)
            .field("tenant", &self.tenant)
            .field("auth", &self.config.auth)
            .finish_non_exhaustive()
    }
}

impl Microsoft {
    /// The connection's id as the engine knows it.
    pub fn id(&self) -> ConnectionId {
        ConnectionId::new(self.config.name.clone())
    }

    /// Whether an admin signs in (device code) rather than the app itself.
    pub fn is_delegated(&self) -> bool {
        self.config.auth == AuthMode::Delegated
    }
}

/// One Google Workspace connection, ready to use.
pub struct Google {
    /// Its configuration.
    pub config: ConnectionConfig,
    /// The service account acting as the admin (its token requests check domain-wide delegation).
    pub tokens: Arc<DelegatedServiceAccount>,
    /// The Directory API client.
    pub directory: DirectoryClient,
    /// Requests, throttling and retries seen by the client (for metrics).
    pub stats: Arc<DirectoryStats>,
}

impl fmt::Debug for Google {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Google")
            .field("connection", &self.config.name)
            .field("service_account", &self.tokens.key().client_email())
            .field("admin_subject", &self.tokens.subject())
            .finish_non_exhaustive()
    }
}

impl Google {
    /// The connection's id as the engine knows it.
    pub fn id(&self) -> ConnectionId {
        ConnectionId::new(self.config.name.clone())
    }
}

/// One Wonde connection, ready to use.
pub struct Wonde {
    /// Its configuration.
    pub config: ConnectionConfig,
    /// The school's region, as configured.
    pub region: Region,
    /// The Wonde client.
    pub client: WondeClient,
    /// Requests, throttling and retries seen by the client (for metrics).
    pub stats: Arc<ThrottleStats>,
}

impl fmt::Debug for Wonde {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wonde")
            .field("connection", &self.config.name)
            .field("school", &self.config.school_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Wonde {
    /// The connection's id as the engine knows it.
    pub fn id(&self) -> ConnectionId {
        ConnectionId::new(self.config.name.clone())
    }

    /// The school's Wonde id.
    pub fn school_id(&self) -> &str {
        self.config.school_id.as_deref().unwrap_or("").trim()
    }

    /// The engine's source for this connection.
    pub fn source(&self) -> WondeSource {
        WondeSource::new(self.id(), self.client.clone(), self.school_id()).with_region(self.region.clone())
    }
}

/// The delegated permissions asked for at sign-in: read the signed-in user and their roles, read users, read
/// group memberships.
pub fn delegated_scopes(cloud: &Cloud) -> Vec<String> {
    ["User.Read", "User.Read.All", "GroupMember.Read.All"].iter().map(|p| cloud.scope(p)).collect()
}

/// A [`TokenStore`] over the roster store: the refresh token of a connection's delegated sign-in, encrypted at
/// rest, replaced after every refresh (Entra ID rotates refresh tokens).
#[derive(Clone)]
pub struct StoredSignIn {
    store: Store,
    connection: ConnectionId,
}

impl StoredSignIn {
    /// The stored sign-in of `connection`.
    pub fn new(store: Store, connection: ConnectionId) -> StoredSignIn {
        StoredSignIn { store, connection }
    }
}

impl fmt::Debug for StoredSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSignIn").field("connection", &self.connection).finish_non_exhaustive()
    }
}

#[async_trait]
impl TokenStore for StoredSignIn {
    async fn load(&self) -> Result<Option<SecretString>, TokenStoreError> {
        self.store.refresh_token(&self.connection).await.map_err(|e| TokenStoreError(format!("{e}")))
    }

    async fn save(&self, refresh_token: &SecretString) -> Result<(), TokenStoreError> {
        self.store
            .save_refresh_token(&self.connection, refresh_token)
            .await
            .map_err(|e| TokenStoreError(format!("{e}")))
    }
}

/// Everything a command needs, built once from the configuration.
pub struct App {
    config: Config,
    base: Config,
    store: Store,
    secure_schools: Result<SecureSchoolsClient, String>,
    secure_schools_stats: Arc<ThrottleStats>,
    microsoft: BTreeMap<String, Result<Arc<Microsoft>, String>>,
    google: BTreeMap<String, Result<Arc<Google>, String>>,
    wonde: BTreeMap<String, Result<Arc<Wonde>, String>>,
    options: AppOptions,
    owner: String,
    secrets: Secrets,
    left_out: Vec<(String, String)>,
    connections_recorded: tokio::sync::OnceCell<()>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("store", &self.store)
            .field(
                "connections",
                &self.microsoft.keys().chain(self.google.keys()).chain(self.wonde.keys()).collect::<Vec<_>>(),
            )
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// A new lock owner name for this process: `secure-schools-sync@<host>/<pid>/<nonce>`.
fn new_owner() -> String {
    format!("{OWNER_PREFIX}{}/{}/{}", hostname(), std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8])
}

fn retrier(options: &AppOptions) -> Retrier {
    Retrier::new(options.retry_policy.clone().unwrap_or_default())
}

/// What became of a sync of one organisation.
#[derive(Debug, Clone)]
pub enum SyncOutcome {
    /// It ran (succeeded, partly failed, was held or failed); the report says which.
    Ran(RunReport),
    /// Another worker holds the organisation's lock.
    Busy {
        /// The organisation.
        organisation: OrganisationId,
        /// Who holds the lock, and until when, if known.
        holder: Option<(String, chrono::DateTime<chrono::Utc>)>,
    },
    /// A shutdown was asked for while it ran; it was cancelled and recorded as failed ("interrupted").
    Interrupted(RunReport),
}

impl App {
    /// Opens the store and builds the clients. Missing secrets are not an error here (a command that needs one
    /// says so); a store that cannot be opened is.
    pub async fn open(config: Config, secrets: Secrets, options: AppOptions) -> anyhow::Result<App> {
        let key = match (&secrets.store_key, &secrets.secret_key, &config.secret_key_file) {
            (Some(key), _, _) => KeySource::Key(key.clone()),
            (None, Some(text), _) => KeySource::Key(
                SecretKey::from_base64(text.expose_secret()).context("the secret key (ROSTERBRIDGE_SECRET_KEY)")?,
            ),
            (None, None, Some(path)) => KeySource::File(path.clone()),
            (None, None, None) => KeySource::Environment,
        };
        let store = Store::open_with(&config.store, StoreOptions::default().key(key))
            .await
            .with_context(|| format!("opening the store `{}`", config.store))?;
        App::with_stored(config, store, secrets, options).await
    }

    /// Builds the clients around an open store, with the connections and connection groups kept in the store (the
    /// web UI's) merged after the configuration file's (see [`crate::stored`]).
    pub async fn with_stored(
        config: Config,
        store: Store,
        secrets: Secrets,
        options: AppOptions,
    ) -> anyhow::Result<App> {
        let owner = new_owner();
        App::assemble(config, store, secrets, options, owner, &BTreeMap::new()).await
    }

    /// The same app with the store's connections and connection groups read again (after the web UI changed them):
    /// the same store, secrets, options and lock owner; a connection whose settings did not change keeps its
    /// clients (and so its cached tokens and request counters).
    pub async fn reload(&self) -> anyhow::Result<App> {
        App::assemble(
            self.base.clone(),
            self.store.clone(),
            self.secrets.clone(),
            self.options.clone(),
            self.owner.clone(),
            &self.microsoft,
        )
        .await
    }

    async fn assemble(
        base: Config,
        store: Store,
        secrets: Secrets,
        options: AppOptions,
        owner: String,
        previous: &BTreeMap<String, Result<Arc<Microsoft>, String>>,
    ) -> anyhow::Result<App> {
        let stored = crate::stored::load(&store).await?;
        let (config, mut left_out) = base.with_stored(stored.connections, stored.groups);
        left_out.extend(stored.problems);
        for (name, why) in &left_out {
            tracing::warn!(entry = %name, reason = %why, "a connection or connection group in the store is left out");
        }
        // A stored secret goes only to its own connection (and wins there: the UI just stored it), never to a file
        // connection that shadows its name.
        let from_store = |name: &String| config.connection(name).is_some_and(|c| c.origin.is_store());
        let mut with_secrets = secrets.clone();
        for (name, secret) in stored.client_secrets.into_iter().filter(|(n, _)| from_store(n)) {
            with_secrets.client_secrets.insert(name, secret);
        }
        for (name, key) in stored.google_keys.into_iter().filter(|(n, _)| from_store(n)) {
            with_secrets.google_keys.insert(name, key);
        }
        for (name, token) in stored.wonde_tokens.into_iter().filter(|(n, _)| from_store(n)) {
            with_secrets.wonde_tokens.insert(name, token);
        }
        let mut app = App::build(config, store, &with_secrets, options, owner, previous)?;
        app.base = base;
        app.secrets = secrets;
        app.left_out = left_out;
        Ok(app)
    }

    /// Builds the clients around an open store, from the configuration alone.
    pub fn with_store(config: Config, store: Store, secrets: Secrets, options: AppOptions) -> anyhow::Result<App> {
        let owner = new_owner();
        App::build(config, store, &secrets, options, owner, &BTreeMap::new())
    }

    fn build(
        config: Config,
        store: Store,
        secrets: &Secrets,
        options: AppOptions,
        owner: String,
        previous: &BTreeMap<String, Result<Arc<Microsoft>, String>>,
    ) -> anyhow::Result<App> {
        let secure_schools_stats = Arc::new(ThrottleStats::default());
        let token = secrets.secure_schools_token.clone().or_else(|| env_secret(&config.secure_schools.token_env));
        let secure_schools = match token {
            None => Err(format!(
                "no Secure Schools API token: set the environment variable {} to the admin's token",
                config.secure_schools.token_env
            )),
            Some(token) => SecureSchoolsClient::builder()
                .base_url(config.secure_schools.base_url.clone())
                .token(token)
                .retry_policy(options.retry_policy.clone().unwrap_or_default())
                .observer(secure_schools_stats.clone())
                .build()
                .map_err(|e| format!("the Secure Schools client: {e}")),
        };
        let mut microsoft = BTreeMap::new();
        let mut wonde = BTreeMap::new();
        for connection in config.connections.iter().filter(|c| c.is_wonde()) {
            let built = build_wonde(connection, secrets, &options).map(Arc::new);
            if let Err(e) = &built {
                tracing::debug!(connection = %connection.name, error = %e, "connection not usable");
            }
            wonde.insert(connection.name.clone(), built);
        }
        let mut google = BTreeMap::new();
        for connection in config.connections.iter().filter(|c| !c.is_wonde()) {
            if connection.is_google() {
                let built = build_google(connection, secrets, &options).map(Arc::new);
                if let Err(e) = &built {
                    tracing::debug!(connection = %connection.name, error = %e, "connection not usable");
                }
                google.insert(connection.name.clone(), built);
                continue;
            }
            // A connection whose settings did not change keeps its clients, unless its secret is the UI's (it
            // may have been replaced under the same name).
            let reusable = match previous.get(&connection.name) {
                Some(Ok(m))
                    if &m.config == connection
                        && !(connection.origin.is_store() && connection.auth == AuthMode::AppOnly) =>
                {
                    Some(m.clone())
                }
                _ => None,
            };
            let built = match reusable {
                Some(m) => Ok(m),
                None => build_microsoft(connection, &store, secrets, &options).map(Arc::new),
            };
            if let Err(e) = &built {
                tracing::debug!(connection = %connection.name, error = %e, "connection not usable");
            }
            microsoft.insert(connection.name.clone(), built);
        }
        let base = config.clone();
        Ok(App {
            config,
            base,
            store,
            secure_schools,
            secure_schools_stats,
            microsoft,
            google,
            wonde,
            options,
            owner,
            secrets: secrets.clone(),
            left_out: Vec::new(),
            connections_recorded: tokio::sync::OnceCell::new(),
        })
    }

    /// The configuration file's own part (without the store's connections and connection groups).
    pub fn file_config(&self) -> &Config {
        &self.base
    }

    /// The web UI's admin password given at start (command line or environment), if any.
    pub fn admin_password(&self) -> Option<&SecretString> {
        self.secrets.admin_password.as_ref()
    }

    /// Connections and connection groups in the store that are left out of the merged configuration, and why.
    pub fn left_out(&self) -> &[(String, String)] {
        &self.left_out
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The options.
    pub fn options(&self) -> &AppOptions {
        &self.options
    }

    /// This process's name on organisation locks.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The Secure Schools client, or why there is none.
    pub fn secure_schools(&self) -> anyhow::Result<&SecureSchoolsClient> {
        self.secure_schools.as_ref().map_err(|e| anyhow!("{e}"))
    }

    /// Requests, throttling and retries of the Secure Schools client.
    pub fn secure_schools_stats(&self) -> &Arc<ThrottleStats> {
        &self.secure_schools_stats
    }

    /// A Microsoft connection by name, or why it cannot be used.
    pub fn microsoft(&self, name: &str) -> anyhow::Result<&Arc<Microsoft>> {
        if self.wonde.contains_key(name) {
            bail!("connection `{name}` is a Wonde connection, not a Microsoft one");
        }
        match self.microsoft.get(name) {
            None if self.google.contains_key(name) => {
                bail!("connection `{name}` is a Google Workspace connection, not a Microsoft one")
            }
            None => bail!(
                "no connection is named `{name}` in the configuration (connections: {})",
                self.config.connections.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
            Some(Err(e)) => bail!("connection `{name}`: {e}"),
            Some(Ok(m)) => Ok(m),
        }
    }

    /// A Google connection by name, or why it cannot be used.
    pub fn google(&self, name: &str) -> anyhow::Result<&Arc<Google>> {
        match self.google.get(name) {
            None if self.microsoft.contains_key(name) => bail!("connection `{name}` is a Microsoft connection"),
            None => bail!("no Google connection is named `{name}` in the configuration"),
            Some(Err(e)) => bail!("connection `{name}`: {e}"),
            Some(Ok(g)) => Ok(g),
        }
    }

    /// A Wonde connection by name, or why it cannot be used.
    pub fn wonde(&self, name: &str) -> anyhow::Result<&Arc<Wonde>> {
        match self.wonde.get(name) {
            None => bail!("no Wonde connection is named `{name}` in the configuration"),
            Some(Err(e)) => bail!("connection `{name}`: {e}"),
            Some(Ok(w)) => Ok(w),
        }
    }

    /// Whether `name` is a Wonde connection of the configuration.
    pub fn is_wonde(&self, name: &str) -> bool {
        self.wonde.contains_key(name)
    }

    /// Every configured connection: its name and the connection or why it cannot be used.
    pub fn connections(&self) -> impl Iterator<Item = (&str, Result<&Arc<Microsoft>, &str>)> {
        self.microsoft.iter().map(|(name, m)| (name.as_str(), m.as_ref().map_err(String::as_str)))
    }

    /// Records the connection (not its secrets) in the store, so that its sign-in can be kept there.
    pub async fn save_connection(&self, name: &str) -> anyhow::Result<()> {
        let config = self.config.connection(name).ok_or_else(|| anyhow!("no connection is named `{name}`"))?;
        if config.origin.is_store() {
            // Created in the web UI: its record (settings and secret) is already in the store.
            return Ok(());
        }
        let secret = match (&config.auth, &config.client_secret_env) {
            (AuthMode::AppOnly, Some(var)) => SecretRef::Env(var.clone()),
            _ => SecretRef::None,
        };
        let (kind, settings) = if config.is_google() {
            let settings = serde_json::json!({
                "managed_by": crate::stored::MANAGED_BY_FILE,
                "admin_subject": config.admin_subject,
                "customer": config.customer,
                "domain": config.domain,
            });
            (ConnectionKind::Google, settings)
        } else if config.is_wonde() {
            let settings = serde_json::json!({
                "managed_by": crate::stored::MANAGED_BY_FILE,
                "school_id": config.school_id,
                "region": config.region,
                "organisation": config.organisation,
            });
            (ConnectionKind::Wonde, settings)
        } else {
            let settings = serde_json::json!({
                "managed_by": crate::stored::MANAGED_BY_FILE,
                "tenant": config.tenant,
                "client_id": config.client_id,
                "auth": match config.auth { AuthMode::Delegated => "delegated", AuthMode::AppOnly => "app-only" },
            });
            (ConnectionKind::Microsoft, settings)
        };
        // Only Microsoft app-only connections name their secret here; Google keys and Wonde tokens stay where the
        // configuration says (a file or an environment variable) and are never recorded.
        let secret = if config.is_microsoft() { secret } else { SecretRef::None };
        let record = ConnectionRecord { id: ConnectionId::new(name), name: name.to_owned(), kind, settings, secret };
        self.store.save_connection(&record).await.with_context(|| format!("saving connection `{name}` in the store"))
    }

    /// Records every configured connection in the store (once per process), so that the change-feed cursors of
    /// its connection groups can be kept there.
    pub async fn record_connections(&self) -> anyhow::Result<()> {
        self.connections_recorded
            .get_or_try_init(|| async {
                for connection in &self.config.connections {
                    self.save_connection(&connection.name).await?;
                }
                Ok::<_, anyhow::Error>(())
            })
            .await?;
        Ok(())
    }

    /// The sync engine: the Secure Schools sink, a Microsoft source per usable connection, the store as state,
    /// the configured safety policy and role precedence.
    pub fn engine(&self) -> anyhow::Result<Engine> {
        let client = self.secure_schools()?.clone();
        let mut sink = SecureSchoolsSink::new(client);
        if let Some(size) = self.options.batch_size {
            sink = sink.with_batch_size(size);
        }
        let mut engine = Engine::new(Arc::new(sink), Arc::new(self.store.clone()))
            .with_policy(self.config.safety_policy())
            .with_precedence(self.config.precedence())
            .with_executor(ExecutorOptions { concurrency: self.options.concurrency.unwrap_or(4) })
            .with_owner(self.owner.clone(), chrono::Duration::hours(LOCK_TTL_HOURS))
            .with_full_every(self.config.schedule().full_every);
        for (name, microsoft) in &self.microsoft {
            match microsoft {
                Ok(m) => engine = engine.with_source(Arc::new(MicrosoftSource::new(m.id(), m.graph.clone()))),
                Err(e) => tracing::warn!(connection = %name, error = %e, "connection left out: it cannot be used"),
            }
        }
        for (name, google) in &self.google {
            match google {
                Ok(g) => engine = engine.with_source(Arc::new(GoogleSource::new(g.id(), g.directory.clone()))),
                Err(e) => tracing::warn!(connection = %name, error = %e, "connection left out: it cannot be used"),
            }
        }
        for (name, wonde) in &self.wonde {
            match wonde {
                Ok(w) => engine = engine.with_source(Arc::new(w.source())),
                Err(e) => tracing::warn!(connection = %name, error = %e, "connection left out: it cannot be used"),
            }
        }
        Ok(engine)
    }

    /// Checks that an organisation has connection groups in the configuration.
    pub fn check_organisation(&self, organisation: &str) -> anyhow::Result<OrganisationId> {
        let id = OrganisationId::new(organisation);
        if !self.config.organisations().contains(&id) {
            bail!(
                "organisation `{organisation}` has no connection group in the configuration (organisations: {})",
                self.config.organisations().iter().map(|o| o.as_str().to_owned()).collect::<Vec<_>>().join(", ")
            );
        }
        Ok(id)
    }

    /// Syncs one organisation now. A lock left behind by a process of this program that died on this machine is
    /// taken over; a shutdown request cancels the run cleanly (the lock is released and the run recorded as
    /// interrupted; running again finishes the job, as runs are idempotent).
    pub async fn sync_org(
        &self,
        engine: &Engine,
        organisation: &OrganisationId,
        options: &RunOptions,
        progress: &dyn Progress,
        shutdown: &Shutdown,
    ) -> anyhow::Result<SyncOutcome> {
        let groups = self.config.connection_groups();
        let started_at = chrono::Utc::now();
        for attempt in 0..2 {
            let mut cancel = shutdown.clone();
            let result = tokio::select! {
                result = engine.run(organisation, &groups, options, progress) => result,
                () = cancel.wait() => {
                    return Ok(SyncOutcome::Interrupted(self.interrupted(organisation, started_at).await?));
                }
            };
            match result {
                Ok(report) => return Ok(SyncOutcome::Ran(report)),
                Err(RunError::Busy(_)) => {
                    let holder = self.store.lock_holder(organisation).await.ok().flatten();
                    if attempt == 0
                        && let Some((owner, _)) = &holder
                        && lock_is_stale(owner)
                    {
                        tracing::warn!(
                            organisation = %organisation,
                            owner = %owner,
                            "taking over the lock of a process of this program that is no longer running"
                        );
                        StateStore::unlock(&self.store, organisation, owner).await?;
                        continue;
                    }
                    return Ok(SyncOutcome::Busy { organisation: organisation.clone(), holder });
                }
                Err(e) => return Err(anyhow!(e).context(format!("syncing `{organisation}`"))),
            }
        }
        Ok(SyncOutcome::Busy { organisation: organisation.clone(), holder: None })
    }

    /// Releases the lock of a cancelled run and records it as interrupted.
    async fn interrupted(
        &self,
        organisation: &OrganisationId,
        started_at: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<RunReport> {
        StateStore::unlock(&self.store, organisation, &self.owner).await?;
        let report = RunReport {
            id: uuid::Uuid::new_v4().to_string(),
            organisation: organisation.clone(),
            started_at,
            finished_at: chrono::Utc::now(),
            status: RunStatus::Failed,
            planned: Default::default(),
            applied: Default::default(),
            errors: Vec::new(),
            hold_reasons: Vec::new(),
            held_run: None,
            failure: Some(
                "interrupted by a shutdown request before it finished; run it again to complete it (runs are \
                 idempotent: nothing is duplicated)"
                    .into(),
            ),
        };
        StateStore::save_run(&self.store, &report).await?;
        tracing::warn!(organisation = %organisation, "run cancelled by shutdown; lock released");
        Ok(report)
    }
}

fn build_wonde(connection: &ConnectionConfig, secrets: &Secrets, options: &AppOptions) -> Result<Wonde, String> {
    let var = connection.wonde_token_env();
    let token = match secrets.wonde_tokens.get(&connection.name) {
        Some(token) => token.clone(),
        None if connection.origin.is_store() => {
            return Err("the Wonde API token stored with the connection cannot be read (see the web UI's \
                        connection list); delete the connection and create it again"
                .into());
        }
        None => env_secret(var)
            .ok_or_else(|| format!("no Wonde API token: set the environment variable {var} to the token"))?,
    };
    let region = connection.wonde_region();
    let stats = Arc::new(ThrottleStats::default());
    let mut builder = WondeClient::builder()
        .region(region.clone())
        .token(token)
        .retry_policy(options.retry_policy.clone().unwrap_or_default())
        .observer(stats.clone());
    if let Some(url) = &connection.wonde_url {
        builder = builder.base_url(url.clone());
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    Ok(Wonde { config: connection.clone(), region, client, stats })
}

fn build_microsoft(
    connection: &ConnectionConfig,
    store: &Store,
    secrets: &Secrets,
    options: &AppOptions,
) -> Result<Microsoft, String> {
    let tenant = Tenant::new(connection.tenant.clone()).map_err(|e| e.to_string())?;
    let cloud = connection.cloud();
    let tokens: Arc<dyn TokenSource> =
        match connection.auth {
            AuthMode::Delegated => Arc::new(
                RefreshTokenSource::new(
                    cloud.clone(),
                    tenant.clone(),
                    connection.client_id.clone(),
                    delegated_scopes(&cloud),
                    Arc::new(StoredSignIn::new(store.clone(), ConnectionId::new(connection.name.clone()))),
                )
                .with_retrier(retrier(options)),
            ),
            AuthMode::AppOnly => {
                let var = connection.client_secret_env.clone().unwrap_or_default();
                let secret =
                secrets.client_secrets.get(&connection.name).cloned().or_else(|| env_secret(&var)).ok_or_else(|| {
                    if connection.origin.is_store() {
                        "app-only sign-in needs the client secret stored with the connection, and it cannot be read \
                         (see the web UI's connection list); delete the connection and create it again"
                            .to_owned()
                    } else {
                        format!("app-only sign-in needs the client secret: set the environment variable {var}")
                    }
                })?;
                Arc::new(
                    ClientCredentials::new(cloud.clone(), tenant.clone(), connection.client_id.clone(), secret)
                        .with_retrier(retrier(options)),
                )
            }
        };
    let stats = Arc::new(ThrottleStats::default());
    let graph = GraphClient::builder()
        .cloud(cloud.clone())
        .token_source(tokens.clone())
        .retry_policy(options.retry_policy.clone().unwrap_or_default())
        .observer(stats.clone())
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Microsoft { config: connection.clone(), cloud, tenant, tokens, graph, stats })
}

fn build_google(connection: &ConnectionConfig, secrets: &Secrets, options: &AppOptions) -> Result<Google, String> {
    let given = secrets.google_keys.get(&connection.name);
    let key = match (given, &connection.service_account_key_file, &connection.service_account_key_env) {
        (Some(json), _, _) => ServiceAccountKey::from_json(json.expose_secret())
            .map_err(|e| format!("the service account key stored with the connection: {e}"))?,
        (None, Some(path), _) => ServiceAccountKey::from_file(path).map_err(|e| e.to_string())?,
        (None, None, Some(var)) => {
            let json = env_secret(var).ok_or_else(|| {
                format!("the service account key is read from the environment variable {var}, which is not set")
            })?;
            ServiceAccountKey::from_json(json.expose_secret())
                .map_err(|e| format!("the environment variable {var}: {e}"))?
        }
        (None, None, None) if connection.origin.is_store() => {
            return Err("the service account key stored with the connection cannot be read (see the web UI's \
                        connection list); delete the connection and create it again"
                .into());
        }
        (None, None, None) => return Err("no service account key is configured".into()),
    };
    let subject = connection.admin_subject.clone().unwrap_or_default();
    let stats = Arc::new(DirectoryStats::default());
    let account = match (&connection.customer, &connection.domain) {
        (_, Some(domain)) => Account::Domain(domain.clone()),
        (Some(customer), None) => Account::Customer(customer.clone()),
        (None, None) => Account::default(),
    };
    let mut builder = DirectoryClient::builder()
        .account(account)
        .retry_policy(options.retry_policy.clone().unwrap_or_default())
        .observer(stats.clone());
    if let Some(url) = &connection.directory_url {
        builder = builder.base_url(url.clone());
    }
    let tokens = Arc::new(
        DelegatedServiceAccount::new(key, subject, google_directory_client::auth::SCOPES)
            .with_retrier(builder.retrier()),
    );
    let directory = builder.token_source(tokens.clone()).build().map_err(|e| e.to_string())?;
    Ok(Google { config: connection.clone(), tokens, directory, stats })
}

/// This machine's name, as lock owners carry it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether a lock owner is a process of this program on this machine that is no longer running (Linux: no
/// `/proc/<pid>`). Anything else (another machine, another program, no `/proc`) counts as alive.
pub fn lock_is_stale(owner: &str) -> bool {
    let Some(rest) = owner.strip_prefix(OWNER_PREFIX) else { return false };
    let mut parts = rest.split('/');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else { return false };
    let Ok(pid) = pid.parse::<u32>() else { return false };
    if host != hostname() || pid == std::process::id() {
        return false;
    }
    let proc = std::path::Path::new("/proc");
    proc.join("self").exists() && !proc.join(pid.to_string()).exists()
}
