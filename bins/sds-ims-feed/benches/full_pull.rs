//! Benchmark: a generated OneRoster CSV set (default 1,000,000 users, 50,000 classes, 3,000,000 enrollments) is
//! imported with the `import` command's code path (timed), then served over HTTPS and pulled the way SDS pulls
//! `/users`: `limit=5000`, offset by offset. Reports import time, total pull time, page latency percentiles by
//! offset decile, and the server's peak RSS.
//!
//! The server runs in a child process (this same executable, started with `--serve-child DB`, calling
//! `serve::start` as `sds-ims-feed serve` does), so that its peak RSS is the server's alone: not the generator's,
//! the import's or the client's. The child prints one line of JSON (port, development certificate, snapshot load
//! time) when it serves, and its `VmHWM` when its stdin closes.
//!
//! `cargo bench -p sds-ims-feed --bench full_pull -- --users 100000`

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use oneroster_model::csv::{WriteOptions, write_roster};
use oneroster_model::{EntityKind, Roster};
use sds_ims_feed::output::Output;
use sds_ims_feed::serve::{self, ServeOptions, Transport};
use sds_ims_feed::tls::Identity;
use sds_ims_feed::{credentials, demo, import};
use std::time::{Duration, Instant};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn generate(users: usize) -> Roster {
    let dir = tempfile::tempdir().unwrap();
    demo::write_sample(dir.path()).unwrap();
    let sample = oneroster_model::csv::read_roster_only(dir.path()).unwrap();
    let classes = users / 20;
    let mut roster = Roster {
        orgs: sample.orgs.clone(),
        academic_sessions: sample.academic_sessions.clone(),
        courses: sample.courses.clone(),
        ..Roster::default()
    };
    let class = sample.classes[0].clone();
    for c in 0..classes {
        let mut k = class.clone();
        k.base.sourced_id = format!("class-{c:07}");
        k.title = format!("Class{c}");
        roster.classes.push(k);
    }
    let user = sample.users.iter().find(|u| u.agents.is_empty()).unwrap().clone();
    for u in 0..users {
        let mut v = user.clone();
        v.base.sourced_id = format!("user-{u:08}");
        v.username = format!("user{u}");
        v.email = Some(format!("user{u}@school.example"));
        v.identifier = Some(format!("{u}"));
        v.user_ids.clear();
        roster.users.push(v);
    }
    let enrollment = sample.enrollments[0].clone();
    for e in 0..users * 3 {
        let mut n = enrollment.clone();
        n.base.sourced_id = format!("enr-{e:08}");
        n.user.sourced_id = format!("user-{:08}", e / 3);
        n.class.sourced_id = format!("class-{:07}", (e / 3 * 7 + e % 3) % classes.max(1));
        roster.enrollments.push(n);
    }
    roster
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(db) = args.iter().position(|a| a == "--serve-child").and_then(|i| args.get(i + 1)) {
        serve_child(db).await;
        return;
    }
    let users = arg("--users", 1_000_000);
    let limit = arg("--limit", 5000);
    println!("generating {users} users, {} classes, {} enrollments", users / 20, users * 3);
    let roster = generate(users);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("set");
    write_roster(&roster, &csv, &WriteOptions::default()).unwrap();
    drop(roster);
    let bytes: u64 = std::fs::read_dir(&csv).unwrap().filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum();
    println!("CSV set: {:.1} MB", bytes as f64 / 1e6);

    let store = roster_store::Store::open(&dir.path().join("feed.db").to_string_lossy()).await.unwrap();
    let (mut out, text) = Output::capture();
    reset_peak();
    let started = Instant::now();
    import::run(&store, &csv, false, false, &mut out).await.unwrap();
    let import_time = started.elapsed();
    println!(
        "import (read + validate-free CSV parse + store): {:.2} s, peak RSS {} MB",
        import_time.as_secs_f64(),
        status_kb("VmHWM:") / 1024
    );
    print!("{}", text.text());
    let secret = credentials::rotate(&store, "WebserviceUser").await.unwrap();

    let db = dir.path().join("feed.db").to_string_lossy().into_owned();
    store.close().await;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--serve-child", &db])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child_out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    child_out.read_line(&mut line).unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).expect("the server child's first line");
    println!(
        "server process: snapshot load {:.2} s, RSS after load {} MB",
        ready["load_secs"].as_f64().unwrap(),
        ready["rss_kb"].as_u64().unwrap() / 1024
    );
    let snapshot_users = ready["users"].as_u64().unwrap();
    let pem = ready["pem"].as_str().unwrap().to_owned();
    let origin = format!("https://127.0.0.1:{}", ready["port"].as_u64().unwrap());
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let token: serde_json::Value = http
        .post(format!("{origin}/oauth/token"))
        .basic_auth("WebserviceUser", Some(secret.expose()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().unwrap().to_owned();

    let mut pages: Vec<(usize, Duration)> = Vec::new();
    let mut offset = 0;
    let mut records = 0;
    let mut body_bytes = 0usize;
    let started = Instant::now();
    loop {
        let t = Instant::now();
        let response = http
            .get(format!("{origin}/ims/oneroster/v1p1/users?limit={limit}&offset={offset}"))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = response.bytes().await.unwrap();
        let elapsed = t.elapsed();
        let n = memchr_count(&body);
        body_bytes += body.len();
        pages.push((offset, elapsed));
        records += n;
        offset += limit;
        if n < limit {
            break;
        }
    }
    let total = started.elapsed();
    let mut sorted: Vec<Duration> = pages.iter().map(|p| p.1).collect();
    sorted.sort();
    println!(
        "full pull of /users: {records} records (snapshot {snapshot_users}) in {} pages, {:.1} MB, total {:.2} s",
        pages.len(),
        body_bytes as f64 / 1e6,
        total.as_secs_f64()
    );
    println!(
        "page latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&sorted, 0.5).as_secs_f64() * 1e3,
        percentile(&sorted, 0.99).as_secs_f64() * 1e3,
        sorted.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    let deciles = 10.min(pages.len()).max(1);
    let chunk = pages.len().div_ceil(deciles);
    for (i, group) in pages.chunks(chunk).enumerate() {
        let mut d: Vec<Duration> = group.iter().map(|p| p.1).collect();
        d.sort();
        println!(
            "  offsets {:>8}..: median {:.1} ms, max {:.1} ms",
            i * chunk * limit,
            percentile(&d, 0.5).as_secs_f64() * 1e3,
            d.last().copied().unwrap_or_default().as_secs_f64() * 1e3
        );
    }
    drop(child.stdin.take());
    line.clear();
    child_out.read_line(&mut line).unwrap();
    let done: serde_json::Value = serde_json::from_str(&line).expect("the server child's last line");
    child.wait().unwrap();
    println!(
        "server process peak RSS (VmHWM: snapshot load + serving the pull): {} MB",
        done["peak_kb"].as_u64().unwrap() / 1024
    );
}

/// The server child: serves `db` until its stdin closes, then reports its peak RSS.
async fn serve_child(db: &str) {
    let started = Instant::now();
    let store = roster_store::Store::open(db).await.unwrap();
    let identity = Identity::development().unwrap();
    let pem = identity.pem.clone().unwrap();
    let server = serve::start(
        store,
        ServeOptions {
            listen: ([127, 0, 0, 1], 0).into(),
            transport: Transport::Tls(identity),
            public_url: Some("https://feed.example".into()),
            poll: Duration::from_secs(5),
            trust_forwarded: false,
        },
    )
    .await
    .unwrap();
    let ready = serde_json::json!({
        "port": server.addr.port(),
        "pem": pem,
        "load_secs": started.elapsed().as_secs_f64(),
        "users": server.snapshots.load().len(EntityKind::User),
        "rss_kb": status_kb("VmRSS:"),
    });
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{ready}").unwrap();
    stdout.flush().unwrap();
    // Wait for the parent to close stdin (on a blocking thread: the server keeps serving meanwhile).
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    })
    .await
    .unwrap();
    writeln!(stdout, "{}", serde_json::json!({ "peak_kb": status_kb("VmHWM:") })).unwrap();
    stdout.flush().unwrap();
    server.shutdown().await;
}

/// Records in a page: count `"sourcedId":"user-` occurrences at top level (cheap, no JSON decode).
fn memchr_count(body: &[u8]) -> usize {
    let needle = b"{\"sourcedId\":\"user-";
    body.windows(needle.len()).filter(|w| *w == needle).count()
}
