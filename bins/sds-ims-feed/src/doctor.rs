//! `doctor`: what School Data Sync's "Test Connection" does, step by step — DNS, TCP, TLS (chain, expiry, host
//! name), the token, then every endpoint SDS reads, checked the way SDS checks them. Each failure names its likely
//! cause.

use crate::Outcome;
use crate::output::Output;
use oneroster_model::validate::{Profile, Rule, Validator};
use oneroster_model::{AcademicSession, Class, Course, Demographics, Enrollment, Entity, Org, User};
use reqwest::StatusCode;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use url::Url;

/// The collections SDS reads, in the order it reads them.
pub const SDS_COLLECTIONS: [&str; 7] =
    ["academicSessions", "orgs", "users", "classes", "enrollments", "courses", "demographics"];

/// What to check.
pub struct DoctorOptions {
    /// The web access URL given to SDS (`https://host[:port]`, with or without `/ims/oneroster/v1p1`).
    pub url: String,
    /// The token URL given to SDS.
    pub token_url: String,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: SecretString,
    /// A PEM certificate to trust besides the public roots (a private CA, or the development certificate).
    pub ca_cert_pem: Option<Vec<u8>>,
    /// The time allowed for each step.
    pub timeout: Duration,
}

impl std::fmt::Debug for DoctorOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoctorOptions")
            .field("url", &self.url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// The likely cause of a failed step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// The URL itself is malformed or not HTTPS.
    Url,
    /// The host name does not resolve.
    Dns,
    /// Nothing accepts connections on the port: a firewall, a closed port, the service not running.
    Firewall,
    /// The certificate is expired, self-signed/untrusted, or for another host name.
    Certificate,
    /// The client id or secret is wrong (or the token is refused).
    Credentials,
    /// The token URL is wrong.
    TokenUrl,
    /// The web access URL's path is wrong (the endpoint is not there).
    EndpointPath,
    /// The server failed (5xx) or answered something that is not OneRoster.
    ServerError,
    /// The data served is not what SDS accepts.
    Data,
}

impl Cause {
    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Cause::Url => "URL",
            Cause::Dns => "DNS",
            Cause::Firewall => "firewall",
            Cause::Certificate => "certificate",
            Cause::Credentials => "credentials",
            Cause::TokenUrl => "token URL",
            Cause::EndpointPath => "endpoint path",
            Cause::ServerError => "server error",
            Cause::Data => "data",
        }
    }
}

/// Whether a step passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It passed.
    Pass,
    /// It failed.
    Fail,
    /// It could not run because an earlier step failed.
    Skip,
}

/// One step's result.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// What was checked.
    pub name: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What was seen.
    pub detail: String,
    /// For a failure, the likely cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// For a failure, what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// All steps.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The steps in order.
    pub steps: Vec<Step>,
}

impl DoctorReport {
    /// Whether every step passed.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.verdict == Verdict::Pass)
    }

    /// The causes of the failed steps, in order, without repeats.
    pub fn causes(&self) -> Vec<Cause> {
        let mut causes = Vec::new();
        for cause in self.steps.iter().filter_map(|s| s.cause) {
            if !causes.contains(&cause) {
                causes.push(cause);
            }
        }
        causes
    }

    fn pass(&mut self, name: impl Into<String>, detail: impl Into<String>) {
        self.steps.push(Step {
            name: name.into(),
            verdict: Verdict::Pass,
            detail: detail.into(),
            cause: None,
            fix: None,
        });
    }

    fn fail(&mut self, name: impl Into<String>, detail: impl Into<String>, cause: Cause, fix: impl Into<String>) {
        self.steps.push(Step {
            name: name.into(),
            verdict: Verdict::Fail,
            detail: detail.into(),
            cause: Some(cause),
            fix: Some(fix.into()),
        });
    }

    fn skip(&mut self, name: impl Into<String>) {
        self.steps.push(Step {
            name: name.into(),
            verdict: Verdict::Skip,
            detail: "not run: an earlier step failed".into(),
            cause: None,
            fix: None,
        });
    }
}

/// Runs `doctor` and prints the report; [`Outcome::Failed`] unless every step passed.
pub async fn run(options: &DoctorOptions, json: bool, out: &mut Output) -> anyhow::Result<Outcome> {
    let report = check(options).await;
    print(&report, json, out)?;
    Ok(if report.passed() { Outcome::Success } else { Outcome::Failed })
}

