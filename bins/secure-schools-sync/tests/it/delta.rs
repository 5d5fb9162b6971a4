//! Incremental runs through Graph delta: after a full run, each kind of change at the source is read from the
//! delta links alone and produces exactly the expected writes; what delta cannot follow exactly (the nesting of
//! groups changed, an expired delta link) falls back to a full read; the safety policy holds incremental runs as
//! it holds full ones.

use crate::support::{Env, assert_expected_state, assert_no_duplicates, diff, synced_env};
use crate::sync::{new_user, plain_pupil, plain_staff};
use secure_schools_sync::commands::SyncResult;
use secure_schools_sync::demo::CONNECTION;
use sync_engine::{ReadMode, RunStatus};
use testkit::synthetic::{DirectoryGroup, DirectoryGroupKind, MemberRef};

/// How each organisation's sources were read.
fn modes(results: &[SyncResult]) -> Vec<ReadMode> {
    results.iter().map(|r| r.report.as_ref().unwrap().planned.read).collect()
}

fn assert_all(results: &[SyncResult], mode: ReadMode) {
    assert!(results.iter().all(|r| r.status == "succeeded"), "{results:#?}");
    assert!(modes(results).iter().all(|m| *m == mode), "expected {mode:?}: {:?}", modes(results));
}

/// Asserts that a full read now would change nothing: the incremental runs left every organisation exactly as a
/// full reconciliation would.
async fn assert_same_as_full(env: &Env) {
    let engine = env.app.engine().unwrap();
    let groups = env.app.config().connection_groups();
    for org in env.app.config().organisations() {
        let planned = engine.plan(&org, &groups).await.unwrap();
        assert!(planned.plan.is_empty(), "{org}: a full read would still change {:#?}", planned.plan);
    }
}

/// Runs `sync all`, which must read incrementally, and returns the writes it made, as `diff` lists them; checks
/// that a full read would change nothing more.
async fn incremental_writes(env: &Env) -> Vec<(String, String, String)> {
    let before = env.snapshot();
    let results = env.sync_all().await;
    assert_all(&results, ReadMode::Incremental);
    let writes = diff(&before, &env.snapshot());
    assert_same_as_full(env).await;
    assert_no_duplicates(env);
    writes
}

fn external(id: &str) -> Option<String> {
    Some(format!("{CONNECTION}:{id}"))
}

#[tokio::test]
async fn a_run_with_no_changes_reads_one_batch_of_delta_links_per_organisation_and_writes_nothing() {
    let env = synced_env().await;
    env.sandbox.graph.counters().reset();
    env.sandbox.secure_schools.counters().reset();
    let results = env.sync_all().await;
    assert_all(&results, ReadMode::Incremental);
    let applied: usize = results.iter().map(|r| r.report.as_ref().unwrap().applied.total()).sum();
    assert_eq!(applied, 0);
    // Secure Schools is not even read; Graph answers one $batch (every delta link of the organisation) each.
    assert_eq!(env.sandbox.secure_schools.counters().snapshot().requests, 0);
    let graph = env.sandbox.graph.counters().snapshot();
    let organisations = env.trust().schools.len() as u64;
    assert_eq!(graph.endpoint("POST /v1.0/$batch"), organisations, "{graph:?}");
    assert_eq!(graph.requests, organisations, "{graph:?}");
}

