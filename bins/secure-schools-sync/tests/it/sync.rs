//! Syncs: the initial sync, a run with nothing to do, each kind of change at the source, a Microsoft 365 group,
//! a sudden empty group, and the organisation lock.

use crate::support::{assert_expected_state, diff, env_with, expected, spec, synced_env};
use connectors::microsoft::MICROSOFT_365_REFUSAL;
use secure_schools_sync::Outcome;
use secure_schools_sync::app::{App, AppOptions, SyncOutcome};
use secure_schools_sync::commands::{self, SyncTarget};
use secure_schools_sync::demo::{CONNECTION, SandboxAuth};
use secure_schools_sync::output::Output;
use secure_schools_sync::shutdown::Shutdown;
use sync_engine::model::OrganisationId;
use sync_engine::{NoProgress, RunOptions, RunStatus, StateStore};
use testkit::synthetic::{DirectoryGroup, DirectoryGroupKind, DirectoryUser, MemberRef, Trust};

pub(crate) fn new_user(id: &str, email: &str, given: &str, surname: &str) -> DirectoryUser {
    DirectoryUser {
        id: id.into(),
        user_principal_name: email.into(),
        mail: Some(email.into()),
        given_name: Some(given.into()),
        surname: Some(surname.into()),
        display_name: format!("{given} {surname}"),
        account_enabled: true,
        job_title: None,
        department: None,
        employee_id: None,
        user_type: "Member".into(),
    }
}

/// An enabled pupil with a mailbox who is only a pupil, only in this school, with no pre-existing user.
pub(crate) fn plain_pupil(trust: &Trust, school: usize) -> &DirectoryUser {
    let s = &trust.schools[school];
    let staff = trust.transitive_user_ids(&s.staff_group_id);
    trust.directory.users[s.students.clone()]
        .iter()
        .find(|u| u.account_enabled && u.mail.is_some() && !staff.contains(u.id.as_str()))
        .unwrap()
}

pub(crate) fn plain_staff(trust: &Trust, school: usize) -> &DirectoryUser {
    let s = &trust.schools[school];
    let visiting: Vec<&String> = trust.schools.iter().flat_map(|s| &s.visiting_staff_ids).collect();
    trust.directory.users[s.staff.clone()]
        .iter()
        .skip(1)
        .find(|u| u.account_enabled && u.user_type == "Member" && u.mail.is_some() && !visiting.contains(&&u.id))
        .unwrap()
}

fn totals(results: &[commands::SyncResult]) -> (usize, usize, usize, usize) {
    results.iter().filter_map(|r| r.report.as_ref()).fold((0, 0, 0, 0), |t, r| {
        (t.0 + r.applied.created, t.1 + r.applied.updated, t.2 + r.applied.suspended, t.3 + r.applied.reactivated)
    })
}

#[tokio::test]
async fn the_initial_sync_creates_exactly_the_expected_users_and_adopts_existing_ones() {
    let env = crate::support::env().await;
    let trust = env.trust().clone();
    let before = env.snapshot();
    let results = env.sync_all().await;
    assert!(results.iter().all(|r| r.status == "succeeded"), "{results:#?}");
    assert_expected_state(&env);

    // Adopted, not duplicated: every pre-existing user whose directory person is synced kept its id.
    let mut adopted = 0;
    for existing in &trust.secure_schools_existing_users {
        let want = expected(&trust, &existing.organisation_id);
        for e in &existing.users {
            let Some((external_id, _)) = want.get(&e.email.to_lowercase()) else { continue };
            let old = before[&existing.organisation_id].values().find(|u| u.email == e.email).unwrap();
            let now = env.sandbox.secure_schools.user(&existing.organisation_id, &old.id).unwrap();
            assert_eq!(now.external_id.as_deref(), Some(external_id.as_str()));
            adopted += 1;
        }
    }
    assert!(adopted > 0, "the trust should have users to adopt");

    // The run reports agree with the state: creates are the expected people who were not there before.
    for r in &results {
        let report = r.report.as_ref().unwrap();
        let want = expected(&trust, &r.organisation);
        let pre: usize =
            before[&r.organisation].values().filter(|u| want.contains_key(&u.email.to_lowercase())).count();
        assert_eq!(report.applied.created, want.len() - pre, "{}", r.organisation);
        assert_eq!(report.applied.suspended, 0);
        assert!(report.errors.is_empty(), "{:?}", report.errors);
    }

    // Staff > student: a pupil who is also in the staff group is staff.
    let school = &trust.schools[0];
    let staff = trust.transitive_user_ids(&school.staff_group_id);
    let both: Vec<&str> =
        trust.transitive_user_ids(&school.student_group_id).into_iter().filter(|id| staff.contains(id)).collect();
    assert!(!both.is_empty(), "the trust should have pupils who are staff too");
    for id in both {
        let u = env.sandbox.secure_schools.user_by_external_id(&school.organisation_id, &format!("{CONNECTION}:{id}"));
        if let Some(u) = u {
            assert_eq!(u.role.as_str(), "staff");
        }
    }
    // Disabled accounts are not created.
    for school in &trust.schools {
        for u in trust.directory.users.iter().filter(|u| !u.account_enabled) {
            assert!(
                env.sandbox
                    .secure_schools
                    .user_by_external_id(&school.organisation_id, &format!("{CONNECTION}:{}", u.id))
                    .is_none()
            );
        }
    }
}