/// Prints a report: `PASS`/`FAIL`/`SKIP` lines with causes and fixes, or JSON.
pub fn print(report: &DoctorReport, json: bool, out: &mut Output) -> std::io::Result<()> {
    if json {
        return out.json(report);
    }
    for step in &report.steps {
        let tag = match step.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
        };
        writeln!(out, "{tag}  {}: {}", step.name, step.detail)?;
        if let (Some(cause), Some(fix)) = (step.cause, &step.fix) {
            writeln!(out, "      likely cause: {} — {fix}", cause.label())?;
        }
    }
    if report.passed() {
        writeln!(out, "All checks passed: School Data Sync's Test Connection should succeed.")
    } else {
        let causes: Vec<&str> = report.causes().iter().map(|c| c.label()).collect();
        writeln!(out, "FAILED: likely cause(s): {}", causes.join(", "))
    }
}

/// Runs every step and returns the report (never fails: failures are steps).
pub async fn check(options: &DoctorOptions) -> DoctorReport {
    let mut report = DoctorReport { steps: Vec::new() };
    let Some((base, host, port)) = parse_base(&options.url, &mut report) else { return report };

    // 1. DNS.
    let addrs: Vec<SocketAddr> =
        match tokio::time::timeout(options.timeout, tokio::net::lookup_host((host.as_str(), port))).await {
            Ok(Ok(addrs)) => addrs.collect(),
            Ok(Err(e)) => {
                report.fail(
                    format!("resolve {host}"),
                    format!("DNS lookup failed: {e}"),
                    Cause::Dns,
                    "check the host name in the web access URL and that it has a public DNS record (A/AAAA)",
                );
                return skip_rest(report);
            }
            Err(_) => {
                report.fail(format!("resolve {host}"), "DNS lookup timed out", Cause::Dns, "check the DNS servers");
                return skip_rest(report);
            }
        };
    if addrs.is_empty() {
        report.fail(format!("resolve {host}"), "no addresses", Cause::Dns, "add an A or AAAA record for the host");
        return skip_rest(report);
    }
    let listed: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    report.pass(format!("resolve {host}"), listed.join(", "));

    // 2. TCP.
    let mut connected = None;
    let mut errors = Vec::new();
    for addr in &addrs {
        match tokio::time::timeout(options.timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => {
                connected = Some(*addr);
                break;
            }
            Ok(Err(e)) => errors.push(format!("{addr}: {e}")),
            Err(_) => errors.push(format!("{addr}: timed out after {:?}", options.timeout)),
        }
    }
    match connected {
        Some(addr) => report.pass(format!("connect to port {port}"), format!("TCP connection to {addr} accepted")),
        None => {
            report.fail(
                format!("connect to port {port}"),
                errors.join("; "),
                Cause::Firewall,
                format!(
                    "open TCP port {port} to the internet in the firewall (SDS connects from Microsoft's cloud), and \
                     check the service is running and listening on that port"
                ),
            );
            return skip_rest(report);
        }
    }

    // 3. TLS.
    let client = match build_client(options) {
        Ok(client) => client,
        Err(e) => {
            report.fail("TLS", e, Cause::Certificate, "give --ca-cert a PEM certificate");
            return skip_rest(report);
        }
    };
    match client.get(base.as_str()).send().await {
        Ok(_) => report
            .pass("TLS handshake", "certificate chain trusted, not expired, and valid for the host name".to_owned()),
        Err(e) => {
            let (detail, cause, fix) = classify_transport(&e);
            report.fail("TLS handshake", detail, cause, fix);
            return skip_rest(report);
        }
    }

    // 4. Token.
    let token = match get_token(&client, options).await {
        Ok(token) => {
            report.pass("get a token", format!("POST {} answered an access token", options.token_url));
            token
        }
        Err((detail, cause, fix)) => {
            report.fail("get a token", detail, cause, fix);
            return skip_rest(report);
        }
    };

    // 5. Endpoints: a full-sync page and a delta page of each collection.
    let since = oneroster_model::datetime::format_datetime(&(chrono::Utc::now() - chrono::Duration::days(1)));
    for collection in SDS_COLLECTIONS {
        let full = format!("limit=5000&offset=0&filter={}", encode("status='active'"));
        check_endpoint(&client, &base, collection, &full, &token, "", &mut report).await;
        let delta = format!("limit=5000&offset=0&filter={}", encode(&format!("dateLastModified>'{since}'")));
        check_endpoint(&client, &base, collection, &delta, &token, " (delta)", &mut report).await;
    }
    report
}

