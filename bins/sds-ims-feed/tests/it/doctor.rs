//! doctor: passes against the demo, and fails distinctly for each cause.

use crate::support::serve_tls;
use sds_ims_feed::demo::{self, Demo};
use sds_ims_feed::doctor::{Cause, DoctorOptions, DoctorReport, check};
use sds_ims_feed::tls::Identity;
use secrecy::SecretString;
use std::time::Duration;

fn options(demo: &Demo) -> DoctorOptions {
    DoctorOptions {
        url: format!("https://127.0.0.1:{}", demo.server.addr.port()),
        token_url: demo.token_url.clone(),
        client_id: "WebserviceUser".into(),
        client_secret: SecretString::from(demo.secret.expose().to_owned()),
        ca_cert_pem: Some(demo.cert_pem.clone().into_bytes()),
        timeout: Duration::from_secs(5),
    }
}

fn first_failure(report: &DoctorReport) -> (String, Cause, String) {
    let step = report.steps.iter().find(|s| s.cause.is_some()).unwrap_or_else(|| panic!("no failure in {report:#?}"));
    (step.name.clone(), step.cause.unwrap(), step.detail.clone())
}

#[tokio::test]
async fn doctor_passes_against_the_demo_and_fails_distinctly() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::start(dir.path()).await.unwrap();

    let report = check(&options(&demo)).await;
    assert!(report.passed(), "{report:#?}");
    assert_eq!(report.steps.iter().filter(|s| s.name.starts_with("GET /")).count(), 14);

    // Firewall: a closed port.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let report = check(&DoctorOptions { url: format!("https://127.0.0.1:{closed}"), ..options(&demo) }).await;
    assert_eq!(first_failure(&report).1, Cause::Firewall, "{report:#?}");

    // DNS: a host that does not exist.
    let report = check(&DoctorOptions { url: "https://no-such-host.invalid".into(), ..options(&demo) }).await;
    assert_eq!(first_failure(&report).1, Cause::Dns, "{report:#?}");

    // Certificate: not trusted (the development certificate without --ca-cert).
    let report = check(&DoctorOptions { ca_cert_pem: None, ..options(&demo) }).await;
    let (name, cause, detail) = first_failure(&report);
    assert_eq!((name.as_str(), cause), ("TLS handshake", Cause::Certificate), "{report:#?}");
    assert!(detail.contains("self-signed or issued by an untrusted CA"), "{detail}");

    // Credentials: a wrong secret.
    let report =
        check(&DoctorOptions { client_secret: SecretString::from("wrong".to_owned()), ..options(&demo) }).await;
    let (name, cause, detail) = first_failure(&report);
    assert_eq!((name.as_str(), cause), ("get a token", Cause::Credentials), "{report:#?}");
    assert!(detail.starts_with("401"), "{detail}");

    // Token URL: wrong path (404, told apart from a 401).
    let report =
        check(&DoctorOptions { token_url: demo.token_url.replace("/oauth/token", "/token"), ..options(&demo) }).await;
    assert_eq!(first_failure(&report).1, Cause::TokenUrl, "{report:#?}");

    // Endpoint: a wrong path in the web access URL.
    let report = check(&DoctorOptions {
        url: format!("https://127.0.0.1:{}/oneroster/v1", demo.server.addr.port()),
        ..options(&demo)
    })
    .await;
    let (name, cause, _) = first_failure(&report);
    assert_eq!((name.as_str(), cause), ("GET /academicSessions", Cause::EndpointPath), "{report:#?}");

    // Certificate: valid and trusted, but for another host.
    let other = Identity::self_signed(&["feed.example.org"]).unwrap();
    let pem = other.pem.clone().unwrap();
    let store = roster_store::Store::open(&demo.dir.join("demo.db").to_string_lossy()).await.unwrap();
    let wrong_host = serve_tls(store, other).await;
    let report = check(&DoctorOptions {
        url: format!("https://127.0.0.1:{}", wrong_host.addr.port()),
        token_url: format!("https://127.0.0.1:{}/oauth/token", wrong_host.addr.port()),
        ca_cert_pem: Some(pem.into_bytes()),
        ..options(&demo)
    })
    .await;
    let (_, cause, detail) = first_failure(&report);
    assert_eq!(cause, Cause::Certificate, "{report:#?}");
    assert!(detail.contains("another host name"), "{detail}");

    wrong_host.shutdown().await;
    demo.server.shutdown().await;
}
