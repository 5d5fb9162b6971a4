//! The scheduler over an injected time.

use chrono::{DateTime, Duration, TimeZone, Utc};
use sync_engine::model::OrganisationId;
use sync_engine::{Clock, ManualClock, Schedule, Scheduler, Trigger};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 8, 0, 0).unwrap()
}

fn orgs(n: usize) -> Vec<OrganisationId> {
    (0..n).map(|i| OrganisationId::new(format!("org-{i}"))).collect()
}

#[test]
fn every_organisation_runs_every_four_hours_within_the_jitter() {
    let clock = ManualClock::new(t0());
    let mut s = Scheduler::new(Schedule::default(), 7);
    s.set_organisations(orgs(20), clock.now());
    // Nothing runs in the first minute: a sync asked for at once is not doubled by the schedule.
    assert!(s.due(clock.now() + Duration::seconds(59)).is_empty());
    // First runs are spread over the first jitter window.
    clock.advance(Duration::minutes(15));
    let first = s.due(clock.now());
    assert_eq!(first.len(), 20);
    assert!(first.iter().all(|d| d.trigger == Trigger::Scheduled && d.full));
    // Nothing is due again before 4 h − jitter …
    clock.advance(Duration::hours(3) + Duration::minutes(44));
    assert!(s.due(clock.now()).is_empty());
    // … and everything is due by 4 h + jitter.
    clock.advance(Duration::minutes(31));
    assert_eq!(s.due(clock.now()).len(), 20);
}

#[test]
fn jitter_spreads_next_runs() {
    let mut s = Scheduler::new(Schedule::default(), 42);
    s.set_organisations(orgs(50), t0());
    s.due(t0() + Duration::minutes(15));
    let nexts: std::collections::BTreeSet<_> = orgs(50).iter().filter_map(|o| s.next_for(o)).collect();
    assert!(nexts.len() > 10, "next runs should not all coincide: {}", nexts.len());
}

#[test]
fn sync_all_and_sync_one_are_due_at_once() {
    let mut s = Scheduler::new(Schedule::default(), 1);
    s.set_organisations(orgs(3), t0());
    s.due(t0() + Duration::hours(1));
    assert!(s.due(t0() + Duration::hours(1)).is_empty());
    assert!(s.trigger(&OrganisationId::new("org-1")));
    assert!(!s.trigger(&OrganisationId::new("nope")));
    assert_eq!(s.next_due(t0()), Some(t0()));
    let due = s.due(t0() + Duration::hours(1));
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].trigger, Trigger::OnDemand);
    s.trigger_all();
    assert_eq!(s.due(t0() + Duration::hours(1)).len(), 3);
}

#[test]
fn a_full_reconciliation_at_least_daily() {
    let mut s = Scheduler::new(Schedule { jitter: Duration::zero(), ..Schedule::default() }, 1);
    let org = OrganisationId::new("org-0");
    s.set_organisations([org.clone()], t0());
    let due = s.due(t0());
    assert!(due[0].full);
    s.full_done(&org, t0());
    let mut t = t0();
    let mut fulls = 0;
    for _ in 0..12 {
        t += Duration::hours(4);
        let due = s.due(t);
        assert_eq!(due.len(), 1);
        if due[0].full {
            fulls += 1;
            s.full_done(&org, t);
        }
    }
    assert_eq!(fulls, 2, "12 runs 4 h apart span 48 h: two full reconciliations");
}

#[test]
fn removed_organisations_are_dropped() {
    let mut s = Scheduler::new(Schedule::default(), 1);
    s.set_organisations(orgs(3), t0());
    s.set_organisations(orgs(1), t0());
    s.trigger_all();
    assert_eq!(s.due(t0()).len(), 1);
}
