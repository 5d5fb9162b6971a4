//! The harness: a sandbox (fake Graph + fake Secure Schools + a generated trust), an app over it with a fast
//! retry policy, and the expectations computed from the trust data.

use http_retry::RetryPolicy;
use secure_schools_sync::app::{App, AppOptions, SyncOutcome};
use secure_schools_sync::commands::{self, SyncResult, SyncTarget};
use secure_schools_sync::demo::{CONNECTION, Sandbox, SandboxAuth};
use secure_schools_sync::output::Output;
use secure_schools_sync::shutdown::Shutdown;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use sync_engine::model::OrganisationId;
use sync_engine::{NoProgress, RunOptions, RunReport};
use testkit::secure_schools::User;
use testkit::synthetic::{Trust, TrustSpec};

/// Retries at once: tests never sleep for real.
pub(crate) fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(2))
        .max_total_wait(Duration::from_secs(2))
        .jitter(false)
}

/// A small trust: three schools of 8 staff and 24 pupils, every feature present.
pub(crate) fn spec() -> TrustSpec {
    TrustSpec { staff_per_school: 8, students_per_school: 24, year_groups: 4, ..TrustSpec::small() }
}

/// A sandbox and an app over it.
pub(crate) struct Env {
    pub(crate) sandbox: Sandbox,
    pub(crate) app: App,
}

impl Env {
    pub(crate) fn trust(&self) -> &Trust {
        &self.sandbox.trust
    }

    /// Syncs every organisation; returns the results.
    pub(crate) async fn sync_all(&self) -> Vec<SyncResult> {
        let (out, _) = Output::capture();
        let (_t, shutdown) = Shutdown::manual();
        commands::sync_results(&self.app, SyncTarget::All, None, &out, &shutdown).await.unwrap()
    }

    /// Syncs every organisation reading every group in full (`sync all --full`); returns the results.
    pub(crate) async fn sync_full(&self) -> Vec<SyncResult> {
        let (out, _) = Output::capture();
        let (_t, shutdown) = Shutdown::manual();
        let options = commands::run_options(None, true);
        commands::sync_results_with(&self.app, SyncTarget::All, &options, &out, &shutdown).await.unwrap()
    }

    /// Syncs one organisation and returns its report.
    pub(crate) async fn sync_org(&self, org: &str) -> RunReport {
        let engine = self.app.engine().unwrap();
        let (_t, shutdown) = Shutdown::manual();
        match self
            .app
            .sync_org(&engine, &OrganisationId::new(org), &RunOptions::default(), &NoProgress, &shutdown)
            .await
            .unwrap()
        {
            SyncOutcome::Ran(report) => report,
            other => panic!("{other:?}"),
        }
    }

    /// Every organisation's users in the fake, by user id.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, BTreeMap<String, User>> {
        self.trust()
            .schools
            .iter()
            .map(|s| {
                let users = self.sandbox.secure_schools.users(&s.organisation_id);
                (s.organisation_id.clone(), users.into_iter().map(|u| (u.id.clone(), u)).collect())
            })
            .collect()
    }

    /// Batches sent to the fake Secure Schools so far.
    pub(crate) fn batches(&self) -> u64 {
        self.sandbox.secure_schools.counters().snapshot().endpoint("POST /organisations/{org}/users/batch")
    }
}

pub(crate) async fn env_with(
    spec: &TrustSpec,
    auth: SandboxAuth,
    options: AppOptions,
    configure: impl FnOnce(&mut Sandbox),
) -> Env {
    let mut sandbox = Sandbox::start(spec, auth).await.unwrap();
    configure(&mut sandbox);
    let options = AppOptions { retry_policy: Some(fast_retry()), ..options };
    let app = sandbox.app(options).await.unwrap();
    if auth == SandboxAuth::Delegated {
        let (mut out, _) = Output::capture();
        sandbox.connect(&app, &mut out).await.unwrap();
    }
    Env { sandbox, app }
}

/// A delegated sandbox over [`spec`], signed in.
pub(crate) async fn env() -> Env {
    env_with(&spec(), SandboxAuth::Delegated, AppOptions::default(), |_| {}).await
}

/// A signed-in sandbox, synced once (every organisation succeeded).
pub(crate) async fn synced_env() -> Env {
    let env = env().await;
    let results = env.sync_all().await;
    assert!(results.iter().all(|r| r.status == "succeeded"), "{results:#?}");
    env
}

