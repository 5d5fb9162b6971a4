//! Generates a 1,000,000-user synthetic trust and prints the wall time and the peak resident set size (`VmHWM` of
//! `/proc/self/status`). Budget: under 10 s and under 2 GB, in release mode (`cargo bench -p testkit --bench
//! generate_trust`). Pass a number of users as the first argument to measure another size.
#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::time::Instant;
use testkit::synthetic::TrustSpec;

/// Peak resident set size in kB, if the platform reports it.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    // `cargo bench` passes `--bench`; the first argument that is a number is the size.
    let users = std::env::args().skip(1).find_map(|a| a.replace('_', "").parse::<usize>().ok()).unwrap_or(1_000_000);
    let spec = TrustSpec::with_users(users);
    let start = Instant::now();
    let trust = spec.generate();
    let elapsed = start.elapsed();
    let groups = trust.directory.groups.len();
    let memberships: usize = trust.directory.groups.iter().map(|g| g.members.len()).sum();
    let existing: usize = trust.secure_schools_existing_users.iter().map(|e| e.users.len()).sum();
    let peak = peak_rss_kb();
    println!("generate_trust: {users} requested users, {} schools", spec.schools);
    println!(
        "  directory: {} users, {groups} groups, {memberships} direct memberships; {existing} pre-existing Secure Schools users",
        trust.directory.users.len()
    );
    println!("  wall time: {:.2} s (budget 10 s)", elapsed.as_secs_f64());
    match peak {
        Some(kb) => println!("  peak RSS (VmHWM): {:.0} MiB (budget 2048 MiB)", kb as f64 / 1024.0),
        None => println!("  peak RSS: not available on this platform"),
    }
    let over_time = elapsed.as_secs_f64() >= 10.0;
    let over_memory = peak.is_some_and(|kb| kb >= 2 * 1024 * 1024);
    if over_time || over_memory {
        eprintln!("generate_trust: OVER BUDGET");
        std::process::exit(1);
    }
    drop(trust);
}
