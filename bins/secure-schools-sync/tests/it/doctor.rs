//! `doctor`: passes on a correct setup, and reports each failing prerequisite distinctly with its remedy.

use crate::support::{env, env_with, fast_retry, spec};
use secure_schools_sync::Outcome;
use secure_schools_sync::app::{App, AppOptions};
use secure_schools_sync::demo::{CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, Sandbox, SandboxAuth};
use secure_schools_sync::doctor::{self, CLOUD_APPLICATION_ADMINISTRATOR, DoctorReport, Status};
use secure_schools_sync::output::Output;
use testkit::graph::AppRegistration;
use testkit::secure_schools::Identity;

fn status(report: &DoctorReport, id: &str) -> Status {
    let found = report.find(id);
    assert_eq!(found.len(), 1, "{id}: {report:#?}");
    found[0].status
}

fn failed_ids(report: &DoctorReport) -> Vec<&str> {
    report.failures().iter().map(|c| c.id.as_str()).collect()
}

fn detail<'a>(report: &'a DoctorReport, id: &str) -> &'a str {
    &report.find(id)[0].detail
}

#[tokio::test]
async fn passes_on_a_correct_setup() {
    let env = env().await;
    let report = doctor::run(&env.app).await;
    assert!(report.passed, "{report:#?}");
    for id in [
        "store.secret_key",
        "microsoft.sign_in",
        "microsoft.account",
        "microsoft.account_enabled",
        "microsoft.read_users",
        "microsoft.read_groups",
        "microsoft.roles",
        "secure_schools.token",
        "identity.same_account",
        "secure_schools.admin",
        "groups.selected",
    ] {
        assert_eq!(status(&report, id), Status::Pass, "{id}");
    }
    let (mut out, text) = Output::capture();
    assert_eq!(doctor::doctor(&env.app, false, &mut out).await.unwrap(), Outcome::Success);
    assert!(text.text().contains("PASS  [trust] Holds Application Administrator and Cloud Application Administrator"));
    assert!(text.text().contains("0 failed"), "{}", text.text());
    let (mut out, json) = Output::capture();
    doctor::doctor(&env.app, true, &mut out).await.unwrap();
    let value: serde_json::Value = serde_json::from_str(&json.text()).unwrap();
    assert_eq!(value["passed"], true);
}

#[tokio::test]
async fn not_an_admin_in_one_organisation() {
    let env = env().await;
    let trust = env.trust().clone();
    let org = trust.schools[1].organisation_id.clone();
    env.sandbox.secure_schools.add_identity(&trust.admin.token, trust.admin_identity().member_of(&org));
    let report = doctor::run(&env.app).await;
    assert_eq!(failed_ids(&report), vec!["secure_schools.admin"], "{report:#?}");
    let d = detail(&report, "secure_schools.admin");
    assert!(d.contains(&format!("{org} (a Member, not an Admin)")), "{d}");
    for other in trust.schools.iter().filter(|s| s.organisation_id != org) {
        assert!(!d.contains(&other.organisation_id), "{d}");
    }
    assert!(report.find("secure_schools.admin")[0].remedy.as_deref().unwrap().contains("Admin"));
    let (mut out, _) = Output::capture();
    assert_eq!(doctor::doctor(&env.app, false, &mut out).await.unwrap(), Outcome::Failed);
}

#[tokio::test]
async fn a_missing_directory_role() {
    let env = env().await;
    let admin = env.trust().admin.directory_user_id.clone();
    env.sandbox.graph.remove_directory_role(&admin, CLOUD_APPLICATION_ADMINISTRATOR).unwrap();
    let report = doctor::run(&env.app).await;
    assert_eq!(failed_ids(&report), vec!["microsoft.roles"], "{report:#?}");
    let d = detail(&report, "microsoft.roles");
    assert!(d.contains("Cloud Application Administrator (158c047a-c907-4556-b7ef-446551a6b5f7)"), "{d}");
    assert!(!d.contains("9b895d92"), "only the missing role is named: {d}");
    assert!(report.find("microsoft.roles")[0].remedy.as_deref().unwrap().contains("Roles & admins"));
}

