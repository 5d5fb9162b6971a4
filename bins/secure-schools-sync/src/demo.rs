//! `demo`: the whole job against in-process fakes, with no credentials and no network.
//!
//! A [`Sandbox`] starts the testkit's fake Microsoft Graph and fake Secure Schools on loopback ports, loaded with a
//! generated school trust (the syncing admin holds the two directory roles; Secure Schools has the organisations,
//! the admin identity whose email is the admin's sign-in name, and users that exist before any sync, to be
//! adopted), and writes the configuration a school would write. [`run`] then walks connect → groups → doctor →
//! plan → sync → changes at the source → sync again, printing each step. The end-to-end tests use the same
//! sandbox.

use crate::Outcome;
use crate::app::{App, AppOptions, Secrets};
use crate::commands::{self, SyncTarget};
use crate::config::Config;
use crate::output::{Output, Style};
use crate::shutdown::Shutdown;
use anyhow::{Context, anyhow, bail};
use roster_store::SecretKey;
use secrecy::SecretString;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use testkit::graph::{AppRegistration, FakeGraph, sample};
use testkit::secure_schools::FakeSecureSchools;
use testkit::server::RunningServer;
use testkit::synthetic::{DirectoryUser, MemberRef, SchoolInfo, Trust, TrustSpec};

/// The connection's name in the sandbox's configuration.
pub const CONNECTION: &str = "trust";

/// The client id of the sandbox's public app (device-code sign-in).
pub const PUBLIC_CLIENT_ID: &str = sample::PUBLIC_CLIENT_ID;

/// The client id of the sandbox's confidential app (app-only).
pub const CONFIDENTIAL_CLIENT_ID: &str = sample::CLIENT_ID;

/// The client secret of the sandbox's confidential app. It only opens the fake.
pub const CONFIDENTIAL_CLIENT_SECRET: &str = sample::CLIENT_SECRET;

/// How the sandbox's connection signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SandboxAuth {
    /// The admin signs in with a device code (the default).
    #[default]
    Delegated,
    /// The confidential app signs in with its secret.
    AppOnly,
}

