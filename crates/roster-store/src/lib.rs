//! SQL persistence of rosters and sync state, on SQLite (one machine; the default, a file) or PostgreSQL (any number
//! of sync workers and feed servers sharing one database).
//!
//! What it keeps:
//!
//! * **Connections** ([`ConnectionRecord`]): named links to one tenancy, with non-secret settings as JSON and a
//!   secret that is either encrypted at rest (ChaCha20-Poly1305, key from `ROSTERBRIDGE_SECRET_KEY` or a key file,
//!   see [`KeySource`]) or held only by reference to an environment variable ([`SecretRef`]). Refresh tokens of
//!   delegated sign-in are encrypted the same way.
//! * **Connection groups** ([`GroupRecord`]), **cursors** (delta links) per connection and scope.
//! * **Sync state**: [`Store`] implements [`sync_engine::StateStore`] — scope counts, runs with one row per record
//!   error, held runs with their plan, approvals consumed once, and the per-organisation single-flight lock (see
//!   [`state`] for why it is a lock row with an expiry rather than an advisory lock).
//! * **The OneRoster feed**: every record of every kind with a content hash, so that an import moves
//!   `dateLastModified` only for records that really changed; bulk imports mark what they no longer contain as
//!   `tobedeleted`; every import is one transaction (a failed import leaves the previous roster as it was), bumps
//!   the roster version, and on PostgreSQL notifies `roster_changed` so that feed servers reload ([`RosterWatcher`]).
//!   API clients of the feed are kept with their secret's hash only.
//! * **Admin credentials** ([`AdminCredential`]) of the sync daemon's web UI: an Argon2id hash per account.
//!
//! Both backends run the same queries; migrations are embedded and run when a store is opened.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use roster_store::{ConnectionRecord, ImportMode, SecretRef, Store};
//! use sync_engine::model::{ConnectionId, ConnectionKind};
//! use oneroster_model::{Base, Org, OrgType, Roster};
//!
//! let store = Store::memory().await?; // Store::open("rosterbridge.db") or Store::open("postgres://…") in production
//! store
//!     .save_connection(&ConnectionRecord {
//!         id: ConnectionId::new("contoso"),
//!         name: "Contoso Academy Trust".into(),
//!         kind: ConnectionKind::Microsoft,
//!         settings: serde_json::json!({ "tenant_id": "00000000-0000-0000-0000-000000000001" }),
//!         secret: SecretRef::Env("CONTOSO_CLIENT_SECRET".into()), // only the variable's name is stored
//!     })
//!     .await?;
//! assert_eq!(store.list_connections().await?.len(), 1);
//!
//! let mut roster = Roster::default();
//! roster.orgs.push(Org {
//!     base: Base::new("school-1"),
//!     name: "St Aidan's".into(),
//!     org_type: OrgType::School,
//!     identifier: None,
//!     parent: None,
//!     children: vec![],
//! });
//! let report = store.import_roster(&roster, ImportMode::Bulk, chrono::Utc::now()).await?;
//! assert_eq!(report.totals().created, 1);
//! let (version, loaded) = store.load_roster().await?;
//! assert_eq!((version, loaded.orgs.len()), (1, 1));
//! # Ok(()) }
//! ```

mod admin;
mod connections;
mod db;
mod error;
mod roster;
mod secret;
pub mod state;

pub use admin::AdminCredential;
pub use connections::{ConnectionRecord, ConnectionSummary, GroupRecord};
pub use error::StoreError;
pub use roster::{
    ApiClient, ImportCounts, ImportMode, ImportOptions, ImportRecord, ImportReport, ROSTER_CHANNEL, RosterWatcher,
    StoredRecord,
};
pub use secret::{KeySource, SECRET_KEY_ENV, SecretKey, SecretRef, SecretSource};
pub use state::RunSummary;

use db::Db;
use sqlx::Connection as _;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use sync_engine::{Clock, SystemClock};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Which database a store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// How to open a store.
#[derive(Clone)]
pub struct StoreOptions {
    key: KeySource,
    clock: Arc<dyn Clock>,
    max_connections: Option<u32>,
    schema: Option<String>,
    busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            key: KeySource::default(),
            clock: Arc::new(SystemClock),
            max_connections: None,
            schema: None,
            busy_timeout: Duration::from_secs(15),
        }
    }
}