/// Who an organisation should have after a sync, from the trust data alone: the transitive members of its staff
/// and students groups, enabled accounts only, staff winning over student; keyed by lower-case email.
pub(crate) fn expected(trust: &Trust, organisation: &str) -> BTreeMap<String, (String, &'static str)> {
    let school = trust.school(organisation).unwrap();
    let staff = trust.transitive_user_ids(&school.staff_group_id);
    let students = trust.transitive_user_ids(&school.student_group_id);
    let mut out = BTreeMap::new();
    for id in staff.iter().chain(students.iter()) {
        let user = trust.user(id).unwrap();
        if !user.account_enabled {
            continue;
        }
        let role = if staff.contains(id) { "staff" } else { "student" };
        out.insert(Trust::sync_email(user).to_lowercase(), (format!("{CONNECTION}:{id}"), role));
    }
    out
}

/// The differences between two snapshots: (organisation, user id, what).
pub(crate) fn diff(
    before: &BTreeMap<String, BTreeMap<String, User>>,
    after: &BTreeMap<String, BTreeMap<String, User>>,
) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (org, users) in after {
        let old = before.get(org).cloned().unwrap_or_default();
        let ids: BTreeSet<&String> = users.keys().chain(old.keys()).collect();
        for id in ids {
            match (old.get(id), users.get(id)) {
                (None, Some(u)) => out.push((org.clone(), id.clone(), format!("created {}", u.email))),
                (Some(u), None) => out.push((org.clone(), id.clone(), format!("deleted {}", u.email))),
                (Some(a), Some(b)) => {
                    let mut fields = Vec::new();
                    if a.email != b.email {
                        fields.push(format!("email {} -> {}", a.email, b.email));
                    }
                    if a.first_name != b.first_name {
                        fields.push(format!("first_name {} -> {}", a.first_name, b.first_name));
                    }
                    if a.last_name != b.last_name {
                        fields.push(format!("last_name {} -> {}", a.last_name, b.last_name));
                    }
                    if a.role != b.role {
                        fields.push(format!("role {} -> {}", a.role.as_str(), b.role.as_str()));
                    }
                    if a.status != b.status {
                        fields.push(format!("status {} -> {}", a.status.as_str(), b.status.as_str()));
                    }
                    if a.external_id != b.external_id || a.managed_by_sync != b.managed_by_sync {
                        fields.push(format!("managed {:?} -> {:?}", a.external_id, b.external_id));
                    }
                    if !fields.is_empty() {
                        out.push((org.clone(), id.clone(), fields.join("; ")));
                    }
                }
                (None, None) => {}
            }
        }
    }
    out
}

/// Asserts that no two users of any organisation share an email or an external id.
pub(crate) fn assert_no_duplicates(env: &Env) {
    for (org, users) in env.snapshot() {
        let mut emails = BTreeSet::new();
        let mut externals = BTreeSet::new();
        for u in users.values() {
            assert!(emails.insert(u.email.to_lowercase()), "{org}: duplicate email {}", u.email);
            if let Some(e) = &u.external_id {
                assert!(externals.insert(e.clone()), "{org}: duplicate external id {e}");
            }
        }
    }
}

/// Asserts that every organisation holds exactly the expected users (and the users who were there before and are
/// not in the directory, untouched).
pub(crate) fn assert_expected_state(env: &Env) {
    let trust = env.trust();
    for school in &trust.schools {
        let org = &school.organisation_id;
        let want = expected(trust, org);
        let users = env.sandbox.secure_schools.users(org);
        let by_email: BTreeMap<String, &User> = users.iter().map(|u| (u.email.to_lowercase(), u)).collect();
        for (email, (external_id, role)) in &want {
            let u = by_email.get(email).unwrap_or_else(|| panic!("{org}: {email} is missing"));
            assert_eq!(u.external_id.as_deref(), Some(external_id.as_str()), "{org}: {email}");
            assert!(u.managed_by_sync, "{org}: {email} not managed");
            assert_eq!(u.role.as_str(), *role, "{org}: {email} role");
            assert_eq!(u.status.as_str(), "active", "{org}: {email} status");
        }
        let existing = trust.secure_schools_existing_users.iter().find(|e| &e.organisation_id == org).unwrap();
        let mut others = 0;
        for e in &existing.users {
            if want.contains_key(&e.email.to_lowercase()) {
                continue;
            }
            others += 1;
            let u = by_email.get(&e.email.to_lowercase()).unwrap_or_else(|| panic!("{org}: {} vanished", e.email));
            assert!(!u.managed_by_sync, "{org}: {} should not be managed", e.email);
            assert_eq!(u.status.as_str(), e.status.as_str(), "{org}: {} status changed", e.email);
        }
        assert_eq!(users.len(), want.len() + others, "{org}: user count");
    }
    assert_no_duplicates(env);
}
