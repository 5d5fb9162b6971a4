//! The fake tenant's data: users, groups, roles, app registrations, tokens, and the change log delta reads.
//!
//! Every change to a user or group is stamped with the next number of one tenant-wide sequence. A delta token
//! records the sequence number its round ran up to; the next round reports what was stamped after it. That is
//! what makes the fake's delta "real": changes made between two rounds show up in the second one only.

use crate::synthetic::model::{DirectoryGroup, DirectoryGroupKind, DirectoryUser, MemberRef};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Time as the fake sees it: a duration since the fake was created. Tests move it with
/// [`FakeGraph::advance_clock`](super::FakeGraph::advance_clock), so expiry and refill never depend on real time.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    /// `None`: manual (only `advance` moves it). `Some(start)`: real time since `start`, plus the advances.
    real_start: Option<Instant>,
    offset: Duration,
    /// Wall-clock time at creation, for the dates written into answers.
    wall_start: chrono::DateTime<chrono::Utc>,
}

impl Clock {
    pub(crate) fn manual() -> Clock {
        Clock { real_start: None, offset: Duration::ZERO, wall_start: chrono::Utc::now() }
    }

    pub(crate) fn use_real_time(&mut self) {
        if self.real_start.is_none() {
            self.real_start = Some(Instant::now());
        }
    }

    pub(crate) fn advance(&mut self, by: Duration) {
        self.offset += by;
    }

    pub(crate) fn now(&self) -> Duration {
        self.real_start.map(|s| s.elapsed()).unwrap_or_default() + self.offset
    }

    /// The wall-clock time that corresponds to `now()`.
    pub(crate) fn wall(&self) -> chrono::DateTime<chrono::Utc> {
        let d = chrono::Duration::from_std(self.now()).unwrap_or_else(|_| chrono::Duration::zero());
        self.wall_start + d
    }
}

/// A member's kind, as `@odata.type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum MemberKind {
    User,
    Group,
}

impl MemberKind {
    pub(crate) fn odata_type(self) -> &'static str {
        match self {
            MemberKind::User => "#microsoft.graph.user",
            MemberKind::Group => "#microsoft.graph.group",
        }
    }
}

pub(crate) fn member_parts(m: &MemberRef) -> (String, MemberKind) {
    match m {
        MemberRef::User(id) => (id.clone(), MemberKind::User),
        MemberRef::Group(id) => (id.clone(), MemberKind::Group),
    }
}

/// A user and when each of its properties last changed.
#[derive(Debug, Clone)]
pub(crate) struct UserRec {
    pub(crate) user: DirectoryUser,
    pub(crate) created: u64,
    pub(crate) changed: BTreeMap<&'static str, u64>,
    /// Soft-deleted (in "deleted items", restorable) at this sequence number.
    pub(crate) deleted: Option<u64>,
}

impl UserRec {
    /// The latest change to any of these properties (all properties when `props` is `None`).
    pub(crate) fn last_change(&self, props: Option<&[String]>) -> u64 {
        let mut last = self.created.max(self.deleted.unwrap_or(0));
        for (name, seq) in &self.changed {
            if props.is_none_or(|p| p.iter().any(|s| s.eq_ignore_ascii_case(name))) {
                last = last.max(*seq);
            }
        }
        last
    }
}

/// A group, its direct members (with the sequence number at which each was added) and its member change log.
#[derive(Debug, Clone)]
pub(crate) struct GroupRec {
    pub(crate) id: String,
    pub(crate) display_name: String,
    pub(crate) description: Option<String>,
    pub(crate) mail: Option<String>,
    pub(crate) kind: DirectoryGroupKind,
    pub(crate) membership_rule: Option<String>,
    pub(crate) members: BTreeMap<String, (MemberKind, u64)>,
    /// `(sequence, member id, kind, added)` for every membership change.
    pub(crate) member_log: Vec<(u64, String, MemberKind, bool)>,
    pub(crate) created: u64,
    pub(crate) changed: BTreeMap<&'static str, u64>,
    pub(crate) deleted: Option<u64>,
}

impl GroupRec {
    pub(crate) fn last_change(&self, props: Option<&[String]>) -> u64 {
        let mut last = self.created.max(self.deleted.unwrap_or(0));
        for (name, seq) in &self.changed {
            if props.is_none_or(|p| p.iter().any(|s| s.eq_ignore_ascii_case(name))) {
                last = last.max(*seq);
            }
        }
        last
    }

