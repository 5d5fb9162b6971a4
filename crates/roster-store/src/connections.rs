//! Connections (with their secrets and refresh tokens), connection groups and cursors.

use crate::Store;
use crate::db::{WritePool as _, on_db};
use crate::error::{StoreError, corrupt, db, is_foreign_key_violation};
use crate::secret::{SecretRef, SecretSource, check_env_name};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use sqlx::types::Json;
use sync_engine::SourceCursor;
use sync_engine::model::{Connection, ConnectionGroup, ConnectionId, ConnectionKind, OrganisationId, ScopeSelection};

/// A connection with its settings and secret, as saved and as read back by [`Store::connection`].
///
/// `Debug` never shows the secret.
#[derive(Debug, Clone)]
pub struct ConnectionRecord {
    /// Its id (no `:`: it prefixes the `external_id` of every record synced from it).
    pub id: ConnectionId,
    /// A name an admin recognises.
    pub name: String,
    /// What it connects to.
    pub kind: ConnectionKind,
    /// Settings that are not secret (tenant id, client id, domain…), as JSON.
    pub settings: serde_json::Value,
    /// The credential: none, stored encrypted, or a reference to an environment variable.
    pub secret: SecretRef,
}

impl ConnectionRecord {
    /// The connection as the sync engine sees it.
    pub fn connection(&self) -> Connection {
        Connection { id: self.id.clone(), name: self.name.clone(), kind: self.kind.clone() }
    }
}

/// A connection as listings show it: everything but the secret, which is only described.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionSummary {
    /// Its id.
    pub id: ConnectionId,
    /// Its name.
    pub name: String,
    /// What it connects to.
    pub kind: ConnectionKind,
    /// Its settings.
    pub settings: serde_json::Value,
    /// How its secret is held.
    pub secret: SecretSource,
    /// When it was first saved.
    pub created_at: DateTime<Utc>,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
}

/// A connection group with the name an admin gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    /// A name an admin recognises.
    pub name: String,
    /// The group as the sync engine uses it.
    pub group: ConnectionGroup,
}

/// `microsoft`, `google`, `wonde`, `one_roster_csv`, or `other:<name>`.
fn kind_text(kind: &ConnectionKind) -> String {
    match kind {
        ConnectionKind::Microsoft => "microsoft".into(),
        ConnectionKind::Google => "google".into(),
        ConnectionKind::Wonde => "wonde".into(),
        ConnectionKind::OneRosterCsv => "one_roster_csv".into(),
        ConnectionKind::Other(name) => format!("other:{name}"),
    }
}

fn kind_of(text: &str) -> ConnectionKind {
    match text {
        "microsoft" => ConnectionKind::Microsoft,
        "google" => ConnectionKind::Google,
        "wonde" => ConnectionKind::Wonde,
        "one_roster_csv" => ConnectionKind::OneRosterCsv,
        other => ConnectionKind::Other(other.strip_prefix("other:").unwrap_or(other).to_owned()),
    }
}

fn check_connection_id(id: &ConnectionId) -> Result<(), StoreError> {
    if id.as_str().is_empty() || id.as_str().contains(':') {
        return Err(StoreError::Invalid {
            what: "connection id",
            message: format!("`{id}` must be non-empty and must not contain `:`"),
        });
    }
    Ok(())
}

fn secret_aad(id: &ConnectionId) -> String {
    format!("connection:{id}")
}

fn refresh_aad(id: &ConnectionId) -> String {
    format!("refresh-token:{id}")
}

fn secret_what(id: &ConnectionId) -> String {
    format!("the secret of connection `{id}`")
}

fn refresh_what(id: &ConnectionId) -> String {
    format!("the refresh token of connection `{id}`")
}

type ConnRow = (
    String,
    String,
    String,
    Json<serde_json::Value>,
    String,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
);

const CONN_COLUMNS: &str =
    "id, name, kind, settings, secret_source, secret_env, secret_ciphertext, created_at, updated_at";

type GroupRow = (String, String, String, String, Json<Vec<ScopeSelection>>);

const GROUP_COLUMNS: &str = "id, name, organisation, connection, scopes";

fn group_of(row: GroupRow) -> GroupRecord {
    let (id, name, organisation, connection, Json(scopes)) = row;
    GroupRecord {
        name,
        group: ConnectionGroup {
            id,
            organisation: OrganisationId::new(organisation),
            connection: ConnectionId::new(connection),
            scopes,
        },
    }
}

