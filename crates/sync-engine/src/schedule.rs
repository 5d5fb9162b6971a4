//! When organisations are synced: every few hours with jitter, a full reconciliation at least daily, and on
//! demand ("sync all", or one organisation). Pure logic over an injected time, so it is testable without waiting.

use crate::model::OrganisationId;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The least delay, in seconds, before an organisation's first scheduled run (see [`Scheduler::set_organisations`]).
const FIRST_RUN_DELAY_SECS: i64 = 60;
/// The schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Time between runs of an organisation (default 4 hours).
    pub every: Duration,
    /// Each next run is moved by a random amount up to this, either way (default 15 minutes), so that many
    /// organisations do not all run at the same moment.
    pub jitter: Duration,
    /// A full reconciliation at least this often (default 24 hours).
    pub full_every: Duration,
}

impl Default for Schedule {
    fn default() -> Schedule {
        Schedule { every: Duration::hours(4), jitter: Duration::minutes(15), full_every: Duration::hours(24) }
    }
}

/// Why a run is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Its time came.
    Scheduled,
    /// Someone asked ("sync all" or this organisation).
    OnDemand,
}

/// A run that is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Due {
    /// The organisation.
    pub organisation: OrganisationId,
    /// Why.
    pub trigger: Trigger,
    /// Whether it must be a full reconciliation (none in `full_every`).
    pub full: bool,
}

#[derive(Debug, Clone)]
struct OrgState {
    next: DateTime<Utc>,
    last_full: Option<DateTime<Utc>>,
}

/// Decides which organisations are due.
#[derive(Debug, Clone)]
pub struct Scheduler {
    schedule: Schedule,
    orgs: BTreeMap<OrganisationId, OrgState>,
    on_demand: BTreeSet<OrganisationId>,
    rng: fastrand::Rng,
}

impl Scheduler {
    /// A scheduler; `seed` makes the jitter reproducible in tests.
    pub fn new(schedule: Schedule, seed: u64) -> Scheduler {
        Scheduler { schedule, orgs: BTreeMap::new(), on_demand: BTreeSet::new(), rng: fastrand::Rng::with_seed(seed) }
    }

    fn jittered(&mut self, from: DateTime<Utc>, base: Duration) -> DateTime<Utc> {
        let j = self.schedule.jitter.num_seconds().max(0);
        let offset = if j == 0 { 0 } else { self.rng.i64(-j..=j) };
        from + base + Duration::seconds(offset)
    }

    /// Sets the organisations to schedule. New ones are first due between a minute (or the jitter, if shorter) and
    /// one jitter after `now` (spread out); organisations no longer listed are dropped.
    pub fn set_organisations(&mut self, organisations: impl IntoIterator<Item = OrganisationId>, now: DateTime<Utc>) {
        let wanted: BTreeSet<OrganisationId> = organisations.into_iter().collect();
        self.orgs.retain(|o, _| wanted.contains(o));
        self.on_demand.retain(|o| wanted.contains(o));
        for org in wanted {
            if !self.orgs.contains_key(&org) {
                // The first run comes between a minute (or the whole jitter, if shorter) and the jitter after an
                // organisation is scheduled: a daemon that has just started, or an organisation just added, is not
                // synced in the same instant as its neighbours, nor twice when an operator asks for a sync at once.
                let j = self.schedule.jitter.num_seconds().max(0);
                let first =
                    now + Duration::seconds(if j == 0 { 0 } else { self.rng.i64(j.min(FIRST_RUN_DELAY_SECS)..=j) });
                self.orgs.insert(org, OrgState { next: first, last_full: None });
            }
        }
    }

    /// "Sync all": every organisation is due now.
    pub fn trigger_all(&mut self) {
        self.on_demand.extend(self.orgs.keys().cloned());
    }

    /// One organisation is due now; false if it is not scheduled.
    pub fn trigger(&mut self, organisation: &OrganisationId) -> bool {
        if self.orgs.contains_key(organisation) {
            self.on_demand.insert(organisation.clone());
            true
        } else {
            false
        }
    }

    /// The organisations due at `now`, each once; their next runs are scheduled `every` (± jitter) from now.
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<Due> {
        let mut out = Vec::new();
        let ids: Vec<OrganisationId> = self.orgs.keys().cloned().collect();
        let full_every = self.schedule.full_every;
        let every = self.schedule.every;
        for org in ids {
            let demanded = self.on_demand.remove(&org);
            let Some(state) = self.orgs.get(&org) else { continue };
            let scheduled = state.next <= now;
            if !(demanded || scheduled) {
                continue;
            }
            let full = state.last_full.is_none_or(|t| now - t >= full_every);
            let next = self.jittered(now, every);
            if let Some(state) = self.orgs.get_mut(&org) {
                state.next = next;
            }
            out.push(Due {
                organisation: org,
                trigger: if demanded { Trigger::OnDemand } else { Trigger::Scheduled },
                full,
            });
        }
        out
    }

    /// Records that a full reconciliation of an organisation finished at `at`.
    pub fn full_done(&mut self, organisation: &OrganisationId, at: DateTime<Utc>) {
        if let Some(state) = self.orgs.get_mut(organisation) {
            state.last_full = Some(at);
        }
    }

    /// When the next run is due (now, if anything is on demand), or `None` with nothing scheduled.
    pub fn next_due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.on_demand.is_empty() {
            return Some(now);
        }
        self.orgs.values().map(|s| s.next).min()
    }

    /// When an organisation is next due.
    pub fn next_for(&self, organisation: &OrganisationId) -> Option<DateTime<Utc>> {
        self.orgs.get(organisation).map(|s| s.next)
    }
}
