//! The engine with in-memory connectors: holds, approvals, the empty-group guard, per-record failures, kills at
//! every point, the single-flight lock, failures, dry runs.

use std::collections::BTreeSet;
use std::sync::Arc;
use sync_engine::model::{ConnectionGroup, OrganisationId, RecordStatus, Role, ScopeId, ScopeSelection};
use sync_engine::testing::{MemorySink, MemorySource, person};
use sync_engine::{
    Allowance, Engine, ExecutorOptions, HoldReason, MemoryState, NoProgress, RunError, RunOptions, RunStatus,
    StateStore,
};

const ORG: &str = "org-1";

fn group() -> ConnectionGroup {
    ConnectionGroup {
        id: "cg".into(),
        organisation: OrganisationId::new(ORG),
        connection: "contoso".into(),
        scopes: vec![
            ScopeSelection { scope: ScopeId::new("staff"), name: "Staff".into(), role: Role::Staff },
            ScopeSelection { scope: ScopeId::new("students"), name: "Students".into(), role: Role::Student },
        ],
    }
}

struct World {
    source: Arc<MemorySource>,
    sink: Arc<MemorySink>,
    state: Arc<MemoryState>,
    engine: Engine,
}

fn world(students: usize, batch: usize) -> World {
    let source = Arc::new(MemorySource::new("contoso"));
    source.add("staff", person("t1", "Tess", "Teacher", "tess@school.example"));
    for i in 0..students {
        source
            .add("students", person(&format!("s{i}"), "Sam", &format!("Student{i}"), &format!("s{i}@school.example")));
    }
    let sink = Arc::new(MemorySink::new(batch));
    let state = Arc::new(MemoryState::default());
    let engine = Engine::new(sink.clone(), state.clone())
        .with_source(source.clone())
        .with_executor(ExecutorOptions { concurrency: 1 });
    World { source, sink, state, engine }
}

async fn run(w: &World) -> sync_engine::RunReport {
    w.engine.run(&OrganisationId::new(ORG), &[group()], &RunOptions::default(), &NoProgress).await.unwrap()
}

fn active(w: &World) -> usize {
    w.sink.records(ORG).iter().filter(|r| r.status == RecordStatus::Active).count()
}

#[tokio::test]
async fn a_first_run_creates_everyone_and_a_second_changes_nothing() {
    let w = world(9, 4);
    let report = run(&w).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(report.applied.created, 10);
    let records = w.sink.records(ORG);
    let tess = records.iter().find(|r| r.email == "tess@school.example").unwrap();
    assert_eq!(tess.role, Role::Staff);
    assert_eq!(tess.external_id.as_deref(), Some("contoso:t1"));
    let again = run(&w).await;
    assert_eq!(again.applied.total(), 0);
    assert_eq!(again.planned.unchanged, 10);
    assert_eq!(w.state.runs().len(), 2);
}

#[tokio::test]
async fn too_many_suspensions_are_held_until_approved() {
    let w = world(19, 100);
    run(&w).await; // 20 managed: the limit is ceil(10%) = 2.
    for i in 0..5 {
        w.source.remove("students", &format!("s{i}"));
    }
    let held = run(&w).await;
    assert_eq!(held.status, RunStatus::Held);
    assert_eq!(held.applied.total(), 0);
    assert_eq!(held.hold_reasons, vec![HoldReason::TooManySuspensions { planned: 5, limit: 2, managed: 20 }]);
    assert!(held.hold_reasons[0].explain().contains("--allow-suspensions 5"));
    assert_eq!(active(&w), 20, "a held run applies nothing");

    // Still held on the next run, until someone approves it.
    assert_eq!(run(&w).await.status, RunStatus::Held);
    let id = w.state.held_runs()[0].id.clone();
    w.state.approve_held(&id).await.unwrap();
    let approved = run(&w).await;
    assert_eq!(approved.status, RunStatus::Succeeded);
    assert_eq!(approved.applied.suspended, 5);
    assert_eq!(active(&w), 15);
}

#[tokio::test]
async fn an_allowance_on_the_run_lets_it_through() {
    let w = world(19, 100);
    run(&w).await;
    for i in 0..4 {
        w.source.remove("students", &format!("s{i}"));
    }
    let options = RunOptions {
        allowance: Some(Allowance { suspensions: Some(4), empty_scopes: false }),
        ..RunOptions::default()
    };
    let report = w.engine.run(&OrganisationId::new(ORG), &[group()], &options, &NoProgress).await.unwrap();
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(report.applied.suspended, 4);
}

#[tokio::test]
async fn a_group_that_suddenly_has_no_members_is_a_source_fault() {
    let w = world(3, 100);
    run(&w).await;
    w.source.clear_scope("staff");
    let report = run(&w).await;
    assert_eq!(report.status, RunStatus::Held);
    match &report.hold_reasons[0] {
        HoldReason::EmptyScopes { scopes } => assert_eq!(scopes.get("contoso/staff"), Some(&1)),
        other => panic!("{other:?}"),
    }
    assert_eq!(active(&w), 4);
}