/// Fakes of both services loaded with a generated trust, a store in a temporary directory, and the configuration
/// that ties them together.
pub struct Sandbox {
    /// The generated trust: the ground truth to check results against.
    pub trust: Trust,
    /// The fake Microsoft Graph (change the directory here).
    pub graph: FakeGraph,
    /// The fake Secure Schools (read the results here).
    pub secure_schools: FakeSecureSchools,
    graph_server: RunningServer,
    secure_schools_server: RunningServer,
    dir: PathBuf,
    key: SecretKey,
    auth: SandboxAuth,
    /// Extra `[[connection_groups]]` groups per organisation: (organisation, group id, name, role).
    extra_groups: Vec<(String, String, String, String)>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("trust", &self.trust.name)
            .field("graph", &self.graph_server.url())
            .field("secure_schools", &self.secure_schools_server.url())
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TOML string literal.
fn toml_str(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

impl Sandbox {
    /// Generates the trust and starts both fakes.
    pub async fn start(spec: &TrustSpec, auth: SandboxAuth) -> anyhow::Result<Sandbox> {
        let trust = spec.generate();
        let graph = FakeGraph::from_directory(&trust.directory);
        graph.register_app(AppRegistration::public(PUBLIC_CLIENT_ID));
        graph.register_app(
            AppRegistration::confidential(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET)
                .with_application_permissions(["User.Read.All", "GroupMember.Read.All"]),
        );
        let admin = &trust.admin.directory_user_id;
        graph.assign_directory_role(admin, sample::APPLICATION_ADMINISTRATOR, "Application Administrator")?;
        graph.assign_directory_role(
            admin,
            sample::CLOUD_APPLICATION_ADMINISTRATOR,
            "Cloud Application Administrator",
        )?;
        let secure_schools = FakeSecureSchools::new();
        trust.seed_secure_schools(&secure_schools).map_err(|e| anyhow!("seeding the fake Secure Schools: {e}"))?;
        let graph_server = graph.start().await.context("starting the fake Microsoft Graph")?;
        let secure_schools_server = secure_schools.start().await.context("starting the fake Secure Schools")?;
        let dir = std::env::temp_dir().join(format!("secure-schools-sync-demo-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Sandbox {
            trust,
            graph,
            secure_schools,
            graph_server,
            secure_schools_server,
            dir,
            key: SecretKey::generate(),
            auth,
            extra_groups: Vec::new(),
        })
    }

    /// Adds a group to an organisation's connection group in the configuration (e.g. a Microsoft 365 group).
    pub fn select_group(&mut self, organisation: &str, group_id: &str, name: &str, role: &str) {
        self.extra_groups.push((organisation.into(), group_id.into(), name.into(), role.into()));
    }

    /// The temporary directory (the store is `store.db` in it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The fake Graph's base URL.
    pub fn graph_url(&self) -> String {
        self.graph_server.url()
    }

    /// The fake Secure Schools' base URL.
    pub fn secure_schools_url(&self) -> String {
        self.secure_schools_server.url()
    }

    /// The configuration file a school would write for this trust: one connection, and for each school a
    /// connection group selecting its staff group (as staff) and its students group (as students).
    pub fn config_text(&self) -> String {
        let mut t = String::new();
        let store = self.dir.join("store.db");
        let _ = writeln!(t, "store = {}", toml_str(&store.to_string_lossy()));
        let _ = writeln!(t, "\n[secure_schools]\nbase_url = {}", toml_str(&format!("{}/", self.secure_schools_url())));
        let _ = writeln!(t, "token_env = \"SECURE_SCHOOLS_TOKEN\"");
        let _ = writeln!(t, "\n[[connections]]\nname = \"{CONNECTION}\"\nkind = \"microsoft\"");
        let _ = writeln!(t, "tenant = {}", toml_str(&self.trust.directory.tenant_id));
        match self.auth {
            SandboxAuth::Delegated => {
                let _ = writeln!(t, "client_id = \"{PUBLIC_CLIENT_ID}\"\nauth = \"delegated\"");
            }
            SandboxAuth::AppOnly => {
                let _ = writeln!(
                    t,
                    "client_id = \"{CONFIDENTIAL_CLIENT_ID}\"\nauth = \"app-only\"\nclient_secret_env = \"GRAPH_CLIENT_SECRET\""
                );
            }
        }
        let root = format!("{}/", self.graph_url());
        let _ = writeln!(t, "authority_url = {}\ngraph_url = {}", toml_str(&root), toml_str(&root));
        for school in &self.trust.schools {
            let _ = writeln!(t, "\n[[connection_groups]]\nname = {}", toml_str(&school.name));
            let _ = writeln!(
                t,
                "organisation = {}\nconnection = \"{CONNECTION}\"\ngroups = [",
                toml_str(&school.organisation_id)
            );
            let _ = writeln!(
                t,
                "  {{ id = {}, name = {}, role = \"staff\" }},",
                toml_str(&school.staff_group_id),
                toml_str(&format!("{} Staff", school.name))
            );
            let _ = writeln!(
                t,
                "  {{ id = {}, name = {}, role = \"student\" }},",
                toml_str(&school.student_group_id),
                toml_str(&format!("{} Students", school.name))
            );
            for (_, id, name, role) in self.extra_groups.iter().filter(|g| g.0 == school.organisation_id) {
                let _ =
                    writeln!(t, "  {{ id = {}, name = {}, role = {} }},", toml_str(id), toml_str(name), toml_str(role));
            }
            let _ = writeln!(t, "]");
        }
        let _ = writeln!(t, "\n[schedule]\nevery_hours = 4\njitter_minutes = 15");
        t
    }

    /// The configuration, parsed.
    pub fn config(&self) -> anyhow::Result<Config> {
        Ok(Config::parse(&self.config_text(), &self.dir.join("secure-schools-sync.toml"))?)
    }

    /// The secrets: the admin's Secure Schools token, the generated store key, and the app's client secret.
    pub fn secrets(&self) -> Secrets {
        let mut secrets = Secrets {
            secure_schools_token: Some(SecretString::from(self.trust.admin.token.clone())),
            store_key: Some(self.key.clone()),
            ..Secrets::default()
        };
        secrets.client_secrets.insert(CONNECTION.into(), SecretString::from(CONFIDENTIAL_CLIENT_SECRET.to_owned()));
        secrets
    }

    /// An app over this sandbox.
    pub async fn app(&self, options: AppOptions) -> anyhow::Result<App> {
        App::open(self.config()?, self.secrets(), options).await
    }

    /// Signs the admin in (device code, approved on the fake at once) and stores the sign-in.
    pub async fn connect(&self, app: &App, out: &mut Output) -> anyhow::Result<commands::SignedIn> {
        let graph = self.graph.clone();
        let admin = self.trust.admin.email.clone();
        let (_trigger, shutdown) = Shutdown::manual();
        commands::connect_microsoft(app, CONNECTION, out, &shutdown, &move |prompt| {
            graph.approve_device_code(&prompt.user_code, &admin).map_err(|e| anyhow!("approving the code: {e}"))?;
            Ok(Some(format!(
                "(demo: {admin} opens the page on another device, enters {} and approves)",
                prompt.user_code
            )))
        })
        .await
    }
}

fn heading(out: &mut Output, step: &str) -> std::io::Result<()> {
    writeln!(out)?;
    let line = format!("== {step} ==");
    writeln!(out, "{}", out.paint(Style::Bold, &line))
}

fn pick<'a>(trust: &'a Trust, school: &SchoolInfo, staff: bool, avoid: &[&str]) -> Option<&'a DirectoryUser> {
    let range = if staff { school.staff.clone() } else { school.students.clone() };
    let visiting: Vec<&str> =
        trust.schools.iter().flat_map(|s| s.visiting_staff_ids.iter().map(String::as_str)).collect();
    let staff_members = trust.transitive_user_ids(&school.staff_group_id);
    trust.directory.users[range].iter().skip(1).find(|u| {
        u.account_enabled
            && u.mail.is_some()
            && u.user_type == "Member"
            && !avoid.contains(&u.id.as_str())
            && !visiting.contains(&u.id.as_str())
            && (staff || !staff_members.contains(u.id.as_str()))
    })
}