    pub(crate) fn as_directory_group(&self) -> DirectoryGroup {
        DirectoryGroup {
            id: self.id.clone(),
            display_name: self.display_name.clone(),
            description: self.description.clone(),
            mail: self.mail.clone(),
            kind: self.kind,
            membership_rule: self.membership_rule.clone(),
            members: self
                .members
                .iter()
                .map(|(id, (kind, _))| match kind {
                    MemberKind::User => MemberRef::User(id.clone()),
                    MemberKind::Group => MemberRef::Group(id.clone()),
                })
                .collect(),
        }
    }
}

/// A directory role activated in the tenant, and the users holding it.
#[derive(Debug, Clone)]
pub(crate) struct RoleRec {
    pub(crate) id: String,
    pub(crate) template_id: String,
    pub(crate) display_name: String,
    pub(crate) members: BTreeSet<String>,
}

/// An app registration (and its service principal in this tenant).
#[derive(Debug, Clone)]
pub(crate) struct AppRec {
    pub(crate) secret: Option<String>,
    pub(crate) application_permissions: BTreeSet<String>,
    pub(crate) delegated_permissions: BTreeSet<String>,
    pub(crate) public_client: bool,
}

/// An issued access token.
#[derive(Debug, Clone)]
pub(crate) struct AccessRec {
    pub(crate) client_id: String,
    /// `None` for app-only tokens.
    pub(crate) user: Option<String>,
    /// The `roles` claim (app-only) or the `scp` claim (delegated).
    pub(crate) permissions: BTreeSet<String>,
    pub(crate) expires_at: Duration,
    pub(crate) revoked: bool,
}

/// An issued refresh token.
#[derive(Debug, Clone)]
pub(crate) struct RefreshRec {
    pub(crate) client_id: String,
    pub(crate) user: String,
    pub(crate) scopes: BTreeSet<String>,
    pub(crate) expires_at: Duration,
    /// Spent: it was exchanged once and replaced by a new one.
    pub(crate) used: bool,
    pub(crate) revoked: bool,
}

/// Where a device code flow stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeviceStatus {
    Pending,
    Approved(String),
    Declined,
    Redeemed,
}

#[derive(Debug, Clone)]
pub(crate) struct DeviceRec {
    pub(crate) user_code: String,
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires_at: Duration,
    pub(crate) interval: Duration,
    pub(crate) last_poll: Option<Duration>,
    pub(crate) status: DeviceStatus,
}

/// A per app+tenant token bucket of resource units.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    pub(crate) units: f64,
    pub(crate) updated: Duration,
    /// The bucket's size and refill period, fixed when it is created.
    pub(crate) capacity: f64,
    pub(crate) per: Duration,
}

/// How many resource units an app may spend, per the identity and access service limits.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum ThrottleLimit {
    /// The documented application+tenant quota for the tenant's size (S: under 50 users, 3,500 per 10 s;
    /// M: 50 to 500 users, 5,000; L: over 500 users, 8,000).
    Documented,
    /// A bucket of `units` resource units that refills completely every `per` (tests use tiny ones).
    Custom {
        /// The bucket's size, in resource units.
        units: u32,
        /// How long an empty bucket takes to refill.
        per: Duration,
    },
    /// No throttling (headers are still sent).
    Unlimited,
}

/// Tunables of the fake.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) default_page_size: usize,
    pub(crate) delta_page_size: usize,
    pub(crate) delta_members_per_page: usize,
    pub(crate) access_token_lifetime: Duration,
    pub(crate) refresh_token_lifetime: Duration,
    pub(crate) device_code_lifetime: Duration,
    pub(crate) device_code_interval: Duration,
    pub(crate) delta_token_retention: Duration,
    pub(crate) throttle: ThrottleLimit,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            // "The default and maximum page sizes are 100 and 999 objects" (List members, List users).
            default_page_size: 100,
            delta_page_size: 100,
            delta_members_per_page: 100,
            // Entra ID answers `expires_in` of about an hour (3599 in the protocol examples).
            access_token_lifetime: Duration::from_secs(3599),
            // Refresh tokens live 90 days ("Refresh tokens in the Microsoft identity platform").
            refresh_token_lifetime: Duration::from_secs(90 * 24 * 3600),
            // "From the moment the request is sent, the user has 15 minutes to sign in" (device code flow).
            device_code_lifetime: Duration::from_secs(900),
            device_code_interval: Duration::from_secs(5),
            // "For directory objects, the limit is seven days" (delta query overview, "Token duration").
            delta_token_retention: Duration::from_secs(7 * 24 * 3600),
            throttle: ThrottleLimit::Documented,
        }
    }
}

