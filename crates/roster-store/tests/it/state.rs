use crate::support;
use chrono::Duration;
use std::collections::BTreeMap;
use sync_engine::model::OrganisationId;
use sync_engine::plan::{Plan, SuspendReason, Suspension};
use sync_engine::{
    Allowance, HeldRun, HoldReason, OpCounts, PlannedCounts, ReadMode, RecordError, RunReport, RunStatus, StateStore,
};

fn org(id: &str) -> OrganisationId {
    OrganisationId::new(id)
}

fn report(id: &str, organisation: &str, minutes: i64, errors: usize) -> RunReport {
    let started_at = support::start() + Duration::minutes(minutes);
    RunReport {
        id: id.into(),
        organisation: org(organisation),
        started_at,
        finished_at: started_at + Duration::milliseconds(1500),
        status: if errors > 0 { RunStatus::PartiallyFailed } else { RunStatus::Succeeded },
        planned: PlannedCounts {
            read: ReadMode::Incremental,
            creates: 3,
            updates: 2,
            suspensions: 1,
            reactivations: 0,
            skipped: 1,
            unchanged: 40,
        },
        applied: OpCounts { created: 3, updated: 2 - errors.min(2), suspended: 1, reactivated: 0 },
        errors: (0..errors)
            .map(|i| RecordError {
                external_id: format!("contoso:obj-{i}"),
                operation: "update".into(),
                code: "validation_failed".into(),
                message: format!("email is not valid ({i})"),
            })
            .collect(),
        hold_reasons: vec![],
        held_run: None,
        failure: None,
    }
}

fn held(id: &str, organisation: &str) -> HeldRun {
    let suspensions: Vec<Suspension> = (0..3)
        .map(|i| Suspension {
            record_id: format!("rec-{i}"),
            external_id: format!("contoso:gone-{i}"),
            email: format!("gone{i}@contoso.example"),
            reason: SuspendReason::GoneFromSource,
        })
        .collect();
    HeldRun {
        id: id.into(),
        organisation: org(organisation),
        held_at: support::start(),
        reasons: vec![
            HoldReason::TooManySuspensions { planned: 3, limit: 1, managed: 10 },
            HoldReason::EmptyScopes { scopes: BTreeMap::from([("contoso/g-y7".to_owned(), 30)]) },
        ],
        plan: Plan {
            organisation: org(organisation),
            creates: vec![],
            updates: vec![],
            suspensions,
            reactivations: vec![],
            skipped: vec![],
            managed_before: 10,
            unchanged: 7,
        },
    }
}

#[tokio::test]
async fn scope_counts_are_replaced() {
    let (stores, _key, _clock) = support::default_stores().await;
    for t in &stores {
        let (store, name) = (&t.store, t.name);
        assert!(store.scope_counts(&org("o1")).await.unwrap().is_empty());
        let first = BTreeMap::from([("contoso/g-staff".to_owned(), 12), ("contoso/g-y7".to_owned(), 180)]);
        store.save_scope_counts(&org("o1"), &first).await.unwrap();
        store.save_scope_counts(&org("o2"), &BTreeMap::from([("x".to_owned(), 1)])).await.unwrap();
        assert_eq!(store.scope_counts(&org("o1")).await.unwrap(), first, "{name}");
        let second = BTreeMap::from([("contoso/g-staff".to_owned(), 13)]);
        store.save_scope_counts(&org("o1"), &second).await.unwrap();
        assert_eq!(store.scope_counts(&org("o1")).await.unwrap(), second, "{name}");
        assert_eq!(store.scope_counts(&org("o2")).await.unwrap().len(), 1, "{name}");
    }
}

#[tokio::test]
async fn runs_round_trip_with_their_errors() {
    let (stores, _key, _clock) = support::default_stores().await;
    for t in &stores {
        let (store, name) = (&t.store, t.name);
        let with_errors = report("run-2", "o1", 10, 1200);
        store.save_run(&report("run-1", "o1", 0, 0)).await.unwrap();
        store.save_run(&with_errors).await.unwrap();
        store.save_run(&report("run-3", "o2", 20, 0)).await.unwrap();
        let mut failed = report("run-4", "o1", 30, 0);
        failed.status = RunStatus::Failed;
        failed.failure = Some("the source is unavailable: 503".into());
        store.save_run(&failed).await.unwrap();

        assert_eq!(store.run("run-2").await.unwrap().unwrap(), with_errors, "{name}");
        assert_eq!(store.run("run-4").await.unwrap().unwrap(), failed, "{name}");
        assert!(store.run("run-404").await.unwrap().is_none());

        let all: Vec<String> = store.runs(None, 10).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(all, ["run-4", "run-3", "run-2", "run-1"], "{name}");
        let o1 = store.runs(Some(&org("o1")), 2).await.unwrap();
        assert_eq!(o1.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["run-4", "run-2"], "{name}");
        assert_eq!(o1[1].error_count, 1200, "{name}");
        assert_eq!(o1[1].status, RunStatus::PartiallyFailed);
        assert_eq!(o1[0].failure.as_deref(), Some("the source is unavailable: 503"));

        // Saving a run again replaces it, errors included (a retried save is idempotent).
        let fewer = report("run-2", "o1", 10, 2);
        store.save_run(&fewer).await.unwrap();
        assert_eq!(store.run("run-2").await.unwrap().unwrap(), fewer, "{name}");
        assert_eq!(t.raw_strings("SELECT run_id FROM run_errors").await.len(), 2, "{name}");
    }
}

