//! Benchmark: stream N transitive members from a local server at 999 a page.
//!
//! Reports the number of requests (which must be ceil(N/999)), the time to stream them, the decode CPU per 1,000
//! users (a page of 999 users decoded repeatedly, the same `Page<User>` decode the client does), and the peak
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

    // Decode cost, isolated: one full page decoded repeatedly.
    let body = page_body("http://127.0.0.1", PER_PAGE * 2, 0);
    let rounds = 200;
    let t = Instant::now();
    for _ in 0..rounds {
        let page: Page<User> = serde_json::from_slice(body.as_bytes()).unwrap();
        assert_eq!(page.value.len(), PER_PAGE);
    }
    let per_thousand = t.elapsed().as_secs_f64() * 1000.0 / (rounds * PER_PAGE) as f64 * 1000.0;
    println!("decode: {per_thousand:.3} ms CPU per 1,000 users ({} bytes a page)", body.len());

    // A plain axum server (wiremock keeps every matched request for verification, which would grow with N).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/v1.0/groups/g/transitiveMembers/microsoft.graph.user", axum::routing::get(serve_page))
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