#[tokio::test]
async fn a_second_run_writes_nothing() {
    let env = synced_env().await;
    let before = env.snapshot();
    let batches = env.batches();
    let results = env.sync_all().await;
    assert_eq!(env.batches(), batches, "no batch may be sent");
    assert_eq!(totals(&results), (0, 0, 0, 0));
    for r in &results {
        let report = r.report.as_ref().unwrap();
        assert_eq!(report.status, RunStatus::Succeeded);
        assert_eq!(report.planned.creates + report.planned.updates + report.planned.suspensions, 0);
    }
    assert!(diff(&before, &env.snapshot()).is_empty());
}

#[tokio::test]
async fn a_new_member_is_created() {
    let env = synced_env().await;
    let school = env.trust().schools[1].clone();
    let before = env.snapshot();
    env.sandbox.graph.add_user(new_user(
        "00000000-0000-4000-8000-00000000aaa1",
        "new.pupil@example.sch.uk",
        "New",
        "Pupil",
    ));
    env.sandbox
        .graph
        .add_member(&school.year_group_ids[2], MemberRef::User("00000000-0000-4000-8000-00000000aaa1".into()))
        .unwrap();
    let results = env.sync_all().await;
    assert_eq!(totals(&results), (1, 0, 0, 0));
    let changes = diff(&before, &env.snapshot());
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].0, school.organisation_id);
    let u = env.sandbox.secure_schools.user_by_email(&school.organisation_id, "new.pupil@example.sch.uk").unwrap();
    assert_eq!(u.role.as_str(), "student");
    assert_eq!(u.external_id.as_deref(), Some("trust:00000000-0000-4000-8000-00000000aaa1"));
}

#[tokio::test]
async fn a_removed_member_is_suspended() {
    let env = synced_env().await;
    let trust = env.trust().clone();
    let pupil = plain_pupil(&trust, 0).clone();
    let school = &trust.schools[0];
    let year = school
        .year_group_ids
        .iter()
        .find(|g| env.sandbox.graph.group(g).unwrap().members.contains(&MemberRef::User(pupil.id.clone())))
        .unwrap();
    let before = env.snapshot();
    env.sandbox.graph.remove_member(year, &MemberRef::User(pupil.id.clone())).unwrap();
    let results = env.sync_all().await;
    assert_eq!(totals(&results), (0, 0, 1, 0));
    let changes = diff(&before, &env.snapshot());
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(changes[0].2.contains("status active -> suspended"), "{changes:?}");
    let u = env
        .sandbox
        .secure_schools
        .user_by_external_id(&school.organisation_id, &format!("trust:{}", pupil.id))
        .unwrap();
    assert_eq!(u.status.as_str(), "suspended");
}

#[tokio::test]
async fn a_disabled_account_is_suspended_and_reactivated_when_enabled_again() {
    let env = synced_env().await;
    let trust = env.trust().clone();
    let staff = plain_staff(&trust, 2).clone();
    let org = trust.schools[2].organisation_id.clone();
    let before = env.snapshot();
    env.sandbox.graph.set_account_enabled(&staff.id, false).unwrap();
    let results = env.sync_all().await;
    assert_eq!(totals(&results), (0, 0, 1, 0));
    let changes = diff(&before, &env.snapshot());
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].0, org);
    let report = results.iter().find(|r| r.organisation == org).unwrap().report.clone().unwrap();
    assert_eq!(report.applied.suspended, 1);

    env.sandbox.graph.set_account_enabled(&staff.id, true).unwrap();
    let results = env.sync_all().await;
    assert_eq!(totals(&results), (0, 0, 0, 1));
    assert!(diff(&before, &env.snapshot()).is_empty());
}