#[tokio::test]
async fn an_account_blocked_from_sign_in() {
    let env = env().await;
    // With a token already in hand, Graph /me says accountEnabled = false.
    assert!(doctor::run(&env.app).await.passed);
    let admin = env.trust().admin.directory_user_id.clone();
    env.sandbox.graph.set_account_enabled(&admin, false).unwrap();
    let report = doctor::run(&env.app).await;
    assert_eq!(status(&report, "microsoft.account_enabled"), Status::Fail, "{report:#?}");
    assert!(detail(&report, "microsoft.account_enabled").contains("accountEnabled = false"));
    assert!(report.find("microsoft.account_enabled")[0].remedy.as_deref().unwrap().contains("Account enabled"));

    // A new process must refresh the sign-in, which Entra refuses for a blocked account (AADSTS50057).
    let app = env.sandbox.app(AppOptions { retry_policy: Some(fast_retry()), ..AppOptions::default() }).await.unwrap();
    let report = doctor::run(&app).await;
    assert_eq!(status(&report, "microsoft.account_enabled"), Status::Fail, "{report:#?}");
    assert_eq!(status(&report, "microsoft.sign_in"), Status::Fail);
    assert!(detail(&report, "microsoft.sign_in").contains("AADSTS50057"), "{}", detail(&report, "microsoft.sign_in"));
    assert_eq!(status(&report, "microsoft.roles"), Status::Skip);
}

#[tokio::test]
async fn microsoft_and_secure_schools_are_different_accounts() {
    let env = env().await;
    let trust = env.trust().clone();
    let other = trust
        .schools
        .iter()
        .fold(Identity::new("p_other", "someone.else@elsewhere.example", "Someone Else"), |i, s| {
            i.admin_of(&s.organisation_id)
        });
    env.sandbox.secure_schools.add_identity(&trust.admin.token, other);
    let report = doctor::run(&env.app).await;
    assert_eq!(failed_ids(&report), vec!["identity.same_account"], "{report:#?}");
    let d = detail(&report, "identity.same_account");
    assert!(d.contains("different accounts") && d.contains("someone.else@elsewhere.example"), "{d}");
    assert!(d.contains("no alias, no rerouted account"), "{d}");
}

#[tokio::test]
async fn an_alias_is_not_the_same_account_but_letter_case_does_not_matter() {
    let env = env().await;
    let trust = env.trust().clone();
    let admin = trust.admin.directory_user_id.clone();
    env.sandbox.graph.update_user(&admin, |u| u.mail = Some("itadmin@alias.example".into())).unwrap();
    let alias = trust
        .schools
        .iter()
        .fold(Identity::new("p_alias", "ITAdmin@Alias.example", "IT Admin"), |i, s| i.admin_of(&s.organisation_id));
    env.sandbox.secure_schools.add_identity(&trust.admin.token, alias);
    let report = doctor::run(&env.app).await;
    assert_eq!(failed_ids(&report), vec!["identity.same_account"], "{report:#?}");
    let d = detail(&report, "identity.same_account");
    assert!(d.contains("matches only the mail address (an alias)"), "{d}");

    let upper =
        trust.schools.iter().fold(Identity::new("p_upper", trust.admin.email.to_uppercase(), "IT Admin"), |i, s| {
            i.admin_of(&s.organisation_id)
        });
    env.sandbox.secure_schools.add_identity(&trust.admin.token, upper);
    let report = doctor::run(&env.app).await;
    assert!(report.passed, "{report:#?}");
}

#[tokio::test]
async fn nobody_signed_in_and_a_refused_secure_schools_token() {
    let sandbox = Sandbox::start(&spec(), SandboxAuth::Delegated).await.unwrap();
    let app = sandbox.app(AppOptions { retry_policy: Some(fast_retry()), ..AppOptions::default() }).await.unwrap();
    sandbox.secure_schools.revoke_token(&sandbox.trust.admin.token);
    let report = doctor::run(&app).await;
    assert_eq!(failed_ids(&report), vec!["microsoft.sign_in", "secure_schools.token"], "{report:#?}");
    assert!(
        report.find("microsoft.sign_in")[0].remedy.as_deref().unwrap().contains("connect microsoft --connection trust")
    );
    assert!(detail(&report, "secure_schools.token").contains("401"));
    assert_eq!(status(&report, "secure_schools.admin"), Status::Skip);
    assert_eq!(status(&report, "identity.same_account"), Status::Skip);
}

