//! The fake domain's state.

use super::sample::DomainUser;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

/// An organisational unit.
#[derive(Debug, Clone)]
pub(crate) struct OrgUnitRec {
    pub(crate) id: String,
    pub(crate) path: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) parent: String,
}

/// The parent path of a unit path (`/` for a unit at the top).
pub(crate) fn parent_of(path: &str) -> String {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/".to_owned(),
        Some((parent, _)) => parent.to_owned(),
    }
}

impl OrgUnitRec {
    pub(crate) fn new(id: String, path: &str, description: String) -> OrgUnitRec {
        let path = path.trim_end_matches('/').to_owned();
        let name = path.rsplit('/').next().unwrap_or_default().to_owned();
        OrgUnitRec { id, parent: parent_of(&path), path, name, description }
    }
}

/// A user.
#[derive(Debug, Clone)]
pub(crate) struct UserRec {
    pub(crate) id: String,
    pub(crate) primary_email: String,
    pub(crate) given_name: String,
    pub(crate) family_name: String,
    pub(crate) suspended: bool,
    pub(crate) archived: bool,
    pub(crate) org_unit_path: String,
    pub(crate) is_admin: bool,
}

impl From<&DomainUser> for UserRec {
    fn from(u: &DomainUser) -> UserRec {
        UserRec {
            id: u.id.clone(),
            primary_email: u.primary_email.clone(),
            given_name: u.given_name.clone(),
            family_name: u.family_name.clone(),
            suspended: u.suspended,
            archived: u.archived,
            org_unit_path: u.org_unit_path.clone(),
            is_admin: u.is_admin,
        }
    }
}

impl UserRec {
    pub(crate) fn to_domain_user(&self) -> DomainUser {
        DomainUser {
            id: self.id.clone(),
            primary_email: self.primary_email.clone(),
            given_name: self.given_name.clone(),
            family_name: self.family_name.clone(),
            suspended: self.suspended,
            archived: self.archived,
            org_unit_path: self.org_unit_path.clone(),
            is_admin: self.is_admin,
        }
    }
}

/// A registered service account: its client id, key id and the DER of its RSA public key.
#[derive(Debug, Clone)]
pub(crate) struct ServiceAccountRec {
    pub(crate) client_id: String,
    pub(crate) key_id: String,
    pub(crate) public_key: Option<Vec<u8>>,
}

/// An issued access token.
#[derive(Debug, Clone)]
pub(crate) struct TokenRec {
    pub(crate) subject: String,
    pub(crate) scopes: BTreeSet<String>,
    pub(crate) expires_at: SystemTime,
}

/// A per-user rate limit bucket.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    pub(crate) available: f64,
    pub(crate) updated: SystemTime,
}

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) token_lifetime: Duration,
    pub(crate) user_rate_limit: Option<u32>,
    pub(crate) query_includes_sub_units: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            token_lifetime: Duration::from_secs(3599),
            user_rate_limit: Some(2400),
            query_includes_sub_units: true,
        }
    }
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) customer_id: String,
    pub(crate) domain: String,
    /// By lower-case path.
    pub(crate) org_units: BTreeMap<String, OrgUnitRec>,
    /// By id.
    pub(crate) users: BTreeMap<String, UserRec>,
    /// By lower-case email.
    pub(crate) service_accounts: BTreeMap<String, ServiceAccountRec>,
    /// Client id → authorised scopes.
    pub(crate) delegations: BTreeMap<String, BTreeSet<String>>,
    pub(crate) tokens: HashMap<String, TokenRec>,
    pub(crate) buckets: HashMap<String, Bucket>,
    pub(crate) settings: Settings,
    pub(crate) advance: Duration,
    pub(crate) rate_limited: u64,
}

impl State {
    pub(crate) fn new(customer_id: String, domain: String) -> State {
        State {
            customer_id,
            domain,
            org_units: BTreeMap::new(),
            users: BTreeMap::new(),
            service_accounts: BTreeMap::new(),
            delegations: BTreeMap::new(),
            tokens: HashMap::new(),
            buckets: HashMap::new(),
            settings: Settings::default(),
            advance: Duration::ZERO,
            rate_limited: 0,
        }
    }

    /// The fake's now: real time plus the advance.
    pub(crate) fn now(&self) -> SystemTime {
        SystemTime::now() + self.advance
    }

    pub(crate) fn insert_unit(&mut self, unit: OrgUnitRec) {
        self.org_units.insert(unit.path.to_lowercase(), unit);
    }

    /// A unit by path, letter case ignored; `/` always exists.
    pub(crate) fn unit_exists(&self, path: &str) -> bool {
        let p = path.trim_end_matches('/');
        p.is_empty() || self.org_units.contains_key(&p.to_lowercase())
    }

    /// A user by primary email, letter case ignored.
    pub(crate) fn user_by_email(&self, email: &str) -> Option<&UserRec> {
        self.users.values().find(|u| u.primary_email.eq_ignore_ascii_case(email))
    }

    /// Takes one query from the user's bucket; `false` when the per-minute limit is spent.
    pub(crate) fn charge(&mut self, subject: &str) -> bool {
        let Some(limit) = self.settings.user_rate_limit else { return true };
        let now = self.now();
        let capacity = f64::from(limit.max(1));
        let bucket = self.buckets.entry(subject.to_lowercase()).or_insert(Bucket { available: capacity, updated: now });
        let elapsed = now.duration_since(bucket.updated).unwrap_or_default().as_secs_f64();
        bucket.available = (bucket.available + elapsed * capacity / 60.0).min(capacity);
        bucket.updated = now;
        if bucket.available >= 1.0 {
            bucket.available -= 1.0;
            true
        } else {
            self.rate_limited += 1;
            false
        }
    }
}