/// The whole fake tenant.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) clock: Clock,
    pub(crate) settings: Settings,
    pub(crate) tenant_id: String,
    pub(crate) tenant_name: String,
    pub(crate) domain: String,
    pub(crate) seq: u64,
    pub(crate) users: BTreeMap<String, UserRec>,
    /// Permanently deleted users: id → sequence number of the deletion.
    pub(crate) user_tombstones: BTreeMap<String, u64>,
    pub(crate) groups: BTreeMap<String, GroupRec>,
    pub(crate) group_tombstones: BTreeMap<String, u64>,
    /// Every change to a user (created, changed, deleted, restored, purged): sequence number → user id. A resumed
    /// users delta round looks only at the users changed in its range, as the service answers from its change
    /// log rather than by scanning the tenant.
    pub(crate) user_log: BTreeMap<u64, String>,
    /// Directory roles by template id.
    pub(crate) roles: BTreeMap<String, RoleRec>,
    pub(crate) apps: BTreeMap<String, AppRec>,
    pub(crate) access_tokens: HashMap<String, AccessRec>,
    pub(crate) refresh_tokens: HashMap<String, RefreshRec>,
    /// Device codes by `device_code`.
    pub(crate) device_codes: HashMap<String, DeviceRec>,
    /// Bumped by `expire_delta_tokens`: tokens of an older epoch answer 410.
    pub(crate) delta_epoch: u32,
    pub(crate) buckets: HashMap<(String, String), Bucket>,
    /// Transitive member sets computed at sequence number `transitive_seq` (any change empties the cache).
    transitive_cache: HashMap<String, Arc<BTreeMap<String, MemberKind>>>,
    transitive_seq: u64,
}