impl Store {
    /// Saves a connection, replacing one with the same id. A [`SecretRef::Stored`] secret is encrypted with the
    /// store's key (an error if there is none); for [`SecretRef::Env`] only the variable's name is stored.
    pub async fn save_connection(&self, record: &ConnectionRecord) -> Result<(), StoreError> {
        check_connection_id(&record.id)?;
        let (source, env, ciphertext) = match &record.secret {
            SecretRef::None => ("none", None, None),
            SecretRef::Env(variable) => {
                check_env_name(variable)?;
                ("env", Some(variable.clone()), None)
            }
            SecretRef::Stored(secret) => {
                let what = secret_what(&record.id);
                let key = self.key_for(&what, "encrypted")?;
                ("stored", None, Some(key.encrypt(&secret_aad(&record.id), secret.expose_secret(), &what)?))
            }
        };
        let now = self.now();
        let sql = "INSERT INTO connections (id, name, kind, settings, secret_source, secret_env, secret_ciphertext, \
                   created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                   ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
                   settings = excluded.settings, secret_source = excluded.secret_source, \
                   secret_env = excluded.secret_env, secret_ciphertext = excluded.secret_ciphertext, \
                   updated_at = excluded.updated_at";
        on_db!(&self.db, pool => {
            sqlx::query(sql)
                .bind(record.id.as_str())
                .bind(&record.name)
                .bind(kind_text(&record.kind))
                .bind(Json(&record.settings))
                .bind(source)
                .bind(env.as_deref())
                .bind(ciphertext.as_deref())
                .bind(now)
                .execute(pool)
                .await
                .map_err(db("save into connections"))?;
        });
        tracing::debug!(connection = %record.id, secret = source, "connection saved");
        Ok(())
    }

    /// Every connection, by id, without secrets (listing needs no key).
    pub async fn list_connections(&self) -> Result<Vec<ConnectionSummary>, StoreError> {
        let sql = format!("SELECT {CONN_COLUMNS} FROM connections ORDER BY id");
        let rows: Vec<ConnRow> = on_db!(&self.db, pool => {
            sqlx::query_as(&sql).fetch_all(pool).await.map_err(db("read connections"))?
        });
        rows.into_iter()
            .map(|(id, name, kind, Json(settings), source, env, _, created_at, updated_at)| {
                Ok(ConnectionSummary {
                    secret: secret_source(&id, &source, env)?,
                    id: ConnectionId::new(id),
                    name,
                    kind: kind_of(&kind),
                    settings,
                    created_at,
                    updated_at,
                })
            })
            .collect()
    }

    /// One connection with its secret: a stored secret is decrypted (an error if the store has no key, or not the
    /// key it was stored with); an environment reference is returned as such (see [`SecretRef::resolve`]).
    pub async fn connection(&self, id: &ConnectionId) -> Result<Option<ConnectionRecord>, StoreError> {
        let sql = format!("SELECT {CONN_COLUMNS} FROM connections WHERE id = $1");
        let row: Option<ConnRow> = on_db!(&self.db, pool => {
            sqlx::query_as(&sql).bind(id.as_str()).fetch_optional(pool).await.map_err(db("read connections"))?
        });
        let Some((row_id, name, kind, Json(settings), source, env, ciphertext, _, _)) = row else { return Ok(None) };
        let secret = match secret_source(&row_id, &source, env)? {
            SecretSource::None => SecretRef::None,
            SecretSource::Env(variable) => SecretRef::Env(variable),
            SecretSource::Stored => {
                let what = secret_what(id);
                let ciphertext =
                    ciphertext.ok_or_else(|| corrupt(format!("connections/{id}"), "stored secret is missing"))?;
                let key = self.key_for(&what, "decrypted")?;
                SecretRef::Stored(key.decrypt(&secret_aad(id), &ciphertext, &what)?)
            }
        };
        Ok(Some(ConnectionRecord { id: ConnectionId::new(row_id), name, kind: kind_of(&kind), settings, secret }))
    }

