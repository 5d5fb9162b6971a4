//! Benchmark: plan N desired people against N current records with 1 % changes (default N = 1,000,000).
//!
//! Changes: 0.5 % of people have a new family name, 0.2 % are new (not in the sink), 0.2 % have left the source
//! (their records are suspended), 0.1 % are disabled at the source. Reports the planning time (best of 3) and
//! memory: the resident memory the inputs take, and the planner's own peak on top of them, each per person.
//!
//! ```text
//! cargo bench -p sync-engine --bench plan
//! cargo bench -p sync-engine --bench plan -- --people 100000
//! ```
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Instant;
use sync_engine::desired::DesiredState;
use sync_engine::model::{ConnectionId, OrganisationId, Person, PersonKey, RecordStatus, Role, SinkRecord};
use sync_engine::plan::{PlanOptions, plan};

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn id(i: usize) -> String {
    format!("{:08x}-{:04x}-4000-8000-{:012x}", i as u32, (i >> 16) as u16, i)
}

fn main() {
    let mut n = 1_000_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--people" {
            n = args.next().and_then(|v| v.replace('_', "").parse().ok()).expect("--people N");
        }
    }
    let connection = ConnectionId::new("contoso");
    let before_inputs = rss_kib("VmRSS:");
    let mut people = Vec::with_capacity(n);
    let mut current = Vec::with_capacity(n);
    for i in 0..n {
        let role = if i % 12 == 0 { Role::Staff } else { Role::Student };
        let email = format!("user{i}@school.example");
        let person = Person {
            key: PersonKey::new(connection.clone(), id(i)),
            given_name: format!("Given{i}"),
            family_name: if i % 200 == 1 { format!("Renamed{i}") } else { format!("Family{i}") },
            email: Some(email.clone()),
            username: Some(email.clone()),
            enabled: i % 1000 != 3,
            role: role.clone(),
        };
        let in_source = i % 500 != 7; // 0.2 % have left
        let in_sink = i % 500 != 9; // 0.2 % are new
        if in_sink {
            current.push(SinkRecord {
                id: format!("ss-{i}"),
                external_id: Some(format!("contoso:{}", id(i))),
                email,
                given_name: format!("Given{i}"),
                family_name: format!("Family{i}"),
                role,
                status: RecordStatus::Active,
                managed: true,
            });
        }
        if in_source {
            people.push(person);
        }
    }
    people.sort_by(|a, b| a.key.cmp(&b.key));
    let desired = DesiredState { people, scope_counts: BTreeMap::new() };
    let inputs_kib = rss_kib("VmRSS:").saturating_sub(before_inputs);
    let org = OrganisationId::new("org");

    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let base = rss_kib("VmRSS:");
    let mut best = f64::MAX;
    let mut result = None;
    for _ in 0..3 {
        let t = Instant::now();
        let p = plan(&org, &desired, &current, &PlanOptions::default());
        best = best.min(t.elapsed().as_secs_f64());
        result = Some(p);
    }
    let peak = rss_kib("VmHWM:");
    let p = result.unwrap();
    println!(
        "planned {} desired against {} current in {:.0} ms (best of 3): {} creates, {} updates, {} suspensions, {} reactivations, {} unchanged",
        desired.people.len(),
        current.len(),
        best * 1000.0,
        p.creates.len(),
        p.updates.len(),
        p.suspensions.len(),
        p.reactivations.len(),
        p.unchanged
    );
    println!(
        "inputs: {:.0} bytes per person resident ({:.1} MB)",
        inputs_kib as f64 * 1024.0 / n as f64,
        inputs_kib as f64 * 1024.0 / 1e6
    );
    if reset {
        let extra = peak.saturating_sub(base);
        println!(
            "planner peak on top of its inputs: {:.1} bytes per person ({:.1} MB); whole-process peak {:.0} bytes per person",
            extra as f64 * 1024.0 / n as f64,
            extra as f64 * 1024.0 / 1e6,
            peak as f64 * 1024.0 / n as f64
        );
    } else {
        println!("peak memory: not measurable here (no /proc/self/clear_refs)");
    }
}
