//! The end-to-end sync benchmark (issue 7, docs/benchmarks.md): a trust of 100,000 users in 50 schools (or
//! `--users N --schools S`) against the testkit fakes with 10 ms of latency on every request, synced with the
//! program's own `sync all` code path (`commands::sync_results_with`, what the CLI calls), three times: the initial
//! sync, a full run with no changes (`sync all --full`, the periodic reconciliation), and an incremental run with no
//! changes (`sync all`, following the Graph delta links the full runs took). For each it prints the wall time, the
//! Graph and Secure Schools requests next to their lower bounds computed from the data, and the peak RSS.
//!
//! ```sh
//! cargo bench -p secure-schools-sync --bench sync_trust                                  # 100,000 users, 50 schools
//! cargo bench -p secure-schools-sync --bench sync_trust -- --users 1000000 --schools 500
//! ```
//!
//! Other flags: `--parallel N` sets `[sync] parallel_organisations` (default: the configuration's default),
//! `--latency-ms N` (default 10).
//!
//! The fakes run in a child process (this same executable, started with `--serve-fakes`), so that the peak RSS of
//! the sync is the program's alone, as it would be against the real services; the child's own peak is printed
//! separately. The child generates the trust, starts fake Graph (throttling off: the benchmark measures the
//! program, not the quota) and fake Secure Schools seeded from it, and tells this process, as one line of JSON on
//! its stdout, where they listen and what the lower bounds need (members per selected group, users already in each
//! organisation). This process then writes the configuration a school would write (one app-only connection; per
//! school one connection group selecting its staff group as staff and its students group as students), and syncs.
//! Peak RSS is `VmHWM` after resetting it through `/proc/self/clear_refs` at the start of each run.

// A benchmark prints its results and may stop at the first thing that goes wrong.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs
)]

use secrecy::SecretString;
use secure_schools_sync::app::{App, AppOptions, Secrets};
use secure_schools_sync::commands::{self, SyncResult, SyncTarget};
use secure_schools_sync::config::Config;
use secure_schools_sync::output::Output;
use secure_schools_sync::shutdown::Shutdown;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};
use testkit::faults::Fault;
use testkit::graph::{AppRegistration, FakeGraph, ThrottleLimit};
use testkit::secure_schools::FakeSecureSchools;
use testkit::synthetic::{MemberRef, Trust, TrustSpec};

const CONNECTION: &str = "trust";
const CLIENT_ID: &str = "6b1f0c52-0d8e-4f6b-9b55-0a6c3d1f2e01";
const CLIENT_SECRET: &str = "benchmark-secret";
/// Graph `$batch` requests hold at most 20 requests; member pages at most 999 users; Secure Schools pages at most
/// 500 users and batches at most 100 operations.
const GRAPH_BATCH: usize = 20;
const GRAPH_PAGE: usize = 999;
const SS_PAGE: usize = 500;
const SS_BATCH: usize = 100;

#[derive(Debug, Clone)]
struct Args {
    users: usize,
    schools: usize,
    parallel: Option<usize>,
    latency_ms: u64,
    serve_fakes: bool,
    breakdown: bool,
}