fn skip_rest(mut report: DoctorReport) -> DoctorReport {
    let done: Vec<String> = report.steps.iter().map(|s| s.name.clone()).collect();
    let all = ["connect", "TLS handshake", "get a token"];
    for name in all {
        if !done.iter().any(|d| d.starts_with(name)) {
            report.skip(name);
        }
    }
    report.skip("endpoints");
    report
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}

fn parse_base(text: &str, report: &mut DoctorReport) -> Option<(Url, String, u16)> {
    let url = match Url::parse(text.trim()) {
        Ok(url) => url,
        Err(e) => {
            report.fail("web access URL", format!("`{text}`: {e}"), Cause::Url, "give https://HOST[:PORT]");
            return None;
        }
    };
    if url.scheme() != "https" {
        report.fail(
            "web access URL",
            format!("`{text}` is not https"),
            Cause::Url,
            "SDS connects over HTTPS only: give https://HOST[:PORT] and serve with a certificate",
        );
        return None;
    }
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let mut base = url.clone();
    let path = base.path().trim_end_matches('/').to_owned();
    if path.is_empty() {
        base.set_path(oneroster_server::BASE_PATH);
    } else {
        base.set_path(&path);
    }
    report.pass("web access URL", base.to_string());
    Some((base, host, port))
}

fn build_client(options: &DoctorOptions) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("sds-ims-feed-doctor/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = &options.ca_cert_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("--ca-cert: {e}"))?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| format!("cannot build an HTTPS client: {e}"))
}

/// The rustls error somewhere in an error's chain (looking inside `io::Error`s too).
fn rustls_error<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(found) = rustls_error(inner)
        {
            return Some(found);
        }
        current = e.source();
    }
    None
}

fn chain_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut current = error.source();
    while let Some(e) = current {
        let text = e.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// Why a request failed before any HTTP answer.
fn classify_transport(error: &reqwest::Error) -> (String, Cause, String) {
    use rustls::CertificateError as C;
    let detail = chain_text(error);
    if let Some(tls) = rustls_error(error) {
        let (what, fix) = match tls {
            rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => (
                "the certificate has expired",
                "renew the certificate (e.g. with your ACME client) and restart `serve` with the new files",
            ),
            rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
                ("the certificate is not valid yet", "check the server's clock and the certificate's dates")
            }
            rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => (
                "the certificate is for another host name (wrong host)",
                "use a certificate whose subject alternative names include the host in the web access URL",
            ),
            rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => (
                "the certificate is self-signed or issued by an untrusted CA",
                "SDS trusts public CAs only: use a certificate from a public CA (e.g. Let's Encrypt) and serve the full \
                 chain; to test a private CA or the development certificate here, pass --ca-cert",
            ),
            rustls::Error::InvalidCertificate(_) => {
                ("the certificate was rejected", "use a valid certificate from a public CA with the full chain")
            }
            _ => ("the TLS handshake failed", "check that the port speaks HTTPS (not plain HTTP) with TLS 1.2 or 1.3"),
        };
        return (format!("{what} ({detail})"), Cause::Certificate, fix.to_owned());
    }
    if error.is_timeout() {
        return (
            format!("timed out ({detail})"),
            Cause::Firewall,
            "a firewall may drop the traffic, or the server is overloaded".to_owned(),
        );
    }
    let lower = detail.to_ascii_lowercase();
    if lower.contains("dns") || lower.contains("failed to lookup") || lower.contains("name or service not known") {
        return (detail, Cause::Dns, "check the host name and its DNS record".to_owned());
    }
    if error.is_connect() {
        if lower.contains("tls") || lower.contains("handshake") || lower.contains("certificate") {
            return (
                detail,
                Cause::Certificate,
                "check that the port speaks HTTPS with a valid certificate".to_owned(),
            );
        }
        return (detail, Cause::Firewall, "open the port in the firewall and check the service is running".to_owned());
    }
    (detail, Cause::ServerError, "the server closed the connection or answered something that is not HTTP".to_owned())
}

