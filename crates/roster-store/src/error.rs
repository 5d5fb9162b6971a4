//! The one error type of the crate.

use oneroster_model::EntityKind;
use std::error::Error as _;
use sync_engine::model::ConnectionId;

/// Why a store operation failed. It says what was being done (which table, which operation, which record) and
/// never carries a secret: not a plaintext, not a key, not a database password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The path or URL given to [`Store::open`](crate::Store::open) cannot be used.
    #[error("cannot open a store at `{target}`: {message}")]
    InvalidTarget {
        /// The path or URL, with any password removed.
        target: String,
        /// What is wrong with it.
        message: String,
    },
    /// The database could not be reached or opened.
    #[error("cannot connect to the {backend} database at `{target}`")]
    Connect {
        /// `SQLite` or `PostgreSQL`.
        backend: &'static str,
        /// The path or URL, with any password removed.
        target: String,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date.
    #[error("migrating the {backend} schema failed")]
    Migrate {
        /// `SQLite` or `PostgreSQL`.
        backend: &'static str,
        /// The cause.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("database error while trying to {operation}")]
    Database {
        /// What was being done, naming the table, e.g. `insert into oneroster_records`.
        operation: &'static str,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// Stored data could not be read back (a JSON column that does not decode, an unknown status…).
    #[error("stored data is not valid: {what}: {message}")]
    Corrupt {
        /// Which row, e.g. `runs/run-1 planned`.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// A secret has to be encrypted or decrypted, but no key was configured.
    #[error(
        "no secret key is configured, so {what} cannot be {action}: set the environment variable \
         ROSTERBRIDGE_SECRET_KEY to a base64-encoded 32-byte key (for example the output of `openssl rand -base64 \
         32`), or give the store a key file holding one"
    )]
    SecretKeyMissing {
        /// The secret, e.g. `the secret of connection contoso`.
        what: String,
        /// `encrypted` or `decrypted`.
        action: &'static str,
    },
    /// The configured key cannot be used.
    #[error("the secret key from {origin} cannot be used: {reason}")]
    SecretKeyInvalid {
        /// Where it came from: the environment variable or the key file's path.
        origin: String,
        /// Why, e.g. not base64 or not 32 bytes.
        reason: String,
    },
    /// A secret was encrypted with another key than the one configured.
    #[error(
        "{what} was encrypted with the key whose fingerprint is {stored_with}, but the configured key's fingerprint \
         is {configured}: configure the key it was stored with, or save the secret again"
    )]
    SecretKeyMismatch {
        /// The secret.
        what: String,
        /// Fingerprint of the key it was encrypted with.
        stored_with: String,
        /// Fingerprint of the configured key.
        configured: String,
    },
    /// A secret does not decrypt with the configured key although the key's fingerprint matches: the stored value
    /// was damaged or tampered with.
    #[error("{what} cannot be decrypted: the stored value is damaged or was altered; save the secret again")]
    SecretDecrypt {
        /// The secret.
        what: String,
    },
    /// A secret held by reference to an environment variable that is not set (or not Unicode).
    #[error("the environment variable `{variable}` that holds {what} is not set")]
    SecretEnvMissing {
        /// The variable's name.
        variable: String,
        /// The secret.
        what: String,
    },
    /// A record that the operation needs does not exist.
    #[error("{what} `{id}` does not exist")]
    NotFound {
        /// `connection`, `connection group`, `held run`…
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// A connection cannot be deleted while connection groups use it.
    #[error(
        "connection `{connection}` is used by the connection group(s) {}; delete those groups or move them to \
         another connection first", groups.join(", ")
    )]
    ConnectionInUse {
        /// The connection.
        connection: ConnectionId,
        /// The groups that use it.
        groups: Vec<String>,
    },
    /// A value given to the store is not acceptable.
    #[error("invalid {what}: {message}")]
    Invalid {
        /// What, e.g. `connection id`.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// A OneRoster import has two records of one kind with the same `sourcedId`; nothing was imported.
    #[error("the import has more than one {kind} with sourcedId `{sourced_id}`; nothing was imported")]
    DuplicateRecord {
        /// The kind.
        kind: EntityKind,
        /// The duplicated id.
        sourced_id: String,
    },
}

impl StoreError {
    /// Whether trying again later may succeed: the database was unreachable, busy, or a transaction lost a race.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Connect { .. } => true,
            StoreError::Database { source, .. } => match source {
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
                sqlx::Error::Database(db) => {
                    let code = db.code();
                    let code = code.as_deref().unwrap_or_default();
                    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                        // SQLITE_BUSY and SQLITE_LOCKED, with their extended codes.
                        code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
                    } else {
                        // Serialization failure, deadlock, lock not available, too many connections, shutdown, and
                        // the connection exceptions (class 08).
                        matches!(code, "40001" | "40P01" | "55P03" | "53300" | "57P01") || code.starts_with("08")
                    }
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// Whether the operation needed a record that does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }

    /// Whether the failure is about the secret key (missing, unusable or not the one a secret was stored with).
    pub fn is_secret_key_problem(&self) -> bool {
        matches!(
            self,
            StoreError::SecretKeyMissing { .. }
                | StoreError::SecretKeyInvalid { .. }
                | StoreError::SecretKeyMismatch { .. }
                | StoreError::SecretDecrypt { .. }
        )
    }

    /// The message with its causes, `: `-separated, for places that keep only a string.
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut source = self.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            // Some causes repeat their own cause in their message: say each thing once.
            if !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            source = cause.source();
        }
        out
    }
}

impl From<StoreError> for sync_engine::StateError {
    fn from(e: StoreError) -> sync_engine::StateError {
        sync_engine::StateError(e.chain())
    }
}

/// Maps a query error to [`StoreError::Database`] with what was being done.
pub(crate) fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { operation, source }
}

/// Whether a query failed on a foreign key.
pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.kind() == sqlx::error::ErrorKind::ForeignKeyViolation)
}

/// A JSON column that did not decode.
pub(crate) fn corrupt(what: impl Into<String>, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { what: what.into(), message: e.to_string() }
}
