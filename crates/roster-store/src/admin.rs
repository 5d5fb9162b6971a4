//! The admin web UI's credentials: a password hash per admin account (the password itself is never stored).

use crate::Store;
use crate::db::on_db;
use crate::error::{StoreError, db};
use chrono::{DateTime, Utc};

/// An admin account of the web UI, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminCredential {
    /// The account name (the daemon uses `admin`).
    pub name: String,
    /// A password hash in PHC string format (e.g. Argon2id); never the password.
    pub password_hash: String,
    /// When it was first saved.
    pub created_at: DateTime<Utc>,
    /// When the hash last changed.
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for AdminCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash is not a secret in the usual sense, but it helps an offline guesser: keep it out of logs.
        f.debug_struct("AdminCredential")
            .field("name", &self.name)
            .field("password_hash", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

type AdminRow = (String, String, DateTime<Utc>, DateTime<Utc>);

impl Store {
    /// The admin account `name`, if one was saved.
    pub async fn admin_credential(&self, name: &str) -> Result<Option<AdminCredential>, StoreError> {
        let row: Option<AdminRow> = on_db!(&self.db, pool => {
            sqlx::query_as(
                "SELECT name, password_hash, created_at, updated_at FROM admin_credentials WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await
            .map_err(db("read admin_credentials"))?
        });
        Ok(row.map(|(name, password_hash, created_at, updated_at)| AdminCredential {
            name,
            password_hash,
            created_at,
            updated_at,
        }))
    }

    /// Saves the password hash of admin account `name`: creates it, or replaces its hash (`updated_at = at`).
    pub async fn save_admin_credential(
        &self,
        name: &str,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if name.is_empty() || password_hash.is_empty() {
            return Err(StoreError::Invalid {
                what: "admin credential",
                message: "the account name and the password hash must be non-empty".into(),
            });
        }
        on_db!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO admin_credentials (name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, \
                 updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(password_hash)
            .bind(at)
            .execute(pool)
            .await
            .map_err(db("save into admin_credentials"))?;
        });
        Ok(())
    }
}
