//! Sign-in: the admin password (Argon2id hash in the store), sessions (random tokens in an HttpOnly,
//! SameSite=Strict cookie; only their SHA-256 is kept, in memory), CSRF tokens, and a limit on failed sign-ins.

use anyhow::Context;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use roster_store::Store;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The admin account's name in the store.
pub const ADMIN: &str = "admin";
/// The session cookie.
pub const COOKIE: &str = "ssync_session";
/// The shortest admin password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;
/// A signed-in session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// …and after this long in any case.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);
/// A signed-out session (one that only holds the sign-in form's CSRF token) ends after this long.
const ANONYMOUS_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Sessions kept at most; past it the oldest signed-out ones go first.
const MAX_SESSIONS: usize = 10_000;
/// Failed sign-ins allowed per window before sign-in is refused for the rest of the window.
pub const MAX_FAILURES: usize = 10;
/// The window of [`MAX_FAILURES`].
pub const FAILURE_WINDOW: Duration = Duration::from_secs(5 * 60);

/// 256 random bits from the operating system's generator (via v4 UUIDs), as hex.
pub fn random_token() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    format!("{}{}", a.simple(), b.simple())
}

fn digest(token: &str) -> String {
    let hash = Sha256::digest(token.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes a password with Argon2id (the crate's defaults: OWASP's recommended parameters) and a random salt.
pub fn hash_password(password: &SecretString) -> anyhow::Result<String> {
    let salt =
        SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes()).map_err(|e| anyhow::anyhow!("making a salt: {e}"))?;
    let hash = Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing the admin password: {e}"))?;
    Ok(hash.to_string())
}

/// Whether `password` matches a stored PHC hash (false for a hash that cannot be read).
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "the stored admin password hash cannot be read");
            false
        }
    }
}

/// What the daemon does at start with the admin password it was given (`--admin-password` /
/// `SECURE_SCHOOLS_SYNC_ADMIN_PASSWORD`):
///
/// * none stored yet, one given: its hash is stored (the first start);
/// * one stored, one given that differs: the stored hash is replaced (how to change or reset it);
/// * none stored, none given: the UI cannot be signed in to, and says how to set one.
///
/// A password shorter than [`MIN_PASSWORD_LEN`] is refused.
pub async fn setup_admin(store: &Store, password: Option<&SecretString>) -> anyhow::Result<AdminSetup> {
    let stored = store.admin_credential(ADMIN).await.context("reading the web UI's admin credential")?;
    let Some(password) = password else {
        if stored.is_none() {
            tracing::warn!(
                "the web UI has no admin password, so nobody can sign in to it: start the daemon once with \
                 SECURE_SCHOOLS_SYNC_ADMIN_PASSWORD set (at least {MIN_PASSWORD_LEN} characters)"
            );
            return Ok(AdminSetup::NotSet);
        }
        return Ok(AdminSetup::Unchanged);
    };
    let length = password.expose_secret().chars().count();
    if length < MIN_PASSWORD_LEN {
        anyhow::bail!(
            "the web UI's admin password (SECURE_SCHOOLS_SYNC_ADMIN_PASSWORD) is {length} characters long; use at \
             least {MIN_PASSWORD_LEN}"
        );
    }
    if let Some(stored) = &stored
        && verify_password(password.expose_secret(), &stored.password_hash)
    {
        return Ok(AdminSetup::Unchanged);
    }
    let hash = hash_password(password)?;
    store
        .save_admin_credential(ADMIN, &hash, chrono::Utc::now())
        .await
        .context("storing the web UI's admin password hash")?;
    if stored.is_some() {
        tracing::info!("the web UI's admin password was changed (from SECURE_SCHOOLS_SYNC_ADMIN_PASSWORD)");
        Ok(AdminSetup::Changed)
    } else {
        tracing::info!("the web UI's admin password is set (its hash is in the store)");
        Ok(AdminSetup::Set)
    }
}

/// What [`setup_admin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminSetup {
    /// The password's hash was stored for the first time.
    Set,
    /// A different password replaced the stored one.
    Changed,
    /// The stored password stays (none given, or the same one).
    Unchanged,
    /// There is no password: nobody can sign in.
    NotSet,
}

/// One browser's session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The CSRF token every form of this session carries.
    pub(crate) csrf: String,
    /// Whether the admin signed in.
    pub(crate) signed_in: bool,
    created: Instant,
    last_seen: Instant,
    /// A message to show once on the next page.
    pub(crate) flash: Option<Flash>,
}

/// A one-time message after an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flash {
    /// Good news (true) or a problem (false).
    pub(crate) ok: bool,
    /// The message.
    pub(crate) text: String,
}

impl Session {
    fn expired(&self, now: Instant) -> bool {
        let idle = if self.signed_in { IDLE_TIMEOUT } else { ANONYMOUS_TIMEOUT };
        now.duration_since(self.last_seen) > idle || now.duration_since(self.created) > ABSOLUTE_TIMEOUT
    }
}

/// Sessions by the SHA-256 of their cookie token (a memory dump or a log line shows no usable token). They live
/// in memory: restarting the daemon signs everyone out.
#[derive(Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    failures: Mutex<Vec<Instant>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.map.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("Sessions").field("count", &n).finish_non_exhaustive()
    }
}

impl Sessions {
    /// The live session of a cookie token (its last-seen time moves).
    pub(crate) fn get(&self, token: &str) -> Option<Session> {
        let key = digest(token);
        let now = Instant::now();
        let mut map = self.map.lock().ok()?;
        let session = map.get_mut(&key)?;
        if session.expired(now) {
            map.remove(&key);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// A new session; returns its cookie token.
    pub(crate) fn create(&self, signed_in: bool) -> (String, Session) {
        let token = random_token();
        let now = Instant::now();
        let session = Session { csrf: random_token(), signed_in, created: now, last_seen: now, flash: None };
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, s| !s.expired(now));
            if map.len() >= MAX_SESSIONS {
                let oldest =
                    map.iter().filter(|(_, s)| !s.signed_in).min_by_key(|(_, s)| s.last_seen).map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    map.remove(&k);
                }
            }
            map.insert(digest(&token), session.clone());
        }
        (token, session)
    }

    /// Ends a session.
    pub(crate) fn remove(&self, token: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(&digest(token));
        }
    }

    /// Sets the one-time message of a session.
    pub(crate) fn set_flash(&self, token: &str, flash: Flash) {
        if let Ok(mut map) = self.map.lock()
            && let Some(s) = map.get_mut(&digest(token))
        {
            s.flash = Some(flash);
        }
    }

    /// Takes the one-time message of a session.
    pub(crate) fn take_flash(&self, token: &str) -> Option<Flash> {
        self.map.lock().ok()?.get_mut(&digest(token))?.flash.take()
    }

    /// Whether sign-in is refused now because of recent failures.
    pub(crate) fn locked_out(&self) -> bool {
        let now = Instant::now();
        self.failures
            .lock()
            .map(|mut f| {
                f.retain(|t| now.duration_since(*t) < FAILURE_WINDOW);
                f.len() >= MAX_FAILURES
            })
            .unwrap_or(true)
    }

    /// Records a failed sign-in.
    pub(crate) fn failed(&self) {
        if let Ok(mut f) = self.failures.lock() {
            f.push(Instant::now());
        }
    }
}

/// Whether a submitted CSRF token is the session's (constant time).
pub(crate) fn csrf_matches(session: &Session, submitted: &str) -> bool {
    let (a, b) = (session.csrf.as_bytes(), submitted.as_bytes());
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