impl fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreOptions")
            .field("key", &self.key)
            .field("max_connections", &self.max_connections)
            .field("schema", &self.schema)
            .field("busy_timeout", &self.busy_timeout)
            .finish_non_exhaustive()
    }
}

impl StoreOptions {
    /// Where the key that encrypts secrets comes from (default: `ROSTERBRIDGE_SECRET_KEY`).
    pub fn key(mut self, key: KeySource) -> StoreOptions {
        self.key = key;
        self
    }

    /// The key file to read the key from.
    pub fn key_file(self, path: impl Into<std::path::PathBuf>) -> StoreOptions {
        self.key(KeySource::File(path.into()))
    }

    /// The clock that judges lock expiry and stamps rows (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> StoreOptions {
        self.clock = clock;
        self
    }

    /// The most connections the pool opens (default 4 on SQLite, 10 on PostgreSQL; always 1 for SQLite in memory).
    pub fn max_connections(mut self, n: u32) -> StoreOptions {
        self.max_connections = Some(n.max(1));
        self
    }

    /// PostgreSQL only: keep every table in this schema (created if missing), by setting `search_path` on every
    /// connection. Lower-case letters, digits and `_`.
    pub fn schema(mut self, schema: impl Into<String>) -> StoreOptions {
        self.schema = Some(schema.into());
        self
    }

    /// SQLite only: how long a writer waits for another to finish (default 15 s).
    pub fn busy_timeout(mut self, timeout: Duration) -> StoreOptions {
        self.busy_timeout = timeout;
        self
    }
}

/// The store: a pool of connections to one database, the key for secrets, and a clock. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Db,
    key: Option<Arc<SecretKey>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .field("key", &self.key.as_ref().map(|k| k.fingerprint().to_owned()))
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (and migrates) the store at `target`: a file path or `sqlite://…` URL (the file is created if missing),
    /// or a `postgres://…` URL. The key for secrets comes from `ROSTERBRIDGE_SECRET_KEY` if it is set.
    pub async fn open(target: &str) -> Result<Store, StoreError> {
        Store::open_with(target, StoreOptions::default()).await
    }

    /// Opens (and migrates) the store at `target` with `options`.
    pub async fn open_with(target: &str, options: StoreOptions) -> Result<Store, StoreError> {
        let key = options.key.load()?.map(Arc::new);
        let lower = target.trim_start().to_ascii_lowercase();
        let db = if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            open_postgres(target, &options).await?
        } else if lower.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(target)
                .map_err(|e| StoreError::InvalidTarget { target: redact(target), message: e.to_string() })?;
            open_sqlite(target, connect, &options).await?
        } else if lower.contains("://") {
            return Err(StoreError::InvalidTarget {
                target: redact(target),
                message: "give a file path, a sqlite:// URL or a postgres:// URL".into(),
            });
        } else if target.trim().is_empty() {
            return Err(StoreError::InvalidTarget { target: String::new(), message: "the path is empty".into() });
        } else {
            open_sqlite(target, SqliteConnectOptions::new().filename(target), &options).await?
        };
        Ok(Store { db, key, clock: options.clock })
    }

    /// A store in memory (SQLite, one connection), for tests and dry runs.
    pub async fn memory() -> Result<Store, StoreError> {
        Store::memory_with(StoreOptions::default()).await
    }

    /// A store in memory with `options`.
    pub async fn memory_with(options: StoreOptions) -> Result<Store, StoreError> {
        Store::open_with("sqlite::memory:", options).await
    }

    /// Which database this store uses.
    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Whether a key for secrets is configured.
    pub fn has_secret_key(&self) -> bool {
        self.key.is_some()
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }

    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    pub(crate) fn key_for(&self, what: &str, action: &'static str) -> Result<&SecretKey, StoreError> {
        self.key.as_deref().ok_or_else(|| StoreError::SecretKeyMissing { what: what.to_owned(), action })
    }
}