#[tokio::test]
async fn a_renamed_user_is_updated() {
    let env = synced_env().await;
    let trust = env.trust().clone();
    let pupil = plain_pupil(&trust, 1).clone();
    let before = env.snapshot();
    env.sandbox
        .graph
        .update_user(&pupil.id, |u| {
            u.surname = Some("Okonkwo-Smith".into());
            u.display_name = format!("{} Okonkwo-Smith", u.given_name.clone().unwrap_or_default());
        })
        .unwrap();
    let results = env.sync_all().await;
    assert_eq!(totals(&results), (0, 1, 0, 0));
    let changes = diff(&before, &env.snapshot());
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(changes[0].2.starts_with("last_name") && changes[0].2.ends_with("-> Okonkwo-Smith"), "{changes:?}");
}

#[tokio::test]
async fn a_changed_email_is_updated_not_recreated() {
    let env = synced_env().await;
    let trust = env.trust().clone();
    let staff = plain_staff(&trust, 0).clone();
    let org = trust.schools[0].organisation_id.clone();
    let before = env.snapshot();
    env.sandbox
        .graph
        .update_user(&staff.id, |u| {
            u.mail = Some("renamed.teacher@example.sch.uk".into());
            u.user_principal_name = "renamed.teacher@example.sch.uk".into();
        })
        .unwrap();
    let results = env.sync_all().await;
    assert_eq!(totals(&results), (0, 1, 0, 0));
    let changes = diff(&before, &env.snapshot());
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(changes[0].2.contains("-> renamed.teacher@example.sch.uk"), "{changes:?}");
    let u = env.sandbox.secure_schools.user_by_external_id(&org, &format!("trust:{}", staff.id)).unwrap();
    assert_eq!(u.email, "renamed.teacher@example.sch.uk");
}

#[tokio::test]
async fn changes_in_nested_groups_are_followed() {
    let env = synced_env().await;
    let trust = env.trust().clone();
    let school = trust.schools[2].clone();
    let before = env.snapshot();

    // A new form group, nested two levels down (students → key stage → year → form), with a new pupil.
    env.sandbox.graph.add_user(new_user(
        "00000000-0000-4000-8000-00000000bbb1",
        "form.pupil@example.sch.uk",
        "Form",
        "Pupil",
    ));
    env.sandbox.graph.add_group(DirectoryGroup {
        id: "00000000-0000-4000-9000-00000000bbb2".into(),
        display_name: "Form 9Z".into(),
        description: None,
        mail: None,
        kind: DirectoryGroupKind::Security,
        membership_rule: None,
        members: vec![MemberRef::User("00000000-0000-4000-8000-00000000bbb1".into())],
    });
    env.sandbox
        .graph
        .add_member(&school.year_group_ids[0], MemberRef::Group("00000000-0000-4000-9000-00000000bbb2".into()))
        .unwrap();
    // A pupil moves from one year group to another: still a pupil of the school, so nothing to write.
    let pupil = plain_pupil(&trust, 2).clone();
    let from = school
        .year_group_ids
        .iter()
        .find(|g| env.sandbox.graph.group(g).unwrap().members.contains(&MemberRef::User(pupil.id.clone())))
        .unwrap()
        .clone();
    let to = school.year_group_ids.iter().find(|g| **g != from).unwrap().clone();
    env.sandbox.graph.remove_member(&from, &MemberRef::User(pupil.id.clone())).unwrap();
    env.sandbox.graph.add_member(&to, MemberRef::User(pupil.id.clone())).unwrap();

    let results = env.sync_all().await;
    assert_eq!(totals(&results), (1, 0, 0, 0));
    let changes = diff(&before, &env.snapshot());
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(changes[0].2.contains("form.pupil@example.sch.uk"));

    // The form group is taken out of the year group: its pupil is suspended.
    env.sandbox
        .graph
        .remove_member(&school.year_group_ids[0], &MemberRef::Group("00000000-0000-4000-9000-00000000bbb2".into()))
        .unwrap();
    let results = env.sync_all().await;
    assert_eq!(totals(&results), (0, 0, 1, 0));
}

