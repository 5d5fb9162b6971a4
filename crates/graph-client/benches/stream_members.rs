//! Benchmark: stream N transitive members from a local server at 999 a page.
//!
//! Reports the number of requests (which must be ceil(N/999)), the time to stream them, the decode CPU per 1,000
//! users (a page of 999 users decoded repeatedly by `Page::from_json`, the decode the client runs on every page;
//! CPU time of the decoding thread, median of 10 batches, with wall time beside it), and the peak
//! resident memory of the streaming phase (kernel high-water mark reset before streaming), which must not grow
//! with N.
//!
//! ```text
//! cargo bench -p graph-client --bench stream_members                  # N = 1,000,000
//! cargo bench -p graph-client --bench stream_members -- --users 100000
//! ```
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use futures::TryStreamExt;
use graph_client::auth::StaticToken;
use graph_client::{GraphClient, Page, ThrottleStats, User};
use std::sync::Arc;
use std::time::Instant;

const PER_PAGE: usize = 999;

fn user_json(out: &mut String, n: usize) {
    use std::fmt::Write;
    let _ = write!(
        out,
        r##"{{"@odata.type":"#microsoft.graph.user","id":"{:08x}-0000-4000-8000-{:012x}","userPrincipalName":"pupil{n}@school.example","mail":"pupil{n}@school.example","givenName":"Given{n}","surname":"Family{n}","displayName":"Given{n} Family{n}","accountEnabled":true,"jobTitle":null,"department":"Year 7","employeeId":"E{n}","onPremisesImmutableId":null,"userType":"Member"}}"##,
        n, n
    );
}

fn page_body(base: &str, total: usize, page: usize) -> String {
    let start = page * PER_PAGE;
    let end = (start + PER_PAGE).min(total);
    let mut out = String::with_capacity((end - start) * 420 + 256);
    out.push_str(r#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users","#);
    if end < total {
        out.push_str(&format!(
            r#""@odata.nextLink":"{base}/v1.0/groups/g/transitiveMembers/microsoft.graph.user?$select=id&$top=999&$count=true&$skiptoken={}","#,
            page + 1
        ));
    }
    out.push_str(r#""value":["#);
    for n in start..end {
        if n > start {
            out.push(',');
        }
        user_json(&mut out, n);
    }
    out.push_str("]}");
    out
}

#[derive(Clone)]
struct Pages {
    base: String,
    total: usize,
}

async fn serve_page(
    axum::extract::State(pages): axum::extract::State<Pages>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let page = query.get("$skiptoken").and_then(|v| v.parse().ok()).unwrap_or(0usize);
    ([(axum::http::header::CONTENT_TYPE, "application/json")], page_body(&pages.base, pages.total, page))
}

const MEMBERS_PATH: &str = "/v1.0/groups/g/transitiveMembers/microsoft.graph.user";

/// CPU time of the calling thread in nanoseconds: the first field of `/proc/thread-self/schedstat` (Linux).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}

/// Median, minimum and maximum.
fn spread(v: &mut [f64]) -> Option<(f64, f64, f64)> {
    v.sort_by(f64::total_cmp);
    Some((*v.get(v.len() / 2)?, *v.first()?, *v.last()?))
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0 / 1e6)
}

#[tokio::main]
async fn main() {
    let mut total = 1_000_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--users" {
            total = args.next().and_then(|v| v.replace('_', "").parse().ok()).expect("--users N");
        }
    }

    // Decode cost, isolated: one full page decoded repeatedly by `Page::from_json`, the decode the client runs on
    // every page it fetches (and the page the server below serves). Each batch is timed in CPU time of this thread
    // (what the target is about; other processes on a shared machine do not count) and in wall time.
    let body = page_body("http://127.0.0.1", PER_PAGE * 2, 0);
    let decode = || {
        let page = Page::<User>::from_json(MEMBERS_PATH, body.as_bytes()).unwrap();
        assert_eq!(page.value.len(), PER_PAGE);
        page
    };
    for _ in 0..20 {
        std::hint::black_box(decode());
    }
    let (batches, per_batch) = (10, 40);
    let mut cpu_ms = Vec::with_capacity(batches);
    let mut wall_ms = Vec::with_capacity(batches);
    for _ in 0..batches {
        let (c, t) = (thread_cpu_ns(), Instant::now());
        for _ in 0..per_batch {
            std::hint::black_box(decode());
        }
        let per_thousand = |total_ms: f64| total_ms / (per_batch * PER_PAGE) as f64 * 1000.0;
        wall_ms.push(per_thousand(t.elapsed().as_secs_f64() * 1000.0));
        if let (Some(before), Some(after)) = (c, thread_cpu_ns()) {
            cpu_ms.push(per_thousand((after - before) as f64 / 1e6));
        }
    }
    println!("decode, ms per 1,000 users over {batches} batches of {per_batch} pages ({} bytes a page):", body.len());
    if let Some((median, min, max)) = spread(&mut cpu_ms) {
        println!("  CPU:  median {median:.3}, min {min:.3}, max {max:.3}");
    } else {
        println!("  CPU:  not measurable here (no /proc/thread-self/schedstat)");
    }
    if let Some((median, min, max)) = spread(&mut wall_ms) {
        println!("  wall: median {median:.3}, min {min:.3}, max {max:.3}");
    }

    // A plain axum server (wiremock keeps every matched request for verification, which would grow with N).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route(MEMBERS_PATH, axum::routing::get(serve_page))
        .with_state(Pages { base: uri.clone(), total });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let stats = Arc::new(ThrottleStats::default());
    let client = GraphClient::builder()
        .base_url(url::Url::parse(&format!("{uri}/v1.0/")).unwrap())
        .token_source(Arc::new(StaticToken::new("bench".to_owned().into())))
        .observer(stats.clone())
        .build()
        .unwrap();

    let before = peak_rss_mb();
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let t = Instant::now();
    let mut pages = std::pin::pin!(client.transitive_member_pages("g"));
    let (mut users, mut page_count) = (0usize, 0usize);
    while let Some(page) = pages.try_next().await.unwrap() {
        users += page.value.len();
        page_count += 1;
    }
    let elapsed = t.elapsed();
    let peak = peak_rss_mb();
    let expected = total.div_ceil(PER_PAGE);
    let requests = stats.snapshot().requests;
    println!(
        "streamed {users} users in {page_count} pages, {requests} requests (lower bound ceil(N/999) = {expected}) in {elapsed:.2?}: {:.0} users/s",
        users as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(users, total);
    assert_eq!(requests as usize, expected, "one request per page, no more");
    match (peak, reset) {
        (Some(p), true) => println!(
            "peak RSS while streaming: {p:.1} MB (before: {:.1} MB; server in the same process)",
            before.unwrap_or(0.0)
        ),
        _ => println!("peak RSS: not measurable here"),
    }
}