async fn get_token(client: &reqwest::Client, options: &DoctorOptions) -> Result<SecretString, (String, Cause, String)> {
    let url = &options.token_url;
    let response = client
        .post(url)
        .basic_auth(&options.client_id, Some(options.client_secret.expose_secret()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .map_err(|e| {
            let (detail, cause, fix) = classify_transport(&e);
            (format!("POST {url}: {detail}"), cause, fix)
        })?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let short: String = body.chars().take(200).collect();
    match status {
        StatusCode::OK => {
            let value: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
                (format!("the answer is not JSON: {e}"), Cause::TokenUrl, "check the token URL".to_owned())
            })?;
            match value.get("access_token").and_then(|t| t.as_str()) {
                Some(token) if !token.is_empty() => Ok(SecretString::from(token.to_owned())),
                _ => Err((
                    "200 without an access_token".into(),
                    Cause::TokenUrl,
                    "the token URL does not point at an OAuth 2.0 token endpoint".into(),
                )),
            }
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err((
            format!("{status}: the client id or secret was refused ({short})"),
            Cause::Credentials,
            "check the client id (default WebserviceUser) and the secret; `sds-ims-feed credentials rotate` makes a \
             new one"
                .into(),
        )),
        StatusCode::TOO_MANY_REQUESTS => Err((
            format!("{status}: too many failed attempts"),
            Cause::Credentials,
            "wait a minute, then fix the client id or secret".into(),
        )),
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => Err((
            format!("{status}: no token endpoint at {url}"),
            Cause::TokenUrl,
            format!("the token URL is the server's origin followed by {}", oneroster_server::TOKEN_PATH),
        )),
        s if s.is_server_error() => Err((
            format!("{status}: the server failed ({short})"),
            Cause::ServerError,
            "look at the server's log".into(),
        )),
        s => Err((format!("{s}: {short}"), Cause::TokenUrl, "check the token URL and the client settings".into())),
    }
}

async fn check_endpoint(
    client: &reqwest::Client,
    base: &Url,
    collection: &str,
    query: &str,
    token: &SecretString,
    suffix: &str,
    report: &mut DoctorReport,
) {
    let url = format!("{}/{collection}?{query}", base.as_str().trim_end_matches('/'));
    let name = format!("GET /{collection}{suffix}");
    let started = Instant::now();
    let response = match client.get(&url).bearer_auth(token.expose_secret()).send().await {
        Ok(r) => r,
        Err(e) => {
            let (detail, cause, fix) = classify_transport(&e);
            report.fail(name, detail, cause, fix);
            return;
        }
    };
    let status = response.status();
    let total = response.headers().get("x-total-count").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = match response.bytes().await {
        Ok(b) => b,
        Err(e) => {
            report.fail(name, format!("reading the body: {e}"), Cause::ServerError, "look at the server's log");
            return;
        }
    };
    match status {
        StatusCode::OK => {}
        StatusCode::NOT_FOUND => {
            report.fail(
                name,
                format!("404 at {url}"),
                Cause::EndpointPath,
                format!("the web access URL must end with {} (or be the bare origin)", oneroster_server::BASE_PATH),
            );
            return;
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            report.fail(
                name,
                format!("{status}: the token was refused"),
                Cause::Credentials,
                "the token URL and the web access URL must belong to the same server",
            );
            return;
        }
        s if s.is_server_error() => {
            report.fail(name, format!("{s}"), Cause::ServerError, "look at the server's log");
            return;
        }
        s => {
            let short: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            report.fail(
                name,
                format!("{s}: {short}"),
                Cause::ServerError,
                "the server does not accept SDS's query (limit, filter on status and dateLastModified)",
            );
            return;
        }
    }
    let problems = check_page(collection, &body, total.as_deref());
    if problems.is_empty() {
        let records = count_records(collection, &body);
        report.pass(
            name,
            format!(
                "200, {records} record(s) on the first page, X-Total-Count {}, {} ms",
                total.unwrap_or_default(),
                started.elapsed().as_millis()
            ),
        );
    } else {
        let cause =
            if problems.iter().any(|p| p.starts_with("not OneRoster")) { Cause::EndpointPath } else { Cause::Data };
        report.fail(
            name,
            problems.join("; "),
            cause,
            "run `sds-ims-feed validate --profile sds` and fix the records it lists, then import again",
        );
    }
}

fn count_records(collection: &str, body: &[u8]) -> usize {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get(collection).and_then(|a| a.as_array()).map(Vec::len))
        .unwrap_or(0)
}

