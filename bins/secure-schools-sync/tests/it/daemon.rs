//! The daemon: its HTTP endpoint in-process (`tower::ServiceExt::oneshot`) and its scheduler.

use crate::support::env;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use secure_schools_sync::daemon::Daemon;
use secure_schools_sync::shutdown::Shutdown;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

async fn call(daemon: &Arc<Daemon>, method: &str, uri: &str) -> (StatusCode, String) {
    let response =
        daemon.router().oneshot(Request::builder().method(method).uri(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn endpoints_trigger_runs_and_report_them() {
    let env = env().await;
    let daemon = Daemon::new(Arc::new(env.app));
    let organisations = env.sandbox.trust.schools.len();

    let (status, body) = call(&daemon, "GET", "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"ok\""), "{body}");

    // A page on another site cannot make a browser trigger syncs.
    for uri in ["/sync", "/sync/org_nowhere"] {
        let request = Request::builder()
            .method("POST")
            .uri(uri)
            .header("host", "127.0.0.1:8787")
            .header("origin", "https://evil.example")
            .body(Body::empty())
            .unwrap();
        let response = daemon.router().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{uri}");
    }

    let (status, body) = call(&daemon, "POST", "/sync/org_nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("no connection group"), "{body}");

    let (trigger, shutdown) = Shutdown::manual();
    let scheduler = daemon.clone().run_scheduler(shutdown);
    let test = async {
        let (status, body) = call(&daemon, "POST", "/sync").await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let accepted: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(accepted["organisations"].as_array().unwrap().len(), organisations);
        // The scheduler runs on this task too; wait for its turns to end (an event, not a poll).
        let turns = organisations as u64;
        tokio::time::timeout(Duration::from_secs(60), daemon.settled(turns)).await.unwrap();
        let (_, body) = call(&daemon, "GET", "/runs").await;
        let runs = serde_json::from_str::<Vec<serde_json::Value>>(&body).unwrap();
        assert_eq!(runs.len(), organisations, "{runs:#?}");
        assert!(runs.iter().all(|r| r["status"] == "succeeded"));

        let org = env.sandbox.trust.schools[0].organisation_id.clone();
        let (status, _) = call(&daemon, "POST", &format!("/sync/{org}")).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        tokio::time::timeout(Duration::from_secs(60), daemon.settled(turns + 1)).await.unwrap();
        let (_, body) = call(&daemon, "GET", &format!("/runs?org={org}&limit=5")).await;
        assert_eq!(serde_json::from_str::<Vec<serde_json::Value>>(&body).unwrap().len(), 2);

        let (status, metrics) = call(&daemon, "GET", "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        let want_runs = format!("secure_schools_sync_runs_total{{status=\"succeeded\"}} {}", organisations + 1);
        assert!(metrics.contains(&want_runs), "{metrics}");
        assert!(metrics.contains("# TYPE secure_schools_sync_runs_total counter"), "{metrics}");
        assert!(metrics.contains(&format!(
            "secure_schools_sync_last_run_status{{organisation=\"{org}\",status=\"succeeded\"}} 1"
        )));
        assert!(metrics.contains(&format!("secure_schools_sync_last_run_timestamp_seconds{{organisation=\"{org}\"}}")));
        assert!(metrics.contains("secure_schools_sync_held_runs 0"), "{metrics}");
        assert!(metrics.contains("secure_schools_sync_graph_requests_total{connection=\"trust\"}"), "{metrics}");
        assert!(metrics.contains("secure_schools_sync_graph_throttled_total{connection=\"trust\"} 0"), "{metrics}");
        let created = metrics
            .lines()
            .find(|l| l.starts_with("secure_schools_sync_users_total{operation=\"created\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap();
        assert!(created > 0, "{metrics}");
        trigger.trigger();
    };
    let (result, ()) = tokio::join!(scheduler, test);
    result.unwrap();
}

#[tokio::test]
async fn the_daemon_serves_until_shutdown() {
    let env = env().await;
    let daemon = Daemon::new(Arc::new(env.app));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (trigger, shutdown) = Shutdown::manual();
    let serve = secure_schools_sync::daemon::serve_on(daemon, listener, shutdown);
    let client = async {
        // A plain HTTP/1.1 request over TCP: the endpoint is up.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        trigger.trigger();
    };
    let (outcome, ()) =
        tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(serve, client) }).await.unwrap();
    assert_eq!(outcome.unwrap(), secure_schools_sync::Outcome::Success);
}