#[tokio::test]
async fn a_microsoft_365_group_is_refused_and_the_other_organisations_still_sync() {
    let trust = spec().generate();
    let first = trust.schools[0].clone();
    let m365 = first.m365_group_ids[0].clone();
    let env = env_with(&spec(), SandboxAuth::Delegated, AppOptions::default(), |s| {
        s.select_group(&first.organisation_id, &m365, "Staff Team", "staff");
    })
    .await;
    let before = env.snapshot();
    let results = env.sync_all().await;
    let failed = results.iter().find(|r| r.organisation == first.organisation_id).unwrap();
    assert_eq!(failed.status, "failed");
    let message = failed.message.clone().unwrap();
    assert!(message.contains(MICROSOFT_365_REFUSAL), "{message}");
    assert!(message.contains("Staff Team"), "{message}");
    for r in results.iter().filter(|r| r.organisation != first.organisation_id) {
        assert_eq!(r.status, "succeeded", "{r:?}");
        assert!(r.report.as_ref().unwrap().applied.created > 0);
    }
    // Nothing changed in the refused organisation.
    let after = env.snapshot();
    assert_eq!(before[&first.organisation_id], after[&first.organisation_id]);
    assert_eq!(commands::sync_outcome(&results), Outcome::Failed);

    // The summary explains it, and `groups` shows it as not syncable.
    let (mut out, text) = Output::capture();
    commands::write_sync_summary(&results, &mut out).unwrap();
    assert!(text.text().contains("only Security groups and Distribution groups can be synced"), "{}", text.text());
    let (mut out, text) = Output::capture();
    let outcome = commands::groups(&env.app, CONNECTION, None, false, &mut out).await.unwrap();
    assert_eq!(outcome, Outcome::Failed, "a selected group that cannot be synced is a failure");
    assert!(text.text().contains("is selected in the configuration but cannot be synced"), "{}", text.text());
    let (mut out, text) = Output::capture();
    commands::groups(&env.app, CONNECTION, None, true, &mut out).await.unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&text.text()).unwrap();
    let row = rows.iter().find(|r| r["id"] == m365.as_str()).unwrap();
    assert_eq!(row["kind"], "Microsoft 365");
    assert_eq!(row["syncable"], false);
    assert_eq!(row["selected_by"][0]["organisation"], first.organisation_id.as_str());
}

#[tokio::test]
async fn a_group_that_suddenly_has_no_members_holds_the_run_and_suspends_nobody() {
    let env = synced_env().await;
    let trust = env.trust().clone();
    let school = trust.schools[0].clone();
    let before = env.snapshot();
    let batches = env.batches();
    env.sandbox.graph.update_group(&school.student_group_id, |g| g.members.clear()).unwrap();

    let (mut out, text) = Output::capture();
    let (_t, shutdown) = Shutdown::manual();
    let outcome = commands::sync(
        &env.app,
        SyncTarget::Organisation(school.organisation_id.clone()),
        None,
        false,
        &mut out,
        &shutdown,
    )
    .await
    .unwrap();
    assert_eq!(outcome, Outcome::Held);
    assert_eq!(outcome.code(), 3);
    assert_eq!(env.batches(), batches, "a held run applies nothing");
    assert!(diff(&before, &env.snapshot()).is_empty());
    let text = text.text();
    assert!(text.contains("returned no members although they had members at the last run"), "{text}");
    assert!(text.contains("runs approve"), "{text}");

    // The hold is recorded, and approving it lets the next run apply the suspensions.
    let held = env.app.store().held_runs().await.unwrap();
    assert_eq!(held.len(), 1);
    let (mut out, _) = Output::capture();
    commands::approve(&env.app, &held[0].id, &mut out).await.unwrap();
    let report = env.sync_org(&school.organisation_id).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(report.applied.suspended, held[0].plan.suspensions.len());
    assert!(report.applied.suspended > 0);
    // Approving twice is refused.
    let (mut out, _) = Output::capture();
    assert!(commands::approve(&env.app, &held[0].id, &mut out).await.is_err());
}