#[tokio::test]
async fn held_runs_approve_once_and_allowances_are_consumed_once() {
    let (stores, _key, _clock) = support::default_stores().await;
    for t in &stores {
        let (store, name) = (&t.store, t.name);
        let h = held("held-1", "o1");
        store.save_held(&h).await.unwrap();
        store.save_held(&held("held-2", "o2")).await.unwrap();
        let mut hold_report = report("run-h", "o1", 0, 0);
        hold_report.status = RunStatus::Held;
        hold_report.hold_reasons = h.reasons.clone();
        hold_report.held_run = Some("held-1".into());
        store.save_run(&hold_report).await.unwrap();
        assert_eq!(store.run("run-h").await.unwrap().unwrap(), hold_report, "{name}");

        assert_eq!(store.held_runs().await.unwrap(), vec![h.clone(), held("held-2", "o2")], "{name}");
        assert!(store.take_allowance(&org("o1")).await.unwrap().is_none(), "{name}");

        let approved = store.approve_held("held-1").await.unwrap().unwrap();
        assert_eq!(approved, h, "{name}");
        assert!(store.approve_held("held-1").await.unwrap().is_none(), "{name}: approved twice");
        assert!(store.approve_held("held-404").await.unwrap().is_none());
        assert_eq!(store.held_runs().await.unwrap(), vec![held("held-2", "o2")], "{name}");
        assert_eq!(store.held_run("held-1").await.unwrap(), Some(h.clone()), "{name}");

        // Another store on the same database sees the approval; it is taken exactly once.
        let other = t.reopen(roster_store::StoreOptions::default().key(roster_store::KeySource::None)).await;
        assert!(other.take_allowance(&org("o2")).await.unwrap().is_none());
        let allowance = other.take_allowance(&org("o1")).await.unwrap();
        assert_eq!(allowance, Some(Allowance { suspensions: Some(3), empty_scopes: true }), "{name}");
        assert!(store.take_allowance(&org("o1")).await.unwrap().is_none(), "{name}: consumed twice");
        assert!(other.take_allowance(&org("o1")).await.unwrap().is_none(), "{name}: consumed twice");
    }
}

#[tokio::test]
async fn allowances_are_taken_once_under_contention() {
    let (stores, _key, _clock) = support::default_stores().await;
    for t in &stores {
        let store = &t.store;
        store.save_held(&held("held-1", "o1")).await.unwrap();
        store.approve_held("held-1").await.unwrap().unwrap();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move { s.take_allowance(&org("o1")).await.unwrap() }));
        }
        let mut taken = 0;
        for task in tasks {
            taken += usize::from(task.await.unwrap().is_some());
        }
        assert_eq!(taken, 1, "{}", t.name);
    }
}

#[tokio::test]
async fn the_lock_is_exclusive_across_stores_until_released_or_expired() {
    let (stores, key, clock) = support::default_stores().await;
    for t in &stores {
        let (a, name) = (&t.store, t.name);
        let b = t.reopen(support::options(&key, &clock)).await;
        let o = org("o1");
        let now = clock_now(&clock);
        let ttl = Duration::minutes(30);

        assert!(a.try_lock(&o, "worker-a", now + ttl).await.unwrap(), "{name}");
        assert!(!b.try_lock(&o, "worker-b", now + ttl).await.unwrap(), "{name}: second owner must be refused");
        // The holder may renew; another organisation is independent.
        assert!(a.try_lock(&o, "worker-a", now + ttl * 2).await.unwrap(), "{name}");
        assert!(b.try_lock(&org("o2"), "worker-b", now + ttl).await.unwrap(), "{name}");
        let (owner, until) = b.lock_holder(&o).await.unwrap().unwrap();
        assert_eq!((owner.as_str(), until), ("worker-a", now + ttl * 2), "{name}");

        // Unlock by someone else does nothing; by the owner frees it.
        b.unlock(&o, "worker-b").await.unwrap();
        assert!(!b.try_lock(&o, "worker-b", now + ttl).await.unwrap(), "{name}");
        a.unlock(&o, "worker-a").await.unwrap();
        assert!(b.try_lock(&o, "worker-b", now + ttl).await.unwrap(), "{name}");
        assert!(!a.try_lock(&o, "worker-a", now + ttl).await.unwrap(), "{name}");

        // A crashed holder's lock expires.
        clock.advance(ttl - Duration::seconds(1));
        assert!(!a.try_lock(&o, "worker-a", clock_now(&clock) + ttl).await.unwrap(), "{name}: not yet expired");
        clock.advance(Duration::seconds(1));
        assert!(a.try_lock(&o, "worker-a", clock_now(&clock) + ttl).await.unwrap(), "{name}: expired lock");
        assert!(!b.try_lock(&o, "worker-b", clock_now(&clock) + ttl).await.unwrap(), "{name}");
        clock.set(support::start());
    }
}

#[tokio::test]
async fn only_one_of_many_concurrent_workers_gets_the_lock() {
    let (stores, key, clock) = support::default_stores().await;
    for t in &stores {
        let other = t.reopen(support::options(&key, &clock)).await;
        let until = clock_now(&clock) + Duration::minutes(5);
        let mut tasks = Vec::new();
        for i in 0..12 {
            let s = if i % 2 == 0 { t.store.clone() } else { other.clone() };
            tasks.push(tokio::spawn(
                async move { s.try_lock(&org("busy"), &format!("worker-{i}"), until).await.unwrap() },
            ));
        }
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(winners, 1, "{}", t.name);
    }
}

fn clock_now(clock: &sync_engine::ManualClock) -> chrono::DateTime<chrono::Utc> {
    sync_engine::Clock::now(clock)
}
