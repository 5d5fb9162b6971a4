//! Wiring: the store, the Secure Schools client, one Graph client per connection with the right token source, and
//! the sync engine built from them.

use crate::config::{AuthMode, Config, ConnectionConfig};
use crate::shutdown::Shutdown;
use anyhow::{Context, anyhow, bail};
use async_trait::async_trait;
use connectors::microsoft::MicrosoftSource;
use connectors::secure_schools::SecureSchoolsSink;
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
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("secure_schools_token", &self.secure_schools_token.as_ref().map(|_| "[redacted]"))
            .field("secret_key", &self.secret_key.as_ref().map(|_| "[redacted]"))
            .field("store_key", &self.store_key.as_ref().map(|k| k.fingerprint().to_owned()))
            .field("client_secrets", &self.client_secrets.keys().collect::<Vec<_>>())
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
    store: Store,
    secure_schools: Result<SecureSchoolsClient, String>,
    secure_schools_stats: Arc<ThrottleStats>,
    microsoft: BTreeMap<String, Result<Arc<Microsoft>, String>>,
    options: AppOptions,
    owner: String,
    connections_recorded: tokio::sync::OnceCell<()>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("store", &self.store)
            .field("connections", &self.microsoft.keys().collect::<Vec<_>>())
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
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
        App::with_store(config, store, secrets, options)
    }

    /// Builds the clients around an open store.
    pub fn with_store(config: Config, store: Store, secrets: Secrets, options: AppOptions) -> anyhow::Result<App> {
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
        for connection in &config.connections {
            let built = build_microsoft(connection, &store, &secrets, &options).map(Arc::new);
            if let Err(e) = &built {
                tracing::debug!(connection = %connection.name, error = %e, "connection not usable");
            }
            microsoft.insert(connection.name.clone(), built);
        }
        let owner = format!(
            "{OWNER_PREFIX}{}/{}/{}",
            hostname(),
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Ok(App {
            config,
            store,
            secure_schools,
            secure_schools_stats,
            microsoft,
            options,
            owner,
            connections_recorded: tokio::sync::OnceCell::new(),
        })
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
        match self.microsoft.get(name) {
            None => bail!(
                "no connection is named `{name}` in the configuration (connections: {})",
                self.microsoft.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            Some(Err(e)) => bail!("connection `{name}`: {e}"),
            Some(Ok(m)) => Ok(m),
        }
    }

    /// Every configured connection: its name and the connection or why it cannot be used.
    pub fn connections(&self) -> impl Iterator<Item = (&str, Result<&Arc<Microsoft>, &str>)> {
        self.microsoft.iter().map(|(name, m)| (name.as_str(), m.as_ref().map_err(String::as_str)))
    }

    /// Records the connection (not its secrets) in the store, so that its sign-in can be kept there.
    pub async fn save_connection(&self, name: &str) -> anyhow::Result<()> {
        let config = self.config.connection(name).ok_or_else(|| anyhow!("no connection is named `{name}`"))?;
        let secret = match (&config.auth, &config.client_secret_env) {
            (AuthMode::AppOnly, Some(var)) => SecretRef::Env(var.clone()),
            _ => SecretRef::None,
        };
        let record = ConnectionRecord {
            id: ConnectionId::new(name),
            name: name.to_owned(),
            kind: ConnectionKind::Microsoft,
            settings: serde_json::json!({
                "tenant": config.tenant,
                "client_id": config.client_id,
                "auth": match config.auth { AuthMode::Delegated => "delegated", AuthMode::AppOnly => "app-only" },
            }),
            secret,
        };
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

fn build_microsoft(
    connection: &ConnectionConfig,
    store: &Store,
    secrets: &Secrets,
    options: &AppOptions,
) -> Result<Microsoft, String> {
    let tenant = Tenant::new(connection.tenant.clone()).map_err(|e| e.to_string())?;
    let cloud = connection.cloud();
    let tokens: Arc<dyn TokenSource> = match connection.auth {
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
                secrets.client_secrets.get(&connection.name).cloned().or_else(|| env_secret(&var)).ok_or_else(
                    || format!("app-only sign-in needs the client secret: set the environment variable {var}"),
                )?;
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