async fn open_sqlite(target: &str, connect: SqliteConnectOptions, options: &StoreOptions) -> Result<Db, StoreError> {
    let in_memory = connect.get_filename().to_string_lossy().contains(":memory:")
        || target.to_ascii_lowercase().contains(":memory:");
    let connect = connect
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(options.busy_timeout)
        .journal_mode(if in_memory { SqliteJournalMode::Memory } else { SqliteJournalMode::Wal })
        .synchronous(SqliteSynchronous::Normal);
    let mut pool = SqlitePoolOptions::new().acquire_timeout(Duration::from_secs(30));
    pool = if in_memory {
        // An in-memory database lives as long as a connection to it: keep exactly one, forever.
        pool.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None)
    } else {
        pool.max_connections(options.max_connections.unwrap_or(4))
    };
    let pool = pool.connect_with(connect).await.map_err(|source| StoreError::Connect {
        backend: Backend::Sqlite.name(),
        target: redact(target),
        source,
    })?;
    SQLITE_MIGRATIONS
        .run(&pool)
        .await
        .map_err(|source| StoreError::Migrate { backend: Backend::Sqlite.name(), source })?;
    Ok(Db::Sqlite(pool))
}

async fn open_postgres(target: &str, options: &StoreOptions) -> Result<Db, StoreError> {
    let mut connect = PgConnectOptions::from_str(target)
        .map_err(|e| StoreError::InvalidTarget { target: redact(target), message: e.to_string() })?
        .application_name("rosterbridge");
    if let Some(schema) = &options.schema {
        check_schema(schema)?;
        connect = connect.options([("search_path", schema.as_str())]);
    }
    let unreachable =
        |source| StoreError::Connect { backend: Backend::Postgres.name(), target: redact(target), source };
    // One plain connection first: the pool retries failed connections until its acquire timeout, but a server
    // that is down or refuses the credentials should be reported at once.
    PgConnection::connect_with(&connect).await.map_err(unreachable)?.close().await.map_err(unreachable)?;
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections.unwrap_or(10))
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(connect)
        .await
        .map_err(unreachable)?;
    if let Some(schema) = &options.schema {
        // The name was checked above: it is a plain identifier, so quoting it is enough.
        let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).execute(&pool).await;
        if let Err(e) = created {
            // Two processes creating the schema at once: one of them loses the race, which is fine.
            let raced =
                matches!(&e, sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("23505" | "42P06")));
            if !raced {
                return Err(StoreError::Database { operation: "create the schema", source: e });
            }
        }
    }
    POSTGRES_MIGRATIONS
        .run(&pool)
        .await
        .map_err(|source| StoreError::Migrate { backend: Backend::Postgres.name(), source })?;
    Ok(Db::Postgres(pool))
}

fn check_schema(schema: &str) -> Result<(), StoreError> {
    let valid = !schema.is_empty()
        && schema.len() <= 63
        && !schema.starts_with(|c: char| c.is_ascii_digit())
        && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            what: "schema name",
            message: format!("`{schema}`: use lower-case letters, digits and `_` (at most 63)"),
        })
    }
}

/// The target without a password: `postgres://user:***@host/db`, `…?password=***`.
fn redact(target: &str) -> String {
    let mut out = target.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest = scheme_end + 3;
        let authority_end = out[rest..].find(['/', '?']).map_or(out.len(), |i| rest + i);
        if let Some(at) = out[rest..authority_end].rfind('@').map(|i| rest + i)
            && let Some(colon) = out[rest..at].find(':').map(|i| rest + i)
        {
            out.replace_range(colon + 1..at, "***");
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(
            redact("postgres://u@h/db?password=x&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require"
        );
        assert_eq!(redact("/var/lib/rb.db"), "/var/lib/rb.db");
    }

    #[test]
    fn schema_names() {
        assert!(check_schema("t_1").is_ok());
        assert!(check_schema("x\"; drop").is_err());
        assert!(check_schema("1a").is_err());
    }
}