#[tokio::test]
async fn each_change_at_the_source_is_read_through_delta_and_makes_exactly_the_expected_writes() {
    let env = synced_env().await;
    let trust = env.trust().clone();
    let graph = &env.sandbox.graph;
    let (school, org) = (&trust.schools[0], trust.schools[0].organisation_id.clone());

    // A new member: a new pupil added to a year group (nested two levels under the students group).
    let id = "00000000-0000-4000-8000-00000000d001";
    graph.add_user(new_user(id, "new.pupil@example.sch.uk", "New", "Pupil"));
    graph.add_member(&school.year_group_ids[0], MemberRef::User(id.into())).unwrap();
    let writes = incremental_writes(&env).await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].0, org);
    assert!(writes[0].2.starts_with("created new.pupil@example.sch.uk"), "{writes:?}");
    let created = env.sandbox.secure_schools.user_by_external_id(&org, &external(id).unwrap()).unwrap();
    assert_eq!((created.first_name.as_str(), created.role.as_str()), ("New", "student"));

    // A removed member: a pupil taken out of their year group (in no other selected group) is suspended.
    let pupil = plain_pupil(&trust, 0).clone();
    let year = school
        .year_group_ids
        .iter()
        .find(|g| graph.group(g).unwrap().members.contains(&MemberRef::User(pupil.id.clone())))
        .unwrap()
        .clone();
    graph.remove_member(&year, &MemberRef::User(pupil.id.clone())).unwrap();
    let writes = incremental_writes(&env).await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(writes[0].2.contains("status active -> suspended"), "{writes:?}");

    // A disabled account: blocked from sign-in, suspended.
    let staff = plain_staff(&trust, 0).clone();
    graph.set_account_enabled(&staff.id, false).unwrap();
    let writes = incremental_writes(&env).await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    let u = env.sandbox.secure_schools.user_by_external_id(&org, &external(&staff.id).unwrap()).unwrap();
    assert_eq!(u.status.as_str(), "suspended");
    // …and enabled again: reactivated.
    graph.set_account_enabled(&staff.id, true).unwrap();
    let writes = incremental_writes(&env).await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(writes[0].2.contains("status suspended -> active"), "{writes:?}");

    // A renamed user: first and last name change.
    graph
        .update_user(&staff.id, |u| {
            u.given_name = Some("Renamed".into());
            u.surname = Some("Teacher".into());
            u.display_name = "Renamed Teacher".into();
        })
        .unwrap();
    let writes = incremental_writes(&env).await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(writes[0].2.contains("first_name") && writes[0].2.contains("-> Renamed"), "{writes:?}");
    assert!(writes[0].2.contains("-> Teacher"), "{writes:?}");

    // A changed email.
    graph.update_user(&staff.id, |u| u.mail = Some("renamed.teacher@example.sch.uk".into())).unwrap();
    let writes = incremental_writes(&env).await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(writes[0].2.contains("-> renamed.teacher@example.sch.uk"), "{writes:?}");

    // A change in a nested group of another school: a pupil of school 0 also joins a year group of school 1.
    let other = &trust.schools[1];
    let joiner = trust.directory.users[school.students.clone()]
        .iter()
        .find(|u| u.account_enabled && u.mail.is_some() && u.id != pupil.id)
        .unwrap()
        .clone();
    graph.add_member(&other.year_group_ids[1], MemberRef::User(joiner.id.clone())).unwrap();
    let writes = incremental_writes(&env).await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].0, other.organisation_id);
    assert!(writes[0].2.starts_with("created"), "{writes:?}");

    // A user deleted from the tenant: suspended everywhere they were.
    graph.delete_user(&joiner.id).unwrap();
    let writes = incremental_writes(&env).await;
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(writes.iter().all(|w| w.2.contains("status active -> suspended")), "{writes:?}");

    // And then nothing: a run with no changes writes nothing.
    assert!(incremental_writes(&env).await.is_empty());
}

#[tokio::test]
async fn a_change_to_the_nesting_of_groups_is_read_in_full_and_delta_resumes_after() {
    let env = synced_env().await;
    let school = env.trust().schools[1].clone();
    let graph = &env.sandbox.graph;
    graph.add_user(new_user("00000000-0000-4000-8000-00000000d101", "form.pupil@example.sch.uk", "Form", "Pupil"));
    graph.add_group(DirectoryGroup {
        id: "00000000-0000-4000-9000-00000000d102".into(),
        display_name: "Form 10Q".into(),
        description: None,
        mail: None,
        kind: DirectoryGroupKind::Security,
        membership_rule: None,
        members: vec![MemberRef::User("00000000-0000-4000-8000-00000000d101".into())],
    });
    graph
        .add_member(&school.year_group_ids[0], MemberRef::Group("00000000-0000-4000-9000-00000000d102".into()))
        .unwrap();
    let before = env.snapshot();
    let results = env.sync_all().await;
    let read: Vec<(String, ReadMode)> =
        results.iter().map(|r| (r.organisation.clone(), r.report.as_ref().unwrap().planned.read)).collect();
    for (org, mode) in &read {
        let want = if *org == school.organisation_id { ReadMode::Full } else { ReadMode::Incremental };
        assert_eq!(*mode, want, "{read:?}");
    }
    let writes = diff(&before, &env.snapshot());
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(writes[0].2.contains("form.pupil@example.sch.uk"), "{writes:?}");

    // The new form group is followed from now on: a pupil added to it is read incrementally.
    graph.add_user(new_user("00000000-0000-4000-8000-00000000d103", "second.form@example.sch.uk", "Second", "Form"));
    graph
        .add_member(
            "00000000-0000-4000-9000-00000000d102",
            MemberRef::User("00000000-0000-4000-8000-00000000d103".into()),
        )
        .unwrap();
    let writes = incremental_writes(&env).await;
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(writes[0].2.contains("second.form@example.sch.uk"), "{writes:?}");
}