/// What the demo changed at the source, to check afterwards.
struct Changes {
    organisation_new: String,
    new_email: String,
    removed: (String, String),
    blocked: (String, String),
}

fn make_changes(sandbox: &Sandbox, out: &mut Output) -> anyhow::Result<Changes> {
    let trust = &sandbox.trust;
    let first = trust.schools.first().ok_or_else(|| anyhow!("the trust has no school"))?;
    let second = trust.schools.get(1).unwrap_or(first);
    // A new pupil joins a year group.
    let year = first.year_group_ids.first().ok_or_else(|| anyhow!("the school has no year group"))?;
    let year_name = trust.group(year).map(|g| g.display_name.clone()).unwrap_or_default();
    let new_email = format!("25okaforn@{}", first.domain);
    let id = "00000000-0000-4000-8000-00000000d3e0".to_owned();
    sandbox.graph.add_user(DirectoryUser {
        id: id.clone(),
        user_principal_name: new_email.clone(),
        mail: Some(new_email.clone()),
        given_name: Some("Nneka".into()),
        surname: Some("Okafor".into()),
        display_name: "Nneka Okafor".into(),
        account_enabled: true,
        job_title: None,
        department: Some(year_name.clone()),
        employee_id: None,
        user_type: "Member".into(),
    });
    sandbox.graph.add_member(year, MemberRef::User(id))?;
    writeln!(out, "  + Nneka Okafor <{new_email}> joins \"{year_name}\" (nested in the students group)")?;
    // A pupil leaves: removed from their year group.
    let leaver = pick(trust, first, false, &[]).ok_or_else(|| anyhow!("no pupil to remove"))?;
    let leaver_group = first
        .year_group_ids
        .iter()
        .find(|g| sandbox.graph.group(g).is_some_and(|g| g.members.contains(&MemberRef::User(leaver.id.clone()))))
        .ok_or_else(|| anyhow!("the pupil's year group was not found"))?;
    sandbox.graph.remove_member(leaver_group, &MemberRef::User(leaver.id.clone()))?;
    let leaver_email = Trust::sync_email(leaver).to_owned();
    writeln!(
        out,
        "  - {} <{leaver_email}> leaves \"{}\"",
        leaver.display_name,
        trust.group(leaver_group).map(|g| g.display_name.as_str()).unwrap_or("?")
    )?;
    // A member of staff is blocked from sign-in.
    let blocked =
        pick(trust, second, true, &[leaver.id.as_str()]).ok_or_else(|| anyhow!("no staff member to block"))?;
    sandbox.graph.set_account_enabled(&blocked.id, false)?;
    let blocked_email = Trust::sync_email(blocked).to_owned();
    writeln!(out, "  x {} <{blocked_email}> is blocked from sign-in (accountEnabled = false)", blocked.display_name)?;
    Ok(Changes {
        organisation_new: first.organisation_id.clone(),
        new_email,
        removed: (first.organisation_id.clone(), format!("{CONNECTION}:{}", leaver.id)),
        blocked: (second.organisation_id.clone(), format!("{CONNECTION}:{}", blocked.id)),
    })
}

fn verify(sandbox: &Sandbox, changes: &Changes) -> anyhow::Result<()> {
    let ss = &sandbox.secure_schools;
    let new = ss
        .user_by_email(&changes.organisation_new, &changes.new_email)
        .ok_or_else(|| anyhow!("the new pupil was not created"))?;
    if !new.managed_by_sync || new.status.as_str() != "active" {
        bail!("the new pupil was created wrongly: {new:?}");
    }
    for (org, external_id) in [&changes.removed, &changes.blocked] {
        let user = ss.user_by_external_id(org, external_id).ok_or_else(|| anyhow!("{external_id} is missing"))?;
        if user.status.as_str() != "suspended" {
            bail!("{external_id} should be suspended, but is {}", user.status.as_str());
        }
    }
    Ok(())
}

