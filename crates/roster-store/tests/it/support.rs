//! Every store test runs against both backends: a SQLite file in a temporary folder, and PostgreSQL in a fresh
//! schema that is dropped afterwards. PostgreSQL is required: if it cannot be reached the test fails (it never
//! skips) and says how to start it.

use roster_store::{Backend, KeySource, SecretKey, Store, StoreOptions};
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use sync_engine::{Clock, ManualClock};

/// Where PostgreSQL is, unless `ROSTERBRIDGE_TEST_POSTGRES` says otherwise.
pub(crate) const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

pub(crate) fn postgres_url() -> String {
    std::env::var("ROSTERBRIDGE_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

/// A store under test, and how to open the same database again.
pub(crate) struct TestStore {
    pub(crate) store: Store,
    pub(crate) name: &'static str,
    target: String,
    schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

/// Options most tests use: a fixed key and a manual clock.
pub(crate) fn options(key: &SecretKey, clock: &ManualClock) -> StoreOptions {
    StoreOptions::default().key(KeySource::Key(key.clone())).clock(Arc::new(clock.clone()) as Arc<dyn Clock>)
}

pub(crate) fn start() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2025-09-01T08:00:00Z").unwrap().to_utc()
}

/// A SQLite store in a new temporary file and a PostgreSQL store in a new schema, both opened with `options`.
pub(crate) async fn stores(options: StoreOptions) -> Vec<TestStore> {
    vec![sqlite(options.clone()).await, postgres(options).await]
}

/// Both backends, with a new key and a clock at [`start`].
pub(crate) async fn default_stores() -> (Vec<TestStore>, SecretKey, ManualClock) {
    let key = SecretKey::generate();
    let clock = ManualClock::new(start());
    (stores(options(&key, &clock)).await, key, clock)
}

pub(crate) async fn sqlite(options: StoreOptions) -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("store.db").to_string_lossy().into_owned();
    let store = Store::open_with(&target, options).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    TestStore { store, name: "SQLite", target, schema: None, _dir: Some(dir) }
}

static SCHEMAS: AtomicU32 = AtomicU32::new(0);
static SWEPT: AtomicBool = AtomicBool::new(false);

/// Drops the schemas that test processes which no longer run left behind (after a failed assertion).
async fn sweep_stale_schemas(url: &str) {
    if SWEPT.swap(true, Ordering::SeqCst) || !std::path::Path::new("/proc/self").exists() {
        return;
    }
    // A plain connection, not a pool: a pool would retry an unreachable server for its whole acquire timeout.
    let Ok(mut conn) = PgConnection::connect(url).await else { return };
    let schemas: Vec<(String,)> =
        sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'rs\\_test\\_%'")
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
    for (schema,) in schemas {
        let pid = schema.split('_').nth(2).unwrap_or_default();
        if !pid.is_empty() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).execute(&mut conn).await;
        }
    }
    let _ = conn.close().await;
}

pub(crate) async fn postgres(options: StoreOptions) -> TestStore {
    let url = postgres_url();
    sweep_stale_schemas(&url).await;
    let schema = format!(
        "rs_test_{}_{}_{}",
        std::process::id(),
        SCHEMAS.fetch_add(1, Ordering::Relaxed),
        uuid::Uuid::new_v4().simple().to_string().get(..8).unwrap()
    );
    let store = match Store::open_with(&url, options.schema(&schema)).await {
        Ok(store) => store,
        Err(e) => panic!(
            "PostgreSQL is required by the roster-store tests and could not be used at {url}: {}\n\
             Run scripts/ensure-postgres (it installs and starts PostgreSQL with a `test` database), or point \
             ROSTERBRIDGE_TEST_POSTGRES at a server.",
            e.chain()
        ),
    };
    assert_eq!(store.backend(), Backend::Postgres);
    TestStore { store, name: "PostgreSQL", target: url, schema: Some(schema), _dir: None }
}

impl TestStore {
    /// Another store on the same database (as a second process would open it).
    pub(crate) async fn reopen(&self, options: StoreOptions) -> Store {
        let options = match &self.schema {
            Some(schema) => options.schema(schema),
            None => options,
        };
        Store::open_with(&self.target, options).await.unwrap()
    }

    /// The first column of every row of `sql`, as text (for looking at raw columns).
    pub(crate) async fn raw_strings(&self, sql: &str) -> Vec<String> {
        match &self.schema {
            None => {
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", self.target)).await.unwrap();
                let rows: Vec<(String,)> = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
                pool.close().await;
                rows.into_iter().map(|(s,)| s).collect()
            }
            Some(schema) => {
                let options = PgConnectOptions::from_str(&self.target).unwrap().options([("search_path", schema)]);
                let pool = PgPoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
                let rows: Vec<(String,)> = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
                pool.close().await;
                rows.into_iter().map(|(s,)| s).collect()
            }
        }
    }

    /// Runs a statement directly on the database.
    pub(crate) async fn raw_execute(&self, sql: &str) {
        match &self.schema {
            None => {
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", self.target)).await.unwrap();
                sqlx::query(sql).execute(&pool).await.unwrap();
                pool.close().await;
            }
            Some(schema) => {
                let options = PgConnectOptions::from_str(&self.target).unwrap().options([("search_path", schema)]);
                let pool = PgPoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
                sqlx::query(sql).execute(&pool).await.unwrap();
                pool.close().await;
            }
        }
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else { return };
        let url = self.target.clone();
        // Drop is not async: drop the schema from a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                // After a failed assertion the test's own connections may still hold locks (their rollback waits
                // for this thread): give up after a while rather than wait for ever.
                let options = PgConnectOptions::from_str(&url).ok()?.options([("lock_timeout", "5s")]);
                let pool = PgPoolOptions::new().max_connections(1).connect_with(options).await.ok()?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).execute(&pool).await.ok()?;
                pool.close().await;
                Some(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: could not drop a test schema; it is dropped by the next run");
        }
    }
}