    /// Deletes a connection, with its cursors and refresh token. Refused with [`StoreError::ConnectionInUse`]
    /// while a connection group uses it. Returns whether it existed.
    pub async fn delete_connection(&self, id: &ConnectionId) -> Result<bool, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin_write().await.map_err(db("begin deleting a connection"))?;
            let groups: Vec<(String,)> = sqlx::query_as("SELECT id FROM connection_groups WHERE connection = $1 ORDER BY id")
                .bind(id.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(db("read connection_groups"))?;
            if !groups.is_empty() {
                return Err(StoreError::ConnectionInUse {
                    connection: id.clone(),
                    groups: groups.into_iter().map(|(g,)| g).collect(),
                });
            }
            let deleted = sqlx::query("DELETE FROM connections WHERE id = $1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db("delete from connections"))?
                .rows_affected();
            tx.commit().await.map_err(db("commit deleting a connection"))?;
            Ok(deleted > 0)
        })
    }

    /// Saves (encrypted) the refresh token of a connection's delegated sign-in, replacing any before it.
    pub async fn save_refresh_token(&self, connection: &ConnectionId, token: &SecretString) -> Result<(), StoreError> {
        let what = refresh_what(connection);
        let ciphertext =
            self.key_for(&what, "encrypted")?.encrypt(&refresh_aad(connection), token.expose_secret(), &what)?;
        let now = self.now();
        let sql = "INSERT INTO refresh_tokens (connection, ciphertext, updated_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (connection) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at";
        let result = on_db!(&self.db, pool => {
            sqlx::query(sql).bind(connection.as_str()).bind(&ciphertext).bind(now).execute(pool).await.map(|_| ())
        });
        result.map_err(|e| not_found_on_fk(e, "connection", connection.as_str(), "save into refresh_tokens"))
    }

    /// The refresh token of a connection, decrypted, if one was saved.
    pub async fn refresh_token(&self, connection: &ConnectionId) -> Result<Option<SecretString>, StoreError> {
        let row: Option<(String,)> = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT ciphertext FROM refresh_tokens WHERE connection = $1")
                .bind(connection.as_str())
                .fetch_optional(pool)
                .await
                .map_err(db("read refresh_tokens"))?
        });
        let Some((ciphertext,)) = row else { return Ok(None) };
        let what = refresh_what(connection);
        let key = self.key_for(&what, "decrypted")?;
        key.decrypt(&refresh_aad(connection), &ciphertext, &what).map(Some)
    }

    /// Forgets a connection's refresh token (after sign-out, or when it was refused). Returns whether there was one.
    pub async fn delete_refresh_token(&self, connection: &ConnectionId) -> Result<bool, StoreError> {
        on_db!(&self.db, pool => {
            sqlx::query("DELETE FROM refresh_tokens WHERE connection = $1")
                .bind(connection.as_str())
                .execute(pool)
                .await
                .map(|r| r.rows_affected() > 0)
                .map_err(db("delete from refresh_tokens"))
        })
    }

    /// Saves a connection group, replacing one with the same id. Its connection must exist.
    pub async fn save_group(&self, record: &GroupRecord) -> Result<(), StoreError> {
        let group = &record.group;
        if group.id.is_empty() {
            return Err(StoreError::Invalid { what: "connection group id", message: "it is empty".into() });
        }
        let now = self.now();
        let sql = "INSERT INTO connection_groups (id, name, organisation, connection, scopes, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                   organisation = excluded.organisation, connection = excluded.connection, scopes = excluded.scopes, \
                   updated_at = excluded.updated_at";
        let result = on_db!(&self.db, pool => {
            sqlx::query(sql)
                .bind(&group.id)
                .bind(&record.name)
                .bind(group.organisation.as_str())
                .bind(group.connection.as_str())
                .bind(Json(&group.scopes))
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())
        });
        result.map_err(|e| not_found_on_fk(e, "connection", group.connection.as_str(), "save into connection_groups"))
    }

    /// One connection group.
    pub async fn group(&self, id: &str) -> Result<Option<GroupRecord>, StoreError> {
        let sql = format!("SELECT {GROUP_COLUMNS} FROM connection_groups WHERE id = $1");
        let row: Option<GroupRow> = on_db!(&self.db, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await.map_err(db("read connection_groups"))?
        });
        Ok(row.map(group_of))
    }

    /// Every connection group, by organisation then id.
    pub async fn groups(&self) -> Result<Vec<GroupRecord>, StoreError> {
        let sql = format!("SELECT {GROUP_COLUMNS} FROM connection_groups ORDER BY organisation, id");
        let rows: Vec<GroupRow> = on_db!(&self.db, pool => {
            sqlx::query_as(&sql).fetch_all(pool).await.map_err(db("read connection_groups"))?
        });
        Ok(rows.into_iter().map(group_of).collect())
    }

    /// The connection groups of one organisation, by id.
    pub async fn groups_for_organisation(&self, organisation: &OrganisationId) -> Result<Vec<GroupRecord>, StoreError> {
        let sql = format!("SELECT {GROUP_COLUMNS} FROM connection_groups WHERE organisation = $1 ORDER BY id");
        let rows: Vec<GroupRow> = on_db!(&self.db, pool => {
            sqlx::query_as(&sql)
                .bind(organisation.as_str())
                .fetch_all(pool)
                .await
                .map_err(db("read connection_groups"))?
        });
        Ok(rows.into_iter().map(group_of).collect())
    }

    /// Every organisation that has at least one connection group, sorted.
    pub async fn organisations(&self) -> Result<Vec<OrganisationId>, StoreError> {
        let rows: Vec<(String,)> = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT DISTINCT organisation FROM connection_groups ORDER BY organisation")
                .fetch_all(pool)
                .await
                .map_err(db("read connection_groups"))?
        });
        Ok(rows.into_iter().map(|(o,)| OrganisationId::new(o)).collect())
    }

    /// Deletes a connection group. Returns whether it existed.
    pub async fn delete_group(&self, id: &str) -> Result<bool, StoreError> {
        on_db!(&self.db, pool => {
            sqlx::query("DELETE FROM connection_groups WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected() > 0)
                .map_err(db("delete from connection_groups"))
        })
    }

    /// The cursor (e.g. a Graph delta link) saved for a connection and scope key.
    pub async fn cursor(&self, connection: &ConnectionId, scope_key: &str) -> Result<Option<SourceCursor>, StoreError> {
        let row: Option<(String,)> = on_db!(&self.db, pool => {
            sqlx::query_as("SELECT cursor FROM cursors WHERE connection = $1 AND scope_key = $2")
                .bind(connection.as_str())
                .bind(scope_key)
                .fetch_optional(pool)
                .await
                .map_err(db("read cursors"))?
        });
        Ok(row.map(|(c,)| SourceCursor(c)))
    }

    /// Saves the cursor of a connection and scope key, replacing the one before. The connection must exist.
    pub async fn save_cursor(
        &self,
        connection: &ConnectionId,
        scope_key: &str,
        cursor: &SourceCursor,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let sql = "INSERT INTO cursors (connection, scope_key, cursor, updated_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (connection, scope_key) DO UPDATE SET cursor = excluded.cursor, \
                   updated_at = excluded.updated_at";
        let result = on_db!(&self.db, pool => {
            sqlx::query(sql)
                .bind(connection.as_str())
                .bind(scope_key)
                .bind(&cursor.0)
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())
        });
        result.map_err(|e| not_found_on_fk(e, "connection", connection.as_str(), "save into cursors"))
    }

    /// Forgets a cursor (when the source says it is no longer valid). Returns whether there was one.
    pub async fn delete_cursor(&self, connection: &ConnectionId, scope_key: &str) -> Result<bool, StoreError> {
        on_db!(&self.db, pool => {
            sqlx::query("DELETE FROM cursors WHERE connection = $1 AND scope_key = $2")
                .bind(connection.as_str())
                .bind(scope_key)
                .execute(pool)
                .await
                .map(|r| r.rows_affected() > 0)
                .map_err(db("delete from cursors"))
        })
    }
}

fn secret_source(id: &str, source: &str, env: Option<String>) -> Result<SecretSource, StoreError> {
    match (source, env) {
        ("none", _) => Ok(SecretSource::None),
        ("stored", _) => Ok(SecretSource::Stored),
        ("env", Some(variable)) => Ok(SecretSource::Env(variable)),
        (other, _) => Err(corrupt(format!("connections/{id} secret_source"), format!("unknown value `{other}`"))),
    }
}

fn not_found_on_fk(e: sqlx::Error, what: &'static str, id: &str, operation: &'static str) -> StoreError {
    if is_foreign_key_violation(&e) {
        StoreError::NotFound { what, id: id.to_owned() }
    } else {
        StoreError::Database { operation, source: e }
    }
}
