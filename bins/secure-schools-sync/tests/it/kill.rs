//! The real program killed with SIGKILL mid-apply, then run again: no duplicates, the correct final state, and
//! the dead process's organisation lock does not block the second run.
//!
//! The program runs as a child process (`CARGO_BIN_EXE_secure-schools-sync`) against the testkit fakes served
//! over HTTP by this test. The fake Secure Schools lets the first batches through and holds the next one at a
//! [`Gate`]: the batch is applied, but its answer is held back. The test waits for that event, so the child is
//! known to be mid-apply (and does not know whether its last batch was applied), and kills it.
//!
//! The lock: each run takes its organisation's lock as `secure-schools-sync@<host>/<pid>/<nonce>` with an expiry
//! (two hours). A process of this program on the same machine that finds a lock held by a pid that no longer runs
//! takes it over at once (`App::sync_org`, `lock_is_stale`); a lock of a live process, or of another machine, is
//! respected until it expires. So the second run here is not blocked, and nothing waits for an expiry.

use crate::support::{Env, assert_expected_state, assert_no_duplicates, env_with, spec};
use secure_schools_sync::app::AppOptions;
use secure_schools_sync::demo::{CONFIDENTIAL_CLIENT_SECRET, SandboxAuth};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use sync_engine::model::OrganisationId;
use testkit::faults::{Fault, Gate};
use testkit::synthetic::TrustSpec;

/// Three schools of 150 pupils: each organisation's creates take two batches, so the run is long enough to be
/// cut in the middle of an organisation.
fn kill_spec() -> TrustSpec {
    TrustSpec { students_per_school: 150, ..spec() }
}

fn program(env: &Env, config: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_secure-schools-sync"));
    command
        .arg("--config")
        .arg(config)
        .args(["sync", "all"])
        .env("SECURE_SCHOOLS_TOKEN", &env.trust().admin.token)
        .env("GRAPH_CLIENT_SECRET", CONFIDENTIAL_CLIENT_SECRET)
        .env("RUST_LOG", "info")
        .env_remove("SECURE_SCHOOLS_SYNC_CONFIG")
        .env_remove("ROSTERBRIDGE_SECRET_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn text(output: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_program_killed_with_sigkill_mid_apply_and_run_again_leaves_no_duplicates() {
    let env = env_with(&kill_spec(), SandboxAuth::AppOnly, AppOptions::default(), |_| {}).await;
    let config = env.sandbox.dir().join("secure-schools-sync.toml");
    std::fs::write(&config, env.sandbox.config_text()).unwrap();

    // The first three batches are answered; the fourth is applied and its answer held.
    let gate = Gate::new();
    env.sandbox.secure_schools.faults().on("POST", "/organisations/").after(3).inject(Fault::Hold(gate.clone()));
    let mut child = program(&env, &config).spawn().unwrap();
    let pid = child.id();
    tokio::time::timeout(Duration::from_secs(60), gate.wait_for(1))
        .await
        .expect("the program never reached its fourth batch");
    // At most three batches were answered: the counters count a request when its answer goes out, the held one's
    // never does, and with organisations synced in parallel the third answer may still be on its way while the fourth
    // batch is already held.
    assert!(env.batches() <= 3, "{} batches answered", env.batches());
    child.kill().unwrap(); // SIGKILL on Unix.
    let status = child.wait().unwrap(); // Reaped: its /proc entry is gone.
    assert!(!status.success());
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));

    // The killed run held at least one organisation's lock, which it never released.
    let mut held_by_dead = 0;
    for school in &env.trust().schools {
        if let Some((owner, expires)) =
            env.app.store().lock_holder(&OrganisationId::new(&school.organisation_id)).await.unwrap()
        {
            assert!(owner.contains(&format!("/{pid}/")), "{owner}");
            assert!(expires > chrono::Utc::now(), "the lock has not expired: {expires}");
            held_by_dead += 1;
        }
    }
    assert!(held_by_dead >= 1, "the killed run left no lock behind");
    // Partly applied: some users were created, not all.
    let created: usize = env.snapshot().values().flat_map(|users| users.values()).filter(|u| u.managed_by_sync).count();
    assert!(created > 0, "nothing was applied before the kill");

    // Run again, with Secure Schools answering normally (the held answer goes to a closed connection).
    env.sandbox.secure_schools.faults().clear();
    gate.open();
    let mut again = program(&env, &config);
    let second = tokio::task::spawn_blocking(move || again.output()).await.unwrap().unwrap();
    let out = text(&second);
    assert!(second.status.success(), "the second run failed:\n{out}");
    assert!(out.contains("taking over the lock"), "the second run did not say it took the lock over:\n{out}");
    assert_expected_state(&env);
    assert_no_duplicates(&env);
    for school in &env.trust().schools {
        let holder = env.app.store().lock_holder(&OrganisationId::new(&school.organisation_id)).await.unwrap();
        assert!(holder.is_none(), "{}: lock left behind: {holder:?}", school.organisation_id);
    }
}