impl State {
    pub(crate) fn new(tenant_id: String, tenant_name: String, domain: String) -> State {
        State {
            clock: Clock::manual(),
            settings: Settings::default(),
            tenant_id,
            tenant_name,
            domain,
            seq: 0,
            users: BTreeMap::new(),
            user_tombstones: BTreeMap::new(),
            groups: BTreeMap::new(),
            group_tombstones: BTreeMap::new(),
            user_log: BTreeMap::new(),
            roles: BTreeMap::new(),
            apps: BTreeMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            device_codes: HashMap::new(),
            delta_epoch: 0,
            buckets: HashMap::new(),
            transitive_cache: HashMap::new(),
            transitive_seq: 0,
        }
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Whether `tenant` (an id or a domain, any case) names this tenant.
    pub(crate) fn is_tenant(&self, tenant: &str) -> bool {
        tenant.eq_ignore_ascii_case(&self.tenant_id)
            || tenant.eq_ignore_ascii_case(&self.domain)
            || tenant.eq_ignore_ascii_case(&self.initial_domain())
    }

    /// The `*.onmicrosoft.com` domain every tenant has.
    pub(crate) fn initial_domain(&self) -> String {
        if self.domain.to_ascii_lowercase().ends_with(".onmicrosoft.com") {
            return self.domain.clone();
        }
        let label: String =
            self.tenant_name.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
        let label = if label.is_empty() { "tenant".to_owned() } else { label };
        format!("{label}.onmicrosoft.com")
    }

    /// A live (not deleted) user by object id or user principal name.
    pub(crate) fn live_user(&self, key: &str) -> Option<&UserRec> {
        if let Some(u) = self.users.get(key) {
            return u.deleted.is_none().then_some(u);
        }
        self.users.values().find(|u| u.deleted.is_none() && u.user.user_principal_name.eq_ignore_ascii_case(key))
    }

    pub(crate) fn live_group(&self, id: &str) -> Option<&GroupRec> {
        self.groups.get(id).filter(|g| g.deleted.is_none())
    }

    // ---- users ----

    pub(crate) fn add_user(&mut self, user: DirectoryUser) {
        let seq = self.next_seq();
        self.user_tombstones.remove(&user.id);
        self.user_log.insert(seq, user.id.clone());
        self.users.insert(user.id.clone(), UserRec { user, created: seq, changed: BTreeMap::new(), deleted: None });
    }

    /// Applies `change` and stamps each property it changed.
    pub(crate) fn update_user(&mut self, id: &str, change: impl FnOnce(&mut DirectoryUser)) -> bool {
        let Some(before) = self.users.get(id).map(|r| r.user.clone()) else { return false };
        let mut after = before.clone();
        change(&mut after);
        after.id = before.id.clone();
        let changed = changed_user_props(&before, &after);
        if changed.is_empty() {
            return true;
        }
        let seq = self.next_seq();
        self.user_log.insert(seq, id.to_owned());
        if let Some(rec) = self.users.get_mut(id) {
            rec.user = after;
            for p in changed {
                rec.changed.insert(p, seq);
            }
        }
        true
    }

    /// Soft-deletes a user: it leaves every group (Entra ID removes a deleted user's memberships), disappears
    /// from lists, and delta reports it with `@removed: {"reason": "changed"}`.
    pub(crate) fn soft_delete_user(&mut self, id: &str) -> bool {
        if self.users.get(id).is_none_or(|u| u.deleted.is_some()) {
            return false;
        }
        self.remove_from_all_groups(id);
        let seq = self.next_seq();
        self.user_log.insert(seq, id.to_owned());
        if let Some(rec) = self.users.get_mut(id) {
            rec.deleted = Some(seq);
        }
        true
    }

    pub(crate) fn restore_user(&mut self, id: &str) -> bool {
        if self.users.get(id).is_none_or(|u| u.deleted.is_none()) {
            return false;
        }
        let seq = self.next_seq();
        self.user_log.insert(seq, id.to_owned());
        if let Some(rec) = self.users.get_mut(id) {
            rec.deleted = None;
            rec.created = seq;
        }
        true
    }

    /// Deletes a user for good: delta reports `@removed: {"reason": "deleted"}`.
    pub(crate) fn purge_user(&mut self, id: &str) -> bool {
        if !self.users.contains_key(id) {
            return false;
        }
        self.remove_from_all_groups(id);
        self.users.remove(id);
        for role in self.roles.values_mut() {
            role.members.remove(id);
        }
        let seq = self.next_seq();
        self.user_log.insert(seq, id.to_owned());
        self.user_tombstones.insert(id.to_owned(), seq);
        true
    }

    fn remove_from_all_groups(&mut self, member_id: &str) {
        let holding: Vec<String> =
            self.groups.values().filter(|g| g.members.contains_key(member_id)).map(|g| g.id.clone()).collect();
        for g in holding {
            self.remove_member(&g, member_id);
        }
    }

    // ---- groups ----

    pub(crate) fn add_group(&mut self, group: DirectoryGroup) {
        let seq = self.next_seq();
        self.group_tombstones.remove(&group.id);
        let mut rec = GroupRec {
            id: group.id.clone(),
            display_name: group.display_name,
            description: group.description,
            mail: group.mail,
            kind: group.kind,
            membership_rule: group.membership_rule,
            members: BTreeMap::new(),
            member_log: Vec::new(),
            created: seq,
            changed: BTreeMap::new(),
            deleted: None,
        };
        for m in &group.members {
            let (id, kind) = member_parts(m);
            rec.members.insert(id.clone(), (kind, seq));
            rec.member_log.push((seq, id, kind, true));
        }
        self.groups.insert(group.id, rec);
    }

    pub(crate) fn update_group(&mut self, id: &str, change: impl FnOnce(&mut DirectoryGroup)) -> bool {
        let Some(before) = self.groups.get(id).map(GroupRec::as_directory_group) else { return false };
        let mut after = before.clone();
        change(&mut after);
        let mut changed = Vec::new();
        if before.display_name != after.display_name {
            changed.push("displayName");
        }
        if before.description != after.description {
            changed.push("description");
        }
        if before.mail != after.mail {
            changed.extend(["mail", "mailNickname"]);
        }
        if before.kind != after.kind {
            changed.extend(["groupTypes", "mailEnabled", "securityEnabled"]);
        }
        if before.membership_rule != after.membership_rule {
            changed.extend(["membershipRule", "groupTypes", "membershipRuleProcessingState"]);
        }
        if !changed.is_empty() {
            let seq = self.next_seq();
            if let Some(rec) = self.groups.get_mut(id) {
                rec.display_name = after.display_name.clone();
                rec.description = after.description.clone();
                rec.mail = after.mail.clone();
                rec.kind = after.kind;
                rec.membership_rule = after.membership_rule.clone();
                for p in changed {
                    rec.changed.insert(p, seq);
                }
            }
        }
        // Members given in the closure replace the current ones.
        if before.members != after.members {
            let wanted: BTreeMap<String, MemberKind> = after.members.iter().map(member_parts).collect();
            let current: Vec<String> =
                self.groups.get(id).map(|g| g.members.keys().cloned().collect()).unwrap_or_default();
            for m in current.iter().filter(|m| !wanted.contains_key(*m)) {
                self.remove_member(id, m);
            }
            for (m, kind) in wanted {
                self.add_member(id, &m, kind);
            }
        }
        true
    }

    /// Deletes a group. Microsoft 365 groups go to deleted items (delta: `changed`); security and distribution
    /// groups are deleted for good (delta: `deleted`).
    pub(crate) fn delete_group(&mut self, id: &str) -> bool {
        let Some(kind) = self.live_group(id).map(|g| g.kind) else { return false };
        self.remove_from_all_groups(id);
        let seq = self.next_seq();
        if kind == DirectoryGroupKind::Microsoft365 {
            if let Some(g) = self.groups.get_mut(id) {
                g.deleted = Some(seq);
            }
        } else {
            self.groups.remove(id);
            self.group_tombstones.insert(id.to_owned(), seq);
        }
        true
    }

    pub(crate) fn add_member(&mut self, group_id: &str, member_id: &str, kind: MemberKind) -> bool {
        if self.groups.get(group_id).is_none_or(|g| g.members.contains_key(member_id)) {
            return false;
        }
        let seq = self.next_seq();
        if let Some(g) = self.groups.get_mut(group_id) {
            g.members.insert(member_id.to_owned(), (kind, seq));
            g.member_log.push((seq, member_id.to_owned(), kind, true));
        }
        true
    }

    pub(crate) fn remove_member(&mut self, group_id: &str, member_id: &str) -> bool {
        let Some(kind) = self.groups.get(group_id).and_then(|g| g.members.get(member_id)).map(|(k, _)| *k) else {
            return false;
        };
        let seq = self.next_seq();
        if let Some(g) = self.groups.get_mut(group_id) {
            g.members.remove(member_id);
            g.member_log.push((seq, member_id.to_owned(), kind, false));
        }
        true
    }

    /// Every member reachable from `group_id` through nested groups (nested groups included), each once, in id
    /// order. Cycles are harmless.
    pub(crate) fn transitive_members(&self, group_id: &str) -> BTreeMap<String, MemberKind> {
        let mut out = BTreeMap::new();
        let mut seen = BTreeSet::new();
        let mut stack = vec![group_id.to_owned()];
        seen.insert(group_id.to_owned());
        while let Some(g) = stack.pop() {
            let Some(rec) = self.live_group(&g) else { continue };
            for (id, (kind, _)) in &rec.members {
                out.insert(id.clone(), *kind);
                if *kind == MemberKind::Group && seen.insert(id.clone()) {
                    stack.push(id.clone());
                }
            }
        }
        out.remove(group_id);
        out
    }

    /// [`transitive_members`](Self::transitive_members), computed once per state: paging through a large nested
    /// group does not walk the tree again for every page.
    pub(crate) fn transitive_members_cached(&mut self, group_id: &str) -> Arc<BTreeMap<String, MemberKind>> {
        if self.transitive_seq != self.seq || self.transitive_cache.len() > 256 {
            self.transitive_cache.clear();
            self.transitive_seq = self.seq;
        }
        if let Some(m) = self.transitive_cache.get(group_id) {
            return m.clone();
        }
        let m = Arc::new(self.transitive_members(group_id));
        self.transitive_cache.insert(group_id.to_owned(), m.clone());
        m
    }

    /// The groups `member_id` belongs to, directly or through nested groups.
    pub(crate) fn transitive_member_of(&self, member_id: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack = vec![member_id.to_owned()];
        while let Some(m) = stack.pop() {
            for g in self.groups.values().filter(|g| g.deleted.is_none() && g.members.contains_key(&m)) {
                if out.insert(g.id.clone()) {
                    stack.push(g.id.clone());
                }
            }
        }
        out
    }
}

/// The Graph names of the user properties that differ.
fn changed_user_props(a: &DirectoryUser, b: &DirectoryUser) -> Vec<&'static str> {
    let mut out = Vec::new();
    if a.user_principal_name != b.user_principal_name {
        out.push("userPrincipalName");
    }
    if a.mail != b.mail {
        out.push("mail");
    }
    if a.given_name != b.given_name {
        out.push("givenName");
    }
    if a.surname != b.surname {
        out.push("surname");
    }
    if a.display_name != b.display_name {
        out.push("displayName");
    }
    if a.account_enabled != b.account_enabled {
        out.push("accountEnabled");
    }
    if a.job_title != b.job_title {
        out.push("jobTitle");
    }
    if a.department != b.department {
        out.push("department");
    }
    if a.employee_id != b.employee_id {
        out.push("employeeId");
    }
    if a.user_type != b.user_type {
        out.push("userType");
    }
    out
}