fn parse_args() -> Args {
    let mut users = 100_000;
    let mut schools = None;
    let mut parallel = None;
    let mut latency_ms = 10;
    let mut serve_fakes = false;
    let mut breakdown = false;
    let mut args = std::env::args().skip(1);
    let number = |v: Option<String>, flag: &str| -> usize {
        v.and_then(|v| v.replace('_', "").parse().ok()).unwrap_or_else(|| panic!("{flag} needs a number"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--users" => users = number(args.next(), "--users"),
            "--schools" => schools = Some(number(args.next(), "--schools")),
            "--parallel" => parallel = Some(number(args.next(), "--parallel")),
            "--latency-ms" => latency_ms = number(args.next(), "--latency-ms") as u64,
            "--serve-fakes" => serve_fakes = true,
            "--breakdown" => breakdown = true,
            _ => {} // `cargo bench` passes `--bench`.
        }
    }
    // 2,000 users a school unless told otherwise: 100,000 users are 50 schools, 1,000,000 are 500.
    let schools = schools.unwrap_or((users / 2000).max(1));
    Args { users, schools, parallel, latency_ms, serve_fakes, breakdown }
}

/// 2,000-pupil schools: one in ten staff, as `TrustSpec::with_users`, with every other setting of the small trust
/// (7 year groups in 2 key stages, 2 % disabled, 5 % already in Secure Schools, shared staff, guests…).
fn spec(args: &Args) -> TrustSpec {
    let per_school = args.users / args.schools;
    let staff = (per_school / 10).max(1);
    TrustSpec {
        schools: args.schools,
        staff_per_school: staff,
        students_per_school: per_school - staff,
        ..TrustSpec::small()
    }
}

// ---------------------------------------------------------------------------------------------------------------
// /proc

fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU time this process has used (user + system), from `/proc/self/stat`, assuming 100 clock ticks a second.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of stat; 12 and 13 after the state field.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Resets the peak RSS (`VmHWM`) to the current RSS.
fn reset_peak() {
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        eprintln!("cannot reset the peak RSS through /proc/self/clear_refs: {e}");
    }
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

// ---------------------------------------------------------------------------------------------------------------
// The child: the fakes

/// Transitive users of each group, counted once per user (what `transitiveMembers/microsoft.graph.user` returns).
fn transitive_counts(trust: &Trust, wanted: &[&str]) -> HashMap<String, usize> {
    let groups: HashMap<&str, &Vec<MemberRef>> =
        trust.directory.groups.iter().map(|g| (g.id.as_str(), &g.members)).collect();
    wanted
        .iter()
        .map(|&id| {
            let mut users = HashSet::new();
            let mut seen = HashSet::new();
            let mut stack = vec![id];
            while let Some(g) = stack.pop() {
                if !seen.insert(g) {
                    continue;
                }
                for m in groups.get(g).map(|m| m.as_slice()).unwrap_or_default() {
                    match m {
                        MemberRef::User(u) => {
                            users.insert(u.as_str());
                        }
                        MemberRef::Group(n) => stack.push(n.as_str()),
                    }
                }
            }
            (id.to_owned(), users.len())
        })
        .collect()
}

fn serve_fakes(args: &Args) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let started = Instant::now();
    let trust = spec(args).generate();
    let generated = started.elapsed();
    let graph = FakeGraph::from_directory(&trust.directory);
    graph.register_app(
        AppRegistration::confidential(CLIENT_ID, CLIENT_SECRET)
            .with_application_permissions(["User.Read.All", "GroupMember.Read.All"]),
    );
    graph.set_throttle_limit(ThrottleLimit::Unlimited);
    let ss = FakeSecureSchools::new();
    trust.seed_secure_schools(&ss).unwrap();
    let ids: Vec<&str> =
        trust.schools.iter().flat_map(|s| [s.staff_group_id.as_str(), s.student_group_id.as_str()]).collect();
    let members = transitive_counts(&trust, &ids);
    let existing: HashMap<&str, usize> =
        trust.secure_schools_existing_users.iter().map(|e| (e.organisation_id.as_str(), e.users.len())).collect();
    let schools: Vec<Value> = trust
        .schools
        .iter()
        .map(|s| {
            json!({
                "organisation": s.organisation_id,
                "name": s.name,
                "staff_group": s.staff_group_id,
                "staff_members": members[&s.staff_group_id],
                "student_group": s.student_group_id,
                "student_members": members[&s.student_group_id],
                "existing_users": existing.get(s.organisation_id.as_str()).copied().unwrap_or(0),
            })
        })
        .collect();
    let (graph_server, ss_server) = rt.block_on(async { (graph.start().await.unwrap(), ss.start().await.unwrap()) });
    let latency = Fault::Latency(Duration::from_millis(args.latency_ms));
    graph.faults().on_any().inject(latency.clone());
    ss.faults().on_any().inject(latency);
    let ready = json!({
        "graph_url": format!("{}/", graph_server.url()),
        "secure_schools_url": format!("{}/", ss_server.url()),
        "tenant_id": trust.directory.tenant_id,
        "token": trust.admin.token,
        "directory_users": trust.directory.users.len(),
        "schools": schools,
        "generated_ms": generated.as_millis() as u64,
        "ready_ms": started.elapsed().as_millis() as u64,
    });
    drop(trust);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{ready}").unwrap();
    stdout.flush().unwrap();
    // Commands on stdin, one a line, until it closes.
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let answer = match line.trim() {
            "reset" => {
                graph.counters().reset();
                ss.counters().reset();
                reset_peak();
                json!({ "rss_kb": status_kb("VmRSS:"), "cpu_ms": cpu_time().as_millis() as u64 })
            }
            "counters" => json!({
                "graph": graph.counters().snapshot(),
                "secure_schools": ss.counters().snapshot(),
                "rss_kb": status_kb("VmRSS:"),
                "hwm_kb": status_kb("VmHWM:"),
                "cpu_ms": cpu_time().as_millis() as u64,
            }),
            _ => json!({ "error": "unknown command" }),
        };
        writeln!(stdout, "{answer}").unwrap();
        stdout.flush().unwrap();
    }
    drop((graph_server, ss_server));
}