#[tokio::test]
async fn a_selected_group_that_does_not_exist_or_is_a_microsoft_365_group() {
    let trust = spec().generate();
    let org = trust.schools[0].organisation_id.clone();
    let m365 = trust.schools[0].m365_group_ids[0].clone();
    let env = env_with(&spec(), SandboxAuth::Delegated, AppOptions::default(), |s| {
        s.select_group(&org, "00000000-0000-4000-9000-0000000dead0", "Old Staff", "staff");
        s.select_group(&org, &m365, "Staff Team", "staff");
    })
    .await;
    let report = doctor::run(&env.app).await;
    assert_eq!(failed_ids(&report), vec!["groups.selected"], "{report:#?}");
    let d = detail(&report, "groups.selected");
    assert!(d.contains("`Old Staff` (00000000-0000-4000-9000-0000000dead0, selected for"), "{d}");
    assert!(d.contains("does not exist"), "{d}");
    assert!(
        d.contains("it is a Microsoft 365 group; only Security groups and Distribution groups can be synced"),
        "{d}"
    );
}

#[tokio::test]
async fn app_only_checks_the_application_permissions_instead_of_roles() {
    let env = env_with(&spec(), SandboxAuth::AppOnly, AppOptions::default(), |s| {
        s.graph.register_app(
            AppRegistration::confidential(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET)
                .with_application_permissions(["User.Read.All"]),
        );
    })
    .await;
    let report = doctor::run(&env.app).await;
    assert_eq!(status(&report, "microsoft.sign_in"), Status::Pass, "{report:#?}");
    assert_eq!(status(&report, "microsoft.read_users"), Status::Pass);
    assert_eq!(status(&report, "microsoft.read_groups"), Status::Fail);
    let check = &report.find("microsoft.read_groups")[0];
    assert!(check.detail.contains("403") && check.detail.contains("GroupMember.Read.All"), "{}", check.detail);
    assert!(check.remedy.as_deref().unwrap().contains("application Microsoft Graph permission"));
    // The fake's tokens are opaque, so the roles claim cannot be read: a warning, not a pass.
    assert_eq!(status(&report, "microsoft.app_permissions"), Status::Warn);
    assert!(report.find("microsoft.roles").is_empty(), "no directory roles in app-only mode");
    assert!(report.find("store.secret_key").is_empty());
    assert_eq!(status(&report, "identity.same_account"), Status::Skip);
    assert!(!report.passed);

    // Granted both permissions, the setup passes and syncs.
    env.sandbox.graph.register_app(
        AppRegistration::confidential(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET)
            .with_application_permissions(["User.Read.All", "GroupMember.Read.All"]),
    );
    let app = App::open(env.sandbox.config().unwrap(), env.sandbox.secrets(), AppOptions::default()).await.unwrap();
    let report = doctor::run(&app).await;
    assert!(report.passed, "{report:#?}");
    let results = {
        let (out, _) = Output::capture();
        let (_t, shutdown) = secure_schools_sync::shutdown::Shutdown::manual();
        secure_schools_sync::commands::sync_results(
            &app,
            secure_schools_sync::commands::SyncTarget::All,
            None,
            &out,
            &shutdown,
        )
        .await
        .unwrap()
    };
    assert!(results.iter().all(|r| r.status == "succeeded"), "{results:#?}");
}

#[tokio::test]
async fn a_wrong_client_secret_is_explained() {
    let env = env_with(&spec(), SandboxAuth::AppOnly, AppOptions::default(), |_| {}).await;
    let mut secrets = env.sandbox.secrets();
    secrets.client_secrets.insert("trust".into(), "not-the-secret".to_owned().into());
    let app = App::open(env.sandbox.config().unwrap(), secrets, AppOptions::default()).await.unwrap();
    let report = doctor::run(&app).await;
    let check = &report.find("microsoft.sign_in")[0];
    assert_eq!(check.status, Status::Fail);
    assert!(check.detail.contains("invalid_client"), "{}", check.detail);
    assert!(check.remedy.as_deref().unwrap().contains("GRAPH_CLIENT_SECRET"));
    assert!(!check.detail.contains("not-the-secret"));
}