/// What SDS would reject in one page: the wrapper key, `X-Total-Count`, the `dateLastModified` format, and the
/// required fields (the model's `required` and `school-year-format` rules on each record).
pub fn check_page(collection: &str, body: &[u8], total: Option<&str>) -> Vec<String> {
    let mut problems = Vec::new();
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return vec![format!("not OneRoster: the body is not JSON ({e})")],
    };
    let Some(records) = value.get(collection).and_then(|a| a.as_array()) else {
        return vec![format!("not OneRoster: no `{collection}` array in the answer")];
    };
    match total.map(str::parse::<u64>) {
        Some(Ok(n)) if n as usize >= records.len() => {}
        Some(Ok(n)) => problems.push(format!("X-Total-Count {n} is less than the {} records served", records.len())),
        Some(Err(_)) => problems.push("X-Total-Count is not a number".into()),
        None => problems.push("no X-Total-Count header".into()),
    }
    let bad_dates: Vec<String> = records
        .iter()
        .filter_map(|r| {
            let date = r.get("dateLastModified").and_then(|d| d.as_str()).unwrap_or("");
            (!is_sds_datetime(date))
                .then(|| format!("{} '{}'", r.get("sourcedId").and_then(|s| s.as_str()).unwrap_or("?"), date))
        })
        .take(3)
        .collect();
    if !bad_dates.is_empty() {
        problems.push(format!("dateLastModified not written YYYY-MM-DDTHH:mm:ss.SSSZ: {}", bad_dates.join(", ")));
    }
    let findings = match collection {
        "academicSessions" => required_findings::<AcademicSession>(body),
        "orgs" => required_findings::<Org>(body),
        "users" => required_findings::<User>(body),
        "classes" => required_findings::<Class>(body),
        "enrollments" => required_findings::<Enrollment>(body),
        "courses" => required_findings::<Course>(body),
        "demographics" => required_findings::<Demographics>(body),
        _ => Ok(Vec::new()),
    };
    match findings {
        Ok(findings) if findings.is_empty() => {}
        Ok(findings) => problems.push(format!(
            "{} record(s) lack required fields, e.g. {}",
            findings.len(),
            findings.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
        )),
        Err(e) => problems.push(format!("records do not decode as OneRoster 1.1: {e}")),
    }
    problems
}

fn required_findings<E: Entity + FeedValidator>(body: &[u8]) -> Result<Vec<String>, String> {
    let records: Vec<E> = oneroster_model::json::from_collection_json(body).map_err(|e| e.to_string())?;
    let mut validator = Validator::new(Profile::Core);
    for record in &records {
        record.feed(&mut validator);
    }
    let report = validator.finish();
    Ok(report
        .findings
        .iter()
        .filter(|f| matches!(f.rule, Rule::Required | Rule::SchoolYearFormat))
        .map(ToString::to_string)
        .collect())
}

/// Feeds one record of any kind to a [`Validator`].
trait FeedValidator {
    fn feed(&self, validator: &mut Validator);
}

macro_rules! feed {
    ($ty:ty, $method:ident) => {
        impl FeedValidator for $ty {
            fn feed(&self, validator: &mut Validator) {
                validator.$method(self);
            }
        }
    };
}
feed!(Org, org);
feed!(AcademicSession, academic_session);
feed!(Course, course);
feed!(Class, class);
feed!(User, user);
feed!(Enrollment, enrollment);
feed!(Demographics, demographics);

/// Whether `text` is `YYYY-MM-DDTHH:mm:ss.SSSZ` exactly.
pub fn is_sds_datetime(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
        && oneroster_model::datetime::parse_datetime(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_format() {
        assert!(is_sds_datetime("2025-01-02T03:04:05.000Z"));
        assert!(!is_sds_datetime("2025-01-02T03:04:05Z"));
        assert!(!is_sds_datetime("2025-01-02"));
    }

    #[test]
    fn page_checks() {
        assert!(check_page("users", br#"{"orgs":[]}"#, Some("0"))[0].starts_with("not OneRoster"));
        assert_eq!(check_page("users", br#"{"users":[]}"#, None), vec!["no X-Total-Count header".to_owned()]);
    }
}