#[tokio::test]
async fn allow_suspensions_approves_a_large_removal_for_one_run() {
    let env = synced_env().await;
    let trust = env.trust().clone();
    let school = trust.schools[1].clone();
    // Two year groups leave: more suspensions than the policy allows without approval.
    for year in &school.year_group_ids[..2] {
        env.sandbox.graph.update_group(year, |g| g.members.clear()).unwrap();
    }
    let before = env.snapshot();
    let report = env.sync_org(&school.organisation_id).await;
    assert_eq!(report.status, RunStatus::Held, "{report:?}");
    assert!(report.hold_reasons.iter().any(|r| r.explain().contains("--allow-suspensions")));
    assert!(diff(&before, &env.snapshot()).is_empty());
    let planned = report.planned.suspensions;
    assert!(planned > 4, "{planned}");
    let (mut out, _) = Output::capture();
    let (_t, shutdown) = Shutdown::manual();
    let outcome = commands::sync(
        &env.app,
        SyncTarget::Organisation(school.organisation_id.clone()),
        Some(planned),
        false,
        &mut out,
        &shutdown,
    )
    .await
    .unwrap();
    assert_eq!(outcome, Outcome::Success);
    let changes = diff(&before, &env.snapshot());
    assert_eq!(changes.len(), planned);
    assert!(changes.iter().all(|c| c.2 == "status active -> suspended"), "{changes:?}");
}

#[tokio::test]
async fn one_organisation_is_never_synced_twice_at_once_and_a_dead_process_lock_is_taken_over() {
    let env = synced_env().await;
    let org = OrganisationId::new(env.trust().schools[0].organisation_id.clone());
    let until = chrono::Utc::now() + chrono::Duration::hours(1);

    // Another live worker holds the lock: busy.
    assert!(StateStore::try_lock(env.app.store(), &org, "worker-on-another-machine", until).await.unwrap());
    let engine = env.app.engine().unwrap();
    let (_t, shutdown) = Shutdown::manual();
    let outcome = env.app.sync_org(&engine, &org, &RunOptions::default(), &NoProgress, &shutdown).await.unwrap();
    assert!(matches!(outcome, SyncOutcome::Busy { .. }), "{outcome:?}");
    let results = env.sync_all().await;
    let busy = results.iter().find(|r| r.organisation == org.as_str()).unwrap();
    assert_eq!(busy.status, "busy");
    assert!(busy.message.as_deref().unwrap().contains("worker-on-another-machine"));
    StateStore::unlock(env.app.store(), &org, "worker-on-another-machine").await.unwrap();

    // A process of this program on this machine died holding it (pid that does not exist): taken over.
    let dead = format!("secure-schools-sync@{}/4194304999/deadbeef", secure_schools_sync::app::hostname());
    assert!(StateStore::try_lock(env.app.store(), &org, &dead, until).await.unwrap());
    let outcome = env.app.sync_org(&engine, &org, &RunOptions::default(), &NoProgress, &shutdown).await.unwrap();
    assert!(matches!(outcome, SyncOutcome::Ran(_)), "{outcome:?}");
}

#[tokio::test]
async fn the_plan_applies_nothing_and_prints_table_or_json() {
    let env = crate::support::env().await;
    let before = env.snapshot();
    let (mut out, text) = Output::capture();
    let outcome = commands::plan(&env.app, None, false, &mut out).await.unwrap();
    assert_eq!(outcome, Outcome::Success);
    let text = text.text();
    assert!(text.contains("organisation") && text.contains("create") && text.contains("proceed"), "{text}");
    assert!(text.contains("  create      staff"), "{text}");
    let (mut out, json) = Output::capture();
    let org = env.trust().schools[0].organisation_id.clone();
    commands::plan(&env.app, Some(&org), true, &mut out).await.unwrap();
    let views: Vec<serde_json::Value> = serde_json::from_str(&json.text()).unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0]["organisation"], org.as_str());
    assert_eq!(views[0]["verdict"], "proceed");
    assert_eq!(
        views[0]["plan"]["creates"].as_array().unwrap().len() + views[0]["plan"]["updates"].as_array().unwrap().len(),
        expected(env.trust(), &org).len()
    );
    assert!(diff(&before, &env.snapshot()).is_empty());
    assert_eq!(env.batches(), 0);
    // An organisation without a connection group is refused.
    let (mut out, _) = Output::capture();
    assert!(commands::plan(&env.app, Some("org_nowhere"), false, &mut out).await.is_err());
}