// ---------------------------------------------------------------------------------------------------------------
// The parent: the program

struct Fakes {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Fakes {
    fn start(args: &Args) -> (Fakes, Value) {
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new(exe)
            .args(["--serve-fakes", "--users", &args.users.to_string(), "--schools", &args.schools.to_string()])
            .args(["--latency-ms", &args.latency_ms.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let ready: Value = serde_json::from_str(&line).expect("the fakes' first line");
        (Fakes { child, stdin, stdout }, ready)
    }

    fn ask(&mut self, command: &str) -> Value {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    }

    fn stop(mut self) {
        drop(self.stdin);
        let _ = self.child.wait();
    }
}

fn toml_str(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// The configuration file a trust would write: one app-only connection, and per school a connection group
/// selecting its staff group as staff and its students group as students.
fn config_text(ready: &Value, store: &std::path::Path, parallel: Option<usize>) -> String {
    let mut t = String::new();
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    let _ = writeln!(t, "store = {}", toml_str(&store.to_string_lossy()));
    let _ = writeln!(t, "\n[secure_schools]\nbase_url = {}", toml_str(&s(&ready["secure_schools_url"])));
    let _ = writeln!(t, "token_env = \"SECURE_SCHOOLS_TOKEN\"");
    let _ = writeln!(t, "\n[[connections]]\nname = \"{CONNECTION}\"\nkind = \"microsoft\"");
    let _ = writeln!(t, "tenant = {}", toml_str(&s(&ready["tenant_id"])));
    let _ =
        writeln!(t, "client_id = \"{CLIENT_ID}\"\nauth = \"app-only\"\nclient_secret_env = \"GRAPH_CLIENT_SECRET\"");
    let root = s(&ready["graph_url"]);
    let _ = writeln!(t, "authority_url = {}\ngraph_url = {}", toml_str(&root), toml_str(&root));
    for school in ready["schools"].as_array().unwrap() {
        let name = s(&school["name"]);
        let _ = writeln!(t, "\n[[connection_groups]]\nname = {}", toml_str(&name));
        let _ = writeln!(t, "organisation = {}", toml_str(&s(&school["organisation"])));
        let _ = writeln!(t, "connection = \"{CONNECTION}\"\ngroups = [");
        let _ = writeln!(
            t,
            "  {{ id = {}, name = {}, role = \"staff\" }},",
            toml_str(&s(&school["staff_group"])),
            toml_str(&format!("{name} Staff"))
        );
        let _ = writeln!(
            t,
            "  {{ id = {}, name = {}, role = \"student\" }},",
            toml_str(&s(&school["student_group"])),
            toml_str(&format!("{name} Students"))
        );
        let _ = writeln!(t, "]");
    }
    if let Some(n) = parallel {
        let _ = writeln!(t, "\n[sync]\nparallel_organisations = {n}");
    }
    t
}

/// What one run did.
struct Run {
    wall: Duration,
    results: Vec<SyncResult>,
    graph: Value,
    ss: Value,
    peak_kb: u64,
    fakes_peak_kb: u64,
    cpu: Duration,
    fakes_cpu: Duration,
}

fn run_once(rt: &tokio::runtime::Runtime, fakes: &mut Fakes, config: &Config, secrets: &Secrets, full: bool) -> Run {
    let fakes_cpu = fakes.ask("reset")["cpu_ms"].as_u64().unwrap_or(0);
    reset_peak();
    let cpu = cpu_time();
    let started = Instant::now();
    let results = rt.block_on(async {
        let app = App::open(config.clone(), secrets.clone(), AppOptions::default()).await.unwrap();
        let (out, _) = Output::capture();
        let (_trigger, shutdown) = Shutdown::manual();
        let options = commands::run_options(None, full);
        commands::sync_results_with(&app, SyncTarget::All, &options, &out, &shutdown).await.unwrap()
    });
    let wall = started.elapsed();
    let peak_kb = status_kb("VmHWM:");
    let cpu = cpu_time().saturating_sub(cpu);
    let counters = fakes.ask("counters");
    let fakes_cpu = Duration::from_millis(counters["cpu_ms"].as_u64().unwrap_or(0).saturating_sub(fakes_cpu));
    Run {
        wall,
        results,
        graph: counters["graph"].clone(),
        ss: counters["secure_schools"].clone(),
        peak_kb,
        fakes_peak_kb: counters["hwm_kb"].as_u64().unwrap_or(0),
        cpu,
        fakes_cpu,
    }
}

impl Run {
    /// Whether every organisation was read incrementally.
    fn incremental(&self) -> bool {
        self.results
            .iter()
            .all(|r| r.report.as_ref().is_some_and(|rep| rep.planned.read == sync_engine::ReadMode::Incremental))
    }
}

fn requests(snapshot: &Value) -> u64 {
    snapshot["requests"].as_u64().unwrap_or(0)
}

fn endpoints(snapshot: &Value) -> String {
    snapshot["by_endpoint"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

/// Lower bounds of one run: (Graph, Secure Schools), from the data and the operations the run had to apply.
/// `users_before` is the users each organisation holds when the run starts.
///
/// A full read that sets up delta needs, per organisation, one `$batch` to check its selected groups and list
/// their nested groups, one `$batch` to take the delta links (and list the nesting again, after them), and the
/// member pages. An incremental read with nothing changed needs one `$batch` of delta links per organisation and
/// nothing from Secure Schools.
fn lower_bounds(ready: &Value, run: &Run, users_before: &BTreeMap<String, usize>) -> (u64, u64) {
    let schools = ready["schools"].as_array().unwrap();
    let mut graph = 1; // One access token (client credentials) per process.
    let incremental = run.incremental();
    for school in schools {
        let selected: usize = 2; // the staff group and the students group
        if incremental {
            graph += 1;
            continue;
        }
        graph += (2 * selected).div_ceil(GRAPH_BATCH) as u64; // kinds and nesting
        graph += 1; // the delta links, then the nesting again
        for key in ["staff_members", "student_members"] {
            let n = school[key].as_u64().unwrap() as usize;
            graph += n.div_ceil(GRAPH_PAGE).max(1) as u64;
        }
    }
    let mut ss = 0;
    for r in &run.results {
        let users = users_before.get(&r.organisation).copied().unwrap_or(0);
        if !incremental {
            ss += users.div_ceil(SS_PAGE).max(1) as u64;
        }
        if let Some(report) = &r.report {
            let p = &report.planned;
            ss += (p.creates + p.updates + p.suspensions + p.reactivations).div_ceil(SS_BATCH) as u64;
        }
    }
    (graph, ss)
}

fn report_run(title: &str, ready: &Value, run: &Run, users_before: &BTreeMap<String, usize>, baseline_kb: u64) {
    let (graph_min, ss_min) = lower_bounds(ready, run, users_before);
    let ok = run.results.iter().filter(|r| r.status == "succeeded").count();
    let (mut created, mut updated, mut suspended, mut errors, mut unchanged) = (0, 0, 0, 0, 0);
    let mut per_org: Vec<f64> = Vec::new();
    for r in &run.results {
        if let Some(rep) = &r.report {
            created += rep.applied.created;
            updated += rep.applied.updated;
            suspended += rep.applied.suspended;
            errors += rep.errors.len();
            unchanged += rep.planned.unchanged;
            per_org.push((rep.finished_at - rep.started_at).num_milliseconds() as f64);
        }
    }
    per_org.sort_by(f64::total_cmp);
    let mean = per_org.iter().sum::<f64>() / per_org.len().max(1) as f64;
    let max = per_org.last().copied().unwrap_or(0.0);
    let (g, s) = (requests(&run.graph), requests(&run.ss));
    println!("{title}");
    println!("  read: {}", if run.incremental() { "incremental (delta)" } else { "full" });
    println!("  organisations: {ok}/{} succeeded", run.results.len());
    println!(
        "  applied: {created} created, {updated} updated (adopted), {suspended} suspended, {unchanged} unchanged, {errors} errors"
    );
    println!("  wall time: {:.2} s (per organisation: mean {mean:.0} ms, max {max:.0} ms)", run.wall.as_secs_f64());
    println!(
        "  CPU time: the program {:.2} s, the fakes {:.2} s (2 cores shared by both)",
        run.cpu.as_secs_f64(),
        run.fakes_cpu.as_secs_f64()
    );
    println!("  Graph requests: {g}, lower bound {graph_min} -> {:.3}x", g as f64 / graph_min as f64);
    println!("    {}", endpoints(&run.graph));
    println!("  Secure Schools requests: {s}, lower bound {ss_min} -> {:.3}x", s as f64 / ss_min.max(1) as f64);
    println!("    {}", endpoints(&run.ss));
    println!(
        "  peak RSS of the program: {:.1} MB (at the start of the run {:.1} MB); the fakes' process: {:.1} MB",
        mb(run.peak_kb),
        mb(baseline_kb),
        mb(run.fakes_peak_kb)
    );
}

/// Wall and CPU time of each step of reading and planning, organisation after organisation (`--breakdown`): the
/// Graph snapshot, the Secure Schools listing, building the desired state and planning.
async fn breakdown(config: &Config, secrets: &Secrets) {
    use connectors::microsoft::MicrosoftSource;
    use connectors::secure_schools::SecureSchoolsSink;
    use sync_engine::source::IdentitySource;
    use sync_engine::{DesiredState, RosterSink};
    let app = App::open(config.clone(), secrets.clone(), AppOptions::default()).await.unwrap();
    let m = app.microsoft(CONNECTION).unwrap();
    let source = MicrosoftSource::new(m.id(), m.graph.clone());
    let sink = SecureSchoolsSink::new(app.secure_schools().unwrap().clone());
    let groups = config.connection_groups();
    let precedence = config.precedence();
    let mut steps = [(Duration::ZERO, Duration::ZERO); 3];
    let mut people = 0;
    let mut timed = |i: usize, wall: Instant, cpu: Duration| {
        steps[i].0 += wall.elapsed();
        steps[i].1 += cpu_time().saturating_sub(cpu);
    };
    for group in &groups {
        let (wall, cpu) = (Instant::now(), cpu_time());
        let snapshot = source.snapshot(&group.scopes).await.unwrap();
        timed(0, wall, cpu);
        let (wall, cpu) = (Instant::now(), cpu_time());
        let current = sink.current(&group.organisation).await.unwrap();
        timed(1, wall, cpu);
        let (wall, cpu) = (Instant::now(), cpu_time());
        let desired = DesiredState::build([(group, &snapshot)], &precedence);
        let plan = sync_engine::plan(&group.organisation, &desired, &current, &Default::default());
        timed(2, wall, cpu);
        people += snapshot.people.len();
        drop(plan);
    }
    println!("breakdown, organisation after organisation ({people} people read):");
    for (name, (wall, cpu)) in ["Graph snapshot", "Secure Schools listing", "desired state + plan"].iter().zip(steps) {
        println!(
            "  {name:24} wall {:6.2} s, CPU {:5.2} s ({:.2} us CPU per person)",
            wall.as_secs_f64(),
            cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / people.max(1) as f64
        );
    }
}

fn main() {
    let args = parse_args();
    if args.serve_fakes {
        serve_fakes(&args);
        return;
    }
    println!(
        "sync_trust: {} users in {} schools, {} ms of latency on every request of both fakes",
        args.users, args.schools, args.latency_ms
    );
    let (mut fakes, ready) = Fakes::start(&args);
    println!(
        "  fakes ready in {:.1} s (trust generated in {:.1} s): {} directory users",
        ready["ready_ms"].as_u64().unwrap_or(0) as f64 / 1000.0,
        ready["generated_ms"].as_u64().unwrap_or(0) as f64 / 1000.0,
        ready["directory_users"]
    );
    let dir = std::env::temp_dir().join(format!("sync-trust-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = config_text(&ready, &dir.join("store.db"), args.parallel);
    let config = Config::parse(&text, &dir.join("secure-schools-sync.toml")).unwrap();
    println!("  parallel_organisations = {}", config.sync.parallel_organisations);
    let mut secrets = Secrets {
        secure_schools_token: Some(SecretString::from(ready["token"].as_str().unwrap().to_owned())),
        store_key: Some(roster_store::SecretKey::generate()),
        ..Secrets::default()
    };
    secrets.client_secrets.insert(CONNECTION.into(), SecretString::from(CLIENT_SECRET.to_owned()));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    let existing: BTreeMap<String, usize> = ready["schools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["organisation"].as_str().unwrap().to_owned(), s["existing_users"].as_u64().unwrap() as usize))
        .collect();
    let baseline = status_kb("VmRSS:");
    let first = run_once(&rt, &mut fakes, &config, &secrets, false);
    report_run("initial sync all", &ready, &first, &existing, baseline);
    let after: BTreeMap<String, usize> = existing
        .iter()
        .map(|(org, n)| {
            let created = first
                .results
                .iter()
                .find(|r| &r.organisation == org)
                .and_then(|r| r.report.as_ref())
                .map(|r| r.applied.created)
                .unwrap_or(0);
            (org.clone(), n + created)
        })
        .collect();
    let baseline = status_kb("VmRSS:");
    let second = run_once(&rt, &mut fakes, &config, &secrets, true);
    report_run("sync all --full (no changes)", &ready, &second, &after, baseline);
    let baseline = status_kb("VmRSS:");
    let third = run_once(&rt, &mut fakes, &config, &secrets, false);
    report_run("sync all, incremental (no changes)", &ready, &third, &after, baseline);
    let writes: usize = [&second, &third]
        .iter()
        .flat_map(|run| run.results.iter().filter_map(|r| r.report.as_ref()))
        .map(|r| r.applied.total())
        .sum();
    println!("  operations applied by the no-change runs: {writes}");

    let ratio = |run: &Run, before: &BTreeMap<String, usize>| {
        let (g, s) = lower_bounds(&ready, run, before);
        (requests(&run.graph) as f64 / g as f64, requests(&run.ss) as f64 / s.max(1) as f64)
    };
    println!(
        "targets: requests <= 1.1x their lower bound, initial sync <= 10 s, no-change run <= 2 s, peak RSS <= 200 MB"
    );
    let (g1, s1) = ratio(&first, &existing);
    let (g2, s2) = ratio(&second, &after);
    let (g3, _) = ratio(&third, &after);
    println!(
        "measured: initial {:.2} s (Graph {g1:.3}x, Secure Schools {s1:.3}x); no-change full {:.2} s (Graph {g2:.3}x, \
         Secure Schools {s2:.3}x); no-change incremental {:.2} s (Graph {g3:.3}x, Secure Schools {} requests); peak RSS \
         {:.1} MB",
        first.wall.as_secs_f64(),
        second.wall.as_secs_f64(),
        third.wall.as_secs_f64(),
        requests(&third.ss),
        mb(first.peak_kb.max(second.peak_kb).max(third.peak_kb)),
    );
    if args.breakdown {
        rt.block_on(breakdown(&config, &secrets));
    }
    drop(rt);
    fakes.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