#[tokio::test]
async fn one_bad_record_does_not_stop_the_others() {
    let w = world(5, 2);
    w.sink.reject_email("s2@school.example");
    let report = run(&w).await;
    assert_eq!(report.status, RunStatus::PartiallyFailed);
    assert_eq!(report.applied.created, 5);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].external_id, "contoso:s2");
    assert_eq!(report.errors[0].code, "validation_failed");
    assert_eq!(w.state.runs()[0].errors.len(), 1, "per-record errors are recorded with the run");
}

#[tokio::test]
async fn a_run_killed_after_any_batch_converges_on_the_next_run_without_duplicates() {
    let students = 9; // 10 people, batches of 2: 5 create batches.
    for k in 0..=5 {
        let w = world(students, 2);
        w.sink.die_after(Some(k));
        let first = run(&w).await;
        assert_eq!(first.applied.created, 2 * k, "k = {k}");
        w.sink.die_after(None);
        let second = run(&w).await;
        assert!(second.errors.is_empty(), "k = {k}: {:?}", second.errors);
        let records = w.sink.records(ORG);
        assert_eq!(records.len(), 10, "k = {k}: {records:#?}");
        let externals: BTreeSet<_> = records.iter().map(|r| r.external_id.clone()).collect();
        assert_eq!(externals.len(), 10, "no duplicate identities");
        assert!(records.iter().all(|r| r.managed && r.status == RecordStatus::Active));
        assert!(run(&w).await.planned.unchanged == 10);
    }
}

#[tokio::test]
async fn a_run_killed_while_suspending_converges_too() {
    let w = world(19, 1); // 20 managed: two suspensions are within the limit.
    run(&w).await;
    w.source.remove("students", "s0");
    w.source.remove("students", "s1");
    w.sink.die_after(Some(1));
    let cut = run(&w).await;
    assert_eq!(cut.applied.suspended, 1);
    w.sink.die_after(None);
    let rest = run(&w).await;
    assert_eq!(rest.applied.suspended, 1);
    assert_eq!(active(&w), 18);
}

#[tokio::test]
async fn one_organisation_is_never_synced_by_two_workers_at_once() {
    let w = world(1, 10);
    let org = OrganisationId::new(ORG);
    assert!(w.state.try_lock(&org, "other-worker", chrono::Utc::now() + chrono::Duration::hours(1)).await.unwrap());
    let err = w.engine.run(&org, &[group()], &RunOptions::default(), &NoProgress).await.unwrap_err();
    assert!(matches!(err, RunError::Busy(_)));
    assert!(w.sink.records(ORG).is_empty());
    w.state.unlock(&org, "other-worker").await.unwrap();
    assert_eq!(run(&w).await.status, RunStatus::Succeeded);
}

#[tokio::test]
async fn a_source_failure_is_a_recorded_failed_run_that_changes_nothing() {
    let w = world(3, 10);
    run(&w).await;
    w.source.fail_with(Some("Graph is down"));
    let report = run(&w).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert!(report.failure.as_deref().unwrap().contains("Graph is down"));
    assert_eq!(active(&w), 4, "a failed read never suspends anyone");
}

#[tokio::test]
async fn a_dry_run_applies_and_records_nothing() {
    let w = world(3, 10);
    let options = RunOptions { dry_run: true, ..RunOptions::default() };
    let report = w.engine.run(&OrganisationId::new(ORG), &[group()], &options, &NoProgress).await.unwrap();
    assert_eq!(report.status, RunStatus::DryRun);
    assert_eq!(report.planned.creates, 4);
    assert!(w.sink.records(ORG).is_empty());
    assert!(w.state.runs().is_empty());
    let planned = w.engine.plan(&OrganisationId::new(ORG), &[group()]).await.unwrap();
    assert_eq!(planned.plan.creates.len(), 4);
    let json = serde_json::to_value(&planned.plan).unwrap();
    assert_eq!(json["creates"][0]["external_id"], "contoso:s0");
}

#[tokio::test]
async fn disabled_accounts_are_suspended_and_come_back() {
    let w = world(2, 10);
    run(&w).await;
    w.source.update("s1", |p| p.enabled = false);
    assert_eq!(run(&w).await.applied.suspended, 1);
    w.source.update("s1", |p| p.enabled = true);
    assert_eq!(run(&w).await.applied.reactivated, 1);
    assert_eq!(active(&w), 3);
}

#[tokio::test]
async fn a_run_dropped_mid_apply_releases_its_lock() {
    let w = world(9, 1);
    let sink = w.sink.clone();
    let org = OrganisationId::new(ORG);
    {
        let groups = [group()];
        let options = RunOptions::default();
        let run = w.engine.run(&org, &groups, &options, &NoProgress);
        // Poll the run by hand until it has sent some batches, then drop it.
        let mut run = std::pin::pin!(run);
        let mut polls = 0;
        while sink.batches() < 3 {
            polls += 1;
            assert!(polls < 1000, "the run never reached its third batch ({} batches)", sink.batches());
            if futures::poll!(run.as_mut()).is_ready() {
                panic!("the run finished before it could be cancelled (after {} batches)", sink.batches());
            }
            // Let the runtime deliver the wake-ups the run's pending sink call registered.
            tokio::task::yield_now().await;
        }
    }
    // The guard's release runs on the runtime; let it.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let report = run(&w).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(w.sink.records(ORG).len(), 10, "the second run completes the first without duplicates");
}
