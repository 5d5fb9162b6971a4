//! Bad days: throttling storms, 5xx bursts, a connection reset mid-page, token expiry mid-run, and a run
//! interrupted mid-apply — each ends in the correct final state, with no duplicates.

use crate::support::{assert_expected_state, assert_no_duplicates, env, env_with, spec, synced_env};
use secure_schools_sync::app::{AppOptions, SyncOutcome};
use secure_schools_sync::commands;
use secure_schools_sync::demo::{CONNECTION, SandboxAuth};
use secure_schools_sync::output::Output;
use secure_schools_sync::shutdown::Shutdown;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use sync_engine::model::OrganisationId;
use sync_engine::{Progress, ProgressEvent, RunOptions, RunStatus};
use testkit::faults::Fault;

fn all_succeeded(results: &[commands::SyncResult]) {
    assert!(results.iter().all(|r| r.status == "succeeded"), "{results:#?}");
}

#[tokio::test]
async fn a_throttling_storm_ends_in_the_correct_state() {
    let env = env().await;
    let graph = env.sandbox.graph.faults();
    graph.on("GET", "/v1.0/groups/").times(5).inject(Fault::throttle(0));
    graph.on("POST", "/v1.0/$batch").times(2).inject(Fault::throttle(0));
    let ss = env.sandbox.secure_schools.faults();
    ss.on("GET", "/organisations/").times(4).inject(Fault::throttle(0));
    ss.on("POST", "/organisations/").times(4).inject(Fault::throttle(0));
    all_succeeded(&env.sync_all().await);
    assert_expected_state(&env);
    let stats = env.app.microsoft(CONNECTION).unwrap().stats.snapshot();
    assert!(stats.throttled >= 5, "{stats:?}");
    assert!(env.app.secure_schools_stats().snapshot().throttled >= 8);
}

#[tokio::test]
async fn bursts_of_server_errors_end_in_the_correct_state() {
    let env = env().await;
    let graph = env.sandbox.graph.faults();
    graph.on("GET", "/v1.0/groups/").after(1).times(3).inject(Fault::status(503));
    graph.on("GET", "/v1.0/groups/").after(4).times(2).inject(Fault::status(502));
    let ss = env.sandbox.secure_schools.faults();
    ss.on("GET", "/organisations/").times(2).inject(Fault::status(503));
    ss.on("POST", "/organisations/").after(1).times(3).inject(Fault::status(504));
    all_succeeded(&env.sync_all().await);
    assert_expected_state(&env);
}

#[tokio::test]
async fn a_connection_reset_mid_page_ends_in_the_correct_state() {
    let env = env().await;
    env.sandbox.graph.faults().on("GET", "/v1.0/groups/").after(1).times(2).inject(Fault::ResetMidBody);
    env.sandbox.secure_schools.faults().on("GET", "/organisations/").times(1).inject(Fault::ResetMidBody);
    env.sandbox.secure_schools.faults().on("POST", "/organisations/").after(1).times(1).inject(Fault::ResetMidBody);
    all_succeeded(&env.sync_all().await);
    assert_expected_state(&env);
}

#[tokio::test]
async fn token_expiry_mid_run_is_refreshed_and_the_rotation_stored() {
    let env = env().await;
    // Graph says the token expired in the middle of reading.
    env.sandbox.graph.faults().on("GET", "/v1.0/groups/").after(2).times(1).inject(Fault::status(401));
    all_succeeded(&env.sync_all().await);
    assert_expected_state(&env);

    // Tokens that live 10 minutes, and two hours pass: the cached token is refused and refreshed.
    let stored = env.app.store().refresh_token(&CONNECTION.into()).await.unwrap().unwrap();
    env.sandbox.graph.set_access_token_lifetime(Duration::from_secs(600));
    env.sandbox.graph.advance_clock(Duration::from_secs(2 * 3600));
    let results = env.sync_all().await;
    all_succeeded(&results);
    let rotated = env.app.store().refresh_token(&CONNECTION.into()).await.unwrap().unwrap();
    use secrecy::ExposeSecret;
    assert_ne!(stored.expose_secret(), rotated.expose_secret());
}

#[tokio::test]
async fn app_only_tokens_revoked_between_runs_are_fetched_again() {
    let env = env_with(&spec(), SandboxAuth::AppOnly, AppOptions::default(), |_| {}).await;
    all_succeeded(&env.sync_all().await);
    env.sandbox.graph.revoke_tokens();
    env.sandbox.graph.add_user(testkit::synthetic::DirectoryUser {
        id: "00000000-0000-4000-8000-00000000ccc1".into(),
        user_principal_name: "late.joiner@example.sch.uk".into(),
        mail: Some("late.joiner@example.sch.uk".into()),
        given_name: Some("Late".into()),
        surname: Some("Joiner".into()),
        display_name: "Late Joiner".into(),
        account_enabled: true,
        job_title: None,
        department: None,
        employee_id: None,
        user_type: "Member".into(),
    });
    let school = env.trust().schools[0].clone();
    env.sandbox
        .graph
        .add_member(
            &school.staff_group_id,
            testkit::synthetic::MemberRef::User("00000000-0000-4000-8000-00000000ccc1".into()),
        )
        .unwrap();
    let results = env.sync_all().await;
    all_succeeded(&results);
    assert!(env.sandbox.secure_schools.user_by_email(&school.organisation_id, "late.joiner@example.sch.uk").is_some());
}