#[tokio::test]
async fn an_expired_delta_link_falls_back_to_a_full_read() {
    let env = synced_env().await;
    let trust = env.trust().clone();
    let staff = plain_staff(&trust, 2).clone();
    env.sandbox.graph.expire_delta_tokens();
    env.sandbox.graph.update_user(&staff.id, |u| u.surname = Some("Expired".into())).unwrap();
    let before = env.snapshot();
    env.sandbox.graph.counters().reset();
    let results = env.sync_all().await;
    assert_all(&results, ReadMode::Full);
    let graph = env.sandbox.graph.counters().snapshot();
    // Every organisation's groups were read in full, after Graph refused the links (410 inside the $batch).
    let organisations = trust.schools.len() as u64;
    assert_eq!(graph.endpoint("GET /v1.0/groups/{id}/transitiveMembers/{cast}"), 2 * organisations, "{graph:?}");
    let writes = diff(&before, &env.snapshot());
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(writes[0].2.contains("-> Expired"), "{writes:?}");
    assert_expected_state(&env);
    // The full read armed new links: the next run is incremental again.
    assert!(incremental_writes(&env).await.is_empty());
}

#[tokio::test]
async fn sync_all_full_reads_in_full_and_writes_nothing_when_nothing_changed() {
    let env = synced_env().await;
    let results = env.sync_full().await;
    assert_all(&results, ReadMode::Full);
    let applied: usize = results.iter().map(|r| r.report.as_ref().unwrap().applied.total()).sum();
    assert_eq!(applied, 0);
    assert!(incremental_writes(&env).await.is_empty());
}

#[tokio::test]
async fn the_safety_policy_holds_an_incremental_run_as_it_holds_a_full_one() {
    let env = synced_env().await;
    let trust = env.trust().clone();
    let school = trust.schools[0].clone();
    // Most of a school's staff leave its staff group at once: too many suspensions for one run.
    let staff_group = env.sandbox.graph.group(&school.staff_group_id).unwrap();
    let leaving: Vec<MemberRef> =
        staff_group.members.iter().filter(|m| matches!(m, MemberRef::User(_))).take(5).cloned().collect();
    assert_eq!(leaving.len(), 5);
    for m in &leaving {
        env.sandbox.graph.remove_member(&school.staff_group_id, m).unwrap();
    }
    let before = env.snapshot();
    let results = env.sync_all().await;
    let held = results.iter().find(|r| r.organisation == school.organisation_id).unwrap();
    let report = held.report.as_ref().unwrap();
    assert_eq!(report.status, RunStatus::Held, "{held:?}");
    assert_eq!(report.planned.read, ReadMode::Incremental);
    assert!(report.planned.suspensions >= 1);
    assert!(diff(&before, &env.snapshot()).is_empty(), "a held run applies nothing");
    // The changes were not consumed: the next run sees them again and is held again.
    let again = env.sync_all().await;
    let report = again.iter().find(|r| r.organisation == school.organisation_id).unwrap().report.clone().unwrap();
    assert_eq!(
        (report.status, report.planned.suspensions),
        (RunStatus::Held, held.report.as_ref().unwrap().planned.suspensions)
    );
    assert!(diff(&before, &env.snapshot()).is_empty());
}