#[tokio::test]
async fn the_run_history_lists_runs_and_shows_one_in_full() {
    let env = synced_env().await;
    let (mut out, text) = Output::capture();
    commands::runs(&env.app, None, 10, false, &mut out).await.unwrap();
    assert_eq!(text.text().matches("succeeded").count(), 3, "{}", text.text());
    let (mut out, json) = Output::capture();
    let org = env.trust().schools[0].organisation_id.clone();
    commands::runs(&env.app, Some(&org), 10, true, &mut out).await.unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json.text()).unwrap();
    assert_eq!(rows.len(), 1);
    let id = rows[0]["id"].as_str().unwrap().to_owned();
    let (mut out, text) = Output::capture();
    commands::show_run(&env.app, &id, false, &mut out).await.unwrap();
    assert!(text.text().contains(&org), "{}", text.text());
    assert!(text.text().contains("errors        none"), "{}", text.text());
    let (mut out, _) = Output::capture();
    assert!(commands::show_run(&env.app, "no-such-run", false, &mut out).await.is_err());
}

#[tokio::test]
async fn a_second_app_on_the_same_store_uses_the_stored_sign_in() {
    let env = synced_env().await;
    // A new process: the refresh token is read from the store (encrypted) and rotated.
    let before = env.app.store().refresh_token(&CONNECTION.into()).await.unwrap().unwrap();
    let app = App::open(env.sandbox.config().unwrap(), env.sandbox.secrets(), AppOptions::default()).await.unwrap();
    let (mut out, _) = Output::capture();
    let (_t, shutdown) = Shutdown::manual();
    let outcome = commands::sync(&app, SyncTarget::All, None, false, &mut out, &shutdown).await.unwrap();
    assert_eq!(outcome, Outcome::Success);
    let after = env.app.store().refresh_token(&CONNECTION.into()).await.unwrap().unwrap();
    use secrecy::ExposeSecret;
    assert_ne!(before.expose_secret(), after.expose_secret(), "the rotated refresh token is stored");
}

#[tokio::test]
async fn several_organisations_sync_at_once_in_configuration_order_each_under_its_lock() {
    let spec = testkit::synthetic::TrustSpec { schools: 5, ..spec() };
    let env = env_with(&spec, SandboxAuth::Delegated, AppOptions::default(), |_| {}).await;
    // Every request waits a little, so that runs that overlap in time surely do.
    let latency = testkit::faults::Fault::Latency(std::time::Duration::from_millis(5));
    env.sandbox.secure_schools.faults().on_any().inject(latency);
    let mut config = env.sandbox.config().unwrap();
    assert_eq!(config.sync.parallel_organisations, 4, "the default");
    config.sync.parallel_organisations = 3;
    let options = AppOptions { retry_policy: Some(crate::support::fast_retry()), ..AppOptions::default() };
    let app = App::open(config, env.sandbox.secrets(), options).await.unwrap();

    // Another worker holds one organisation's lock: that one is busy, the others run, several at once.
    let locked = OrganisationId::new(env.trust().schools[1].organisation_id.clone());
    let until = chrono::Utc::now() + chrono::Duration::hours(1);
    assert!(StateStore::try_lock(app.store(), &locked, "worker-on-another-machine", until).await.unwrap());
    let (out, _) = Output::capture();
    let (_t, shutdown) = Shutdown::manual();
    let results = commands::sync_results(&app, SyncTarget::All, None, &out, &shutdown).await.unwrap();
    let order: Vec<String> = results.iter().map(|r| r.organisation.clone()).collect();
    let configured: Vec<String> = app.config().organisations().iter().map(|o| o.to_string()).collect();
    assert_eq!(order, configured, "results come in the configuration's order");
    for r in &results {
        let want = if r.organisation == locked.as_str() { "busy" } else { "succeeded" };
        assert_eq!(r.status, want, "{r:#?}");
    }
    let spans: Vec<_> =
        results.iter().filter_map(|r| r.report.as_ref()).map(|r| (r.started_at, r.finished_at)).collect();
    let overlapping = spans.iter().enumerate().any(|(i, a)| spans[i + 1..].iter().any(|b| a.0 < b.1 && b.0 < a.1));
    assert!(overlapping, "no two runs overlapped: {spans:?}");

    // Once the other worker is done, the next `sync all` completes the job.
    StateStore::unlock(app.store(), &locked, "worker-on-another-machine").await.unwrap();
    let (out, _) = Output::capture();
    let results = commands::sync_results(&app, SyncTarget::All, None, &out, &shutdown).await.unwrap();
    assert!(results.iter().all(|r| r.status == "succeeded"), "{results:#?}");
    assert_expected_state(&env);
}