/// `demo`: runs the whole job against in-process fakes and prints each step. Fails if the result is not what the
/// changes at the source call for.
pub async fn run(out: &mut Output) -> anyhow::Result<Outcome> {
    let spec = TrustSpec::small();
    writeln!(out, "{}", out.paint(Style::Bold, "secure-schools-sync demo: the whole job against in-process fakes"))?;
    writeln!(out, "No credentials and no network: fake Microsoft Graph and fake Secure Schools run in this process.")?;
    let sandbox = Sandbox::start(&spec, SandboxAuth::Delegated).await?;
    let trust = &sandbox.trust;
    let existing: usize = trust.secure_schools_existing_users.iter().map(|e| e.users.len()).sum();
    writeln!(
        out,
        "\nTrust: {} ({} schools, {} Microsoft accounts, {} groups)",
        trust.name,
        trust.schools.len(),
        trust.directory.users.len(),
        trust.directory.groups.len()
    )?;
    writeln!(out, "Secure Schools: {} organisations, {existing} users there before any sync", trust.schools.len())?;
    writeln!(
        out,
        "Fake Microsoft Graph at {}, fake Secure Schools at {}",
        sandbox.graph_url(),
        sandbox.secure_schools_url()
    )?;
    writeln!(out, "Syncing admin: {} (Application Administrator, Cloud Application Administrator)", trust.admin.email)?;
    writeln!(out, "\nThe configuration (secrets are not in it: SECURE_SCHOOLS_TOKEN and ROSTERBRIDGE_SECRET_KEY are)")?;
    for line in sandbox.config_text().lines() {
        writeln!(out, "  {}", out.paint(Style::Dim, line))?;
    }
    let app = sandbox.app(AppOptions::default()).await?;
    let (_trigger, shutdown) = Shutdown::manual();

    heading(out, &format!("1. connect microsoft --connection {CONNECTION}"))?;
    sandbox.connect(&app, out).await?;

    let school = trust.schools.first().ok_or_else(|| anyhow!("the trust has no school"))?;
    heading(out, &format!("2. groups --connection {CONNECTION} --search \"{}\"", school.name))?;
    commands::groups(&app, CONNECTION, Some(&school.name), false, out).await?;

    heading(out, "3. doctor")?;
    let doctor = crate::doctor::doctor(&app, false, out).await?;

    heading(out, "4. plan (a dry run: nothing is applied)")?;
    let views = commands::plan_views(&app, None).await?;
    commands::write_plans(&views, 0, out)?;
    let adoptions: usize = views
        .iter()
        .filter_map(|v| v.plan.as_ref())
        .flat_map(|p| &p.updates)
        .filter(|u| !matches!(u.reason, sync_engine::plan::UpdateReason::Changed))
        .count();
    writeln!(
        out,
        "{adoptions} of the updates adopt users who were already in Secure Schools (same email, any letter case): \
         they are linked, not duplicated. Skipped people have no usable email; disabled accounts are not created."
    )?;

    heading(out, "5. sync all")?;
    let first = commands::sync(&app, SyncTarget::All, None, false, out, &shutdown).await?;

    heading(out, "6. sync all again (nothing changed, so nothing is written)")?;
    let second = commands::sync(&app, SyncTarget::All, None, false, out, &shutdown).await?;

    heading(out, "7. changes at the source (in Microsoft Entra ID)")?;
    let changes = make_changes(&sandbox, out)?;

    heading(out, "8. plan")?;
    let views = commands::plan_views(&app, None).await?;
    commands::write_plans(&views, 5, out)?;

    heading(out, "9. sync all")?;
    let third = commands::sync(&app, SyncTarget::All, None, false, out, &shutdown).await?;

    heading(out, "10. runs")?;
    commands::runs(&app, None, 9, false, out).await?;

    let outcome = doctor.worst(first).worst(second).worst(third);
    verify(&sandbox, &changes)?;
    writeln!(out)?;
    if outcome == Outcome::Success {
        writeln!(
            out,
            "{} the new pupil was created, the leaver and the blocked account were suspended, nothing else was \
             touched. Run `secure-schools-sync --help` to start with your own tenant.",
            out.paint(Style::Good, "Done:")
        )?;
    }
    Ok(outcome)
}