#[tokio::test]
async fn a_run_that_fails_every_batch_after_some_is_finished_by_the_next_run_without_duplicates() {
    let env = env_with(
        &spec(),
        SandboxAuth::Delegated,
        AppOptions { batch_size: Some(5), concurrency: Some(1), ..Default::default() },
        |_| {},
    )
    .await;
    // After three batches, every batch fails (500 is not retried).
    env.sandbox.secure_schools.faults().on("POST", "/organisations/").after(3).inject(Fault::status(500));
    let results = env.sync_all().await;
    let partial: Vec<_> = results.iter().filter(|r| r.status == "partially_failed").collect();
    assert!(!partial.is_empty(), "{results:#?}");
    let report = partial[0].report.clone().unwrap();
    assert!(!report.errors.is_empty());
    assert!(report.errors.iter().all(|e| e.code == "sink_error" || e.code == "unavailable"), "{:?}", report.errors);
    // The per-record errors are in the history.
    let (mut out, text) = Output::capture();
    commands::show_run(&env.app, &report.id, false, &mut out).await.unwrap();
    assert!(text.text().contains(&report.errors[0].external_id), "{}", text.text());
    assert_eq!(commands::sync_outcome(&results), secure_schools_sync::Outcome::Failed);

    env.sandbox.secure_schools.faults().clear();
    all_succeeded(&env.sync_all().await);
    assert_expected_state(&env);
    let results = env.sync_all().await;
    assert!(results.iter().all(|r| r.report.as_ref().unwrap().applied.total() == 0));
}

/// Counts the operations applied and wakes the test when enough are done.
struct Tripwire {
    done: AtomicUsize,
    at: usize,
    notify: Arc<tokio::sync::Notify>,
}

impl Progress for Tripwire {
    fn event(&self, event: &ProgressEvent) {
        if let ProgressEvent::Batch { done, .. } = event {
            let most = self.done.fetch_max(*done, Ordering::Relaxed).max(*done);
            if most >= self.at {
                self.notify.notify_one();
            }
        }
    }
}

#[tokio::test]
async fn a_run_dropped_mid_apply_and_run_again_leaves_no_duplicates() {
    let env = env_with(
        &spec(),
        SandboxAuth::Delegated,
        AppOptions { batch_size: Some(3), concurrency: Some(1), ..Default::default() },
        |_| {},
    )
    .await;
    env.sandbox.secure_schools.set_batch_delay(Duration::from_millis(2));
    let org = OrganisationId::new(env.trust().schools[0].organisation_id.clone());
    let engine = env.app.engine().unwrap();
    let notify = Arc::new(tokio::sync::Notify::new());
    let tripwire = Tripwire { done: AtomicUsize::new(0), at: 9, notify: notify.clone() };
    let (_t, shutdown) = Shutdown::manual();
    // Like SIGKILL: the run's future is dropped in the middle of applying, nothing runs after that point.
    let options = RunOptions::default();
    let run = env.app.sync_org(&engine, &org, &options, &tripwire, &shutdown);
    tokio::select! {
        outcome = run => panic!("the run should have been cut short: {outcome:?}"),
        () = notify.notified() => {}
    }
    let partial = env.sandbox.secure_schools.users(org.as_str()).iter().filter(|u| u.managed_by_sync).count();
    assert!(partial > 0, "some batches were applied");
    let results = env.sync_all().await;
    all_succeeded(&results);
    assert_expected_state(&env);
    assert_no_duplicates(&env);
}

#[tokio::test]
async fn a_shutdown_request_cancels_the_run_cleanly_and_the_next_run_finishes_the_job() {
    let env = env_with(
        &spec(),
        SandboxAuth::Delegated,
        AppOptions { batch_size: Some(3), concurrency: Some(1), ..Default::default() },
        |_| {},
    )
    .await;
    env.sandbox.secure_schools.set_batch_delay(Duration::from_millis(2));
    let org = OrganisationId::new(env.trust().schools[0].organisation_id.clone());
    let engine = env.app.engine().unwrap();
    let notify = Arc::new(tokio::sync::Notify::new());
    let tripwire = Tripwire { done: AtomicUsize::new(0), at: 6, notify: notify.clone() };
    let (trigger, shutdown) = Shutdown::manual();
    let options = RunOptions::default();
    let run = env.app.sync_org(&engine, &org, &options, &tripwire, &shutdown);
    let stop = async {
        notify.notified().await;
        trigger.trigger();
    };
    let (outcome, ()) = tokio::join!(run, stop);
    match outcome.unwrap() {
        SyncOutcome::Interrupted(report) => {
            assert_eq!(report.status, RunStatus::Failed);
            assert!(report.failure.unwrap().contains("interrupted"));
        }
        other => panic!("{other:?}"),
    }
    // The lock was released: a new run (even of another process) can start at once.
    assert!(env.app.store().lock_holder(&org).await.unwrap().is_none());
    all_succeeded(&env.sync_all().await);
    assert_expected_state(&env);
}

#[tokio::test]
async fn a_secure_schools_outage_fails_the_run_and_records_why() {
    let env = synced_env().await;
    env.sandbox.secure_schools.faults().on("GET", "/organisations/").inject(Fault::status(500));
    // With nothing changed at the source, an incremental run does not need Secure Schools at all.
    let reads = env.sandbox.secure_schools.counters().snapshot().requests;
    all_succeeded(&env.sync_all().await);
    assert_eq!(env.sandbox.secure_schools.counters().snapshot().requests, reads);
    // A full run reads every organisation's users, and fails.
    let results = env.sync_full().await;
    assert!(results.iter().all(|r| r.status == "failed"), "{results:#?}");
    assert!(results[0].message.as_deref().unwrap().contains("500"), "{results:#?}");
    env.sandbox.secure_schools.faults().clear();
    all_succeeded(&env.sync_all().await);
}
