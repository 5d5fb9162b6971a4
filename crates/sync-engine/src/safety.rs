//! The safety policy: a run that would suspend too many people, or that sees a scope suddenly empty, is held —
//! nothing is applied, the reason is recorded, and an admin approves it explicitly.

use crate::plan::Plan;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Limits on what a run may do without approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SafetyPolicy {
    /// The share of managed records a run may suspend (default 0.10). The allowance is rounded up, so that a
    /// small school can lose one person without a hold.
    pub max_suspension_fraction: f64,
    /// The most suspensions a run may make, whatever the share (default 500).
    pub max_suspensions: usize,
    /// Hold a run when a scope that had members now has none: an empty group is far more often a source fault (a
    /// renamed or recreated group, a permissions change) than everyone leaving at once. Default on.
    pub empty_scope_guard: bool,
}

impl Default for SafetyPolicy {
    fn default() -> SafetyPolicy {
        SafetyPolicy { max_suspension_fraction: 0.10, max_suspensions: 500, empty_scope_guard: true }
    }
}

impl SafetyPolicy {
    /// How many suspensions a run over `managed` records may make: the lower of the share (rounded up) and the
    /// absolute cap.
    pub fn suspension_limit(&self, managed: usize) -> usize {
        let share = (managed as f64 * self.max_suspension_fraction.clamp(0.0, 1.0)).ceil() as usize;
        share.min(self.max_suspensions)
    }
}

/// An explicit approval for one run: up to this many suspensions, and scopes allowed to be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowance {
    /// Suspensions allowed beyond the policy's limit (the run may suspend up to this many).
    pub suspensions: Option<usize>,
    /// Accept that scopes are empty.
    pub empty_scopes: bool,
}

/// Why a run is held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HoldReason {
    /// Too many suspensions.
    TooManySuspensions {
        /// Suspensions planned.
        planned: usize,
        /// The limit.
        limit: usize,
        /// Managed records the limit was computed from.
        managed: usize,
    },
    /// Scopes that had members before have none now.
    EmptyScopes {
        /// `<connection>/<scope>` → members at the previous run.
        scopes: BTreeMap<String, usize>,
    },
}

impl HoldReason {
    /// A sentence for the operator, with what to do.
    pub fn explain(&self) -> String {
        match self {
            HoldReason::TooManySuspensions { planned, limit, managed } => format!(
                "the run would suspend {planned} of {managed} managed users, more than the {limit} allowed without \
                 approval; check the plan, then approve the held run or run again with --allow-suspensions {planned}"
            ),
            HoldReason::EmptyScopes { scopes } => {
                let list: Vec<String> = scopes.iter().map(|(s, n)| format!("{s} (had {n})")).collect();
                format!(
                    "these groups returned no members although they had members at the last run: {}; this is \
                     usually a source fault (a deleted, recreated or renamed group, or lost permissions), so nothing \
                     was applied; fix the source, or approve the held run if the groups really are empty now",
                    list.join(", ")
                )
            }
        }
    }
}

/// The policy's verdict on a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// Apply it.
    Proceed,
    /// Hold it, for these reasons.
    Hold(Vec<HoldReason>),
}

/// Checks a plan against the policy, the scope counts of this run and the last, and an approval if there is one.
pub fn check(
    policy: &SafetyPolicy,
    plan: &Plan,
    scope_counts: &BTreeMap<String, usize>,
    previous_counts: &BTreeMap<String, usize>,
    allowance: Option<&Allowance>,
) -> Verdict {
    let mut reasons = Vec::new();
    if policy.empty_scope_guard && !allowance.is_some_and(|a| a.empty_scopes) {
        let emptied: BTreeMap<String, usize> = previous_counts
            .iter()
            .filter(|(scope, before)| **before > 0 && scope_counts.get(*scope).copied().unwrap_or(0) == 0)
            .map(|(s, n)| (s.clone(), *n))
            .collect();
        if !emptied.is_empty() {
            reasons.push(HoldReason::EmptyScopes { scopes: emptied });
        }
    }
    let planned = plan.suspensions.len();
    let limit = policy.suspension_limit(plan.managed_before).max(allowance.and_then(|a| a.suspensions).unwrap_or(0));
    if planned > limit {
        reasons.push(HoldReason::TooManySuspensions { planned, limit, managed: plan.managed_before });
    }
    if reasons.is_empty() { Verdict::Proceed } else { Verdict::Hold(reasons) }
}
